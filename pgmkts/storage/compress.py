"""Compressed fixed-length year files: the codec and the file format (read side).

A compressed year file (`YYYY.bin`, magic PGMKFIZ1) holds the same rows as a raw one
(fixed.py) in chunks of CHUNK slots (2^16: ~45 days of 1-minute bars), so a month read
decompresses only its chunks. Per chunk:
  presence  empty / full / a zstd-compressed bitmap (np.packbits), plus the present count;
  columns   only the present slots' values, dense, in slot order: a slot range's rows are then
            one contiguous slice of each column (rank of the first slot .. + count), no scatter.
A column chunk is encoded on its bit pattern (lossless, NaN payloads kept): optionally delta +
zigzag (a random walk's consecutive floats share exponent and high mantissa, so the delta of
the bit patterns is small), then a byte shuffle (byte k of every value together, like blosc),
then zstd through pyarrow. The encoder keeps whichever of plain/delta is smaller per chunk.

Layout: header (_ZHDR), then the index (int64 [nchunks, 1 + ncols, 4]: offset, length, code, n),
then the blobs. Index code for presence: 0 empty, 1 full, 2 bitmap; for a column: transform
(0 plain, 1 delta-zigzag) + 16 * codec (0 stored, 1 zstd); n = decoded byte length.
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pyarrow as pa

from pgmkts import errors

CHUNK_SHIFT = 16
ZMAGIC = b"PGMKFIZ1"
_ZHDR = struct.Struct("<8sIIqqqqqqq")  # magic, version, chunk shift, year, tf, nslots, lo, hi, ncols, nchunks
ZHDR_SIZE = _ZHDR.size
_LEVEL = 3  # zstd level: higher levels gain <1% on market data for several times the time

P_EMPTY, P_FULL, P_BITMAP = 0, 1, 2
T_PLAIN, T_DELTA = 0, 1
C_STORED, C_ZSTD = 0, 1

_codec: pa.Codec | None = None
Pick = tuple[int, np.ndarray, int]
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _zstd() -> pa.Codec:
    global _codec
    if _codec is None:
        _codec = pa.Codec("zstd", compression_level=_LEVEL)
    return _codec


# ---------------------------------------------------------------------------- codec
def _shuffle(u: np.ndarray) -> np.ndarray:
    """Byte k of every value together: (n, itemsize) bytes -> (itemsize, n)."""
    isz = u.dtype.itemsize
    if isz == 1:
        return u.view(np.uint8)
    return np.ascontiguousarray(u.view(np.uint8).reshape(len(u), isz).T)


def _unshuffle(b: np.ndarray, isz: int, out: np.ndarray) -> None:
    """Inverse of _shuffle, into `out` (unsigned ints of size isz): the byte planes are merged
    with shifts and ors, several times faster in numpy than a transposing copy."""
    if isz == 1:
        out[:] = b
        return
    planes = b.reshape(isz, len(out))
    np.copyto(out, planes[isz - 1])
    eight = out.dtype.type(8)
    for j in range(isz - 2, -1, -1):
        out <<= eight
        out |= planes[j]


def _delta_zigzag(u: np.ndarray) -> np.ndarray:
    bits = u.dtype.itemsize * 8
    d = np.empty_like(u)
    d[0] = u[0]
    np.subtract(u[1:], u[:-1], out=d[1:])  # unsigned: wraps modulo 2^bits, exactly invertible
    s = d.view(np.dtype(f"i{u.dtype.itemsize}"))
    # small negative deltas would be 0xFF.. in the high bytes: zigzag keeps them near zero
    return ((s << 1) ^ (s >> (bits - 1))).view(u.dtype)


def _undelta_zigzag(z: np.ndarray) -> None:
    """In place: zigzag decode then prefix sum (both modulo 2^bits)."""
    one = z.dtype.type(1)
    neg = z & one
    np.negative(neg, out=neg)  # 0 or all ones (unsigned wrap)
    z >>= one
    z ^= neg
    np.cumsum(z, dtype=z.dtype, out=z)


def encode_values(a: np.ndarray) -> tuple[bytes, int]:
    """(blob, code) for a 1-d array of any fixed-size dtype; decode_values inverts it bit-exactly."""
    raw = np.ascontiguousarray(a)
    isz = raw.dtype.itemsize
    ut = _UINT.get(isz)
    if not len(raw):
        return b"", T_PLAIN + 16 * C_STORED
    cands: list[tuple[np.ndarray, int]] = []
    if ut is None:  # e.g. U16 strings: no numeric structure to exploit
        cands.append((raw.reshape(-1).view(np.uint8), T_PLAIN))
    else:
        u = raw.view(ut)
        cands.append((_shuffle(u), T_PLAIN))
        if len(u) > 1:
            cands.append((_shuffle(_delta_zigzag(u)), T_DELTA))
    best: tuple[bytes, int] | None = None
    for buf, t in cands:
        z = _zstd().compress(buf, asbytes=True)
        if best is None or len(z) < len(best[0]):
            best = (z, t + 16 * C_ZSTD)
    assert best is not None
    if len(best[0]) >= raw.nbytes:  # incompressible: store (plain, unshuffled)
        return raw.reshape(-1).view(np.uint8).tobytes(), T_PLAIN + 16 * C_STORED
    return best


def decode_values(blob: bytes | memoryview, code: int, dt: np.dtype, n: int,
                  out: np.ndarray | None = None) -> np.ndarray:
    """The `n` values encoded by encode_values, as dtype `dt` (into `out` when given)."""
    if out is None:
        out = np.empty(n, dt)
    if not n:
        return out
    t, c = code % 16, code // 16
    isz = dt.itemsize
    ob = out.view(np.uint8)
    if c == C_STORED:
        ob[:] = np.frombuffer(blob, np.uint8, n * isz)
        return out
    if c != C_ZSTD:
        raise errors.InternalError(f"unknown compressed column codec {c}")
    buf = np.frombuffer(pa.decompress(blob, n * isz, codec="zstd"), np.uint8)
    ut = _UINT.get(isz)
    if ut is None:
        ob[:] = buf
        return out
    u = out.view(ut)
    _unshuffle(buf, isz, u)
    if t == T_DELTA:
        _undelta_zigzag(u)
    return out


def encode_presence(p: np.ndarray) -> tuple[bytes, int, int]:
    """(blob, code, count) for a chunk's presence bytes (0/1)."""
    k = int(np.count_nonzero(p))
    if k == 0:
        return b"", P_EMPTY, 0
    if k == len(p):
        return b"", P_FULL, k
    return _zstd().compress(np.packbits(p != 0), asbytes=True), P_BITMAP, k


