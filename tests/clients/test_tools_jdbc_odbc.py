"""pgjdbc (DatabaseMetaData, as DBeaver/Metabase use it) and psqlODBC (pyodbc catalog functions) against
the real server. They need Debian packages: default-jdk-headless + libpostgresql-jdbc-java, and
unixodbc + odbc-postgresql (plus the pyodbc wheel)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

BUCKET = "JDBC/1Min/OHLCV"
JAR = Path("/usr/share/java/postgresql.jar")
PROBE = Path(__file__).parent / "java" / "JdbcProbe.java"


@pytest.fixture(scope="module")
def srv(pgmkts_server):
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{BUCKET}" (epoch timestamptz, open real, high real, '
                     "low real, close real, volume bigint)")
        conn.execute(f'INSERT INTO "{BUCKET}" VALUES (%s, 1.0, 2.0, 0.5, 1.5, 10)',
                     (dt.datetime(2024, 1, 1, tzinfo=dt.UTC),))
    return pgmkts_server


def test_pgjdbc_metadata(srv):
    java = shutil.which("java")
    if java is None or not JAR.exists():
        pytest.skip("needs Debian packages default-jdk-headless and libpostgresql-jdbc-java")
    out = subprocess.run([java, "-cp", str(JAR), str(PROBE), f"jdbc:postgresql://127.0.0.1:{srv.port}/pgmkts",
                          "pgmkts", BUCKET], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("product PostgreSQL") for line in lines)
    assert "schema public" in lines
    assert f"table {BUCKET} TABLE" in lines and "table ohlcv_1min TABLE" in lines
    cols = [line.split()[1:] for line in lines if line.startswith("column ")]
    assert cols == [["epoch", "93", "timestamptz"], ["open", "7", "float4"], ["high", "7", "float4"],
                    ["low", "7", "float4"], ["close", "7", "float4"], ["volume", "-5", "int8"]]
    assert not any(line.startswith("pk ") for line in lines)
    assert "row 2024-01-01 00:00:00.0 1.0 10" in lines
    assert "prep 1.0" in lines


def test_psqlodbc_catalog_functions(srv):
    pyodbc = pytest.importorskip("pyodbc")
    if "PostgreSQL Unicode" not in pyodbc.drivers():
        pytest.skip("needs Debian packages unixodbc and odbc-postgresql")
    conn = pyodbc.connect(f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={srv.port};DATABASE=pgmkts;"
                          "UID=pgmkts;PWD=x", autocommit=True)
    try:
        cur = conn.cursor()
        tables = [r.table_name for r in cur.tables(schema="public")]
        assert BUCKET in tables and "ohlcv_1min" in tables
        cols = [(r.column_name, r.type_name) for r in cur.columns(table=BUCKET)]
        assert cols == [("epoch", "timestamptz"), ("open", "float4"), ("high", "float4"), ("low", "float4"),
                        ("close", "float4"), ("volume", "int8")]
        cur.execute(f'SELECT epoch, volume FROM "{BUCKET}" ORDER BY epoch LIMIT 1')
        assert cur.fetchall()[0][1] == 10
    finally:
        conn.close()
