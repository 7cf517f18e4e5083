"""Fixed-length buckets: one record per timeframe slot, columnar year files.

Year file: a 4 KiB header (year, timeframe, slot count, published slot range lo/hi), then a
presence byte per slot (0 = empty), then one region per column holding `nslots` values
(columnar: a range read of a column is one pread, a projection touches only its columns).
Slot of epoch t = (t - year_start) // tf; the epoch is implied by the slot, so Epoch 0
(1970-01-01 00:00:00) is storable, unlike MarketStore. Files are sparse: holes read as empty.
A year file may instead be in the compressed form (compress.py, made by compact.py): reads
decode it, a write first inflates it back to this layout (`inflate` hook, under the write lock).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Callable, Sequence

import numpy as np

from pgmkts import errors
from pgmkts.storage.bucket import (
    _SMALL_RANGE,
    HDR,
    Bucket,
    DirtySet,
    _align,
    _alloc_columns,
    _extents,
    _fill_arith,
    _ones,
    _sec_bounds,
    _year_segments,
    pread_into,
    pwrite_all,
    read_header,
    year_start,
)
from pgmkts.storage.compress import ZYear, is_compressed

_FIX_HDR = struct.Struct("<8sIIqqqqq")  # magic, version, pad, year, tf, nslots, lo, hi
_FIX_MAGIC = b"PGMKFIX1"
_FIX_LOHI_OFF = 40


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


_ALLOCATE_BYTES = 1 << 20


class _FdBudget:
    """How many year files the fixed buckets of this process keep open for writing. A one-row
    append then costs no open/close (two of each before: ~60 µs of a ~0.8 ms durable INSERT);
    past the budget a write opens and closes its file as before, so thousands of buckets do
    not exhaust the descriptor limit."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.held = 0

    def take(self) -> bool:
        with self._lock:
            if self.held >= self.limit:
                return False
            self.held += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.held -= 1


WRITE_FDS = _FdBudget(256)
_MAPPED_ROWS = 64     # dense writes up to this many slots go through the kept file's mapping


def _allocate(fd: int, off: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, off, size)
    except OSError:  # a file system without fallocate: the write allocates as it goes
        pass


