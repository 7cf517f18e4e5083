"""The planner Session routes catalog statements to the catalog executor; client keep-alives and
session statements (SET/SHOW/DISCARD/...) answer as PostgreSQL does."""

from __future__ import annotations

import pytest

from pgmkts.planner.session import Session


@pytest.fixture
def session(engine):
    return Session(engine)


def rows(session, sql):
    out = []
    for r in session.execute(sql):
        out.append((r.tag, [b.to_pylist() for b in r.batches] if r.fields else None))
    return out


@pytest.mark.parametrize("sql,tag", [
    ("BEGIN ISOLATION LEVEL READ COMMITTED; COMMIT", "COMMIT"),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET"),
    ("DISCARD ALL", "DISCARD ALL"), ("RESET ALL", "RESET"), ("CLOSE ALL", "CLOSE CURSOR ALL"),
    ("UNLISTEN *", "UNLISTEN"), ("SELECT pg_advisory_unlock_all()", "SELECT 1"), ("SELECT 1", "SELECT 1"),
])
def test_pooler_and_driver_statements(session, sql, tag):
    assert rows(session, sql)[-1][0] == tag


def test_ping_comment_is_empty_query(session):
    res = list(session.execute("-- ping"))
    assert len(res) == 1 and res[0].empty


def test_prepared_catalog_query_infers_parameter_types(session):
    prep = session.prepare("SELECT t.oid, t.typname FROM pg_type t WHERE t.oid = any($1::oid[]) ORDER BY 1", [0])
    assert prep.param_oids == [1028]
    assert [(f.name, f.type_oid) for f in prep.fields] == [("oid", 26), ("typname", 19)]
    res = session.run(session.bind(prep, [[25, 23]]))
    assert res.tag == "SELECT 2"
    assert [b.to_pylist() for b in res.batches][0] == [{"oid": 23, "typname": "int4"}, {"oid": 25, "typname": "text"}]


def test_set_config_goes_through_session_settings(session):
    assert rows(session, "SELECT set_config('application_name', 'grafana', false)")[0][1] == [
        [{"set_config": "grafana"}]]
    assert ("application_name", "grafana") in session.parameter_changes
    assert rows(session, "SHOW application_name")[0][1] == [[{"application_name": "grafana"}]]


def test_catalog_sees_ddl_at_once(session):
    session.execute("SELECT 1")
    list(session.execute('CREATE TABLE "NEW/5Min/OHLCV" (epoch timestamptz, close double precision)'))
    got = rows(session, "SELECT relname FROM pg_class WHERE relname LIKE '%5min%' OR relname LIKE '%5Min%' ORDER BY 1")
    assert got[0][1] == [[{"relname": "NEW/5Min/OHLCV"}, {"relname": "ohlcv_5min"}]]


def test_failed_catalog_query_aborts_transaction(session):
    list(session.execute("BEGIN"))
    with pytest.raises(Exception) as ei:
        list(session.execute("SELECT 'nope'::regclass"))
    assert ei.value.sqlstate == "42P01"
    assert session.txn_status == "E"
    list(session.execute("ROLLBACK"))
    assert session.txn_status == "I"


def test_catalog_functions_usable_in_time_series_queries(engine):
    import numpy as np

    engine.write("SYM/1Min/OHLCV", {"Epoch": np.array([0, 60], dtype="i8"),
                                    "Open": np.array([1, 2], dtype="f4"), "High": np.array([1, 2], dtype="f4"),
                                    "Low": np.array([1, 2], dtype="f4"), "Close": np.array([1, 2], dtype="f4"),
                                    "Volume": np.array([5, 6], dtype="i8")})
    s = Session(engine)
    res = next(s.execute("SELECT volume, format_type(20, NULL) AS t, quote_ident('A b') AS q "
                         'FROM "SYM/1Min/OHLCV" ORDER BY epoch'))
    assert [b.to_pylist() for b in res.batches][0] == [{"volume": 5, "t": "bigint", "q": '"A b"'},
                                                       {"volume": 6, "t": "bigint", "q": '"A b"'}]


def test_declared_group_table_is_listed_before_any_bucket(session):
    list(session.execute("CREATE TABLE trades_1sec (symbol text, epoch timestamptz, price double precision, "
                         "size integer) WITH (variable_length = true)"))
    got = rows(session, "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'trades_1sec' ORDER BY ordinal_position")
    assert got[0][1] == [[{"column_name": "symbol", "data_type": "text"},
                          {"column_name": "epoch", "data_type": "timestamp with time zone"},
                          {"column_name": "price", "data_type": "double precision"},
                          {"column_name": "size", "data_type": "integer"},
                          {"column_name": "nanoseconds", "data_type": "integer"}]]


@pytest.mark.parametrize("rel", ['"SYM/1Sec/TICK"', "tick_1sec", '"SYM/1Min/OHLCV"', "ohlcv_1min"])
def test_catalog_columns_match_what_select_star_returns(session, rel):
    star = session.prepare(f"SELECT * FROM {rel}", [])
    prep = session.prepare("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::regclass "
                           "AND attnum > 0 ORDER BY attnum", [0])
    res = session.run(session.bind(prep, [rel]))
    cat = [(r["attname"], r["atttypid"]) for b in res.batches for r in b.to_pylist()]
    assert cat == [(f.name, f.type_oid) for f in star.fields]


def test_from_less_mixes_go_to_the_planner_with_catalog_functions(session):
    got = rows(session, "SELECT now() IS NOT NULL AS n, version() LIKE 'PostgreSQL 1%' AS v, "
                        "current_schemas(true) AS s, array_to_string(current_schemas(false), ',') AS a, "
                        "pg_get_userbyid(10) AS u")
    assert got[0][1] == [[{"n": True, "v": True, "s": ["pg_catalog", "public"], "a": "public", "u": "pgmkts"}]]
