"""Variable-length buckets (ticks, quotes): any number of rows per time, sorted year files.

Year file: a 4 KiB header (row count, applied WAL LSN) then packed rows (Epoch i8,
Nanoseconds i4, columns...) sorted by (Epoch, Nanoseconds), stable for equal times; a range
read is two binary searches. The applied LSN makes WAL replay idempotent (frames <= it are
skipped for that file). Appends write past the last row; an out-of-order batch or a delete
rewrites the tail in place under an undo record (`restore_undo`).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from pgmkts import errors
from pgmkts.storage.bucket import (
    EPOCH_MAX,
    EPOCH_MIN,
    HDR,
    NS,
    Bucket,
    DirtySet,
    _alloc_columns,
    _sec_bounds,
    _u8,
    _year_segments,
    fsync_dir,
    pwrite_all,
    read_header,
    year_of,
)

_VAR_HDR = struct.Struct("<8sIIqq")  # magic, version, recsize, nrows, lsn
_VAR_MAGIC = b"PGMKVAR1"
_VAR_STATE_OFF = 16
_UNDO_HEAD = struct.Struct("<8sI")
_UNDO_MAGIC = b"PGMKUND1"


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
            raw = read_header(self.year_path(y), _VAR_HDR.size, fd)
            if raw is None:
                return [0, 0]
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
