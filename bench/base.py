"""The two plug-in seams: a System holds the data (server or files), a Runner is one client of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from bench.data import ROWS_PER_YEAR, START, Dataset
from bench.timing import Measurement


@dataclass
class Ctx:
    """Parameters shared by every system so that all of them answer the same questions."""
    ds: Dataset
    workdir: str
    sym: str                 # the symbol queried by single-symbol workloads
    month: tuple[int, int]   # [start, end) Unix seconds
    year: tuple[int, int]
    reps: int = 7
    budget: float = 15.0
    timeout: float = 60.0
    pgbench_seconds: int = 10
    load_timeout: float = 1800.0

    @classmethod
    def make(cls, ds: Dataset, workdir: str, **kw) -> Ctx:
        rows = len(next(iter(ds.bars.values())))
        year = (START, START + 60 * rows)
        m0 = START + 60 * min(152 * 1440, max(0, rows - 30 * 1440))      # 2024-06-01 when the year is there
        month = (m0, min(year[1], m0 + 30 * 86400))
        return cls(ds=ds, workdir=workdir, sym=ds.symbols[0], month=month, year=year, **kw)

    @property
    def append_epoch0(self) -> int:
        return self.year[1] + 86400


def ts_literal(epoch_s: int) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("'%Y-%m-%d %H:%M:%S+00'")


def ts(epoch_s: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def append_row(epoch_s: int) -> np.ndarray:
    """The one bar a durable-append sample writes."""
    from bench.data import BAR_DTYPE
    r = np.zeros(1, dtype=BAR_DTYPE)
    r["Epoch"] = epoch_s
    r["Open"], r["High"], r["Low"], r["Close"], r["Volume"] = 100.0, 101.0, 99.0, 100.5, 1000.0
    return r


class Runner:
    """One way to query a system. Workload methods (all optional; missing = not applicable):
    range_df(sym, t0, t1) → DataFrame of [t0, t1); last_n(sym, n); latest_all(); latest_all_lateral();
    candles(syms); append_one(sym, epoch); tick_range(sym, t0, t1)."""
    system = ""
    client = ""
    skip: frozenset[str] = frozenset()     # workload keys this runner is not measured on

    @property
    def name(self) -> str:
        return f"{self.system}/{self.client}" if self.client else self.system

    def cancel(self) -> None:
        """Best-effort interruption of the call in flight (called from another thread on timeout)."""

    def close(self) -> None:
        pass


class System:
    """A store under test: starts it, loads the data set, hands out runners, reports size and memory."""
    name = ""

    def setup(self, ctx: Ctx) -> None:
        pass

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        """Bulk-load ctx.ds; returns {runner name: rows/s measurement} (one entry per load path)."""
        raise NotImplementedError

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        return {}

    def runners(self, ctx: Ctx) -> list[Runner]:
        return []

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        return None

    def server_pids(self) -> list[int]:
        """Root process ids of the server (for RSS); empty for in-process libraries."""
        return []

    def pgbench_target(self) -> dict | None:
        """{host, port, user, dbname} for pgbench, or None."""
        return None

    def close(self) -> None:
        pass


YEAR_ROWS = ROWS_PER_YEAR
