"""PostgreSQL catalog compatibility: pg_catalog and information_schema computed from the storage catalog.

`get_relation` serves one catalog relation to the planner; `run_query`/`describe_query` answer whole
catalog SELECTs (psql's \\d, driver type introspection) through the SQLite-backed executor.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from pgmkts.planner.catalog import functions, model, sqlrun
from pgmkts.planner.catalog.functions import FUNCTIONS, Env
from pgmkts.planner.catalog.sqlnodes import elem_of, is_array

__all__ = ["get_relation", "snapshot", "run_query", "describe_query", "FUNCTIONS", "Env", "env_for"]


def snapshot(ctx: Any) -> model.Snapshot:
    """The catalog as this session sees it now (buckets are listed per query: DDL shows at once)."""
    engine = getattr(ctx, "engine", None)
    buckets = engine.buckets() if engine is not None else []
    groups = _declared_groups(engine)
    fns = [(name, ret, args, "f") for name, (_, ret, args) in FUNCTIONS.items()]
    settings = getattr(ctx, "settings", None)
    return model.Snapshot(buckets=list(buckets), user=getattr(ctx, "user", "pgmkts") or "pgmkts",
                          database=getattr(ctx, "database", "pgmkts") or "pgmkts",
                          settings=dict(settings) if settings else {}, functions=fns, groups=groups,
                          backend_pid=getattr(ctx, "backend_pid", None))


def _declared_groups(engine: Any) -> dict[str, list[tuple[str, str]]]:
    """Group tables declared by CREATE TABLE before any bucket exists (the planner keeps them)."""
    if engine is None or not hasattr(engine, "root"):
        return {}
    try:
        from pgmkts.planner import bind
        declared = bind.declared_groups(engine)
    except Exception:        # no declarations readable: the bucket list alone still describes groups
        return {}
    out = {}
    for name, spec in declared.items():
        cols = [("Epoch", "i8")] + [(str(c), str(d)) for c, d in spec.get("columns", [])]
        if spec.get("variable_length"):
            cols.append(("Nanoseconds", "i4"))
        out[name] = cols
    return out


def env_for(ctx: Any) -> Env:
    return Env(snapshot(ctx), ctx)


def get_relation(name: str, schema: str | None, ctx: Any) -> pa.Table | None:
    """A catalog relation as a pyarrow Table (fields carry `pg_oid` metadata), or None if `name` is
    not one. Unqualified pg_* names resolve to pg_catalog, as search_path does."""
    name = name.lower()
    if schema is None:
        if not name.startswith("pg_"):
            return None
        schema = "pg_catalog"
    schema = schema.lower()
    cols = model.columns_of(schema, name)
    if cols is None:
        return None
    env = env_for(ctx)
    rows = env.snap.rows(schema, name) or []
    arrays = []
    for col, oid in cols:
        default = 0 if sqlrun.sqlite_affinity(oid) == "INTEGER" else None
        arrays.append(sqlrun.convert(env, [sqlrun._to_sqlite(r.get(col, default)) for r in rows], oid))
    return pa.Table.from_arrays(arrays, schema=pa.schema([sqlrun.field_for(c, t) for c, t in cols]))


def run_query(tree: exp.Expression, ctx: Any, params: list | None = None,
              param_types: list[int] | None = None) -> pa.Table:
    return sqlrun.run(tree, env_for(ctx), params, param_types)


def describe_query(tree: exp.Expression, param_types: list[int] | None = None):
    return sqlrun.describe(tree, param_types)


_ = functions


def _planner_wrapper(name: str, impl, ret_oid: int):
    """Adapt fn(env, *python values) to the planner registry's fn(args: arrays/scalars, ctx)."""
    def call(args, ctx):
        session = getattr(ctx, "session", None)
        env = env_for(session if session is not None else ctx)
        n = max((len(a) for a in args if isinstance(a, (pa.Array, pa.ChunkedArray))), default=None)
        t = sqlrun.arrow_type(sqlrun.out_oid(ret_oid))

        def py(a, i):
            if isinstance(a, (pa.Array, pa.ChunkedArray)):
                return a[i].as_py()
            return a.as_py() if isinstance(a, pa.Scalar) else a
        def out(v):
            if v is not None and is_array(ret_oid):
                return [sqlrun._scalar(env, x, elem_of(ret_oid)) for x in v]
            return sqlrun._scalar(env, v, ret_oid)
        if n is None:
            return pa.scalar(out(impl(env, *[py(a, 0) for a in args])), t)
        return pa.array([out(impl(env, *[py(a, i) for a in args])) for i in range(n)], t)
    return call


def register_planner_functions() -> list[str]:
    """Offer the catalog functions to the time-series planner (for queries mixing buckets and, say,
    format_type()); names the planner already defines keep the planner's implementation."""
    try:
        from pgmkts.planner import functions as pf
    except ImportError:
        return []
    added = []
    for name, (impl, ret, _args) in FUNCTIONS.items():
        if pf.lookup(name) is None:
            pf.register(name, _planner_wrapper(name, impl, ret), ret)
            added.append(name)
    # sqlglot parses these PostgreSQL functions into typed nodes: tell the planner's call mapper
    node_args = getattr(pf, "_NODE_ARGS", None)
    if isinstance(node_args, dict):
        for node, spec in ((exp.CurrentSchemas, ("current_schemas", ("this",))),
                           (exp.ArrayToString, ("array_to_string", ("this", "expression", "null"))),
                           (exp.StringToArray, ("string_to_array", ("this", "expression", "null"))),
                           (exp.ArraySize, ("array_length", ("this", "expression")))):
            if pf.lookup(spec[0]) is not None and node not in node_args:
                node_args[node] = spec
    return added


def array_element(oid: int) -> int | None:
    """Element type of a PostgreSQL array type (pg_type.typelem), or None if `oid` is no array.

    For the wire's array codecs: covers every built-in array (aclitem[] 1034, char[] 1002, regtype[]
    2211, ...) plus int2vector (22 → int2) and oidvector (30 → oid), whose text form is
    space-separated ('1 2') rather than '{1,2}'."""
    return elem_of(oid) if is_array(oid) else None


def relation_oid(name: str, ctx: Any) -> int | None:
    """pg_class.oid of a bucket or group table (stable across restarts), e.g. for RowDescription's
    table OID, which pgjdbc's ResultSetMetaData.getTableName() looks up."""
    rel = snapshot(ctx).find_relation(name, model.PUBLIC_NS)
    return rel.oid if rel is not None else None
