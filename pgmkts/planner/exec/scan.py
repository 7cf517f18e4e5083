"""Execution of plan sources: storage scans (with push-down), VALUES, generate_series, joins."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import plan as P
from pgmkts.planner.exec import overlay
from pgmkts.planner.exec.frame import Ctx, Frame
from pgmkts.planner.exec.values import US, broadcast, cast_value, common_type, type_of
from pgmkts.planner.types import TS
from pgmkts.storage.lastrow import cached_reads

MAX_NS = 2**63 - 1


def time_bounds(scan: P.Scan, ev, empty: Frame) -> tuple[int | None, int | None, bool]:
    """(start_ns, end_ns, empty) — inclusive ns bounds for Engine.read from the pushed range.

    Literal-only bounds are memoised on the (cached) plan per TimeZone: no re-parsing per query."""
    memo = scan.memo
    if memo is not None:
        hit = memo.get(ev.ctx.tz)
        if hit is not None:
            return hit
    out = _time_bounds(scan, ev, empty)
    if memo is not None:
        memo[ev.ctx.tz] = out
    return out


def _time_bounds(scan: P.Scan, ev, empty: Frame) -> tuple[int | None, int | None, bool]:
    start = end = None
    for e, inc in scan.time.lower:
        us = _bound_us_of(e, ev, empty, min)
        if us is None:
            return None, None, True
        ns = us * 1000 if inc else us * 1000 + 1000
        start = ns if start is None else max(start, ns)
    for e, inc in scan.time.upper:
        us = _bound_us_of(e, ev, empty, max)
        if us is None:
            return None, None, True
        # epoch is µs in SQL: `<= t` admits every ns inside the microsecond t
        ns = us * 1000 + 999 if inc else us * 1000 - 1
        end = ns if end is None else min(end, ns)
    if start is not None and end is not None and start > end:
        return start, end, True
    if start is not None and start < 0:
        start = 0 if end is None or end >= 0 else start
    return start, end, False


def _bound_us_of(e, ev, empty, pick) -> int | None:
    if isinstance(e, exp.Tuple):  # epoch IN (...): the extreme of the non-NULL candidates
        vals = [_bound_us(ev.eval(x, empty), ev.ctx) for x in e.expressions]
        vals = [v for v in vals if v is not None]
        return pick(vals) if vals else None
    return _bound_us(ev.eval(e, empty), ev.ctx)


def _bound_us(v, ctx) -> int | None:
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return None
        if pa.types.is_string(v.type):
            v = cast_value(v, TS, ctx.tz)
        if pa.types.is_date32(v.type):
            v = v.cast(TS)
        if pa.types.is_timestamp(v.type):
            return v.cast(pa.int64()).as_py()
    raise errors.UndefinedFunction(f"operator does not exist: timestamp with time zone = {type_of(v)}",
                                   hint="compare epoch with a timestamp, e.g. to_timestamp(n) or '2024-01-02'")


def bucket_frame(rel, data: dict[str, np.ndarray], columns: list, alias: str | None,
                 symbol: str | None) -> Frame:
    """Storage arrays → SQL columns (epoch as timestamptz µs, widened unsigned types)."""
    ep = data["Epoch"].astype(np.int64, copy=False)
    us = ep * US
    if rel.variable_length and "Nanoseconds" in data:
        us = us + data["Nanoseconds"].astype(np.int64) // 1000
    n = len(ep)
    cols, names = [], []
    for c in columns:
        if c.name == "symbol":
            cols.append(pa.repeat(pa.scalar(symbol), n) if n else pa.array([], pa.string()))
        elif c.storage == "Epoch":
            # zero-copy: the µs int64 buffer is the timestamp column
            us = np.ascontiguousarray(us, dtype=np.int64)
            cols.append(pa.Array.from_buffers(TS, n, [None, pa.py_buffer(us)]))
        else:
            arr = data.get(c.storage)
            if arr is None:
                arr = _find_ci(data, c.storage)
            if arr is None:
                cols.append(pa.nulls(n, c.type))
                names.append((alias, c.name))
                continue
            if arr.dtype.kind == "U":
                cols.append(pa.array(arr.astype(object) if n else [], pa.string()))
            else:
                cols.append(pa.array(arr).cast(c.type) if pa.from_numpy_dtype(arr.dtype) != c.type
                            else pa.array(arr))
        names.append((alias, c.name))
    return Frame(cols, names, n)


def _find_ci(data, name):
    for k, v in data.items():
        if k.lower() == name.lower():
            return v
    return None


def _case_renames(rel, infos) -> dict[str, dict[str, str]]:
    """tbk → {bucket's column name: the group's name} where they differ only in case."""
    names = {c.storage.lower(): c.storage for c in rel.columns if c.storage}
    out = {}
    for b in infos:
        rn = {n: names[n.lower()] for n, _ in getattr(b, "columns", ()) if names.get(n.lower(), n) != n}
        if rn:
            out[b.tbk] = rn
    return out


def _read_renamed(engine, tbk: str, rn: dict[str, str], start, end, *, columns=None, **kw) -> dict:
    if not rn:
        return engine.read(tbk, start, end, columns=columns, **kw)
    inv = {v: k for k, v in rn.items()}
    cols = None if columns is None else [inv.get(c, c) for c in columns]
    return {rn.get(k, k): v for k, v in engine.read(tbk, start, end, columns=cols, **kw).items()}


def run_scan(scan: P.Scan, ctx: Ctx, ev) -> Frame:
    """The scan's rows as one Frame (group tables: buckets concatenated symbol by symbol).

    Measured: one concatenated pass beats aggregating bucket by bucket (per-call overheads)."""
    rel = scan.rel
    alias = scan.alias
    if rel.kind == "catalog":
        from pgmkts.planner import bind
        fresh = bind._catalog(rel.name, None, ctx) or rel
        t = fresh.table
        assert t is not None   # catalog relations always carry their table
        return Frame([c.combine_chunks() for c in t.columns], [(alias, c.name) for c in rel.columns], t.num_rows)
    empty = Frame([], [], 1)
    cols = [c for c in rel.columns if scan.columns is None or c.storage in (None, "Epoch")
            or c.storage in scan.columns or c.storage == "Nanoseconds"]
    if getattr(ctx, "schema_only", False):
        return _empty(rel, cols, alias)
    start, end, none = time_bounds(scan, ev, empty)
    if none:
        return _empty(rel, cols, alias)
    limit = None
    if scan.limit is not None:
        lv = ev.eval(scan.limit, empty)
        limit = int(lv.as_py()) if lv.is_valid else None
        if limit is not None and limit < 0:
            raise errors.InvalidParameterValue("LIMIT must not be negative")
    kw = dict(columns=scan.columns, limit=limit, from_end=scan.from_end)
    if rel.kind == "bucket":
        if limit == 0:
            return _empty(rel, cols, alias)
        ops = overlay.pending_for(ctx.session, rel.name)
        if ops:  # inside a transaction with buffered writes to this bucket: read them too
            base = ctx.engine.read(rel.name, None, None, columns=scan.columns)
            data = overlay.merge(base, ops, tf_seconds=rel.tf_seconds, variable=rel.variable_length,
                                 start_ns=start, end_ns=end, limit=limit, from_end=scan.from_end)
            return bucket_frame(rel, data, cols, alias, None) if data else _empty(rel, cols, alias)
        data = ctx.engine.read(rel.name, start, end, **kw)
        return bucket_frame(rel, data, cols, alias, None)
    # group: choose buckets by symbol
    from pgmkts.planner.bind import group_buckets
    infos = group_buckets(ctx.engine, rel.name)
    infos = infos + _pending_only(ctx, rel, {b.tbk for b in infos})
    if scan.symbols is not None:
        wanted: set[str] = set()
        for e in scan.symbols:
            v = ev.eval(e.this if isinstance(e, exp.Any) else e, empty)
            if isinstance(v, pa.Scalar) and v.is_valid:
                py = v.as_py()
                if isinstance(e, exp.Any) and isinstance(py, str):
                    # an array parameter sent as text with no type (lib/pq, psycopg lists): '{A,B}'
                    from pgmkts.planner.catalog.sqlrun import parse_array_literal
                    py = parse_array_literal(py) or []
                wanted.update(str(x) for x in py if x is not None) if isinstance(py, list) else wanted.add(str(py))
        infos = [b for b in infos if b.symbol in wanted]
    if not infos or limit == 0:
        return _empty(rel, cols, alias)
    pend = {b.tbk: overlay.pending_for(ctx.session, b.tbk) for b in infos}
    # Buckets of one group may spell a column in another case (pymarketstore writes "Open", SQL
    # CREATE TABLE "open"): read those with their own names and rename to the group's.
    renames = _case_renames(rel, infos)
    committed = [b.tbk for b in infos if not pend[b.tbk] and b.tbk not in renames]

    def read_committed() -> dict[str, dict | None]:
        got = ctx.engine.read_many(committed, start, end, **kw) if committed else {}
        for tbk, rn in renames.items():
            if not pend[tbk]:
                got[tbk] = _read_renamed(ctx.engine, tbk, rn, start, end, **kw)
        return got
    # the newest row(s) of each bucket (DISTINCT ON): served from storage/lastrow.py's cache
    datas: dict[str, dict | None] = cached_reads(ctx.engine, [b.tbk for b in infos if not pend[b.tbk]],
                         (start, end, tuple(scan.columns or ()), scan.columns is None, limit, scan.from_end),
                         limit, read_committed) if not any(pend.values()) else read_committed()
    for b in infos:
        if pend[b.tbk]:
            base = (_read_renamed(ctx.engine, b.tbk, renames.get(b.tbk, {}), None, None, columns=scan.columns)
                    if ctx.engine.info(b.tbk) else None)
            datas[b.tbk] = overlay.merge(base, pend[b.tbk], tf_seconds=rel.tf_seconds,
                                         variable=rel.variable_length, start_ns=start, end_ns=end,
                                         limit=limit, from_end=scan.from_end) or None
    parts, syms = [], []
    data_cols = [c for c in cols if c.name != "symbol"]
    for b in infos:
        d = datas.get(b.tbk)
        if d is None:
            continue
        parts.append(d)
        syms.append(b.symbol)
    if not parts:
        return _empty(rel, cols, alias)
    # one numpy concatenation per column, then one conversion (arrow casts cost ~50µs a call)
    merged = {}
    for k in parts[0]:
        arrs = [p[k] for p in parts if k in p]
        if len(arrs) == len(parts):
            merged[k] = np.concatenate(arrs) if len(arrs) > 1 else arrs[0]
    body = bucket_frame(rel, merged, data_cols, alias, None)
    # the symbol column is built once from a dictionary (no per-bucket string repeats)
    counts = np.array([len(p["Epoch"]) for p in parts], np.int64)
    idx = pa.array(np.repeat(np.arange(len(parts), dtype=np.int32), counts), pa.int32())
    sym = pa.DictionaryArray.from_arrays(idx, pa.array(syms, pa.string()))
    if not scan.dict_symbol:
        sym = sym.cast(pa.string())
    out = Frame([sym] + body.cols, [(alias, "symbol")] + body.names, body.n)
    out.segments = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    return out


def _pending_only(ctx: Ctx, rel, known: set[str]) -> list:
    """Buckets of this group that exist only in the open transaction's buffered writes."""
    from types import SimpleNamespace

    from pgmkts.planner.bind import group_name
    out = []
    for t in sorted(overlay.pending_tbks(ctx.session) - known):
        sym, tf, ag = t.split("/", 2)
        if group_name(ag, tf) == rel.name:
            out.append(SimpleNamespace(tbk=t, symbol=sym))
    return out


