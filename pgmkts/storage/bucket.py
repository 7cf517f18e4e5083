"""Year files of one bucket: fixed-length (slot-addressed, columnar) and variable-length (sorted rows).

Fixed year file: a 4 KiB header, then a presence byte per slot (0 = empty), then one region per
column holding `nslots` values (columnar, so a range read of a column is one pread and a
projection touches only its columns). Slot of epoch t = (t - year_start) // tf; the epoch is
implied by the slot, so Epoch 0 (1970-01-01 00:00:00) is a storable value, unlike MarketStore.

Variable year file: a 4 KiB header (row count, applied LSN) then packed rows
(Epoch i8, Nanoseconds i4, columns...) sorted by (Epoch, Nanoseconds), stable for equal times.
The applied LSN makes WAL replay idempotent: a frame <= it is skipped for that file.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from pgmkts import errors
from pgmkts.storage.catalog import TYPE_CODES, BucketInfo, write_meta

HDR = 4096
PAGE = 4096
NS = 1_000_000_000

# Years whose every second * 1e9 fits an int64 (the read API speaks int nanoseconds).
YEAR_MIN = 1678
YEAR_MAX = 2261
YEAR_STARTS = (np.arange(YEAR_MIN - 1970, YEAR_MAX + 2 - 1970).astype("datetime64[Y]")
               .astype("datetime64[s]").astype(np.int64))
EPOCH_MIN = int(YEAR_STARTS[0])
EPOCH_MAX = int(YEAR_STARTS[-1]) - 1

_FIX_HDR = struct.Struct("<8sIIqqqqq")  # magic, version, pad, year, tf, nslots, lo, hi
_FIX_MAGIC = b"PGMKFIX1"
_FIX_LOHI_OFF = 40
_VAR_HDR = struct.Struct("<8sIIqq")  # magic, version, recsize, nrows, lsn
_VAR_MAGIC = b"PGMKVAR1"
_VAR_STATE_OFF = 16
_UNDO_HEAD = struct.Struct("<8sI")
_UNDO_MAGIC = b"PGMKUND1"


def year_start(y: int) -> int:
    return int(YEAR_STARTS[y - YEAR_MIN])


def year_of(t: int) -> int:
    return YEAR_MIN + int(np.searchsorted(YEAR_STARTS, t, side="right")) - 1


def year_index(e: np.ndarray) -> np.ndarray:
    return np.searchsorted(YEAR_STARTS, e, side="right") - 1


def _align(n: int) -> int:
    return (n + PAGE - 1) // PAGE * PAGE


def _u8(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1 and a.flags.c_contiguous:
        return a.view(np.uint8)
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def pread_into(fd: int, arr: np.ndarray, off: int) -> None:
    buf = _u8(arr)
    mv = memoryview(buf)  # type: ignore[arg-type]
    done = 0
    n = len(mv)
    while done < n:
        got = os.preadv(fd, [mv[done:]], off + done)
        if got <= 0:
            mv[done:] = b"\x00" * (n - done)  # past EOF reads as empty
            return
        done += got


def pwrite_all(fd: int, arr: np.ndarray | bytes, off: int) -> None:
    mv = memoryview(_u8(arr) if isinstance(arr, np.ndarray) else arr)  # type: ignore[arg-type]
    done = 0
    while done < len(mv):
        done += os.pwrite(fd, mv[done:], off + done)


class DirtySet:
    """Paths written since the last checkpoint. Appliers add while a checkpoint takes the set,
    so both go through a lock: a path added after `take()` lands in the next checkpoint's set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set = set()

    def add(self, path: object) -> None:
        with self._lock:
            self._paths.add(path)

    def update(self, paths: Sequence) -> None:
        with self._lock:
            self._paths.update(paths)

    def take(self) -> set:
        with self._lock:
            paths, self._paths = self._paths, set()
        return paths


class RWLock:
    """Many readers or one writer; writers are preferred so a stream of readers cannot starve them."""

    __slots__ = ("_c", "_readers", "_writer", "_waiting_writers")
    _init = threading.Lock()

    def __init__(self) -> None:
        self._c: threading.Condition | None = None  # created on first use: start-up makes 10,000s
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @property
    def _cv(self) -> threading.Condition:
        c = self._c
        if c is None:
            with RWLock._init:
                if self._c is None:
                    self._c = threading.Condition(threading.Lock())
                c = self._c
        return c

    def acquire_read(self) -> None:
        with self._cv:
            while self._writer or self._waiting_writers:
                self._cv.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cv:
            self._readers -= 1
            if not self._readers:
                self._cv.notify_all()

    def acquire_write(self) -> None:
        with self._cv:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cv.wait()
            self._waiting_writers -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cv:
            self._writer = False
            self._cv.notify_all()


