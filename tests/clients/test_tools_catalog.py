"""Real clients introspect a real server: psql's \\d family, SQLAlchemy inspect(), pandas, asyncpg and
psycopg type introspection, Grafana's metadata and macro-expanded queries."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess

import pytest

psycopg = pytest.importorskip("psycopg")

BUCKET = "CATT/1Min/OHLCV"
GROUP = "ohlcv_1min"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def srv(pgmkts_server):
    """The shared server with one bucket of 20 one-minute bars."""
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{BUCKET}" (epoch timestamptz, open real, high real, '
                     "low real, close real, volume bigint)")
        rows = [(T0 + dt.timedelta(minutes=i), 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 100 + i) for i in range(20)]
        with conn.cursor() as cur:
            cur.executemany(f'INSERT INTO "{BUCKET}" VALUES (%s, %s, %s, %s, %s, %s)', rows)
    return pgmkts_server


def psql(srv, *commands: str) -> str:
    exe = shutil.which("psql")
    if exe is None:
        pytest.fail("psql is not installed (Debian package postgresql-client)")
    args = [exe, "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(srv.port), "-U", "pgmkts", "pgmkts"]
    for c in commands:
        args += ["-c", c]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ERROR" not in out.stderr, out.stderr
    return out.stdout


def test_psql_list_databases_and_schemas(srv):
    out = psql(srv, r"\l")
    assert "pgmkts" in out and "UTF8" in out
    out = psql(srv, r"\dn")
    assert "public" in out and "pg_catalog" not in out


def test_psql_dt_and_d_list_buckets_and_groups(srv):
    for cmd in (r"\dt", r"\d"):
        out = psql(srv, cmd)
        assert BUCKET in out and GROUP in out and "table" in out


def test_psql_describe_bucket(srv):
    out = psql(srv, rf'\d+ "{BUCKET}"')
    assert f'Table "public.{BUCKET}"' in out
    for col, typ in (("epoch", "timestamp with time zone"), ("open", "real"), ("volume", "bigint")):
        assert any(col in line and typ in line for line in out.splitlines()), out
    out = psql(srv, rf"\d {GROUP}")
    assert "symbol" in out and "text" in out


def test_psql_df_and_expanded(srv):
    psql(srv, r"\df")
    out = psql(srv, r"\x", f'SELECT open, volume FROM "{BUCKET}" ORDER BY epoch LIMIT 1')
    assert "-[ RECORD 1 ]" in out and "volume | 100" in out


def test_sqlalchemy_inspect(srv):
    sa = pytest.importorskip("sqlalchemy")
    eng = sa.create_engine(f"postgresql+psycopg://pgmkts@127.0.0.1:{srv.port}/pgmkts")
    try:
        insp = sa.inspect(eng)
        assert "public" in insp.get_schema_names()
        tables = insp.get_table_names()
        assert BUCKET in tables and GROUP in tables
        cols = {c["name"]: c["type"] for c in insp.get_columns(BUCKET)}
        assert list(cols) == ["epoch", "open", "high", "low", "close", "volume"]
        assert isinstance(cols["epoch"], sa.TIMESTAMP) and cols["epoch"].timezone
        assert isinstance(cols["open"], sa.REAL) and isinstance(cols["volume"], sa.BIGINT)
        assert insp.get_pk_constraint(BUCKET)["constrained_columns"] == []
        assert insp.get_indexes(GROUP) == [] and insp.get_foreign_keys(GROUP) == []
        assert insp.has_table(GROUP) and not insp.has_table("no_such_table")
        assert insp.get_view_names() == []
    finally:
        eng.dispose()


def test_pandas_read_sql_and_to_sql_into_group(srv):
    pd = pytest.importorskip("pandas")
    sa = pytest.importorskip("sqlalchemy")
    eng = sa.create_engine(f"postgresql+psycopg://pgmkts@127.0.0.1:{srv.port}/pgmkts")
    try:
        df = pd.DataFrame({"symbol": ["PDX", "PDX"],
                           "epoch": pd.to_datetime(["2024-02-01 00:00", "2024-02-01 00:01"], utc=True),
                           "open": [1.0, 2.0], "high": [1.5, 2.5], "low": [0.5, 1.5], "close": [1.2, 2.2],
                           "volume": [10, 20]})
        df.to_sql(GROUP, eng, if_exists="append", index=False)
        back = pd.read_sql(f"SELECT * FROM {GROUP} WHERE symbol = 'PDX' ORDER BY epoch", eng)
        assert back["volume"].tolist() == [10, 20]
        assert str(back["epoch"].dt.tz) == "UTC"
        cat = pd.read_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", eng)
        assert "PDX/1Min/OHLCV" in cat["table_name"].tolist()
    finally:
        eng.dispose()


def test_asyncpg_type_introspection(srv):
    asyncpg = pytest.importorskip("asyncpg")

    async def go():
        conn = await asyncpg.connect(host="127.0.0.1", port=srv.port, user="pgmkts", database="pgmkts")
        try:
            # asyncpg has no built-in codecs for array types: name[] and the oid[] parameter make it run
            # its WITH RECURSIVE introspection query over pg_type/pg_range first
            assert await conn.fetchval("SELECT current_schemas(true)") == ["pg_catalog", "public"]
            types = await conn.fetch("SELECT oid, typname FROM pg_type WHERE oid = any($1::oid[]) ORDER BY oid",
                                     [23, 1184])
            assert [(r["oid"], r["typname"]) for r in types] == [(23, "int4"), (1184, "timestamptz")]
            await conn.set_type_codec("float4", schema="pg_catalog", encoder=str, decoder=lambda s: f"<{s}>",
                                      format="text")
            val = await conn.fetchval(f'SELECT open FROM "{BUCKET}" ORDER BY epoch LIMIT 1')
            assert val == "<10.0>" or val == "<10>"
        finally:
            await conn.close()

    asyncio.run(go())


def test_asyncpg_reads_acl_and_vector_columns(srv):
    asyncpg = pytest.importorskip("asyncpg")

    async def go():
        conn = await asyncpg.connect(host="127.0.0.1", port=srv.port, user="pgmkts", database="pgmkts")
        try:
            row = await conn.fetchrow("SELECT relname, relacl FROM pg_catalog.pg_class WHERE relname = $1", GROUP)
            assert row["relname"] == GROUP and row["relacl"] is None
            row = await conn.fetchrow("SELECT proargtypes FROM pg_proc WHERE proname = 'format_type'")
            assert list(row["proargtypes"]) == [26, 23]
        finally:
            await conn.close()

    asyncio.run(go())


def test_psycopg_typeinfo(srv):
    from psycopg.types import TypeInfo
    from psycopg.types.range import RangeInfo

    with psycopg.connect(srv.dsn) as conn:
        ti = TypeInfo.fetch(conn, "timestamptz")
        assert (ti.oid, ti.array_oid) == (1184, 1185)
        ti = TypeInfo.fetch(conn, "double precision")
        assert (ti.name, ti.oid, ti.array_oid) == ("float8", 701, 1022)
        ri = RangeInfo.fetch(conn, "tstzrange")
        assert ri.subtype_oid == 1184
        assert TypeInfo.fetch(conn, "no_such_type") is None


GRAFANA_META = [
    "SELECT current_setting('server_version_num')::int/100 as version",
    "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'",
    """SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
       WHERE quote_ident(table_schema) = 'public' ORDER BY 1""",
]


def _grafana_schema_query(table: str) -> str:
    in_path = """quote_ident(table_schema) IN (
          SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)) as i,
            string_to_array(current_setting('search_path'),',') s)"""
    lit = "'" + table.replace("'", "''") + "'"
    return f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE CASE WHEN array_length(parse_ident({lit}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({lit}))[1]
          AND quote_ident(table_name) = (parse_ident({lit}))[2]
        ELSE quote_ident(table_name) = {lit} AND {in_path} END"""


