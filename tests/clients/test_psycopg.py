"""psycopg 3 against the real server: text and binary cursors, server-side prepared statements,
pipeline mode, COPY binary both ways, cancel, statement_timeout, notifies, transactions."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest

UTC = dt.UTC
TBK = '"PSYCO/1Min/OHLCV"'
COLS = ["timestamptz", "float4", "float4", "float4", "float4", "int8"]


@pytest.fixture(scope="module")
def dsn(pgmkts_server):
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {TBK} (epoch timestamptz, open real, high real, low real, close real, volume bigint)")
        with c.cursor().copy(f"COPY {TBK} (epoch, open, high, low, close, volume) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(COLS)
            t0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
            for i in range(1000):
                cp.write_row((t0 + dt.timedelta(minutes=i), i + 0.5, i + 1, i - 1, i + 0.25, i))
    return pgmkts_server.dsn


def test_text_and_binary_cursors_agree(dsn):
    q = f"SELECT epoch, open, close, volume FROM {TBK} WHERE epoch >= %s ORDER BY epoch LIMIT 5"
    start = dt.datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    with psycopg.connect(dsn) as c:
        text = c.cursor().execute(q, [start]).fetchall()
        binary = c.cursor(binary=True).execute(q, [start]).fetchall()
    assert text == binary
    assert text[0] == (start, 10.5, 10.25, 10)


def test_server_side_prepared_statements(dsn):
    with psycopg.connect(dsn, prepare_threshold=0) as c:
        for n in (3, 7, 3):
            rows = c.execute(f"SELECT volume FROM {TBK} ORDER BY epoch DESC LIMIT %s", [n], prepare=True).fetchall()
            assert [r[0] for r in rows] == list(range(999, 999 - n, -1))
        assert c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() is not None


def test_pipeline_mode(dsn):
    with psycopg.connect(dsn) as c:
        with c.pipeline():
            curs = [c.execute("SELECT %s::int * 2", [i]) for i in range(20)]
            bad = c.cursor()
        assert [cur.fetchone()[0] for cur in curs] == [i * 2 for i in range(20)]
        with pytest.raises(psycopg.errors.UndefinedTable):
            with c.pipeline():
                c.execute("SELECT 1")
                bad.execute("SELECT * FROM nope_nope")
        c.rollback()
        assert c.execute("SELECT 5").fetchone() == (5,)


def test_copy_binary_both_ways(dsn):
    tbk = '"PSYCOPY/1Min/OHLCV"'
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {tbk} (epoch timestamptz, open real, high real, low real, close real, volume bigint)")
        with c.cursor().copy(f"COPY {TBK} TO STDOUT (FORMAT BINARY)") as cp:
            cp.set_types(COLS)
            rows = list(cp.rows())
        assert len(rows) == 1000 and rows[5][5] == 5
        with c.cursor().copy(f"COPY {tbk} FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(COLS)
            for r in rows:
                cp.write_row(r)
        assert c.execute(f"SELECT count(*), sum(volume) FROM {tbk}").fetchone() == (1000, sum(range(1000)))
        # a failing COPY IN writes nothing (atomic)
        with pytest.raises(psycopg.Error):
            with c.cursor().copy(f"COPY {tbk} (epoch, volume) FROM STDIN (FORMAT CSV)") as cp:
                cp.write("2030-01-01 00:00:00+00,1\n2030-01-01 00:01:00+00,notanumber\n")
        assert c.execute(f"SELECT count(*) FROM {tbk}").fetchone() == (1000,)


def test_cancel_and_statement_timeout(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        timer = threading.Timer(0.3, c.cancel)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(20)")
        assert time.monotonic() - t0 < 15
        assert c.execute("SELECT 1").fetchone() == (1,)
        c.execute("SET statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            c.execute("SELECT pg_sleep(20)")
        c.execute("RESET statement_timeout")
        assert c.execute("SELECT 2").fetchone() == (2,)


def test_notifies_from_writes_and_notify(dsn):
    with psycopg.connect(dsn, autocommit=True) as listener, psycopg.connect(dsn, autocommit=True) as writer:
        listener.execute('LISTEN "PSYCO/*/OHLCV"')
        listener.execute("LISTEN chat")
        writer.execute(f"INSERT INTO {TBK} (epoch, open, high, low, close, volume) "
                       "VALUES ('2025-01-01 00:00:00+00', 1, 2, 0.5, 1.5, 77)")
        writer.execute("NOTIFY chat, 'hello'")
        got = list(listener.notifies(timeout=10, stop_after=2))
        by_chan = {n.channel: n for n in got}
        assert '"volume":77' in by_chan["PSYCO/*/OHLCV"].payload
        assert by_chan["chat"].payload == "hello" and by_chan["chat"].pid == writer.info.backend_pid
        listener.execute("UNLISTEN *")


def test_transaction_abort_until_rollback(dsn):
    with psycopg.connect(dsn) as c:
        with pytest.raises(psycopg.errors.UndefinedColumn):
            c.execute(f"SELECT no_such_column FROM {TBK}")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 1")
        c.rollback()
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_set_timezone_reports_parameter_and_changes_text_output(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SET TimeZone = 'America/New_York'")
        assert c.info.parameter_status("TimeZone") == "America/New_York"
        c.adapters.register_loader("timestamptz", psycopg.types.string.TextLoader)
        text = c.execute(f"SELECT epoch FROM {TBK} ORDER BY epoch LIMIT 1").fetchone()[0]
        assert text == "2023-12-31 19:00:00-05"


def test_copy_symbol_column_binary_into_group_table(dsn):
    """Binary COPY with a variable-width text column (the multi-symbol bulk-ingest shape)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE wirecopy_1min (symbol text, epoch timestamptz, price double precision, size bigint)")
        t0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
        with c.cursor().copy("COPY wirecopy_1min (symbol, epoch, price, size) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["text", "timestamptz", "float8", "int8"])
            for i in range(300):
                cp.write_row((["AA", "BBB", "CCCC"][i % 3], t0 + dt.timedelta(minutes=i), i / 4, i))
        rows = c.execute("SELECT symbol, count(*), sum(size) FROM wirecopy_1min GROUP BY symbol ORDER BY symbol").fetchall()
        assert rows == [("AA", 100, sum(range(0, 300, 3))), ("BBB", 100, sum(range(1, 300, 3))),
                        ("CCCC", 100, sum(range(2, 300, 3)))]


def test_interval_results_text_and_binary(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        q = "SELECT '90 seconds'::interval, '1 year 2 mons 3 days 04:05:06.5'::interval, '-1 day'::interval"
        text = conn.execute(q).fetchone()
        binary = conn.cursor(binary=True).execute(q).fetchone()
    assert text[0] == binary[0] == dt.timedelta(seconds=90)
    # psycopg maps a month to 30 days and a year to 365 days, in both formats alike
    assert text[1] == binary[1] == dt.timedelta(days=365 + 60 + 3, hours=4, minutes=5, seconds=6.5)
    assert text[2] == binary[2] == dt.timedelta(days=-1)


def test_timestamptz_text_cast_follows_session_timezone(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        # prepared: Describe runs on an empty scan first (this once failed on a zero-size array)
        got = conn.execute("SELECT to_timestamp(1704067200.5)::text, to_timestamp(1719792000)::text",
                           prepare=True).fetchone()
    assert got == ("2023-12-31 19:00:00.5-05", "2024-06-30 20:00:00-04")
