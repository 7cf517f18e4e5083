"""MarketStore's UDAs as SQL table functions over one bucket (see docs/SQL_UDAS.md).

    SELECT * FROM candlecandler('AAPL/1Min/OHLCV', '1H') WHERE epoch >= '2024-01-02'
    SELECT * FROM candlecandler('AAPL/1Min/OHLCV', '1H', 'Open', 'High', 'Low', 'Close', 'Sum::Volume')
    SELECT * FROM tickcandler('AAPL/1Sec/TICK', '1Min', 'Price', 'Sum::Size')
    SELECT * FROM gap('AAPL/1Min/OHLCV', '5Min')
    SELECT * FROM mkts_avg('AAPL/1Min/OHLCV', 'Close', start => '2024-01-02', "end" => '2024-01-03')
    SELECT * FROM uda('AAPL/1Min/OHLCV', 'candlecandler("1D",Open,High,Low,Close)', 'avg(Close)')

The first argument is a bucket key (TBK); the others are MarketStore's init argument (the
timeframe or gap threshold) and parameters ('Open', 'Sum::Volume', ...), each a text argument.
The named arguments `start` / `end` (inclusive, MarketStore's query range) restrict the rows fed
to the function; `timezone` overrides the server's for calendar windows (1D, 1W, 1M, 1Y).

The computation is `pgmkts.uda.apply_functions` on one `Engine.read`, so results equal MarketStore's
(same kernels as the RPC `functions` field). Output: lower-case column names, `epoch` (and gap's
`end`) as timestamptz, OHLC float4, sums/averages float8, counts and gap lengths int8.

Push-down: the outer query's constant `epoch` bounds (>=, >, <, <=, =, BETWEEN) narrow the bucket
read where that cannot change the result — candles (a candle starting at or before U needs input
up to the end of its window) and gap with an explicit threshold (plus the one row after the
range, which ends the last gap). The WHERE clause still filters the output, so the pushed range
is only an optimisation. count/min/max/avg (one row, epoch = time of the call), gap's z-score
form and uda() chains depend on every input row; use `start => / end =>` to restrict them.

Planner hooks (marked "table functions: see tablefuncs.py"): plan.plan_select calls `push_down`,
exec/scan.run_function calls `run`. `output_fields` answers Describe without reading data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.result import Field
from pgmkts.planner.rules.common import conjuncts
from pgmkts.planner.rules.timerange import TimeRange, extract_time_range
from pgmkts.planner.types import TS, oid_of

NS = 1_000_000_000

# name → (min positional args, max positional args or None, usage for messages)
_SIGNATURES: dict[str, tuple[int, int | None, str]] = {
    "candlecandler": (2, None, "candlecandler(tbk text, timeframe text [, param text ...])"),
    "tickcandler": (2, None, "tickcandler(tbk text, timeframe text [, param text ...])"),
    "gap": (1, 2, "gap(tbk text [, threshold text])"),
    "mkts_count": (1, 2, "mkts_count(tbk text [, column text])"),
    "mkts_min": (2, 2, "mkts_min(tbk text, column text)"),
    "mkts_max": (2, 2, "mkts_max(tbk text, column text)"),
    "mkts_avg": (2, 2, "mkts_avg(tbk text, column text)"),
    "uda": (2, None, "uda(tbk text, function_call text [, function_call text ...])"),
}
# SQL-aggregate names sqlglot also accepts in FROM (avg takes one argument there: use mkts_avg)
_ALIASES = {"count": "mkts_count", "min": "mkts_min", "max": "mkts_max"}
_KWARGS = ("start", "end", "timezone")
_PARAM_RE = re.compile(r"^\s*(\*|[^'\"(),\s]+(\s*::\s*[^'\"(),\s]+)?)\s*$")


# ---------------------------------------------------------------------------------------- naming

def function_name(fn: Any) -> str | None:
    """The canonical table-function name of a FROM item (a sqlglot node or a name), else None."""
    if isinstance(fn, str):
        name = fn.lower()
    elif isinstance(fn, exp.Anonymous):
        name = fn.name.lower()
    elif isinstance(fn, exp.Count | exp.Min | exp.Max):
        name = type(fn).__name__.lower()
    else:
        return None
    name = _ALIASES.get(name, name)
    return name if name in _SIGNATURES else None


def is_table_function(fn: Any) -> bool:
    """True for candlecandler, tickcandler, gap, mkts_count/min/max/avg, uda (and count/min/max
    when they appear as FROM items)."""
    return function_name(fn) is not None


def _arg_nodes(fn: exp.Expression) -> list[exp.Expression]:
    if isinstance(fn, exp.Anonymous):
        return list(fn.expressions)
    first = fn.this
    if isinstance(first, exp.Star):
        name = function_name(fn)
        raise errors.UndefinedFunction(f"function {name or fn.key}(*) does not exist",
                                       hint=f"usage: {_SIGNATURES[name][2]}" if name else None)
    return ([first] if first is not None else []) + list(fn.expressions)


# ---------------------------------------------------------------------------------------- calls

@dataclass
class Call:
    """A table-function call with its arguments evaluated."""

    name: str
    tbk: str | None                       # None: a NULL parameter (only at Describe)
    args: list[str | None]                # positional text arguments after the TBK
    start_ns: int | None = None           # named start => (inclusive)
    end_ns: int | None = None             # named end => (inclusive)
    timezone: str | None = None
    empty: bool = False                   # start > end


def _signature_error(name: str, got: str) -> errors.UndefinedFunction:
    return errors.UndefinedFunction(
        f"function {name}({got}) does not exist",
        hint=f"usage: {_SIGNATURES[name][2]}; named arguments: start => timestamptz, end => timestamptz, "
             f"timezone => text (see docs/SQL_UDAS.md)")


def check_arity(name: str, n_positional: int, kwargs: Sequence[str] = ()) -> None:
    lo, hi, _usage = _SIGNATURES[name]
    got = ", ".join(["text"] * n_positional + [f"{k} => ..." for k in kwargs])
    if n_positional < lo or (hi is not None and n_positional > hi):
        raise _signature_error(name, got)
    for k in kwargs:
        if k not in _KWARGS:
            raise _signature_error(name, got)


def _text(v: Any, name: str, what: str) -> str | None:
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return None
        if not pa.types.is_string(v.type) and not pa.types.is_large_string(v.type):
            raise errors.UndefinedFunction(
                f"function {name}(...) does not exist: {what} must be text, got {v.type}",
                hint=f"quote it, e.g. '{v.as_py()}'; usage: {_SIGNATURES[name][2]}")
        return v.as_py()
    if isinstance(v, str | None):
        return v
    raise errors.FeatureNotSupported(f"{name}: {what} must be a constant, not a column reference")


def _bound_ns(v: Any, ev, name: str, which: str, upper: bool) -> int | None:
    from pgmkts.planner.exec.values import cast_value
    if isinstance(v, pa.Scalar) and not v.is_valid:
        return None
    if isinstance(v, pa.Scalar) and (pa.types.is_string(v.type) or pa.types.is_date32(v.type)):
        v = cast_value(v, TS, ev.ctx.tz if ev is not None else "UTC")
    if isinstance(v, pa.Scalar) and pa.types.is_timestamp(v.type):
        us = v.cast(TS).cast(pa.int64()).as_py()
        return us * 1000 + (999 if upper else 0)
    raise errors.DatatypeMismatch(f"{name}: {which} => must be a timestamp, got {getattr(v, 'type', v)}",
                                  hint=f"e.g. {which} => '2024-01-02 00:00:00+00'")


def evaluate_call(fn: exp.Expression, ev) -> Call:
    """Evaluate the arguments of a FROM item (constants and parameters only)."""
    from pgmkts.planner.exec.frame import Frame as _F
    name = function_name(fn)
    assert name is not None
    empty = _F([], [], 1)
    pos, kw = [], {}
    for a in _arg_nodes(fn):
        if isinstance(a, exp.Kwarg | exp.PropertyEQ):
            kw[a.this.name.lower()] = a.expression
        else:
            if kw:
                raise errors.SyntaxError_(f"{name}: positional argument cannot follow named argument")
            pos.append(a)
    check_arity(name, len(pos), list(kw))
    vals = [_text(ev.eval(a, empty), name, "the TBK" if i == 0 else f"argument {i + 1}")
            for i, a in enumerate(pos)]
    call = Call(name, vals[0], vals[1:])
    if "start" in kw:
        call.start_ns = _bound_ns(ev.eval(kw["start"], empty), ev, name, "start", upper=False)
    if "end" in kw:
        call.end_ns = _bound_ns(ev.eval(kw["end"], empty), ev, name, "end", upper=True)
    if "timezone" in kw:
        call.timezone = _text(ev.eval(kw["timezone"], empty), name, "timezone")
    if call.start_ns is not None and call.end_ns is not None and call.start_ns > call.end_ns:
        call.empty = True
    return call


# ---------------------------------------------------------------------------------------- MarketStore calls

def _lookup(have: list[str], col: str) -> str | None:
    if col in have:
        return col
    hits = [h for h in have if h.lower() == col.lower()]
    return hits[0] if len(hits) == 1 else None


def _params(name: str, raw: list[str | None]) -> list[str]:
    out = []
    for r in raw:
        if r is None:
            raise errors.InvalidParameterValue(f"{name}: arguments must not be NULL")
        for p in r.split(","):
            if not _PARAM_RE.match(p):
                raise errors.InvalidParameterValue(
                    f"{name}: bad parameter {p!r}",
                    hint="pass column names or Param::Column, one per argument, e.g. 'Close', 'Sum::Volume'")
            out.append(re.sub(r"\s*::\s*", "::", p.strip()))
    return out


def _quote(s: str) -> str:
    if "'" in s or '"' in s:
        raise errors.InvalidParameterValue(f"bad init argument {s!r}")
    return f"'{s}'"


def marketstore_calls(call: Call, columns: list[str]) -> list[str]:
    """The MarketStore `functions` strings for a call over a bucket with these columns."""
    name, args = call.name, call.args
    if name in ("candlecandler", "tickcandler"):
        tf = args[0]
        if tf is None:
            raise errors.InvalidParameterValue(f"{name}: the timeframe must not be NULL")
        params = _params(name, args[1:])
        if not params:
            params = _default_params(name, columns)
        return [f"{name}({_quote(tf)},{','.join(params)})"]
    if name == "gap":
        if len(args) and args[0] is not None:
            return [f"gap({_quote(args[0])})"]
        return ["gap()"]
    if name == "uda":
        calls = [a for a in args if a is not None]
        if len(calls) != len(args):
            raise errors.InvalidParameterValue("uda: function calls must not be NULL")
        return calls
    col = _params(name, args)[0] if args else "*"
    return [f"{name[5:]}({col})"]


def _default_params(name: str, columns: list[str]) -> list[str]:
    if name == "candlecandler":
        want = ["Open", "High", "Low", "Close"]
        found = [_lookup(columns, c) for c in want]
        got = [g for g in found if g is not None]
        if len(got) != len(want):
            missing = [w for w, g in zip(want, found, strict=True) if g is None]
            raise errors.UndefinedColumn(
                f"candlecandler: the bucket has no {', '.join(missing)} column(s) (have: {', '.join(columns)})",
                hint="name the columns: candlecandler(tbk, '1H', 'Open', 'High', 'Low', 'Close', 'Sum::Volume')")
        vol = _lookup(columns, "Volume")
        return got + ([f"Sum::{vol}"] if vol else [])
    price = _lookup(columns, "Price")
    if price is None:
        raise errors.UndefinedColumn(
            f"tickcandler: the bucket has no Price column (have: {', '.join(columns)})",
            hint="name the price column: tickcandler(tbk, '1Min', 'Last', 'Sum::Size')")
    size = _lookup(columns, "Size")
    return [price] + ([f"Sum::{size}"] if size else [])


def _input_columns(calls: list[str], schema: list[tuple[str, str]]) -> list[str] | None:
    """Storage columns the call reads (None: all — uda() chains read whole rows)."""
    from pgmkts.uda import parse_call
    if len(calls) != 1:
        return None
    have = [c for c, _ in schema if c not in ("Epoch", "Nanoseconds")]
    out = []
    for p in parse_call(calls[0]).params:
        col = p.partition("::")[2] if "::" in p else p
        if col.strip() == "*":
            continue
        hit = _lookup(have, col.strip())
        if hit is None:
            return None   # let the kernel raise its UndefinedColumn
        out.append(hit)
    return list(dict.fromkeys(out))


def _timezone(call: Call, engine) -> str:
    return call.timezone or getattr(engine, "timezone", None) or "UTC"


# ---------------------------------------------------------------------------------------- schema

_ARROW = {"i1": pa.int16(), "i2": pa.int16(), "i4": pa.int32(), "i8": pa.int64(), "u1": pa.int16(),
          "u2": pa.int32(), "u4": pa.int64(), "u8": pa.int64(), "f4": pa.float32(), "f8": pa.float64(),
          "b1": pa.bool_(), "bool": pa.bool_()}


def _is_time(name: str, call_name: str, calls: list[str]) -> bool:
    if name == "Epoch":
        return True
    last = calls[-1].strip().lower() if calls else ""
    return name == "End" and (call_name == "gap" or last.startswith("gap"))


def _arrow_schema(call: Call, out_schema: list[tuple[str, str]], calls: list[str]) -> list[tuple[str, pa.DataType]]:
    out = []
    for nm, dt in out_schema:
        if nm == "Nanoseconds":
            continue
        t = TS if _is_time(nm, call.name, calls) else _ARROW.get(dt)
        if t is None:
            t = pa.string() if dt.startswith("U") else pa.from_numpy_dtype(np.dtype(dt))
        out.append((nm.lower(), t))
    return out


def _bucket_schema(call: Call, engine) -> tuple[Any, list[tuple[str, str]]]:
    info = engine.info(call.tbk)
    if info is None:
        from pgmkts.storage import TBK
        TBK.parse(call.tbk)   # a malformed key says so (42602) rather than "not found"
        raise errors.BucketNotFound(
            f'bucket "{call.tbk}" does not exist',
            hint="the first argument is a bucket key Symbol/Timeframe/AttributeGroup, e.g. 'AAPL/1Min/OHLCV'")
    return info, list(info.columns)


def _schema_for(call: Call, engine) -> tuple[list[str], list[tuple[str, pa.DataType]]]:
    """(MarketStore calls, output columns) without reading rows."""
    from pgmkts.uda import output_schema
    if call.tbk is None:
        # Describe with the TBK as a parameter: assume an OHLCV bucket
        schema = [("Epoch", "i8")] + [(c, "f4") for c in ("Open", "High", "Low", "Close")] + [("Volume", "i8")]
        extra = [p.partition("::")[2] or p for a in call.args if a for p in a.split(",")]
        schema += [(c.strip(), "f8") for c in extra if _lookup([s for s, _ in schema], c.strip()) is None
                   and _PARAM_RE.match(c) and c.strip() != "*" and not c.strip()[:1].isdigit()]
        tf_s, tz = 0, call.timezone or "UTC"
    else:
        info, schema = _bucket_schema(call, engine)
        tf_s, tz = info.tf_seconds, _timezone(call, engine)
    if any(a is None for a in call.args):
        # Describe with parameters in place of arguments: timeframes do not change the columns
        if call.name == "uda":
            raise errors.FeatureNotSupported(
                "uda(): the function calls must be literals when the statement is described",
                hint="write the calls into the SQL text; the TBK may be a parameter")
        args = [("1Min" if i == 0 and call.name in ("candlecandler", "tickcandler") else None)
                if a is None else a for i, a in enumerate(call.args)]
        call = Call(call.name, call.tbk, [a for a in args if a is not None], timezone=call.timezone)
    calls = marketstore_calls(call, [c for c, _ in schema])
    out = output_schema(calls, schema, tf_seconds=tf_s, timezone=tz)
    return calls, _arrow_schema(call, out, calls)


def output_fields(name: str, args: list, engine, kwargs: dict | None = None) -> list[Field]:
    """RowDescription of `name(args...)` without reading data (args: Python str or None)."""
    fname = function_name(name)
    if fname is None:
        raise errors.UndefinedFunction(f"function {name}() does not exist")
    check_arity(fname, len(args), list(kwargs or ()))
    call = Call(fname, args[0], list(args[1:]), timezone=(kwargs or {}).get("timezone"))
    _calls, cols = _schema_for(call, engine)
    return [Field(nm, oid_of(t)) for nm, t in cols]


# ---------------------------------------------------------------------------------------- planning

def push_down(plan, source) -> None:
    """Record the outer WHERE's constant epoch bounds on a table-function FROM item.

    Conjuncts stay in plan.where (the output is still filtered); the range only narrows the read."""
    if not is_table_function(source.node) or function_name(source.node) not in (
            "candlecandler", "tickcandler", "gap") or plan.where is None:
        return
    quals = {None, source.alias}
    tr, _residual = extract_time_range(list(conjuncts(plan.where)), quals)
    if tr:
        source.tablefunc_range = SimpleNamespace(time=tr, memo=None)


# ---------------------------------------------------------------------------------------- execution

def _read_range(call: Call, calls: list[str], source, ev, tz: str) -> tuple[int | None, int | None, bool, bool]:
    """(start_ns, end_ns, empty, one_more) for Engine.read: named start/end ∩ the pushed range
    mapped to input rows. one_more: also read the first row after end_ns (gap)."""
    start, end = call.start_ns, call.end_ns
    rng = getattr(source, "tablefunc_range", None)
    one_more = False
    if rng is not None and isinstance(rng.time, TimeRange) and rng.time:
        from pgmkts.planner.exec.scan import time_bounds
        lo, hi, none = time_bounds(rng, ev, Frame([], [], 1))
        if none:
            return None, None, True, False
        kind = call.name
        if kind == "gap" and (not call.args or call.args[0] is None):
            lo = hi = None        # z-score gaps depend on every row of the input
        if lo is not None:
            start = lo if start is None else max(start, lo)
        if hi is not None:
            if kind in ("candlecandler", "tickcandler"):
                from pgmkts.uda import parse_call
                from pgmkts.uda.windows import parse_window, window_ends, window_starts
                w = parse_window(parse_call(calls[0]).literals[0])
                s0 = window_starts(np.array([hi // NS], np.int64), w, timezone=tz)
                in_end = int(window_ends(s0, w, timezone=tz)[0]) * NS - 1
            else:
                in_end, one_more = hi, True
            if end is None or in_end < end:
                end = in_end
            else:
                one_more = False
    if start is not None and start < 0:
        start = None
    if start is not None and end is not None and start > end:
        return start, end, True, False
    return start, end, False, one_more


def run(node, ev) -> Frame:
    """Execute a FunctionScan whose function is a table function."""
    fn = node.node
    ctx = ev.ctx
    engine = ctx.engine
    call = evaluate_call(fn, ev)
    if getattr(ctx, "schema_only", False):
        _calls, cols = _schema_for(call, engine)
        return _frame({nm: pa.array([], t) for nm, t in cols}, node)
    if call.tbk is None:
        raise errors.InvalidParameterValue(f"{call.name}: the TBK must not be NULL")
    info, schema = _bucket_schema(call, engine)
    tz = _timezone(call, engine)
    calls = marketstore_calls(call, [c for c, _ in schema])
    from pgmkts.uda import apply_functions, output_schema
    out_schema = output_schema(calls, schema, tf_seconds=info.tf_seconds, timezone=tz)  # validates
    cols = _arrow_schema(call, out_schema, calls)
    start, end, none, one_more = _read_range(call, calls, node, ev, tz)
    if none or call.empty:
        if call.name.startswith("mkts_") or call.name == "uda":
            data = {c: np.empty(0, np.dtype(dt)) for c, dt in schema}
        else:
            return _frame({nm: pa.array([], t) for nm, t in cols}, node)
    else:
        proj = _input_columns(calls, schema)
        data = engine.read(call.tbk, start, end, columns=proj)
        if one_more and end is not None and (call.end_ns is None or end < call.end_ns):
            nxt = engine.read(call.tbk, end + 1, call.end_ns, columns=[], limit=1)
            if len(nxt["Epoch"]):
                data = {k: (np.concatenate([v, nxt[k]]) if k in nxt else v) for k, v in data.items()
                        if k in nxt}
    res = apply_functions(data, calls, tf_seconds=info.tf_seconds, timezone=tz)
    arrays = {}
    for (nm, t), (src, _dt) in zip(cols, [(c, d) for c, d in out_schema if c != "Nanoseconds"], strict=True):
        v = np.asarray(res[src])
        if pa.types.is_timestamp(t):
            us = v.astype(np.int64) * 1_000_000
            if src == "Epoch" and "Nanoseconds" in res:
                us = us + np.asarray(res["Nanoseconds"]).astype(np.int64) // 1000
            arrays[nm] = pa.array(us, pa.int64()).cast(t)
        elif v.dtype.kind == "U":
            arrays[nm] = pa.array(v.astype(object), pa.string())
        else:
            arrays[nm] = pa.array(v).cast(t)
    return _frame(arrays, node)


def _frame(arrays: dict[str, pa.Array], node) -> Frame:
    names = list(arrays)
    colnames = node.colnames or []
    if len(colnames) > len(names):
        raise errors.SyntaxError_(
            f"table \"{node.alias}\" has {len(names)} columns available but {len(colnames)} columns specified")
    alias = node.alias
    out_names = [(alias, colnames[i] if i < len(colnames) else nm) for i, nm in enumerate(names)]
    n = len(next(iter(arrays.values()))) if arrays else 0
    return Frame(list(arrays.values()), out_names, n)
