"""psql against the real server: -c, -f, \\copy both ways, errors with ON_ERROR_STOP."""

from __future__ import annotations

import shutil
import subprocess

import pytest

TBK = '"PSQL/1Min/OHLCV"'


def psql(srv, *args, input_text=None):
    if shutil.which("psql") is None:
        pytest.fail("psql is not on PATH")
    cmd = ["psql", "-X", "-h", "127.0.0.1", "-p", str(srv.port), "-U", "pgmkts", "-d", "pgmkts",
           "-v", "ON_ERROR_STOP=1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, input=input_text, timeout=60)


def test_psql_c_f_and_copy(pgmkts_server, tmp_path):
    r = psql(pgmkts_server, "-c", f"CREATE TABLE {TBK} (epoch timestamptz, open real, close double precision, "
                                  "volume bigint)")
    assert r.returncode == 0, r.stderr
    src = tmp_path / "in.csv"
    src.write_text("".join(f"2024-01-0{d} 00:00:00+00,{d}.5,{d}.25,{d * 100}\n" for d in range(1, 6)))
    r = psql(pgmkts_server, "-c", f"\\copy {TBK} (epoch, open, close, volume) from '{src}' with (format csv)")
    assert r.returncode == 0 and "COPY 5" in r.stdout, r.stderr
    script = tmp_path / "q.sql"
    script.write_text(f"SELECT count(*) AS n, sum(volume) AS v FROM {TBK};\n"
                      f"SELECT close FROM {TBK} ORDER BY epoch DESC LIMIT 1;\n")
    r = psql(pgmkts_server, "-A", "-t", "-f", str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["5|1500", "5.25"]
    out = tmp_path / "out.csv"
    r = psql(pgmkts_server, "-c", f"\\copy (SELECT epoch, volume FROM {TBK} ORDER BY epoch) to '{out}' csv header")
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "epoch,volume" and lines[1] == "2024-01-01 00:00:00+00,100" and len(lines) == 6


def test_psql_error_exit_code_and_describe(pgmkts_server):
    r = psql(pgmkts_server, "-c", "SELECT * FROM no_such_bucket_here")
    assert r.returncode != 0 and "does not exist" in r.stderr
    r = psql(pgmkts_server, "-c", "\\dt")
    assert r.returncode == 0, r.stderr
    r = psql(pgmkts_server, "-A", "-t", "-c", "SELECT 1.5::float4, 0.1::float8, 1e20::float8, 'NaN'::float8")
    assert r.stdout.strip() == "1.5|0.1|1e+20|NaN"
