"""Acknowledged writes survive `kill -9` of the real server (SPEC §7), via RPC and via SQL."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import psycopg
import pymarketstore as pymkts
import pytest

from tests.support.server import ServerProcess, free_port

BASE = 1_700_000_000 - 1_700_000_000 % 86400  # a UTC midnight


def _bars(batch: int, n: int = 50) -> np.ndarray:
    """Batch `batch` owns minutes [batch*n, batch*n+n); Open carries the batch id."""
    arr = np.zeros(n, dtype=[("Epoch", "i8"), ("Open", "f4"), ("Volume", "f8")])
    arr["Epoch"] = BASE + (batch * n + np.arange(n)) * 60
    arr["Open"] = batch
    arr["Volume"] = np.arange(n)
    return arr


def _ticks(batch: int, n: int = 20) -> np.ndarray:
    arr = np.zeros(n, dtype=[("Epoch", "i8"), ("Price", "f8"), ("Nanoseconds", "i4")])
    arr["Epoch"] = BASE + batch  # all ticks of a batch share one second
    arr["Price"] = batch
    arr["Nanoseconds"] = np.arange(n) * 1000 + 7
    return arr


def _writer(url: str, acked: list[int], stop: threading.Event) -> None:
    cli = pymkts.Client(url)
    b = 0
    while not stop.is_set():
        try:
            r1 = cli.write(_bars(b), "KILL/1Min/OHLCV")
            r2 = cli.write(_ticks(b), "KILL/1Sec/TICK", isvariablelength=True)
        except Exception:
            return  # the server died mid-request: this batch is not acknowledged
        if (r1 or {}).get("responses") or (r2 or {}).get("responses"):
            raise AssertionError(f"write error: {r1} {r2}")
        acked.append(b)
        b += 1


@pytest.mark.parametrize("round_", range(3))
def test_rpc_writes_survive_kill9(tmp_path, round_):
    rng = random.Random(round_)
    srv = ServerProcess(root=tmp_path / "data", port=free_port(), rpc_port=free_port()).start()
    acked: list[int] = []
    stop = threading.Event()
    t = threading.Thread(target=_writer, args=(srv.rpc_url, acked, stop), daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    target = rng.randint(3, 40)
    while len(acked) < target and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.01)
    srv.kill9()
    stop.set()
    t.join(10)
    assert acked, "the writer never got an acknowledgement"

    srv.start()
    try:
        cli = pymkts.Client(srv.rpc_url)
        bars = cli.query(pymkts.Params("KILL", "1Min", "OHLCV")).first().array
        ticks = cli.query(pymkts.Params("KILL", "1Sec", "TICK")).first().array
    finally:
        srv.stop()
    got = set(np.unique(bars["Open"]).astype(int))
    assert set(acked) <= got, f"acknowledged batches lost: {sorted(set(acked) - got)}"
    # No batch is half applied: every batch present has all its rows, each exactly once.
    counts = np.bincount(bars["Open"].astype(int))
    assert all(counts[b] == 50 for b in got)
    tcounts = np.bincount(ticks["Price"].astype(int))
    assert set(acked) <= set(np.flatnonzero(tcounts))
    assert all(c in (0, 20) for c in tcounts), "a tick batch is partial or duplicated after replay"


def test_sql_commits_survive_kill9(tmp_path):
    srv = ServerProcess(root=tmp_path / "data", port=free_port(), rpc_port=free_port()).start()
    acked: list[int] = []
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        conn.execute('CREATE TABLE "SQLK/1Min/OHLCV" (epoch timestamptz, open real, volume double precision)')
        for b in range(30):
            values = ",".join(f"(to_timestamp({BASE + (b * 5 + i) * 60}), {b}, {i})" for i in range(5))
            conn.execute(f'INSERT INTO "SQLK/1Min/OHLCV" (epoch, open, volume) VALUES {values}')
            acked.append(b)
        with conn.transaction():
            conn.execute(f'INSERT INTO "SQLK/1Min/OHLCV" (epoch, open, volume) VALUES '
                         f'(to_timestamp({BASE + 10_000 * 60}), 999, 1)')
    srv.kill9()
    srv.start()
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as conn:
            rows = conn.execute('SELECT open, count(*) FROM "SQLK/1Min/OHLCV" GROUP BY open '
                                'ORDER BY open').fetchall()
    finally:
        srv.stop()
    assert rows == [(float(b), 5) for b in acked] + [(999.0, 1)]


def _insert_writer(dsn: str, sym: str, acked: list[int], stop: threading.Event) -> None:
    """One-row parametrised INSERTs (the event-loop path with a deferred commit, or its
    worker-thread fallback when another commit is in flight); row i has open = i."""
    import datetime as dt
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception:
        return
    i = 0
    while not stop.is_set():
        try:
            conn.execute(f'INSERT INTO "{sym}/1Min/OHLCV" (epoch, open, volume) VALUES (%s, %s, %s)',
                         (dt.datetime.fromtimestamp(BASE + 60 * i, dt.UTC), float(i), 1.0))
        except Exception:
            return  # killed mid-statement: not acknowledged
        acked.append(i)
        i += 1


@pytest.mark.parametrize("round_", range(3))
def test_one_row_appends_survive_kill9(tmp_path, round_):
    rng = random.Random(100 + round_)
    srv = ServerProcess(root=tmp_path / "data", port=free_port(), rpc_port=free_port()).start()
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        for k in range(3):
            conn.execute(f'CREATE TABLE "ONE{k}/1Min/OHLCV" (epoch timestamptz, open real, volume double precision)')
    acked: list[list[int]] = [[], [], []]
    rpc_acked: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_insert_writer, args=(srv.dsn, f"ONE{k}", acked[k], stop), daemon=True)
               for k in range(3)]
    threads.append(threading.Thread(target=_writer, args=(srv.rpc_url, rpc_acked, stop), daemon=True))
    for t in threads:
        t.start()
    target = rng.randint(20, 200)
    deadline = time.monotonic() + 30
    while sum(map(len, acked)) < target and time.monotonic() < deadline:
        time.sleep(0.005)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert all(acked), "a writer never got an acknowledgement"

    srv.start()
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as conn:
            got = [sorted(int(r[0]) for r in conn.execute(f'SELECT open FROM "ONE{k}/1Min/OHLCV"'))
                   for k in range(3)]
        bars = pymkts.Client(srv.rpc_url).query(pymkts.Params("KILL", "1Min", "OHLCV")).first().array
    finally:
        srv.stop()
    for k in range(3):
        # every acknowledged row is there, and nothing but a prefix of what was sent
        assert set(acked[k]) <= set(got[k]), f"ONE{k}: lost {sorted(set(acked[k]) - set(got[k]))}"
        assert got[k] == list(range(len(got[k])))
    assert set(rpc_acked) <= set(np.unique(bars["Open"]).astype(int))
