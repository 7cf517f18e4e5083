"""Shared pieces of the catalog translator: type constants, array type helpers, FROM-item sources,
join-tree flattening and PostgreSQL's output column naming (FigureColname)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from pgmkts.planner.catalog import model

UNKNOWN, BOOL, INT2, INT4, INT8, TEXT, OID, NAME, FLOAT8, NUMERIC = 705, 16, 21, 23, 20, 25, 26, 19, 701, 1700
RECORD = 2249
REG_TYPES = {24: "regproc", 2202: "regproc", 2205: "regclass", 2206: "regtype", 4089: "regnamespace",
             4096: "regrole", 2203: "regproc", 2204: "regproc"}
TEXTLIKE = {TEXT, NAME, 1043, 1042, 18, UNKNOWN}
INTLIKE = {INT2, INT4, INT8, OID, 28, 29}


def is_array(oid: int) -> bool:
    t = model.TYPE_ROWS.get(oid)
    return oid in (22, 30) or bool(t and t[5] == "A" and t[8])


def elem_of(oid: int) -> int:
    if oid == 22:
        return INT2
    if oid == 30:
        return OID
    t = model.TYPE_ROWS.get(oid)
    return t[8] if t and t[8] else TEXT


def array_of(oid: int) -> int:
    t = model.TYPE_ROWS.get(oid)
    return t[9] if t and t[9] else 1009


@dataclass
class Source:
    alias: str
    cols: list[tuple[str, int]]
    colmap: dict[str, str] = field(default_factory=dict)   # PG column name → SQLite column name
    system: dict[str, tuple[exp.Expression, int]] = field(default_factory=dict)  # tableoid & co.

    def find(self, name: str) -> tuple[str, int] | None:
        for n, t in self.cols:
            if n == name:
                return self.colmap.get(n, n), t
        return None


def _flatten_join_tree(q: exp.Select) -> None:
    """`FROM ((a JOIN b ON ..) JOIN c ON ..) LEFT JOIN d` (psqlODBC) → `FROM a JOIN b .. JOIN c .. LEFT JOIN d`:
    a left-deep parenthesised join tree means the same without the parentheses."""
    from_ = q.args["from_"]
    base, joins = _unnest_joins(from_.this)
    if joins:
        from_.set("this", base)
        q.set("joins", joins + list(q.args.get("joins") or []))


def _unnest_joins(src: exp.Expression) -> tuple[exp.Expression, list[exp.Join]]:
    if isinstance(src, exp.Subquery) and src.args.get("alias") is None and isinstance(
            src.this, (exp.Subquery, exp.Table)):
        base, joins = _unnest_joins(src.this)
        return base, joins + list(src.args.get("joins") or [])
    if isinstance(src, exp.Table) and src.args.get("joins"):
        joins = list(src.args["joins"])
        src.set("joins", None)
        return src, joins
    return src, []


def _is_expandarray(node) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "_pg_expandarray"


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _type_name(dt: exp.Expression) -> str:
    if isinstance(dt, exp.ObjectIdentifier):          # sqlglot's node for ::regclass, ::oid, ...
        return str(dt.this).lower()
    if dt.this == exp.DataType.Type.USERDEFINED:
        kind = dt.args.get("kind")
        name = kind.name if isinstance(kind, exp.Dot) else (kind.name if kind is not None else "")
        return name.lower()
    return dt.sql("postgres").lower().removeprefix("pg_catalog.")


# sqlglot's typed nodes for PostgreSQL functions we implement in functions.py
_NODE_FUNCS = {exp.ArraySize: "array_length", exp.ArrayToString: "array_to_string",
               exp.StringToArray: "string_to_array", exp.CurrentVersion: "version",
               exp.CurrentDatabase: "current_database"}
_FUNC_NAMES = {"groupconcat": "string_agg", "group_concat": "string_agg", "array_agg": "array_agg"}


def output_name(e: exp.Expression) -> str:
    """The column name PostgreSQL gives a select-list item (its FigureColname rules)."""
    return _colname(e)[0]


def _colname(e: exp.Expression) -> tuple[str, int]:
    """(name, strength): 2 = from a column or function, 1 = a type or 'case' fallback, 0 = none."""
    if isinstance(e, exp.Alias):
        return e.alias, 2
    if isinstance(e, exp.Column):
        return e.name, 2
    if isinstance(e, exp.Dot) and isinstance(e.expression, (exp.Anonymous, exp.Func)):
        return _colname(e.expression)  # type: ignore[arg-type]
    if isinstance(e, exp.Cast):
        name, strength = _colname(e.this)
        return (name, strength) if strength == 2 else (_type_name(e.to).removeprefix("_"), 1)
    if isinstance(e, (exp.Paren, exp.Collate)):
        return _colname(e.this)
    if isinstance(e, exp.Anonymous):
        return str(e.this).lower(), 2
    if isinstance(e, (exp.CurrentUser, exp.SessionUser, exp.CurrentSchema)):
        return {"currentuser": "current_user", "sessionuser": "session_user"}.get(e.key, "current_schema"), 2
    if isinstance(e, exp.Case):
        default = e.args.get("default")
        if default is not None:
            name, strength = _colname(default)
            if strength == 2:
                return name, 2
        return "case", 1
    if isinstance(e, exp.Array):
        return "array", 2
    if isinstance(e, exp.Exists):
        return "exists", 2
    if isinstance(e, exp.Boolean):
        return "bool", 1
    if isinstance(e, exp.Subquery) and isinstance(e.this, exp.Select) and e.this.expressions:
        return _colname(e.this.expressions[0])
    if isinstance(e, exp.Window):
        return _colname(e.this)
    if isinstance(e, (exp.Connector, exp.Predicate, exp.Not)):
        return "?column?", 0
    if isinstance(e, exp.Func):
        n = _NODE_FUNCS.get(type(e)) or e.sql_name().lower()
        return _FUNC_NAMES.get(n, n), 2
    return "?column?", 0
