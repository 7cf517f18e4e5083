"""Vectorised evaluation of sqlglot expressions over a Frame, with SQL NULL semantics.

Results are pyarrow Arrays (one value per row), Scalars (constants) or `Interval` constants.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import functions
from pgmkts.planner.exec.frame import Ctx, Frame
from pgmkts.planner.exec.ops import (
    _TZ,
    _coerce_unknown,
    _dec_to_float,
    _in_values,
    arith,
    compare,
)
from pgmkts.planner.exec.values import (
    Interval,
    broadcast,
    cast_value,
    common_type,
    parse_interval,
    ts_scalar,
    type_of,
)
from pgmkts.planner.types import TS, cast_target

AGG_TYPES: tuple[type, ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.First, exp.Last, exp.Stddev, exp.StddevSamp,
    exp.StddevPop, exp.Variance, exp.VariancePop, exp.LogicalAnd, exp.LogicalOr, exp.GroupConcat,
    exp.ArrayAgg, exp.WithinGroup, exp.AnyValue,
)
AGG_NAMES = {"bool_and", "bool_or", "every", "string_agg", "array_agg", "first", "last",
             "percentile_cont", "percentile_disc", "var_samp", "var_pop", "stddev", "count",
             "sum", "avg", "min", "max", "median"}


def is_aggregate(node: exp.Expression) -> bool:
    if isinstance(node, exp.Filter):
        return is_aggregate(node.this)
    if isinstance(node, AGG_TYPES):
        # min/max with several arguments are not aggregates in sqlglot's sense; PG has no such
        return not isinstance(node.parent, exp.Window) or node.parent.this is not node
    if isinstance(node, exp.Anonymous) and node.name.lower() in AGG_NAMES:
        return True
    return False


def contains_aggregate(node: exp.Expression) -> bool:
    for n in node.walk():
        if not isinstance(n, exp.Expression) or isinstance(n, exp.Window):
            continue
        if is_aggregate(n) and not _inside_window(n, node) and not _inside_subquery(n, node):
            return True
    return False


def _inside_window(n: exp.Expression, root: exp.Expression) -> bool:
    p = n.parent
    while p is not None and p is not root.parent:
        if isinstance(p, exp.Window):
            return True
        p = p.parent
    return False


def _inside_subquery(n: exp.Expression, root: exp.Expression) -> bool:
    p = n.parent
    while p is not None and p is not root.parent:
        if isinstance(p, exp.Subquery | exp.Select) and p is not root:
            return True
        p = p.parent
    return False


def node_key(node: exp.Expression) -> str:
    """Structural key of an expression (GROUP BY matching, aggregate substitution)."""
    return node.sql(dialect="postgres")


class Evaluator:
    """Evaluates expressions; one per execution (holds the context)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    # -- entry
    def eval(self, node: exp.Expression, f: Frame) -> Any:
        if f.subst:
            k = node_key(node)
            if k in f.subst:
                return f.subst[k]
        fn = _DISPATCH.get(type(node))
        if fn is None:
            if isinstance(node, exp.Func):
                return self._func(node, f)
            raise errors.FeatureNotSupported(f"expression {node.key} is not supported: {node.sql()[:80]}")
        return fn(self, node, f)

    def eval_array(self, node: exp.Expression, f: Frame) -> pa.Array:
        return broadcast(self.eval(node, f), f.n)

    def eval_bool(self, node: exp.Expression, f: Frame):
        v = self.eval(node, f)
        if isinstance(v, Interval) or not (pa.types.is_boolean(v.type) or pa.types.is_null(v.type)):
            raise errors.DatatypeMismatch(f"argument of WHERE must be type boolean: {node.sql()[:60]}")
        if pa.types.is_null(v.type):
            return pa.scalar(None, pa.bool_()) if isinstance(v, pa.Scalar) else pa.nulls(len(v), pa.bool_())
        return v

    # -- leaves
    def _column(self, node: exp.Column, f: Frame):
        name = node.name if node.this.args.get("quoted") else node.name.lower()
        qual = node.table or None
        if isinstance(node.this, exp.Star):
            raise errors.FeatureNotSupported("qualified * in an expression")
        fr: Frame | None = f
        while fr is not None:
            i = fr.find(name, qual)
            if i is not None:
                return fr.cols[i]
            if fr.grouping_src is not None and fr.grouping_src.find(name, qual) is not None:
                raise errors.GroupingError(
                    f'column "{(qual + ".") if qual else ""}{name}" must appear in the GROUP BY clause '
                    "or be used in an aggregate function")
            fr = None
        if self.ctx.outer is not None:
            i = self.ctx.outer.find(name, qual)
            if i is not None:
                return self.ctx.outer.cols[i][0]  # one outer row at a time: a constant here
        if qual is None and name in ("current_user", "session_user", "user", "current_role"):
            return pa.scalar(self.ctx.settings.get("session_authorization", "pgmkts"))
        full = f"{qual}.{name}" if qual else name
        raise errors.UndefinedColumn(f'column "{full}" does not exist')

    def _literal(self, node: exp.Literal, f: Frame):
        if node.is_string:
            return pa.scalar(node.this)
        t = node.this
        try:
            i = int(t)
            if -(2**31) <= i < 2**31:
                return pa.scalar(i, pa.int32())
            if -(2**63) <= i < 2**63:
                return pa.scalar(i, pa.int64())
            return pa.scalar(float(i))
        except ValueError:
            if "e" in t.lower() and float(t) in (float("inf"), float("-inf")):
                raise errors.NumericValueOutOfRange(f"value {t} is out of range for type double precision") from None
            # PostgreSQL types 2.5 as numeric: keep it decimal so round() and output types agree
            if "e" not in t.lower() and len(t) <= 30:
                try:
                    return pa.scalar(decimal.Decimal(t))
                except (decimal.InvalidOperation, pa.ArrowInvalid):
                    pass
            return pa.scalar(float(t))

    def _param(self, node, f: Frame):
        raw = node.this.this if isinstance(node, exp.Parameter) else node.name
        try:
            idx = int(raw) - 1
        except (TypeError, ValueError):
            raise errors.SyntaxError_(f'syntax error at or near "${raw}"') from None
        if idx < 0 or idx >= len(self.ctx.params):
            raise errors.UndefinedObject(f"there is no parameter ${idx + 1}")
        v = self.ctx.params[idx]
        return param_scalar(v)

    def _interval(self, node: exp.Interval, f: Frame):
        txt = node.this.name if node.this is not None else ""
        unit = node.unit.name if node.unit is not None else ""
        return parse_interval(f"{txt} {unit}".strip())

    # -- operators
    def _arith(self, node, f: Frame):
        a = self.eval(node.this, f)
        b = self.eval(node.expression, f)
        a, b = _coerce_unknown(node.this, a, node.expression, b, self.ctx)
        tok = _TZ.set(self.ctx.tz)
        try:
            return arith(type(node), a, b)
        finally:
            _TZ.reset(tok)

    def _neg(self, node, f):
        v = self.eval(node.this, f)
        if isinstance(v, Interval):
            return -v
        return pc.negate_checked(v)

    def _compare_any(self, node, f: Frame, is_all: bool, arr_node):
        """x op ANY(array) / x op ALL(array) (psycopg sends Python lists this way)."""
        a = self.eval(node.this, f)
        arr = self.eval(arr_node, f)
        if isinstance(arr, pa.Scalar) and not arr.is_valid:
            return pa.scalar(None, pa.bool_())
        if isinstance(arr, pa.Scalar) and pa.types.is_string(arr.type):
            # an unknown-typed array: a '{1,2}' literal or a text parameter (Go lib/pq's pq.Array)
            from pgmkts.planner.catalog.sqlrun import parse_array_literal
            items = parse_array_literal(arr.as_py()) or []
            arr = pa.scalar([None if x is None else str(x) for x in items], pa.list_(pa.string()))
        if not isinstance(arr, pa.Scalar) or not (pa.types.is_list(arr.type) or pa.types.is_null(arr.type)):
            raise errors.FeatureNotSupported("ANY/ALL over a sub-query or a column; use IN (...)")
        items = arr.as_py() or []
        vt = arr.type.value_type if pa.types.is_list(arr.type) else pa.string()
        if isinstance(node, exp.EQ) and not is_all:
            vals = pa.array(items, vt)
            if pa.types.is_string(vt) and not pa.types.is_string(type_of(a)):
                vals = cast_value(vals, type_of(a), self.ctx.tz)   # '{1,2}' against an int8 column
            t = common_type([type_of(a), vals.type])
            return _in_values(cast_value(a, t, self.ctx.tz), cast_value(vals, t, self.ctx.tz))
        out = pa.scalar(is_all)
        for it in items:
            b = cast_value(pa.scalar(it, vt), type_of(a), self.ctx.tz) if pa.types.is_string(vt) else \
                pa.scalar(it, vt)
            c = compare(type(node), a, b)
            out = pc.and_kleene(out, c) if is_all else pc.or_kleene(out, c)
        return out

    def _compare(self, node, f: Frame):
        rhs = node.expression
        if isinstance(rhs, exp.Any | exp.All):
            return self._compare_any(node, f, isinstance(rhs, exp.All), rhs.this)
        if isinstance(rhs, exp.Anonymous) and rhs.name.lower() == "all" and len(rhs.expressions) == 1:
            return self._compare_any(node, f, True, rhs.expressions[0])
        a = self.eval(node.this, f)
        b = self.eval(node.expression, f)
        a, b = _coerce_unknown(node.this, a, node.expression, b, self.ctx)
        return compare(type(node), a, b)

    def _and(self, node, f):
        return pc.and_kleene(self.eval_bool(node.this, f), self.eval_bool(node.expression, f))

    def _or(self, node, f):
        return pc.or_kleene(self.eval_bool(node.this, f), self.eval_bool(node.expression, f))

    def _not(self, node, f):
        return pc.invert(self.eval_bool(node.this, f))

    def _paren(self, node, f):
        return self.eval(node.this, f)

    def _is(self, node: exp.Is, f):
        v = self.eval(node.this, f)
        rhs = node.expression
        if isinstance(rhs, exp.Null):
            out = pc.is_null(v) if not isinstance(v, Interval) else pa.scalar(False)
        elif isinstance(rhs, exp.Boolean):
            out = pc.fill_null(pc.equal(v, pa.scalar(rhs.this)), False)
        else:
            raise errors.FeatureNotSupported(f"IS {rhs.sql()}")
        return pc.invert(out) if node.args.get("negate") else out

    def _between(self, node: exp.Between, f):
        v = self.eval(node.this, f)
        lo = self.eval(node.args["low"], f)
        hi = self.eval(node.args["high"], f)
        v1, lo = _coerce_unknown(node.this, v, node.args["low"], lo, self.ctx)
        v2, hi = _coerce_unknown(node.this, v, node.args["high"], hi, self.ctx)
        return pc.and_kleene(compare(exp.GTE, v1, lo), compare(exp.LTE, v2, hi))

    def _distinct_from(self, node, f: Frame):
        a, b = self.eval(node.this, f), self.eval(node.expression, f)
        a, b = _coerce_unknown(node.this, a, node.expression, b, self.ctx)
        eq = compare(exp.EQ, a, b)
        an = pc.is_null(a) if not isinstance(a, pa.Scalar) else pa.scalar(not a.is_valid)
        bn = pc.is_null(b) if not isinstance(b, pa.Scalar) else pa.scalar(not b.is_valid)
        same = pc.or_(pc.and_(an, bn), pc.fill_null(eq, False))
        return same if isinstance(node, exp.NullSafeEQ) else pc.invert(same)

    def _in_tuple(self, node: exp.In, f: Frame, q):
        from pgmkts.planner.exec.keys import group_ids
        from pgmkts.planner.exec.select import run_subquery
        sub = run_subquery(q.this if isinstance(q, exp.Subquery) else q, self.ctx)
        left = [broadcast(self.eval(e, f), f.n) for e in node.this.expressions]
        if len(left) != len(sub.cols):
            raise errors.SyntaxError_("subquery has the wrong number of columns")
        keys = []
        for a, b in zip(left, sub.cols, strict=True):
            t = common_type([a.type, b.type])
            keys.append(pa.concat_arrays([cast_value(a, t, self.ctx.tz), cast_value(b, t, self.ctx.tz)]))
        gid, ng = group_ids(keys, f.n + sub.n)
        present = np.zeros(ng, bool)
        present[gid[f.n:]] = True
        return pa.array(present[gid[:f.n]])

    def _in(self, node: exp.In, f: Frame):
        q = node.args.get("query")
        if isinstance(node.this, exp.Tuple) and q is not None:
            return self._in_tuple(node, f, q)
        v = self.eval(node.this, f)
        if q is not None:
            from pgmkts.planner.exec.select import per_outer_row, run_subquery
            qn = q.this if isinstance(q, exp.Subquery) else q
            try:
                sub = run_subquery(qn, self.ctx)
            except errors.UndefinedColumn:
                if f.n == 0 or not f.cols:
                    raise
                vb = broadcast(v, f.n)

                def member(sub, i=[0]):  # noqa: B006 - row counter across calls
                    x = vb[i[0]]
                    i[0] += 1
                    r = _in_values(cast_value(x, sub.cols[0].type, self.ctx.tz), sub.cols[0])
                    return r.as_py()
                return pa.array(per_outer_row(qn, self.ctx, f, member), pa.bool_())
            if len(sub.cols) != 1:
                raise errors.SyntaxError_("subquery has too many columns")
            vals = sub.cols[0]
            if isinstance(v, pa.Scalar) or isinstance(v, pa.Array):
                t = common_type([type_of(v), vals.type])
                v = cast_value(v, t, self.ctx.tz)
                vals = cast_value(vals, t, self.ctx.tz)
            return _in_values(v, vals)
        items = [self.eval(e, f) for e in node.expressions]
        items = [_coerce_unknown(node.this, v, e, it, self.ctx)[1] for e, it in zip(node.expressions, items, strict=False)]
        if all(isinstance(it, pa.Scalar) for it in items):
            t = common_type([type_of(v)] + [it.type for it in items])
            vals = pa.array([cast_value(it, t, self.ctx.tz).as_py() for it in items], t)
            return _in_values(cast_value(v, t, self.ctx.tz), vals)
        out = None
        for it in items:
            eq = compare(exp.EQ, v, it)
            out = eq if out is None else pc.or_kleene(out, eq)
        return out

    def _like(self, node, f):
        v = self.eval(node.this, f)
        pat = self.eval(node.expression, f)
        if not isinstance(pat, pa.Scalar):
            raise errors.FeatureNotSupported("LIKE with a non-constant pattern")
        if not pat.is_valid:
            return pa.scalar(None, pa.bool_())
        out = pc.match_like(v, pat.as_py(), ignore_case=isinstance(node, exp.ILike))
        return pc.invert(out) if node.args.get("negate") else out

    def _boolean(self, node, f):
        return pa.scalar(bool(node.this))

    def _null(self, node, f):
        return pa.scalar(None, pa.null())

    def _cast(self, node: exp.Cast, f):
        to = node.to
        tname = to.this.name if hasattr(to.this, "name") else str(to.this)
        if tname == "USERDEFINED":
            tname = (to.args.get("kind") or "").upper() or to.sql().upper()
        target, oid = cast_target(tname)
        if isinstance(node.this, exp.Literal) and node.this.is_string and pa.types.is_interval(target):
            return parse_interval(node.this.this)
        v = self.eval(node.this, f)
        if oid == 26 and isinstance(v, pa.Scalar) and pa.types.is_string(v.type):
            # 'name'::regclass: the catalog helper registers regclass lookup; unknown → 0
            fn = functions.lookup("__regclass")
            return fn([v], self.ctx) if fn else pa.scalar(0, pa.int64())
        if tname in ("DECIMAL", "BIGDECIMAL"):
            return _to_numeric(v, to, self.ctx.tz)
        return cast_value(v, target, self.ctx.tz)

    def _case(self, node: exp.Case, f: Frame):
        base = node.this
        conds, vals = [], []
        for w in node.args.get("ifs") or []:
            c = w.this
            if base is not None:
                cond = self._compare_nodes(exp.EQ, base, c, f)
            else:
                cond = self.eval_bool(c, f)
            conds.append(cond)
            vals.append(self.eval(w.args["true"], f))
        dflt = node.args.get("default")
        vals.append(self.eval(dflt, f) if dflt is not None else pa.scalar(None, pa.null()))
        t = common_type([type_of(v) for v in vals])
        if all(isinstance(c, pa.Scalar) for c in conds):
            for c, v in zip(conds, vals, strict=False):
                if c.is_valid and c.as_py():
                    return cast_value(v, t, self.ctx.tz)
            return cast_value(vals[-1], t, self.ctx.tz)
        n = f.n
        conds_a = [broadcast(c, n) for c in conds]
        vals_a = [broadcast(cast_value(v, t, self.ctx.tz), n) for v in vals]
        return pc.case_when(pc.make_struct(*conds_a, field_names=[f"c{i}" for i in range(len(conds_a))]),
                            *vals_a)

    def _compare_nodes(self, op, x, y, f):
        a, b = self.eval(x, f), self.eval(y, f)
        a, b = _coerce_unknown(x, a, y, b, self.ctx)
        return compare(op, a, b)

    def _if(self, node: exp.If, f):
        c = self.eval_bool(node.this, f)
        a = self.eval(node.args["true"], f)
        false = node.args.get("false")
        b = self.eval(false, f) if false is not None else pa.scalar(None, pa.null())
        t = common_type([type_of(a), type_of(b)])
        return pc.if_else(c, cast_value(a, t), cast_value(b, t))

    def _subquery(self, node: exp.Subquery, f: Frame):
        from pgmkts.planner.exec.select import run_scalar_subquery
        return run_scalar_subquery(node.this, self.ctx, f)

    def _exists(self, node: exp.Exists, f: Frame):
        from pgmkts.planner.exec.select import per_outer_row, run_subquery
        q = node.this.this if isinstance(node.this, exp.Subquery) else node.this
        try:
            sub = run_subquery(q, self.ctx, limit_one=True)
        except errors.UndefinedColumn:
            if f.n == 0 or not f.cols:
                raise
            return pa.array(per_outer_row(q, self.ctx, f, lambda sub: sub.n > 0), pa.bool_())
        return pa.scalar(sub.n > 0)

    def _window(self, node, f):
        raise errors.FeatureNotSupported("window function in this position (only in the SELECT list)")

    def _agg(self, node, f: Frame):
        raise errors.GroupingError(
            f"aggregate function {node.key} is not allowed here (WHERE, GROUP BY or a nested aggregate)")

    def _func(self, node: exp.Func, f: Frame):
        if isinstance(node, AGG_TYPES) or (isinstance(node, exp.Anonymous)
                                           and node.name.lower() in AGG_NAMES):
            return self._agg(node, f)
        name, args = functions.signature(node)
        impl = functions.lookup(name)
        if impl is None:
            raise errors.UndefinedFunction(f"function {name}() does not exist",
                                           hint="No function matches the given name; see the docs "
                                                "for the supported SQL functions.")
        vals = [self.eval(a, f) if isinstance(a, exp.Expression) else a for a in args]
        if name not in _DECIMAL_OK:
            vals = [_dec_to_float(v) if isinstance(v, pa.Array | pa.Scalar) else v for v in vals]
        try:
            return impl(vals, self.ctx)
        except pa.ArrowInvalid as exc:  # (a ValueError subclass: must come first)
            raise errors.InvalidParameterValue(f"invalid argument for function {name}(): {exc}") from None
        except (ValueError, TypeError) as exc:
            # a Python conversion inside a function: bad argument text, as PostgreSQL reports it
            raise errors.InvalidTextRepresentation(f"invalid input for function {name}(): {exc}") from None

    def _tuple(self, node, f):
        raise errors.FeatureNotSupported("row constructors")

    def _dpipe(self, node, f):
        a, b = self.eval(node.this, f), self.eval(node.expression, f)
        return functions.text_concat([a, b], strict=True, tz=self.ctx.tz)

    def _array(self, node: exp.Array, f):
        vals = [self.eval(e, f) for e in node.expressions]
        if all(isinstance(v, pa.Scalar) for v in vals):
            t = common_type([v.type for v in vals]) if vals else pa.string()
            return pa.scalar([cast_value(v, t).as_py() for v in vals], pa.list_(t))
        raise errors.FeatureNotSupported("ARRAY[...] over columns")

    def _attz(self, node: exp.AtTimeZone, f):
        v = self.eval(node.this, f)
        zone = self.eval(node.args["zone"], f).as_py()
        if pa.types.is_timestamp(v.type) and v.type.tz:
            # timestamptz AT TIME ZONE z → local wall time (timestamp without time zone)
            return pc.local_timestamp(pc.cast(v, pa.timestamp("us", tz=zone))) if not isinstance(
                v, pa.Scalar) else pc.local_timestamp(broadcast(v, 1).cast(pa.timestamp("us", tz=zone)))[0]
        if pa.types.is_timestamp(v.type):
            arr = broadcast(v, 1) if isinstance(v, pa.Scalar) else v
            out = pc.assume_timezone(arr, zone).cast(TS)
            return out[0] if isinstance(v, pa.Scalar) else out
        raise errors.DatatypeMismatch("AT TIME ZONE needs a timestamp")

    def _star(self, node, f):
        raise errors.FeatureNotSupported("* in this position")


