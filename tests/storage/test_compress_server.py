"""The real server with storage_compression: zstd: bars written through pymarketstore are
compacted at shutdown, read back identically after a restart (SQL and RPC), and a late bar
written through SQL into the compressed year lands."""

from __future__ import annotations

import signal

import numpy as np
import psycopg
import pymarketstore as pymkts

from pgmkts.storage.compress import ZMAGIC
from tests.support.server import start_server

T0 = 1704067200  # 2024-01-01: a past year, so it is compacted
N = 5000


def _bars() -> np.ndarray:
    rng = np.random.default_rng(3)
    a = np.empty(N, [("Epoch", "<i8"), ("Open", "<f4"), ("Close", "<f4"), ("Volume", "<f8")])
    a["Epoch"] = T0 + 60 * np.arange(N) * 2  # every other minute: gaps in the presence bitmap
    a["Open"] = (100 * np.exp(np.cumsum(rng.normal(0, 6e-4, N)))).astype(np.float32)
    a["Close"] = a["Open"] * np.float32(1.001)
    a["Volume"] = np.round(rng.lognormal(6, 1, N))
    a["Volume"][7] = np.nan
    return a


def _rpc_read(srv) -> dict:
    df = pymkts.Client(srv.rpc_url).query(pymkts.Params("ZZ", "1Min", "OHLCV")).first().df()
    return {c: df[c].to_numpy() for c in ("Open", "Close", "Volume")}


def test_server_compacts_and_reads_back(tmp_path):
    cfg = tmp_path / "mkts.yml"
    cfg.write_text("storage_compression: zstd\n")
    bars = _bars()
    path = tmp_path / "data" / "ZZ" / "1Min" / "OHLCV" / "2024.bin"
    srv = start_server(tmp_path / "data", config=cfg)
    try:
        pymkts.Client(srv.rpc_url).write(bars, "ZZ/1Min/OHLCV")
        with psycopg.connect(srv.dsn, autocommit=True) as c:
            sql_before = c.execute('SELECT epoch, open, close, volume FROM "ZZ/1Min/OHLCV" ORDER BY epoch').fetchall()
        rpc_before = _rpc_read(srv)
        assert path.read_bytes()[:8] != ZMAGIC
        assert srv.stop(signal.SIGTERM) == 0, "".join(srv.output)
        assert path.read_bytes()[:8] == ZMAGIC  # compacted at shutdown
        assert path.stat().st_size < N * 16

        srv.start()
        rpc_after = _rpc_read(srv)
        for c in rpc_before:
            assert rpc_after[c].tobytes() == rpc_before[c].tobytes(), c
        with psycopg.connect(srv.dsn, autocommit=True) as c:
            sql_after = c.execute('SELECT epoch, open, close, volume FROM "ZZ/1Min/OHLCV" ORDER BY epoch').fetchall()
            assert repr(sql_after) == repr(sql_before)  # repr: NaN compares unequal to itself
            last = c.execute('SELECT epoch FROM "ZZ/1Min/OHLCV" ORDER BY epoch DESC LIMIT 3').fetchall()
            assert last == [r[:1] for r in sql_before[-1:-4:-1]] and len(last) == 3
            c.execute(f'INSERT INTO "ZZ/1Min/OHLCV" (epoch, open, close, volume) '
                      f"VALUES (to_timestamp({T0 + 60}), 1.5, 2.5, 3)")  # a late bar in a gap
            assert path.read_bytes()[:8] != ZMAGIC  # inflated for the write
            rows = c.execute('SELECT open, close, volume FROM "ZZ/1Min/OHLCV" ORDER BY epoch LIMIT 3').fetchall()
            assert rows[1] == (1.5, 2.5, 3.0)
            assert c.execute('SELECT count(*) FROM "ZZ/1Min/OHLCV"').fetchone() == (N + 1,)
        assert srv.stop(signal.SIGTERM) == 0
        assert path.read_bytes()[:8] == ZMAGIC
        srv.start()
        with psycopg.connect(srv.dsn, autocommit=True) as c:
            assert c.execute('SELECT count(*) FROM "ZZ/1Min/OHLCV"').fetchone() == (N + 1,)
    finally:
        srv.stop()
