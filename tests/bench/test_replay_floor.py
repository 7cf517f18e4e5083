"""The client-floor proxy (bench/replay.py): after one recorded call, the three PostgreSQL clients get
the same DataFrame from the proxy alone, without the server seeing another query."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest

from bench.data import START, make_bars
from bench.pgclients import AdbcRunner, AsyncpgRunner, PsycopgRunner
from bench.pgcopy import HEADER, TRAILER, bars_copy_body
from bench.replay import FloorRunner, ReplayProxy
from bench.sql import PgmktsDialect
from bench.sys_pgmkts import GROUP_DDL

ROWS = 3000


@pytest.fixture()
def loaded(fresh_server):
    srv = fresh_server()
    with psycopg.connect(srv.dsn, autocommit=True) as c:
        c.execute(GROUP_DDL)
        with c.cursor().copy("COPY ohlcv_1min FROM STDIN (FORMAT binary)") as cp:
            cp.write(HEADER + bars_copy_body("S000", make_bars("S000", ROWS)) + TRAILER)
    return srv


@pytest.mark.parametrize("cls", [PsycopgRunner, AsyncpgRunner, AdbcRunner])
def test_floor_replays_the_recorded_answer(loaded, cls) -> None:
    srv = loaded
    proxy = ReplayProxy(("127.0.0.1", srv.port))
    target = (f"postgresql://pgmkts@127.0.0.1:{proxy.port}/pgmkts" if cls is AdbcRunner
              else srv.dsn.replace(f"port={srv.port}", f"port={proxy.port}"))
    floor = FloorRunner(cls("pgmkts", target, PgmktsDialect()), proxy)
    direct = cls("pgmkts", f"postgresql://pgmkts@127.0.0.1:{srv.port}/pgmkts" if cls is AdbcRunner else srv.dsn,
                 PgmktsDialect())
    try:
        args = ("S000", START, START + 60 * ROWS)
        with pytest.raises(RuntimeError, match="not recorded"):
            floor.range_df(*args)
        floor.prime("range_df", *args)
        expected = direct.range_df(*args)
        assert len(expected) == ROWS
        forwarded = proxy.forwarded
        for _ in range(3):
            got = floor.range_df(*args)
            pd.testing.assert_frame_equal(got, expected)
        assert proxy.forwarded == forwarded, "a replayed call reached the server"
        floor.prime("last_n", "S000", 10)
        got = floor.last_n("S000", 10)
        assert np.array_equal(got["open"].to_numpy(), direct.last_n("S000", 10)["open"].to_numpy())
    finally:
        floor.close()
        direct.close()


def test_http_floor_replays_pymarketstore(loaded) -> None:
    """pymarketstore through the HTTP replay proxy: the same DataFrame, and no second request
    reaches the server once a query is recorded."""
    from bench.replay_http import HttpFloorRunner, HttpReplayProxy
    from bench.sys_pgmkts import PymarketstoreRunner

    srv = loaded
    proxy = HttpReplayProxy(("127.0.0.1", srv.rpc_port))
    floor = HttpFloorRunner(PymarketstoreRunner(f"http://127.0.0.1:{proxy.port}/rpc", ["S000"]), proxy)
    direct = PymarketstoreRunner(srv.rpc_url, ["S000"])
    try:
        args = ("S000", START, START + 60 * ROWS)
        with pytest.raises(RuntimeError, match="not recorded"):
            floor.range_df(*args)
        floor.prime("range_df", *args)
        forwarded = proxy.forwarded
        assert forwarded == 1
        expected = direct.range_df(*args)
        assert len(expected) == ROWS
        for _ in range(3):
            pd.testing.assert_frame_equal(floor.range_df(*args), expected)
        assert proxy.forwarded == forwarded, "a replayed call reached the server"
        floor.prime("last_n", "S000", 10)
        assert proxy.forwarded == forwarded + 1
        pd.testing.assert_frame_equal(floor.last_n("S000", 10), direct.last_n("S000", 10))
    finally:
        floor.close()
        direct.close()