def _empty(rel, cols, alias) -> Frame:
    return Frame([pa.array([], c.type) for c in cols], [(alias, c.name) for c in cols], 0)


def run_values(node: exp.Values, ev, alias: str | None, colnames: list[str] | None) -> Frame:
    tuples = node.expressions
    if not tuples:
        return Frame([], [], 0)
    width = len(tuples[0].expressions) if isinstance(tuples[0], exp.Tuple) else 1
    empty = Frame([], [], 1)
    cols_vals: list[list] = [[] for _ in range(width)]
    # One step per VALUES tuple of the parsed statement: each is an expression tree to evaluate,
    # bounded by the query text. Bulk literal INSERTs take planner/fastvalues.py (regex, per column)
    # before sqlglot, and bulk loads take COPY, so no data path runs through this loop.
    for tup in tuples:
        items = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
        if len(items) != width:
            raise errors.SyntaxError_("VALUES lists must all be the same length")
        for i, it in enumerate(items):
            cols_vals[i].append((it, ev.eval(it, empty)))
    cols = []
    for vals in cols_vals:
        cols.append(values_column(vals, ev.ctx))
    names = [(alias, (colnames[i] if colnames and i < len(colnames) else f"column{i + 1}"))
             for i in range(width)]
    return Frame(cols, names, len(tuples))


