"""Fast path for parametrised `INSERT INTO t [(cols)] VALUES ($1, ..., $n)[, (...)]`.

A driver's durable one-row append (psycopg, asyncpg, ADBC) runs the same text many times. The
general path parses it with sqlglot, resolves the target (reading .groups/ from disk), evaluates
every parameter as an Arrow scalar and casts columns through Arrow: ~1 ms of CPU around a 0.4 ms
engine write. Here the text is compiled once per catalog shape into (relation, column order,
parameter index per cell) and each execution builds the numpy columns straight from the bound
Python values.

Only values whose conversion is identical to the general path's are taken (datetime or Unix
seconds for epoch, int/float for numbers, str for text and symbol, bool for booleans, one symbol
per statement); anything else — NULL, strings to cast, casts or expressions in the text, unknown
columns, several symbols — returns None and the general path runs, so errors and SQLSTATEs are
exactly its own. Writes go through Session._write: buffered inside BEGIN, WAL-durable otherwise,
engine hooks (ondiskagg, stream, NOTIFY) as for any write. The wire runs such an INSERT on the
event loop (`runs_inline`) with its commit deferred, so no thread waits on the fsync.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from pgmkts import errors
from pgmkts.planner import bind
from pgmkts.planner import write as W

_HEAD = re.compile(
    r'^\s*insert\s+into\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*'
    r'(\((?:\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*,?)+\))?\s*values\s*', re.I | re.S)
_NAME = r'"(?:[^"]|"")+"|[A-Za-z_][\w$]*'
_NAMES = re.compile(rf"\s*(?:{_NAME})\s*(?:,\s*(?:{_NAME})\s*)*")
_ROW = re.compile(r"\s*\(\s*(\$\d+(?:\s*,\s*\$\d+)*)\s*\)\s*(,|;?\s*$)", re.S)

_EPOCH_AWARE = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_NAIVE = dt.datetime(1970, 1, 1)
_ONE_US = dt.timedelta(microseconds=1)
_US = 1_000_000
_I64 = (-(1 << 63), (1 << 63) - 1)
_MAX_EPOCH_S = ((1 << 63) - 1) // _US   # Unix seconds whose microseconds fit int64 (no wrap)


@dataclass
class Spec:
    """A compiled INSERT: what the general path would resolve, once."""

    rel: bind.Relation
    rows: list[list[int]]                  # parameter index per (row, target column)
    names: list[str]                       # target column names, in the VALUES order
    # (storage name, numpy dtype, SQL name, position in `names` or -1 when omitted)
    cols: list[tuple[str, str, str, int]]
    epoch: int                             # position of epoch in `names`
    nanos: int                             # position of nanoseconds in `names`, or -1
    symbol: int                            # position of symbol in `names`, or -1 (bucket table)
    width: int                             # highest parameter index + 1


_CACHE: dict[tuple, tuple[tuple, Spec | None]] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 256
# engine → [its serial (an id() may be reused after close), destroy/create events seen]
_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SERIAL = itertools.count(1)


def _shape(engine) -> tuple | None:
    """What a cached Spec depends on besides its text: declared groups (catalog version) and
    the bucket set (an undeclared group takes its columns from its first bucket). A bucket
    created raises the count; a destroy (or destroy + create) bumps the event counter."""
    buckets = getattr(engine, "_buckets", None)
    if buckets is None or not hasattr(engine, "subscribe_changes"):
        return None
    seen = _ENGINES.get(engine)
    if seen is None:
        with _LOCK:
            seen = _ENGINES.get(engine)
            if seen is None:
                box = [next(_SERIAL), 0]

                def bump(_lsn, kind, _tbk, _payload) -> None:
                    if kind in ("destroy", "create"):
                        box[1] += 1
                engine.subscribe_changes(bump)
                seen = _ENGINES[engine] = box
    return (seen[0], W.catalog_version(), len(buckets), seen[1])


def _compile(engine, text: str) -> Spec | None:
    m = _HEAD.match(text)
    if m is None:
        return None
    target = m.group(1)
    if target.startswith('"'):
        name, quoted = target[1:-1].replace('""', '"'), True
    else:
        name, quoted = target, False
    rows: list[list[int]] = []
    pos = m.end()
    while True:
        r = _ROW.match(text, pos)
        if r is None:
            return None
        rows.append([int(p.strip()[1:]) - 1 for p in r.group(1).split(",")])
        pos = r.end()
        if r.group(2) != ",":
            break
    if pos != len(text) or len({len(r) for r in rows}) != 1 or min(min(r) for r in rows) < 0:
        return None
    try:
        rel = bind.resolve(engine, name, quoted, None, None)
    except errors.PgmktsError:
        return None
    if rel.kind not in ("group", "bucket"):
        return None
    if m.group(2):
        inner = m.group(2).strip()[1:-1]
        if _NAMES.fullmatch(inner) is None:   # e.g. a missing comma: the general path's error
            return None
        names = [c[1:-1].replace('""', '"') if c.startswith('"') else c.lower()
                 for c in re.findall(_NAME, inner)]
    else:
        names = [c.name for c in rel.columns]
    width = len(rows[0])
    if width > len(names) or len(set(names)) != len(names):
        return None
    names = names[:width]
    if any(rel.column(n) is None for n in names) or "epoch" not in names:
        return None
    if rel.kind == "group" and "symbol" not in names:
        return None
    cols = []
    for c in rel.columns:
        if c.storage in (None, "Epoch", "Nanoseconds"):
            continue
        dtype = rel.dtypes.get(c.storage, "f8")
        try:
            if dtype not in ("U16", "bool") and np.dtype(dtype).kind not in "fiu":
                return None
        except TypeError:   # a dtype numpy does not know: the general path reports it
            return None
        cols.append((c.storage, dtype, c.name, names.index(c.name) if c.name in names else -1))
    return Spec(rel, rows, names, cols, names.index("epoch"),
                names.index("nanoseconds") if rel.variable_length and "nanoseconds" in names else -1,
                names.index("symbol") if rel.kind == "group" else -1,
                max(max(r) for r in rows) + 1)


def spec_for(engine, text: str) -> Spec | None:
    shape = _shape(engine)
    if shape is None:
        return None
    key = (text, shape[0])
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == shape:
        return hit[1]
    spec = _compile(engine, text)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = (shape, spec)
    return spec


def runs_inline(engine, text: str) -> bool:
    """True when `text` is an INSERT this module compiles: its execution is a few numpy arrays
    and one deferred engine write (storage/asyncwrite.py), cheap enough for the event loop."""
    return text.lstrip()[:6].lower() == "insert" and spec_for(engine, text) is not None


def build(spec: Spec, params: list) -> list[tuple[str, dict[str, np.ndarray], bool | None]] | None:
    """The batches W.to_batches would build from these parameter values, or None when a value
    needs the general path (NULL, a string to cast, mixed types, several symbols, ...)."""
    if len(params) < spec.width:
        return None
    # an integer beyond int64 is the general path's error (at parameter evaluation, before any
    # column is checked): leave it to that path so both report the same one
    if any(type(v) is int and not _I64[0] <= v <= _I64[1] for v in params):
        return None
    rows = spec.rows
    rel = spec.rel
    us = _epoch_us([params[r[spec.epoch]] for r in rows])
    if us is None:
        return None
    secs = np.floor_divide(us, _US)
    data: dict[str, np.ndarray] = {"Epoch": secs}
    if rel.variable_length:
        if spec.nanos >= 0:
            ns = _numbers([params[r[spec.nanos]] for r in rows], "i4", "nanoseconds")
            if ns is None:
                return None
            data["Nanoseconds"] = ns
        else:
            data["Nanoseconds"] = ((us - secs * _US) * 1000).astype(np.int32)
    n = len(rows)
    for storage, dtype, name, j in spec.cols:
        if j < 0:
            # MarketStore has no NULLs: an omitted column is zero, as a sparse slot reads back
            data[storage] = np.zeros(n, dtype=np.dtype("<U16") if dtype == "U16" else np.dtype(dtype))
            continue
        vals = [params[r[j]] for r in rows]
        if dtype == "U16":
            arr = np.array(vals, dtype="<U16") if all(type(v) is str for v in vals) else None
        elif dtype == "bool":
            arr = np.array(vals, dtype=bool) if all(type(v) is bool for v in vals) else None
        else:
            arr = _numbers(vals, dtype, name)
        if arr is None:
            return None
        data[storage] = arr
    if spec.symbol < 0:
        return [(rel.name, data, rel.variable_length)]
    sym = params[rows[0][spec.symbol]]
    if any(type(params[r[spec.symbol]]) is not str or params[r[spec.symbol]] != sym for r in rows):
        return None
    return [(f"{sym}/{rel.timeframe}/{rel.attrgroup}", data, rel.variable_length)]


def _epoch_us(vals: list) -> np.ndarray | None:
    """Microseconds since 1970 as the general path reads them: a datetime (naive = UTC) exactly,
    an integer as Unix seconds (MarketStore's convention)."""
    out = []
    for v in vals:
        t = type(v)
        if t is dt.datetime:
            if v.tzinfo is None:
                out.append((v - _EPOCH_NAIVE) // _ONE_US)
            elif v.utcoffset() is not None:
                out.append((v - _EPOCH_AWARE) // _ONE_US)
            else:
                return None
        elif t is int and -_MAX_EPOCH_S <= v <= _MAX_EPOCH_S:
            out.append(v * _US)
        else:
            return None
    return np.array(out, dtype=np.int64)


def _numbers(vals: list, dtype: str, name: str) -> np.ndarray | None:
    """write._np for a column of Python ints or floats (one type, as the general path's column
    of one type): round floats into integer columns, range-check (22003), cast."""
    kinds = {type(v) for v in vals}
    if kinds == {int}:   # within int64: build() left anything wider to the general path
        npv = np.array(vals, dtype=np.int64)
    elif kinds == {float}:
        npv = np.array(vals, dtype=np.float64)
    else:
        return None
    target = np.dtype(dtype)
    if target.kind in "iu":
        if npv.dtype.kind == "f":
            npv = np.round(npv)
        info = np.iinfo(target)
        if npv.size and (npv.min() < info.min or npv.max() > info.max):
            raise errors.NumericValueOutOfRange(f'value out of range for column "{name}"')
    return npv.astype(target)


# ------------------------------------------------------------------ Parse (prepare) of INSERTs

_PREP: dict[tuple, list[int]] = {}


def prepared_oids(engine, text: str, given: list[int]) -> list[int] | None:
    """Parameter types of an INSERT prepared before under the same catalog shape: drivers that
    Parse per execution (ADBC, psycopg before its prepare threshold) skip sqlglot."""
    shape = _shape(engine)
    if shape is None:
        return None
    got = _PREP.get((text, tuple(given), shape))
    return list(got) if got is not None else None


def remember_oids(engine, text: str, given: list[int], oids: list[int]) -> None:
    shape = _shape(engine)
    if shape is None:
        return
    with _LOCK:
        if len(_PREP) >= _CACHE_SIZE:
            _PREP.clear()
        _PREP[(text, tuple(given), shape)] = list(oids)
