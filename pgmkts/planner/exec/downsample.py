"""Down-sampling without hashing: rows arrive sorted by (bucket, epoch), so time-bucket groups are
contiguous runs; group boundaries come from np.diff and aggregates from ufunc.reduceat."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts.planner.exec.values import US
from pgmkts.planner.rules.downsample import Downsample
from pgmkts.planner.timefns import _TB_ORIGIN, bucket_width_us

_TRUNC_US = {"second": US, "minute": 60 * US, "hour": 3600 * US, "day": 86400 * US}


def _width_origin(ds: Downsample, ev, empty) -> tuple[int, int] | None:
    e = ds.bucket_expr
    if ds.bucket_fn == "date_trunc":
        if not isinstance(e, exp.TimestampTrunc) or e.unit is None:
            return None  # detect_downsample only accepts date_trunc(unit, epoch)
        if ev.ctx.tz.upper() not in ("UTC", "GMT"):
            return None  # local-time truncation: leave it to the general path
        return _TRUNC_US[e.unit.name.lower()], 0
    if ds.bucket_fn == "time_bucket":
        w = bucket_width_us(ev.eval(e.expressions[0], empty))
        origin = 0 if w < 7 * 86400 * US and 86400 * US % w == 0 else _TB_ORIGIN
        return w, origin
    w = bucket_width_us(ev.eval(e.this, empty))
    org = e.args.get("unit") or e.args.get("origin")
    origin = 0
    if org is not None:
        from pgmkts.planner.exec.values import cast_value
        from pgmkts.planner.types import TS
        node = exp.Literal.string(org.name) if isinstance(org, exp.Var) else org
        origin = cast_value(ev.eval(node, empty), TS, ev.ctx.tz).cast(pa.int64()).as_py()
    return w, origin


def run_ids(starts: np.ndarray, n: int) -> np.ndarray:
    """The group id of each of n rows, groups being the contiguous runs that begin at `starts`
    (only an aggregate without a reduceat form needs them: 80 MB for 10M rows)."""
    new = np.zeros(n, np.int64)
    new[starts[1:]] = 1
    return np.cumsum(new, out=new)


def sorted_groups(ds: Downsample, f, ev) -> tuple[int, np.ndarray] | None:
    """(number of groups, start row of each group) or None to use hashing."""
    from pgmkts.planner.exec.frame import Frame
    wo = _width_origin(ds, ev, Frame([], [], 1))
    if wo is None:
        return None
    w, origin = wo
    ei = f.find("epoch", None)
    if ei is None:
        return None
    us = f.cols[ei].cast(pa.int64()).to_numpy(zero_copy_only=False)
    idx = np.floor_divide(us - origin if origin else us, w)
    n = len(us)
    new = np.ones(n, bool)
    if n > 1:
        new[1:] = idx[1:] != idx[:-1]
        if ds.by_symbol:
            # per-bucket reads are concatenated symbol by symbol: a bucket start starts a group
            if f.segments is not None:
                new[np.asarray(f.segments, np.int64)] = True
            else:
                si = f.find("symbol", None)
                codes = pc.dictionary_encode(f.cols[si]).indices.to_numpy(zero_copy_only=False)
                new[1:] |= codes[1:] != codes[:-1]
        # contiguity needs non-decreasing time within a bucket; otherwise fall back to hashing
        if not ds.by_symbol and np.any(idx[1:] < idx[:-1]):
            return None
    starts = np.flatnonzero(new)
    return len(starts), starts


def fast_aggregate(node: exp.Expression, f, ev, starts: np.ndarray, n: int) -> pa.Array | None:
    """Aggregate over contiguous groups; None when the call is not a plain fast one."""
    from pgmkts.planner.rules.downsample import FAST_AGGS
    name = FAST_AGGS.get(type(node))
    if name is None:
        return None
    this = node.this
    ng = len(starts)
    ends = np.r_[starts[1:], n]
    counts = ends - starts
    if name == "count" and isinstance(this, exp.Star):
        return pa.array(counts.astype(np.int64))
    if not isinstance(this, exp.Column):
        return None
    col = ev.eval(this, f)
    if not isinstance(col, pa.Array) or col.null_count:
        return None
    if name == "count":
        return pa.array(counts.astype(np.int64))
    if ng == 0:
        return None
    if name == "first":
        return col.take(pa.array(starts))
    if name == "last":
        return col.take(pa.array(ends - 1))
    if pa.types.is_string(col.type) or pa.types.is_boolean(col.type):
        return None
    if pa.types.is_timestamp(col.type):
        vals = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if name not in ("min", "max"):
            return None
        red = np.minimum if name == "min" else np.maximum
        return pa.array(red.reduceat(vals, starts)).cast(col.type)
    vals = col.to_numpy(zero_copy_only=False)
    if name == "min":
        return pa.array(np.minimum.reduceat(vals, starts), col.type)
    if name == "max":
        return pa.array(np.maximum.reduceat(vals, starts), col.type)
    if name == "sum":
        if vals.dtype.kind in "iu":
            s = np.add.reduceat(vals.astype(np.int64), starts)
            out = pa.array(s, pa.int64())
            return pc.cast(out, pa.decimal128(38, 0)) if pa.types.is_int64(col.type) else out
        s = np.add.reduceat(vals.astype(np.float64), starts)
        return pa.array(s.astype(np.float32)) if pa.types.is_float32(col.type) else pa.array(s)
    if name == "avg":
        return pa.array(np.add.reduceat(vals.astype(np.float64), starts) / counts)
    return None
