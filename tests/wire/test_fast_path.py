"""The small-query fast path (planner FastScan + the wire's encoded-rows cache): repeated
"last N bars" queries must still see every committed write, delete and setting change, and
behave like the general executor in transactions, errors and row-limited Executes."""

from __future__ import annotations

import psycopg
import pytest

from tests.wire import rawpg

TBK = '"FASTP/1Min/OHLCV"'
LAST = f"SELECT * FROM {TBK} ORDER BY epoch DESC LIMIT 3"
FIRST = f"SELECT epoch, close FROM {TBK} ORDER BY epoch LIMIT 2"


@pytest.fixture(scope="module")
def dsn(pgmkts_server):
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {TBK} (epoch timestamptz, open real, high real, low real, close real, "
                  "volume bigint)")
        c.execute(f"INSERT INTO {TBK} SELECT to_timestamp(1704067200 + g * 60), g, g + 1, g - 1, g + 0.5, g "
                  "FROM generate_series(0, 999) AS g")
    return pgmkts_server.dsn


def _closes(conn, sql=LAST, **kw):
    return [r[-1] if sql == LAST else r[1] for r in conn.execute(sql, **kw).fetchall()]


@pytest.mark.parametrize("prepare", [False, True])
def test_repeated_query_sees_writes_and_deletes(dsn, prepare):
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        for _ in range(3):   # warm: plan cache, validation, encoded-rows cache
            assert _closes(a, prepare=prepare) == [999, 998, 997]
            assert _closes(a, FIRST, prepare=prepare) == [0.5, 1.5]
        b.execute(f"INSERT INTO {TBK} VALUES ('2030-01-01', 1, 2, 3, 4, 4242)")
        assert _closes(a, prepare=prepare) == [4242, 999, 998]
        b.execute(f"DELETE FROM {TBK} WHERE epoch >= '2030-01-01'")
        assert _closes(a, prepare=prepare) == [999, 998, 997]


def test_transaction_sees_its_own_writes(dsn):
    with psycopg.connect(dsn) as a, psycopg.connect(dsn, autocommit=True) as b:
        for _ in range(3):
            assert _closes(b) == [999, 998, 997]
        a.execute(f"INSERT INTO {TBK} VALUES ('2031-01-01', 1, 2, 3, 4, 7)")
        assert _closes(a) == [7, 999, 998]
        assert _closes(b) == [999, 998, 997]   # not committed yet
        a.rollback()
        assert _closes(a) == [999, 998, 997]


def test_timezone_change_reformats(dsn, pgmkts_server):
    q = rawpg.query(f"SELECT epoch FROM {TBK} ORDER BY epoch DESC LIMIT 1")
    c = rawpg.Conn(pgmkts_server.port)
    try:
        c.login()
        for _ in range(3):
            c.send(q)
            rows = [b for t, b in c.until() if t == b"D"]
        assert rows[0].endswith(b"+00")
        c.send(rawpg.query("SET TimeZone = 'Asia/Tokyo'"))
        c.until()
        c.send(q)
        rows = [b for t, b in c.until() if t == b"D"]
        assert rows[0].endswith(b"+09"), rows
    finally:
        c.close()


def test_negative_limit_parameter_is_an_error(dsn):
    with psycopg.connect(dsn, autocommit=True) as c:
        q = f"SELECT * FROM {TBK} ORDER BY epoch DESC LIMIT %s"
        for _ in range(3):
            assert len(c.execute(q, (2,), prepare=True).fetchall()) == 2
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute(q, (-1,), prepare=True)
        assert len(c.execute(q, (5,), prepare=True).fetchall()) == 5


def test_row_limited_execute_of_a_warm_statement(dsn, pgmkts_server):
    """Execute with a row limit, then the rest: PortalSuspended after 2 rows, then the third
    row and "SELECT 1" — the cached whole-result bytes must not be replayed into a portal."""
    c = rawpg.Conn(pgmkts_server.port)
    try:
        c.login()
        for _ in range(3):
            c.send(rawpg.query(LAST))
            assert rawpg.types(c.until()).count(b"D") == 3
        c.send(rawpg.parse(LAST), rawpg.bind(), rawpg.execute(limit=2), rawpg.execute(), rawpg.SYNC)
        got = c.until()
        assert rawpg.types(got) == b"12DDsDCZ", rawpg.types(got)
        tags = [body for t, body in got if t == b"C"]
        assert tags == [b"SELECT 1\0"]
        # and a whole Execute of the same statement afterwards is complete
        c.send(rawpg.parse(LAST), rawpg.bind(), rawpg.execute(), rawpg.SYNC)
        got = c.until()
        assert rawpg.types(got) == b"12DDDCZ" and [b for t, b in got if t == b"C"] == [b"SELECT 3\0"]
    finally:
        c.close()



def test_pipelined_prepared_transactions_answer_in_order(dsn, pgmkts_server):
    """pgbench -M prepared's shape (Bind, Describe, Execute, Sync of a warm named statement),
    many transactions in one packet, answered without coroutines (wire/extended.py
    _extended_now): every answer complete and in order; an error in one transaction (an
    unknown portal) is that transaction's only, up to its Sync."""
    c = rawpg.Conn(pgmkts_server.port)
    try:
        c.login()
        c.send(rawpg.parse(LAST, name="warm"), rawpg.SYNC)
        assert rawpg.types(c.until()) == b"1Z"
        txn = rawpg.bind(stmt="warm") + rawpg.describe(b"P") + rawpg.execute() + rawpg.SYNC
        bad = rawpg.bind(stmt="warm") + rawpg.execute("nosuch") + rawpg.execute() + rawpg.SYNC
        for _ in range(3):   # warm the plan and the rows cache
            c.send(txn)
            c.until()
        c.send(txn * 5 + bad + txn * 3)
        got = []
        for _ in range(9):
            got.append(c.until())
        ok = [g for i, g in enumerate(got) if i != 5]
        for g in ok:
            assert rawpg.types(g) == b"2TDDDCZ"
            assert [b for t, b in g if t == b"C"] == [b"SELECT 3\0"]
            assert [b for t, b in g if t == b"D"] == [b for t, b in ok[0] if t == b"D"]
        assert rawpg.types(got[5]) == b"2EZ" and rawpg.error_code(got[5][1][1]) == "34000"
        # a write between transactions: the next one sees it (the cache key moves on)
        with psycopg.connect(dsn, autocommit=True) as w:
            w.execute(f"INSERT INTO {TBK} VALUES ('2032-01-01', 1, 2, 3, 4, 31337)")
            try:
                c.send(txn)
                g = c.until()
                assert rawpg.types(g) == b"2TDDDCZ"
                assert [b for t, b in g if t == b"D"] != [b for t, b in ok[0] if t == b"D"]
            finally:
                w.execute(f"DELETE FROM {TBK} WHERE epoch >= '2032-01-01'")
    finally:
        c.close()


def test_held_rows_not_served_in_a_failed_transaction(dsn):
    """A warm prepared read is answered from the wire's rows without running it — but not in
    an aborted transaction, which must refuse it (25P02) until ROLLBACK."""
    with psycopg.connect(dsn) as a:
        for _ in range(3):
            assert _closes(a, prepare=True) == [999, 998, 997]
        with pytest.raises(psycopg.errors.UndefinedTable):
            a.execute("SELECT * FROM no_such_table_here")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            a.execute(LAST, prepare=True)
        a.rollback()
        assert _closes(a, prepare=True) == [999, 998, 997]
