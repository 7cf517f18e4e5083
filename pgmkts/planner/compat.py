"""Client-compatibility pass: text fixes sqlglot needs for real client SQL, and catalog-query routing.

psql, asyncpg, psycopg, SQLAlchemy, pgjdbc and Grafana send PostgreSQL-only spellings (`::oid[]`,
`OPERATOR(pg_catalog.~)`, `-- ping`); this module makes them parseable and decides which statements
the catalog executor (pgmkts.planner.catalog) answers instead of the time-series planner.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import pyarrow as pa
import sqlglot
from sqlglot import exp

from pgmkts.planner.catalog import pgdata
from pgmkts.planner.catalog.functions import FUNCTIONS
from pgmkts.planner.catalog.sqlnodes import _NODE_FUNCS, _type_name

# `::oid[]`, `::pg_catalog.int2[]`: sqlglot only parses `[]` after types it knows, so spell the
# array type by its catalog name (`_oid`), which PostgreSQL accepts as well.
_ARRAY_CAST = re.compile(r"::\s*((?:pg_catalog\s*\.\s*)?)([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*\]")
_TOKEN = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/)", re.S)


def preprocess(sql: str) -> str:
    """Rewrite the spellings sqlglot cannot parse, leaving string literals and identifiers alone."""
    parts = _TOKEN.split(sql)
    for i in range(0, len(parts), 2):
        parts[i] = _ARRAY_CAST.sub(lambda m: f"::{m.group(1)}_{m.group(2)}", parts[i])
    return "".join(parts)


def is_comment_only(sql: str) -> bool:
    """`-- ping` (pgbouncer/HikariCP keep-alives) and empty statements: answer EmptyQueryResponse."""
    return not "".join(p for p in _TOKEN.split(sql) if not p.startswith(("--", "/*"))).strip()


def parse(sql: str) -> list[exp.Expression]:
    return [e for e in sqlglot.parse(preprocess(sql), read="postgres") if e is not None]  # type: ignore[misc]


def _register() -> None:
    from pgmkts.planner.catalog import register_planner_functions

    register_planner_functions()


_register()


def catalog_target(table: exp.Table) -> tuple[str, str] | None:
    """(schema, name) when `table` names a catalog relation the way PostgreSQL would resolve it."""
    if not isinstance(table.this, exp.Identifier):
        return None
    name, db = table.name, (table.db or None)
    if db == "pg_catalog" or (db is None and name.startswith("pg_")):
        return ("pg_catalog", name) if name in pgdata.PG_CATALOG_COLUMNS else None
    if db == "information_schema":
        return ("information_schema", name) if name in pgdata.INFORMATION_SCHEMA_COLUMNS else None
    return None


_SESSION_NODES = (exp.CurrentUser, exp.CurrentSchema, exp.SessionUser)


def _function_names(tree: exp.Expression) -> set[str]:
    names = set()
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            names.add(str(node.this).lower())
        elif isinstance(node, exp.Func):
            names.add(_NODE_FUNCS.get(type(node), node.sql_name().lower()))
        elif isinstance(node, _SESSION_NODES):
            names.add("session")
    return names


# sqlglot models these as functions; they are plain SQL the catalog executor translates itself
_STRUCTURAL = {"cast", "try_cast", "case", "if", "any", "all", "array", "bracket", "paren", "collate", "and",
               "or", "not", "nullif", "coalesce", "lower", "upper", "length", "concat", "trim", "greatest",
               "least", "substring", "replace", "count", "max", "min", "sum", "session", "dpipe"}
_CATALOG_OK = set(FUNCTIONS) | {"current_user", "session_user", "current_schema", "version",
                                "current_database"}


def is_catalog_query(tree: exp.Expression) -> bool:
    """True for a SELECT over catalog relations only, or a FROM-less SELECT of catalog functions.

    Statements touching a bucket or group table, and FROM-less SELECTs of anything else (`SELECT 1`,
    `now()`), stay with the time-series planner.
    """
    if not isinstance(tree, exp.Query):
        return False
    cte_names = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)]
    real = [t for t in tables if not (t.name in cte_names and not t.db)]
    if real:
        return all(catalog_target(t) is not None for t in real)
    # FROM-less: ours only if every function in it is a catalog function (`SELECT version()`,
    # Grafana's `current_setting('server_version_num')::int/100`); `SELECT now(), version()` and
    # the like go to the planner, which has the catalog functions registered too.
    fns = _function_names(tree) - _STRUCTURAL
    if _has_catalog_cast(tree):
        return fns <= _CATALOG_OK
    return bool(fns) and fns <= _CATALOG_OK


def _has_catalog_cast(tree: exp.Expression) -> bool:
    """`'x'::regclass`, `1::regtype`: only the catalog can answer these."""
    for c in tree.find_all(exp.Cast):
        if _type_name(c.to) in ("regclass", "regtype", "regproc", "regnamespace", "regrole"):
            return True
    return False


def catalog_relation_names() -> list[tuple[str, str]]:
    return [("pg_catalog", n) for n in pgdata.PG_CATALOG_COLUMNS] + [
        ("information_schema", n) for n in pgdata.INFORMATION_SCHEMA_COLUMNS]


__all__ = ["preprocess", "parse", "is_catalog_query", "catalog_target", "is_comment_only", "catalog_tree",
           "catalog_result", "catalog_describe", "catalog_relation_names"]


# --- what the planner Session calls --------------------------------------------------------------
def catalog_result(tree: exp.Expression, session, params: list | None = None,
                   param_oids: list[int] | None = None):
    """Run a catalog SELECT (see is_catalog_query) and wrap it as a planner Result."""
    from pgmkts.planner.catalog import run_query
    from pgmkts.planner.result import Field, Result
    from pgmkts.planner.types import oid_of

    table = run_query(tree, session, params, param_oids)
    fields = [Field(f.name, oid_of(f.type, f.metadata)) for f in table.schema]
    batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]
    return Result(tag=f"SELECT {table.num_rows}", fields=fields, batches=iter(batches))


def catalog_describe(tree: exp.Expression, param_oids: list[int] | None = None):
    """(fields, parameter OIDs) of a catalog SELECT without running it: Parse/Describe."""
    from pgmkts.planner.catalog import describe_query
    from pgmkts.planner.result import Field
    from pgmkts.planner.types import oid_of

    fields, ptypes = describe_query(tree, param_oids)
    return [Field(f.name, oid_of(f.type, f.metadata)) for f in fields], ptypes


_TREE_CACHE: OrderedDict[str, exp.Expression | None] = OrderedDict()
_TREE_LOCK = threading.Lock()
# Cheap text test before parsing: time-series statements (the hot path) never contain these.
_HINT = re.compile(r"pg_|information_schema|::\s*reg|\b(?:" + "|".join(
    sorted((re.escape(n) for n in FUNCTIONS if not n.startswith("pg_")), key=len, reverse=True)) + r")\b", re.I)


def catalog_tree(sql: str) -> exp.Expression | None:
    """The parsed statement if the catalog executor should answer it, else None (planner's job).

    Cached by text; callers must not mutate the tree (the executor copies it)."""
    if not _HINT.search(sql):
        return None
    with _TREE_LOCK:
        if sql in _TREE_CACHE:
            _TREE_CACHE.move_to_end(sql)
            return _TREE_CACHE[sql]
    try:
        trees = parse(sql)
        tree = trees[0] if len(trees) == 1 and is_catalog_query(trees[0]) else None
    except Exception:   # not parseable as a catalog query: the planner reports its own error
        tree = None
    with _TREE_LOCK:
        _TREE_CACHE[sql] = tree
        if len(_TREE_CACHE) > 256:
            _TREE_CACHE.popitem(last=False)
    return tree
