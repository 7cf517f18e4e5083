"""Every catalog query captured from real clients (tests/catalog/queries/*.sql) runs in-process and
returns the column names and type OIDs PostgreSQL 15 returned for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgmkts.planner import compat
from pgmkts.planner.catalog import describe_query, run_query
from pgmkts.planner.types import oid_of

QUERIES = sorted((Path(__file__).parent / "queries").glob("*.sql"))


def load(path: Path) -> tuple[dict, str]:
    meta, body = {}, []
    for line in path.read_text().splitlines():
        if not body and line.startswith("-- ") and ":" in line:
            k, _, v = line[3:].partition(":")
            meta[k.strip()] = v.strip()
        else:
            body.append(line)
    return meta, "\n".join(body)


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_matches_postgres_shape(path, ctx):
    meta, sql = load(path)
    expected = [tuple(c) for c in json.loads(meta["columns"])]
    params = json.loads(meta["params"])
    tree = compat.parse(sql)[0]
    assert compat.is_catalog_query(tree)
    table = run_query(tree, ctx, params)
    got = [(f.name, oid_of(f.type, f.metadata)) for f in table.schema]
    assert got == expected
    fields, ptypes = describe_query(tree)
    assert [(f.name, oid_of(f.type, f.metadata)) for f in fields] == expected
    assert len(ptypes) == len(params)