def values_column(vals: list, ctx) -> pa.Array:
    """One VALUES column: literals of one common type (unknown strings adopt it)."""
    typed = [v for n, v in vals if not (isinstance(n, exp.Literal) and n.is_string)]
    t = common_type([type_of(v) for v in typed]) if typed else pa.string()
    out = []
    for _n, v in vals:
        if isinstance(v, pa.Array):
            raise errors.FeatureNotSupported("column references in VALUES")
        out.append(cast_value(v, t, ctx.tz))
    if all(isinstance(o, pa.Scalar) for o in out):
        return pa.array([o.as_py() for o in out], t) if not pa.types.is_timestamp(t) else \
            pa.array([o.cast(pa.int64()).as_py() if o.is_valid else None for o in out], pa.int64()).cast(t)
    raise errors.FeatureNotSupported("interval values in VALUES")


def run_function(node: P.FunctionScan, ev) -> Frame:
    fn = node.node
    empty = Frame([], [], 1)
    alias = node.alias
    if isinstance(fn, exp.ExplodingGenerateSeries | exp.GenerateSeries) or (
            isinstance(fn, exp.Anonymous) and fn.name.lower() == "generate_series"):
        if isinstance(fn, exp.Anonymous):
            args = list(fn.expressions)
        else:
            args = [fn.args.get("start"), fn.args.get("end")] + ([fn.args["step"]] if fn.args.get("step") else [])
        col = generate_series([ev.eval(a, empty) for a in args])
        name = node.colnames[0] if node.colnames else alias or "generate_series"
        return Frame([col], [(alias, name)], len(col))
    if isinstance(fn, exp.Unnest):
        v = ev.eval(fn.expressions[0], empty)
        if not isinstance(v, pa.Scalar):
            raise errors.FeatureNotSupported("unnest over columns")
        arr = pa.array(v.as_py() or [], v.type.value_type)
        name = node.colnames[0] if node.colnames else alias or "unnest"
        return Frame([arr], [(alias, name)], len(arr))
    from pgmkts.planner import tablefuncs  # table functions: see tablefuncs.py
    if tablefuncs.is_table_function(fn):
        return tablefuncs.run(node, ev)
    raise errors.FeatureNotSupported(f"function {fn.sql()[:40]} in FROM")


