"""Scalar SQL functions over pyarrow values, and the registry other packages extend.

`register(name, fn, return_type_oid)`: fn(args: list[pa.Array | pa.Scalar | Interval], ctx) → value.
The catalog helper registers pg_catalog functions (pg_get_userbyid, format_type, ...) here.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner.exec.values import (
    US,
    Interval,
    broadcast,
    cast_value,
    common_type,
    parse_timestamp_us,
    ts_scalar,
    type_of,
)
from pgmkts.planner.timefns import (
    _date,
    _date_bin,
    _date_part,
    _date_trunc,
    _time_bucket,
    _to_char,
    _to_timestamp,
)

VERSION = "PostgreSQL 15.0 (pgmkts 0.1.0) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"

_REGISTRY: dict[str, Callable[[list, Any], Any]] = {}
RETURN_OIDS: dict[str, int] = {}


def register(name: str, fn: Callable[[list, Any], Any], return_type_oid: int | None = None) -> None:
    """Add (or replace) a scalar function callable from SQL, by lower-case name."""
    _REGISTRY[name.lower()] = fn
    if return_type_oid is not None:
        RETURN_OIDS[name.lower()] = return_type_oid


def lookup(name: str) -> Callable[[list, Any], Any] | None:
    return _REGISTRY.get(name.lower())


# sqlglot turns many PostgreSQL functions into typed nodes: class → (our name, argument keys)
_NODE_ARGS: dict[type, tuple[str, tuple[str, ...]]] = {
    exp.Lower: ("lower", ("this",)), exp.Upper: ("upper", ("this",)),
    exp.Length: ("length", ("this",)), exp.Abs: ("abs", ("this",)), exp.Floor: ("floor", ("this",)),
    exp.Ceil: ("ceil", ("this",)), exp.Sqrt: ("sqrt", ("this",)), exp.Ln: ("ln", ("this",)),
    exp.Exp: ("exp", ("this",)), exp.Sign: ("sign", ("this",)), exp.Pow: ("power", ("this", "expression")),
    exp.Round: ("round", ("this", "decimals")), exp.Trunc: ("trunc", ("this", "decimals")),
    exp.Substring: ("substr", ("this", "start", "length")),
    exp.SplitPart: ("split_part", ("this", "delimiter", "part_index")),
    exp.Replace: ("replace", ("this", "expression", "replacement")),
    exp.Nullif: ("nullif", ("this", "expression")),
    exp.Left: ("left", ("this", "expression")), exp.Right: ("right", ("this", "expression")),
    exp.StrPosition: ("strpos", ("this", "substr")), exp.MD5: ("md5", ("this",)),
    exp.Reverse: ("reverse", ("this",)), exp.Repeat: ("repeat", ("this", "times")),
    exp.StartsWith: ("starts_with", ("this", "expression")), exp.Initcap: ("initcap", ("this",)),
    exp.Cbrt: ("cbrt", ("this",)), exp.Degrees: ("degrees", ("this",)), exp.Pi: ("pi", ()),
    exp.Rand: ("random", ()), exp.Ascii: ("ascii", ("this",)),
    exp.UnixToTime: ("to_timestamp", ("this",)), exp.CurrentTimestamp: ("now", ()),
    exp.CurrentVersion: ("version", ()), exp.CurrentUser: ("current_user", ()),
    exp.SessionUser: ("session_user", ()), exp.CurrentSchema: ("current_schema", ()),
    exp.CurrentDatabase: ("current_database", ()), exp.CurrentDate: ("current_date", ()),
    exp.Localtimestamp: ("localtimestamp", ()),
    exp.RegexpReplace: ("regexp_replace", ("this", "expression", "replacement")),
    exp.TimeToStr: ("to_char", ("this", "format")), exp.StrToTime: ("to_timestamp", ("this", "format")),
}


def signature(node: exp.Func) -> tuple[str, list]:
    """(function name, argument expressions/values) of a function-call node."""
    t = type(node)
    if t is exp.Anonymous:
        return node.name.lower(), list(node.expressions)
    if t in _NODE_ARGS:
        name, keys = _NODE_ARGS[t]
        return name, [node.args[k] for k in keys if node.args.get(k) is not None]
    if t is exp.Log:
        if node.expression is not None:
            return "log", [node.this, node.expression]
        return "log10", [node.this]
    if t in (exp.Coalesce, exp.Greatest, exp.Least):
        return t.__name__.lower(), [node.this, *node.expressions]
    if t is exp.Concat:
        return "concat", list(node.expressions)
    if t is exp.Trim:
        pos = (node.args.get("position") or "BOTH").upper()
        name = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(pos, "btrim")
        args = [node.this]
        if node.expression is not None:
            args.append(node.expression)
        return name, args
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        unit = node.args.get("unit")
        if unit is None:
            raise errors.UndefinedFunction("function date_trunc(timestamp) does not exist")
        zone = node.args.get("zone")  # date_trunc(unit, ts, zone): truncate in that zone (PG 12+)
        return "date_trunc", [unit.name.lower(), node.this] + ([zone] if zone is not None else [])
    if t is exp.DateBin:
        origin = node.args.get("unit") or node.args.get("origin")
        args = [node.this, node.expression]
        if origin is not None:
            args.append(exp.Literal.string(origin.name) if isinstance(origin, exp.Var) else origin)
        return "date_bin", args
    if t is exp.Extract:
        return "date_part", [node.this.name.lower(), node.expression]
    if t is exp.Pad:
        return ("lpad" if node.args.get("is_left") else "rpad"), [
            node.this, node.expression, *([node.args["fill_pattern"]] if node.args.get("fill_pattern") else [])]
    if t is exp.Date:
        return "date", [node.this]
    if t is exp.Chr:
        return "chr", list(node.expressions)
    raise errors.FeatureNotSupported(f"function {node.sql_name().lower()} is not supported")


# ---------------------------------------------------------------- helpers

def _py(v):
    return v.as_py() if isinstance(v, pa.Scalar) else v


def _strict_null(args) -> bool:
    return any(isinstance(a, pa.Scalar) and not a.is_valid for a in args)


def text_concat(vals: list, *, strict: bool, tz: str = "UTC"):
    """|| (strict: NULL in → NULL out) and concat() (NULLs are skipped)."""
    parts = []
    for v in vals:
        if isinstance(v, Interval):
            v = pa.scalar(v.text())
        if pa.types.is_null(v.type):
            if strict:
                return pa.scalar(None, pa.string())
            continue
        if not pa.types.is_string(v.type):
            v = cast_value(v, pa.string(), tz)
        if not strict:
            v = pc.fill_null(v, "")
        parts.append(v)
    if not parts:
        return pa.scalar("")
    if all(isinstance(p, pa.Scalar) for p in parts):
        if any(not p.is_valid for p in parts):
            return pa.scalar(None, pa.string())
        return pa.scalar("".join(p.as_py() for p in parts))
    return pc.binary_join_element_wise(*parts, "")


def _any(mask) -> bool:
    if isinstance(mask, pa.Scalar):
        return bool(mask.as_py())
    return bool(pc.any(mask).as_py())


def _sqrt(args, ctx):
    v = pc.cast(args[0], pa.float64())
    if _any(pc.less(v, 0)):
        raise errors.PgmktsError("cannot take square root of a negative number") if False else \
            _invalid_arg("cannot take square root of a negative number")
    return pc.sqrt(v)


def _invalid_arg(msg):
    e = errors.DataError(msg)
    e.sqlstate = "2201F"
    return e


def _ln(args, ctx):
    v = pc.cast(args[0], pa.float64())
    if _any(pc.equal(v, 0)):
        raise _invalid_arg("cannot take logarithm of zero")
    if _any(pc.less(v, 0)):
        raise _invalid_arg("cannot take logarithm of a negative number")
    return pc.ln(v)


def _log10(args, ctx):
    v = pc.cast(args[0], pa.float64())
    if _any(pc.less_equal(v, 0)):
        raise _invalid_arg("cannot take logarithm of zero or a negative number")
    return pc.log10(v)


def _log(args, ctx):
    b, v = (pc.cast(a, pa.float64()) for a in args)
    return pc.divide(pc.ln(v), pc.ln(b))


def _round(args, ctx):
    v = args[0]
    nd = int(_py(args[1])) if len(args) > 1 else 0
    if pa.types.is_integer(v.type):
        return v if nd >= 0 else pc.round(v, nd, round_mode="half_towards_infinity")
    if pa.types.is_decimal(v.type):
        out = pc.round(pc.cast(v, pa.decimal128(38, v.type.scale)), nd, round_mode="half_towards_infinity")
        return pc.cast(out, pa.decimal128(38, max(nd, 0)))
    if pa.types.is_floating(v.type) and len(args) == 1:
        # round(double precision) rounds half to even in PostgreSQL (rint)
        return pc.round(v, 0, round_mode="half_to_even")
    return pc.round(v, nd, round_mode="half_towards_infinity")


def _trunc(args, ctx):
    v = args[0]
    nd = int(_py(args[1])) if len(args) > 1 else 0
    if nd == 0:
        return pc.trunc(v)
    k = 10.0 ** nd
    return pc.divide(pc.trunc(pc.multiply(v, k)), k)


def _power(args, ctx):
    a, b = (pc.cast(x, pa.float64()) for x in args)
    if _any(pc.and_(pc.equal(a, 0.0), pc.less(b, 0.0))):
        raise _invalid_arg("zero raised to a negative power is undefined")
    return pc.power(a, b)


def _sign(args, ctx):
    v = args[0]
    if pa.types.is_decimal(v.type):
        return pc.cast(pc.sign(pc.cast(v, pa.float64())), pa.decimal128(38, 0))
    # PostgreSQL has sign(numeric) and sign(double precision): integers resolve to the latter
    return pc.sign(pc.cast(v, pa.float64()))


def _coalesce(args, ctx):
    t = common_type([type_of(a) for a in args])
    vals = [cast_value(a, t, ctx.tz) for a in args]
    if all(isinstance(v, pa.Scalar) for v in vals):
        for v in vals:
            if v.is_valid:
                return v
        return pa.scalar(None, t)
    return pc.coalesce(*vals)


def _nullif(args, ctx):
    a, b = args
    if isinstance(b, pa.Scalar) and pa.types.is_string(b.type) and not pa.types.is_string(a.type):
        b = cast_value(b, a.type, ctx.tz)
    eq = pc.fill_null(pc.equal(a, b), False)
    return pc.if_else(eq, pa.scalar(None, a.type), a)


def _greatest_least(fn):
    def f(args, ctx):
        t = common_type([type_of(a) for a in args])
        vals = [cast_value(a, t, ctx.tz) for a in args]
        return fn(*vals, skip_nulls=True)
    return f


def _substr(args, ctx):
    if _strict_null(args):
        return pa.scalar(None, pa.string())
    s = args[0]
    start = int(_py(args[1]))
    if len(args) > 2:
        ln = int(_py(args[2]))
        if ln < 0:
            raise errors.DataError("negative substring length not allowed")
        end = start + ln
        b = max(start, 1)
        if end <= b:
            return pc.utf8_slice_codeunits(s, 0, 0)
        return pc.utf8_slice_codeunits(s, b - 1, end - 1)
    return pc.utf8_slice_codeunits(s, max(start, 1) - 1)


def _split_part(args, ctx):
    s, d, n = args
    if _strict_null(args):
        return pa.scalar(None, pa.string())
    d = _py(d)
    n = int(_py(n))
    if n == 0:
        raise _invalid_arg("field position must not be zero")
    arr = broadcast(s, 1) if isinstance(s, pa.Scalar) else s
    parts = pc.split_pattern(arr, d) if d else pa.array([[x] for x in arr.to_pylist()])
    lens = pc.list_value_length(parts)
    if n > 0:
        ok = pc.greater_equal(lens, n)
        idx = pc.if_else(ok, n - 1, 0)
    else:
        ok = pc.greater_equal(lens, -n)
        idx = pc.if_else(ok, pc.add(lens, n), 0)
    flat_idx = pc.add(pc.cast(parts.offsets[:-1], pa.int64()), pc.cast(idx, pa.int64()))
    vals = parts.values.take(flat_idx)
    out = pc.if_else(ok, vals, "")
    out = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), out)
    return out[0] if isinstance(s, pa.Scalar) else out


def _replace(args, ctx):
    if _strict_null(args):
        return pa.scalar(None, pa.string())
    s, a, b = args
    return pc.replace_substring(s, _py(a), _py(b))


def _trim(kind):
    def f(args, ctx):
        chars = _py(args[1]) if len(args) > 1 else " "
        fn = {"ltrim": pc.utf8_ltrim, "rtrim": pc.utf8_rtrim, "btrim": pc.utf8_trim}[kind]
        return fn(args[0], characters=chars)
    return f


def _left(args, ctx):
    n = int(_py(args[1]))
    s = args[0]
    if n >= 0:
        return pc.utf8_slice_codeunits(s, 0, n)
    return pc.utf8_slice_codeunits(s, 0, n)


def _right(args, ctx):
    n = int(_py(args[1]))
    if n >= 0:
        return pc.utf8_slice_codeunits(args[0], -n) if n else pc.utf8_slice_codeunits(args[0], 0, 0)
    return pc.utf8_slice_codeunits(args[0], -n)


def _strpos(args, ctx):
    r = pc.find_substring(args[0], _py(args[1]))
    return pc.cast(pc.add(r, 1), pa.int32())


def _md5(args, ctx):
    import hashlib
    v = args[0]
    if isinstance(v, pa.Scalar):
        return pa.scalar(None if not v.is_valid else hashlib.md5(v.as_py().encode()).hexdigest())
    return pa.array([None if x is None else hashlib.md5(x.encode()).hexdigest() for x in v.to_pylist()])


def _current_setting(args, ctx):
    name = _py(args[0])
    missing_ok = bool(_py(args[1])) if len(args) > 1 else False
    sess = ctx.session
    if sess is not None:
        v = sess.get_setting(name, missing_ok=missing_ok)
    else:
        v = ctx.settings.get(name)
    return pa.scalar(v, pa.string())


def _set_config(args, ctx):
    name, value = _py(args[0]), _py(args[1])
    if ctx.session is not None:
        ctx.session.set_setting(name, value)
    return pa.scalar(value, pa.string())


def _pg_sleep(args, ctx):
    secs = float(_py(args[0]) or 0)
    if getattr(ctx, "schema_only", False):
        return pa.scalar(None, pa.null())
    deadline = time.monotonic() + max(secs, 0)
    cancel = getattr(ctx.session, "cancel_event", None)
    while True:
        ctx.check_cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if cancel is not None:
            if cancel.wait(min(left, 0.05)):
                raise errors.QueryCanceled("canceling statement due to user request")
        else:
            time.sleep(min(left, 0.05))
    return pa.scalar(None, pa.null())


def _pad(args, *, left: bool):
    """lpad/rpad: PostgreSQL truncates to the length (negative → empty) and pads with the fill."""
    n = max(int(_py(args[1])), 0)
    fill = _py(args[2]) if len(args) > 2 else " "
    s = pc.utf8_slice_codeunits(args[0], 0, n)
    if not fill:
        return s
    return (pc.utf8_lpad if left else pc.utf8_rpad)(s, n, fill) if len(fill) == 1 else _pad_multi(s, n, fill, left)


def _pad_multi(s, n: int, fill: str, left: bool):
    def one(x):
        if x is None:
            return None
        need = n - len(x)
        pad = (fill * (need // len(fill) + 1))[:max(need, 0)]
        return pad + x if left else x + pad
    if isinstance(s, pa.Scalar):
        return pa.scalar(one(s.as_py()), pa.string())
    return pa.array([one(x) for x in s.to_pylist()], pa.string())


def _chr(args):
    code = int(_py(args[0]))
    if code == 0:
        raise errors.ProgramLimitExceeded("null character not permitted")
    if not 0 < code < 0x110000:
        raise errors.ProgramLimitExceeded("requested character too large for encoding")
    return pa.scalar(chr(code))


def _length(args, ctx):
    return pc.cast(pc.utf8_length(args[0]), pa.int32())


def _user(args, ctx):
    return pa.scalar(getattr(ctx.session, "user", None) or "pgmkts")


for _name, _fn in {
    "lower": lambda a, c: pc.utf8_lower(a[0]), "upper": lambda a, c: pc.utf8_upper(a[0]),
    "length": _length, "char_length": _length, "character_length": _length,
    "octet_length": lambda a, c: pc.cast(pc.binary_length(a[0]), pa.int32()),
    "substr": _substr, "substring": _substr, "split_part": _split_part, "replace": _replace,
    "ltrim": _trim("ltrim"), "rtrim": _trim("rtrim"), "btrim": _trim("btrim"),
    "concat": lambda a, c: text_concat(a, strict=False, tz=c.tz),
    "left": _left, "right": _right, "strpos": _strpos, "md5": _md5,
    "reverse": lambda a, c: pc.utf8_reverse(a[0]),
    "repeat": lambda a, c: pc.binary_repeat(a[0], pc.max_element_wise(a[1], 0)),
    "starts_with": lambda a, c: pc.starts_with(a[0], _py(a[1])),
    "initcap": lambda a, c: pc.utf8_title(pc.utf8_lower(a[0])),
    "lpad": lambda a, c: _pad(a, left=True), "rpad": lambda a, c: _pad(a, left=False),
    "regexp_replace": lambda a, c: pc.replace_substring_regex(a[0], _py(a[1]), _py(a[2]), max_replacements=1),
    "abs": lambda a, c: pc.abs_checked(a[0]), "floor": lambda a, c: pc.floor(a[0]),
    "ceil": lambda a, c: pc.ceil(a[0]), "ceiling": lambda a, c: pc.ceil(a[0]), "sqrt": _sqrt,
    "ln": _ln, "log10": _log10, "log": _log, "exp": lambda a, c: pc.exp(pc.cast(a[0], pa.float64())),
    "power": _power, "pow": _power, "round": _round, "trunc": _trunc, "sign": _sign,
    "cbrt": lambda a, c: pc.power(pc.cast(a[0], pa.float64()), 1 / 3),
    "degrees": lambda a, c: pc.multiply(pc.cast(a[0], pa.float64()), 180 / math.pi),
    "radians": lambda a, c: pc.multiply(pc.cast(a[0], pa.float64()), math.pi / 180),
    "pi": lambda a, c: pa.scalar(math.pi), "random": lambda a, c: pa.scalar(float(np.random.random())),
    "ascii": lambda a, c: pa.scalar(ord(_py(a[0])[0]) if _py(a[0]) else 0, pa.int32()),
    "chr": lambda a, c: _chr(a),
    "coalesce": _coalesce, "nullif": _nullif,
    "greatest": _greatest_least(pc.max_element_wise), "least": _greatest_least(pc.min_element_wise),
    "to_timestamp": _to_timestamp, "to_char": _to_char, "date_trunc": _date_trunc,
    "time_bucket": _time_bucket, "date_bin": _date_bin, "date_part": _date_part, "date": _date,
    "now": lambda a, c: ts_scalar(c.now_us), "transaction_timestamp": lambda a, c: ts_scalar(c.now_us),
    "statement_timestamp": lambda a, c: ts_scalar(c.now_us),
    "clock_timestamp": lambda a, c: ts_scalar(time.time_ns() // 1000),
    "current_date": lambda a, c: pa.scalar(c.now_us // (86400 * US), pa.int32()).cast(pa.date32()),
    "localtimestamp": lambda a, c: pa.scalar(c.now_us, pa.int64()).cast(pa.timestamp("us")),
    "version": lambda a, c: pa.scalar(VERSION),
    "current_database": lambda a, c: pa.scalar(getattr(c.session, "database", None) or "pgmkts"),
    "current_catalog": lambda a, c: pa.scalar(getattr(c.session, "database", None) or "pgmkts"),
    "current_schema": lambda a, c: pa.scalar("public"),
    "current_user": _user, "session_user": _user, "user": _user, "current_role": _user,
    "current_setting": _current_setting, "set_config": _set_config,
    "pg_backend_pid": lambda a, c: pa.scalar(getattr(c.session, "backend_pid", os.getpid()), pa.int32()),
    "pg_sleep": _pg_sleep,
    "to_number": lambda a, c: cast_value(a[0], pa.float64()),
    "parse_timestamp": lambda a, c: ts_scalar(parse_timestamp_us(_py(a[0]), c.tz)),
}.items():
    register(_name, _fn)

RETURN_OIDS.update({"version": 25, "current_database": 19, "current_schema": 19, "current_user": 19,
                    "session_user": 19, "user": 19, "pg_backend_pid": 23, "current_setting": 25,
                    "pg_sleep": 2278})
