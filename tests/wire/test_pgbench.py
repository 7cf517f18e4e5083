"""pgbench with a custom "last 100 bars" script in each query mode (a couple of seconds each)."""

from __future__ import annotations

import re
import shutil
import subprocess

import psycopg
import pytest

TBK = '"PGB/1Min/OHLCV"'


@pytest.fixture(scope="module")
def script(pgmkts_server, tmp_path_factory):
    if shutil.which("pgbench") is None:
        pytest.fail("pgbench is not on PATH")
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {TBK} (epoch timestamptz, open real, high real, low real, close real, volume bigint)")
        c.execute(f"INSERT INTO {TBK} SELECT to_timestamp(1704067200 + g * 60), g, g + 1, g - 1, g, g "
                  "FROM generate_series(0, 4999) AS g")
    path = tmp_path_factory.mktemp("pgbench") / "last100.sql"
    path.write_text("\\set n random(50, 100)\n"
                    f"SELECT epoch, open, high, low, close, volume FROM {TBK} ORDER BY epoch DESC LIMIT :n;\n")
    return path


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_modes(pgmkts_server, script, mode):
    r = subprocess.run(["pgbench", "-n", "-h", "127.0.0.1", "-p", str(pgmkts_server.port), "-U", "pgmkts",
                        "-M", mode, "-c", "4", "-j", "2", "-T", "2", "-f", str(script), "pgmkts"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"number of failed transactions: 0\b", r.stdout), r.stdout
    processed = int(re.search(r"number of transactions actually processed: (\d+)", r.stdout).group(1))
    assert processed > 0
