"""Aggregate functions over group ids: Acero hash aggregates for the standard ones, numpy for the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner.exec.values import broadcast, cast_value


def _scatter(present_gids: np.ndarray, vals: pa.Array, ngroups: int) -> pa.Array:
    """Place per-present-group results at their gid; absent groups become NULL."""
    if len(present_gids) == ngroups and np.array_equal(present_gids, np.arange(ngroups)):
        return vals
    pos = np.full(ngroups, -1, np.int64)
    pos[present_gids] = np.arange(len(present_gids))
    idx = pa.array(pos, mask=pos < 0)
    return vals.take(idx)


def _acero(kind: str, vals: pa.Array, gid: np.ndarray, ngroups: int, opts=None) -> pa.Array:
    t = pa.table({"g": pa.array(gid, pa.int64()), "v": vals})
    out = t.group_by("g", use_threads=False).aggregate([("v", kind, opts)] if opts else [("v", kind)])
    return _scatter(out.column("g").to_numpy(), out.column(out.column_names[0] if out.column_names[0] != "g"
                                                              else out.column_names[1]).combine_chunks(),
                    ngroups)


def aggregate(name: str, args: list, gid: np.ndarray, ngroups: int, *, distinct: bool = False,
              star: bool = False, extra=None) -> pa.Array:
    """One aggregate over rows already filtered (FILTER) → array of length ngroups."""
    if star:
        return pa.array(np.bincount(gid, minlength=ngroups).astype(np.int64))
    v: Any = args[0] if args else None
    if distinct:
        if name not in ("count", "sum", "avg", "min", "max", "string_agg", "array_agg"):
            raise errors.FeatureNotSupported(f"{name}(DISTINCT ...)")
        t = pa.table({"g": pa.array(gid, pa.int64()), "v": v})
        d = t.group_by(["g", "v"], use_threads=False).aggregate([])
        gid = d.column("g").to_numpy()
        v = d.column("v").combine_chunks()
        args = [v, *args[1:]]
    if name == "count":
        nn = ~v.is_null().to_numpy(zero_copy_only=False)
        return pa.array(np.bincount(gid[nn], minlength=ngroups).astype(np.int64))
    if name == "sum":
        src = v
        if pa.types.is_integer(v.type):
            src = pc.cast(v, pa.int64())
        elif pa.types.is_floating(v.type):
            src = pc.cast(v, pa.float64())
        elif not pa.types.is_duration(v.type):
            raise errors.UndefinedFunction(f"function sum({v.type}) does not exist")
        out = _acero("sum", src, gid, ngroups)
        if pa.types.is_int64(v.type) or pa.types.is_uint32(v.type):
            # PostgreSQL: sum(bigint) is numeric
            out = pc.cast(out, pa.decimal128(38, 0))
        if pa.types.is_float32(v.type):
            out = pc.cast(out, pa.float32())
        return out
    if name == "avg":
        if not (pa.types.is_integer(v.type) or pa.types.is_floating(v.type)):
            raise errors.UndefinedFunction(f"function avg({v.type}) does not exist")
        return _acero("mean", pc.cast(v, pa.float64()), gid, ngroups)
    if name in ("min", "max"):
        if pa.types.is_boolean(v.type):
            raise errors.UndefinedFunction(f"function {name}(boolean) does not exist")
        return _acero(name, v, gid, ngroups)
    if name in ("stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"):
        ddof = 0 if name.endswith("_pop") else 1
        kind = "stddev" if name.startswith("stddev") else "variance"
        out = _acero(kind, pc.cast(v, pa.float64()), gid, ngroups, pc.VarianceOptions(ddof=ddof))
        return out
    if name in ("bool_and", "every", "bool_or"):
        kind = "all" if name != "bool_or" else "any"
        return _acero(kind, v, gid, ngroups, pc.ScalarAggregateOptions(skip_nulls=True, min_count=1))
    if name == "string_agg" and not (pa.types.is_string(v.type) or pa.types.is_large_string(v.type)):
        raise errors.UndefinedFunction(f"function string_agg({v.type}, text) does not exist",
                                       hint="cast the value to text: string_agg(x::text, ',')")
    if name == "string_agg" and v.null_count:
        keep = ~v.is_null().to_numpy(zero_copy_only=False)
        v, gid = v.filter(pa.array(keep)), gid[keep]
    if name in ("array_agg", "string_agg"):
        lists = _acero("list", v, gid, ngroups)
        if name == "array_agg":
            return lists
        sep = extra if extra is not None else ""
        out = pc.binary_join(pc.list_flatten(lists) if False else lists.cast(pa.list_(pa.string())), sep)
        # string_agg over only NULLs (or no rows) is NULL; binary_join gives "" for empty lists
        cnt = np.bincount(gid[~v.is_null().to_numpy(zero_copy_only=False)], minlength=ngroups)
        return pc.if_else(pa.array(cnt > 0), out, pa.scalar(None, pa.string()))
    if name in ("first", "last"):
        return first_last(name, v, args[1], gid, ngroups)
    if name in ("percentile_cont", "percentile_disc", "median"):
        return percentile(name, v, extra, gid, ngroups)
    if name == "any_value":
        return _acero("first", v, gid, ngroups)
    raise errors.UndefinedFunction(f"aggregate function {name} does not exist")


def first_last(name: str, v: Any, t: Any, gid: np.ndarray, ngroups: int) -> pa.Array:
    """first(v, t)/last(v, t): the value at the smallest/largest t of each group (TimescaleDB)."""
    if len(gid) == 0:
        return pa.nulls(ngroups, v.type)
    tk = pc.cast(t, pa.int64()).to_numpy(zero_copy_only=False) if not pa.types.is_floating(t.type) \
        else t.to_numpy(zero_copy_only=False)
    tnull = t.is_null().to_numpy(zero_copy_only=False) if t.null_count else None
    if tnull is not None:
        keep = np.flatnonzero(~tnull)
        v, tk, gid = v.take(pa.array(keep)), tk[keep], gid[keep]
        if len(gid) == 0:
            return pa.nulls(ngroups, v.type)
    order = np.lexsort((tk, gid))
    g_sorted = gid[order]
    bounds = np.flatnonzero(np.diff(g_sorted)) + 1
    if name == "first":
        pick = order[np.concatenate([[0], bounds])]
    else:
        pick = order[np.concatenate([bounds - 1, [len(order) - 1]])]
    present = gid[pick]
    return _scatter(present, v.take(pa.array(pick)), ngroups)


def percentile(name: str, v: pa.Array, frac, gid: np.ndarray, ngroups: int) -> pa.Array:
    p = 0.5 if frac is None else float(frac)
    if not 0 <= p <= 1:
        raise errors.DataError(f"percentile value {p} is not between 0 and 1")
    nn = ~v.is_null().to_numpy(zero_copy_only=False)
    x: Any = pc.cast(v, pa.float64()).to_numpy(zero_copy_only=False)[nn] if name != "percentile_disc" else None
    g = gid[nn]
    if name == "percentile_disc":
        xs = v.filter(pa.array(nn))
        order = np.lexsort((np.asarray(pc.rank(xs, sort_keys="ascending")), g))
    else:
        order = np.lexsort((x, g))
    gs = g[order]
    counts = np.bincount(gs, minlength=ngroups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    present = np.flatnonzero(counts)
    if name == "percentile_disc":
        k = np.maximum(np.ceil(p * counts[present]).astype(np.int64) - 1, 0)
        pick = order[starts[present] + k]
        vals = v.filter(pa.array(nn)).take(pa.array(pick))
        return _scatter(present, vals, ngroups)
    xs = x[order]
    pos = p * (counts[present] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    a = xs[starts[present] + lo]
    b = xs[starts[present] + hi]
    return _scatter(present, pa.array(a + (b - a) * (pos - lo)), ngroups)


_AGG_NAMES: dict[type[exp.Expression], str] = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
    exp.First: "first", exp.Last: "last", exp.Stddev: "stddev", exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop", exp.Variance: "variance", exp.VariancePop: "var_pop",
    exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or", exp.GroupConcat: "string_agg",
    exp.ArrayAgg: "array_agg", exp.AnyValue: "any_value"}


def agg_spec(node: exp.Expression):
    """(name, argument nodes, distinct, star, filter node, extra node) of an aggregate call."""
    filt = None
    if isinstance(node, exp.Filter):
        filt = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        node = node.this
    extra = None
    if isinstance(node, exp.WithinGroup):
        inner = node.this
        order = node.expression
        name = inner.sql_name().lower() if not isinstance(inner, exp.Anonymous) else inner.name.lower()
        name = {"percentilecont": "percentile_cont", "percentiledisc": "percentile_disc"}.get(name, name)
        col = order.expressions[0]
        if col.args.get("desc"):
            raise errors.FeatureNotSupported("WITHIN GROUP (ORDER BY ... DESC)")
        return name, [col.this], False, False, filt, inner.this
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = list(node.expressions)
        if name == "string_agg" and len(args) == 2:
            return name, [args[0]], False, False, filt, args[1]
        return name, args, False, False, filt, None
    name = _AGG_NAMES.get(type(node))
    if name is None:
        raise errors.FeatureNotSupported(f"aggregate {node.sql()[:40]}")
    this = node.this
    distinct = False
    star = False
    if isinstance(this, exp.Distinct):
        distinct = True
        args = list(this.expressions)
    elif isinstance(this, exp.Star):
        star = True
        args = []
    elif this is None:
        star = name == "count"
        args = []
    else:
        args = [this]
    if isinstance(node, exp.First | exp.Last):
        if node.expression is None:
            raise errors.UndefinedFunction(f"function {name}(one argument) does not exist",
                                           hint=f"use {name}(value, epoch)")
        args.append(node.expression)
    if isinstance(node, exp.Min | exp.Max) and node.expressions:
        raise errors.UndefinedFunction(f"function {name} with several arguments does not exist")
    if isinstance(node, exp.GroupConcat):
        sep = node.args.get("separator")
        if isinstance(this, exp.Order):
            raise errors.FeatureNotSupported("string_agg(... ORDER BY ...)")
        return name, args, distinct, star, filt, sep
    if isinstance(node, exp.ArrayAgg) and isinstance(this, exp.Order):
        raise errors.FeatureNotSupported("array_agg(... ORDER BY ...)")
    return name, args, distinct, star, filt, extra


def result_type_for_empty(name: str, arg_type: pa.DataType | None) -> pa.DataType:
    if name in ("count",):
        return pa.int64()
    if name in ("avg", "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop",
                "percentile_cont"):
        return pa.float64()
    return arg_type or pa.null()


def eval_agg(ev, node: exp.Expression, frame, gid: np.ndarray, ngroups: int) -> pa.Array:
    name, arg_nodes, distinct, star, filt, extra_node = agg_spec(node)
    n = frame.n
    args = [broadcast(ev.eval(a, frame), n) for a in arg_nodes]
    args = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in args]
    args = [cast_value(a, pa.string()) if pa.types.is_null(a.type) and name in ("string_agg",) else a
            for a in args]
    extra = None
    if extra_node is not None:
        ev_extra = ev.eval(extra_node, frame)
        extra = ev_extra.as_py() if isinstance(ev_extra, pa.Scalar) else ev_extra
    g = gid
    if filt is not None:
        m = ev.eval_bool(filt, frame)
        m = broadcast(m, n).fill_null(False).to_numpy(zero_copy_only=False)
        g = gid[m]
        args = [a.filter(pa.array(m)) for a in args]
    if args and pa.types.is_null(args[0].type) and name not in ("count",):
        return pa.nulls(ngroups, result_type_for_empty(name, None))
    return aggregate(name, args, g, ngroups, distinct=distinct, star=star, extra=extra)
