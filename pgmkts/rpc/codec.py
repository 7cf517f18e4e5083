"""MarketStore's NumpyMultiDataset ⇄ numpy columns: one packed buffer per column, sliced per
bucket by `startindex`/`lengths`. Validates every size before anything is written."""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack
import numpy as np

from pgmkts import errors

DEFAULT_CATEGORY = "Symbol/Timeframe/AttributeGroup"
_TYPE_RE = re.compile(r"^([<>|=]?)(i1|i2|i4|i8|u1|u2|u4|u8|f4|f8|b1|bool|U\d{1,4})$")
MAX_STRING_CHARS = 4096  # U<n> columns: bounded so a hostile type cannot ask for huge rows


def parse_type(t: Any) -> np.dtype:
    """A MarketStore/numpy type string ('i8', '>f4', 'U16', ...) → dtype with explicit order.

    Only plain numeric, bool and fixed unicode types are accepted: never objects or records.
    """
    m = _TYPE_RE.match(t) if isinstance(t, str) else None
    if m is None:
        raise errors.DatatypeMismatch(f"unsupported column type {t!r}; expected one of "
                                      "i1 i2 i4 i8 u1 u2 u4 u8 f4 f8 U16")
    order, code = m.groups()
    if code == "bool":
        code = "b1"
    if code.startswith("U") and not 0 < int(code[1:]) <= MAX_STRING_CHARS:
        raise errors.DatatypeMismatch(f"unsupported string type {t!r}")
    dt = np.dtype(code)
    return dt.newbyteorder(">") if order == ">" else dt.newbyteorder("<")


def dtype_code(dt: np.dtype) -> str:
    """numpy dtype → the storage engine's dtype string (i8, f4, bool, U16, ...)."""
    if dt.kind == "b":
        return "bool"
    if dt.kind == "U":
        return f"U{dt.itemsize // 4}"
    return f"{dt.kind}{dt.itemsize}"


def type_str(dt: np.dtype) -> str:
    """dtype → MarketStore reply type string (always little-endian, no order character)."""
    if dt.kind == "U":
        return f"U{dt.itemsize // 4}"
    if dt.kind == "b":
        return "b1"
    return f"{dt.kind}{dt.itemsize}"


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise errors.DataError(f"{what} must be an integer, got {type(v).__name__}")
    return v


def decode_dataset(ds: Any) -> list[tuple[str, dict[str, np.ndarray]]]:
    """A write request's `dataset` → [(tbk, {column: array})]; raises on any inconsistency."""
    if not isinstance(ds, dict):
        raise errors.DataError("dataset must be a map with types, names, data, length, startindex, lengths")
    names, types, data = ds.get("names"), ds.get("types"), ds.get("data")
    if not isinstance(names, list | tuple) or not isinstance(types, list | tuple) \
            or not isinstance(data, list | tuple):
        raise errors.DataError("dataset names, types and data must be lists")
    if not (len(names) == len(types) == len(data)) or not names:
        raise errors.DataError(f"dataset has {len(names)} names, {len(types)} types and {len(data)} "
                               "data columns; they must match and not be empty")
    length = _int(ds.get("length"), "dataset length")
    if length < 0:
        raise errors.DataError("dataset length must be >= 0")
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise errors.DataError("dataset column names must be unique non-empty strings")
    if "Epoch" not in names:
        raise errors.DataError("dataset has no Epoch column")
    cols: dict[str, np.ndarray] = {}
    for name, t, buf in zip(names, types, data, strict=True):
        dt = parse_type(t)
        if not isinstance(buf, bytes | bytearray):
            raise errors.DataError(f"column {name}: data must be bytes, got {type(buf).__name__}")
        if len(buf) != length * dt.itemsize:
            raise errors.DataError(f"column {name}: {len(buf)} bytes, expected {length} rows × "
                                   f"{dt.itemsize} bytes = {length * dt.itemsize}")
        arr = np.frombuffer(buf, dtype=dt)
        if dt.byteorder == ">":
            arr = arr.astype(dt.newbyteorder("<"))
        cols[name] = arr
    epoch = cols["Epoch"]
    if epoch.dtype.kind not in "iuf":
        raise errors.DataError(f"Epoch must be numeric, got {type_str(epoch.dtype)}")
    if epoch.dtype != np.int64:
        cols["Epoch"] = epoch.astype(np.int64)
    starts, lengths = ds.get("startindex"), ds.get("lengths")
    if not isinstance(starts, dict) or not isinstance(lengths, dict) or not starts:
        raise errors.DataError("dataset startindex and lengths must be non-empty maps keyed by bucket")
    out = []
    for key, start in starts.items():
        if not isinstance(key, str):
            raise errors.DataError("startindex keys must be strings")
        start = _int(start, f"startindex[{key}]")
        if key not in lengths:
            raise errors.DataError(f"lengths has no entry for {key}")
        n = _int(lengths[key], f"lengths[{key}]")
        if start < 0 or n < 0 or start + n > length:
            raise errors.DataError(f"{key}: rows {start}..{start + n} outside the dataset's {length} rows")
        tbk = key.partition(":")[0]
        if start == 0 and n == length:
            out.append((tbk, cols))
        else:
            out.append((tbk, {c: a[start:start + n] for c, a in cols.items()}))
    return out


