"""pgmkts with `storage_compression: zstd`: loaded through pymarketstore, then restarted (the
shutdown compacts the past-year files), so bytes and reads measure the compressed form."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from bench.base import Ctx, Runner
from bench.pgclients import PsycopgRunner
from bench.sql import PgmktsDialect
from bench.sys_pgmkts import PgmktsSystem, PymarketstoreRunner
from bench.timing import Measurement, short_error
from bench.workloads import WORKLOADS

NAME = "pgmkts-zstd"
READS = frozenset({"month", "year", "last100", "candles_1"})


class PgmktsZstdSystem(PgmktsSystem):
    name = NAME

    def __init__(self) -> None:
        super().__init__(csv=False)

    def setup(self, ctx: Ctx) -> None:
        from tests.support.server import ServerProcess, free_port
        self.base = Path(ctx.workdir) / NAME
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        cfg = self.base / "mkts.yml"
        cfg.write_text("storage_compression: zstd\n")
        self.start_timeout = max(20.0, ctx.timeout)
        self.srv = ServerProcess(root=self.base / "main", port=free_port(), rpc_port=free_port(),
                                 config=cfg).start(self.start_timeout)

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        try:
            dt = self._rpc_load(ctx)
        except Exception as exc:  # noqa: BLE001
            return {f"{NAME}/pymarketstore": Measurement(error=short_error(exc), unit="rows/s")}
        t0 = time.perf_counter()
        self.srv.stop(signal.SIGTERM, timeout=600)  # the shutdown compacts the written past years
        stop = time.perf_counter() - t0
        self.srv.start(self.start_timeout)
        note = f"one Write per symbol; the restart after it (compaction) took {stop:.1f} s"
        return {f"{NAME}/pymarketstore": Measurement(ctx.ds.rows / dt, "rows/s", [dt], note=note)}

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        return {}

    def runners(self, ctx: Ctx) -> list[Runner]:
        """Two clients on the reads that decompression can slow down; the rest is pgmkts' own row."""
        skip = frozenset(w.key for w in WORKLOADS) - READS
        out: list[Runner] = []
        try:
            r = PymarketstoreRunner(self.srv.rpc_url, ctx.ds.symbols)
            r.system, r.skip = NAME, skip
            out.append(r)
        except Exception as exc:  # noqa: BLE001
            self.conn_errors[f"{NAME}/pymarketstore"] = "connect: " + short_error(exc)
        try:
            p = PsycopgRunner(NAME, self.srv.dsn, PgmktsDialect())
            p.skip = skip
            out.append(p)
        except Exception as exc:  # noqa: BLE001
            self.conn_errors[f"{NAME}/psycopg"] = "connect: " + short_error(exc)
        return out

    def pgbench_target(self) -> dict | None:
        return None
