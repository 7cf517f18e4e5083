"""pgmkts under test: the real server in a subprocess, loaded through pymarketstore and through binary COPY."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.base import Ctx, Runner, System, append_row
from bench.frames import dir_bytes
from bench.pgclients import pg_runners
from bench.pgcopy import HEADER, TRAILER, bars_copy_body, bars_csv
from bench.sql import PgmktsDialect
from bench.timing import Measurement, settle, short_error

TF, GROUP, TICK_TF, TICK_GROUP = "1Min", "OHLCV", "1Sec", "TRADE"
CANDLES = "candlecandler('1H',Open,High,Low,Close,Sum::Volume)"
CSV_SYMBOLS = 4          # the CSV load uses at most this many symbols (building CSV text is slow)
GROUP_DDL = """CREATE TABLE ohlcv_1min (symbol text, epoch timestamptz, open real, high real, low real,
  close real, volume double precision)"""


def _end(t1: int) -> pd.Timestamp:
    """MarketStore's end bound is inclusive (to the nanosecond): [t0, t1) is end = t1 - 1 ns."""
    return pd.Timestamp(t1 * 10**9 - 1, unit="ns")


def start_server(root: Path, timeout: float = 60.0):
    from tests.support.server import ServerProcess, free_port
    return ServerProcess(root=root, port=free_port(), rpc_port=free_port()).start(timeout=timeout)


class PymarketstoreRunner(Runner):
    system, client = "pgmkts", "pymarketstore"

    def __init__(self, url: str, symbols: list[str]):
        import pymarketstore as pymkts
        self.pymkts, self.url, self.symbols = pymkts, url, symbols
        self.reset()

    def reset(self) -> None:
        self.cli = self.pymkts.Client(self.url)

    def _params(self, syms, tf=TF, group=GROUP, **kw):
        return self.pymkts.Params(syms, tf, group, **kw)

    def _frames(self, reply) -> pd.DataFrame:
        return pd.concat({k.split("/")[0]: d.df() for k, d in reply.all().items()}, names=["symbol"])

    def range_df(self, sym, t0, t1):
        return self.cli.query(self._params(sym, start=t0, end=_end(t1))).first().df()

    def last_n(self, sym, n):
        return self.cli.query(self._params(sym, limit=n)).first().df()

    def latest_all(self):
        return self._frames(self.cli.query(self._params(self.symbols, limit=1)))

    def candles(self, syms):
        return self._frames(self.cli.query(self._params(syms or self.symbols, functions=[CANDLES])))

    def tick_range(self, sym, t0, t1):
        return self.cli.query(self._params(sym, TICK_TF, TICK_GROUP, start=t0, end=_end(t1))).first().df()

    def append_one(self, sym, epoch):
        self.cli.write(append_row(epoch), f"{sym}/{TF}/{GROUP}")

    def close(self):
        self.cli.client.rpc._session.close()


class PymarketstoreDecodeRunner(PymarketstoreRunner):
    """The client's own decode time: the reply bytes are fetched once, then only decoded (msgpack →
    numpy → DataFrame), exactly as pymarketstore's Client.query does after the HTTP round trip."""
    client = "pymarketstore-decode"

    def __init__(self, url, symbols):
        super().__init__(url, symbols)
        self.cache: dict[tuple, bytes] = {}

    def _decode(self, key: tuple, params) -> pd.DataFrame:
        import msgpack
        from pymarketstore.jsonrpc import MsgpackRpcClient
        from pymarketstore.results import QueryReply
        raw = self.cache.get(key)
        if raw is None:
            rpc = self.cli.client.rpc
            body = msgpack.dumps({"method": "DataService.Query", "id": "1", "jsonrpc": "2.0",
                                  "params": self.cli.client.build_query([params])})
            resp = rpc._session.post(self.url, data=body, headers={"Content-Type": rpc.mimetype})
            resp.raise_for_status()
            raw = self.cache[key] = resp.content
        reply = MsgpackRpcClient._rpc_response(msgpack.loads(raw))
        return QueryReply.from_response(reply).first().df()

    def range_df(self, sym, t0, t1):
        return self._decode(("range", sym, t0, t1), self._params(sym, start=t0, end=_end(t1)))

    def last_n(self, sym, n):
        return self._decode(("last", sym, n), self._params(sym, limit=n))

    latest_all = candles = tick_range = append_one = None


