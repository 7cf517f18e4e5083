"""Rule: `GROUP BY [symbol,] time_bucket(w, epoch)` with first/last/min/max/sum/avg/count of columns
→ a per-bucket sorted aggregation (no hashing: epochs are already in time order)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from pgmkts.planner.rules.common import column_is, is_constant

FAST_AGGS: dict[type[exp.Expression], str] = {
    exp.First: "first", exp.Last: "last", exp.Min: "min", exp.Max: "max", exp.Sum: "sum",
    exp.Avg: "avg", exp.Count: "count"}


@dataclass
class Downsample:
    bucket_fn: str                    # time_bucket | date_bin | date_trunc
    bucket_expr: exp.Expression       # the GROUP BY time expression
    by_symbol: bool
    aggs: list[str]                   # "max(high)", ... for EXPLAIN

    def text(self) -> str:
        by = "symbol, " if self.by_symbol else ""
        return f"{by}{self.bucket_expr.sql(dialect='postgres')} → {', '.join(self.aggs)}"


def _time_fn(e: exp.Expression, qualifiers) -> str | None:
    if isinstance(e, exp.Anonymous) and e.name.lower() == "time_bucket" and len(e.expressions) == 2:
        if is_constant(e.expressions[0]) and column_is(e.expressions[1], "epoch", qualifiers):
            return "time_bucket"
    if isinstance(e, exp.DateBin) and is_constant(e.this) and column_is(e.expression, "epoch", qualifiers):
        return "date_bin"
    if isinstance(e, exp.TimestampTrunc) and column_is(e.this, "epoch", qualifiers) and \
            e.unit is not None and e.unit.name.lower() in ("second", "minute", "hour", "day") and \
            e.args.get("zone") is None:
        return "date_trunc"
    return None


def detect_downsample(select: exp.Select, group_keys: list[exp.Expression], aggs: list[exp.Expression],
                      qualifiers: set[str | None]) -> Downsample | None:
    tkeys = [(k, _time_fn(k, qualifiers)) for k in group_keys]
    timed = [(k, f) for k, f in tkeys if f]
    others = [k for k, f in tkeys if not f]
    if len(timed) != 1 or len(others) > 1:
        return None
    if others and not column_is(others[0], "symbol", qualifiers):
        return None
    names = []
    for a in aggs:
        cls = type(a)
        if cls not in FAST_AGGS:
            return None
        this = a.this
        if isinstance(this, exp.Distinct):
            return None
        if not (isinstance(this, exp.Column) or (cls is exp.Count and isinstance(this, exp.Star))):
            return None
        if cls in (exp.First, exp.Last) and not column_is(a.expression, "epoch", qualifiers):
            return None
        names.append(a.sql(dialect="postgres").lower())
    return Downsample(timed[0][1], timed[0][0], bool(others), names)
