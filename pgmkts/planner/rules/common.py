"""Shared predicates for the rules: conjunct splitting and constant detection."""

from __future__ import annotations

from sqlglot import exp

VOLATILE = {"random", "clock_timestamp", "pg_sleep", "nextval", "set_config"}


def conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    while isinstance(where, exp.Paren):
        where = where.this
    if isinstance(where, exp.And):
        return conjuncts(where.this) + conjuncts(where.expression)
    return [where]


def conjoin(parts: list[exp.Expression]) -> exp.Expression | None:
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = exp.And(this=out, expression=p)
    return out


def is_constant(e: exp.Expression, *, allow_params: bool = True, allow_now: bool = True) -> bool:
    """No column, no aggregate, no sub-query: evaluable once before the scan."""
    for n in e.walk():
        if isinstance(n, exp.Column | exp.Subquery | exp.Select | exp.Star | exp.Window | exp.AggFunc):
            return False
        if isinstance(n, exp.Parameter | exp.Placeholder) and not allow_params:
            return False
        if isinstance(n, exp.CurrentTimestamp) and not allow_now:
            return False
        if isinstance(n, exp.Anonymous) and n.name.lower() in VOLATILE | {"now", "current_setting"} \
                and not (allow_now and n.name.lower() == "now"):
            return False
    return True


def column_is(e: exp.Expression, name: str, qualifiers: set[str | None]) -> bool:
    while isinstance(e, exp.Paren):
        e = e.this
    if not isinstance(e, exp.Column) or isinstance(e.this, exp.Star):
        return False
    nm = e.name if e.this.args.get("quoted") else e.name.lower()
    return nm == name and (e.table or None) in qualifiers