class FixedBucket(Bucket):
    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self._layouts: dict[int, _FixedLayout] = {}
        self._lohi: dict[int, list[int]] = {}  # year -> [lo slot, hi slot) ever written
        self._z: dict[int, ZYear | None] = {}  # year -> its compressed index, None when raw
        self.inflate: Callable[[FixedBucket, int], None] | None = None  # set by compact.py's users
        # year -> an O_RDWR descriptor of its raw file, kept between writes (WRITE_FDS); writes
        # run under the bucket's write lock, and whatever replaces or removes the file drops it
        self._wfds: dict[int, int] = {}
        self._wmaps: dict[int, mmap.mmap] = {}  # year -> a shared mapping of that kept file

    def layout(self, y: int) -> _FixedLayout:
        lay = self._layouts.get(y)
        if lay is None:
            lay = self._layouts[y] = _FixedLayout(y, self.tf, self.cols)
        return lay

    def _open(self, y: int, create: bool) -> int:
        path = self.year_path(y)
        if not create:
            return os.open(path, os.O_RDONLY)
        if self.zyear(y) is not None:  # a late write into a compressed year: back to raw first
            if self.inflate is None:
                raise errors.InternalError(f"{path}: compressed year file, no codec to inflate it")
            self.inflate(self, y)
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
        self._z[y] = None
        self._add_year(y)
        return fd

    def lohi(self, y: int, fd: int | None = None) -> list[int]:
        st = self._lohi.get(y)
        if st is None:
            raw = read_header(self.year_path(y), HDR, fd)
            if raw is None:
                return [0, 0]
            if is_compressed(raw):
                z = self._zload(y, raw, fd)
                st = self._lohi[y] = [z.lo, z.hi]
                return st
            self._z[y] = None
            magic, _v, _p, _y, tf, nslots, lo, hi = _FIX_HDR.unpack(raw[:_FIX_HDR.size])
            if magic != _FIX_MAGIC or tf != self.tf:
                raise errors.InternalError(f"{self.year_path(y)}: not a pgmkts fixed-length file")
            st = self._lohi[y] = [lo, hi]
        return st

    def _zload(self, y: int, head: bytes, fd: int | None) -> ZYear:
        own = fd is None
        f = os.open(self.year_path(y), os.O_RDONLY) if fd is None else fd
        try:
            z = ZYear(head, f)
        finally:
            if own:
                os.close(f)
        if z.tf != self.tf or z.ncols != len(self.cols):
            raise errors.InternalError(f"{self.year_path(y)}: compressed file does not match the bucket")
        self._z[y] = z
        return z

    def zyear(self, y: int, fd: int | None = None) -> ZYear | None:
        """The index of year y when its file is compressed (compress.py), else None."""
        if y not in self._z:
            self._lohi.pop(y, None)
            self.lohi(y, fd)
        return self._z.get(y)

    def forget_year(self, y: int) -> None:
        """Drop cached header state after the file was replaced (compaction, inflation)."""
        self._z.pop(y, None)
        self._lohi.pop(y, None)
        self._let_go(y)

    def close_files(self) -> None:
        for y in list(self._wfds):
            self._let_go(y)

    def _let_go(self, y: int) -> None:
        """Unmap and close year y's kept file, if kept."""
        mm = self._wmaps.pop(y, None)
        if mm is not None:
            mm.close()
        fd = self._wfds.pop(y, None)
        if fd is not None:
            os.close(fd)
            WRITE_FDS.give_back()

    def _mapped(self, lay: _FixedLayout, fd: int) -> mmap.mmap | None:
        """A shared mapping of the kept file `fd` of year lay.year (made on first use), or None
        when fd is not the bucket's kept one. Small writes go through it: a one-row append is
        then stores into the page cache instead of seven pwrite calls."""
        y = lay.year
        mm = self._wmaps.get(y)
        if mm is None and self._wfds.get(y) == fd:
            mm = self._wmaps.setdefault(y, mmap.mmap(fd, lay.size))
        return mm

    def destroy_on_disk(self) -> None:
        self.close_files()
        super().destroy_on_disk()

    def _write_fd(self, y: int) -> tuple[int, bool]:
        """An O_RDWR descriptor of year y's raw file (made or inflated if need be), and whether
        the caller closes it (False: the bucket keeps it for the next write)."""
        fd = self._wfds.get(y)
        if fd is not None:
            return fd, False
        fd = self._open(y, create=True)
        if WRITE_FDS.take():
            # an early apply and the previous write's publish may both get here first
            kept = self._wfds.setdefault(y, fd)
            if kept != fd:
                os.close(fd)
                WRITE_FDS.give_back()
            return kept, False
        return fd, True

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
                if s0 < self.lohi(y)[1] or self.zyear(y) is not None:
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
            fd, own = self._write_fd(y)
            try:
                self._clear_unpublished(fd, lay, self.lohi(y, fd), s0, s1, dense=slots is None)
                self._write_slots(fd, lay, s0, s1, slots, {c: arrays[c][i:j] for c, _ in self.cols})
            finally:
                if own:
                    os.close(fd)
            dirty.add(self.year_path(y))
            pubs.append((y, s0, s1))
        last = int(e[-1])

        def do_publish() -> None:
            for y, s0, s1 in pubs:
                st = self.lohi(y)
                if s0 < st[0] or s1 > st[1]:
                    st[0], st[1] = min(st[0], s0), max(st[1], s1)
                    fd, own = self._write_fd(y)
                    try:
                        mm = None if own else self._mapped(self.layout(y), fd)
                        if mm is not None:
                            struct.pack_into("<qq", mm, _FIX_LOHI_OFF, st[0], st[1])
                        else:
                            os.pwrite(fd, struct.pack("<qq", st[0], st[1]), _FIX_LOHI_OFF)
                    finally:
                        if own:
                            os.close(fd)
            self.note_written(last)

        if publish:
            do_publish()
            return None
        return do_publish

    def _clear_unpublished(self, fd: int, lay: _FixedLayout, st: list[int], s0: int, s1: int,
                           dense: bool = False) -> None:
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
        if dense:  # the batch writes all of [s0, s1): an append right after hi clears nothing
            ranges = [r for a, b in ranges for r in ((a, min(b, s0)), (max(a, s1), b)) if r[0] < r[1]]
        for a, b in ranges:
            for x, z in _extents(fd, lay.pres_off + a, lay.pres_off + b):
                pwrite_all(fd, np.zeros(z - x, np.uint8), x)

    def _write_slots(self, fd: int, lay: _FixedLayout, s0: int, s1: int, slots: np.ndarray | None,
                     cols: dict[str, np.ndarray]) -> None:
        span = s1 - s0
        if slots is None and span <= _MAPPED_ROWS:
            mm = self._mapped(lay, fd)
            if mm is not None:
                np.frombuffer(mm, np.uint8, span, lay.pres_off + s0)[:] = 1
                for name, dt in self.cols:
                    np.frombuffer(mm, dt, span, lay.col_off[name] + s0 * dt.itemsize)[:] = cols[name]
                return
        if slots is None:  # dense run: one pwrite per column straight from the caller's arrays
            regions = [(lay.pres_off + s0, _ones(span))]
            regions += [(lay.col_off[name] + s0 * dt.itemsize, cols[name]) for name, dt in self.cols]
            for off, arr in regions:
                if arr.nbytes >= _ALLOCATE_BYTES:
                    # into a hole of the sparse year file, a write allocates its blocks page by
                    # page; allocated in one call first, it is a plain copy into the page cache
                    _allocate(fd, off, arr.nbytes)
                pwrite_all(fd, arr, off)
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
            fd, own = self._write_fd(y)
            try:
                pres = np.empty(b - a, np.uint8)
                pread_into(fd, pres, lay.pres_off + a)
                k = int(np.count_nonzero(pres))
                if k:
                    pwrite_all(fd, np.zeros(b - a, np.uint8), lay.pres_off + a)
                    removed += k
            finally:
                if own:
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
                z = self._z.get(y)
                if z is not None:  # compressed (compress.py): its rows are decoded below
                    picks = z.select(fd, a, b, need, from_end)
                    k = sum(len(p[1]) for p in picks)
                    if k:
                        plan.append((lay, -1 - fd, 0, k, (z, picks)))  # type: ignore[arg-type]
                        if need is not None:
                            need -= k
                    continue
                s0, s1, slots = self._present(fd, lay, a, b, need, from_end)
                if s1 <= s0:
                    continue
                plan.append((lay, fd, s0, s1, slots))
                if need is not None:
                    need -= s1 - s0 if slots is None else len(slots)
            if from_end:
                plan.reverse()
            counts = [s1 - s0 if slots is None or fd < 0 else len(slots) for _, fd, s0, s1, slots in plan]
            res = _alloc_columns(sum(counts), [("Epoch", np.dtype(np.int64)), *proj])
            r = 0
            tmp: np.ndarray | None = None
            for (lay, fd, s0, s1, slots), k in zip(plan, counts, strict=True):
                if fd < 0:
                    z, picks = slots  # type: ignore[misc]
                    z.fill(-1 - fd, picks, {n: res[n][r:r + k] for n in res}, lay.ystart, self.cols, proj)
                    r += k
                    continue
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