def generate_series(args) -> pa.Array:
    a = args[0]
    if any(isinstance(x, pa.Scalar) and not x.is_valid for x in args):
        return pa.array([], pa.int32())
    if pa.types.is_timestamp(a.type) or (pa.types.is_string(a.type) and len(args) == 3):
        from pgmkts.planner.exec.values import Interval, parse_interval
        start = cast_value(a, TS).cast(pa.int64()).as_py()
        stop = cast_value(args[1], TS).cast(pa.int64()).as_py()
        step = args[2]
        if isinstance(step, pa.Scalar):
            step = parse_interval(step.as_py())
        if not isinstance(step, Interval) or step.months:
            raise errors.FeatureNotSupported("generate_series step must be a fixed interval")
        w = step.fixed_us()
        if w == 0:
            raise errors.InvalidParameterValue("step size cannot equal zero")
        vals = np.arange(start, stop + (1 if w > 0 else -1), w, dtype=np.int64)
        return pa.array(vals, pa.int64()).cast(TS)
    step = args[2].as_py() if len(args) > 2 else 1
    if step == 0:
        raise errors.InvalidParameterValue("step size cannot equal zero")
    lo, hi = a.as_py(), args[1].as_py()
    t = common_type([x.type for x in args])
    if pa.types.is_floating(t):
        k = int(np.floor((hi - lo) / step + 1e-9)) + 1
        return pa.array(lo + step * np.arange(max(k, 0)), pa.float64())
    vals = np.arange(lo, hi + (1 if step > 0 else -1), step, dtype=np.int64)
    return pa.array(vals, t if pa.types.is_integer(t) else pa.int64())


