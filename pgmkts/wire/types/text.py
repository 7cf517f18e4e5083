"""Text-format output per type, vectorised with pyarrow.compute (docs §8 type output functions).

Each encoder maps an Arrow array to an Arrow string array holding exactly what PostgreSQL's
typoutput would print (DateStyle ISO, IntervalStyle postgres, extra_float_digits >= 1).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pgmkts.pgtext import _fraction, _offset_text, timestamp_text  # noqa: F401  (shared with the planner)
from pgmkts.wire.types import scalar

STR = pa.string()


def _bool(arr: pa.Array) -> pa.Array:
    return pc.if_else(arr, "t", "f")


def _int(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, STR)


def float_text(arr: pa.Array, float4: bool) -> pa.Array:
    """Arrow prints shortest round-trip digits but with JavaScript's thresholds; rows outside
    PostgreSQL's plain-notation range (and inf/nan) are re-rendered one by one — they are rare
    in market data, the common path stays a single cast (plus numpy checks: a pyarrow.compute
    call costs ~10 µs even on 100 values, the size of a typical dashboard query)."""
    if pa.types.is_decimal(arr.type) or pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.float64())
    want = pa.float32() if float4 else pa.float64()
    if arr.type != want:
        arr = pc.cast(arr, want)
    out = pc.cast(arr, STR)
    vals = arr.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        a = np.abs(vals.astype(np.float64))
        odd = ~np.isfinite(a) | (a >= (1e6 if float4 else 1e15)) | ((a < 1e-4) & (a != 0))
    # Arrow also switches to exponent form for long mantissas PostgreSQL prints plainly; an
    # 'e' anywhere in the text buffer is the cheap test for "maybe"
    data = out.buffers()[2]
    if data is not None and (np.frombuffer(data, dtype=np.uint8) == ord("e")).any():
        odd |= pc.fill_null(pc.match_substring(out, "e"), False).to_numpy(zero_copy_only=False)
    if arr.null_count:
        odd &= np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not odd.any():
        return out
    idx = np.flatnonzero(odd)
    fixed = pa.array([scalar.pg_float_text(float(vals[i]), float4) for i in idx], STR)
    mask = pa.array(odd)
    return pc.replace_with_mask(out, mask, fixed)


def numeric_text(arr: pa.Array) -> pa.Array:
    """NUMERIC never uses exponent notation; float-backed numerics print their shortest digits."""
    if pa.types.is_decimal(arr.type) or pa.types.is_integer(arr.type):
        return pc.cast(arr, STR)
    arr = pc.cast(arr, pa.float64())
    out = pc.cast(arr, STR)
    vals = arr.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        a = np.abs(vals)
        odd = ~np.isfinite(a) | (a >= 1e21) | ((a < 1e-6) & (a != 0))
    odd |= pc.fill_null(pc.match_substring(out, "e"), False).to_numpy(zero_copy_only=False)
    if arr.null_count:
        odd &= np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not odd.any():
        return out

    def one(x: float) -> str:
        if x != x:
            return "NaN"
        if np.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return np.format_float_positional(x, unique=True, trim="-")

    fixed = pa.array([one(float(vals[i])) for i in np.flatnonzero(odd)], STR)
    return pc.replace_with_mask(out, pa.array(odd), fixed)


def _date(arr: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(arr, pa.date32()), STR)


def _per_value(arr: pa.Array, fn) -> pa.Array:
    return pa.array([None if v is None else fn(v) for v in arr.to_pylist()], STR)


def _bytea(arr: pa.Array) -> pa.Array:
    return _per_value(arr, lambda b: "\\x" + bytes(b).hex())


def _array(arr: pa.Array, elem_oid: int, tz: str | None) -> pa.Array:
    def elem(v) -> str:
        return encode_text(pa.array([v], type=arr.type.value_type), elem_oid, tz)[0].as_py()

    return _per_value(arr, lambda vals: scalar.array_text(vals, elem))


def encode_text(arr: pa.Array, oid: int, tz: str | None = "UTC") -> pa.Array:
    """Arrow array → Arrow string array in PostgreSQL's text format for `oid`."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), STR)
    if oid in scalar.ARRAY_ELEM:
        return _array(arr, scalar.ARRAY_ELEM[oid], tz)
    if oid in scalar.VECTOR_ELEM:
        return _per_value(arr, scalar.vector_text)
    if oid == 16:
        return _bool(arr)
    if oid in (20, 21, 23, 26):
        return _int(arr) if pa.types.is_integer(t) else pc.cast(pc.cast(arr, pa.int64()), STR)
    if oid in (700, 701):
        return float_text(arr, oid == 700)
    if oid == 1700:
        return numeric_text(arr)
    if oid in (1184, 1114):
        if not pa.types.is_timestamp(t):
            arr = pc.cast(arr, pa.timestamp("us", tz="UTC" if oid == 1184 else None))
        return timestamp_text(arr, tz if oid == 1184 else None)
    if oid == 1082:
        return _date(arr)
    if oid == 1186:
        # the planner already hands intervals over as PostgreSQL's text form: keep it verbatim
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return arr
        return _per_value(arr, scalar.interval_text)
    if oid == 17:
        return _bytea(arr)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr
    if pa.types.is_boolean(t):
        return _bool(arr)
    if pa.types.is_binary(t):
        return pc.cast(arr, STR)
    return pc.cast(arr, STR)
