"""Golden plan tests: for each rule, SQL in (golden/<rule>.sql) → EXPLAIN text out (<rule>.plan).

Regenerate after an intended change with PGMKTS_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os

import pytest

from tests.planner.conftest import run

HERE = os.path.join(os.path.dirname(__file__), "golden")
RULES = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".sql"))
SEP = "\n====\n"


def _plans(session, rule: str) -> str:
    out = []
    for sql in open(os.path.join(HERE, f"{rule}.sql")).read().splitlines():
        if not sql.strip():
            continue
        _f, rows = run(session, "EXPLAIN " + sql)
        out.append(sql + "\n----\n" + "\n".join(r[0] for r in rows))
    return SEP.join(out) + "\n"


@pytest.mark.parametrize("rule", RULES)
def test_golden_plans(session, rule):
    got = _plans(session, rule)
    path = os.path.join(HERE, f"{rule}.plan")
    if os.environ.get("PGMKTS_UPDATE_GOLDEN") or not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(got)
    want = open(path).read()
    for g, w in zip(got.split(SEP), want.split(SEP), strict=True):
        assert g.strip() == w.strip()
