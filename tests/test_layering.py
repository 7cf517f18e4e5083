"""Imports point down only (DESIGN.md): storage knows nothing above it, and so on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pgmkts"

# package → packages it must never import
FORBIDDEN = {
    "storage": {"wire", "planner", "rpc", "uda", "plugins", "server", "cli", "replication"},
    "uda": {"wire", "planner", "rpc", "server", "cli"},
    "planner": {"wire", "rpc", "server", "cli"},
    "wire": {"rpc", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return {m.split(".")[1] for m in out if m.startswith("pgmkts.") and m.count(".") >= 1}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down(layer):
    bad = []
    for f in sorted((PKG / layer).rglob("*.py")):
        hit = _imports(f) & FORBIDDEN[layer]
        if hit:
            bad.append(f"{f.relative_to(PKG)} imports {sorted(hit)}")
    assert not bad, "\n".join(bad)
