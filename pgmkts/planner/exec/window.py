"""Window functions, vectorised per partition: sort once by (partition, order), compute, unsort."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner.exec.agg import agg_spec
from pgmkts.planner.exec.keys import group_ids, order_indices
from pgmkts.planner.exec.values import broadcast, cast_value, common_type


def eval_window(ev, node: exp.Window, f) -> pa.Array:
    n = f.n
    parts = [broadcast(ev.eval(p, f), n) for p in (node.args.get("partition_by") or [])]
    order = node.args.get("order")
    okeys = []
    if order is not None:
        for o in order.expressions:
            desc = bool(o.args.get("desc"))
            nf = o.args.get("nulls_first")
            okeys.append((broadcast(ev.eval(o.this, f), n), desc, nf if nf is not None else desc))
    pid, _np = group_ids(parts, n)
    # sort by partition, then order keys (stable: ties keep input order)
    perm = order_indices([(pa.array(pid), False, False)] + okeys, n)
    inv = np.empty(n, np.int64)
    inv[perm] = np.arange(n)
    ps = pid[perm]
    new_part = np.ones(n, bool)
    if n:
        new_part[1:] = ps[1:] != ps[:-1]
    part_start = np.maximum.accumulate(np.where(new_part, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    # peers: rows equal on every ORDER BY key within the partition
    if okeys:
        sk = [pa.array(pid)] + [k[0] for k in okeys]
        gk, _ = group_ids([k.take(pa.array(perm)) for k in sk], n)
        new_peer = np.ones(n, bool)
        if n:
            new_peer[1:] = gk[1:] != gk[:-1]
    else:
        new_peer = new_part.copy()
    peer_start = np.maximum.accumulate(np.where(new_peer, np.arange(n), 0)) if n else new_peer.astype(int)
    # index of the last row of each row's peer group
    peer_id = np.cumsum(new_peer) - 1
    peer_last = np.zeros(int(peer_id[-1]) + 1 if n else 0, np.int64)
    if n:
        peer_last[peer_id] = np.arange(n)
    last_peer = peer_last[peer_id] if n else peer_id
    part_id = np.cumsum(new_part) - 1
    part_last_arr = np.zeros(int(part_id[-1]) + 1 if n else 0, np.int64)
    if n:
        part_last_arr[part_id] = np.arange(n)
    part_end = part_last_arr[part_id] if n else part_id

    fn = node.this
    spec = node.args.get("spec")
    out = _compute(ev, fn, f, perm, n, part_start, part_end, peer_start, last_peer, new_peer, part_id,
                   bool(okeys), spec)
    return out.take(pa.array(inv))


def _compute(ev, fn, f, perm, n, part_start, part_end, peer_start, last_peer, new_peer, part_id,
             ordered, spec):
    pos = np.arange(n)
    name = fn.sql_name().lower() if not isinstance(fn, exp.Anonymous) else fn.name.lower()
    if isinstance(fn, exp.RowNumber):
        return pa.array(pos - part_start + 1, pa.int64())
    if name in ("rank",):
        return pa.array(peer_start - part_start + 1, pa.int64())
    if name in ("dense_rank", "denserank"):
        cum = np.cumsum(new_peer)
        return pa.array(cum - cum[part_start] + 1, pa.int64())
    if name in ("percent_rank", "percentrank"):
        cnt = part_end - part_start
        r = peer_start - part_start
        return pa.array(np.where(cnt > 0, r / np.maximum(cnt, 1), 0.0))
    if isinstance(fn, exp.Lag | exp.Lead):
        v = broadcast(ev.eval(fn.this, f), n).take(pa.array(perm))
        off = fn.args.get("offset")
        k = int(ev.eval(off, f).as_py()) if off is not None else 1
        if isinstance(fn, exp.Lag):
            src = pos - k
        else:
            src = pos + k
        ok = (src >= part_start) & (src <= part_end)
        vals = v.take(pa.array(np.where(ok, src, 0)))
        d = fn.args.get("default")
        dv = ev.eval(d, f) if d is not None else pa.scalar(None, v.type)
        t = common_type([v.type, dv.type])
        return pc.if_else(pa.array(ok), cast_value(vals, t), cast_value(broadcast(dv, n) if not isinstance(
            dv, pa.Scalar) else dv, t))
    if isinstance(fn, exp.FirstValue | exp.LastValue):
        v = broadcast(ev.eval(fn.this, f), n).take(pa.array(perm))
        lo, hi = _frame_bounds(spec, ordered, pos, part_start, part_end, last_peer, peer_start, ev, f)
        idx = lo if isinstance(fn, exp.FirstValue) else hi
        return v.take(pa.array(idx))
    if name == "ntile":
        k = int(ev.eval(fn.this, f).as_py())
        cnt = part_end - part_start + 1
        r = pos - part_start
        return pa.array((r * k // cnt) + 1, pa.int64())
    # aggregates over a window frame
    aname, args, distinct, star, filt, _extra = agg_spec(fn)
    if distinct or filt is not None:
        raise errors.FeatureNotSupported("DISTINCT or FILTER in a window aggregate")
    lo, hi = _frame_bounds(spec, ordered, pos, part_start, part_end, last_peer, peer_start, ev, f)
    if star:
        return pa.array((hi - lo + 1).astype(np.int64))
    v = broadcast(ev.eval(args[0], f), n).take(pa.array(perm))
    isnull = v.is_null().to_numpy(zero_copy_only=False)
    if aname in ("sum", "avg", "count"):
        x = np.where(isnull, 0, pc.cast(v, pa.float64()).fill_null(0).to_numpy(zero_copy_only=False))
        cs = np.concatenate([[0.0], np.cumsum(x)])
        cnt_cs = np.concatenate([[0], np.cumsum(~isnull)])
        s = cs[hi + 1] - cs[lo]
        c = cnt_cs[hi + 1] - cnt_cs[lo]
        if aname == "count":
            return pa.array(c.astype(np.int64))
        if aname == "sum":
            if pa.types.is_integer(v.type):
                xi = np.where(isnull, 0, pc.cast(v, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
                ci = np.concatenate([[0], np.cumsum(xi)])
                return pa.array(ci[hi + 1] - ci[lo], mask=c == 0)
            out = pa.array(s, mask=c == 0)
            return pc.cast(out, pa.float32()) if pa.types.is_float32(v.type) else out
        return pa.array(s / np.maximum(c, 1), mask=c == 0)
    if aname in ("min", "max"):
        x = pc.cast(v, pa.float64()).to_numpy(zero_copy_only=False) if not pa.types.is_timestamp(v.type) \
            else pc.cast(v, pa.int64()).to_numpy(zero_copy_only=False).astype("f8")
        fill = np.inf if aname == "min" else -np.inf
        x = np.where(isnull, fill, x)
        red = np.minimum if aname == "min" else np.maximum
        width = hi - lo
        out = x.copy()
        maxw = int(width.max()) if n else 0
        if maxw > 512:
            # long frames (running min/max): accumulate per partition
            out = np.empty(n)
            starts = np.flatnonzero(np.r_[True, part_id[1:] != part_id[:-1]]) if n else []
            for s0, e0 in zip(starts, list(starts[1:]) + [n], strict=False):
                acc = red.accumulate(x[s0:e0])
                out[s0:e0] = acc[hi[s0:e0] - s0]
        else:
            out = x[hi].copy()
            for k in range(1, maxw + 1):
                j = hi - k
                ok = j >= lo
                out = np.where(ok, red(out, x[np.maximum(j, 0)]), out)
        bad = np.isinf(out)
        res = pa.array(np.where(bad, 0, out), mask=bad)
        return pc.cast(pc.cast(res, pa.int64()), v.type) if pa.types.is_timestamp(v.type) or \
            pa.types.is_integer(v.type) else pc.cast(res, v.type)
    raise errors.FeatureNotSupported(f"window function {name}")


def _frame_bounds(spec, ordered, pos, part_start, part_end, last_peer, peer_start, ev, f):
    """Frame [lo, hi] per row. Default: RANGE UNBOUNDED PRECEDING..CURRENT ROW (peers included)
    with ORDER BY, the whole partition without (PostgreSQL 4.2.8)."""
    if spec is None:
        if ordered:
            return part_start, last_peer
        return part_start, part_end
    kind = (spec.args.get("kind") or "ROWS").upper()
    start, start_side = spec.args.get("start"), spec.args.get("start_side")
    end, end_side = spec.args.get("end"), spec.args.get("end_side")

    def bound(val, side, is_start):
        v = val if isinstance(val, str) else (val.name if isinstance(val, exp.Var) else None)
        if v is not None and v.upper() == "UNBOUNDED":
            return part_start if (side or "").upper() == "PRECEDING" else part_end
        if v is not None and v.upper() == "CURRENT ROW":
            if kind == "RANGE":
                return peer_start if is_start else last_peer
            return pos
        if kind != "ROWS":
            raise errors.FeatureNotSupported("RANGE/GROUPS frames with offsets")
        k = int(ev.eval(val, f).as_py())
        if (side or "").upper() == "PRECEDING":
            return np.maximum(pos - k, part_start)
        return np.minimum(pos + k, part_end)

    lo = bound(start, start_side, True) if start is not None else part_start
    hi = bound(end, end_side, False) if end is not None else (pos if kind == "ROWS" else last_peer)
    return lo, np.maximum(hi, lo - 1)