def run_join(left: Frame, right: Frame, node: P.JoinNode, ev) -> Frame:
    kind = node.kind
    lk: list[int] = []
    rk: list[int] = []
    if node.using:
        for cname in node.using:
            li, ri = left.find(cname, None), right.find(cname, None)
            if li is None or ri is None:
                raise errors.UndefinedColumn(f'column "{cname}" specified in USING clause does not exist')
            lk.append(li)
            rk.append(ri)
        out = hash_join(left, right, lk, rk, kind)
        # USING merges the key columns: drop the right side's copy
        drop = {len(left.cols) + r for r in rk}
        keep = [i for i in range(len(out.cols)) if i not in drop]
        if kind in ("right", "full"):
            for li, ri in zip(lk, rk, strict=False):
                out.cols[li] = pc.coalesce(out.cols[li], out.cols[len(left.cols) + ri])
        return Frame([out.cols[i] for i in keep], [out.names[i] for i in keep], out.n)
    if kind == "cross" or node.on is None:
        return cross_join(left, right)
    # split ON into equi-key pairs and a residual
    from pgmkts.planner.rules.common import conjoin, conjuncts
    rest: list[exp.Expression] = []
    for c in conjuncts(node.on):
        if isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column):
            a, b = _side(c.this, left, right), _side(c.expression, left, right)
            if a and b and a[0] != b[0]:
                (la, lidx), (_rb, ridx) = (a, b) if a[0] == "l" else (b, a)
                lk.append(lidx)
                rk.append(ridx)
                continue
        rest.append(c)
    if not lk:
        if kind != "inner":
            raise errors.FeatureNotSupported("outer joins without an equality condition")
        out = cross_join(left, right)
        return out.filter(ev.eval_bool(node.on, out))
    out = hash_join(left, right, lk, rk, kind)
    residual = conjoin(rest)
    if residual is not None:
        if kind != "inner":
            raise errors.FeatureNotSupported("outer join conditions beyond column equalities")
        out = out.filter(ev.eval_bool(residual, out))
    return out


def _side(col: exp.Column, left: Frame, right: Frame):
    name = col.name if col.this.args.get("quoted") else col.name.lower()
    q = col.table or None
    li = left.find(name, q)
    ri = right.find(name, q)
    if li is not None and ri is not None:
        raise errors.AmbiguousColumn(f'column reference "{name}" is ambiguous')
    if li is not None:
        return ("l", li)
    if ri is not None:
        return ("r", ri)
    return None


