"""Rule: `ORDER BY epoch [DESC] LIMIT n` → a scan of the first/last n rows of each bucket."""

from __future__ import annotations

from sqlglot import exp

from pgmkts.planner.rules.common import column_is, is_constant


def last_n(select: exp.Select, residual: list[exp.Expression], qualifiers: set[str | None],
           has_agg: bool, has_window: bool) -> tuple[exp.Expression, bool] | None:
    """(limit expression incl. offset, from_end) when the scan can stop after n rows."""
    order = select.args.get("order")
    limit = select.args.get("limit")
    if residual or has_agg or has_window or select.args.get("distinct") or limit is None:
        return None
    if order is None:
        # no ORDER BY: any n rows will do; storage order (time) costs nothing
        lim = limit.expression
        if lim is None or not is_constant(lim, allow_now=False):
            return None
        off = select.args.get("offset")
        if off is not None and not is_constant(off.expression, allow_now=False):
            return None
        return (lim if off is None else exp.Add(this=lim, expression=off.expression)), False
    if len(order.expressions) != 1:
        return None
    o = order.expressions[0]
    if not column_is(o.this, "epoch", qualifiers):
        return None
    lim = limit.expression if isinstance(limit, exp.Limit) else limit
    if lim is None or not is_constant(lim, allow_now=False):
        return None
    off = select.args.get("offset")
    n = lim
    if off is not None:
        offe = off.expression
        if not is_constant(offe, allow_now=False):
            return None
        n = exp.Add(this=lim, expression=offe)
    return n, bool(o.args.get("desc"))
