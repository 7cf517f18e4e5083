"""Encoded columns and the vectorised row assembler shared by DataRow and COPY output.

An encoded column is either fixed-width (n × w bytes) or variable (Arrow-style offsets + data),
plus an optional validity mask. `assemble` lays rows out with numpy scatter writes, per chunk,
never looping over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

U1 = np.uint8
_AR4 = np.arange(4)
_AR2 = np.arange(2)


@dataclass(slots=True)
class Encoded:
    n: int
    width: int = 0                       # > 0: fixed width, `data` is (n, width) uint8
    data: np.ndarray | None = None       # fixed: (n, w) uint8; variable: flat uint8
    offsets: np.ndarray | None = None    # variable: int64 (n + 1)
    valid: np.ndarray | None = None      # bool (n) or None when no NULLs
    arrow: pa.Array | None = None        # variable columns built from Arrow keep the array (no copies)

    def lengths(self) -> np.ndarray:
        if self.arrow is not None:
            ln = pc.fill_null(pc.binary_length(self.arrow), -1)
            return ln.to_numpy(zero_copy_only=False).astype(np.int64)
        if self.width:
            lens = np.full(self.n, self.width, dtype=np.int64)
        else:
            assert self.offsets is not None
            lens = np.diff(self.offsets)
        if self.valid is not None:
            lens = np.where(self.valid, lens, -1)
        return lens


def fixed(values: np.ndarray, be_dtype: str, valid: np.ndarray | None = None) -> Encoded:
    """Big-endian fixed-width column from a numpy array (NULL slots already filled)."""
    be = np.ascontiguousarray(values, dtype=be_dtype)
    w = be.dtype.itemsize
    return Encoded(len(be), w, be.view(U1).reshape(len(be), w), None, valid)


def validity(arr: pa.Array) -> np.ndarray | None:
    if arr.null_count == 0:
        return None
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def from_arrow_binary(arr: pa.Array) -> Encoded:
    """Zero-copy view of an Arrow string/binary array's offsets and data buffers."""
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    off_dtype: type = np.int64 if large else np.int32
    osz = 8 if large else 4
    n = len(arr)
    bufs = arr.buffers()
    offsets: np.ndarray = np.frombuffer(bufs[1], dtype=off_dtype, count=n + 1, offset=arr.offset * osz)
    data = np.frombuffer(bufs[2], dtype=U1) if bufs[2] is not None else np.zeros(0, U1)
    return Encoded(n, 0, data, offsets, validity(arr), arr)


def from_pylist(values: list[bytes | None]) -> Encoded:
    """For the rare types encoded per value (numeric binary, interval, arrays)."""
    return from_arrow_binary(pa.array(values, pa.binary()))


def _fixed_binary(data: np.ndarray) -> pa.Array:
    """(n, w) uint8 → Arrow binary array of n w-byte values (no copy until the cast)."""
    n, w = data.shape
    fsb = pa.FixedSizeBinaryArray.from_buffers(pa.binary(w), n, [None, pa.py_buffer(np.ascontiguousarray(data))])
    return fsb.cast(pa.binary())


def _be_binary(vals: np.ndarray, dtype: str) -> pa.Array:
    be = np.ascontiguousarray(vals, dtype=dtype)
    return _fixed_binary(be.view(U1).reshape(len(be), be.dtype.itemsize))


def _as_binary(col: Encoded) -> pa.Array:
    """The column's value bytes as an Arrow binary array, NULLs as empty values."""
    if col.arrow is not None:
        arr = col.arrow
        large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
        arr = arr.cast(pa.large_binary() if large else pa.binary())
        return pc.fill_null(arr, b"") if arr.null_count else arr
    assert col.data is not None      # fixed width: every variable column is built from Arrow
    arr = _fixed_binary(col.data)
    if col.valid is not None:
        arr = pc.if_else(pa.array(col.valid), arr, b"")
    return arr


