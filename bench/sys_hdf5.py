"""pandas HDF5 baseline (PyTables, format='table'): one file, one key per symbol, in-process."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import pandas as pd

from bench.base import Ctx, Runner, System
from bench.frames import bars_frame, dir_bytes, one_bar, resample_hourly, ticks_frame, utc
from bench.timing import Measurement

warnings.filterwarnings("ignore", category=pd.errors.PerformanceWarning)


class Hdf5System(System, Runner):
    name = system = "hdf5"
    client = ""

    def setup(self, ctx: Ctx) -> None:
        self.dir = Path(ctx.workdir) / "hdf5"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "bars.h5"
        self.path.unlink(missing_ok=True)
        (self.dir / "ticks.h5").unlink(missing_ok=True)
        self.store: pd.HDFStore | None = None

    def _open(self) -> pd.HDFStore:
        if self.store is None:
            self.store = pd.HDFStore(self.path, mode="a")
        return self.store

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        with pd.HDFStore(self.path, mode="w") as st:
            for sym, bars in ctx.ds.bars.items():
                st.put(sym, bars_frame(bars), format="table")
            st.flush(fsync=True)
        dt = time.perf_counter() - t0
        return {self.name: Measurement(ctx.ds.rows / dt, "rows/s", [dt])}

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        with pd.HDFStore(self.dir / "ticks.h5", mode="w") as st:
            for sym, ticks in ctx.ds.ticks.items():
                st.put(sym, ticks_frame(ticks), format="table")
            st.flush(fsync=True)
        dt = time.perf_counter() - t0
        self.ticks = pd.HDFStore(self.dir / "ticks.h5", mode="r")
        return {self.name: Measurement(ctx.ds.tick_rows / dt, "rows/s", [dt])}

    def runners(self, ctx: Ctx) -> list[Runner]:
        self.symbols = ctx.ds.symbols
        self._open()
        return [self]

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        return dir_bytes(self.path)

    # workloads
    def range_df(self, sym, t0, t1):
        lo, hi = utc(t0), utc(t1)  # noqa: F841 - referenced by name in `where`
        return self._open().select(sym, where="index >= lo & index < hi")

    def last_n(self, sym, n):
        st = self._open()
        nrows = st.get_storer(sym).nrows
        return st.select(sym, start=max(0, nrows - n))

    def latest_all(self):
        st = self._open()
        parts = {s: st.select(s, start=st.get_storer(s).nrows - 1) for s in self.symbols}
        return pd.concat(parts, names=["symbol"])

    def candles(self, syms):
        st = self._open()
        return pd.concat({s: resample_hourly(st.select(s)) for s in (syms or self.symbols)}, names=["symbol"])

    def tick_range(self, sym, t0, t1):
        lo, hi = utc(t0), utc(t1)  # noqa: F841 - referenced by name in `where`
        return self.ticks.select(sym, where="index >= lo & index < hi")

    def append_one(self, sym, epoch):
        st = self._open()
        st.append(sym, one_bar(epoch), format="table")
        st.flush(fsync=True)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        if getattr(self, "ticks", None) is not None:
            self.ticks.close()
        os.sync()