def _to_numeric(v, to: exp.DataType, tz: str):
    """::numeric[(p, s)] → decimal128; floats round half away from zero like PostgreSQL."""
    scale = int(to.expressions[1].name) if len(to.expressions) > 1 else (0 if to.expressions else None)
    if isinstance(v, Interval):
        raise errors.DatatypeMismatch("cannot cast type interval to numeric")
    if pa.types.is_string(v.type):
        v = cast_value(v, pa.float64(), tz) if scale is None else v
    if pa.types.is_decimal(v.type):
        if scale is None:
            return v
        return pc.cast(pc.round(v, scale, round_mode="half_towards_infinity"), pa.decimal128(38, scale))
    f = pc.cast(v, pa.float64()) if not pa.types.is_null(v.type) else v
    if scale is None:
        # no scale: keep 10 fractional digits (pgmkts' numeric is decimal128(38, 10))
        return pc.cast(pc.round(f, 10, round_mode="half_towards_infinity"), pa.decimal128(38, 10), safe=False)
    r = pc.round(f, scale, round_mode="half_towards_infinity")
    return pc.cast(r, pa.decimal128(38, scale), safe=False)


def param_scalar(v) -> pa.Scalar:
    import datetime as dt
    if v is None:
        return pa.scalar(None, pa.null())
    if isinstance(v, pa.Scalar):
        return v
    if isinstance(v, bool):
        return pa.scalar(v)
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 63):   # PostgreSQL's own message for a bigint parameter
            raise errors.NumericValueOutOfRange(f'value "{v}" is out of range for type bigint')
        return pa.scalar(v, pa.int64())
    if isinstance(v, float):
        return pa.scalar(v, pa.float64())
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return pa.scalar(v).cast(TS)
    if isinstance(v, dt.timedelta):
        return Interval(0, v.days, v.seconds * 1_000_000 + v.microseconds)
    if isinstance(v, dt.date):
        return pa.scalar(v, pa.date32())
    if isinstance(v, Interval):
        return v
    if isinstance(v, bytes | bytearray | memoryview):
        return pa.scalar(bytes(v))
    if isinstance(v, list | tuple):
        vals = list(v)
        try:
            return pa.scalar(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.scalar([None if x is None else str(x) for x in vals], pa.list_(pa.string()))
    return pa.scalar(str(v))


_DECIMAL_OK = {"round", "abs", "sign", "coalesce", "nullif", "greatest", "least"}


# node class → evaluator method (self, node, frame); the node argument is the exact class
_DISPATCH: dict[type[exp.Expression], Callable[[Evaluator, Any, Frame], Any]] = {
    exp.Column: Evaluator._column, exp.Literal: Evaluator._literal, exp.Parameter: Evaluator._param,
    exp.Placeholder: Evaluator._param, exp.Interval: Evaluator._interval,
    exp.Add: Evaluator._arith, exp.Sub: Evaluator._arith, exp.Mul: Evaluator._arith,
    exp.Div: Evaluator._arith, exp.Mod: Evaluator._arith, exp.Neg: Evaluator._neg,
    exp.EQ: Evaluator._compare, exp.NEQ: Evaluator._compare, exp.GT: Evaluator._compare,
    exp.GTE: Evaluator._compare, exp.LT: Evaluator._compare, exp.LTE: Evaluator._compare,
    exp.And: Evaluator._and, exp.Or: Evaluator._or, exp.Not: Evaluator._not,
    exp.Paren: Evaluator._paren, exp.Is: Evaluator._is, exp.Between: Evaluator._between,
    exp.In: Evaluator._in, exp.Like: Evaluator._like, exp.ILike: Evaluator._like,
    exp.Boolean: Evaluator._boolean, exp.Null: Evaluator._null, exp.Cast: Evaluator._cast,
    exp.TryCast: Evaluator._cast, exp.Case: Evaluator._case, exp.If: Evaluator._if,
    exp.Subquery: Evaluator._subquery, exp.Exists: Evaluator._exists, exp.Window: Evaluator._window,
    exp.Tuple: Evaluator._tuple, exp.DPipe: Evaluator._dpipe, exp.Array: Evaluator._array,
    exp.AtTimeZone: Evaluator._attz, exp.NullSafeEQ: Evaluator._distinct_from,
    exp.NullSafeNEQ: Evaluator._distinct_from, exp.Star: Evaluator._star, exp.Filter: Evaluator._agg,
    exp.Alias: lambda self, n, f: self.eval(n.this, f),
}


def now_scalar(ctx: Ctx) -> pa.Scalar:
    return ts_scalar(ctx.now_us)


def to_numpy_f8(v) -> np.ndarray:
    return np.asarray(pc.cast(v, pa.float64()).to_numpy(zero_copy_only=False))
