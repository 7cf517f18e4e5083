"""Differential suite: every query in diff_queries.sql against pgmkts and a real PostgreSQL 15
holding the same rows; names, types and values must agree (floats with a tolerance, row order
only where the query has a top-level ORDER BY)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import re

import pytest

from tests.planner.conftest import run

HERE = os.path.dirname(__file__)
QUERIES = [ln.strip() for ln in open(os.path.join(HERE, "diff_queries.sql"))
           if ln.strip() and not ln.startswith("--")]

# type classes: PostgreSQL gives numeric where pgmkts computes in int8/float8 (sum(bigint), avg)
_CLASS = {20: "int", 21: "int", 23: "int", 700: "float4", 701: "float", 1700: "num", 25: "text",
          1043: "text", 19: "text", 16: "bool", 1184: "ts", 1114: "ts_naive", 1082: "date",
          1186: "interval", 705: "text"}
_EQUIV = [{"num", "float"}, {"num", "int"}]


def _same_type(a: int, b: int) -> bool:
    ca, cb = _CLASS.get(a, str(a)), _CLASS.get(b, str(b))
    return ca == cb or {ca, cb} in _EQUIV


def _norm(v):
    if isinstance(v, dt.timedelta):
        # pgmkts sends intervals as PostgreSQL's interval text; compare in that form
        from pgmkts.planner.exec.values import Interval
        return Interval(0, v.days, v.seconds * 1_000_000 + v.microseconds).text()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.UTC)
    return v


def _eq(a, b) -> bool:
    a, b = _norm(a), _norm(b)
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if isinstance(a, bool) or isinstance(b, bool):
            return a == b
        if math.isnan(float(a)) and math.isnan(float(b)):
            return True
        return math.isclose(float(a), float(b), rel_tol=2e-6, abs_tol=1e-6)
    return a == b


def _sort_key(row):
    return tuple((x is None, str(_norm(x))) for x in row)


def _has_top_order(sql: str) -> bool:
    # a top-level ORDER BY: after the last closing parenthesis
    tail = sql[sql.rfind(")") + 1:] if ")" in sql else sql
    return bool(re.search(r"\border\s+by\b", tail, re.I)) or (
        bool(re.search(r"\border\s+by\b", sql, re.I)) and not re.search(r"\bfrom\s*\(", sql, re.I)
        and "OVER" not in sql.upper())


@pytest.mark.parametrize("sql", QUERIES)
def test_same_as_postgres(sql, session, oracle):
    with oracle.connect() as conn:
        cur = conn.execute(sql)
        pg_names = [d.name for d in cur.description]
        pg_types = [d.type_code for d in cur.description]
        pg_rows = [tuple(r) for r in cur.fetchall()]
    fields, rows = run(session, sql)
    assert [f.name for f in fields] == pg_names, "column names differ"
    for f, t in zip(fields, pg_types, strict=True):
        assert _same_type(f.type_oid, t), f"type of {f.name}: pgmkts {f.type_oid}, PostgreSQL {t}"
    assert len(rows) == len(pg_rows), f"row count: pgmkts {len(rows)}, PostgreSQL {len(pg_rows)}"
    if not _has_top_order(sql):
        rows = sorted(rows, key=_sort_key)
        pg_rows = sorted(pg_rows, key=_sort_key)
    for i, (r, p) in enumerate(zip(rows, pg_rows, strict=True)):
        assert all(_eq(a, b) for a, b in zip(r, p, strict=True)), f"row {i}: pgmkts {r} != PostgreSQL {p}"


TZ_QUERIES = [
    "SELECT '2024-07-01 09:30'::timestamptz",
    "SELECT date_trunc('day', timestamptz '2024-03-10 12:00:00+00')",
    "SELECT date_trunc('hour', timestamptz '2024-11-03 06:30:00+00')",
    "SELECT extract(hour FROM timestamptz '2024-03-10 12:00:00+00') AS h, extract(day FROM timestamptz '2024-03-10 03:00:00+00') AS d",
    "SELECT timestamptz '2024-03-09 12:00+00' + interval '1 day', timestamptz '2024-11-02 12:00+00' + interval '1 day 1 hour'",
    "SELECT timestamptz '2024-01-31 12:00+00' + interval '1 month'",
    "SELECT date_trunc('day', epoch) AS d, count(*) FROM \"AAPL/1Min/OHLCV\" GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM \"AAPL/1Min/OHLCV\" WHERE epoch >= '2024-01-02 19:00' AND epoch < '2024-01-03 00:00'",
    "SELECT extract(hour FROM epoch) AS h, count(*) FROM ohlcv_1min WHERE symbol = 'SPY' GROUP BY 1 ORDER BY 1",
]


@pytest.mark.parametrize("sql", TZ_QUERIES)
def test_same_as_postgres_in_new_york(sql, engine, oracle):
    from pgmkts.planner.session import Session
    s = Session(engine)
    list(s.execute("SET TIME ZONE 'America/New_York'"))
    with oracle.connect() as conn:
        conn.execute("SET TIME ZONE 'America/New_York'")
        pg_rows = [tuple(r) for r in conn.execute(sql).fetchall()]
    _fields, rows = run(s, sql)
    assert len(rows) == len(pg_rows)
    for r, p in zip(rows, pg_rows, strict=True):
        assert all(_eq(a, b) for a, b in zip(r, p, strict=True)), f"pgmkts {r} != PostgreSQL {p}"
