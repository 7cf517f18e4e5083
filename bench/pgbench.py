"""8-client pgbench of "last 100 bars" (-M simple and -M prepared) against a PostgreSQL-protocol server."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.sql import PgDialect


def pgbench_path() -> str | None:
    for cand in ("/usr/lib/postgresql/15/bin/pgbench", shutil.which("pgbench")):
        if cand and Path(cand).exists():
            return cand
    return None


def run_pgbench(target: dict, sym: str, mode: str, seconds: int, clients: int = 8, threads: int = 2,
                timeout: float | None = None) -> float:
    """Returns tps (excluding connection time). Raises RuntimeError with pgbench's message on failure."""
    exe = pgbench_path()
    if exe is None:
        raise RuntimeError("pgbench not found")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PgDialect().last_n(sym, 100) + ";\n")
        script = f.name
    try:
        cmd = [exe, "-n", "-h", target["host"], "-p", str(target["port"]), "-U", target["user"],
               "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-M", mode, "-f", script,
               target["dbname"]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or seconds * 3 + 30)
    finally:
        Path(script).unlink(missing_ok=True)
    m = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)",
                  r.stdout)
    if r.returncode != 0 or not m:
        lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
        raise RuntimeError("pgbench: " + (lines[-1] if lines else f"exit {r.returncode}"))
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    if failed and int(failed.group(1)) > 0:
        raise RuntimeError(f"pgbench: {failed.group(1)} failed transactions")
    return float(m.group(1))