def cross_join(left: Frame, right: Frame) -> Frame:
    if left.n * right.n > 50_000_000:
        raise errors.ProgramLimitExceeded("cross join too large (more than 50 million rows)")
    li = np.repeat(np.arange(left.n), right.n)
    ri = np.tile(np.arange(right.n), left.n)
    lf, rf = left.take(li), right.take(ri)
    return Frame(lf.cols + rf.cols, lf.names + rf.names, len(li), lf.meta + rf.meta)


def hash_join(left: Frame, right: Frame, lk: list[int], rk: list[int], kind: str) -> Frame:
    """Equi-join through Acero (Table.join); row ids travel along to rebuild both sides."""
    lt = {f"k{i}": _join_key(left.cols[c]) for i, c in enumerate(lk)}
    rt = {f"k{i}": _join_key(right.cols[c]) for i, c in enumerate(rk)}
    for i in range(len(lk)):
        a, b = lt[f"k{i}"], rt[f"k{i}"]
        if a.type != b.type:
            t = common_type([a.type, b.type])
            lt[f"k{i}"], rt[f"k{i}"] = cast_value(a, t), cast_value(b, t)
    lt["__l"] = pa.array(np.arange(left.n), pa.int64())
    rt["__r"] = pa.array(np.arange(right.n), pa.int64())
    jt = {"inner": "inner", "left": "left outer", "right": "right outer", "full": "full outer"}[kind]
    keys = [f"k{i}" for i in range(len(lk))]
    res = pa.table(lt).join(pa.table(rt), keys=keys, join_type=jt, use_threads=False,
                            coalesce_keys=False)
    res = res.sort_by([("__l", "ascending"), ("__r", "ascending")])
    li = res.column("__l").combine_chunks()
    ri = res.column("__r").combine_chunks()
    lf = Frame([c.take(li) for c in left.cols], list(left.names), len(li), list(left.meta))
    rf = Frame([c.take(ri) for c in right.cols], list(right.names), len(ri), list(right.meta))
    return Frame(lf.cols + rf.cols, lf.names + rf.names, len(li), lf.meta + rf.meta)


def _join_key(a):
    a = broadcast(a, len(a)) if not isinstance(a, pa.Array) else a
    if pa.types.is_timestamp(a.type):
        return a.cast(pa.int64())
    if pa.types.is_float32(a.type):
        return a.cast(pa.float64())
    return a


def fast_bucket_columns(spec, ctx: Ctx, ev, tbk: str | None = None) -> list[pa.Array] | None:
    """Output columns of a FastScan (select.py) straight from Engine.read; None when the general
    path must run (Describe, or a transaction with buffered writes to this bucket)."""
    scan = spec.scan
    rel = scan.rel
    tbk = tbk or spec.tbk(ctx.engine)
    if tbk is None or getattr(ctx, "schema_only", False) or overlay.pending_for(ctx.session, tbk):
        return None
    empty = Frame([], [], 1)
    start, end, none = time_bounds(scan, ev, empty)
    limit = spec.limit
    if limit is None:
        lv = ev.eval(scan.limit, empty)
        limit = int(lv.as_py()) if lv.is_valid else None
        if limit is not None and limit < 0:
            raise errors.InvalidParameterValue("LIMIT must not be negative")
    if none or limit == 0:
        f = _empty(rel, spec.cols, scan.alias)
    else:
        renames = _case_renames(rel, [ctx.engine.info(tbk)]).get(tbk, {}) if spec.symbol else {}
        data = _read_renamed(ctx.engine, tbk, renames, start, end, columns=scan.columns, limit=limit,
                             from_end=scan.from_end)
        if spec.desc:
            # storage rows are ascending and epochs unique (fixed-length bucket): DESC is a reversal
            data = {k: np.ascontiguousarray(v[::-1]) for k, v in data.items()}
        f = bucket_frame(rel, data, spec.cols, scan.alias, spec.symbol)
    return [f.cols[i] for i in spec.pick]
