"""What both kinds of bucket share: the year grid, file I/O helpers, locks, the Bucket base.

A bucket directory holds one file per UTC calendar year (`YYYY.bin`); fixed.py and variable.py
define the two file formats. Years are limited to 1678..2261 so that every timestamp fits the
read API's int64 nanoseconds.
"""

from __future__ import annotations

import bisect
import errno
import os
import shutil
import threading
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



def year_start(y: int) -> int:
    return int(YEAR_STARTS[y - YEAR_MIN])


_YEAR_STARTS_LIST = YEAR_STARTS.tolist()


def year_of(t: int) -> int:
    # bisect on a list: a numpy searchsorted for one scalar costs ~2.5 µs, several per write
    return YEAR_MIN + bisect.bisect_right(_YEAR_STARTS_LIST, t) - 1


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
        self._paths: dict[int, str] = {}  # year -> its file's path
        self._last_epoch: int | None = None
        self._last_known = False

    # -- files ------------------------------------------------------------------------------
    def create_on_disk(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        write_meta(self.dir, self.info)
        self._years = []

    def close_files(self) -> None:
        """Close the descriptors the bucket keeps between writes (none by default)."""

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
        path = self._paths.get(y)
        if path is None:  # asked several times per write: join once per year
            path = self._paths[y] = os.path.join(self.dir, f"{y:04d}.bin")
        return path

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


def read_header(path: str, size: int, fd: int | None = None) -> bytes | None:
    """The first `size` bytes of a year file (through `fd` when the caller has it open);
    None when the file does not exist."""
    own = fd is None
    if own:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
    assert fd is not None
    try:
        return os.pread(fd, size, 0)
    finally:
        if own:
            os.close(fd)


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
