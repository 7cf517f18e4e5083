"""Catalog contents computed from the storage catalog, and the catalog query executor's semantics."""

from __future__ import annotations

import pytest

from pgmkts import errors
from pgmkts.planner import compat
from pgmkts.planner.catalog import get_relation, run_query, snapshot
from pgmkts.planner.types import oid_of


def q(ctx, sql, params=None):
    tree = compat.parse(sql)[0]
    assert compat.is_catalog_query(tree), sql
    return run_query(tree, ctx, params).to_pylist()


def test_buckets_and_group_tables_are_tables_in_public(ctx):
    rows = q(ctx, "SELECT c.relname, c.relkind, n.nspname FROM pg_catalog.pg_class c "
                  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = 'public' ORDER BY 1")
    assert rows == [
        {"relname": "SYM/1Min/OHLCV", "relkind": "r", "nspname": "public"},
        {"relname": "SYM/1Sec/TICK", "relkind": "r", "nspname": "public"},
        {"relname": "ohlcv_1min", "relkind": "r", "nspname": "public"},
        {"relname": "tick_1sec", "relkind": "r", "nspname": "public"},
    ]


def test_relation_oids_are_stable_and_user_range(ctx, engine):
    first = {r["relname"]: r["oid"] for r in q(ctx, "SELECT oid, relname FROM pg_class WHERE relnamespace = 2200")}
    engine.create("ZZZ/1Min/OHLCV", [("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4"),
                                     ("Volume", "i8")])
    second = {r["relname"]: r["oid"] for r in q(ctx, "SELECT oid, relname FROM pg_class WHERE relnamespace = 2200")}
    assert "ZZZ/1Min/OHLCV" in second
    assert all(second[k] == v for k, v in first.items())
    assert all(v >= 16384 for v in second.values())
    assert len(set(second.values())) == len(second)


def test_attributes_map_storage_types(ctx):
    rows = q(ctx, """SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t, a.attnotnull
                     FROM pg_catalog.pg_attribute a WHERE a.attrelid = '"SYM/1Sec/TICK"'::regclass
                     AND a.attnum > 0 ORDER BY a.attnum""")
    assert rows == [
        {"attname": "epoch", "t": "timestamp with time zone", "attnotnull": True},
        {"attname": "bid", "t": "double precision", "attnotnull": False},
        {"attname": "ask", "t": "double precision", "attnotnull": False},
        {"attname": "cond", "t": "text", "attnotnull": False},
        {"attname": "nanoseconds", "t": "integer", "attnotnull": True},
    ]
    group = q(ctx, "SELECT column_name, data_type FROM information_schema.columns "
                   "WHERE table_name = 'ohlcv_1min' ORDER BY ordinal_position")
    assert [r["column_name"] for r in group] == ["symbol", "epoch", "open", "high", "low", "close", "volume"]
    assert group[0]["data_type"] == "text" and group[-1]["data_type"] == "bigint"


def test_psql_describe_lookup_by_regex(ctx):
    rows = q(ctx, """SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
        LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname OPERATOR(pg_catalog.~) '^(ohlcv.*)$' COLLATE pg_catalog.default
        AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3""")
    assert [r["relname"] for r in rows] == ["ohlcv_1min"]
    oid = rows[0]["oid"]
    assert q(ctx, f"SELECT '{oid}'::regclass::text AS r") == [{"r": "ohlcv_1min"}]
    assert q(ctx, """SELECT '"SYM/1Min/OHLCV"'::regclass::text AS r""") == [{"r": '"SYM/1Min/OHLCV"'}]


def test_pg_type_has_arrays_and_io_functions(ctx):
    rows = q(ctx, "SELECT t.typname, t.typarray, e.typname AS arr, t.typinput, t.typoutput, t.typlen, "
                  "t.typbyval, t.typcategory, e.typelem FROM pg_type t JOIN pg_type e ON e.oid = t.typarray "
                  "WHERE t.oid IN (20, 25, 1184) ORDER BY t.oid")
    assert rows == [
        {"typname": "int8", "typarray": 1016, "arr": "_int8", "typinput": "int8in", "typoutput": "int8out",
         "typlen": 8, "typbyval": True, "typcategory": "N", "typelem": 20},
        {"typname": "text", "typarray": 1009, "arr": "_text", "typinput": "textin", "typoutput": "textout",
         "typlen": -1, "typbyval": False, "typcategory": "S", "typelem": 25},
        {"typname": "timestamptz", "typarray": 1185, "arr": "_timestamptz", "typinput": "timestamptz_in",
         "typoutput": "timestamptz_out", "typlen": 8, "typbyval": True, "typcategory": "D", "typelem": 1184},
    ]


def test_asyncpg_introspection_is_computed(ctx):
    sql = next(p for p in (__import__("pathlib").Path(__file__).parent / "queries").glob("*typeinfo_tree*"))
    body = "\n".join(line for line in sql.read_text().splitlines() if not line.startswith("-- "))
    rows = q(ctx, body, [[1007, 3904]])      # int4[] and int4range
    got = {(r["oid"], r["name"], r["kind"], r["elemtype"], r["range_subtype"]) for r in rows}
    assert got == {(1007, "_int4", "b", 23, None), (23, "int4", "b", 0, None),
                   (3904, "int4range", "r", 0, 23)}
    arr = next(r for r in rows if r["oid"] == 1007)
    assert arr["elemtype_name"] == "integer" and arr["elemdelim"] == ","
    assert max(r["depth"] for r in rows) == 1


def test_get_relation_carries_pg_types(ctx):
    t = get_relation("pg_class", None, ctx)
    types = {f.name: oid_of(f.type, f.metadata) for f in t.schema}
    assert types["oid"] == 26 and types["relname"] == 19 and types["relkind"] == 18
    assert types["relacl"] == 1034 and types["reltuples"] == 700
    assert "SYM/1Min/OHLCV" in t.column("relname").to_pylist()
    assert get_relation("columns", "information_schema", ctx).num_rows > 0
    assert get_relation("pg_trigger", "pg_catalog", ctx).num_rows == 0
    assert get_relation("ohlcv_1min", None, ctx) is None
    assert get_relation("pg_nonesuch", None, ctx) is None


def test_session_functions(ctx):
    ctx.settings["application_name"] = "tool"
    row = q(ctx, "SELECT current_database(), current_schema(), current_user, "
                 "current_setting('application_name') AS app, current_setting('nope', true) AS missing, "
                 "pg_catalog.pg_get_userbyid(10) AS owner, has_table_privilege('ohlcv_1min', 'SELECT') AS p")[0]
    assert row == {"current_database": "pgmkts", "current_schema": "public", "current_user": "pgmkts",
                   "app": "tool", "missing": None, "owner": "pgmkts", "p": True}
    assert q(ctx, "SELECT set_config('jit', 'off', false)") == [{"set_config": "off"}]
    assert ctx.settings["jit"] == "off"
    assert q(ctx, "SELECT quote_ident('SYM/1Min/OHLCV') AS a, quote_ident('open') AS b") == [
        {"a": '"SYM/1Min/OHLCV"', "b": "open"}]
    assert q(ctx, "SELECT parse_ident('public.\"A/1Min/X\"') AS p") == [{"p": ["public", "A/1Min/X"]}]


@pytest.mark.parametrize("sql,exc,state", [
    ("SELECT current_setting('no_such_setting')", errors.UndefinedObject, "42704"),
    ("SELECT 'nope'::regclass", errors.UndefinedTable, "42P01"),
    ("SELECT 'nope'::regtype", errors.UndefinedObject, "42704"),
    ("SELECT relname FROM pg_class WHERE relname ~ '('", errors.InvalidRegularExpression, "2201B"),
    ("SELECT nosuchcol FROM pg_class", errors.UndefinedColumn, "42703"),
    ("SELECT pg_nosuch_fn(oid) FROM pg_class", errors.UndefinedFunction, "42883"),
])
def test_errors_carry_sqlstate(ctx, sql, exc, state):
    with pytest.raises(exc) as ei:
        q(ctx, sql)
    assert ei.value.sqlstate == state


def test_routing_keeps_time_series_queries_with_planner():
    for sql in ('SELECT * FROM "SYM/1Min/OHLCV"', "SELECT 1", "SELECT now()",
                "SELECT c.relname FROM pg_class c JOIN ohlcv_1min o ON o.symbol = c.relname"):
        assert not compat.is_catalog_query(compat.parse(sql)[0]), sql
    for sql in ("SELECT version()", "select pg_catalog.version()", "SELECT current_schema()",
                "SELECT typname FROM pg_type", "SELECT * FROM information_schema.tables"):
        assert compat.is_catalog_query(compat.parse(sql)[0]), sql


def test_preprocess_keeps_literals():
    assert compat.preprocess("SELECT $1::oid[], x::pg_catalog.int2[] , '::oid[]'") == \
        "SELECT $1::_oid, x::pg_catalog._int2 , '::oid[]'"
    assert compat.is_comment_only("-- ping") and not compat.is_comment_only("SELECT 1 -- x")


def test_settings_and_roles(ctx):
    rows = q(ctx, "SELECT name, setting FROM pg_settings WHERE name IN ('TimeZone', 'server_version_num')")
    assert {r["name"] for r in rows} == {"TimeZone", "server_version_num"}
    assert q(ctx, "SELECT rolname, rolsuper FROM pg_roles") == [{"rolname": "pgmkts", "rolsuper": True}]
    assert q(ctx, "SELECT datname FROM pg_database") == [{"datname": "pgmkts"}]


def test_snapshot_lists_functions_for_df(ctx):
    snap = snapshot(ctx)
    names = {p["proname"] for p in snap.pg_proc()}
    assert {"version", "format_type", "pg_get_userbyid", "current_setting"} <= names


def test_psql_describe_chain_with_real_oid(ctx):
    """psql's \\d+ "SYM/1Min/OHLCV": look the OID up, then run its follow-up queries with it."""
    from tests.catalog.test_client_queries import QUERIES, load

    oid = q(ctx, """SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~)
                    '^(SYM/1Min/OHLCV)$' COLLATE pg_catalog.default""")[0]["oid"]
    chain = {p.stem[:3]: load(p)[1].replace("'16384'", f"'{oid}'") for p in QUERIES
             if "16384" in p.read_text()}
    table = q(ctx, chain["007"])
    assert table[0]["relkind"] == "r" and table[0]["amname"] == "heap"
    cols = q(ctx, chain["008"])
    assert [(c["attname"], c["format_type"]) for c in cols] == [
        ("epoch", "timestamp with time zone"), ("open", "real"), ("high", "real"), ("low", "real"),
        ("close", "real"), ("volume", "bigint")]
    assert cols[0]["attstorage"] == "p" and cols[0]["attcollation"] is None
    for key in ("009", "010", "011", "012", "013"):
        assert q(ctx, chain[key]) == []


def test_tables_have_row_types_for_composite_introspection(ctx):
    rel = q(ctx, "SELECT oid, reltype FROM pg_class WHERE relname = 'ohlcv_1min'")[0]
    assert rel["reltype"] >= 16384
    t = q(ctx, f"SELECT typname, typtype, typrelid, typarray, format_type(oid, NULL) AS f FROM pg_type "
               f"WHERE oid = {rel['reltype']}")[0]
    assert t == {"typname": "ohlcv_1min", "typtype": "c", "typrelid": rel["oid"], "typarray": t["typarray"],
                 "f": "ohlcv_1min"}
    # psycopg's CompositeInfo.fetch query shape
    sql = next((__import__("pathlib").Path(__file__).parent / "queries").glob("055_psycopg_*"))
    body = "\n".join(line for line in sql.read_text().splitlines() if not line.startswith("-- "))
    info = q(ctx, body, ["ohlcv_1min"])[0]
    assert info["field_names"] == ["symbol", "epoch", "open", "high", "low", "close", "volume"]
    assert info["field_types"] == [25, 1184, 700, 700, 700, 700, 20]
    # asyncpg's introspection of the row type walks its attribute types
    sql = next((__import__("pathlib").Path(__file__).parent / "queries").glob("*typeinfo_tree*"))
    body = "\n".join(line for line in sql.read_text().splitlines() if not line.startswith("-- "))
    rows = q(ctx, body, [[rel["reltype"]]])
    top = next(r for r in rows if r["oid"] == rel["reltype"])
    assert top["kind"] == "c" and top["attrnames"][:2] == ["symbol", "epoch"]
    assert {r["name"] for r in rows} >= {"ohlcv_1min", "text", "timestamptz", "float4", "int8"}


def test_size_functions(ctx):
    assert q(ctx, "SELECT pg_size_pretty(123456789::bigint) AS a, pg_size_pretty(10000::bigint) AS b") == [
        {"a": "118 MB", "b": "10000 bytes"}]
    assert q(ctx, "SELECT pg_table_size('pg_class') AS s")[0]["s"] == 0


def test_postgres_regex_spellings(ctx):
    rows = q(ctx, r"SELECT relname FROM pg_class WHERE relnamespace = 2200 AND relname ~ '^[[:lower:]]+_[[:digit:]]' "
                  r"AND relname !~* '^TICK' ORDER BY 1")
    assert rows == [{"relname": "ohlcv_1min"}]
    assert q(ctx, r"SELECT relname ~ '\mohlcv' AS w, relname ~ '\m1min' AS nw FROM pg_class "
                  r"WHERE relname = 'ohlcv_1min'") == [{"w": True, "nw": False}]


def test_relation_oid_matches_pg_class(ctx):
    from pgmkts.planner.catalog import relation_oid

    oid = relation_oid("ohlcv_1min", ctx)
    assert q(ctx, f"SELECT relname FROM pg_class WHERE oid = {oid}") == [{"relname": "ohlcv_1min"}]
    assert relation_oid("nope", ctx) is None
