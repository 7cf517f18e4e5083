"""Text-format DataRows for small batches, value by value.

pyarrow.compute costs tens of microseconds per call whatever the length, so a 100-row result
(the dashboard/pgbench shape) spends ~12 ms in vectorised formatting but ~0.5 ms here
(measured: tests/wire and the report). Large batches always take the vectorised path.
"""

from __future__ import annotations

import datetime as dt
import struct
from itertools import chain

import numpy as np
import pyarrow as pa

from pgmkts.wire.types.scalar import pg_float_text
from pgmkts.wire.types.text import encode_text

SMALL_ROWS = 512
_EPOCH = dt.datetime(1970, 1, 1)
_I32 = struct.Struct("!i")
_F32 = struct.Struct("f")
_NULL = b"\xff\xff\xff\xff"


def float4_text(x: float) -> str:
    """Shortest float4 round-trip text: the correctly rounded %.6g ... %.9g that packs back to
    the same float4 is what Ryu's shortest output prints (for 1e-4 <= |x| < 1e6, where
    PostgreSQL and %g agree on plain notation)."""
    if 1e-4 <= abs(x) < 1e6:
        packed = _F32.pack(x)
        for spec in (".6g", ".7g", ".8g"):
            s = format(x, spec)
            if _F32.pack(float(s)) == packed:
                return s
        return format(x, ".9g")
    return pg_float_text(x, True)


def float8_text(x: float) -> str:
    r = repr(x)
    if "e" not in r and "n" not in r and abs(x) < 1e15:
        return r[:-2] if r.endswith(".0") else r
    return pg_float_text(x, False)


def _timestamptz_utc(us: int) -> str:
    t = _EPOCH + dt.timedelta(microseconds=us)
    s = t.isoformat(sep=" ")
    if t.microsecond:
        s = s.rstrip("0")
    return s + "+00"


def _timestamp(us: int) -> str:
    t = _EPOCH + dt.timedelta(microseconds=us)
    s = t.isoformat(sep=" ")
    return s.rstrip("0") if t.microsecond else s


_UTC_NAMES = ("UTC", "Etc/UTC", "GMT", "UTC0", "Z", "Etc/GMT")


def _column(arr: pa.Array, oid: int, tz: str | None) -> list[bytes | None]:
    if oid in (20, 21, 23, 26) and pa.types.is_integer(arr.type):
        return [None if v is None else str(v).encode() for v in arr.to_pylist()]
    if oid == 701 and pa.types.is_floating(arr.type):
        return [None if v is None else float8_text(v).encode() for v in arr.to_pylist()]
    if oid == 700 and pa.types.is_floating(arr.type):
        return [None if v is None else float4_text(v).encode() for v in arr.cast(pa.float32()).to_pylist()]
    if oid == 16 and pa.types.is_boolean(arr.type):
        return [None if v is None else (b"t" if v else b"f") for v in arr.to_pylist()]
    if oid in (25, 1043, 19) and pa.types.is_string(arr.type):
        return [None if v is None else v.encode() for v in arr.to_pylist()]
    if oid in (1184, 1114) and pa.types.is_timestamp(arr.type) and arr.type.unit == "us" \
            and (oid == 1114 or tz in _UTC_NAMES):
        fmt = _timestamptz_utc if oid == 1184 else _timestamp
        return [None if v is None else fmt(v).encode() for v in arr.cast(pa.int64()).to_pylist()]
    return [None if v is None else v.encode() for v in encode_text(arr, oid, tz).to_pylist()]


def small_text_datarows(batch: pa.RecordBatch, oids: list[int], tz: str | None) -> bytes:
    n = batch.num_rows
    pack = _I32.pack
    cols = []
    body = np.full(n, 2, dtype=np.int64)
    for i in range(batch.num_columns):
        vals = _column(batch.column(i), oids[i], tz)
        # each field as its wire bytes: int32 length + value, or -1 for NULL
        items = [_NULL if v is None else pack(len(v)) + v for v in vals]
        body += np.fromiter(map(len, items), dtype=np.int64, count=n)
        cols.append(items)
    hdr = np.empty(n, dtype=np.dtype([("t", "S1"), ("len", ">i4"), ("nc", ">i2")]))
    hdr["t"] = b"D"
    hdr["len"] = body + 4
    hdr["nc"] = len(cols)
    raw = hdr.tobytes()
    heads = [raw[k:k + 7] for k in range(0, 7 * n, 7)]
    return b"".join(chain.from_iterable(zip(heads, *cols, strict=True)))
