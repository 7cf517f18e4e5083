"""`pgmkts connect` against a real server (--url) and a data directory (--dir); SIGTERM shutdown and
restart of a real server."""

from __future__ import annotations

import signal

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from pgmkts.cli import main
from pgmkts.storage import Engine
from tests.support.server import free_port, start_server

T0 = 1704153600  # 2024-01-02 00:00:00 UTC


def _connect(*args: str):
    return CliRunner().invoke(main, ["connect", *args])


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    with Engine(root) as eng:
        eng.write("AAPL/1Min/OHLCV", {"Epoch": T0 + 60 * np.arange(3, dtype=np.int64),
                                      "Close": np.array([1.5, 2.5, 3.5]),
                                      "Volume": np.array([10, 20, 30], dtype=np.int64)})
    return root


def test_connect_dir(data_dir):
    r = _connect("--dir", str(data_dir), "-c", 'SELECT close, volume FROM "AAPL/1Min/OHLCV" ORDER BY epoch')
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[2:] == ["1.5   | 10    ", "2.5   | 20    ", "3.5   | 30    ", "(3 rows)"]
    # an empty result, repeated column names, several statements
    r = _connect("--dir", str(data_dir), "-c", 'SELECT close FROM "AAPL/1Min/OHLCV" WHERE false; '
                 "SELECT 1 AS a, 2 AS a")
    assert r.exit_code == 0, r.output
    assert "(0 rows)" in r.stdout and "1 | 2" in r.stdout
    # a failing statement: the error on stderr, exit status 1 (as psql -c)
    r = _connect("--dir", str(data_dir), "-c", "SELECT * FROM nosuch")
    assert r.exit_code == 1
    assert "ERROR: 42P01" in r.stderr


def test_connect_url_sigterm_and_restart(data_dir):
    srv = start_server(data_dir)
    try:
        url = f"127.0.0.1:{srv.port}"
        r = _connect("--url", url, "-c", 'SELECT close, volume FROM "AAPL/1Min/OHLCV" ORDER BY epoch')
        assert r.exit_code == 0, r.output
        assert r.stdout.splitlines()[-1] == "(3 rows)" and "2.5" in r.stdout
        r = _connect("--url", url, "-c", 'SELECT close FROM "AAPL/1Min/OHLCV" WHERE false')
        assert r.exit_code == 0 and "(0 rows)" in r.stdout, r.output
        r = _connect("--url", url, "-c", "SELECT * FROM nosuch")
        assert r.exit_code == 1 and "ERROR: 42P01" in r.stderr, r.output
        r = _connect("--url", url, "-c",
                     f'INSERT INTO "AAPL/1Min/OHLCV" (epoch, close, volume) VALUES (to_timestamp({T0 + 600}), 9.5, 90)')
        assert r.exit_code == 0 and "INSERT 0 1" in r.stdout, r.output

        idle = psycopg.connect(srv.dsn, autocommit=True)  # a session open across the shutdown
        idle.execute("SELECT 1")
        assert srv.stop(signal.SIGTERM) == 0, "".join(srv.output)
        out = "".join(srv.output)
        assert "pgmkts stopped" in out and "Traceback" not in out, out
        with pytest.raises(psycopg.errors.AdminShutdown):  # 57P01, as PostgreSQL's fast shutdown
            idle.execute("SELECT 1")
        idle.close()

        srv.start()  # same root, same ports: the data survives
        r = _connect("--url", url, "-c", 'SELECT count(*), max(close) FROM "AAPL/1Min/OHLCV"')
        assert r.exit_code == 0, r.output
        assert r.stdout.splitlines()[2].split(" | ") == ["4    ", "9.5"]
    finally:
        srv.stop()


def test_connect_url_errors_are_one_line():
    r = _connect("--url", f"127.0.0.1:{free_port()}", "-c", "SELECT 1")
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "cannot connect" in r.stderr
    r = _connect("--url", "localhost", "-c", "SELECT 1")
    assert r.exit_code == 2 and "HOST:PORT" in r.stderr


def test_connect_dir_reads_statements_from_stdin(data_dir):
    script = 'SELECT count(*) AS n\n  FROM "AAPL/1Min/OHLCV";\nSELECT 1 AS one WHERE false;\n\\q\nSELECT 2;\n'
    r = CliRunner().invoke(main, ["connect", "--dir", str(data_dir)], input=script)
    assert r.exit_code == 0, r.output
    assert r.stdout.split("\n")[:4] == ["n", "-", "3", "(1 row)"]
    assert "one" in r.stdout and "(0 rows)" in r.stdout and "2" not in r.stdout.split("(0 rows)")[1]
