"""Deterministic synthetic market data: 1-minute OHLCV bars and ticks, cached as .npy in bench/.data/."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / ".data"
START = 1704067200            # 2024-01-01T00:00:00Z
ROWS_PER_YEAR = 525_600       # 365 days of 1-minute bars
BAR_DTYPE = np.dtype([("Epoch", "<i8"), ("Open", "<f4"), ("High", "<f4"), ("Low", "<f4"),
                      ("Close", "<f4"), ("Volume", "<f8")])
TICK_DTYPE = np.dtype([("Epoch", "<i8"), ("Price", "<f4"), ("Size", "<i4"), ("Nanoseconds", "<i4")])
TICK_RATE = 5.0               # mean ticks per second
VERSION = 1                   # bump when the generator changes (invalidates the cache)


def symbol_names(n: int, prefix: str = "S") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def _seed(symbol: str, kind: str) -> int:
    return zlib.crc32(f"{kind}:{symbol}:{VERSION}".encode())


def make_bars(symbol: str, rows: int = ROWS_PER_YEAR) -> np.ndarray:
    """A geometric random walk of 1-minute bars from START, one per minute, no gaps."""
    rng = np.random.default_rng(_seed(symbol, "bars"))
    p0 = 20.0 + (_seed(symbol, "price") % 48000) / 100.0
    rets = rng.normal(0.0, 0.0006, rows)
    close = p0 * np.exp(np.cumsum(rets))
    open_ = np.empty_like(close)
    open_[0] = p0
    open_[1:] = close[:-1]
    spread = np.abs(rng.normal(0.0, 0.0004, (2, rows))) * close
    out = np.empty(rows, dtype=BAR_DTYPE)
    out["Epoch"] = START + 60 * np.arange(rows, dtype=np.int64)
    out["Open"] = open_
    out["Close"] = close
    out["High"] = np.maximum(open_, close) + spread[0]
    out["Low"] = np.minimum(open_, close) - spread[1]
    out["Volume"] = np.round(rng.lognormal(6.0, 1.0, rows))
    return out


def make_ticks(symbol: str, days: float) -> np.ndarray:
    """Poisson-arriving trades at TICK_RATE/s for `days` days from START, nanosecond timestamps."""
    rng = np.random.default_rng(_seed(symbol, "ticks"))
    n = int(rng.poisson(TICK_RATE * 86400 * days))
    ns = np.sort(rng.integers(0, max(1, int(days * 86400 * 10**9)), n, dtype=np.int64))
    out = np.empty(n, dtype=TICK_DTYPE)
    out["Epoch"] = START + ns // 10**9
    out["Nanoseconds"] = (ns % 10**9).astype(np.int32)
    out["Price"] = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0001, n)))
    out["Size"] = rng.integers(1, 500, n, dtype=np.int32)
    return out


def _cached(name: str, make) -> np.ndarray:
    path = DATA_DIR / f"v{VERSION}" / f"{name}.npy"
    if path.exists():
        arr = np.load(path)
        return arr
    arr = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    tmp.replace(path)
    return arr


@dataclass
class Dataset:
    """What every system loads and queries: bars per symbol (+ ticks per tick symbol)."""
    bars: dict[str, np.ndarray]
    ticks: dict[str, np.ndarray]

    @property
    def symbols(self) -> list[str]:
        return list(self.bars)

    @property
    def rows(self) -> int:
        return sum(len(a) for a in self.bars.values())

    @property
    def tick_rows(self) -> int:
        return sum(len(a) for a in self.ticks.values())


def load_dataset(n_symbols: int, rows: int = ROWS_PER_YEAR, tick_symbols: int = 1, tick_days: float = 1.0
                 ) -> Dataset:
    bars = {s: _cached(f"bars_{s}_{rows}", lambda s=s: make_bars(s, rows)) for s in symbol_names(n_symbols)}
    ticks = {s: _cached(f"ticks_{s}_{tick_days:g}d", lambda s=s: make_ticks(s, tick_days))
             for s in symbol_names(tick_symbols, "T")}
    return Dataset(bars, ticks)