class Bucket:
    """State shared by both bucket kinds: directory, schema, lock, year list."""

    def __init__(self, root: str, path: str, info: BucketInfo, undo_dir: str) -> None:
        self.root = root
        self.dir = path
        self.info = info
        self.undo_dir = undo_dir
        self.tf = info.tf_seconds
        self.cols: list[tuple[str, np.dtype]] = _np_cols(info.data_columns)
        self.lock = RWLock()
        self.dropped = False
        self._years: list[int] | None = None
        self._last_epoch: int | None = None
        self._last_known = False

    # -- files ------------------------------------------------------------------------------
    def create_on_disk(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        write_meta(self.dir, self.info)
        self._years = []

    def destroy_on_disk(self) -> None:
        self.dropped = True
        shutil.rmtree(self.dir, ignore_errors=True)
        # remove now-empty TIMEFRAME and SYMBOL directories
        parent = os.path.dirname(self.dir)
        for _ in range(2):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def years(self) -> list[int]:
        if self._years is None:
            ys = []
            try:
                with os.scandir(self.dir) as it:
                    for e in it:
                        n = e.name
                        if n.endswith(".bin") and len(n) == 8 and n[:4].isdigit():
                            ys.append(int(n[:4]))
            except FileNotFoundError:
                pass
            self._years = sorted(ys)
        return self._years

    def year_path(self, y: int) -> str:
        return os.path.join(self.dir, f"{y:04d}.bin")

    def _add_year(self, y: int) -> None:
        ys = self.years()
        if y not in ys:
            # a new list, swapped in whole: readers may be iterating the old one (append path
            # writes without the bucket lock, and list.sort() empties a list while it sorts)
            self._years = sorted([*ys, y])

    def _years_in(self, s: int, e: int) -> list[int]:
        y0, y1 = year_of(s), year_of(e)
        return [y for y in self.years() if y0 <= y <= y1]

    def note_written(self, max_epoch: int) -> None:
        if self._last_known and (self._last_epoch is None or max_epoch > self._last_epoch):
            self._last_epoch = max_epoch

    def last_epoch(self) -> int | None:
        if not self._last_known:
            self._last_epoch = self._compute_last_epoch()
            self._last_known = True
        return self._last_epoch

    def _compute_last_epoch(self) -> int | None:
        r = self.read(None, None, columns=[], limit=1, from_end=True)
        return int(r["Epoch"][0]) if len(r["Epoch"]) else None

    # interface implemented by subclasses
    def appendable(self, arrays: dict[str, np.ndarray]) -> bool:
        """True when the batch lands wholly after the published data (no overwrite, no merge):
        it can then be written before its WAL frame is durable and published afterwards."""
        raise NotImplementedError

    def apply_write(self, arrays: dict[str, np.ndarray], lsn: int, dirty: DirtySet,
                    publish: bool = True) -> Callable[[], None] | None:
        """Write the batch. With publish=False (appendable batches only) the rows stay invisible
        and the returned callable publishes them (under the bucket's write lock)."""
        raise NotImplementedError

    def apply_delete(self, start_ns: int | None, end_ns: int | None, lsn: int, dirty: DirtySet) -> int:
        raise NotImplementedError

    def read(self, start_ns: int | None, end_ns: int | None, *, columns: Sequence[str] | None = None,
             limit: int | None = None, from_end: bool = False) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _projection(self, columns: Sequence[str] | None) -> list[tuple[str, np.dtype]]:
        if columns is None:
            return self.cols
        known = dict(self.cols)
        out: list[tuple[str, np.dtype]] = []
        for c in columns:
            if c in ("Epoch", "Nanoseconds") and (c == "Epoch" or self.info.variable_length):
                continue
            if c not in known:
                raise errors.UndefinedColumn(f'column "{c}" does not exist in bucket {self.info.tbk}')
            if c not in [o[0] for o in out]:
                out.append((c, known[c]))
        return out


_NP_COLS: dict[tuple, list[tuple[str, np.dtype]]] = {}


def _np_cols(columns: tuple[tuple[str, str], ...]) -> list[tuple[str, np.dtype]]:
    """Data columns (without Epoch/Nanoseconds) as numpy dtypes; shared between buckets."""
    cols = _NP_COLS.get(columns)
    if cols is None:
        cols = [(n, TYPE_CODES[c]) for n, c in columns]
        if len(_NP_COLS) < 10_000:
            _NP_COLS[columns] = cols
    return cols


def _sec_bounds(start_ns: int | None, end_ns: int | None) -> tuple[int, int]:
    """Inclusive nanosecond bounds -> inclusive whole-second bounds (clamped to the storable range)."""
    s = EPOCH_MIN if start_ns is None else max(EPOCH_MIN, -(-int(start_ns) // NS))
    e = EPOCH_MAX if end_ns is None else min(EPOCH_MAX, int(end_ns) // NS)
    return s, e


# ================================================================================================
# Fixed-length buckets
# ================================================================================================
class _FixedLayout:
    __slots__ = ("year", "ystart", "nslots", "pres_off", "col_off", "size")

    def __init__(self, year: int, tf: int, cols: list[tuple[str, np.dtype]]) -> None:
        self.year = year
        self.ystart = year_start(year)
        nsec = year_start(year + 1) - self.ystart
        self.nslots = -(-nsec // tf)
        off = HDR
        self.pres_off = off
        off += _align(self.nslots)
        self.col_off: dict[str, int] = {}
        for name, dt in cols:
            self.col_off[name] = off
            off += _align(self.nslots * dt.itemsize)
        self.size = off


class FixedBucket(Bucket):
    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self._layouts: dict[int, _FixedLayout] = {}
        self._lohi: dict[int, list[int]] = {}  # year -> [lo slot, hi slot) ever written

    def layout(self, y: int) -> _FixedLayout:
        lay = self._layouts.get(y)
        if lay is None:
            lay = self._layouts[y] = _FixedLayout(y, self.tf, self.cols)
        return lay

    def _open(self, y: int, create: bool) -> int:
        path = self.year_path(y)
        if not create:
            return os.open(path, os.O_RDONLY)
        try:
            return os.open(path, os.O_RDWR)
        except FileNotFoundError:
            pass
        lay = self.layout(y)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(fd, lay.size)  # sparse: unwritten slots are holes and read as empty
        os.pwrite(fd, _FIX_HDR.pack(_FIX_MAGIC, 1, 0, y, self.tf, lay.nslots, lay.nslots, 0), 0)
        os.rename(tmp, path)
        self._lohi[y] = [lay.nslots, 0]
        self._add_year(y)
        return fd

    def lohi(self, y: int, fd: int | None = None) -> list[int]:
        st = self._lohi.get(y)
        if st is None:
            own = fd is None
            if own:
                try:
                    fd = os.open(self.year_path(y), os.O_RDONLY)
                except FileNotFoundError:
                    return [0, 0]
            assert fd is not None
            try:
                raw = os.pread(fd, _FIX_HDR.size, 0)
            finally:
                if own:
                    os.close(fd)
            magic, _v, _p, _y, tf, nslots, lo, hi = _FIX_HDR.unpack(raw)
            if magic != _FIX_MAGIC or tf != self.tf:
                raise errors.InternalError(f"{self.year_path(y)}: not a pgmkts fixed-length file")
            st = self._lohi[y] = [lo, hi]
        return st

    def _seg_slots(self, e: np.ndarray, i: int, j: int, y: int) -> tuple[_FixedLayout, int, int]:
        lay = self.layout(y)
        return lay, (int(e[i]) - lay.ystart) // self.tf, (int(e[j - 1]) - lay.ystart) // self.tf + 1

    def appendable(self, arrays: dict[str, np.ndarray]) -> bool:
        e = arrays["Epoch"]
        if not len(e):
            return True
        for i, j, y in _year_segments(e):
            if y in self.years():
                _, s0, _ = self._seg_slots(e, i, j, y)
                if s0 < self.lohi(y)[1]:
                    return False
        return True

    def apply_write(self, arrays: dict[str, np.ndarray], lsn: int, dirty: DirtySet,
                    publish: bool = True) -> Callable[[], None] | None:
        e = arrays["Epoch"]  # floored, sorted, unique (see engine._prepare)
        if not len(e):
            return None
        pubs: list[tuple[int, int, int]] = []
        for i, j, y in _year_segments(e):
            lay, s0, s1 = self._seg_slots(e, i, j, y)
            # sorted + unique + same year: the slots are contiguous iff the span equals the count
            slots = None if s1 - s0 == j - i else (e[i:j] - lay.ystart) // self.tf
            fd = self._open(y, create=True)
            try:
                self._clear_unpublished(fd, lay, self.lohi(y, fd), s0, s1)
                self._write_slots(fd, lay, s0, s1, slots, {c: arrays[c][i:j] for c, _ in self.cols})
            finally:
                os.close(fd)
            dirty.add(self.year_path(y))
            pubs.append((y, s0, s1))
        last = int(e[-1])

        def do_publish() -> None:
            for y, s0, s1 in pubs:
                st = self.lohi(y)
                if s0 < st[0] or s1 > st[1]:
                    st[0], st[1] = min(st[0], s0), max(st[1], s1)
                    fd = os.open(self.year_path(y), os.O_WRONLY)
                    try:
                        os.pwrite(fd, struct.pack("<qq", st[0], st[1]), _FIX_LOHI_OFF)
                    finally:
                        os.close(fd)
            self.note_written(last)

        if publish:
            do_publish()
            return None
        return do_publish

    def _clear_unpublished(self, fd: int, lay: _FixedLayout, st: list[int], s0: int, s1: int) -> None:
        """Slots outside the published [lo, hi) may hold leftovers of a write that was never
        published (its WAL frame was lost with the machine): empty them before writing around them."""
        lo, hi = st
        # everything that publishing [s0, s1) brings into [lo, hi) but the batch does not write
        ranges = [(s0, s1)] if hi <= lo else []
        if hi > lo:
            if s0 < lo:
                ranges.append((s0, lo))
            if s1 > hi:
                ranges.append((hi, s1))
        for a, b in ranges:
            for x, z in _extents(fd, lay.pres_off + a, lay.pres_off + b):
                pwrite_all(fd, np.zeros(z - x, np.uint8), x)

    def _write_slots(self, fd: int, lay: _FixedLayout, s0: int, s1: int, slots: np.ndarray | None,
                     cols: dict[str, np.ndarray]) -> None:
        span = s1 - s0
        if slots is None:  # dense run: one pwrite per column straight from the caller's arrays
            pwrite_all(fd, _ones(span), lay.pres_off + s0)
            for name, dt in self.cols:
                pwrite_all(fd, cols[name], lay.col_off[name] + s0 * dt.itemsize)
            return
        n = len(slots)
        if span <= 4 * n + 4096:  # nearly dense: read-modify-write the span
            rel = slots - s0
            pres = np.empty(span, np.uint8)
            pread_into(fd, pres, lay.pres_off + s0)
            pres[rel] = 1
            pwrite_all(fd, pres, lay.pres_off + s0)
            for name, dt in self.cols:
                buf = np.empty(span, dt)
                pread_into(fd, buf, lay.col_off[name] + s0 * dt.itemsize)
                buf[rel] = cols[name]
                pwrite_all(fd, buf, lay.col_off[name] + s0 * dt.itemsize)
            return
        # scattered: assign through a shared mapping, touching only the pages concerned
        mm = mmap.mmap(fd, lay.size)
        try:
            p = np.frombuffer(mm, np.uint8, count=lay.nslots, offset=lay.pres_off)
            p[slots] = 1
            del p
            for name, dt in self.cols:
                a = np.frombuffer(mm, dt, count=lay.nslots, offset=lay.col_off[name])
                a[slots] = cols[name]
                del a
        finally:
            mm.close()

    def apply_delete(self, start_ns: int | None, end_ns: int | None, lsn: int, dirty: DirtySet) -> int:
        s, e = _sec_bounds(start_ns, end_ns)
        removed = 0
        for y in self._years_in(s, e):
            lay = self.layout(y)
            a, b = self._slot_range(lay, s, e)
            st = self.lohi(y)
            a, b = max(a, st[0]), min(b, st[1])
            if a >= b:
                continue
            fd = self._open(y, create=True)
            try:
                pres = np.empty(b - a, np.uint8)
                pread_into(fd, pres, lay.pres_off + a)
                k = int(np.count_nonzero(pres))
                if k:
                    pwrite_all(fd, np.zeros(b - a, np.uint8), lay.pres_off + a)
                    removed += k
            finally:
                os.close(fd)
            dirty.add(self.year_path(y))
        if removed:
            self._last_known = False
        return removed

    def _slot_range(self, lay: _FixedLayout, s: int, e: int) -> tuple[int, int]:
        a = max(0, -(-(s - lay.ystart) // self.tf))
        b = min(lay.nslots, (e - lay.ystart) // self.tf + 1)
        return a, b

    def _present(self, fd: int, lay: _FixedLayout, a: int, b: int, need: int | None,
                 from_end: bool) -> tuple[int, int, np.ndarray | None]:
        """Occupied slots in [a, b), at most `need` from the chosen end.

        Returns (first, last + 1, slots) with slots None when every slot in between is occupied
        (the common case, read without an index), or (0, 0, None) when there are none.
        Holes of the sparse file are skipped with SEEK_DATA/SEEK_HOLE, never read.
        """
        found: list[np.ndarray] = []
        got = 0
        if need is not None and b - a > _SMALL_RANGE:
            # first-N/last-N: one chunk at that end usually suffices (the common "latest bars")
            c = max(4096, 4 * need)
            lo, hi = (b - c, b) if from_end else (a, a + c)
            nz = self._scan(fd, lay, lo, hi, need, from_end)
            if len(nz) >= need:
                return int(nz[0]), int(nz[-1]) + 1, (None if int(nz[-1]) + 1 - int(nz[0]) == len(nz) else nz)
        # small ranges: reading is cheaper than asking for extents (SEEK_DATA walks the mapping)
        ext = [(lay.pres_off + a, lay.pres_off + b)] if b - a <= _SMALL_RANGE else \
            _extents(fd, lay.pres_off + a, lay.pres_off + b)
        for lo, hi in (reversed(ext) if from_end else ext):
            lo -= lay.pres_off
            hi -= lay.pres_off
            if need is None:
                pres = np.empty(hi - lo, np.uint8)
                pread_into(fd, pres, lay.pres_off + lo)
                if len(ext) == 1 and lo == a and hi == b and int(np.count_nonzero(pres)) == b - a:
                    return a, b, None
                nz = np.flatnonzero(pres)
                nz += lo
                found.append(nz)
                continue
            nz = self._scan(fd, lay, lo, hi, need - got, from_end)
            found.append(nz)
            got += len(nz)
            if got >= need:
                break
        if from_end:
            found.reverse()
        nz = np.concatenate(found) if len(found) > 1 else (found[0] if found else np.empty(0, np.int64))
        if not len(nz):
            return 0, 0, None
        s0, s1 = int(nz[0]), int(nz[-1]) + 1
        return s0, s1, (None if s1 - s0 == len(nz) else nz)

    def _scan(self, fd: int, lay: _FixedLayout, a: int, b: int, need: int, from_end: bool) -> np.ndarray:
        """Walk the presence bytes from one end in growing chunks until `need` slots are found."""
        chunk = max(1024, 2 * need)
        found: list[np.ndarray] = []
        got = 0
        pos = b if from_end else a
        while got < need and (pos > a if from_end else pos < b):
            lo, hi = (max(a, pos - chunk), pos) if from_end else (pos, min(b, pos + chunk))
            pres = np.empty(hi - lo, np.uint8)
            pread_into(fd, pres, lay.pres_off + lo)
            nz = np.flatnonzero(pres)
            nz += lo
            found.append(nz)
            got += len(nz)
            pos = lo if from_end else hi
            chunk = min(chunk * 4, 1 << 24)
        if from_end:
            found.reverse()
        nz = np.concatenate(found) if len(found) > 1 else (found[0] if found else np.empty(0, np.int64))
        if len(nz) > need:
            nz = nz[len(nz) - need:] if from_end else nz[:need]
        return nz

    def read(self, start_ns: int | None, end_ns: int | None, *, columns: Sequence[str] | None = None,
             limit: int | None = None, from_end: bool = False) -> dict[str, np.ndarray]:
        proj = self._projection(columns)
        s, e = _sec_bounds(start_ns, end_ns)
        need = None if limit is None else max(0, int(limit))
        plan: list[tuple[_FixedLayout, int, int, int, np.ndarray | None]] = []
        fds: list[int] = []
        try:
            years = self._years_in(s, e) if s <= e else []
            for y in (reversed(years) if from_end else years):
                if need is not None and need <= 0:
                    break
                lay = self.layout(y)
                a, b = self._slot_range(lay, s, e)
                try:
                    fd = os.open(self.year_path(y), os.O_RDONLY)
                except FileNotFoundError:
                    continue
                fds.append(fd)
                st = self.lohi(y, fd)
                a, b = max(a, st[0]), min(b, st[1])
                if a >= b:
                    continue
                s0, s1, slots = self._present(fd, lay, a, b, need, from_end)
                if s1 <= s0:
                    continue
                plan.append((lay, fd, s0, s1, slots))
                if need is not None:
                    need -= s1 - s0 if slots is None else len(slots)
            if from_end:
                plan.reverse()
            counts = [s1 - s0 if slots is None else len(slots) for _, _, s0, s1, slots in plan]
            res = _alloc_columns(sum(counts), [("Epoch", np.dtype(np.int64)), *proj])
            r = 0
            tmp: np.ndarray | None = None
            for (lay, fd, s0, s1, slots), k in zip(plan, counts, strict=True):
                ep = res["Epoch"][r:r + k]
                if slots is None:
                    _fill_arith(ep, lay.ystart + s0 * self.tf, self.tf)
                else:
                    np.multiply(slots, self.tf, out=ep)
                    ep += lay.ystart
                    rel = slots - s0
                for name, dt in proj:
                    off = lay.col_off[name] + s0 * dt.itemsize
                    if slots is None:  # straight from the file into the result
                        pread_into(fd, res[name][r:r + k], off)
                    else:
                        nbytes = (s1 - s0) * dt.itemsize
                        if tmp is None or tmp.nbytes < nbytes:
                            tmp = np.empty(nbytes, np.uint8)
                        span = tmp[:nbytes].view(dt)
                        pread_into(fd, span, off)
                        np.take(span, rel, out=res[name][r:r + k])
                r += k
        finally:
            for fd in fds:
                os.close(fd)
        return res


def _extents(fd: int, start: int, end: int) -> list[tuple[int, int]]:
    """Byte ranges of [start, end) that are not holes (whole range when SEEK_DATA is unknown)."""
    out: list[tuple[int, int]] = []
    pos = start
    try:
        while pos < end:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after pos
                    break
                raise
            if pos >= end:
                break
            hole = min(os.lseek(fd, pos, os.SEEK_HOLE), end)
            out.append((pos, hole))
            pos = hole
    except (OSError, AttributeError):
        return [(start, end)]
    return out


_SMALL_RANGE = 1 << 17  # slots: presence bytes read outright rather than via SEEK_DATA
_ARANGE = np.arange(1 << 16, dtype=np.int64)
_ONES = np.ones(1 << 16, np.uint8)


def _ones(n: int) -> np.ndarray:
    return _ONES[:n] if n <= len(_ONES) else np.ones(n, np.uint8)


def _fill_arith(out: np.ndarray, start: int, step: int) -> None:
    """out[i] = start + i*step without a temporary the size of `out`."""
    c = len(_ARANGE)
    for i in range(0, len(out), c):
        part = out[i:i + c]
        np.multiply(_ARANGE[:len(part)], step, out=part)
        part += start + i * step


def _alloc_columns(n: int, cols: list[tuple[str, np.dtype]]) -> dict[str, np.ndarray]:
    """All result columns carved from one allocation: one large block faults in far faster
    (transparent huge pages) than many medium ones, and reads are dominated by page faults."""
    offs = []
    total = 0
    for _, dt in cols:
        offs.append(total)
        total += (n * dt.itemsize + 63) // 64 * 64
    block = np.empty(max(total, 1), np.uint8)
    return {name: block[o:o + n * dt.itemsize].view(dt) for (name, dt), o in zip(cols, offs, strict=True)}


def _year_segments(e: np.ndarray) -> list[tuple[int, int, int]]:
    """[(i, j, year)] runs of a sorted epoch array that fall in one UTC year."""
    y0, y1 = year_of(int(e[0])), year_of(int(e[-1]))
    if y0 == y1:
        return [(0, len(e), y0)]
    cuts = np.searchsorted(e, YEAR_STARTS[y0 + 1 - YEAR_MIN: y1 + 1 - YEAR_MIN], side="left").tolist()
    bounds = [0, *cuts, len(e)]
    return [(bounds[k], bounds[k + 1], y0 + k) for k in range(len(bounds) - 1) if bounds[k + 1] > bounds[k]]


def _cat(parts: list[np.ndarray], dt: np.dtype) -> np.ndarray:
    if not parts:
        return np.empty(0, dt)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts)


# ================================================================================================
# Variable-length buckets
# ================================================================================================
class VariableBucket(Bucket):
    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.rec = np.dtype([("Epoch", "<i8"), ("Nanoseconds", "<i4"), *[(n, dt) for n, dt in self.cols]])
        # year -> [nrows, applied lsn]: the truth for readers and writers. Appends update it in
        # memory only; the on-disk header follows at the next checkpoint or merge (`_stale`),
        # after an fdatasync of the rows, so a durable header never counts rows that are not.
        self._state: dict[int, list[int]] = {}
        self._stale: set[int] = set()
        self._hdr_lock = threading.Lock()  # header state vs. the checkpoint thread's flush
        self.sync_data = False  # wal_sync=commit: merges fsync undo and rows (see _data_sync)
        self.on_stale: Callable[[VariableBucket], None] | None = None  # engine: flush me later

    def state(self, y: int, fd: int | None = None) -> list[int]:
        st = self._state.get(y)
        if st is None:
            own = fd is None
            if own:
                try:
                    fd = os.open(self.year_path(y), os.O_RDONLY)
                except FileNotFoundError:
                    return [0, 0]
            assert fd is not None
            try:
                raw = os.pread(fd, _VAR_HDR.size, 0)
            finally:
                if own:
                    os.close(fd)
            magic, _v, recsize, nrows, lsn = _VAR_HDR.unpack(raw)
            if magic != _VAR_MAGIC or recsize != self.rec.itemsize:
                raise errors.InternalError(f"{self.year_path(y)}: not a pgmkts variable-length file")
            st = self._state[y] = [nrows, lsn]
        return st

    def _open_rw(self, y: int) -> int:
        path = self.year_path(y)
        try:
            return os.open(path, os.O_RDWR)
        except FileNotFoundError:
            pass
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(fd, _VAR_HDR.pack(_VAR_MAGIC, 1, self.rec.itemsize, 0, 0).ljust(HDR, b"\0"), 0)
        os.rename(tmp, path)
        self._state[y] = [0, 0]
        self._add_year(y)
        return fd

    def _set_state(self, fd: int, y: int, nrows: int, lsn: int) -> None:
        """Header now (rows already durable or rewritten under an undo record)."""
        os.pwrite(fd, struct.pack("<qq", nrows, lsn), _VAR_STATE_OFF)
        self._state[y] = [nrows, lsn]
        self._stale.discard(y)

    def _set_state_deferred(self, y: int, nrows: int, lsn: int) -> None:
        with self._hdr_lock:
            self._state[y] = [nrows, lsn]
            self._stale.add(y)
        if self.on_stale is not None:
            self.on_stale(self)

    def _flush_header(self, fd: int, y: int, sync: bool) -> None:
        """Write a deferred header, rows first (caller holds _hdr_lock)."""
        if y in self._stale:
            nrows, lsn = self._state[y]
            if sync:
                os.fdatasync(fd)
            os.pwrite(fd, struct.pack("<qq", nrows, lsn), _VAR_STATE_OFF)
            self._stale.discard(y)

    def flush_headers(self) -> None:
        """Checkpoint: make every deferred header match its (now fsynced) rows."""
        with self._hdr_lock:
            for y in sorted(self._stale):
                try:
                    fd = os.open(self.year_path(y), os.O_RDWR)
                except FileNotFoundError:
                    self._stale.discard(y)
                    continue
                try:
                    self._flush_header(fd, y, True)
                finally:
                    os.close(fd)

    def _map(self, fd: int, nrows: int) -> np.ndarray:
        if not nrows:
            return np.empty(0, self.rec)
        mm = mmap.mmap(fd, HDR + nrows * self.rec.itemsize, prot=mmap.PROT_READ)
        return np.frombuffer(mm, self.rec, count=nrows, offset=HDR)

    def _data_sync(self, fd: int) -> None:
        """After an in-place rewrite, rows reach the disk before the header recording the
        applied LSN (replay skips frames <= it), and before the undo record is dropped.
        Only with wal_sync=commit (interval mode may lose recent writes anyway)."""
        if self.sync_data:
            os.fdatasync(fd)

    def _last_key(self, fd: int, nrows: int) -> int:
        raw = os.pread(fd, 12, HDR + (nrows - 1) * self.rec.itemsize)
        ep, ns = struct.unpack("<qi", raw)
        return _key(ep, ns)

    def appendable(self, arrays: dict[str, np.ndarray]) -> bool:
        e = arrays["Epoch"]
        if not len(e):
            return True
        nanos = arrays["Nanoseconds"]
        for i, _j, y in _year_segments(e):
            if y not in self.years():
                continue
            nrows = self.state(y)[0]
            if not nrows:
                continue
            fd = os.open(self.year_path(y), os.O_RDONLY)
            try:
                if _key(int(e[i]), int(nanos[i])) < self._last_key(fd, nrows):
                    return False
            finally:
                os.close(fd)
        return True

    def apply_write(self, arrays: dict[str, np.ndarray], lsn: int, dirty: DirtySet,
                    publish: bool = True) -> Callable[[], None] | None:
        e = arrays["Epoch"]  # sorted by (Epoch, Nanoseconds), see engine._prepare
        if not len(e):
            return None
        pubs: list[tuple[int, int, int]] = []
        for i, j, y in _year_segments(e):
            fd = self._open_rw(y)
            try:
                nrows, applied = self.state(y, fd)
                if lsn and lsn <= applied:
                    continue  # replay of a frame already in this file: keep it exactly once
                recs = np.empty(j - i, self.rec)
                for name in self.rec.names or ():
                    recs[name] = arrays[name][i:j]
                if publish:
                    self._insert(fd, y, nrows, recs, lsn)
                else:  # appendable() said so: rows go after the published ones, header later
                    pwrite_all(fd, recs, HDR + nrows * self.rec.itemsize)
                    pubs.append((y, nrows + len(recs), lsn))
            finally:
                os.close(fd)
            dirty.add(self.year_path(y))
        last = int(e[-1])
        if publish:
            self.note_written(last)
            return None

        def do_publish() -> None:
            for y, nrows, lsn_ in pubs:
                self._set_state_deferred(y, nrows, lsn_)
            self.note_written(last)
        return do_publish

    def _insert(self, fd: int, y: int, nrows: int, recs: np.ndarray, lsn: int) -> None:
        rs = self.rec.itemsize
        first = _key(int(recs["Epoch"][0]), int(recs["Nanoseconds"][0]))
        if nrows:
            old = self._map(fd, nrows)
            last = _key(int(old["Epoch"][-1]), int(old["Nanoseconds"][-1]))
        if not nrows or first >= last:  # the common case: pure append, header deferred
            pwrite_all(fd, recs, HDR + nrows * rs)
            self._set_state_deferred(y, nrows + len(recs), lsn)
            return
        pos = _bisect(old, first, right=True)  # equal times: existing rows stay first (stable)
        tail = np.array(old[pos:])
        del old
        with self._hdr_lock:  # an in-place rewrite: header current first, then undo-protected
            self._flush_header(fd, y, self.sync_data)
            undo = self._write_undo(y, pos, nrows, tail)
            both = np.concatenate([tail, recs])
            keys = both["Epoch"] * NS + both["Nanoseconds"]
            merged = both[np.argsort(keys, kind="stable")]
            pwrite_all(fd, merged, HDR + pos * rs)
            self._data_sync(fd)
            self._set_state(fd, y, nrows + len(recs), lsn)
            os.unlink(undo)

    def apply_delete(self, start_ns: int | None, end_ns: int | None, lsn: int, dirty: DirtySet) -> int:
        s, e = _sec_bounds(start_ns, end_ns)
        lo_key = _key(EPOCH_MIN, 0) if start_ns is None else max(int(start_ns), _key(EPOCH_MIN, 0))
        hi_key = _key(EPOCH_MAX, NS - 1) if end_ns is None else min(int(end_ns), _key(EPOCH_MAX, NS - 1))
        removed = 0
        for y in self._years_in(s - 1, e + 1):
            fd = self._open_rw(y)
            try:
                nrows, applied = self.state(y, fd)
                if lsn and lsn <= applied:
                    continue
                old = self._map(fd, nrows)
                lo = _bisect(old, lo_key, right=False)
                hi = _bisect(old, hi_key, right=True)
                if hi > lo:
                    keep_tail = np.array(old[hi:])
                    saved = np.array(old[lo:])
                    del old
                    with self._hdr_lock:
                        self._flush_header(fd, y, self.sync_data)
                        undo = self._write_undo(y, lo, nrows, saved)
                        pwrite_all(fd, keep_tail, HDR + lo * self.rec.itemsize)
                        self._data_sync(fd)
                        self._set_state(fd, y, nrows - (hi - lo), lsn)
                        os.ftruncate(fd, HDR + (nrows - (hi - lo)) * self.rec.itemsize)
                        os.unlink(undo)
                    removed += hi - lo
                else:
                    del old
                    self._set_state_deferred(y, nrows, lsn)
            finally:
                os.close(fd)
            dirty.add(self.year_path(y))
        if removed:
            self._last_known = False
        return removed

    def _write_undo(self, y: int, pos: int, nrows: int, tail: np.ndarray) -> str:
        """Save rows [pos, nrows) before rewriting them in place; see `restore_undo`."""
        st = self._state[y]
        head = json.dumps({"path": os.path.relpath(self.year_path(y), self.root), "pos": pos,
                           "nrows": nrows, "lsn": st[1], "recsize": self.rec.itemsize}).encode()
        body = _u8(tail).tobytes() if len(tail) else b""
        raw = _UNDO_HEAD.pack(_UNDO_MAGIC, len(head)) + head + body
        raw += struct.pack("<I", zlib.crc32(raw))
        path = os.path.join(self.undo_dir, f"undo.{threading.get_ident()}.{id(self)}")
        with open(path, "wb") as f:
            f.write(raw)
            if self.sync_data:
                f.flush()
                os.fsync(f.fileno())
        if self.sync_data:
            fsync_dir(self.undo_dir)
        return path

    def read(self, start_ns: int | None, end_ns: int | None, *, columns: Sequence[str] | None = None,
             limit: int | None = None, from_end: bool = False) -> dict[str, np.ndarray]:
        proj = self._projection(columns)
        s, e = _sec_bounds(start_ns, end_ns)
        lo_key = _key(s, 0) if start_ns is None else max(int(start_ns), _key(EPOCH_MIN, 0))
        hi_key = _key(e, NS - 1) if end_ns is None else min(int(end_ns), _key(EPOCH_MAX, NS - 1))
        need = None if limit is None else max(0, int(limit))
        names = ["Epoch", *[n for n, _ in proj], "Nanoseconds"]
        dts: dict[str, np.dtype] = {"Epoch": np.dtype(np.int64), "Nanoseconds": np.dtype(np.int32),
                                    **dict(proj)}
        years = self._years_in(s, e) if lo_key <= hi_key else []
        plan: list[tuple[np.ndarray, int, int]] = []
        for y in (reversed(years) if from_end else years):
            if need is not None and need <= 0:
                break
            try:
                fd = os.open(self.year_path(y), os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                nrows = self.state(y, fd)[0]
                recs = self._map(fd, nrows)
            finally:
                os.close(fd)
            # a year wholly inside the range needs no search (each probe may fault a page in)
            lo = 0 if y > year_of(s) or start_ns is None else _bisect(recs, lo_key, right=False)
            hi = nrows if y < year_of(e) or end_ns is None else _bisect(recs, hi_key, right=True)
            if need is not None and hi - lo > need:
                lo, hi = (hi - need, hi) if from_end else (lo, lo + need)
            if hi <= lo:
                continue
            plan.append((recs, lo, hi))
            if need is not None:
                need -= hi - lo
        if from_end:
            plan.reverse()
        res = _alloc_columns(sum(hi - lo for _, lo, hi in plan), [(n, dts[n]) for n in names])
        r = 0
        for recs, lo, hi in plan:  # copy each field straight out of the mapping
            for n in names:
                np.copyto(res[n][r:r + hi - lo], recs[n][lo:hi])
            r += hi - lo
        return res


def _key(epoch: int, nanos: int) -> int:
    return epoch * NS + nanos


def _bisect(recs: np.ndarray, key: int, *, right: bool) -> int:
    """Binary search on the (Epoch, Nanoseconds) order without copying the key columns."""
    ep = recs["Epoch"]
    ns = recs["Nanoseconds"]
    lo, hi = 0, len(recs)
    while lo < hi:
        mid = (lo + hi) // 2
        k = int(ep[mid]) * NS + int(ns[mid])
        if k < key or (right and k == key):
            lo = mid + 1
        else:
            hi = mid
    return lo


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def restore_undo(root: str, undo_dir: str) -> int:
    """Put back rows saved before an interrupted in-place rewrite; returns files restored."""
    n = 0
    for entry in list(os.scandir(undo_dir)):
        if not entry.name.startswith("undo."):
            continue
        try:
            with open(entry.path, "rb") as f:
                raw = f.read()
            ok = len(raw) >= _UNDO_HEAD.size + 4 and \
                struct.unpack("<I", raw[-4:])[0] == zlib.crc32(raw[:-4])
            if ok:
                magic, hlen = _UNDO_HEAD.unpack_from(raw, 0)
                head = json.loads(raw[_UNDO_HEAD.size:_UNDO_HEAD.size + hlen])
                body = raw[_UNDO_HEAD.size + hlen:-4]
                path = os.path.join(root, head["path"])
                if os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) != os.path.abspath(root):
                    raise ValueError("undo path outside root")
                if os.path.exists(path):
                    fd = os.open(path, os.O_RDWR)
                    try:
                        off = HDR + head["pos"] * head["recsize"]
                        pwrite_all(fd, body, off)
                        os.pwrite(fd, struct.pack("<qq", head["nrows"], head["lsn"]), _VAR_STATE_OFF)
                        os.ftruncate(fd, HDR + head["nrows"] * head["recsize"])
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    n += 1
            # an incomplete undo file means the data file was not touched yet
        except (OSError, ValueError, KeyError, struct.error):
            pass
        os.unlink(entry.path)
    return n
