"""PostgreSQL 15 baseline: a private server, table with PRIMARY KEY (symbol, epoch), loaded with binary COPY."""

from __future__ import annotations

import time

from bench.base import Ctx, Runner, System
from bench.pgclients import pg_runners
from bench.pgcopy import HEADER, TRAILER, bars_copy_body, ticks_copy_body
from bench.pgserver import PgServer
from bench.sql import PgDialect
from bench.timing import Measurement

DDL = """CREATE TABLE ohlcv_1min (symbol text NOT NULL, epoch timestamptz NOT NULL, open real, high real,
  low real, close real, volume double precision, PRIMARY KEY (symbol, epoch))"""
TICK_DDL = """CREATE TABLE trades (symbol text NOT NULL, epoch timestamptz NOT NULL, price real, size integer);
CREATE INDEX trades_symbol_epoch ON trades (symbol, epoch)"""


class PostgresSystem(System):
    name = "postgres"

    def __init__(self) -> None:
        self.pg: PgServer | None = None
        self.conn_errors: dict[str, str] = {}

    def setup(self, ctx: Ctx) -> None:
        import psycopg
        self.pg = PgServer().start()
        with psycopg.connect(self.pg.dsn, autocommit=True) as c:
            c.execute(DDL)
            for stmt in TICK_DDL.split(";"):
                c.execute(stmt)

    def _copy(self, sql: str, bodies) -> int:
        import psycopg
        with psycopg.connect(self.pg.dsn) as c:
            with c.cursor() as cur, cur.copy(sql) as cp:
                cp.write(HEADER)
                for body in bodies:
                    cp.write(body)
                cp.write(TRAILER)
            c.commit()
        return 0

    def load(self, ctx: Ctx) -> dict[str, Measurement]:
        import psycopg
        bodies = [bars_copy_body(s, a) for s, a in ctx.ds.bars.items()]       # built before the clock starts
        t0 = time.perf_counter()
        self._copy("COPY ohlcv_1min FROM STDIN (FORMAT binary)", bodies)
        dt = time.perf_counter() - t0
        del bodies
        with psycopg.connect(self.pg.dsn, autocommit=True) as c:     # not timed: plans + visibility map
            c.execute("VACUUM ANALYZE ohlcv_1min")
        return {"postgres/psycopg": Measurement(ctx.ds.rows / dt, "rows/s", [dt],
                                                note="binary COPY, PK maintained; VACUUM ANALYZE after, untimed")}

    def load_ticks(self, ctx: Ctx) -> dict[str, Measurement]:
        import psycopg
        bodies = [ticks_copy_body(s, a) for s, a in ctx.ds.ticks.items()]
        t0 = time.perf_counter()
        self._copy("COPY trades FROM STDIN (FORMAT binary)", bodies)
        dt = time.perf_counter() - t0
        with psycopg.connect(self.pg.dsn, autocommit=True) as c:
            c.execute("VACUUM ANALYZE trades")
        return {"postgres/psycopg": Measurement(ctx.ds.tick_rows / dt, "rows/s", [dt])}

    def runners(self, ctx: Ctx) -> list[Runner]:
        return pg_runners("postgres", self.pg.dsn, self.pg.url, PgDialect(), ctx.timeout, self.conn_errors)

    bytes_note = "table + primary key index (pg_total_relation_size), WAL excluded"

    def bytes_on_disk(self, ctx: Ctx) -> int | None:
        import psycopg
        with psycopg.connect(self.pg.dsn, autocommit=True) as c:
            return c.execute("SELECT pg_total_relation_size('ohlcv_1min')").fetchone()[0]

    def server_pids(self) -> list[int]:
        pid = self.pg.postmaster_pid() if self.pg else None
        return [pid] if pid else []

    def pgbench_target(self) -> dict | None:
        return {"host": "127.0.0.1", "port": self.pg.port, "user": self.pg.user, "dbname": "postgres"}

    def close(self) -> None:
        if self.pg:
            self.pg.close()
