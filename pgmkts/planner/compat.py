"""Client-compatibility pass: text fixes sqlglot needs for real client SQL, and catalog-query routing.

psql, asyncpg, psycopg, SQLAlchemy, pgjdbc and Grafana send PostgreSQL-only spellings (`::oid[]`,
`OPERATOR(pg_catalog.~)`, `-- ping`); this module makes them parseable and decides which statements
the catalog executor (pgmkts.planner.catalog) answers instead of the time-series planner.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from pgmkts.planner.catalog import model, pgdata
from pgmkts.planner.catalog.functions import FUNCTIONS

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
    return [e for e in sqlglot.parse(preprocess(sql), read="postgres") if e is not None]


_CATALOG_SCHEMAS = {"pg_catalog", "information_schema"}


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
            names.add(node.sql_name().lower())
        elif isinstance(node, _SESSION_NODES):
            names.add("session")
    return names


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
    fns = _function_names(tree)
    return bool(fns & (set(FUNCTIONS) | {"session"})) or _has_catalog_cast(tree)


def _has_catalog_cast(tree: exp.Expression) -> bool:
    for c in tree.find_all(exp.Cast):
        if c.to.this == exp.DataType.Type.USERDEFINED:
            name = c.to.sql("postgres").lower().removeprefix("pg_catalog.")
            if name in ("regclass", "regtype", "regproc", "regnamespace", "oid", "name"):
                return True
    return False


def catalog_relation_names() -> list[tuple[str, str]]:
    return [("pg_catalog", n) for n in pgdata.PG_CATALOG_COLUMNS] + [
        ("information_schema", n) for n in pgdata.INFORMATION_SCHEMA_COLUMNS]


__all__ = ["preprocess", "parse", "is_catalog_query", "catalog_target", "is_comment_only", "model"]
