"""asyncpg against the real server: fetch, prepare, cursors, COPY both ways, executemany, listeners."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import asyncpg
import pytest

UTC = dt.UTC
TBK = "ASYNCPG/1Min/OHLCV"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def connect(srv):
    return await asyncpg.connect(host="127.0.0.1", port=srv.port, user="pgmkts", database="pgmkts")


@pytest.fixture(scope="module")
def srv(pgmkts_server):
    async def setup():
        c = await connect(pgmkts_server)
        await c.execute(f'CREATE TABLE "{TBK}" (epoch timestamptz, open real, high real, low real, close real, '
                        "volume bigint)")
        t0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
        recs = [(t0 + dt.timedelta(minutes=i), i + 0.5, i + 1.0, i - 1.0, i + 0.25, i) for i in range(500)]
        res = await c.copy_records_to_table(TBK, records=recs,
                                            columns=["epoch", "open", "high", "low", "close", "volume"])
        assert res == "COPY 500"
        await c.close()

    run(setup())
    return pgmkts_server


def test_fetch_and_types(srv):
    async def go():
        c = await connect(srv)
        rows = await c.fetch(f'SELECT epoch, open, volume FROM "{TBK}" ORDER BY epoch LIMIT 3')
        assert rows[1]["epoch"] == dt.datetime(2024, 1, 1, 0, 1, tzinfo=UTC)
        assert rows[1]["open"] == 1.5 and rows[1]["volume"] == 1
        assert await c.fetchval("SELECT $1::text", "héllo") == "héllo"
        assert await c.fetchval(f'SELECT max(volume) FROM "{TBK}" WHERE volume < $1', 100) == 99
        await c.close()

    run(go())


def test_param_type_from_cast(srv):
    """asyncpg encodes arguments by the types Describe reports: $1::int8 must be described int8."""
    async def go():
        c = await connect(srv)
        try:
            assert await c.fetchval("SELECT $1::int8 + 1", 41) == 42
        finally:
            await c.close()

    run(go())


def test_prepare_and_cursor(srv):
    async def go():
        c = await connect(srv)
        st = await c.prepare(f'SELECT volume FROM "{TBK}" WHERE volume >= $1 ORDER BY epoch')
        assert [r[0] for r in await st.fetch(495)] == [495, 496, 497, 498, 499]
        assert st.get_parameters()[0].name == "int8"
        async with c.transaction():
            cur = await c.cursor(f'SELECT volume FROM "{TBK}" ORDER BY epoch')
            first = await cur.fetch(100)
            second = await cur.fetch(100)
        assert [r[0] for r in first] == list(range(100)) and [r[0] for r in second] == list(range(100, 200))
        async with c.transaction():
            seen = [r[0] async for r in c.cursor(f'SELECT volume FROM "{TBK}" ORDER BY epoch', prefetch=64)]
        assert seen == list(range(500))
        await c.close()

    run(go())


def test_copy_from_query_and_executemany(srv):
    async def go():
        c = await connect(srv)
        buf = io.BytesIO()
        res = await c.copy_from_query(f'SELECT epoch, volume FROM "{TBK}" ORDER BY epoch LIMIT 3', output=buf,
                                      format="csv")
        assert res == "COPY 3"
        assert buf.getvalue().decode().splitlines()[2] == "2024-01-01 00:02:00+00,2"
        await c.executemany(f'INSERT INTO "{TBK}" (epoch, open, high, low, close, volume) VALUES ($1, $2, $3, $4, $5, $6)',
                            [(dt.datetime(2025, 1, 1, 0, i, tzinfo=UTC), 1.0, 2.0, 0.5, 1.5, 1000 + i)
                             for i in range(5)])
        assert await c.fetchval(f'SELECT count(*) FROM "{TBK}" WHERE volume >= 1000') == 5
        await c.close()

    run(go())


def test_listener(srv):
    async def go():
        listener, writer = await connect(srv), await connect(srv)
        got: asyncio.Queue = asyncio.Queue()
        await listener.add_listener(TBK, lambda conn, pid, chan, payload: got.put_nowait((chan, payload)))
        await writer.execute(f'INSERT INTO "{TBK}" (epoch, open, high, low, close, volume) '
                             "VALUES ('2026-01-01 00:00:00+00', 1, 2, 0.5, 1.5, 4242)")
        chan, payload = await asyncio.wait_for(got.get(), 10)
        assert chan == TBK and '"volume":4242' in payload
        await listener.close()
        await writer.close()

    run(go())


def test_params_without_spaces(srv):
    async def go():
        c = await connect(srv)
        try:
            assert await c.fetchval("SELECT $1::int8 + $2::int8", 40, 2) == 42
            assert await c.fetchrow("SELECT $1::int8,$2::int8", 1, 2) == (1, 2)
            assert await c.fetchval("SELECT '$1,$2' || $1::text", "x") == "$1,$2x"
        finally:
            await c.close()

    run(go())
