"""Synthetic demo data: `seed_demo` fills an empty data directory with 1-minute bars of a
deterministic random walk, and `DemoFeeder` (bgworker `demo_feeder`) keeps appending live bars.
Every demo symbol starts with `DEMO-`: none of it is market data."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pgmkts import errors
from pgmkts.plugins import ThreadedWorker

log = logging.getLogger("pgmkts.demo")

DEMO_PREFIX = "DEMO-"
DEMO_SYMBOLS = ("DEMO-AAPL", "DEMO-MSFT", "DEMO-SPY")
# Starting prices only; the paths are a seeded random walk, not market history.
_START = {"DEMO-AAPL": 180.0, "DEMO-MSFT": 400.0, "DEMO-SPY": 450.0}
COLUMNS = [("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4"), ("Volume", "i8")]
MAX_CATCH_UP = 7 * 86400  # a feeder restarted after a long pause backfills at most a week


def _rng(symbol: str, epoch: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(symbol.encode()), int(epoch) & 0xFFFFFFFF, int(epoch) >> 32])


def synth_bars(symbol: str, start: int, n: int, prev_close: float | None = None,
               tf: int = 60) -> dict[str, np.ndarray]:
    """`n` bars from epoch `start` (seconds, aligned to `tf`): a geometric random walk, the same
    for the same (symbol, start, prev_close)."""
    rng = _rng(symbol, start)
    p0 = prev_close if prev_close is not None else _START.get(symbol, 100.0 + zlib.crc32(symbol.encode()) % 400)
    sigma = 0.0008 * np.sqrt(tf / 60)
    close = p0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.concatenate(([p0], close[:-1]))
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(7.0, 0.8, n).astype(np.int64)
    return {"Epoch": start + np.arange(n, dtype=np.int64) * tf, "Open": open_.astype(np.float32),
            "High": high.astype(np.float32), "Low": low.astype(np.float32),
            "Close": close.astype(np.float32), "Volume": volume}


def seed_demo(engine: Any, symbols: Sequence[str] = DEMO_SYMBOLS, days: int = 30, *,
              end: int | None = None, timeframe: str = "1Min") -> int:
    """Write `days` of synthetic bars ending at `end` (default: now) for each symbol that has no
    bucket yet. Symbols must carry the DEMO- prefix so nobody mistakes them for real prices.
    Returns rows written."""
    from pgmkts.storage import timeframe_seconds

    tf = timeframe_seconds(timeframe)
    end = int(time.time()) if end is None else int(end)
    end -= end % tf
    n = max(int(days * 86400 // tf), 0)
    written = 0
    for sym in symbols:
        if not sym.upper().startswith(DEMO_PREFIX):
            raise errors.InvalidParameterValue(f"demo symbol {sym!r} must start with {DEMO_PREFIX!r}")
        tbk = f"{sym}/{timeframe}/OHLCV"
        if engine.info(tbk) is not None or n == 0:
            continue
        engine.create(tbk, COLUMNS)
        bars = synth_bars(sym, end - n * tf, n, tf=tf)
        # a month of 1Min bars in one WAL frame is ~2 MB per symbol; write by week to keep frames small
        step = max(7 * 86400 // tf, 1)
        for i in range(0, n, step):
            written += engine.write(tbk, {k: v[i:i + step] for k, v in bars.items()})
    return written


class DemoFeeder(ThreadedWorker):
    """bgworker `demo_feeder`: appends one synthetic bar per symbol per timeframe slot.

    config: symbols (default DEMO-AAPL, DEMO-MSFT, DEMO-SPY), timeframe (1Min), interval
    (seconds between ticks of the loop, default: the timeframe).
    """

    def __init__(self, engine: Any, config: Mapping[str, Any] | None = None, *, name: str = "demo_feeder",
                 timezone: str = "UTC") -> None:
        from pgmkts.storage import timeframe_seconds

        config = dict(config or {})
        self.engine = engine
        self.name = name
        symbols = config.get("symbols", DEMO_SYMBOLS)
        if isinstance(symbols, str):  # `symbols: DEMO-X` or "DEMO-X,DEMO-Y"
            symbols = [s.strip() for s in symbols.split(",") if s.strip()]
        if not isinstance(symbols, Sequence):
            raise errors.ConfigError(f"demo_feeder: symbols must be a list, got {symbols!r}")
        self.symbols = [str(s) for s in symbols]
        for s in self.symbols:
            if not s.upper().startswith(DEMO_PREFIX):
                raise errors.ConfigError(f"demo_feeder: symbol {s!r} must start with {DEMO_PREFIX!r} "
                                         "(the data is synthetic)")
        self.timeframe = str(config.get("timeframe", "1Min"))
        try:
            self.tf = timeframe_seconds(self.timeframe)
        except errors.PgmktsError as exc:
            raise errors.ConfigError(f"demo_feeder: bad timeframe {self.timeframe!r}") from exc
        try:
            self.interval = float(config.get("interval", self.tf))
        except (TypeError, ValueError):
            raise errors.ConfigError(f"demo_feeder: interval must be a number of seconds, "
                                     f"got {config.get('interval')!r}") from None
        if not self.interval > 0:  # also refuses NaN
            raise errors.ConfigError("demo_feeder: interval must be > 0 seconds")

    def step(self, now: float | None = None) -> int:
        """Append the bars due up to `now` (the last complete slot) for every symbol."""
        now = int(time.time() if now is None else now)
        last_slot = now - now % self.tf - self.tf
        written = 0
        for sym in self.symbols:
            tbk = f"{sym}/{self.timeframe}/OHLCV"
            prev_close = None
            if self.engine.info(tbk) is None:
                self.engine.create(tbk, COLUMNS)
                start = last_slot
            else:
                last = self.engine.read(tbk, None, None, columns=["Close"], limit=1, from_end=True)
                if last["Epoch"].size:
                    prev_close = float(last["Close"][-1])
                    start = max(int(last["Epoch"][-1]) + self.tf, last_slot - MAX_CATCH_UP)
                else:
                    start = last_slot
            if start > last_slot:
                continue
            n = (last_slot - start) // self.tf + 1
            written += self.engine.write(tbk, synth_bars(sym, start, n, prev_close, self.tf))
        return written

    def run(self, stop: threading.Event) -> None:
        log.info("demo_feeder %s: synthetic bars for %s every %ss", self.name, ", ".join(self.symbols),
                 self.interval)
        while not stop.is_set():
            try:
                self.step()
            except errors.AdminShutdown:
                return
            except Exception:
                log.exception("demo_feeder %s: step failed", self.name)
            stop.wait(self.interval)
