"""Rule: `DISTINCT ON (symbol) ... ORDER BY symbol, epoch DESC` → the newest row of each bucket."""

from __future__ import annotations

from sqlglot import exp

from pgmkts.planner.rules.common import column_is


def latest_per_symbol(select: exp.Select, residual: list[exp.Expression], qualifiers: set[str | None],
                      has_agg: bool, has_window: bool) -> bool:
    d = select.args.get("distinct")
    order = select.args.get("order")
    if d is None or residual or has_agg or has_window or order is None:
        return False
    on = d.args.get("on")
    if on is None:
        return False
    keys = on.expressions if isinstance(on, exp.Tuple) else [on]
    if len(keys) != 1 or not column_is(keys[0], "symbol", qualifiers):
        return False
    obs = order.expressions
    if len(obs) != 2 or not column_is(obs[0].this, "symbol", qualifiers) or \
            not column_is(obs[1].this, "epoch", qualifiers) or not obs[1].args.get("desc"):
        return False
    return True
