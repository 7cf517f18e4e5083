"""`SELECT DISTINCT ON (symbol) … ORDER BY symbol, epoch DESC` over a group table as a cacheable
FastResult (Session._latest_per_symbol): the same rows as PostgreSQL, first run and cached runs
alike, and the wire's cached rows retired by every write, delete, new bucket and dropped bucket."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import numpy as np
import psycopg
import pytest

from pgmkts.planner.session import FastResult, Session

LATEST = "SELECT DISTINCT ON (symbol) * FROM ohlcv_1min ORDER BY symbol, epoch DESC"
COLS = "SELECT DISTINCT ON (symbol) symbol, epoch, close FROM ohlcv_1min ORDER BY symbol, epoch DESC"


def lazy_rows(s: Session, sql: str) -> tuple[bool, list[tuple]]:
    res = list(s.execute(sql))[-1]
    if isinstance(res, FastResult) and res.rows is not None:
        batches = [res.rows()]
    else:
        batches = list(res.batches or ())
    out: list[tuple] = []
    for b in batches:
        out.extend(zip(*[c.to_pylist() for c in b.columns], strict=True))
    return isinstance(res, FastResult), out


def f4(rows: list[tuple]) -> list[tuple]:
    """real columns compared as float32 (PostgreSQL's text form is float4's shortest digits)."""
    return [tuple(float(np.float32(v)) if isinstance(v, float) else v for v in r) for r in rows]


@pytest.mark.parametrize("sql", [LATEST, COLS])
def test_same_rows_as_postgresql_first_and_cached(engine, oracle, sql):
    s = Session(engine)
    s.lazy_fast = True
    with oracle.connect() as conn:
        want = conn.execute(sql).fetchall()
    first_fast, first = lazy_rows(s, sql)
    again_fast, again = lazy_rows(s, sql)
    assert not first_fast and again_fast, "the second run should be the cacheable FastResult"
    assert f4(first) == f4(want)
    assert f4(again) == f4(want)
    assert len(want) == 4


def test_not_taken_with_a_where_clause(engine):
    s = Session(engine)
    s.lazy_fast = True
    lazy_rows(s, LATEST)
    fast, _ = lazy_rows(s, LATEST.replace("ORDER BY", "WHERE close > 0 ORDER BY"))
    assert not fast


def test_runs_lazily_only_once_the_plan_is_known(engine):
    """The wire runs the statement on its event loop only when the run just builds the lazy
    FastResult: not before the first run, not for other statements, not for embedded sessions."""
    s = Session(engine)
    s.lazy_fast = True
    sql = LATEST.replace("SELECT", "SELECT /* lazily */")   # a text no other test has planned
    assert not s.runs_lazily(sql)
    lazy_rows(s, sql)
    assert s.runs_lazily(sql)
    assert not s.runs_lazily(sql.replace("ORDER BY", "WHERE close > 0 ORDER BY"))
    embedded = Session(engine)
    assert not embedded.runs_lazily(sql)


GROUP_DDL = "CREATE TABLE lc_1min (symbol text, epoch timestamptz, close real)"
Q = "SELECT DISTINCT ON (symbol) * FROM lc_1min ORDER BY symbol, epoch DESC"
T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


def test_wire_cache_retired_by_every_change(fresh_server):
    srv = fresh_server()
    conn = psycopg.connect(srv.dsn, autocommit=True)
    conn.execute(GROUP_DDL)
    ins = "INSERT INTO lc_1min (symbol, epoch, close) VALUES (%s, %s, %s)"
    for sym, m, c in [("A", 0, 1.0), ("A", 1, 2.0), ("B", 0, 10.0)]:
        conn.execute(ins, (sym, at(m), c))

    def all_clients() -> list[list[tuple]]:
        out = []
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                cur.execute(Q)
                out.append([tuple(r) for r in cur.fetchall()])

        async def viaasyncpg():
            a = await asyncpg.connect(host="127.0.0.1", port=srv.port, user="pgmkts", database="pgmkts")
            try:
                stmt = await a.prepare(Q)
                return [tuple(r) for r in await stmt.fetch()]
            finally:
                await a.close()
        out.append(asyncio.run(viaasyncpg()))
        return out

    def expect(rows: list[tuple]) -> None:
        for _ in range(3):     # first run, then cached answers
            for got in all_clients():
                assert got == rows

    expect([("A", at(1), 2.0), ("B", at(0), 10.0)])
    conn.execute(ins, ("A", at(5), 3.0))                       # a newer bar
    expect([("A", at(5), 3.0), ("B", at(0), 10.0)])
    conn.execute(ins, ("A", at(5), 4.0))                       # the same slot rewritten
    expect([("A", at(5), 4.0), ("B", at(0), 10.0)])
    conn.execute(ins, ("C", at(2), 7.0))                       # a new bucket in the group
    expect([("A", at(5), 4.0), ("B", at(0), 10.0), ("C", at(2), 7.0)])
    conn.execute(ins, ("A", at(9), 5.0))
    conn.execute("DELETE FROM lc_1min WHERE symbol = 'A' AND epoch >= %s", (at(9),))
    expect([("A", at(5), 4.0), ("B", at(0), 10.0), ("C", at(2), 7.0)])
    conn.execute('DROP TABLE "B/1Min/LC"')                     # a bucket destroyed
    expect([("A", at(5), 4.0), ("C", at(2), 7.0)])
    conn.close()
