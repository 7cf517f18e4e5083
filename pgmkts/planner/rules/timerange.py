"""Rule: push epoch comparisons (>=, >, <, <=, =, BETWEEN, IN) with constant bounds into the scan."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from pgmkts.planner.rules.common import column_is, is_constant


@dataclass
class TimeRange:
    lower: list[tuple[exp.Expression, bool]] = field(default_factory=list)   # (bound, inclusive)
    upper: list[tuple[exp.Expression, bool]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lower or self.upper)

    def text(self) -> str:
        lo = " AND ".join(f"epoch {'>=' if inc else '>'} {_txt(e, 'least')}" for e, inc in self.lower)
        hi = " AND ".join(f"epoch {'<=' if inc else '<'} {_txt(e, 'greatest')}" for e, inc in self.upper)
        return " AND ".join(p for p in (lo, hi) if p)


def _txt(e: exp.Expression, fn: str) -> str:
    if isinstance(e, exp.Tuple):
        return f"{fn}{e.sql(dialect='postgres')}"
    return e.sql(dialect="postgres")


_FLIP: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def _quantified(e: exp.Expression) -> bool:
    """`= ANY($1)` / `> ALL(...)`: a filter, never a bound."""
    return isinstance(e, exp.Any | exp.All) or (isinstance(e, exp.Anonymous) and e.name.lower() in ("any", "all"))


def extract_time_range(conds: list[exp.Expression], qualifiers: set[str | None]
                       ) -> tuple[TimeRange, list[exp.Expression]]:
    """Split conjuncts into a TimeRange on `epoch` and the residual conjuncts (kept as filters).

    A conjunct moves into the range only when the range expresses it exactly; `IN` narrows the
    range but stays a filter.
    """
    tr = TimeRange()
    residual: list[exp.Expression] = []
    for c in conds:
        if isinstance(c, exp.GT | exp.GTE | exp.LT | exp.LTE | exp.EQ):
            a, b = c.this, c.expression
            op: type[exp.Expression] = type(c)
            if not column_is(a, "epoch", qualifiers) and column_is(b, "epoch", qualifiers):
                a, b, op = b, a, _FLIP[op]
            if column_is(a, "epoch", qualifiers) and is_constant(b) and not _quantified(b):
                if op in (exp.GT, exp.GTE, exp.EQ):
                    tr.lower.append((b, op is not exp.GT))
                if op in (exp.LT, exp.LTE, exp.EQ):
                    tr.upper.append((b, op is not exp.LT))
                continue
        elif isinstance(c, exp.Between) and not c.args.get("symmetric"):
            if column_is(c.this, "epoch", qualifiers) and is_constant(c.args["low"]) \
                    and is_constant(c.args["high"]):
                tr.lower.append((c.args["low"], True))
                tr.upper.append((c.args["high"], True))
                continue
        elif isinstance(c, exp.In) and not c.args.get("query") and column_is(c.this, "epoch", qualifiers) \
                and c.expressions and all(is_constant(e) for e in c.expressions):
            # a Tuple bound means "the least (lower) / greatest (upper) of these timestamps"
            tr.lower.append((exp.Tuple(expressions=list(c.expressions)), True))
            tr.upper.append((exp.Tuple(expressions=list(c.expressions)), True))
        residual.append(c)
    return tr, residual
