"""Compaction of quiet fixed-length year files into the compressed form (compress.py), and back.

Policy (storage_compression: zstd): a year file of a fixed bucket is compacted when its year is
over (before the current UTC year) and it was not written during a whole checkpoint interval,
or at shutdown. A later write into a compressed year (a late or corrected bar, a delete) first
inflates it back to the raw layout, then takes the normal write path.

Crash safety: both directions write a complete new file beside the old one (`.z.tmp`), fsync it,
rename it over the old one and fsync the directory, so a kill -9 at any moment leaves either the
old or the new file, both holding every write applied so far; WAL replay after the checkpoint is
idempotent against either (a replayed write into a compressed year inflates it again).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable

import numpy as np

from pgmkts.storage.bucket import fsync_dir, pread_into, pwrite_all
from pgmkts.storage.compress import CHUNK_SHIFT as SHIFT
from pgmkts.storage.compress import (
    P_FULL,
    ZHDR_SIZE,
    encode_presence,
    encode_values,
    pack_header,
)
from pgmkts.storage.fixed import _FIX_HDR, _FIX_MAGIC, FixedBucket

log = logging.getLogger("pgmkts.storage")
MODES = ("none", "zstd")


def current_year() -> int:
    return datetime.datetime.now(datetime.UTC).year


def _replace(path: str, write: Callable[[int], None]) -> None:
    """Write a whole new file beside `path` and rename it over `path`, durably."""
    tmp = path + ".z.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write(fd)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))


def compact_year(b: FixedBucket, y: int) -> bool:
    """Rewrite year y of `b` compressed; False when it is already compressed or missing.
    The caller excludes every writer of the bucket (readers may go on: the file is replaced whole)."""
    path = b.year_path(y)
    try:
        src = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if b.zyear(y, src) is not None:
            return False
        lo, hi = b.lohi(y, src)
        lay = b.layout(y)
        nchunks = -(-lay.nslots // (1 << SHIFT))
        index = np.zeros((nchunks, 1 + len(b.cols), 4), np.int64)
        blobs: list[bytes] = []
        off = ZHDR_SIZE + index.nbytes
        for c in range(nchunks):
            s0, s1 = c << SHIFT, min(lay.nslots, (c + 1) << SHIFT)
            a, z = max(s0, lo), min(s1, hi)
            pres = np.zeros(s1 - s0, np.uint8)
            if a < z:  # only the published range: slots outside it are leftovers of lost writes
                pread_into(src, pres[a - s0:z - s0], lay.pres_off + a)
            blob, code, k = encode_presence(pres)
            index[c, 0] = (off, len(blob), code, k)
            blobs.append(blob)
            off += len(blob)
            if not k:
                continue
            mask = None if code == P_FULL else pres.view(bool)
            for j, (name, dt) in enumerate(b.cols):
                vals = np.empty(s1 - s0, dt)
                pread_into(src, vals, lay.col_off[name] + s0 * dt.itemsize)
                vb, vcode = encode_values(vals if mask is None else vals[mask])
                index[c, 1 + j] = (off, len(vb), vcode, k * dt.itemsize)
                blobs.append(vb)
                off += len(vb)
    finally:
        os.close(src)
    head = pack_header(y, b.tf, lay.nslots, lo, hi, len(b.cols), nchunks)

    def write(fd: int) -> None:
        pwrite_all(fd, head + index.tobytes() + b"".join(blobs), 0)
    _replace(path, write)
    b.forget_year(y)
    return True


def inflate_year(b: FixedBucket, y: int) -> None:
    """Rewrite compressed year y of `b` in the raw layout (fixed.py), holes where empty.
    Called from the write path, under the bucket's write lock."""
    z = b.zyear(y)
    if z is None:
        return
    path = b.year_path(y)
    lay = b.layout(y)
    src = os.open(path, os.O_RDONLY)
    try:
        def write(fd: int) -> None:
            os.ftruncate(fd, lay.size)  # sparse, as a raw file made by writes
            os.pwrite(fd, _FIX_HDR.pack(_FIX_MAGIC, 1, 0, y, b.tf, lay.nslots, z.lo, z.hi), 0)
            for c in range(z.nchunks):
                k = z.count(c)
                if not k:
                    continue
                s0, s1 = z.span(c)
                pres = z.presence(src, c)
                pwrite_all(fd, pres.view(np.uint8), lay.pres_off + s0)
                for j, (name, dt) in enumerate(b.cols):
                    vals = z.column(src, c, j, dt)
                    if k != s1 - s0:
                        full = np.zeros(s1 - s0, dt)
                        full[pres] = vals
                        vals = full
                    pwrite_all(fd, vals, lay.col_off[name] + s0 * dt.itemsize)
        _replace(path, write)
    finally:
        os.close(src)
    b.forget_year(y)
    log.info("inflated compressed %s for a write", path)


class Compactor:
    """Which year files to compact at a checkpoint: written before, quiet since (see module doc)."""

    def __init__(self) -> None:
        self._pending: set[str] = set()  # year files written since they were last compacted

    def candidates(self, dirty: set, final: bool) -> list[str]:
        """Called with the paths a checkpoint just flushed: returns the paths to compact now."""
        bins = {p for p in dirty if isinstance(p, str) and p.endswith(".bin")}
        quiet = self._pending | bins if final else self._pending - bins
        self._pending = (self._pending | bins) - quiet
        return sorted(quiet)

    def unwritten(self, paths: list[str]) -> list[str]:
        """The paths not waiting to go quiet (written during the last checkpoint interval)."""
        return [p for p in paths if p not in self._pending]

    def compact(self, buckets: dict[str, FixedBucket], paths: list[str],
                exclusive: Callable[[FixedBucket, Callable[[], None]], None]) -> int:
        """Compact the listed past-year files of the given buckets (keyed by directory);
        `exclusive(bucket, fn)` runs fn with every writer of that bucket excluded."""
        done = 0
        cur = current_year()
        for p in paths:
            b = buckets.get(os.path.dirname(p))
            name = os.path.basename(p)
            if b is None or b.dropped or not name[:4].isdigit():
                continue
            y = int(name[:4])
            if y >= cur or y not in b.years():
                continue
            box = [False]

            def run(b: FixedBucket = b, y: int = y, box: list[bool] = box) -> None:
                box[0] = compact_year(b, y)
            try:
                exclusive(b, run)
            except OSError:
                log.exception("compaction of %s failed; the raw file stays", p)
                continue
            done += box[0]
        return done


def year_files(b: FixedBucket) -> list[str]:
    """Every past-year file of a bucket (Engine.compact: compact all, not only quiet ones)."""
    cur = current_year()
    return [b.year_path(y) for y in b.years() if y < cur]
