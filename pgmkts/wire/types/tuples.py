"""Binary COPY input (docs: COPY, "Binary Format") → Arrow columns without a Python loop per row.

A tuple is an int16 field count, then per field an int32 length (-1 = NULL) and that many bytes.
1. Every field fixed-width and no NULL: all tuples have one length, so one structured numpy view
   of the whole body is the table (bucket tables: epoch + numbers).
2. Otherwise (a text symbol of varying length, NULLs): every position whose bytes look like a
   tuple header is a candidate start; a candidate's length follows from its field lengths, read
   for all candidates at once with one gather per field. The real tuples form a chain from the
   first one to the trailer; when the surviving candidates are exactly that chain (each one's
   successor is the next candidate) they are the tuple starts. A text value that happens to
   look like a tuple leaves extra candidates: the chain is then followed through them.
3. Malformed input (and the rare types decoded per value) goes to the reference walk below,
   which reports PostgreSQL's errors (22P04) — the fast paths never raise on bad data, they
   decline it.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa

from pgmkts.errors import BadCopyFileFormat, CharacterNotInRepertoire, DatetimeFieldOverflow
from pgmkts.wire.types.binary import PG_EPOCH_DAYS, PG_EPOCH_US
from pgmkts.wire.types.params import decode_binary
from pgmkts.wire.types.parse import arrow_type

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"

# OID → (big-endian numpy format, byte width) of the fixed-width binary forms
FIXED_BIN = {16: ("?", 1), 21: (">i2", 2), 23: (">i4", 4), 20: (">i8", 8), 26: (">u4", 4),
             700: (">f4", 4), 701: (">f8", 8), 1184: (">i8", 8), 1114: (">i8", 8), 1082: (">i4", 4)}
# binary form = the UTF-8 bytes (text, varchar, name, "char", unknown) or raw bytes (bytea)
_TEXTUAL = {25, 1043, 19, 18, 0, 705}
_BYTEA = 17
# PostgreSQL's timestamp ±infinity are INT64 max/min; anything beyond ±2^62 µs (~146,000 years)
# cannot be stored and would overflow when moved to the Unix epoch
_TS_LIMIT = 1 << 62


def empty_table(fields) -> pa.Table:
    return pa.table({f.name: pa.array([], arrow_type(f.type_oid)) for f in fields})


def parse_binary(data, fields) -> pa.Table:
    """The whole binary COPY stream (header, tuples, optional trailer) → one Table."""
    n_bytes = len(data)
    if not n_bytes:
        return empty_table(fields)
    if n_bytes < 19 or bytes(data[:11]) != SIGNATURE:
        raise BadCopyFileFormat("COPY file signature not recognized")
    flags, ext = struct.unpack_from("!ii", data, 11)
    if flags & 0x10000:
        raise BadCopyFileFormat("COPY binary with OIDs is not supported")
    if ext < 0 or 19 + ext > n_bytes:
        raise BadCopyFileFormat("invalid COPY file header (wrong length)")
    pos = 19 + ext
    u8 = np.frombuffer(data, dtype=np.uint8)
    if fields and all(f.type_oid in FIXED_BIN for f in fields):
        t = _fixed(u8, pos, fields)
        if t is not None:
            return t
    if fields and all(f.type_oid in FIXED_BIN or f.type_oid in _TEXTUAL or f.type_oid == _BYTEA
                      for f in fields):
        t = _runs(u8, pos, fields)
        if t is None:
            t = _general(u8, pos, fields)
        if t is not None:
            return t
    return parse_binary_slow(data, pos, fields)


# ---------------------------------------------------------------- 1. one structured view
def _native(value: int, fmt: str) -> int:
    """The native-endian integer whose bytes equal `value` in big-endian `fmt`: comparing raw
    length fields against it skips a byte swap of every row."""
    return int(np.array([value], dtype=fmt).view(fmt.replace(">", "=").replace("i", "u"))[0])


def _fixed(u8: np.ndarray, pos: int, fields) -> pa.Table | None:
    widths = [FIXED_BIN[f.type_oid][1] for f in fields]
    names, formats, offsets = ["n"], ["=u2"], [0]
    off = 2
    for i, w in enumerate(widths):
        names.append(f"l{i}")
        formats.append("=u4")
        offsets.append(off)
        off += 4 + w
    row = off
    body = len(u8) - pos
    count, rest = divmod(body, row)
    if rest and not (rest == 2 and bytes(u8[-2:]) == TRAILER):
        return None
    if count == 0:
        return empty_table(fields)
    chk = np.ndarray((count,), np.dtype({"names": names, "formats": formats, "offsets": offsets,
                                         "itemsize": row}), u8, pos)
    if not (chk["n"] == _native(len(fields), ">i2")).all():
        return None
    for i, w in enumerate(widths):
        if not (chk[f"l{i}"] == _native(w, ">i4")).all():
            return None     # a NULL or a wrong length: the general path (or the walk) handles it
    out = {}
    for i, f in enumerate(fields):
        fmt = FIXED_BIN[f.type_oid][0]
        vals = np.ndarray((count,), fmt, u8, pos + offsets[i + 1] + 4, (row,))
        out[f.name] = to_arrow(vals, f.type_oid, None, f.name)
    return pa.table(out)


# ---------------------------------------------------------------- 2a. runs of one tuple shape
_MIN_AVG_RUN = 64     # rows per run below which the candidate scan (2b) is cheaper


def _shape(data, pos: int, end: int, ncols: int, widths) -> tuple[int, ...] | None:
    """The field lengths of the tuple at `pos` (-1 = NULL), read with struct; None if malformed."""
    if pos + 2 > end or struct.unpack_from("!h", data, pos)[0] != ncols:
        return None
    p = pos + 2
    lens = []
    for w in widths:
        if p + 4 > end:
            return None
        (ln,) = struct.unpack_from("!i", data, p)
        if (ln != w and ln != -1) if w else ln < -1:
            return None
        lens.append(ln)
        p += 4 + max(ln, 0)
    return tuple(lens) if p <= end else None


_BLOCK = 16384        # rows checked and copied at once: a block (~1 MB of tuples) stays in cache
                      # across the per-field passes instead of streaming the body once per field


def _runs(u8: np.ndarray, pos: int, fields) -> pa.Table | None:
    """Rows grouped so that consecutive tuples share their field lengths (a symbol's rows
    together, as clients send them): each run of one shape is a structured view, checked and
    copied block by block (each block's fields read while it is in cache). Declines (None)
    when runs are short."""
    end = len(u8)
    ncols = len(fields)
    widths = [FIXED_BIN[f.type_oid][1] if f.type_oid in FIXED_BIN else 0 for f in fields]
    trailer = end - 2 if bytes(u8[-2:]) == TRAILER else -1
    min_row = 2 + sum(4 + w for w in widths)
    cap = (end - pos) // min_row + 1    # an upper bound unless there are NULLs
    vals = [np.empty(cap, np.dtype(FIXED_BIN[f.type_oid][0]).newbyteorder("=")) if widths[i] else None
            for i, f in enumerate(fields)]
    texts: list[list[np.ndarray]] = [[] for _ in fields]
    runs: list[tuple[int, int, tuple[int, ...]]] = []   # (first output row, count, shape)
    rows = 0
    while pos < end and pos != trailer:
        shape = _shape(u8, pos, end, ncols, widths)
        if shape is None:
            return None
        offs = []
        off = 2
        for ln in shape:
            offs.append(off)
            off += 4 + max(ln, 0)
        row = off
        chk_dt = np.dtype({"names": ["n"] + [f"l{i}" for i in range(ncols)],
                           "formats": ["=u2"] + ["=u4"] * ncols, "offsets": [0] + offs, "itemsize": row})
        want = [_native(ncols, ">i2")] + [_native(ln, ">i4") for ln in shape]
        most = (end - pos) // row
        count, win = 0, 64
        while count < most:
            m = min(win, most - count)
            start = pos + count * row
            view = np.ndarray((m,), chk_dt, u8, start)
            eq = view["n"] == want[0]
            for i in range(ncols):
                eq &= view[f"l{i}"] == want[i + 1]
            bad = np.flatnonzero(~eq)
            g = int(bad[0]) if len(bad) else m
            k = rows + count
            if k + g > cap:      # NULLs make tuples shorter than min_row: grow the outputs
                cap = max(2 * cap, k + g)
                for i, arr in enumerate(vals):
                    if arr is not None:
                        grown = np.empty(cap, arr.dtype)
                        grown[:k] = arr[:k]
                        vals[i] = grown
            for i, f in enumerate(fields):
                ln = shape[i]
                if widths[i]:
                    out = vals[i]
                    assert out is not None
                    if ln < 0:
                        out[k:k + g] = 0
                    else:
                        out[k:k + g] = np.ndarray((g,), FIXED_BIN[f.type_oid][0], u8, start + offs[i] + 4, (row,))
                elif ln > 0:
                    texts[i].append(np.ndarray((g, ln), np.uint8, u8, start + offs[i] + 4, (row, 1)).copy())
            count += g
            if g < m:
                break
            win = min(win * 4, _BLOCK)
        runs.append((rows, count, shape))
        rows += count
        pos += count * row
        if len(runs) > 16 and rows < _MIN_AVG_RUN * len(runs):
            return None
    out_cols = {}
    for i, f in enumerate(fields):
        ok = None
        if any(shape[i] < 0 for _k, _c, shape in runs):
            ok = np.ones(rows, bool)
            for k, c, shape in runs:
                if shape[i] < 0:
                    ok[k:k + c] = False
        arr = vals[i]
        if arr is not None:
            # a slice of the upper-bound allocation; copied when most of it would be wasted
            v = arr[:rows] if rows * 2 >= cap else arr[:rows].copy()
            out_cols[f.name] = to_arrow(v, f.type_oid, ok, f.name, owned=True)
        else:
            total = sum(c * max(shape[i], 0) for _k, c, shape in runs)
            # the offsets straight from the runs, in place: one array of the final width
            # instead of sizes, their int64 cumsum and its int32 copy (~20 bytes a row less)
            offsets = np.empty(rows + 1, np.int64 if total >= 2**31 else np.int32)
            offsets[0] = 0
            for k, c, shape in runs:
                offsets[k + 1:k + c + 1] = max(shape[i], 0)
            np.cumsum(offsets, out=offsets)
            data = np.concatenate([t.ravel() for t in texts[i]]) if texts[i] else np.zeros(0, np.uint8)
            out_cols[f.name] = _var_array(data, None, ok, f, offsets=offsets)
    return pa.table(out_cols)


# ---------------------------------------------------------------- 2b. candidates and the chain
def _overlapping(u8: np.ndarray, fmt: str) -> np.ndarray:
    """A value of `fmt` starting at every byte offset (overlapping, zero-copy) — gathers read
    fields at arbitrary offsets through it."""
    w = np.dtype(fmt).itemsize
    return np.ndarray((max(len(u8) - w + 1, 0),), fmt, u8, 0, (1,))


def _walk(i32: np.ndarray, starts: np.ndarray, stop: int, widths: list[int | None], nulls: bool):
    """Treat every entry of `starts` as a tuple start: per field its length and value offset,
    the offset after the tuple, and whether the lengths are consistent (fixed fields: their
    width or -1; variable: >= -1) and stay within `stop`. With nulls=False the fixed fields are
    taken to hold their width without reading them (a run of them is one constant offset) and
    a NULL variable field declines the candidate: the caller checks the fixed lengths after."""
    ok = np.ones(len(starts), dtype=bool)
    p = starts + 2
    lens: list[np.ndarray | None] = []
    voffs: list[np.ndarray | int] = []
    skip = 0               # bytes of fixed fields not yet added to p (nulls=False)
    for w in widths:
        if w and not nulls:
            if not skip:
                # the first fixed field after a variable one: its length filters candidates
                # (one gather) so few false ones reach the chain check
                ok &= i32[np.minimum(p, len(i32) - 1)] == w
            lens.append(None)
            voffs.append(skip + 4)          # relative to p, resolved below
            skip += 4 + w
            continue
        q = p + skip if skip else p
        ln = i32[np.minimum(q, len(i32) - 1)].astype(np.int64)   # fancy indexing: 5x faster than take
        ok &= q + 4 <= stop
        if w:
            ok &= (ln == w) | (ln == -1)
        else:
            ok &= (ln >= -1) if nulls else (ln >= 0)
        for k in range(len(voffs)):
            if isinstance(voffs[k], int):
                voffs[k] = p + voffs[k]
        lens.append(ln)
        voffs.append(q + 4)
        p = q + 4 + np.maximum(ln, 0)
        skip = 0
    for k in range(len(voffs)):
        if isinstance(voffs[k], int):
            voffs[k] = p + voffs[k]
    p = p + skip
    ok &= p <= stop
    return ok, lens, voffs, p


_PRUNE_WINDOW = 8


def _prune(cand: np.ndarray, nxt: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """Keep only candidates that are the first tuple or a kept candidate's successor, until
    nothing changes: what remains is the chain (successors only move forward, so every
    survivor is reached from the first tuple). A candidate is almost always its neighbour's
    successor; the few that are not look for their predecessor among the _PRUNE_WINDOW
    candidates before them, or (exact) among all ends. Fakes nested in fakes each cost a
    round; after 8 the caller follows the chain one tuple at a time."""
    for _round in range(8):
        reached = np.empty(len(cand), dtype=bool)
        reached[0] = True
        np.equal(nxt[:-1], cand[1:], out=reached[1:])
        odd = np.flatnonzero(~reached)
        if not len(odd):
            break
        back = np.maximum(odd[:, None] - np.arange(2, _PRUNE_WINDOW + 2)[None, :], 0)
        near = (nxt[back] == cand[odd][:, None]).any(axis=1)
        reached[odd[near]] = True
        far = odd[~near]
        if exact and len(far):
            ends = np.sort(nxt)
            k = np.minimum(np.searchsorted(ends, cand[far]), len(ends) - 1)
            reached[far[ends[k] == cand[far]]] = True
        if reached.all():
            break
        cand, nxt = cand[reached], nxt[reached]
    return cand, nxt


def _starts(u8: np.ndarray, i32: np.ndarray, pos: int, ncols: int, widths, nulls: bool) -> np.ndarray | None:
    """The offsets of every tuple, or None when the body is not a clean chain of tuples."""
    end = len(u8)
    hdr = ncols.to_bytes(2, "big", signed=True)
    lo = np.flatnonzero(u8[pos + 1:] == hdr[1]) + pos        # candidate p has u8[p + 1] == low byte
    cand = lo[u8[lo] == hdr[0]].astype(np.int64)
    if not len(cand) or cand[0] != pos:
        return None
    ok, _lens, _voffs, nxt = _walk(i32, cand, end, widths, nulls)
    cand, nxt = cand[ok], nxt[ok]
    if not len(cand) or cand[0] != pos:
        return None
    finish = {end, end - 2} if bytes(u8[-2:]) == TRAILER else {end}
    if np.array_equal(nxt[:-1], cand[1:]) and int(nxt[-1]) in finish:
        return cand
    # Extra candidates: bytes inside values that mimic a tuple (measured: ~1 in 40,000 rows of
    # float bars). Prune to the candidates reached from the first tuple (see _prune): first
    # looking for each one's predecessor only just before it (cheap, may drop real tuples
    # behind long runs of fakes — the chain check then fails), then among all ends.
    for exact in (False, True):
        c2, n2 = _prune(cand, nxt, exact)
        if np.array_equal(n2[:-1], c2[1:]) and int(n2[-1]) in finish:
            return c2
    cand, nxt = c2, n2
    j = np.searchsorted(cand, nxt)
    hit = j < len(cand)
    hit[hit] = cand[j[hit]] == nxt[hit]
    succ = np.where(hit, j, -1).tolist()
    last = nxt.tolist()
    chain = []
    i = 0
    while True:
        chain.append(i)
        if last[i] in finish:
            break
        i = succ[i]
        if i < 0:
            return None
    return cand[np.array(chain, dtype=np.int64)]


def _general(u8: np.ndarray, pos: int, fields) -> pa.Table | None:
    widths: list[int | None] = [FIXED_BIN[f.type_oid][1] if f.type_oid in FIXED_BIN else None for f in fields]
    if len(u8) - pos < 2:
        return None
    i32 = _overlapping(u8, ">i4")
    if len(u8) - pos == 2 and bytes(u8[-2:]) == TRAILER:
        return empty_table(fields)
    # First assume no NULLs (fewer gathers), then confirm every fixed field's length on the
    # chain found; a NULL anywhere redoes the scan reading every length.
    starts = _starts(u8, i32, pos, len(fields), widths, nulls=False)
    walked = None
    if starts is not None:
        walked = _walk(i32, starts, len(u8), widths, nulls=False)
        for w, voff in zip(widths, walked[2], strict=True):
            if w and not bool((i32[voff - 4] == w).all()):
                walked = None
                break
    if walked is None:
        starts = _starts(u8, i32, pos, len(fields), widths, nulls=True)
        if starts is None:
            return None
        walked = _walk(i32, starts, len(u8), widths, nulls=True)
    _ok, lens, voffs, nxt = walked
    n = len(nxt)
    out = {}
    for i, f in enumerate(fields):
        ln = lens[i]
        valid = np.ones(n, bool) if ln is None else ln >= 0
        mask = None if valid.all() else valid
        if widths[i]:
            fmt = FIXED_BIN[f.type_oid][0]
            view = _overlapping(u8, fmt)
            idx = voffs[i] if mask is None else np.where(valid, voffs[i], 0)
            out[f.name] = to_arrow(view[idx], f.type_oid, mask, f.name)
        else:
            assert ln is not None
            out[f.name] = _varlen(u8, np.asarray(voffs[i]), ln, mask, f)
    return pa.table(out)


def _varlen(u8: np.ndarray, voff: np.ndarray, ln: np.ndarray, mask: np.ndarray | None, f) -> pa.Array:
    """Text/bytea values: one gather of every value's bytes into an Arrow data buffer."""
    size = np.maximum(ln, 0)
    total = int(size.sum())
    if total:
        idx = np.repeat(voff - (np.cumsum(size) - size), size)
        idx += np.arange(total, dtype=np.int64)
        data = u8[idx]
    else:
        data = np.zeros(0, np.uint8)
    return _var_array(data, size, mask, f)


def _var_array(data: np.ndarray, size: np.ndarray | None, mask: np.ndarray | None, f, *,
               offsets: np.ndarray | None = None) -> pa.Array:
    """Values' bytes and their sizes (or `offsets`: int32, or int64 past 2 GiB) → an Arrow
    string/binary array, its UTF-8 checked."""
    if offsets is None:
        assert size is not None
        offsets = np.zeros(len(size) + 1, dtype=np.int64)
        np.cumsum(size, out=offsets[1:])
        if int(offsets[-1]) < 2**31:
            offsets = offsets.astype(np.int32)
    n = len(offsets) - 1
    large = offsets.dtype == np.int64
    typ: pa.DataType
    if f.type_oid == _BYTEA:
        typ = pa.large_binary() if large else pa.binary()
    else:
        typ = pa.large_string() if large else pa.string()
    bitmap = None
    nulls = 0
    if mask is not None:
        bitmap = pa.py_buffer(np.packbits(mask, bitorder="little"))
        nulls = int(n - mask.sum())
    arr = pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=nulls)
    if f.type_oid != _BYTEA:
        try:
            arr.validate(full=True)   # UTF-8 check, in C++
        except pa.ArrowInvalid:
            raise CharacterNotInRepertoire(f'invalid byte sequence for encoding "UTF8" (column {f.name})') \
                from None
    return arr


