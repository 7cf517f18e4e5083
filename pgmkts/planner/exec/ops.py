"""Operators with PostgreSQL semantics: arithmetic, comparison, interval arithmetic, IN lists and
the 'unknown' string-literal coercion. Values are arrow Arrays/Scalars or `Interval` constants."""

from __future__ import annotations

import contextvars

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner.exec.frame import Ctx
from pgmkts.planner.exec.values import Interval, add_interval, cast_value, parse_interval
from pgmkts.planner.types import TS

# session TimeZone for interval arithmetic (days and months follow local wall-clock time)
_TZ: contextvars.ContextVar[str] = contextvars.ContextVar("pgmkts_tz", default="UTC")


def _in_values(v, vals: pa.Array):
    vals_nn = vals.drop_null() if vals.null_count else vals
    res = pc.is_in(v, value_set=vals_nn)
    # x IN (..., NULL) is NULL when x matches nothing (three-valued logic)
    nullv = pc.is_null(v) if not isinstance(v, pa.Scalar) else pa.scalar(not v.is_valid)
    if vals.null_count:
        res = pc.if_else(res, True, pa.scalar(None, pa.bool_()))
    if isinstance(res, pa.Scalar):
        return pa.scalar(None, pa.bool_()) if nullv.as_py() else res
    return pc.if_else(nullv, pa.scalar(None, pa.bool_()), res)


def _coerce_unknown(xn, a, yn, b, ctx: Ctx):
    """An untyped string literal takes the type of the other operand (PostgreSQL's 'unknown')."""
    if isinstance(a, Interval) or isinstance(b, Interval):
        if isinstance(a, pa.Scalar) and pa.types.is_string(a.type) and _is_unknown(xn):
            a = parse_interval(a.as_py())
        if isinstance(b, pa.Scalar) and pa.types.is_string(b.type) and _is_unknown(yn):
            b = parse_interval(b.as_py())
        return a, b
    ta, tb = a.type, b.type
    if ta == tb:
        return a, b
    if _is_unknown(yn) and pa.types.is_string(tb) and not pa.types.is_null(ta):
        return a, cast_value(b, ta, ctx.tz)
    if _is_unknown(xn) and pa.types.is_string(ta) and not pa.types.is_null(tb):
        return cast_value(a, tb, ctx.tz), b
    return a, b


def _is_unknown(n) -> bool:
    return isinstance(n, exp.Literal) and n.is_string or isinstance(n, exp.Parameter | exp.Placeholder)


def arith(op, a, b):
    if isinstance(a, Interval) or isinstance(b, Interval):
        return _interval_arith(op, a, b)
    ta, tb = a.type, b.type
    if pa.types.is_null(ta) or pa.types.is_null(tb):
        return pa.scalar(None, pa.null()) if isinstance(a, pa.Scalar) and isinstance(b, pa.Scalar) else \
            pa.nulls(len(a) if not isinstance(a, pa.Scalar) else len(b), pa.float64())
    if pa.types.is_timestamp(ta) and pa.types.is_timestamp(tb) and op is exp.Sub:
        return pc.subtract(a, b)
    if pa.types.is_date32(ta) and pa.types.is_integer(tb) and op in (exp.Add, exp.Sub):
        d = pc.cast(pc.cast(a, pa.int32()), pa.int64())
        r = pc.add(d, b) if op is exp.Add else pc.subtract(d, b)
        return pc.cast(pc.cast(r, pa.int32()), pa.date32())
    if pa.types.is_decimal(ta) or pa.types.is_decimal(tb):
        # numeric arithmetic runs in float8 (pgmkts has no arbitrary-precision numeric)
        a, b = _dec_to_float(a), _dec_to_float(b)
        ta, tb = a.type, b.type
    # PostgreSQL: real op integer resolves to the float8 operator
    if pa.types.is_float32(ta) and pa.types.is_integer(tb) or pa.types.is_integer(ta) and pa.types.is_float32(tb):
        a, b = pc.cast(a, pa.float64()), pc.cast(b, pa.float64())
        ta, tb = a.type, b.type
    if pa.types.is_string(ta) or pa.types.is_string(tb):
        raise errors.UndefinedFunction(f"operator does not exist: {ta} {op.key} {tb}",
                                       hint="You might need to add explicit type casts.")
    try:
        if op is exp.Add:
            return pc.add_checked(a, b)
        if op is exp.Sub:
            return pc.subtract_checked(a, b)
        if op is exp.Mul:
            return pc.multiply_checked(a, b)
        if op is exp.Div:
            zero = pc.equal(b, 0)
            if pc.any(zero).as_py() if not isinstance(zero, pa.Scalar) else zero.as_py():
                nonnull_a = (a.is_valid if isinstance(a, pa.Scalar) else True)
                if nonnull_a:
                    raise errors.DivisionByZero("division by zero")
            return pc.divide(a, b)
        if op is exp.Mod:
            zero = pc.equal(b, 0)
            if pc.any(zero).as_py() if not isinstance(zero, pa.Scalar) else zero.as_py():
                raise errors.DivisionByZero("division by zero")
            if pa.types.is_integer(ta) and pa.types.is_integer(tb):
                # sign follows the dividend, as in C and PostgreSQL
                q = pc.divide(a, b)
                return pc.subtract(a, pc.multiply(q, b))
            return pc.subtract(a, pc.multiply(pc.trunc(pc.divide(a, b)), b))
    except pa.ArrowInvalid as exc:
        if "overflow" in str(exc).lower():
            raise errors.NumericValueOutOfRange("integer out of range") from None
        raise errors.DataError(str(exc)) from None
    except pa.ArrowNotImplementedError:
        raise errors.UndefinedFunction(f"operator does not exist: {ta} {op.key} {tb}") from None
    raise errors.FeatureNotSupported(f"operator {op.key}")


