"""The three PostgreSQL-protocol clients (psycopg binary, asyncpg, ADBC/Arrow), shared by PostgreSQL and pgmkts."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd

from bench.base import Runner, ts
from bench.sql import PgDialect

APPEND_VALUES = (100.0, 101.0, 99.0, 100.5, 1000.0)


def parse_dsn(dsn: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in dsn.split())


class PsycopgRunner(Runner):
    client = "psycopg"

    def __init__(self, system: str, dsn: str, dialect: PgDialect, statement_timeout_ms: int | None = None):
        self.system, self.dialect = system, dialect
        self._args = (dsn, statement_timeout_ms)
        self.reset()

    def reset(self) -> None:
        """A fresh connection (after a timeout the old one may still be busy in an abandoned thread)."""
        import psycopg
        dsn, statement_timeout_ms = self._args
        self.conn = psycopg.connect(dsn, autocommit=True)
        if statement_timeout_ms:
            self.conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")

    def _df(self, sql: str) -> pd.DataFrame:
        with self.conn.cursor(binary=True) as cur:
            cur.execute(sql)
            rows = cur.fetchall()
            cols = [d.name for d in cur.description]
        return pd.DataFrame(rows, columns=cols)

    def range_df(self, sym, t0, t1):
        return self._df(self.dialect.range(sym, t0, t1))

    def last_n(self, sym, n):
        return self._df(self.dialect.last_n(sym, n))

    def latest_all(self):
        return self._df(self.dialect.latest_all())

    def latest_all_lateral(self):
        return self._df(self.dialect.latest_all_lateral())

    def candles(self, syms):
        return self._df(self.dialect.candles(syms))

    def tick_range(self, sym, t0, t1):
        return self._df(self.dialect.tick_range(sym, t0, t1))

    def append_one(self, sym, epoch):
        self.conn.execute(self.dialect.insert("%s"), (sym, ts(epoch), *APPEND_VALUES))

    def cancel(self):
        self.conn.cancel()

    def close(self):
        self.conn.close()


class AsyncpgRunner(Runner):
    """asyncpg on its own event-loop thread, so a timed-out call can be cancelled like any other."""
    client = "asyncpg"

    def __init__(self, system: str, dsn: str, dialect: PgDialect, statement_timeout_ms: int | None = None):
        self.system, self.dialect = system, dialect
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._fut = None
        self._args = (dsn, statement_timeout_ms)
        self.reset()

    def reset(self) -> None:
        import asyncpg
        dsn, statement_timeout_ms = self._args
        p = parse_dsn(dsn)
        settings = {"statement_timeout": str(int(statement_timeout_ms))} if statement_timeout_ms else None
        self.conn = self._run(asyncpg.connect(host=p["host"], port=int(p["port"]), user=p["user"],
                                              database=p["dbname"], server_settings=settings))

    def _run(self, coro):
        self._fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return self._fut.result()

    def _df(self, sql: str) -> pd.DataFrame:
        async def go():
            stmt = await self.conn.prepare(sql)
            rows = await stmt.fetch()
            return rows, [a.name for a in stmt.get_attributes()]
        rows, cols = self._run(go())
        return pd.DataFrame([tuple(r) for r in rows], columns=cols)

    def range_df(self, sym, t0, t1):
        return self._df(self.dialect.range(sym, t0, t1))

    def last_n(self, sym, n):
        return self._df(self.dialect.last_n(sym, n))

    def latest_all(self):
        return self._df(self.dialect.latest_all())

    def latest_all_lateral(self):
        return self._df(self.dialect.latest_all_lateral())

    def candles(self, syms):
        return self._df(self.dialect.candles(syms))

    def tick_range(self, sym, t0, t1):
        return self._df(self.dialect.tick_range(sym, t0, t1))

    def append_one(self, sym, epoch):
        self._run(self.conn.execute(self.dialect.insert("$"), sym, ts(epoch), *APPEND_VALUES))

    def cancel(self):
        if self._fut is not None:
            self.loop.call_soon_threadsafe(self._fut.cancel)

    def close(self):
        try:
            self._run(self.conn.close(timeout=5))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class AdbcRunner(Runner):
    """adbc-driver-postgresql: results arrive as Arrow through COPY (query) TO STDOUT (FORMAT binary)."""
    client = "adbc"

    def __init__(self, system: str, url: str, dialect: PgDialect, statement_timeout_ms: int | None = None):
        self.system, self.dialect = system, dialect
        self._args = (url, statement_timeout_ms)
        self.reset()

    def reset(self) -> None:
        import adbc_driver_postgresql.dbapi as adbc
        url, statement_timeout_ms = self._args
        self.conn = adbc.connect(url, autocommit=True)
        self._cur = None
        if statement_timeout_ms:
            with self.conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")

    def _df(self, sql: str) -> pd.DataFrame:
        with self.conn.cursor() as cur:
            self._cur = cur
            cur.execute(sql)
            table = cur.fetch_arrow_table()
            self._cur = None
        return table.to_pandas()

    def range_df(self, sym, t0, t1):
        return self._df(self.dialect.range(sym, t0, t1))

    def last_n(self, sym, n):
        return self._df(self.dialect.last_n(sym, n))

    def latest_all(self):
        return self._df(self.dialect.latest_all())

    def latest_all_lateral(self):
        return self._df(self.dialect.latest_all_lateral())

    def candles(self, syms):
        return self._df(self.dialect.candles(syms))

    def tick_range(self, sym, t0, t1):
        return self._df(self.dialect.tick_range(sym, t0, t1))

    def append_one(self, sym, epoch):
        with self.conn.cursor() as cur:
            cur.execute(self.dialect.insert("$"), (sym, ts(epoch), *APPEND_VALUES))

    def cancel(self):
        cur = self._cur
        if cur is not None:
            cur.adbc_cancel()

    def close(self):
        self.conn.close()


def pg_runners(system: str, dsn: str, url: str, dialect: PgDialect, timeout_s: float | None,
               errors: dict[str, str], skip: frozenset[str] = frozenset()) -> list[Runner]:
    """All three clients; a client that cannot connect is reported in `errors` instead."""
    out: list[Runner] = []
    ms = int(timeout_s * 1000) if timeout_s else None
    for cls, target in ((PsycopgRunner, dsn), (AsyncpgRunner, dsn), (AdbcRunner, url)):
        try:
            out.append(cls(system, target, dialect, ms))
            out[-1].skip = skip
        except Exception as exc:  # noqa: BLE001 - reported in the table
            from bench.timing import short_error
            errors[f"{system}/{cls.client}"] = "connect: " + short_error(exc)
    return out