def test_grafana_metadata_queries(srv):
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        assert conn.execute(GRAFANA_META[0]).fetchone()[0] >= 1000
        assert conn.execute(GRAFANA_META[1]).fetchall() == []
        tables = [r[0] for r in conn.execute(GRAFANA_META[2])]
        assert f'"{BUCKET}"' in tables and GROUP in tables
        cols = conn.execute(_grafana_schema_query(f'"{BUCKET}"')).fetchall()
        assert cols[:2] == [("epoch", "timestamp with time zone"), ("open", "real")]
        cols = conn.execute(_grafana_schema_query(GROUP)).fetchall()
        assert cols[0] == ("symbol", "text")


def test_grafana_macro_expanded_queries(srv):
    window = "epoch BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T00:19:59Z'"
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        # $__timeGroupAlias(epoch,5m) as Grafana expands it for plain PostgreSQL
        rows = conn.execute(f"""SELECT floor(extract(epoch from epoch)/300)*300 AS "time", max(high) AS high
            FROM "{BUCKET}" WHERE {window} GROUP BY 1 ORDER BY 1""").fetchall()
        assert [float(r[1]) for r in rows] == [15.0, 20.0, 25.0, 30.0]
        # ... and with the TimescaleDB option on
        rows = conn.execute(f"""SELECT time_bucket('300s', epoch) AS "time", sum(volume) AS v
            FROM "{BUCKET}" WHERE {window} GROUP BY 1 ORDER BY 1""").fetchall()
        assert rows[0][0] == T0 and [r[1] for r in rows] == [510, 535, 560, 585]


def test_pooler_and_driver_session_statements(srv):
    """What pgbouncer/HikariCP/JDBC pools send between clients, over the wire."""
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        for sql in ("SELECT 1", "-- ping", "DISCARD ALL", "RESET ALL", "CLOSE ALL", "UNLISTEN *",
                    "SELECT pg_advisory_unlock_all()",
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                    "BEGIN ISOLATION LEVEL READ COMMITTED", "COMMIT", "SET extra_float_digits = 3",
                    "SET application_name = 'PostgreSQL JDBC Driver'"):
            conn.execute(sql)
        assert conn.execute("SHOW application_name").fetchone() == ("PostgreSQL JDBC Driver",)
        assert conn.execute("SHOW transaction isolation level").fetchone() == ("read committed",)
        assert conn.execute("SELECT current_setting('extra_float_digits')").fetchone() == ("3",)
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == conn.info.backend_pid
