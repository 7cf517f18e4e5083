"""Which statements the wire may run on its event loop instead of a worker thread: one
transaction-control or settings statement (COMMIT only with nothing buffered), and a SELECT of
literals. Anything that reads data, may take long (pg_sleep, a subquery) or writes stays off it."""

from __future__ import annotations

import pytest

from pgmkts.planner.session import Session

CHEAP = ["BEGIN", "begin;", "START TRANSACTION", "ROLLBACK", "SET TIME ZONE 'UTC'", "set search_path = public",
         "RESET ALL", "SHOW TimeZone", "DISCARD ALL", "DEALLOCATE ALL", "LISTEN chan", "UNLISTEN *",
         "SAVEPOINT a", "RELEASE a", "COMMIT", "END", "-- a comment\nBEGIN"]
NOT_CHEAP = ["SET application_name = 'a;b'", "BEGIN; SELECT 1", "SELECT 1", "COPY t TO STDOUT", "VACUUM",
             "INSERT INTO t VALUES (1)", "EXPLAIN SELECT 1", "PREPARE p AS SELECT 1", "EXECUTE p", "CHECKPOINT"]


@pytest.mark.parametrize("sql", CHEAP)
def test_cheap_utilities(engine, sql):
    assert Session(engine).cheap_utility(sql)


@pytest.mark.parametrize("sql", NOT_CHEAP)
def test_not_cheap(engine, sql):
    assert not Session(engine).cheap_utility(sql)


def test_commit_with_buffered_writes_is_not_cheap(engine):
    s = Session(engine)
    list(s.execute("BEGIN"))
    list(s.execute("INSERT INTO \"AAPL/1Min/OHLCV\" (epoch, close) VALUES ('2030-01-01', 1)"))
    assert not s.cheap_utility("COMMIT") and s.cheap_utility("ROLLBACK")
    list(s.execute("ROLLBACK"))
    assert s.cheap_utility("COMMIT")


@pytest.mark.parametrize("sql, const", [
    ("SELECT 1", True), ("select 1 + 2 AS x, 'a'::text, NULL", True), ("SELECT -1.5 * 2", True),
    ("SELECT pg_sleep(0)", False), ("SELECT (SELECT 1)", False), ("SELECT now()", False),
    ("SELECT 1 FROM \"AAPL/1Min/OHLCV\" LIMIT 1", False), ("SELECT * FROM generate_series(1, 3)", False),
    ("WITH a AS (SELECT 1) SELECT 2", False), ("SELECT 1 UNION SELECT 2", False),
])
def test_constant_select(engine, sql, const):
    s = Session(engine)
    list(s.execute(sql))
    assert s.is_constant(sql) is const


SETTING_QUERIES = ["SELECT current_setting('TimeZone')", "select current_setting('timezone') AS tz",
                   "SELECT pg_catalog.current_setting('DateStyle')", "SELECT current_setting('standard_conforming_strings')",
                   "SELECT current_setting('client_encoding') \"Enc\"", "SELECT current_setting('nope.custom', true)",
                   "SELECT current_setting('integer_datetimes', false)"]


@pytest.mark.parametrize("sql", SETTING_QUERIES)
def test_lone_current_setting_is_postgresqls_answer(engine, oracle, sql):
    from tests.planner.conftest import run
    s = Session(engine)
    list(s.execute("SET TimeZone = 'America/New_York'"))
    assert s.cheap_utility(sql)
    fields, rows = run(s, sql)
    with oracle.connect() as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        cur = conn.execute(sql)
        want = cur.fetchall()
        names = [d.name for d in cur.description]
    assert [f.name for f in fields] == names and [f.type_oid for f in fields] == [25]
    assert rows == want
    # the general (catalog) executor agrees
    assert run(s, sql.replace(")", ") || ''", 1) if "true" not in sql else sql)[1] == want


def test_unknown_setting_is_42704(engine):
    from pgmkts import errors
    s = Session(engine)
    with pytest.raises(errors.PgmktsError) as e:
        list(s.execute("SELECT current_setting('no_such_setting')"))
    assert e.value.sqlstate == "42704"
