"""node-postgres (pg 8) against the real server: version(), information_schema and pg_type with an
oid[] parameter. Needs `node` and `npm install` run in tests/clients/node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "node"


def test_node_postgres_catalog(pgmkts_server):
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "pg").is_dir():
        pytest.skip("needs node and `npm install` in tests/clients/node (node-postgres)")
    out = subprocess.run([node, str(HERE / "probe.js"), str(pgmkts_server.port), "pgmkts", "pgmkts"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["version"] == "PostgreSQL"
    assert json.loads(lines["types"]) == [{"oid": 23, "typname": "int4", "typarray": 1007},
                                          {"oid": 1184, "typname": "timestamptz", "typarray": 1185}]
    assert json.loads(lines["schemas"]) == "{pg_catalog,public}"
    assert isinstance(json.loads(lines["tables"]), list)
