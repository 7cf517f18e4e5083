"""Planner fixtures: an embedded Engine + Session loaded with synthetic bars, and the same rows in
a real PostgreSQL 15 (tests/support/pg_oracle.py) for differential testing."""

from __future__ import annotations

import io

import numpy as np
import pytest

from pgmkts.planner.session import Session
from pgmkts.storage import Engine

SYMBOLS = ["AAPL", "MSFT", "TSLA", "SPY"]
START = 1704153600  # 2024-01-02 00:00:00 UTC


def make_bars(seed: int = 7) -> dict[str, dict[str, np.ndarray]]:
    """Three days of 1-minute bars per symbol with random holes and one multi-hour gap."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, sym in enumerate(SYMBOLS):
        minutes = np.arange(3 * 24 * 60)
        keep = rng.random(len(minutes)) > 0.1
        keep &= ~((minutes > 600 + 60 * k) & (minutes < 900 + 60 * k))   # a gap, shifted per symbol
        m = minutes[keep]
        epoch = START + m * 60
        close = (100 + 10 * k + np.cumsum(rng.normal(0, 0.2, len(m)))).astype(np.float32)
        openp = (close + rng.normal(0, 0.1, len(m))).astype(np.float32)
        high = (np.maximum(openp, close) + np.abs(rng.normal(0, 0.1, len(m)))).astype(np.float32)
        low = (np.minimum(openp, close) - np.abs(rng.normal(0, 0.1, len(m)))).astype(np.float32)
        vol = rng.integers(0, 10000, len(m)).astype(np.int64)
        out[sym] = {"Epoch": epoch.astype(np.int64), "Open": openp, "High": high, "Low": low,
                    "Close": close, "Volume": vol}
    return out


@pytest.fixture(scope="session")
def bars():
    return make_bars()


@pytest.fixture(scope="session")
def engine(tmp_path_factory, bars):
    root = tmp_path_factory.mktemp("planner-data")
    eng = Engine(root)
    eng.write_many([(f"{s}/1Min/OHLCV", d, False) for s, d in bars.items()])
    yield eng
    eng.close()


@pytest.fixture
def session(engine):
    return Session(engine)


def run(session: Session, sql: str, params=None):
    """Execute one statement; returns (fields, rows as tuples)."""
    if params is not None:
        prep = session.prepare(sql, [0] * len(params))
        res = session.run(session.bind(prep, params))
    else:
        res = list(session.execute(sql))[-1]
    rows = []
    for b in res.batches:
        cols = [c.to_pylist() for c in b.columns]
        rows.extend(zip(*cols, strict=True))
    return res.fields, rows


@pytest.fixture(scope="session")
def oracle(bars):
    from tests.support.pg_oracle import PgOracle
    pg = PgOracle().start()
    with pg.connect() as conn:
        cols = "epoch timestamptz, open real, high real, low real, close real, volume bigint"
        conn.execute(f"CREATE TABLE ohlcv_1min (symbol text, {cols})")
        for sym, d in bars.items():
            conn.execute(f'CREATE TABLE "{sym}/1Min/OHLCV" ({cols})')
            buf = io.StringIO()
            for e, o, h, lo, c, v in zip(d["Epoch"], d["Open"], d["High"], d["Low"], d["Close"],
                                        d["Volume"], strict=True):
                buf.write(f"{int(e)}\t{float(o)!r}\t{float(h)!r}\t{float(lo)!r}\t{float(c)!r}\t{int(v)}\n")
            data = buf.getvalue()
            with conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE load (e bigint, open real, high real, low real, close real, "
                            "volume bigint)")
                with cur.copy("COPY load FROM STDIN") as cp:
                    cp.write(data)
                cur.execute(f'INSERT INTO "{sym}/1Min/OHLCV" SELECT to_timestamp(e), open, high, low, '
                            "close, volume FROM load")
                cur.execute(f"INSERT INTO ohlcv_1min SELECT '{sym}', to_timestamp(e), open, high, low, "
                            "close, volume FROM load")
                cur.execute("DROP TABLE load")
        conn.execute("ANALYZE")
    yield pg
    pg.stop()