class PgmktsSystem(System):
    name = "pgmkts"

    def __init__(self, csv: bool = True) -> None:
        self.srv = None
        self.conn_errors: dict[str, str] = {}
        self.csv = csv

    def setup(self, ctx: Ctx) -> None:
        self.base = Path(ctx.workdir) / "pgmkts"
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        self.start_timeout = max(20.0, ctx.timeout)
        self.srv = start_server(self.base / "main", self.start_timeout)

    def _copy_load(self, srv, payload: list[bytes], fmt: str) -> float:
        """COPY pre-built payload chunks (binary: with header and trailer) in one statement."""
        import psycopg
        with psycopg.connect(srv.dsn, autocommit=True) as c:
            try:
                c.execute(GROUP_DDL)
            except psycopg.Error:
                pass                                  # already declared, or buckets appear on first insert
            settle()                                  # the RPC load's writeback is not this load's
            t0 = time.perf_counter()
            with c.cursor() as cur, cur.copy(f"COPY ohlcv_1min FROM STDIN (FORMAT {fmt})") as cp:
                for chunk in payload:
                    cp.write(chunk)
            return time.perf_counter() - t0

    def _fresh_copy_load(self, ctx: Ctx, fmt: str, syms: list[str]) -> Measurement:
        if fmt == "binary":
            payload = [HEADER, *(bars_copy_body(s, ctx.ds.bars[s]) for s in syms), TRAILER]
        else:
            payload = [bars_csv(s, ctx.ds.bars[s]) for s in syms]
        rows = sum(len(ctx.ds.bars[s]) for s in syms)
        root = self.base / f"copy-{fmt}"
        try:
            srv = start_server(root, self.start_timeout)
        except Exception as exc:  # noqa: BLE001
            return Measurement(error="start: " + short_error(exc), unit="rows/s")
        try:
            dt = self._copy_load(srv, payload, fmt)
            return Measurement(rows / dt, "rows/s", [dt], note=f"{fmt} COPY of {len(syms)} symbols into a "
                               "fresh server; payload built before timing")
        except Exception as exc:  # noqa: BLE001
            return Measurement(error=short_error(exc), unit="rows/s")
        finally:
            srv.stop()
            shutil.rmtree(root, ignore_errors=True)

    def _rpc_load(self, ctx: Ctx) -> float:
        import pymarketstore as pymkts
        cli = pymkts.Client(self.srv.rpc_url)
        t0 = time.perf_counter()
        for s, a in ctx.ds.bars.items():
            reply = cli.write(a, f"{s}/{TF}/{GROUP}")
            if isinstance(reply, dict) and reply.get("responses"):
                errs = [r.get("error") for r in reply["responses"] if r and r.get("error")]
                if errs:
                    raise RuntimeError(str(errs[0]))
        return time.perf_counter() - t0

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        out: dict[str, Measurement] = {}
        rows = ctx.ds.rows
        try:
            dt = self._rpc_load(ctx)
            out["pgmkts/pymarketstore"] = Measurement(rows / dt, "rows/s", [dt], note="one Write per symbol")
        except Exception as exc:  # noqa: BLE001
            out["pgmkts/pymarketstore"] = Measurement(error=short_error(exc), unit="rows/s")
        syms = ctx.ds.symbols
        if out["pgmkts/pymarketstore"].error is None:
            # each COPY into a fresh server of its own, so every load starts from an empty store
            out["pgmkts/psycopg"] = self._fresh_copy_load(ctx, "binary", syms)
        else:
            # the RPC load failed: load the main server by COPY so the SQL clients still have data
            payload = [HEADER, *(bars_copy_body(s, ctx.ds.bars[s]) for s in syms), TRAILER]
            try:
                dt = self._copy_load(self.srv, payload, "binary")
                out["pgmkts/psycopg"] = Measurement(rows / dt, "rows/s", [dt], note="binary COPY")
            except Exception as exc:  # noqa: BLE001
                out["pgmkts/psycopg"] = Measurement(error=short_error(exc), unit="rows/s")
            del payload
        if self.csv:
            out["pgmkts/psycopg-csv"] = self._fresh_copy_load(ctx, "csv", syms[:CSV_SYMBOLS])
        return out

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        import pymarketstore as pymkts
        cli = pymkts.Client(self.srv.rpc_url)
        t0 = time.perf_counter()
        for s, a in ctx.ds.ticks.items():
            cli.write(np.ascontiguousarray(a), f"{s}/{TICK_TF}/{TICK_GROUP}", isvariablelength=True)
        dt = time.perf_counter() - t0
        return {"pgmkts/pymarketstore": Measurement(ctx.ds.tick_rows / dt, "rows/s", [dt])}

    def runners(self, ctx: Ctx) -> list[Runner]:
        out: list[Runner] = []
        for cls in (PymarketstoreRunner, PymarketstoreDecodeRunner):
            try:
                out.append(cls(self.srv.rpc_url, ctx.ds.symbols))
            except Exception as exc:  # noqa: BLE001
                self.conn_errors[f"pgmkts/{cls.client}"] = "connect: " + short_error(exc)
        url = f"postgresql://pgmkts@127.0.0.1:{self.srv.port}/pgmkts"
        # the hand-written LATERAL form is PostgreSQL's workaround; pgmkts is measured on DISTINCT ON
        out += pg_runners("pgmkts", self.srv.dsn, url, PgmktsDialect(), None, self.conn_errors,
                          skip=frozenset({"latest_lateral"}))
        self.symbols = ctx.ds.symbols
        return out + self._floor_runners()

    def _floor_runners(self) -> list[Runner]:
        """The same three clients through a record/replay proxy: what they cost with no server time."""
        from bench.pgclients import AdbcRunner, AsyncpgRunner, PsycopgRunner
        from bench.replay import FloorRunner, ReplayProxy
        from bench.replay_http import HttpFloorRunner, HttpReplayProxy
        out: list[Runner] = []
        hproxy = HttpReplayProxy(("127.0.0.1", self.srv.rpc_port))
        try:
            out.append(HttpFloorRunner(PymarketstoreRunner(f"http://127.0.0.1:{hproxy.port}/rpc",
                                                           self.symbols), hproxy))
        except Exception as exc:  # noqa: BLE001 - reported in the table
            hproxy.close()
            self.conn_errors["pgmkts/pymarketstore-floor"] = "connect: " + short_error(exc)
        for cls in (PsycopgRunner, AsyncpgRunner, AdbcRunner):
            proxy = ReplayProxy(("127.0.0.1", self.srv.port))
            dsn = self.srv.dsn.replace(f"port={self.srv.port}", f"port={proxy.port}")
            url = f"postgresql://pgmkts@127.0.0.1:{proxy.port}/pgmkts"
            try:
                runner = cls("pgmkts", url if cls is AdbcRunner else dsn, PgmktsDialect())
                runner.skip = frozenset({"latest_lateral"})
                out.append(FloorRunner(runner, proxy))
            except Exception as exc:  # noqa: BLE001 - reported in the table
                proxy.close()
                self.conn_errors[f"pgmkts/{cls.client}-floor"] = "connect: " + short_error(exc)
        return out

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        """Bucket files only, like pg_total_relation_size: the WAL (until its next checkpoint) is
        reported in the note."""
        root = self.base / "main"
        wal = sum(dir_bytes(p) for p in root.iterdir() if p.is_dir() and "wal" in p.name.lower())
        self.bytes_note = f"excludes {wal / ctx.ds.rows:.1f} B/row of WAL not yet checkpointed" if wal else ""
        return dir_bytes(root) - wal

    def server_pids(self) -> list[int]:
        return [self.srv.proc.pid] if self.srv and self.srv.proc else []

    def pgbench_target(self) -> dict | None:
        return {"host": "127.0.0.1", "port": self.srv.port, "user": "pgmkts", "dbname": "pgmkts"}

    def close(self) -> None:
        if self.srv:
            died = self.srv.proc is not None and self.srv.proc.poll() is not None
            rc = self.srv.stop()
            if died or rc not in (0, None):
                import sys
                tail = "".join(self.srv.output[-30:])
                print(f"pgmkts server exited with {rc}; last output:\n{tail}", file=sys.stderr, flush=True)
        shutil.rmtree(self.base, ignore_errors=True)
