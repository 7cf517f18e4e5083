"""ArcticDB baseline: LMDB backend, in-process, one symbol per instrument, DatetimeIndex."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from bench.base import Ctx, Runner, System
from bench.frames import bars_frame, dir_bytes, one_bar, ticks_frame, utc
from bench.timing import Measurement

AGG = {"open": ("open", "first"), "high": ("high", "max"), "low": ("low", "min"),
       "close": ("close", "last"), "volume": ("volume", "sum")}


class ArcticSystem(System, Runner):
    name = system = "arcticdb"
    client = ""

    def setup(self, ctx: Ctx) -> None:
        import arcticdb
        self.dir = Path(ctx.workdir) / "arcticdb"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.ac = arcticdb.Arctic(f"lmdb://{self.dir}?map_size=64GB")
        self.lib = self.ac.get_library("bars", create_if_missing=True)
        self.tlib = self.ac.get_library("ticks", create_if_missing=True)

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        for sym, bars in ctx.ds.bars.items():
            self.lib.write(sym, bars_frame(bars))
        dt = time.perf_counter() - t0
        return {self.name: Measurement(ctx.ds.rows / dt, "rows/s", [dt], note="lib.write per symbol")}

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        for sym, ticks in ctx.ds.ticks.items():
            self.tlib.write(sym, ticks_frame(ticks))
        dt = time.perf_counter() - t0
        return {self.name: Measurement(ctx.ds.tick_rows / dt, "rows/s", [dt])}

    def runners(self, ctx: Ctx) -> list[Runner]:
        self.symbols = ctx.ds.symbols
        return [self]

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        return dir_bytes(self.dir)

    # workloads
    def range_df(self, sym, t0, t1):
        return self.lib.read(sym, date_range=(utc(t0), utc(t1) - pd.Timedelta(1, "ns"))).data

    def last_n(self, sym, n):
        return self.lib.tail(sym, n).data

    def latest_all(self):
        from arcticdb import ReadRequest
        items = self.lib.read_batch([ReadRequest(s, row_range=(-1, None)) for s in self.symbols])
        return pd.concat({it.symbol: it.data for it in items}, names=["symbol"])

    def candles(self, syms):
        from arcticdb import QueryBuilder
        q = QueryBuilder().resample("1h").agg(AGG)
        syms = syms or self.symbols
        if len(syms) == 1:
            return self.lib.read(syms[0], query_builder=q).data
        items = self.lib.read_batch(syms, query_builder=q)
        return pd.concat({it.symbol: it.data for it in items}, names=["symbol"])

    def tick_range(self, sym, t0, t1):
        return self.tlib.read(sym, date_range=(utc(t0), utc(t1) - pd.Timedelta(1, "ns"))).data

    def append_one(self, sym, epoch):
        self.lib.append(sym, one_bar(epoch))

    def close(self) -> None:
        self.lib = self.tlib = self.ac = None
