"""Fast path for bulk `INSERT INTO t [(cols)] VALUES (...), (...)` of plain literals.

sqlglot needs ~0.3 ms per row of a big VALUES list; this regex tokenizer reads literals, NULL,
booleans, $n parameters and to_timestamp(n) straight into column lists, so a 10k-row INSERT is
parsed in tens of milliseconds. Anything else returns None and the statement takes the sqlglot path.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.types import TS

_HEAD = re.compile(
    r'^\s*insert\s+into\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)\s*'
    r'(\((?:\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*,?)+\))?\s*values\s*', re.I | re.S)
_TOK = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<tots>to_timestamp\s*\(\s*(?P<tsnum>[-+]?\d+(?:\.\d*)?)\s*\))
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<kw>null|true|false)\b
  | (?P<param>\$\d+)
  | (?P<cast>::\s*(?:timestamptz|timestamp|text|real|float4|float8|double\s+precision|int|int2|int4|int8|
                  integer|bigint|smallint|numeric|boolean|bool))
  | (?P<p>[(),;])
  | (?P<end>$)
)""", re.I | re.X)

_TS_MARK = object()


class _Cell:
    __slots__ = ("ts",)

    def __init__(self, ts: float) -> None:
        self.ts = ts


def parse_insert(sql: str, params: list) -> tuple[str, list[str] | None, Frame] | None:
    """(target text, column names or None, frame of values) or None when not a plain VALUES insert."""
    m = _HEAD.match(sql)
    if m is None:
        return None
    target = m.group(1)
    cols = None
    if m.group(2):
        cols = [c.strip() for c in m.group(2).strip()[1:-1].split(",")]
        cols = [c[1:-1].replace('""', '"') if c.startswith('"') else c.lower() for c in cols]
    rows: list[list] = []
    pos = m.end()
    row: list | None = None
    expect_value = False
    n = len(sql)
    while pos <= n:
        t = _TOK.match(sql, pos)
        if t is None:
            return None
        pos = t.end()
        kind = t.lastgroup
        if kind == "end" or (kind == "p" and t.group("p") == ";"):
            if row is not None:
                return None
            rest = sql[pos:].strip()
            if rest and rest != ";":
                return None
            break
        if kind == "p":
            ch = t.group("p")
            if ch == "(":
                if row is not None:
                    return None
                row, expect_value = [], True
            elif ch == ")":
                if row is None or expect_value and row:
                    return None
                rows.append(row)
                row = None
            elif ch == ",":
                if row is not None:
                    expect_value = True
            continue
        if row is None:
            return None
        if kind == "cast":
            continue  # the value is converted to the column's type anyway
        if not expect_value:
            return None
        expect_value = False
        if kind == "str":
            row.append(t.group("str")[1:-1].replace("''", "'"))
        elif kind == "num":
            txt = t.group("num")
            row.append(float(txt) if ("." in txt or "e" in txt or "E" in txt) else int(txt))
        elif kind == "tots":
            row.append(_Cell(float(t.group("tsnum"))))
        elif kind == "kw":
            w = t.group("kw").lower()
            row.append(None if w == "null" else w == "true")
        elif kind == "param":
            i = int(t.group("param")[1:]) - 1
            if i >= len(params):
                return None
            row.append(params[i])
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    width = len(rows[0])
    arrays = []
    for j in range(width):
        vals = [r[j] for r in rows]
        arr = _column(vals)
        if arr is None:
            return None
        arrays.append(arr)
    return target, cols, Frame(arrays, [(None, f"column{j + 1}") for j in range(width)], len(rows))


def _column(vals: list) -> pa.Array | None:
    kinds = {type(v) for v in vals if v is not None}
    if not kinds:
        return pa.nulls(len(vals), pa.string())
    if kinds == {_Cell}:
        secs = np.array([np.nan if v is None else v.ts for v in vals], dtype=np.float64)
        us = np.round(secs * 1_000_000)
        mask = np.isnan(us)
        return pa.array(np.where(mask, 0, us).astype(np.int64), pa.int64(), mask=mask).cast(TS)
    if kinds <= {int}:
        return pa.array(vals, pa.int64())
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in vals], pa.float64())
    if kinds == {str}:
        return pa.array(vals, pa.string())
    if kinds == {bool}:
        return pa.array(vals, pa.bool_())
    return None
