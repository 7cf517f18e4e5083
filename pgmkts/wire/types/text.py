"""Text-format output per type, vectorised with pyarrow.compute (docs §8 type output functions).

Each encoder maps an Arrow array to an Arrow string array holding exactly what PostgreSQL's
typoutput would print (DateStyle ISO, IntervalStyle postgres, extra_float_digits >= 1).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pgmkts.wire.types import scalar

STR = pa.string()


def _bool(arr: pa.Array) -> pa.Array:
    return pc.if_else(arr, "t", "f")


def _int(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, STR)


def float_text(arr: pa.Array, float4: bool) -> pa.Array:
    """Arrow prints shortest round-trip digits but with JavaScript's thresholds; rows outside
    PostgreSQL's plain-notation range (and inf/nan) are re-rendered one by one — they are rare
    in market data, the common path stays a single cast."""
    if pa.types.is_decimal(arr.type) or pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.float64())
    arr = pc.cast(arr, pa.float32() if float4 else pa.float64())
    out = pc.cast(arr, STR)
    vals = arr.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        a = np.abs(vals.astype(np.float64))
        odd = ~np.isfinite(a) | (a >= (1e6 if float4 else 1e15)) | ((a < 1e-4) & (a != 0))
    # Arrow also switches to exponent form for long mantissas PostgreSQL prints plainly
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


def _fraction(us: pa.Array) -> pa.Array:
    """'.123456' with trailing zeros dropped, or '' — as PostgreSQL prints fractional seconds."""
    us = pc.cast(us, pa.int64())
    frac = pc.utf8_slice_codeunits(pc.cast(pc.add(us, 1_000_000), STR), 1)
    frac = pc.utf8_rtrim(frac, characters="0")
    return pc.if_else(pc.equal(pc.utf8_length(frac), 0), "", pc.binary_join_element_wise(".", frac, ""))


def _offset_text(seconds: np.ndarray) -> pa.Array:
    """UTC offsets as PostgreSQL prints them ('+05:30', '-05'); a zone has few distinct offsets,
    so format the unique ones and take()."""
    uniq, inv = np.unique(seconds, return_inverse=True)
    names = []
    for off in uniq.tolist():
        sign = "-" if off < 0 else "+"
        h, rem = divmod(abs(int(off)), 3600)
        m, sec = divmod(rem, 60)
        names.append(f"{sign}{h:02d}" + (f":{m:02d}" if m or sec else "") + (f":{sec:02d}" if sec else ""))
    return pa.array(names, STR).take(pa.array(inv.astype(np.int32)))


def timestamp_text(arr: pa.Array, tz: str | None) -> pa.Array:
    """timestamp: 'YYYY-MM-DD HH:MM:SS[.ffffff]'; timestamptz adds the session zone offset
    as '+HH' or '+HH:MM' (ISO DateStyle). Casts, not strftime (which is ~15x slower)."""
    if arr.type.unit != "us":
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz))
    utc_us = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
    if tz is None or tz in ("UTC", "Etc/UTC", "GMT", "UTC0", "Z", "Etc/GMT"):
        wall_us, offset = utc_us, None
    else:
        local = pc.local_timestamp(pc.cast(arr, pa.timestamp("us", tz=tz)))
        wall_us = pc.fill_null(pc.cast(local, pa.int64()), 0).to_numpy(zero_copy_only=False)
        offset = _offset_text((wall_us - utc_us) // 1_000_000)
    secs = np.floor_divide(wall_us, 1_000_000)
    frac = wall_us - secs * 1_000_000                   # floor-mod: pre-1970 fractions stay positive
    valid = None if arr.null_count == 0 else arr.is_valid()
    base = pc.cast(pa.array(secs, pa.int64()).cast(pa.timestamp("s")), STR)
    parts = [base]
    if frac.any():
        parts.append(_fraction(pa.array(frac)))
    if tz is not None:
        parts.append(offset if offset is not None else pa.scalar("+00"))
    out = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else base
    return out if valid is None else pc.if_else(valid, out, pa.scalar(None, STR))


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
