"""Session behaviour: SET/SHOW/RESET, transactions, read-only, prepared statements, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from pgmkts import errors
from pgmkts.planner.session import Session
from tests.planner.conftest import run

UTC = dt.UTC


def test_empty_and_ping(session):
    (r,) = list(session.execute("-- ping"))
    assert r.empty
    (r,) = list(session.execute("  ;  "))
    assert r.empty


def test_several_statements(session):
    res = list(session.execute("SELECT 1; SELECT 'a' AS x; SET application_name = 'x'"))
    assert [r.tag for r in res] == ["SELECT 1", "SELECT 1", "SET"]


def test_version_matches_sqlalchemy_regex(session):
    import re
    _f, rows = run(session, "SELECT version()")
    # SQLAlchemy's psycopg dialect: r".*(?:PostgreSQL|EnterpriseDB) (\d+)\.?(\d+)?(?:\.(\d+))?"
    m = re.match(r".*(?:PostgreSQL|EnterpriseDB) (\d+)\.?(\d+)?(?:\.(\d+))?", rows[0][0])
    assert m and m.group(1) == "15"


def test_set_show_reset_and_parameter_status(engine):
    s = Session(engine)
    list(s.execute("SET TIME ZONE 'Europe/Paris'"))
    assert s.parameter_changes == [("TimeZone", "Europe/Paris")]
    _f, rows = run(s, "SHOW timezone")
    assert rows == [("Europe/Paris",)]
    list(s.execute("SET application_name TO 'grafana'"))
    assert s.parameter_changes[-1] == ("application_name", "grafana")
    _f, rows = run(s, "SELECT current_setting('application_name')")
    assert rows == [("grafana",)]
    list(s.execute("SET application_name TO DEFAULT"))
    assert s.settings["application_name"] == ""
    list(s.execute("RESET ALL"))
    assert s.settings["TimeZone"] == "UTC"
    list(s.execute("SET extra_float_digits = 3"))
    assert s.settings["extra_float_digits"] == "3"
    fields, rows = run(s, "SHOW ALL")
    assert [f.name for f in fields] == ["name", "setting", "description"] and len(rows) > 20
    with pytest.raises(errors.UndefinedObject):
        list(s.execute("SHOW no_such_thing"))
    with pytest.raises(errors.InvalidParameterValue):
        list(s.execute("SET TIME ZONE 'Mars/Olympus'"))
    list(s.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"))
    list(s.execute("DISCARD ALL"))
    list(s.execute("DEALLOCATE ALL"))


def test_timezone_affects_literals(engine):
    s = Session(engine)
    list(s.execute("SET TIME ZONE 'America/New_York'"))
    _f, rows = run(s, "SELECT '2024-01-02 00:00'::timestamptz")
    assert rows[0][0] == dt.datetime(2024, 1, 2, 5, 0, tzinfo=UTC)


def test_transaction_buffers_writes_until_commit(engine):
    s = Session(engine)
    other = Session(engine)
    list(s.execute('CREATE TABLE "TXN/1Min/OHLCV" (epoch timestamptz, close real)'))
    list(s.execute("BEGIN"))
    assert s.txn_status == "T"
    list(s.execute("""INSERT INTO "TXN/1Min/OHLCV" VALUES ('2024-01-01 00:00', 1), ('2024-01-01 00:01', 2)"""))
    assert run(other, 'SELECT count(*) FROM "TXN/1Min/OHLCV"')[1] == [(0,)]
    list(s.execute("COMMIT"))
    assert s.txn_status == "I"
    assert run(other, 'SELECT count(*) FROM "TXN/1Min/OHLCV"')[1] == [(2,)]
    list(s.execute("BEGIN; INSERT INTO \"TXN/1Min/OHLCV\" VALUES ('2024-01-01 00:05', 5); ROLLBACK"))
    assert run(other, 'SELECT count(*) FROM "TXN/1Min/OHLCV"')[1] == [(2,)]
    list(s.execute('DROP TABLE "TXN/1Min/OHLCV"'))


def test_failed_transaction_until_rollback(session):
    list(session.execute("BEGIN"))
    with pytest.raises(errors.UndefinedTable):
        list(session.execute("SELECT * FROM nope"))
    assert session.txn_status == "E"
    with pytest.raises(errors.InFailedTransaction):
        list(session.execute("SELECT 1"))
    (r,) = list(session.execute("ROLLBACK"))
    assert r.tag == "ROLLBACK" and session.txn_status == "I"
    assert run(session, "SELECT 1")[1] == [(1,)]
    list(session.execute("START TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
    list(session.execute("SAVEPOINT a"))
    with pytest.raises(errors.DivisionByZero):
        list(session.execute("SELECT 1/0"))
    (r,) = list(session.execute("COMMIT"))
    assert r.tag == "ROLLBACK"


def test_read_only_session(engine):
    s = Session(engine, read_only=True)
    with pytest.raises(errors.ReadOnlyTransaction):
        list(s.execute('CREATE TABLE "RO/1Min/OHLCV" (epoch timestamptz, close real)'))
    with pytest.raises(errors.ReadOnlyTransaction):
        list(s.execute("INSERT INTO \"AAPL/1Min/OHLCV\" (epoch, close) VALUES ('2024-01-01', 1)"))
    assert run(s, 'SELECT count(*) > 0 FROM "AAPL/1Min/OHLCV"')[1] == [(True,)]
    s2 = Session(engine)
    list(s2.execute("BEGIN READ ONLY"))
    with pytest.raises(errors.ReadOnlyTransaction):
        list(s2.execute("DELETE FROM \"AAPL/1Min/OHLCV\" WHERE epoch < '2000-01-01'"))


def test_prepared_statement_types_and_fields(session):
    prep = session.prepare('SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= $1 AND epoch < $2 '
                           "ORDER BY epoch LIMIT $3", [0, 0, 0])
    assert prep.param_oids == [1184, 1184, 20]
    assert [(f.name, f.type_oid) for f in prep.fields] == [("epoch", 1184), ("close", 700)]
    start = dt.datetime(2024, 1, 2, 1, 0, tzinfo=UTC)
    res = session.run(session.bind(prep, [start, start + dt.timedelta(hours=1), 3]))
    rows = [r for b in res.batches for r in b.to_pylist()]
    assert len(rows) == 3 and all(r["epoch"] >= start for r in rows)
    prep2 = session.prepare("SELECT symbol, count(*) FROM ohlcv_1min WHERE symbol = $1 GROUP BY symbol", [0])
    assert prep2.param_oids == [25]
    assert [(f.name, f.type_oid) for f in prep2.fields] == [("symbol", 25), ("count", 20)]
    res = session.run(session.bind(prep2, ["MSFT"]))
    assert [tuple(r.values()) for b in res.batches for r in b.to_pylist()][0][0] == "MSFT"
    # text parameters (what a driver sends untyped) coerce to the column's type
    res = session.run(session.bind(prep, ["2024-01-02 01:00", "2024-01-02 01:05", "2"]))
    assert sum(b.num_rows for b in res.batches) == 2


def test_prepare_does_not_execute(session):
    prep = session.prepare("SELECT pg_sleep(100)", [])
    assert [f.name for f in prep.fields] == ["pg_sleep"]
    prep = session.prepare("INSERT INTO ohlcv_1min (symbol, epoch, close) VALUES ($1, $2, $3)", [0, 0, 0])
    assert prep.fields is None and prep.param_oids == [25, 1184, 700]


@pytest.mark.parametrize("sql,exc", [
    ("SELECT * FROM nosuch", errors.UndefinedTable),
    ('SELECT * FROM "NOPE/1Min/OHLCV"', errors.UndefinedTable),
    ('SELECT nosuch FROM "AAPL/1Min/OHLCV"', errors.UndefinedColumn),
    ("SELECT nosuchfn(1)", errors.UndefinedFunction),
    ("SELEC 1", errors.SyntaxError_),
    ("SELECT 'abc'::int", errors.InvalidTextRepresentation),
    ("SELECT 'not a date'::timestamptz", errors.InvalidDatetimeFormat),
    ("SELECT 1 / 0", errors.DivisionByZero),
    ("SELECT 1 % 0", errors.DivisionByZero),
    ("UPDATE ohlcv_1min SET close = 1", errors.FeatureNotSupported),
    ("SELECT * FROM ohlcv_1min, LATERAL (SELECT 1) x", errors.FeatureNotSupported),
    ("SELECT symbol, close FROM ohlcv_1min GROUP BY symbol", errors.GroupingError),
    ("SELECT count(*) FROM ohlcv_1min WHERE count(*) > 1", errors.GroupingError),
    ("SELECT 'a' + 1", errors.InvalidTextRepresentation),
    ("SELECT 'a'::text + 1", errors.UndefinedFunction),
    ("SELECT 2147483647::int + 1", errors.NumericValueOutOfRange),
    ("SELECT (SELECT symbol FROM ohlcv_1min)", errors.CardinalityViolation),
])
def test_error_codes(session, sql, exc):
    with pytest.raises(exc) as ei:
        list(session.execute(sql))
    assert ei.value.sqlstate == exc.sqlstate


def test_syntax_error_position(session):
    with pytest.raises(errors.SyntaxError_) as ei:
        list(session.execute("SELECT 1 FROM WHERE"))
    assert ei.value.position == 15


def test_explain_shows_push_down(session):
    _f, rows = run(session, "EXPLAIN SELECT epoch, close FROM ohlcv_1min WHERE symbol = 'AAPL' "
                            "AND epoch >= '2024-01-02' ORDER BY epoch DESC LIMIT 5")
    text = "\n".join(r[0] for r in rows)
    assert "Buckets: 'AAPL'" in text and "epoch >= '2024-01-02'" in text
    assert "Columns: Close" in text and "Limit: 5 from end" in text


def test_prepared_insert_infers_target_types(engine):
    s = Session(engine)
    list(s.execute('CREATE TABLE "PREP/1Min/OHLCV" (epoch timestamptz, close real, volume bigint)'))
    prep = s.prepare('INSERT INTO "PREP/1Min/OHLCV" VALUES ($1, $2, $3)', [0, 0, 0])
    assert prep.param_oids == [1184, 700, 20] and prep.fields is None
    res = s.run(s.bind(prep, [dt.datetime(2024, 1, 1, tzinfo=UTC), 1.5, 7]))
    assert res.tag == "INSERT 0 1"
    assert run(s, 'SELECT close, volume FROM "PREP/1Min/OHLCV"')[1] == [(1.5, 7)]
    list(s.execute('DROP TABLE "PREP/1Min/OHLCV"'))


def test_with_recursive_and_correlated(session):
    assert run(session, "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) "
                        "SELECT sum(n) FROM t")[1] == [(15,)]
    with pytest.raises(errors.FeatureNotSupported):
        list(session.execute("SELECT count(*) FROM ohlcv_1min o WHERE EXISTS "
                             "(SELECT 1 FROM ohlcv_1min i WHERE i.epoch = o.epoch)"))


def test_statement_timeout_and_cancel(engine):
    import threading
    s = Session(engine)
    list(s.execute("SET statement_timeout = '50ms'"))
    with pytest.raises(errors.QueryCanceled):
        list(s.execute("SELECT pg_sleep(5)"))
    list(s.execute("SET statement_timeout = 0"))
    timer = threading.Timer(0.05, s.cancel_event.set)
    timer.start()
    with pytest.raises(errors.QueryCanceled) as ei:
        list(s.execute("SELECT pg_sleep(5)"))
    assert "user request" in ei.value.message
    timer.join()


def test_list_parameter_any(session):
    prep = session.prepare("SELECT symbol, count(*) FROM ohlcv_1min WHERE symbol = ANY($1) GROUP BY symbol "
                           "ORDER BY symbol", [1009])
    res = session.run(session.bind(prep, [["MSFT", "SPY", "NOPE"]]))
    assert [r["symbol"] for b in res.batches for r in b.to_pylist()] == ["MSFT", "SPY"]


def test_interval_results_are_postgres_text(session):
    fields, rows = run(session, "SELECT interval '1 year 2 months 3 days 04:05:06.5', interval '-90 seconds'")
    assert [f.type_oid for f in fields] == [1186, 1186]
    assert rows == [("1 year 2 mons 3 days 04:05:06.5", "-00:01:30")]


def test_any_parameter_is_an_array(session):
    prep = session.prepare("SELECT count(*) FROM ohlcv_1min WHERE symbol = ANY($1) AND volume > ALL($2)", [0, 0])
    assert prep.param_oids == [1009, 1016]


@pytest.mark.parametrize("sql", [
    "SELECT DISTINCT ON (symbol) symbol, close FROM ohlcv_1min ORDER BY epoch",
    "SELECT DISTINCT symbol FROM ohlcv_1min ORDER BY close",
])
def test_distinct_order_rules(session, sql):
    with pytest.raises(errors.InvalidColumnReference):
        list(session.execute(sql))


def test_cast_parameter_types(session):
    prep = session.prepare("SELECT $1::int + 1, $2::timestamptz, $3::interval, $4", [0, 0, 0, 0])
    assert prep.param_oids == [23, 1184, 1186, 25]
    assert [f.type_oid for f in prep.fields] == [23, 1184, 1186, 25]


@pytest.mark.parametrize("sql,exc", [
    ("SELECT substr('abc', 'x')", errors.InvalidTextRepresentation),
    ("SELECT 1 LIMIT 'x'", errors.InvalidTextRepresentation),
    ("SELECT to_timestamp('2024', 'YYYY-MM')", errors.InvalidParameterValue),
    ("SELECT 100000::int2", errors.NumericValueOutOfRange),
    ("SELECT power(0, -1)", errors.DataError),
    ("SELECT chr(0)", errors.ProgramLimitExceeded),
    ("SELECT string_agg(close, ',') FROM ohlcv_1min", errors.UndefinedFunction),
    ("SET statement_timeout = 'soon'", errors.InvalidParameterValue),
])
def test_bad_arguments_get_sqlstates(session, sql, exc):
    with pytest.raises(exc):
        list(session.execute(sql))