# ---------------------------------------------------------------- values → Arrow
def to_arrow(vals: np.ndarray, oid: int, valid: np.ndarray | None, name: str = "?", *,
             owned: bool = False) -> pa.Array:
    """Binary values of a fixed-width type (big-endian, or native when `owned`: a fresh array
    this module made, converted in place) → the Arrow array the planner expects."""
    mask = None if valid is None else ~valid
    if oid in (1184, 1114):
        us = vals.astype(np.int64, copy=not owned)
        if len(us):
            live = us if valid is None else us[valid]
            if len(live) and (live.min() < -_TS_LIMIT or live.max() > _TS_LIMIT):
                raise DatetimeFieldOverflow(f'timestamp out of range (column {name})')
        us += PG_EPOCH_US
        return pa.array(us, pa.int64(), mask=mask).cast(arrow_type(oid))
    if oid == 1082:
        days = vals.astype(np.int64) + PG_EPOCH_DAYS
        if len(days) and (days.min() < -(2**31) or days.max() >= 2**31):
            raise DatetimeFieldOverflow(f'date out of range (column {name})')
        return pa.array(days.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())
    native = vals.astype(vals.dtype.newbyteorder("="), copy=not owned)
    arr = pa.array(native, mask=mask)
    target = arrow_type(oid)
    return arr if arr.type == target else arr.cast(target)


