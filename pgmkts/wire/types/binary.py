"""Binary-format output per type (docs §55.2 / each type's *send function), vectorised with numpy:
big-endian fixed widths straight from the column buffers; timestamps as µs since 2000-01-01."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pgmkts.wire.types import scalar
from pgmkts.wire.types.core import Encoded, fixed, from_arrow_binary, from_pylist, validity

PG_EPOCH_US = 946_684_800_000_000      # 2000-01-01 in µs since the Unix epoch
PG_EPOCH_DAYS = 10_957

_FIXED = {16: ">u1", 21: ">i2", 23: ">i4", 20: ">i8", 26: ">u4", 700: ">f4", 701: ">f8"}


def _values(arr: pa.Array, fill) -> np.ndarray:
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return arr.to_numpy(zero_copy_only=False)


def _timestamp(arr: pa.Array) -> Encoded:
    if not pa.types.is_timestamp(arr.type):
        arr = pc.cast(arr, pa.timestamp("us", tz="UTC"))
    elif arr.type.unit != "us":
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz))
    micros = _values(pc.cast(arr, pa.int64()), 0)
    return fixed(micros - PG_EPOCH_US, ">i8", validity(arr))


def _per_value(arr: pa.Array, fn) -> Encoded:
    return from_pylist([None if v is None else fn(v) for v in arr.to_pylist()])


def binary_scalar(v, oid: int) -> bytes:
    """One value in binary (array elements)."""
    arr = pa.array([v])
    enc = encode_binary(arr, oid)
    assert enc.data is not None
    if enc.width:
        return enc.data[0].tobytes()
    assert enc.offsets is not None
    return enc.data[enc.offsets[0]:enc.offsets[1]].tobytes()


def encode_binary(arr: pa.Array, oid: int) -> Encoded:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_null(t):
        return from_pylist([None] * len(arr))
    if oid in scalar.ARRAY_ELEM:
        elem = scalar.ARRAY_ELEM[oid]
        return _per_value(arr, lambda vals: scalar.array_binary(vals, elem, lambda x: binary_scalar(x, elem)))
    if oid in scalar.VECTOR_ELEM:
        elem = scalar.VECTOR_ELEM[oid]
        return _per_value(arr, lambda vals: scalar.array_binary(
            vals, elem, lambda x: binary_scalar(x, elem), lbound=0))
    if oid in _FIXED:
        dt = _FIXED[oid]
        if oid == 16:
            vals = _values(pc.cast(arr, pa.bool_()), False).astype(np.uint8)
        elif oid in (700, 701):
            vals = _values(pc.cast(arr, pa.float32() if oid == 700 else pa.float64()), 0)
        else:
            vals = _values(arr if pa.types.is_integer(t) else pc.cast(arr, pa.int64()), 0)
        return fixed(vals, dt, validity(arr))
    if oid in (1184, 1114):
        return _timestamp(arr)
    if oid == 1082:
        days = _values(pc.cast(pc.cast(arr, pa.date32()), pa.int32()), 0)
        return fixed(days.astype(np.int64) - PG_EPOCH_DAYS, ">i4", validity(arr))
    if oid == 1700:
        return _per_value(arr, scalar.numeric_to_binary)
    if oid == 1186:
        return _per_value(arr, scalar.interval_binary)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t):
        return from_arrow_binary(arr)
    # anything else: its text form is what a binary text/varchar/unknown column carries
    from pgmkts.wire.types.text import encode_text

    return from_arrow_binary(encode_text(arr, oid))
