"""Durable one-row appends run on the event loop (storage/asyncwrite.py) through the real server:
psycopg's parametrised INSERT and pymarketstore's Write are acknowledged after their commit,
visible to the next read (late bars and overwrites too), fall back to a worker thread when they
would block (concurrent writers), and keep the general path's errors."""

from __future__ import annotations

import datetime as dt
import re
import threading
import urllib.request

import numpy as np
import psycopg
import pymarketstore as pymkts
import pytest

BASE = 1_700_000_000 - 1_700_000_000 % 86400
INS = "INSERT INTO ohlcv_1min (symbol, epoch, open, high, low, close, volume) VALUES (%s, %s, %s, %s, %s, %s, %s)"
BAR = np.dtype([("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4"),
                ("Volume", "f8")])


def _deferred(srv) -> int:
    """The engine's deferred-commit counter, from /metrics."""
    url = srv.rpc_url.replace("/rpc", "/metrics")
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    m = re.search(r"^pgmkts_engine_deferred_commits(?:_total)?\s+([0-9.e+]+)$", text, re.M)
    assert m, "no deferred-commit counter in /metrics"
    return int(float(m.group(1)))


def _bar(i: int, v: float) -> np.ndarray:
    a = np.zeros(1, BAR)
    a["Epoch"] = BASE + 60 * i
    a["Open"] = a["High"] = a["Low"] = a["Close"] = v
    a["Volume"] = v
    return a


def _ts(i: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(BASE + 60 * i, dt.UTC)


@pytest.fixture
def srv(fresh_server):
    s = fresh_server()
    r = pymkts.Client(s.rpc_url).write(_bar(0, 0.0), "INL/1Min/OHLCV")
    assert not (r or {}).get("responses"), r
    return s


def test_psycopg_inserts_are_deferred_and_read_back(srv):
    before = _deferred(srv)
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        for i in range(1, 21):  # past psycopg's prepare threshold: unnamed, then named statements
            conn.execute(INS, ("INL", _ts(i), float(i), float(i), float(i), float(i), float(i)))
            # read-your-writes: the acknowledgement comes after the rows are published
            got = conn.execute("SELECT max(open) FROM ohlcv_1min WHERE symbol = 'INL'").fetchone()[0]
            assert got == float(i)
    assert _deferred(srv) - before >= 20


def test_psycopg_overwrite_and_errors(srv):
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        conn.execute(INS, ("INL", _ts(5), 5.0, 5.0, 5.0, 5.0, 5.0))
        conn.execute(INS, ("INL", _ts(5), 7.0, 7.0, 7.0, 7.0, 7.0))  # last write wins
        rows = conn.execute("SELECT epoch, open FROM ohlcv_1min WHERE symbol = 'INL' ORDER BY epoch").fetchall()
        assert [r[1] for r in rows] == [0.0, 7.0]
        with pytest.raises(psycopg.errors.UndefinedColumn):
            conn.execute('INSERT INTO "INL/1Min/OHLCV" (epoch, nope) VALUES (%s, %s)', (_ts(6), 1.0))
        with pytest.raises(psycopg.errors.DatetimeFieldOverflow):
            conn.execute(INS, ("INL", dt.datetime(2300, 1, 1, tzinfo=dt.UTC), 1.0, 1.0, 1.0, 1.0, 1.0))
        with conn.transaction():  # inside BEGIN the write is buffered until COMMIT
            conn.execute(INS, ("INL", _ts(8), 8.0, 8.0, 8.0, 8.0, 8.0))
        assert conn.execute("SELECT count(*) FROM ohlcv_1min WHERE symbol = 'INL'").fetchone()[0] == 3


def test_pymarketstore_writes_are_deferred_and_read_back(srv):
    before = _deferred(srv)
    cli = pymkts.Client(srv.rpc_url)
    for i in range(1, 11):
        r = cli.write(_bar(i, float(i)), "INL/1Min/OHLCV")
        assert not (r or {}).get("responses"), r
        assert cli.query(pymkts.Params("INL", "1Min", "OHLCV", limit=1)).first().array["Open"][0] == i
    assert _deferred(srv) - before >= 10
    bad = cli.write(np.zeros(1, [("Epoch", "i8"), ("Nope", "f4")]), "INL/1Min/OHLCV")
    assert "unable to match data columns" in bad["responses"][0]["error"]


def test_concurrent_writers_all_land(srv):
    """Writers on several connections: a deferral that meets a commit in flight falls back to a
    worker thread (group commit); every acknowledged row is there, once."""
    n, errors_ = 60, []

    def sql_writer(sym: str) -> None:
        try:
            with psycopg.connect(srv.dsn, autocommit=True) as conn:
                for i in range(n):
                    conn.execute(INS, (sym, _ts(i + 1), float(i), 1.0, 1.0, 1.0, 1.0))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors_.append(exc)

    def rpc_writer(sym: str) -> None:
        try:
            cli = pymkts.Client(srv.rpc_url)
            for i in range(n):
                r = cli.write(_bar(i + 1, float(i)), f"{sym}/1Min/OHLCV")
                assert not (r or {}).get("responses"), r
        except Exception as exc:  # noqa: BLE001
            errors_.append(exc)

    threads = [threading.Thread(target=sql_writer, args=(f"C{k}",)) for k in range(3)]
    threads += [threading.Thread(target=rpc_writer, args=(f"R{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors_, errors_
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        counts = dict(conn.execute("SELECT symbol, count(*) FROM ohlcv_1min GROUP BY symbol").fetchall())
    assert all(counts[s] == n for s in ("C0", "C1", "C2")), counts
    assert all(counts[s] == n for s in ("R0", "R1")), counts
