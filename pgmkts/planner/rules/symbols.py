"""Rule: `symbol = x` / `symbol IN (...)` on a group table selects buckets instead of filtering rows."""

from __future__ import annotations

from sqlglot import exp

from pgmkts.planner.rules.common import column_is, is_constant


def extract_symbols(conds: list[exp.Expression], qualifiers: set[str | None]
                    ) -> tuple[list[exp.Expression] | None, list[exp.Expression]]:
    """(symbol value expressions or None for all buckets, residual conjuncts)."""
    sets: list[list[exp.Expression]] = []
    residual = []
    for c in conds:
        if isinstance(c, exp.EQ):
            a, b = c.this, c.expression
            if column_is(b, "symbol", qualifiers):
                a, b = b, a
            if column_is(a, "symbol", qualifiers) and is_constant(b):
                sets.append([b])
                continue
        if isinstance(c, exp.EQ) and isinstance(c.expression, exp.Any) and \
                column_is(c.this, "symbol", qualifiers) and is_constant(c.expression.this):
            sets.append([c.expression])  # evaluated to a list at run time
            continue
        if isinstance(c, exp.In) and not c.args.get("query") and column_is(c.this, "symbol", qualifiers) \
                and all(is_constant(e) for e in c.expressions) and not c.args.get("is_global"):
            sets.append(list(c.expressions))
            continue
        residual.append(c)
    if not sets:
        return None, residual
    if len(sets) == 1:
        return sets[0], residual
    # several symbol conjuncts: keep the first as the bucket choice, the others as filters
    residual.extend(exp.In(this=exp.column("symbol"), expressions=s) for s in sets[1:])
    return sets[0], residual