# ---------------------------------------------------------------- 3. the reference walk
def parse_binary_slow(data, pos: int, fields) -> pa.Table:
    """Field by field with struct: any type, NULLs, and PostgreSQL's errors for bad input."""
    end = len(data)
    ncols = len(fields)
    cols: list[list] = [[] for _ in fields]
    oids = [f.type_oid for f in fields]
    unpack_h, unpack_i = struct.Struct("!h").unpack_from, struct.Struct("!i").unpack_from
    try:
        while pos < end:
            (n,) = unpack_h(data, pos)
            pos += 2
            if n == -1:
                break
            if n != ncols:
                raise BadCopyFileFormat(f"row field count is {n}, expected {ncols}")
            for i in range(ncols):
                (ln,) = unpack_i(data, pos)
                pos += 4
                if ln == -1:
                    cols[i].append(None)
                    continue
                if ln < 0 or pos + ln > end:
                    raise BadCopyFileFormat("invalid field size in COPY binary data")
                cols[i].append(bytes(data[pos:pos + ln]))
                pos += ln
    except struct.error:
        raise BadCopyFileFormat("unexpected end of COPY binary data") from None
    out = {}
    for i, f in enumerate(fields):
        raw = cols[i]
        if oids[i] in FIXED_BIN:
            fmt, w = FIXED_BIN[oids[i]]
            valid = np.array([v is not None for v in raw], dtype=bool)
            if any(v is not None and len(v) != w for v in raw):
                raise BadCopyFileFormat(f"invalid field size for column {f.name}")
            buf = b"".join(v if v is not None else b"\x00" * w for v in raw)
            vals = np.frombuffer(buf, dtype=fmt) if raw else np.zeros(0, fmt)
            out[f.name] = to_arrow(vals, oids[i], None if valid.all() else valid, f.name)
        elif oids[i] in _TEXTUAL:
            try:
                out[f.name] = pa.array([None if v is None else v.decode("utf-8") for v in raw], pa.string())
            except UnicodeDecodeError:
                raise CharacterNotInRepertoire(f'invalid byte sequence for encoding "UTF8" (column {f.name})') \
                    from None
        else:
            pyvals = [None if v is None else decode_binary(oids[i], v) for v in raw]
            out[f.name] = pa.array(pyvals, arrow_type(oids[i]))
    return pa.table(out)
