"""DuckDB baseline: one database file, in-process, loaded from Arrow; queries fetched as DataFrames."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.base import Ctx, Runner, System, ts
from bench.frames import dir_bytes
from bench.pgclients import APPEND_VALUES
from bench.sql import DuckDialect
from bench.timing import Measurement

DDL = """CREATE TABLE ohlcv_1min (symbol VARCHAR NOT NULL, epoch TIMESTAMPTZ NOT NULL, open FLOAT, high FLOAT,
  low FLOAT, close FLOAT, volume DOUBLE)"""
TICK_DDL = "CREATE TABLE trades (symbol VARCHAR NOT NULL, epoch TIMESTAMPTZ NOT NULL, price FLOAT, size INTEGER)"


def bars_arrow(sym: str, bars: np.ndarray) -> pa.Table:
    n = len(bars)
    return pa.table({
        "symbol": pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), [sym]).cast(pa.string()),
        "epoch": pa.array(bars["Epoch"] * 1_000_000, pa.timestamp("us", tz="UTC")),
        "open": bars["Open"], "high": bars["High"], "low": bars["Low"], "close": bars["Close"],
        "volume": bars["Volume"]})


def ticks_arrow(sym: str, ticks: np.ndarray) -> pa.Table:
    us = ticks["Epoch"] * 1_000_000 + ticks["Nanoseconds"] // 1000
    return pa.table({"symbol": pa.array([sym] * len(ticks)), "epoch": pa.array(us, pa.timestamp("us", tz="UTC")),
                     "price": ticks["Price"], "size": ticks["Size"]})


class DuckdbSystem(System, Runner):
    name = system = "duckdb"
    client = ""

    def setup(self, ctx: Ctx) -> None:
        import duckdb
        self.dir = Path(ctx.workdir) / "duckdb"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "bench.duckdb"
        for p in (self.path, self.path.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(DDL)
        self.con.execute(TICK_DDL)
        self.dialect = DuckDialect()
        self.lock = threading.Lock()

    def _ingest(self, table: str, tables) -> None:
        self.con.execute("BEGIN")
        for t in tables:
            self.con.register("batch", t)
            self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")
            self.con.unregister("batch")
        self.con.execute("COMMIT")

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        self._ingest("ohlcv_1min", (bars_arrow(s, a) for s, a in ctx.ds.bars.items()))
        self.con.execute("CHECKPOINT")
        dt = time.perf_counter() - t0
        return {self.name: Measurement(ctx.ds.rows / dt, "rows/s", [dt], note="Arrow → INSERT, CHECKPOINT; no PK")}

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        t0 = time.perf_counter()
        self._ingest("trades", (ticks_arrow(s, a) for s, a in ctx.ds.ticks.items()))
        self.con.execute("CHECKPOINT")
        dt = time.perf_counter() - t0
        return {self.name: Measurement(ctx.ds.tick_rows / dt, "rows/s", [dt])}

    def runners(self, ctx: Ctx) -> list[Runner]:
        return [self]

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        self.con.execute("CHECKPOINT")        # measured before the ticks are loaded: bars only
        return dir_bytes(self.path)

    def _df(self, sql: str):
        return self.con.execute(sql).df()

    def range_df(self, sym, t0, t1):
        return self._df(self.dialect.range(sym, t0, t1))

    def last_n(self, sym, n):
        return self._df(self.dialect.last_n(sym, n))

    def latest_all(self):
        return self._df(self.dialect.latest_all())

    def candles(self, syms):
        return self._df(self.dialect.candles(syms))

    def tick_range(self, sym, t0, t1):
        return self._df(self.dialect.tick_range(sym, t0, t1))

    def append_one(self, sym, epoch):
        self.con.execute("INSERT INTO ohlcv_1min VALUES (?, ?, ?, ?, ?, ?, ?)", (sym, ts(epoch), *APPEND_VALUES))

    def cancel(self) -> None:
        self.con.interrupt()

    def close(self) -> None:
        self.con.close()
