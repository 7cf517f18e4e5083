"""Go's pgx v4 and lib/pq against the real server, built in GOPATH mode from Debian's packages
(golang-go, golang-github-jackc-pgx-v4-dev, golang-github-lib-pq-dev; `make sysdeps` installs them).

Each probe (tests/clients/go/*/main.go) prints one JSON object per step: version(), a bucket query
with timestamptz/real/double results and a timestamptz parameter, a prepared statement run 7 times,
the same ad-hoc query 7 times (pgx's statement cache), a parameterized INSERT read back, the group
table by symbol, 42P01 for an unknown table, a rolled-back transaction, COPY FROM STDIN, = ANY($1)
with Go slices; pgx also a pipelined batch and its simple protocol."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import psycopg
import pymarketstore as pymkts
import pytest

HERE = Path(__file__).parent / "go"
GOPATH = Path("/usr/share/gocode")
SOURCES = {"pgx_probe": GOPATH / "src/github.com/jackc/pgx/v4", "libpq_probe": GOPATH / "src/github.com/lib/pq"}
PACKAGES = "golang-go golang-github-jackc-pgx-v4-dev golang-github-lib-pq-dev"
BUCKET = '"GOTEST/1Min/OHLCV"'
T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, Path]:
    """Both probes, built once (GOPATH mode, GOCACHE kept under /tmp so later runs take ~0.2 s)."""
    go = shutil.which("go")
    absent = [str(p) for p in SOURCES.values() if not p.is_dir()]
    if go is None or absent:
        pytest.fail(f"Go driver tests need the Debian packages {PACKAGES} (run `make sysdeps` or, as root, "
                    f"apt-get install --no-install-recommends {PACKAGES}); "
                    f"{'go is not on PATH' if go is None else 'missing ' + ', '.join(absent)}")
    out_dir = tmp_path_factory.mktemp("go-probes")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": "",
           "GOCACHE": os.path.join(tempfile.gettempdir(), "pgmkts-go-cache")}
    built = {}
    for name in SOURCES:
        exe = out_dir / name
        res = subprocess.run([go, "build", "-o", str(exe), "main.go"], cwd=HERE / name, env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"go build {name} failed:\n{res.stdout}{res.stderr}"
        built[name] = exe
    return built


@pytest.fixture(scope="module")
def dsn(pgmkts_server) -> str:
    """GOTEST/1Min/OHLCV: 10 rows from 2024-01-02 00:00, open i+0.5, close i+0.25, volume 100*i."""
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {BUCKET} (epoch timestamptz, open real, high real, low real, close real, "
                  "volume bigint)")
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO {BUCKET} (epoch, open, high, low, close, volume) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            [(T0 + dt.timedelta(minutes=i), i + 0.5, i + 1, i - 1, i + 0.25, 100 * i)
                             for i in range(10)])
    return pgmkts_server.dsn


def run(exe: Path, dsn: str, *args: str) -> dict:
    res = subprocess.run([str(exe), dsn, *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"{exe.name} failed: {res.stderr}\nstdout:\n{res.stdout}"
    out = {}
    for line in res.stdout.splitlines():
        obj = json.loads(line)
        out[obj["step"]] = obj.get("value", {"error": obj.get("error")})
    return out


SELECT = [["2024-01-02T00:02:00Z", 2.25, 4.5], ["2024-01-02T00:03:00Z", 3.25, 6.5],
          ["2024-01-02T00:04:00Z", 4.25, 8.5]]
COMMON = {
    "select": SELECT,
    "prepared": [0.25, 1.25, 2.25, 3.25, 4.25, 5.25, 6.25],
    "cached": [0, 100, 200, 300, 400, 500, 600],
    "group": [["GOTEST", "2024-01-02T00:00:00Z"], ["GOTEST", "2024-01-02T00:01:00Z"]],
    "error": "42P01",
    "after_error": 42,
    "rollback": 0,
    "any": [100, 300],
}


def check_version(out: dict) -> None:
    assert out.pop("version").startswith("PostgreSQL 15")


def test_pgx(probes, dsn):
    out = run(probes["pgx_probe"], dsn)
    check_version(out)
    assert out == {**COMMON,
                   "insert": "INSERT 0 1",
                   "readback": ["2030-01-01T00:00:00Z", 2.25, 4242],
                   "batch": [700, 800, 900],
                   "copy": [3, 3, 3],          # rows copied, then count and sum(volume) read back
                   "simple": ["2024-01-02T00:05:00Z", 5.25],
                   "any_symbol": ["GOTEST", 10]}


def test_libpq(probes, dsn):
    out = run(probes["libpq_probe"], dsn)
    check_version(out)
    assert out == {**COMMON,
                   "insert": 1,
                   "readback": ["2030-01-01T00:01:00Z", 3.25, 4343],
                   "copy": [3, 33],
                   "zoned": ["2024-01-02T00:05:00Z", 5.25],
                   "any_epoch": [100, 300]}


# ---- queries the probes run as a separate "gaps" step (formerly known gaps, now fixed) ----

@pytest.fixture(scope="module")
def gaps(probes, dsn) -> dict:
    return {name: run(exe, dsn, "gaps") for name, exe in probes.items()}


def test_pgx_interval_result(gaps):
    assert gaps["pgx_probe"]["interval"] == "1m30s"


def test_libpq_interval_result(gaps):
    assert gaps["libpq_probe"]["interval"] == "00:01:30"


def test_libpq_symbol_any_text_array(gaps):
    assert gaps["libpq_probe"]["any_symbol"] == ["GOTEST", 10]


def test_group_table_mixed_case_columns(pgmkts_server):
    """Own group (gomix_1min) so the shared ohlcv_1min stays as it is."""
    a = np.zeros(2, dtype=[("Epoch", "i8"), ("Open", "f4"), ("Volume", "i8")])
    a["Epoch"] = [1704153600, 1704153660]
    a["Open"] = [1.5, 2.5]
    a["Volume"] = [7, 8]
    assert not (pymkts.Client(pgmkts_server.rpc_url).write(a, "AGOMIX/1Min/GOMIX") or {}).get("responses")
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute('CREATE TABLE "BGOMIX/1Min/GOMIX" (epoch timestamptz, open real, volume bigint)')
        c.execute("""INSERT INTO "BGOMIX/1Min/GOMIX" VALUES ('2024-01-02 00:00+00', 3.5, 9)""")
        rows = c.execute("SELECT symbol, open, volume FROM gomix_1min ORDER BY symbol, epoch").fetchall()
    assert rows == [("AGOMIX", 1.5, 7), ("AGOMIX", 2.5, 8), ("BGOMIX", 3.5, 9)]