def _interval_arith(op, a, b):
    if isinstance(a, Interval) and isinstance(b, Interval):
        if op is exp.Add:
            return Interval(a.months + b.months, a.days + b.days, a.us + b.us)
        if op is exp.Sub:
            return Interval(a.months - b.months, a.days - b.days, a.us - b.us)
    if isinstance(b, Interval) and not isinstance(a, Interval):
        if pa.types.is_timestamp(a.type) or pa.types.is_date32(a.type):
            if pa.types.is_date32(a.type):
                a = pc.cast(a, TS)
            if op is exp.Add:
                return add_interval(a, b, 1, _TZ.get())
            if op is exp.Sub:
                return add_interval(a, b, -1, _TZ.get())
        if op is exp.Mul and isinstance(a, pa.Scalar):
            return b * a.as_py()
        if op is exp.Div and isinstance(a, pa.Scalar):
            raise errors.UndefinedFunction("operator does not exist: number / interval")
    if isinstance(a, Interval) and not isinstance(b, Interval):
        if op is exp.Add and pa.types.is_timestamp(b.type):
            return add_interval(b, a, 1, _TZ.get())
        if op is exp.Mul and isinstance(b, pa.Scalar):
            return a * b.as_py()
        if op is exp.Div and isinstance(b, pa.Scalar):
            if b.as_py() == 0:
                raise errors.DivisionByZero("division by zero")
            return a * (1.0 / b.as_py())
    raise errors.FeatureNotSupported(f"interval arithmetic {op.key} with these operands")


_CMP = {exp.EQ: pc.equal, exp.NEQ: pc.not_equal, exp.GT: pc.greater, exp.GTE: pc.greater_equal,
        exp.LT: pc.less, exp.LTE: pc.less_equal}


def compare(op, a, b):
    if isinstance(a, Interval) or isinstance(b, Interval):
        if isinstance(a, Interval) and isinstance(b, Interval):
            x, y = a.fixed_us() + a.months * 30 * 86400 * 10**6, b.fixed_us() + b.months * 30 * 86400 * 10**6
            return pa.scalar(bool(_CMP[op](pa.scalar(x), pa.scalar(y)).as_py()))
        a = _interval_as_duration(a)
        b = _interval_as_duration(b)
    ta, tb = a.type, b.type
    if pa.types.is_null(ta) or pa.types.is_null(tb):
        n = len(a) if not isinstance(a, pa.Scalar) else (len(b) if not isinstance(b, pa.Scalar) else None)
        return pa.scalar(None, pa.bool_()) if n is None else pa.nulls(n, pa.bool_())
    if pa.types.is_decimal(ta) or pa.types.is_decimal(tb):
        a, b = _dec_to_float(a), _dec_to_float(b)
        ta, tb = a.type, b.type
    if ta != tb:
        if (pa.types.is_string(ta)) != (pa.types.is_string(tb)):
            raise errors.UndefinedFunction(f"operator does not exist: {ta} {op.key} {tb}",
                                           hint="You might need to add explicit type casts.")
        if pa.types.is_timestamp(ta) and pa.types.is_timestamp(tb):
            b = pc.cast(b, ta)
        elif pa.types.is_date32(ta) and pa.types.is_timestamp(tb):
            a = pc.cast(a, tb)
        elif pa.types.is_timestamp(ta) and pa.types.is_date32(tb):
            b = pc.cast(b, ta)
    try:
        return _CMP[op](a, b)
    except pa.ArrowNotImplementedError:
        raise errors.UndefinedFunction(f"operator does not exist: {ta} {op.key} {tb}") from None


def _dec_to_float(v):
    return pc.cast(v, pa.float64()) if pa.types.is_decimal(v.type) else v


def _interval_as_duration(v):
    if isinstance(v, Interval):
        return pa.scalar(v.fixed_us(), pa.duration("us"))
    return v