def _joined_bytes(arr: pa.Array) -> bytes:
    """The data buffer of a (large) binary array between its first and last offset."""
    bufs = arr.buffers()
    osz = 8 if pa.types.is_large_binary(arr.type) else 4
    offs = np.frombuffer(bufs[1], dtype=np.int64 if osz == 8 else np.int32, count=len(arr) + 1,
                         offset=arr.offset * osz)
    if bufs[2] is None:
        return b""
    return bufs[2].slice(int(offs[0]), int(offs[-1] - offs[0])).to_pybytes()


def _fast_fixed(cols: list[Encoded], n: int, type_byte: bytes, count: bool) -> bytes:
    """All columns fixed width, no NULLs: one structured array is exactly the wire layout."""
    spec: list[tuple[str, str]] = []
    if type_byte:
        spec += [("t", "S1"), ("len", ">i4")]
    if count:
        spec.append(("nc", ">i2"))
    for i, c in enumerate(cols):
        spec += [(f"l{i}", ">i4"), (f"v{i}", f"V{c.width}")]
    rec = np.empty(n, dtype=np.dtype(spec))
    if type_byte:
        rec["t"] = type_byte
        rec["len"] = rec.dtype.itemsize - 1
    if count:
        rec["nc"] = len(cols)
    for i, c in enumerate(cols):
        rec[f"l{i}"] = c.width
        rec[f"v{i}"] = np.ascontiguousarray(c.data).view(f"V{c.width}").ravel()
    return rec.tobytes()


def assemble(cols: list[Encoded], n: int, *, type_byte: bytes = b"D", count: bool = True) -> bytes:
    """Rows as `type_byte int32len [int16 ncols] (int32 len, bytes)*` — DataRow (b'D') or
    binary COPY tuples wrapped in CopyData (b'd')."""
    if n == 0:
        return b""
    if all(c.width and c.valid is None for c in cols):
        return _fast_fixed(cols, n, type_byte, count)
    # Mixed widths or NULLs: every piece of a row becomes an Arrow binary column and one
    # binary_join_element_wise concatenates them per row in C++; the joined data buffer is the
    # wire bytes. (A numpy scatter with fancy indices was ~8x slower.)
    lens = [c.lengths() for c in cols]
    rowlen = np.full(n, (4 if type_byte else 0) + (2 if count else 0), dtype=np.int64)
    for ln in lens:
        rowlen += 4 + np.maximum(ln, 0)
    hdr_spec = ([("t", "S1"), ("len", ">i4")] if type_byte else []) + ([("nc", ">i2")] if count else [])
    pieces: list[pa.Array] = []
    if hdr_spec:
        hdr = np.empty(n, dtype=np.dtype(hdr_spec))
        if type_byte:
            hdr["t"] = type_byte
            hdr["len"] = rowlen
        if count:
            hdr["nc"] = len(cols)
        pieces.append(_fixed_binary(hdr.view(U1).reshape(n, hdr.dtype.itemsize)))
    for c, ln in zip(cols, lens, strict=True):
        pieces.append(_be_binary(ln, ">i4"))
        pieces.append(_as_binary(c))
    if int(rowlen.sum()) + n > 2**31 - 1:
        pieces = [p.cast(pa.large_binary()) for p in pieces]
    return _joined_bytes(pc.binary_join_element_wise(*pieces, b""))


def frame_var(rows: pa.Array, type_byte: bytes) -> bytes:
    """Each value of `rows` (string/binary) as its own message — COPY text/csv sends one CopyData
    per row because psycopg's Copy.rows() parses each CopyData as exactly one row."""
    n = len(rows)
    if n == 0:
        return b""
    enc = from_arrow_binary(rows)
    ln = enc.lengths()
    hdr = np.empty(n, dtype=np.dtype([("t", "S1"), ("len", ">i4")]))
    hdr["t"] = type_byte
    hdr["len"] = ln + 4
    return _joined_bytes(pc.binary_join_element_wise(_fixed_binary(hdr.view(U1).reshape(n, 5)),
                                                      _as_binary(enc), b""))
