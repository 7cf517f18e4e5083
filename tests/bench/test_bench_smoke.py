"""Smoke test: the benchmark harness runs end to end on a tiny data set (1 symbol × 2 days).

No timing assertions: only that every system produced a value or a reported error, and the
outputs (JSON, text, markdown, charts) were written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    from bench import run
    from bench.pgserver import pg_bin

    systems = ["pgmkts", "hdf5", "arcticdb", "duckdb"]
    try:
        pg_bin()
        if shutil.which("runuser") or __import__("os").geteuid() != 0:
            systems.append("postgres")
    except RuntimeError:
        pass
    out = tmp_path / "results"
    rc = run.main(["--quick", "--days", "2", "--tick-days", "0.02", "--reps", "2", "--append-reps", "3",
                   "--budget", "2", "--timeout", "20", "--pgbench-seconds", "1", "--systems", ",".join(systems),
                   "--workdir", str(tmp_path / "work"), "--out", str(out),
                   "--summary", str(tmp_path / "RESULTS.md")])
    assert rc == 0
    data = json.loads((out / "latest.json").read_text())
    size = data["sizes"][0]
    assert size["rows"] == 2 * 1440
    results = size["results"]
    for name in ("hdf5", "arcticdb", "duckdb"):
        for wl in ("load", "month", "year", "last100", "latest_all", "candles_1", "append"):
            m = results[name][wl]
            assert m["error"] is None, (name, wl, m["error"])
            assert m["value"] > 0
    if "postgres" in systems:
        for wl in ("month", "last100", "latest_lateral"):
            for client in ("psycopg", "asyncpg", "adbc"):
                assert results[f"postgres/{client}"][wl]["error"] is None
        assert results["postgres/pgbench"]["pgbench_simple"]["value"] > 0
    # pgmkts may not support everything yet: each of its entries is a value or a reported error
    pg = {r: ws for r, ws in results.items() if r.startswith("pgmkts")}
    assert pg, "pgmkts produced neither results nor errors"
    for ws in pg.values():
        for m in ws.values():
            assert (m["value"] is not None) != (m["error"] is not None)
    assert size["goals"] and all("pass" in g for g in size["goals"])
    assert list(out.glob("*-table.png")) and list(out.glob("*.txt"))
    assert "## 1 symbols" in (tmp_path / "RESULTS.md").read_text()