def _le(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.byteorder == ">":
        return arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def encode_query_result(datasets: Sequence[tuple[str, Mapping[str, np.ndarray]]],
                        keyed: bool = False) -> tuple[dict, int]:
    """[(tbk, columns)] → a NumpyMultiDataset map (all buckets concatenated per column) and the
    row count. `keyed`: the tbk strings are already full keys (SQL: "<sql>:SQL")."""
    first = datasets[0][1]
    names = list(first.keys())
    dtypes = [np.asarray(first[n]).dtype for n in names]
    starts: dict[str, int] = {}
    lengths: dict[str, int] = {}
    offset = 0
    for tbk, data in datasets:
        if list(data.keys()) != names or \
                any(np.asarray(data[n]).dtype != dt for n, dt in zip(names, dtypes, strict=True)):
            raise errors.DatatypeMismatch(
                "symbols in a query must have the same data type or be filtered by common columns. "
                f"symbols={[t for t, _ in datasets]}")
        n = len(data[names[0]]) if names else 0
        key = tbk if keyed else f"{tbk}:{DEFAULT_CATEGORY}"
        starts[key] = offset
        lengths[key] = n
        offset += n
    blobs = []
    for name in names:
        parts = [np.asarray(d[name]) for _, d in datasets]
        col = parts[0] if len(parts) == 1 else np.concatenate(parts)
        blobs.append(np.ascontiguousarray(_le(col)))  # packed by pack_pieces without a copy
    return {"types": [type_str(dt) for dt in dtypes], "names": names, "data": blobs, "length": offset,
            "startindex": starts, "lengths": lengths}, offset


def sql_result_columns(result: Any) -> dict[str, np.ndarray]:
    """A planner Result (pyarrow batches) → MarketStore columns: `Epoch` int64 seconds first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batches = list(result.batches or ())
    if batches:
        table = pa.Table.from_batches(batches)
    else:
        table = pa.table({f.name: pa.array([], type=_OID_ARROW.get(f.type_oid, pa.string()))
                          for f in result.fields})
    out: dict[str, np.ndarray] = {}
    epoch_name = None
    for i, name in enumerate(table.column_names):
        col = table.column(i)  # by position: table.column(name) fails on a repeated name
        t = col.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            arr = col.cast(pa.timestamp("us", tz=getattr(t, "tz", None))) if pa.types.is_date(t) else col
            ints = pc.fill_null(arr.cast(pa.int64()), 0).to_numpy()
            scale = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[arr.type.unit]
            values = ints // scale
            if epoch_name is None and name.lower() == "epoch":
                epoch_name = name
                name = "Epoch"
        elif pa.types.is_boolean(t):
            values = pc.fill_null(col, False).to_numpy(zero_copy_only=False).astype(bool)
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            filled = col if pa.types.is_floating(t) else pc.fill_null(col, 0)
            values = filled.to_numpy(zero_copy_only=False)
            if pa.types.is_floating(t):
                values = values.astype(t.to_pandas_dtype())
        elif pa.types.is_decimal(t):
            values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            values = np.asarray(pc.fill_null(col.cast(pa.string()), "").to_numpy(zero_copy_only=False),
                                dtype=str)
            if values.dtype.itemsize == 0 or values.size == 0:
                values = values.astype("<U1")
        if name in out:  # the reply maps names to columns: a repeated name would lose one
            raise errors.AmbiguousColumn(f"the SQL result has more than one column named {name!r}; "
                                         "give them distinct aliases")
        out[name] = np.ascontiguousarray(values)
    if "Epoch" not in out:
        # pymarketstore indexes the frame by the first column as epoch seconds; give it one
        out = {"Epoch": np.zeros(table.num_rows, dtype=np.int64), **out}
    else:
        out = {"Epoch": out.pop("Epoch"), **out}
    return out


def _oid_map() -> dict[int, Any]:
    import pyarrow as pa

    return {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
            701: pa.float64(), 25: pa.string(), 1043: pa.string(), 1114: pa.timestamp("us"),
            1184: pa.timestamp("us", tz="UTC")}


_OID_ARROW = _oid_map()


_INLINE_BYTES = 64 * 1024  # smaller arrays are copied into the envelope; larger go out as views


def _bin_header(n: int) -> bytes:
    if n < 256:
        return b"\xc4" + struct.pack(">B", n)
    if n < 65536:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


def pack_pieces(obj: Any) -> list[bytes | memoryview]:
    """msgpack-encode `obj` into a list of buffers whose concatenation is the message.

    numpy arrays become msgpack bin values (their raw bytes); big ones are emitted as views
    of the array's memory, so a year of bars is not copied twice more (tobytes, packb) before
    it reaches the socket.
    """
    packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    out: list[bytes | memoryview] = []
    small = bytearray()

    def walk(o: Any) -> None:
        if isinstance(o, np.ndarray):
            raw = np.ascontiguousarray(o).reshape(-1).view(np.uint8)
            small.extend(_bin_header(raw.nbytes))
            if raw.nbytes < _INLINE_BYTES:
                small.extend(raw.data)
            else:
                out.append(bytes(small))
                small.clear()
                out.append(raw.data)
        elif isinstance(o, dict):
            small.extend(packer.pack_map_header(len(o)))
            for k, v in o.items():
                walk(k)
                walk(v)
        elif isinstance(o, list | tuple):
            small.extend(packer.pack_array_header(len(o)))
            for v in o:
                walk(v)
        else:
            small.extend(packer.pack(o))

    walk(obj)
    if small:
        out.append(bytes(small))
    return out