def decode_presence(blob: bytes | memoryview, code: int, span: int) -> np.ndarray:
    """Presence of a chunk as a bool array of `span` slots."""
    if code == P_EMPTY:
        return np.zeros(span, bool)
    if code == P_FULL:
        return np.ones(span, bool)
    nb = (span + 7) // 8
    bits = np.frombuffer(pa.decompress(blob, nb, codec="zstd"), np.uint8)
    return np.unpackbits(bits, count=span).view(bool)


# ---------------------------------------------------------------------------- file format
def is_compressed(head: bytes) -> bool:
    return head[:8] == ZMAGIC


def pack_header(year: int, tf: int, nslots: int, lo: int, hi: int, ncols: int, nchunks: int) -> bytes:
    return _ZHDR.pack(ZMAGIC, 1, CHUNK_SHIFT, year, tf, nslots, lo, hi, ncols, nchunks)


class ZYear:
    """The header and index of one compressed year file; reads chunks through an fd."""

    __slots__ = ("year", "tf", "nslots", "lo", "hi", "ncols", "nchunks", "shift", "index", "size")

    def __init__(self, head: bytes, fd: int) -> None:
        (magic, _v, self.shift, self.year, self.tf, self.nslots, self.lo, self.hi, self.ncols,
         self.nchunks) = _ZHDR.unpack(head[:ZHDR_SIZE])
        if magic != ZMAGIC:
            raise errors.InternalError("not a compressed pgmkts year file")
        nbytes = self.nchunks * (1 + self.ncols) * 4 * 8
        raw = head[ZHDR_SIZE:ZHDR_SIZE + nbytes]
        if len(raw) < nbytes:
            raw = os.pread(fd, nbytes, ZHDR_SIZE)
        if len(raw) < nbytes:
            raise errors.InternalError("compressed year file: index truncated")
        self.index = np.frombuffer(raw, np.int64).reshape(self.nchunks, 1 + self.ncols, 4)
        self.size = os.fstat(fd).st_size

    def span(self, c: int) -> tuple[int, int]:
        return c << self.shift, min(self.nslots, (c + 1) << self.shift)

    def _blob(self, fd: int, off: int, n: int) -> bytes:
        b = os.pread(fd, n, off) if n else b""
        if len(b) != n:
            raise errors.InternalError("compressed year file: chunk truncated")
        return b

    def presence(self, fd: int, c: int) -> np.ndarray:
        off, ln, code, _n = self.index[c, 0].tolist()
        s0, s1 = self.span(c)
        return decode_presence(self._blob(fd, off, ln), code, s1 - s0)

    def count(self, c: int) -> int:
        return int(self.index[c, 0, 3])

    def column(self, fd: int, c: int, j: int, dt: np.dtype, out: np.ndarray | None = None) -> np.ndarray:
        """Dense values of column j (schema order) in chunk c."""
        off, ln, code, n = self.index[c, 1 + j].tolist()
        return decode_values(self._blob(fd, off, ln), code, dt, n // dt.itemsize, out)

    def select(self, fd: int, a: int, b: int, need: int | None, from_end: bool) -> list[Pick]:
        """Occupied slots in [a, b) (at most `need`, from the chosen end), per chunk in slot
        order: (chunk, chunk-local slots, rank of the first among the chunk's present slots)."""
        a, b = max(a, self.lo), min(b, self.hi)
        picks: list[tuple[int, np.ndarray, int]] = []  # (chunk, chunk-local slots, rank of the first)
        got = 0
        if a < b:
            chunks = range(a >> self.shift, ((b - 1) >> self.shift) + 1)
            for c in (reversed(chunks) if from_end else chunks):
                if need is not None and got >= need:
                    break
                k = self.count(c)
                if not k:
                    continue
                c0, c1 = self.span(c)
                la, lb = max(a, c0) - c0, min(b, c1) - c0
                if k == c1 - c0:
                    local, r0 = np.arange(la, lb, dtype=np.int64), la
                else:
                    p = self.presence(fd, c)
                    local = np.flatnonzero(p[la:lb]) + la
                    r0 = int(np.count_nonzero(p[:la]))
                if need is not None and len(local) > need - got:
                    drop = len(local) - (need - got)
                    if from_end:
                        local, r0 = local[drop:], r0 + drop
                    else:
                        local = local[:need - got]
                if len(local):
                    picks.append((c, local, r0))
                    got += len(local)
        if from_end:
            picks.reverse()
        return picks

    def fill(self, fd: int, picks: list[Pick], out: dict[str, np.ndarray], ystart: int,
             cols: list[tuple[str, np.dtype]], proj: list[tuple[str, np.dtype]]) -> None:
        """Decode the picked rows into `out` (Epoch and the projection, sized for them)."""
        pos = {n: j for j, (n, _) in enumerate(cols)}
        r = 0
        for c, local, r0 in picks:
            k = len(local)
            ep = out["Epoch"][r:r + k]
            np.add(local, c << self.shift, out=ep)
            ep *= self.tf
            ep += ystart
            whole = r0 == 0 and k == self.count(c)
            for name, dt in proj:
                dst = out[name][r:r + k]
                if whole:  # the whole chunk: decoded straight into the result
                    self.column(fd, c, pos[name], dt, dst)
                else:
                    dst[:] = self.column(fd, c, pos[name], dt)[r0:r0 + k]
            r += k

    def read(self, fd: int, a: int, b: int, need: int | None, from_end: bool, ystart: int,
             cols: list[tuple[str, np.dtype]], proj: list[tuple[str, np.dtype]]) -> dict[str, np.ndarray]:
        """Rows of occupied slots in [a, b), like a raw read (select + fill)."""
        picks = self.select(fd, a, b, need, from_end)
        total = sum(len(lc) for _, lc, _ in picks)
        out = {"Epoch": np.empty(total, np.int64), **{n: np.empty(total, dt) for n, dt in proj}}
        self.fill(fd, picks, out, ystart, cols, proj)
        return out
