"""Rule: read only the storage columns the query mentions (Epoch always comes back)."""

from __future__ import annotations

from sqlglot import exp


def referenced_columns(select: exp.Expression) -> set[str] | None:
    """Lower-case column names used anywhere in the query, or None when a * needs every column."""
    names: set[str] = set()
    for n in select.walk():
        if isinstance(n, exp.Star):
            if isinstance(n.parent, exp.Count) or (isinstance(n.parent, exp.Column)
                                                   and isinstance(n.parent.parent, exp.Count)):
                continue
            return None
        if isinstance(n, exp.Column):
            if isinstance(n.this, exp.Star):
                return None
            names.add(n.name if n.this.args.get("quoted") else n.name.lower())
    return names
