"""`COPY (small fast query) TO STDOUT` — how ADBC and connectorx read every result — runs as
that SELECT does (plan cache, FastScan, inline on the loop), and a repeat is answered from the
COPY bytes the wire holds for exactly those rows. Every repeat must give PostgreSQL's bytes,
in every format, and see every committed write and delete."""

from __future__ import annotations

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pytest

from tests.support.pg_oracle import PgOracle

TBK = '"COPYH/1Min/OHLCV"'
CREATE = (f"CREATE TABLE {TBK} (epoch timestamptz, open real, high real, low real, close real, "
          "volume bigint)")
FILL = (f"INSERT INTO {TBK} SELECT to_timestamp(1704067200 + g * 60), g / 4.0, g / 4.0 + 1, "
        "g / 4.0 - 1, g / 4.0 + 0.3, g * 10 FROM generate_series(0, 999) AS g")
LAST = f"SELECT * FROM {TBK} ORDER BY epoch DESC LIMIT 5"
FORMATS = ["(FORMAT binary)", "", "(FORMAT csv)", "(FORMAT csv, HEADER)", "(FORMAT csv, DELIMITER ';')"]


@pytest.fixture(scope="module")
def both(pgmkts_server):
    pg = PgOracle().start()
    try:
        for dsn in (pgmkts_server.dsn, pg.dsn):
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute(CREATE)
                c.execute(FILL)
        yield pgmkts_server, pg
    finally:
        pg.stop()


def _copy(conn: psycopg.Connection, sql: str) -> bytes:
    with conn.cursor() as cur, cur.copy(sql) as cp:
        return b"".join(bytes(chunk) for chunk in cp)


def _both(conns, sql: str) -> tuple[bytes, bytes]:
    return _copy(conns[0], sql), _copy(conns[1], sql)


def _repeats(conns, sql: str, times: int) -> bytes:
    """`sql` run `times` over on both servers (the first runs warm the plan and the held
    bytes): every answer must be PostgreSQL's. Returns it."""
    for _ in range(times):
        got, want = _both(conns, sql)
        assert got == want
    return got


def _on_both(both, sql: str) -> None:
    """`sql` committed by another session of each server."""
    for srv in both:
        with psycopg.connect(srv.dsn, autocommit=True) as w:
            w.execute(sql)


@pytest.fixture
def conns(both):
    srv, pg = both
    with psycopg.connect(srv.dsn, autocommit=True) as a, psycopg.connect(pg.dsn, autocommit=True) as b:
        for c in (a, b):
            c.execute("SET TimeZone = 'UTC'")
        yield a, b


def test_repeats_are_postgresqls_bytes_in_every_format(conns):
    # formats interleaved on one connection: held bytes are kept apart by format and options
    for _ in range(3):
        for fmt in FORMATS:
            got, want = _both(conns, f"COPY ({LAST}) TO STDOUT {fmt}")
            assert got == want, fmt
            assert got


def test_repeats_see_writes_and_deletes(both, conns):
    sql = f"COPY ({LAST}) TO STDOUT (FORMAT binary)"
    before = _repeats(conns, sql, 3)
    _on_both(both, f"INSERT INTO {TBK} VALUES ('2030-01-01 00:00:00+00', 1, 2, 0.5, 1.5, 4242)")
    got, want = _both(conns, sql)
    assert got == want and got != before
    _on_both(both, f"DELETE FROM {TBK} WHERE epoch >= '2030-01-01'")
    assert _repeats(conns, sql, 1) == before


def test_timezone_is_part_of_the_held_text(conns):
    sql = f"COPY ({LAST}) TO STDOUT"
    utc = _copy(conns[0], sql)
    for c in conns:
        c.execute("SET TimeZone = 'America/New_York'")
    got, want = _both(conns, sql)
    assert got == want and got != utc


def test_copy_inside_a_transaction_sees_its_own_write(both, conns):
    sql = f"COPY ({LAST}) TO STDOUT (FORMAT csv)"
    want = _repeats(conns, sql, 2)
    with psycopg.connect(both[0].dsn) as t:
        t.execute(f"INSERT INTO {TBK} VALUES ('2031-01-01 00:00:00+00', 1, 2, 0.5, 1.5, 77)")
        mine = _copy(t, sql)
        assert mine.splitlines()[0].endswith(b",77")
        assert _copy(conns[0], sql) == want   # not committed: others still see the old rows
        t.rollback()
    assert _copy(conns[0], sql) == want


def test_adbc_repeats_follow_writes(both):
    srv, _pg = both
    uri = f"postgresql://pgmkts@127.0.0.1:{srv.port}/pgmkts"
    with adbc.connect(uri, autocommit=True) as conn:
        def last_volumes() -> list[int]:
            with conn.cursor() as cur:
                cur.execute(LAST)
                return cur.fetch_arrow_table().column("volume").to_pylist()

        for _ in range(4):
            assert last_volumes() == [9990, 9980, 9970, 9960, 9950]
        with psycopg.connect(srv.dsn, autocommit=True) as w:
            w.execute(f"INSERT INTO {TBK} VALUES ('2032-01-01 00:00:00+00', 1, 2, 0.5, 1.5, 55)")
        assert last_volumes() == [55, 9990, 9980, 9970, 9960]
        with psycopg.connect(srv.dsn, autocommit=True) as w:
            w.execute(f"DELETE FROM {TBK} WHERE epoch >= '2032-01-01'")
        assert last_volumes() == [9990, 9980, 9970, 9960, 9950]


def test_a_failing_copy_query_is_an_error_before_copy_out(conns):
    with pytest.raises(psycopg.errors.UndefinedTable):
        _copy(conns[0], 'COPY (SELECT * FROM "NOPE/1Min/OHLCV" ORDER BY epoch DESC LIMIT 5) TO STDOUT')
    assert _copy(conns[0], f"COPY ({LAST}) TO STDOUT") == _copy(conns[1], f"COPY ({LAST}) TO STDOUT")
