"""A throw-away PostgreSQL 15 server for differential tests and benchmarks.

Runs initdb + pg_ctl as the `postgres` user (PostgreSQL refuses root) in a temporary directory,
on a free TCP port on 127.0.0.1 with its unix socket in the same directory. `pg_ctl -w` polls
until the server accepts connections.

    with PgOracle() as pg:
        conn = pg.connect()          # psycopg connection, autocommit
        pg.dsn                       # "host=127.0.0.1 port=... user=postgres dbname=postgres"
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")

# TimescaleDB's time_bucket and first/last, as plain SQL, so queries run unchanged on both sides
HELPERS_SQL = r"""
CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT date_bin(bucket_width, ts,
    CASE WHEN bucket_width < interval '7 days' AND 86400000000::bigint
                % (extract(epoch from bucket_width) * 1000000)::bigint = 0
         THEN timestamptz '1970-01-01 00:00:00+00' ELSE timestamptz '2000-01-03 00:00:00+00' END)
$$;
"""

# first/last need a composite state; defining them per value type keeps plain SQL sufficient
_FL_TYPES = ["double precision", "real", "bigint", "integer", "smallint", "text", "numeric",
             "timestamptz", "boolean"]


def _first_last_sql() -> str:
    out = []
    for i, t in enumerate(_FL_TYPES):
        st = f"_fl{i}"
        out.append(f"""
DROP TYPE IF EXISTS {st} CASCADE;
CREATE TYPE {st} AS (v {t}, t timestamptz);
CREATE FUNCTION {st}_first(s {st}, v {t}, t timestamptz) RETURNS {st} LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t IS NULL THEN s
              WHEN s IS NULL OR (s).t IS NULL OR t < (s).t THEN ROW(v, t)::{st} ELSE s END $$;
CREATE FUNCTION {st}_last(s {st}, v {t}, t timestamptz) RETURNS {st} LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t IS NULL THEN s
              WHEN s IS NULL OR (s).t IS NULL OR t >= (s).t THEN ROW(v, t)::{st} ELSE s END $$;
CREATE FUNCTION {st}_final(s {st}) RETURNS {t} LANGUAGE sql IMMUTABLE AS $$ SELECT (s).v $$;
CREATE AGGREGATE first({t}, timestamptz) (sfunc = {st}_first, stype = {st}, finalfunc = {st}_final);
CREATE AGGREGATE last({t}, timestamptz) (sfunc = {st}_last, stype = {st}, finalfunc = {st}_final);
""")
    return "\n".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgOracle:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="pgoracle-")
        self.data = os.path.join(self.dir, "data")
        self.host = "127.0.0.1"
        self.started = False

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user=postgres dbname=postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {res.stdout}\n{res.stderr}")

    def start(self) -> PgOracle:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(f"{PG_BIN}/initdb", "-D", self.data, "--locale=C", "-E", "UTF8", "--auth=trust",
                  "-U", "postgres")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC "
                "-c shared_buffers=64MB -c max_connections=20")
        self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"),
                  "-w", "-t", "60", "start")
        self.started = True
        with self.connect() as conn:
            conn.execute(_first_last_sql())
            conn.execute(HELPERS_SQL)
        return self

    def connect(self, **kw):
        import psycopg
        return psycopg.connect(self.dsn, autocommit=True, **kw)

    def stop(self) -> None:
        if self.started:
            try:
                self._run(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            finally:
                self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgOracle:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
