"""The workloads: what each measures, its unit and which Runner method (with which arguments) answers it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.base import Ctx


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    unit: str                       # s | rows/s | tps | B/row | MB
    method: str | None = None       # Runner method for query workloads; None = measured by the system
    higher_better: bool = False

    def args(self, ctx: Ctx) -> tuple:
        t0 = ctx.year[0]
        return {
            "month": (ctx.sym, *ctx.month),
            "year": (ctx.sym, *ctx.year),
            "last100": (ctx.sym, 100),
            "candles_1": ([ctx.sym],),
            "candles_all": (None,),
            "tick_hour": (next(iter(ctx.ds.ticks), "T000"), t0 + 3600, t0 + 7200),
        }.get(self.key, ())


WORKLOADS = [
    Workload("load", "bulk load", "rows/s", higher_better=True),
    Workload("bytes", "bytes on disk per row", "B/row"),
    Workload("month", "1 month of 1 symbol → DataFrame", "s", "range_df"),
    Workload("year", "1 year of 1 symbol → DataFrame", "s", "range_df"),
    Workload("last100", "last 100 bars", "s", "last_n"),
    Workload("latest_all", "latest bar of every symbol (DISTINCT ON)", "s", "latest_all"),
    Workload("latest_lateral", "latest bar of every symbol (hand-written LATERAL)", "s", "latest_all_lateral"),
    Workload("candles_1", "hourly candles, 1 symbol × 1 year", "s", "candles"),
    Workload("candles_all", "hourly candles, all symbols × 1 year", "s", "candles"),
    Workload("tick_load", "tick bulk load", "rows/s", higher_better=True),
    Workload("tick_hour", "1 hour of ticks → DataFrame", "s", "tick_range"),
    Workload("pgbench_simple", "pgbench 8 clients, last 100 bars, -M simple", "tps", higher_better=True),
    Workload("pgbench_prepared", "pgbench 8 clients, last 100 bars, -M prepared", "tps", higher_better=True),
    Workload("rss", "server memory (PSS) under the pgbench load", "MB"),
    Workload("append", "durable one-row append", "s", "append_one"),
]
BY_KEY = {w.key: w for w in WORKLOADS}
