"""The storage engine: catalog, write path (validate -> WAL -> fsync -> apply -> publish), reads.

Write path. Under the writer lock a batch is validated and normalised (batch.py) and
appended to the WAL as one frame; the syncer thread starts the fsync (group commit: one fsync
covers every frame written so far). Frames are then applied strictly in LSN order. A batch
that only appends (past the published rows/slots) is written while the fsync runs and
published afterwards; any other batch is applied after the fsync under the write side of its
buckets' RW locks. Either way readers see a batch whole or not at all, and never wait on an
fsync. Subscribers run after the apply, in LSN order, outside every storage lock.

Deferred commits (`Engine.deferred`): an event loop may write a small append itself and be
told when it is durable instead of blocking a thread on the fsync; the syncer thread then
publishes it (see `_write_deferred`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pgmkts import errors
from pgmkts.storage import compact as compactmod
from pgmkts.storage import wal as walmod
from pgmkts.storage.batch import (
    Prepared,
    decode_batches,
    encode_batches,
    info_from_header,
    info_header,
    prepare,
)
from pgmkts.storage.bucket import (
    Bucket,
    DirtySet,
    _year_segments,
)
from pgmkts.storage.catalog import (
    BucketInfo,
    make_info,
    save_cache,
    scan,
    validate_columns,
)
from pgmkts.storage.fixed import FixedBucket
from pgmkts.storage.names import TBK
from pgmkts.storage.timeframe import timeframe_seconds
from pgmkts.storage.variable import VariableBucket, restore_undo

log = logging.getLogger("pgmkts.storage")

WAL_CHECKPOINT_BYTES = 1 << 30  # a WAL file this big triggers a checkpoint before the timer
# A deferred write that is not a pure append is applied by the syncer thread after the fsync:
# only fixed-length slot writes this small (a few pwrites), never merges or inflations.
DEFERRED_APPLY_ROWS = 4096
Subscriber = Callable[[str, dict[str, np.ndarray]], None]
ChangeSubscriber = Callable[[int, str, str, object], None]
Done = Callable[[BaseException | None], None]


class WouldBlock(BaseException):  # noqa: N818 - a control-flow signal, like GeneratorExit
    """Raised by a write inside `Engine.deferred()`, before anything is logged, when it cannot be
    committed without blocking the calling thread (writer lock busy, another commit in flight,
    an overwrite or merge, a subscriber that may block, wal_sync: interval): run it again in a
    worker thread. A BaseException so that the callers' `except Exception` handlers pass it on."""


class Deferred:
    """One `Engine.deferred()` scope: the commit it deferred, if any (`lsn` > 0)."""

    def __init__(self, on_done: Done) -> None:
        self.on_done = on_done  # called once, from the thread that publishes (or fails) the write
        self.lsn = 0


def _write_events(preps: list[Prepared]) -> list:
    return [("write", p.info.tbk, p.arrays) for p in preps]


class Engine:
    """Thread-safe storage engine over one data directory. See docs/INTERFACES.md."""

    def __init__(self, root: str | Path, *, wal_sync: str = "commit", wal_sync_interval_ms: int = 10,
                 wal_rotate_interval: float = 5.0, timezone: str = "UTC", compression: str = "none") -> None:
        if wal_sync not in ("commit", "interval"):
            raise errors.InvalidParameterValue(f"wal_sync must be 'commit' or 'interval', not {wal_sync!r}")
        if compression not in compactmod.MODES:
            raise errors.InvalidParameterValue(f"compression must be one of {compactmod.MODES}, not {compression!r}")
        # compressed year files are read (and inflated on write) whatever the setting
        self._compactor = compactmod.Compactor() if compression == "zstd" else None
        self._zqueue: list[str] = []
        self._zswept = False
        self.root = os.path.abspath(root)
        self.timezone = timezone  # storage is always UTC; kept for callers' display settings
        self.wal_sync = wal_sync
        self.wal_sync_interval = max(1, int(wal_sync_interval_ms)) / 1000.0
        self.wal_rotate_interval = float(wal_rotate_interval)
        self.wal_dir = os.path.join(self.root, ".wal")
        os.makedirs(self.wal_dir, exist_ok=True)
        self._lockfd = os.open(os.path.join(self.wal_dir, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lockfd)
            raise errors.InternalError(f"data directory {self.root} is in use by another engine") from exc

        self._wlock = threading.Lock()  # the single writer: validation, LSN order, WAL append
        self._apply_cv = threading.Condition(threading.Lock())
        self._ckpt_lock = threading.Lock()
        self._cat_lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}  # published (readers)
        self._wcat: dict[str, BucketInfo] = {}  # writer's view, ahead of apply
        self._dirty = DirtySet()  # files written since the last checkpoint (fsynced by it)
        self._dirty_dirs = DirtySet()  # directories whose entries changed
        self._stale_buckets: DirtySet = DirtySet()  # variable buckets with deferred headers
        self._subs: list[Subscriber] = []
        self._heavy_subs = 0  # subscribers not declared light: a commit may not be deferred
        self._change_subs: list[ChangeSubscriber] = []
        self._counts = {"writes": 0, "rows_written": 0, "reads": 0, "rows_read": 0, "deletes": 0,
                        "destroys": 0, "checkpoints": 0, "replayed_frames": 0,
                        "deferred_commits": 0}
        self._hook_q: deque[tuple[int, list]] = deque()
        self._hook_cv = threading.Condition(threading.Lock())
        self._hook_busy = False
        self._hook_done = 0  # highest LSN whose subscribers have run
        self._tls = threading.local()
        self._broken: BaseException | None = None
        self._closed = False
        self._stop = threading.Event()
        self._ckpt_wake = threading.Event()  # set: checkpoint now (WAL too big, or closing)

        try:
            self._open()
        except BaseException:
            fcntl.flock(self._lockfd, fcntl.LOCK_UN)
            os.close(self._lockfd)
            raise

        self._threads: list[threading.Thread] = []
        if self.wal_rotate_interval > 0:
            self._spawn(self._checkpoint_loop, "pgmkts-checkpoint")
        interval = self.wal_sync_interval if wal_sync == "interval" else None
        self._spawn(lambda: self.wal.run_syncer(self._stop, interval), "pgmkts-walsync")

    def _open(self) -> None:
        """Undo interrupted merges, scan the catalog, replay the WAL, open it for appends."""
        t0 = time.perf_counter()
        restored = restore_undo(self.root, self.wal_dir)
        if restored:
            log.warning("restored %d variable-length files from undo records", restored)
        self._cache_path = os.path.join(self.wal_dir, "catalog.cache")
        for info, path in scan(self.root, self._cache_path):
            self._buckets[info.tbk] = self._new_bucket(info, path)
            self._wcat[info.tbk] = info
        self._ckpt_lsn = walmod.read_checkpoint(self.wal_dir)
        last = self._replay()
        self._applied_lsn = last
        files = walmod.wal_files(self.wal_dir)
        if last == self._ckpt_lsn and len(files) == 1 and walmod.WAL.reusable(files[0][1]):
            # clean shutdown (or nothing logged since the checkpoint): keep the empty WAL file
            self.wal = walmod.WAL(self.wal_dir, last + 1, sync_mode=self.wal_sync, reuse=files[0][1])
        else:
            self.wal = walmod.WAL(self.wal_dir, last + 1, sync_mode=self.wal_sync)
            # make what replay applied durable, then drop the replayed WAL files
            self._finish_checkpoint(last, [p for _, p in files if p != self.wal.path])
        log.info("storage open: %d buckets, WAL replayed to LSN %d in %.3fs", len(self._buckets), last,
                 time.perf_counter() - t0)

    # ------------------------------------------------------------------ lifecycle
    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        self._ckpt_wake.set()
        self.wal.stop_syncer()
        for t in self._threads:
            t.join()
        try:
            with self._wlock:
                self._closed = True
                if self._broken is None:
                    self._checkpoint_locked()
                    self._run_compaction(final=True)
                self.wal.close()
                save_cache(self._cache_path, [(b.info, b.dir) for b in list(self._buckets.values())])
        finally:
            for b in list(self._buckets.values()):
                b.close_files()
            fcntl.flock(self._lockfd, fcntl.LOCK_UN)
            os.close(self._lockfd)

    def _simulate_crash(self) -> None:
        """For tests: stop as kill -9 would (no checkpoint, WAL files left as they are)."""
        self._stop.set()
        self._ckpt_wake.set()
        self.wal.stop_syncer()
        for t in self._threads:
            t.join()
        with self._wlock:
            self._closed = True
            os.close(self.wal._fd)
            self.wal._fd = -1
        for b in list(self._buckets.values()):
            b.close_files()
        fcntl.flock(self._lockfd, fcntl.LOCK_UN)
        os.close(self._lockfd)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkpoint_loop(self) -> None:
        while True:
            self._ckpt_wake.wait(self.wal_rotate_interval * 60.0)
            self._ckpt_wake.clear()
            if self._stop.is_set():
                return
            try:
                self.checkpoint()
            except Exception:  # pragma: no cover - keep the thread alive, log loudly
                log.exception("checkpoint failed")

    # ------------------------------------------------------------------ catalog
    def _new_bucket(self, info: BucketInfo, path: str | None = None) -> Bucket:
        cls = VariableBucket if info.variable_length else FixedBucket
        if path is None:
            path = TBK.parse(info.tbk).path(self.root)
        b = cls(self.root, path, info, self.wal_dir)
        if isinstance(b, VariableBucket):
            b.sync_data = self.wal_sync == "commit"
            b.on_stale = self._stale_buckets.add
        else:
            b.inflate = compactmod.inflate_year
        return b

    def info(self, tbk: str) -> BucketInfo | None:
        b = self._buckets.get(tbk) or self._buckets.get(_key(tbk))
        return b.info if b is not None else None

    def buckets(self) -> list[BucketInfo]:
        with self._cat_lock:
            infos = [b.info for b in self._buckets.values()]
        return sorted(infos, key=lambda i: i.tbk)

    def _bucket(self, tbk: str) -> Bucket:
        b = self._buckets.get(tbk)  # fast path: the canonical name (validated when created)
        if b is not None:
            return b
        key = _key(tbk)
        b = self._buckets.get(key)
        if b is None:
            raise errors.BucketNotFound(f"bucket {key} does not exist")
        return b

    def last_epoch(self, tbk: str) -> int | None:
        b = self._bucket(tbk)
        b.lock.acquire_read()
        try:
            return b.last_epoch()
        finally:
            b.lock.release_read()

    def stats(self) -> dict[str, int]:
        """Counters for /metrics (exported as pgmkts_engine_<name>)."""
        w = self.wal
        return {**self._counts, "wal_frames": w.frames, "wal_bytes": w.bytes, "wal_fsyncs": w.fsyncs,
                "buckets": len(self._buckets), "wal_lsn": w.written_lsn, "checkpoint_lsn": self._ckpt_lsn}

    def subscribe(self, fn: Subscriber, *, light: bool = False) -> Callable[[], None]:
        """fn(tbk, rows) after each committed write, before write() returns. `light`: fn only
        hands the rows over (never blocks, never writes), so it may run on the syncer thread
        for a deferred commit; any other subscriber makes writes take the blocking path."""
        with self._cat_lock:
            self._subs = [*self._subs, fn]
            self._heavy_subs += not light

        def unsubscribe() -> None:
            with self._cat_lock:
                if any(s is fn for s in self._subs):
                    self._heavy_subs -= not light
                self._subs = [s for s in self._subs if s is not fn]
        return unsubscribe

    def subscribe_changes(self, fn: ChangeSubscriber) -> Callable[[], None]:
        """Every committed change in LSN order, for replication: fn(lsn, kind, tbk, payload) with
        kind 'create' (payload: BucketInfo), 'write' (the rows as written, per bucket of the
        batch; one LSN may carry several), 'delete' ({'start_ns', 'end_ns', 'removed'}) or
        'destroy' (None). Same delivery rules as `subscribe`; not called on replay. fn must be
        light (see `subscribe`): it may run on the syncer thread."""
        with self._cat_lock:
            self._change_subs = [*self._change_subs, fn]

        def unsubscribe() -> None:
            with self._cat_lock:
                self._change_subs = [s for s in self._change_subs if s is not fn]
        return unsubscribe

    # ------------------------------------------------------------------ reads
    def read(self, tbk: str, start_ns: int | None = None, end_ns: int | None = None, *,
             columns: Sequence[str] | None = None, limit: int | None = None,
             from_end: bool = False) -> dict[str, np.ndarray]:
        b = self._bucket(tbk)
        b.lock.acquire_read()
        try:
            if b.dropped:
                raise errors.BucketNotFound(f"bucket {b.info.tbk} does not exist")
            res = b.read(start_ns, end_ns, columns=columns, limit=limit, from_end=from_end)
        finally:
            b.lock.release_read()
        c = self._counts
        c["reads"] += 1
        c["rows_read"] += len(res["Epoch"])
        return res

    def read_many(self, tbks: Sequence[str], start_ns: int | None = None, end_ns: int | None = None, *,
                  columns: Sequence[str] | None = None, limit: int | None = None,
                  from_end: bool = False) -> dict[str, dict[str, np.ndarray]]:
        bs = sorted({b.info.tbk: b for b in (self._bucket(t) for t in tbks)}.items())
        for _, b in bs:  # all read locks at once (in name order): one consistent snapshot
            b.lock.acquire_read()
        try:
            out = {}
            for key, b in bs:
                if b.dropped:
                    raise errors.BucketNotFound(f"bucket {key} does not exist")
                out[key] = b.read(start_ns, end_ns, columns=columns, limit=limit, from_end=from_end)
        finally:
            for _, b in bs:
                b.lock.release_read()
        # answer under the names the caller used, as well as canonical ones
        return {t: out[_key(t)] for t in tbks} if all(_key(t) in out for t in tbks) else out

    # ------------------------------------------------------------------ writes
    def create(self, tbk: str, columns: list[tuple[str, str]], variable_length: bool = False) -> BucketInfo:
        t = TBK.parse(tbk)
        tf = timeframe_seconds(t.timeframe)
        cols = validate_columns(list(columns), bool(variable_length))
        info = make_info(t, tf, bool(variable_length), cols)
        with self._wlock:
            self._check_writable()
            old = self._wcat.get(info.tbk)
            if old is not None:
                if old == info:
                    return old
                raise errors.DuplicateTable(f"bucket {info.tbk} already exists with another schema",
                                            detail=f"existing columns: {_fmt_cols(old.columns)}")
            lsn = self.wal.append(walmod.KIND_CREATE, info_header(info))
            self._wcat[info.tbk] = info
        def apply() -> None:
            self._apply_create(info, True)
        self._commit(lsn, apply, [("create", info.tbk, info)])
        return info

    def write(self, tbk: str, data: Mapping[str, np.ndarray], *, variable_length: bool | None = None) -> int:
        return self.write_many([(tbk, data, variable_length)])

    def write_many(self, batches: Sequence[tuple[str, Mapping[str, np.ndarray], bool | None]]) -> int:
        if not batches:
            return 0
        scope = getattr(self._tls, "deferred", None)
        if scope is not None and not scope.lsn:  # a second write in one scope takes the normal path
            return self._write_deferred(batches, scope)
        with self._wlock:
            self._check_writable()
            overlay: dict[str, BucketInfo] = {}
            preps = [prepare(t, d, v, self._wcat.get, overlay) for t, d, v in batches]
            lsn = self._log_write(preps, overlay)

        def apply() -> None:
            self._apply_writes(preps, lsn)

        def early() -> Callable[[], None] | None:
            return self._apply_appends_early(preps, lsn)

        self._commit(lsn, apply, _write_events(preps), early)
        return self._written(preps)

    def _log_write(self, preps: list[Prepared], overlay: dict[str, BucketInfo]) -> int:
        """The WAL frame of prepared batches (caller holds the writer lock); returns its LSN."""
        header, bufs = encode_batches(preps)
        lsn = self.wal.append(walmod.KIND_WRITE, header, bufs)
        self._wcat.update(overlay)
        return lsn

    def _written(self, preps: list[Prepared]) -> int:
        """Counters and the checkpoint nudge after a logged write; returns its row count."""
        if self.wal.size > WAL_CHECKPOINT_BYTES:
            self._ckpt_wake.set()  # bulk loads: do not let one WAL file grow without bound
        n = sum(p.nrows for p in preps)
        self._counts["writes"] += 1
        self._counts["rows_written"] += n
        return n

    @contextmanager
    def deferred(self, on_done: Done) -> Iterator[Deferred]:
        """Within this scope (this thread only) the first write_many does not wait for its fsync:
        it is logged, its rows are written unpublished, and it returns at once; the thread whose
        fsync covers it then publishes it, runs its subscribers and calls on_done(None), or
        on_done(InternalError) when it failed. Raises WouldBlock when it cannot (see there).
        For an event loop: no thread hop before the write, none but the fsync's after it."""
        scope = Deferred(on_done)
        prev = getattr(self._tls, "deferred", None)
        self._tls.deferred = scope
        try:
            yield scope
        finally:
            self._tls.deferred = prev

    def _write_deferred(self, batches: Sequence[tuple[str, Mapping[str, np.ndarray], bool | None]],
                        scope: Deferred) -> int:
        if self.wal_sync != "commit" or self._heavy_subs or not self._wlock.acquire(blocking=False):
            raise WouldBlock
        try:
            self._check_writable()
            with self._apply_cv:  # nothing in flight: this commit has the apply turn at once
                idle = self._applied_lsn == self.wal.written_lsn and not self._hook_q and not self._hook_busy
            if not idle:
                raise WouldBlock
            overlay: dict[str, BucketInfo] = {}
            preps = [prepare(t, d, v, self._wcat.get, overlay) for t, d, v in batches]
            append_only = self._appends_only(preps)
            if not append_only and not self._small_slot_writes(preps):
                raise WouldBlock
            lsn = self._log_write(preps, overlay)
        finally:
            self._wlock.release()
        scope.lsn = lsn
        self.wal.request_sync(lsn)  # the syncer starts the fsync while the rows are written
        events = _write_events(preps)
        publish: Callable[[], None] | None = None
        early_error: BaseException | None = None
        if append_only:
            try:
                publish = self._apply_appends_early(preps, lsn, checked=True)
            except BaseException as exc:  # the frame is logged: it must still take (and end) its turn
                early_error = exc
        else:  # rows below the published end must not be seen before they are durable
            def publish() -> None:
                self._apply_writes(preps, lsn)

        def durable(failed: BaseException | None) -> None:
            err = self._finish_deferred(lsn, publish, events, failed or early_error, failed is not None)
            try:
                scope.on_done(err)
            except Exception:  # pragma: no cover - the caller's callback must not kill the syncer
                log.exception("deferred commit callback failed")
        self.wal.when_durable(lsn, durable)
        self._counts["deferred_commits"] += 1
        return self._written(preps)

    def _small_slot_writes(self, preps: list[Prepared]) -> bool:
        """Batches into existing fixed-length buckets' raw years, small enough for the syncer
        thread to apply after the fsync (a late bar, or an append before another's)."""
        for p in preps:
            b = self._buckets.get(p.info.tbk)
            e = p.arrays["Epoch"]
            if not isinstance(b, FixedBucket) or b.info != p.info or len(e) > DEFERRED_APPLY_ROWS:
                return False
            if len(e) and any(y in b.years() and b.zyear(y) is not None for _, _, y in _year_segments(e)):
                return False  # a compressed year is inflated first: far too slow for that thread
        return True

    def _finish_deferred(self, lsn: int, publish: Callable[[], None] | None, events: list,
                         failed: BaseException | None, fsync_failed: bool) -> errors.PgmktsError | None:
        """`_commit`'s second half for a deferred write, in the thread whose fsync covered it."""
        ok = False
        err: errors.PgmktsError | None = None
        try:
            if fsync_failed:
                self._broken = failed
                err = errors.InternalError(f"WAL fsync failed; write not committed: {failed}")
            elif failed is not None or publish is None:
                raise failed or errors.InternalError("deferred write was not append-only")
            else:
                publish()
                ok = True
        except BaseException as exc:
            self._broken = exc
            log.exception("apply of LSN %d failed; the engine refuses writes until restart", lsn)
            err = errors.InternalError(f"write failed: {exc}")
        finally:
            self._end_turn(lsn, events if ok else None)
        return err

    def delete(self, tbk: str, start_ns: int | None, end_ns: int | None) -> int:
        key = _key(tbk)
        start_ns = None if start_ns is None else int(start_ns)
        end_ns = None if end_ns is None else int(end_ns)
        with self._wlock:
            self._check_writable()
            if key not in self._wcat:
                raise errors.BucketNotFound(f"bucket {key} does not exist")
            lsn = self.wal.append(walmod.KIND_DELETE, {"tbk": key, "start": start_ns, "end": end_ns})
        box = [0]
        change = {"start_ns": start_ns, "end_ns": end_ns, "removed": 0}

        def apply() -> None:
            box[0] = change["removed"] = self._apply_delete(key, start_ns, end_ns, lsn)
        self._commit(lsn, apply, [("delete", key, change)])
        self._counts["deletes"] += 1
        return box[0]

    def destroy(self, tbk: str) -> None:
        key = _key(tbk)
        with self._wlock:
            self._check_writable()
            if key not in self._wcat:
                raise errors.BucketNotFound(f"bucket {key} does not exist")
            lsn = self.wal.append(walmod.KIND_DESTROY, {"tbk": key})
            del self._wcat[key]
        self._commit(lsn, lambda: self._apply_destroy(key), [("destroy", key, None)])
        self._counts["destroys"] += 1

    def _check_writable(self) -> None:
        if self._closed:
            raise errors.AdminShutdown("storage engine is closed")
        if self._broken is not None:
            raise errors.InternalError(f"storage engine stopped after an I/O error: {self._broken}")

    def _commit(self, lsn: int, apply: Callable[[], None], events: list,
                early: Callable[[], Callable[[], None] | None] | None = None) -> None:
        """Durability (group commit), the apply in LSN order, publication, then subscribers.

        `early`, when given, may write an append-only batch *before* its frame is durable
        (overlapping the fsync) and return a callable that publishes it afterwards; it returns
        None when the batch overwrites or merges, and `apply` then runs after the fsync.
        """
        commit = self.wal_sync == "commit"
        if commit:
            self.wal.request_sync(lsn)  # the syncer thread starts the fsync now
        with self._apply_cv:
            while self._applied_lsn != lsn - 1:
                self._apply_cv.wait()
        ok = False
        try:
            if self._broken is not None:
                raise errors.InternalError(f"write not applied: storage stopped after an error: {self._broken}")
            publish = early() if early is not None else None
            if commit:
                try:
                    self.wal.sync_upto(lsn)
                except OSError as exc:
                    self._broken = exc
                    raise errors.InternalError(f"WAL fsync failed; write not committed: {exc}") from exc
            if publish is not None:
                publish()
            else:
                apply()
            ok = True
        except errors.PgmktsError:
            raise
        except BaseException as exc:
            self._broken = exc
            log.exception("apply of LSN %d failed; the engine refuses writes until restart", lsn)
            raise errors.InternalError(f"write failed: {exc}") from exc
        finally:
            self._end_turn(lsn, events if ok else None)

    def _end_turn(self, lsn: int, events: list | None) -> None:
        """Close LSN `lsn`'s apply turn; `events` (None when it failed) go to the subscribers."""
        queued = False
        with self._apply_cv:
            if events and (self._change_subs or (self._subs and events[0][0] == "write")):
                self._hook_q.append((lsn, events))  # queued in LSN order, inside the turn
                queued = True
            self._applied_lsn = lsn
            self._apply_cv.notify_all()
        if queued:
            self._deliver(lsn)

    def _deliver(self, lsn: int) -> None:
        """Run subscribers for queued commits in LSN order, outside every storage lock.

        One thread delivers at a time; a committer returns once its own events are delivered
        (by itself or by whoever was delivering), so a write's hooks have run when write()
        returns. A write made from inside a hook (ondiskagg) is delivered after that hook.
        """
        if getattr(self._tls, "in_hook", False):
            return
        with self._hook_cv:
            while self._hook_busy and self._hook_done < lsn:
                self._hook_cv.wait()
            if self._hook_done >= lsn:
                return
            self._hook_busy = True
        try:
            while True:
                with self._apply_cv:
                    if not self._hook_q:
                        break
                    item_lsn, events = self._hook_q.popleft()
                self._tls.in_hook = True
                try:
                    for kind, tbk, payload in events:
                        for cfn in self._change_subs:
                            try:
                                cfn(item_lsn, kind, tbk, payload)
                            except Exception:
                                log.exception("change subscriber %r failed", cfn)
                        if kind != "write":
                            continue
                        for fn in self._subs:
                            try:
                                fn(tbk, payload)
                            except Exception:
                                log.exception("commit subscriber %r failed", fn)
                finally:
                    self._tls.in_hook = False
                with self._hook_cv:
                    self._hook_done = item_lsn
                    self._hook_cv.notify_all()
        finally:
            with self._hook_cv:
                self._hook_busy = False
                self._hook_cv.notify_all()

    # ------------------------------------------------------------------ apply (LSN order)
    def _lock_buckets(self, bs: list[Bucket]) -> list[Bucket]:
        uniq = sorted({id(b): b for b in bs}.values(), key=lambda b: b.info.tbk)
        for b in uniq:
            b.lock.acquire_write()
        return uniq

    def _apply_create(self, info: BucketInfo, live: bool) -> Bucket:
        """Make sure the bucket exists on disk with this schema (replay may find a later one)."""
        b = self._buckets.get(info.tbk)
        if b is not None and b.info == info:
            return b
        if b is not None:  # replay only: a destroy + re-create follows later in the WAL
            self._apply_destroy(info.tbk)
        nb = self._new_bucket(info)
        nb.create_on_disk()
        self._dirty.add(os.path.join(nb.dir, "meta.json"))
        self._dirty_dirs.update(self._ancestors(nb.dir))
        with self._cat_lock:
            self._buckets[info.tbk] = nb
        return nb

    def _apply_writes(self, preps: list[Prepared], lsn: int) -> None:
        bs = [self._apply_create(p.info, True) for p in preps]
        locked = self._lock_buckets(bs)
        try:
            for p, b in zip(preps, bs, strict=True):
                b.apply_write(p.arrays, lsn, self._dirty)
        finally:
            for b in locked:
                b.lock.release_write()

    def _appends_only(self, preps: list[Prepared]) -> bool:
        """Every batch lands past its bucket's published rows (or creates the bucket)."""
        if len({p.info.tbk for p in preps}) != len(preps):
            return False
        for p in preps:
            b = self._buckets.get(p.info.tbk)
            if b is not None and (b.info != p.info or not b.appendable(p.arrays)):
                return False
        return True

    def _apply_appends_early(self, preps: list[Prepared], lsn: int,
                             checked: bool = False) -> Callable[[], None] | None:
        """Write batches that only append, invisibly, while the WAL fsync runs; see `_commit`.
        `checked`: the caller saw `_appends_only` with nothing applied since."""
        if not checked and not self._appends_only(preps):
            return None
        todo = [(p, self._buckets.get(p.info.tbk)) for p in preps]
        done: list[tuple[Bucket, bool, Callable[[], None] | None]] = []
        for p, maybe in todo:
            new = maybe is None
            b = maybe if maybe is not None else self._new_bucket(p.info)
            if new:  # created on disk now, entered in the catalog when published
                b.create_on_disk()
                self._dirty.add(os.path.join(b.dir, "meta.json"))
                self._dirty_dirs.update(self._ancestors(b.dir))
            done.append((b, new, b.apply_write(p.arrays, lsn, self._dirty, publish=False)))

        def publish() -> None:
            locked = self._lock_buckets([b for b, _, _ in done])
            try:
                for b, new, pub in done:
                    if pub is not None:
                        pub()
                    if new:
                        with self._cat_lock:
                            self._buckets[b.info.tbk] = b
            finally:
                for b in locked:
                    b.lock.release_write()
        return publish

    def _apply_delete(self, key: str, start_ns: int | None, end_ns: int | None, lsn: int) -> int:
        b = self._buckets.get(key)
        if b is None:
            return 0
        b.lock.acquire_write()
        try:
            return b.apply_delete(start_ns, end_ns, lsn, self._dirty)
        finally:
            b.lock.release_write()

    def _apply_destroy(self, key: str) -> None:
        b = self._buckets.get(key)
        if b is None:
            return
        b.lock.acquire_write()
        try:
            with self._cat_lock:
                self._buckets.pop(key, None)
            b.destroy_on_disk()
            self._dirty_dirs.update(self._ancestors(b.dir))  # removed files: fsync finds them gone
        finally:
            b.lock.release_write()

    def _ancestors(self, bucket_dir: str) -> list[str]:
        """Directories whose entries change when a bucket appears or goes: AG, TF, SYMBOL, root."""
        tf_dir = os.path.dirname(bucket_dir)
        return [bucket_dir, tf_dir, os.path.dirname(tf_dir), self.root]

    # ------------------------------------------------------------------ WAL replay
    def _replay(self) -> int:
        ckpt = walmod.read_checkpoint(self.wal_dir)
        last = ckpt
        files = walmod.wal_files(self.wal_dir)
        applied = 0
        for idx, (_first, path) in enumerate(files):
            lsn_before = last
            for fr in walmod.read_frames(path, truncate_bad_tail=True):
                if fr.lsn <= ckpt:
                    last = max(last, fr.lsn)
                    continue
                if fr.lsn != last + 1 and last != ckpt:
                    log.warning("WAL %s: LSN gap %d -> %d", path, last, fr.lsn)
                self._replay_frame(fr)
                last = max(last, fr.lsn)
                applied += 1
            if last == lsn_before and idx < len(files) - 1:
                log.warning("WAL %s holds no frames past LSN %d", path, last)
        self._counts["replayed_frames"] = applied
        if applied:
            log.warning("replayed %d WAL frames (checkpoint LSN %d, last LSN %d)", applied, ckpt, last)
        return last

    def _replay_frame(self, fr: walmod.Frame) -> None:
        h = fr.header
        if fr.kind == walmod.KIND_CREATE:
            self._apply_create(info_from_header(h), False)
            self._wcat[h["tbk"]] = info_from_header(h)
        elif fr.kind == walmod.KIND_WRITE:
            preps = decode_batches(h, fr.body)
            for p in preps:
                self._wcat[p.info.tbk] = p.info
            self._apply_writes(preps, fr.lsn)
        elif fr.kind == walmod.KIND_DELETE:
            self._apply_delete(h["tbk"], h["start"], h["end"], fr.lsn)
        elif fr.kind == walmod.KIND_DESTROY:
            self._apply_destroy(h["tbk"])
            self._wcat.pop(h["tbk"], None)
        else:
            log.error("unknown WAL frame kind %d at LSN %d; skipped", fr.kind, fr.lsn)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> None:
        """Flush bucket files, record the checkpoint LSN durably, rotate and delete old WAL files."""
        with self._ckpt_lock:
            with self._wlock:
                if self._closed or self._broken is not None:
                    return
                idle = self.wal.written_lsn == self._ckpt_lsn  # nothing logged since the last one
                if not idle:
                    last, olds = self.wal.rotate()
            if not idle:
                self._finish_checkpoint(last, olds)
            elif self._compactor is not None:  # files written before may have gone quiet
                self._zqueue += self._compactor.candidates(set(), final=False)
            self._run_compaction(final=False)

    def _checkpoint_locked(self) -> None:
        """Checkpoint with the writer lock already held (open, close)."""
        with self._ckpt_lock:
            if self.wal.written_lsn == self._ckpt_lsn and len(walmod.wal_files(self.wal_dir)) <= 1:
                return
            last, olds = self.wal.rotate()
            self._finish_checkpoint(last, olds)

    def _finish_checkpoint(self, last: int, olds: list[str]) -> None:
        with self._apply_cv:
            while self._applied_lsn < last:
                self._apply_cv.wait()
        for vb in self._stale_buckets.take():
            if not vb.dropped:
                vb.flush_headers()  # rows fsynced, then their header (fsynced with the files below)
        dirty = self._dirty.take()
        dirs = self._dirty_dirs.take()
        if self._compactor is not None:
            self._zqueue += self._compactor.candidates(dirty, final=False)
        for p in dirty:
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            dirs.add(os.path.dirname(p))
        for d in sorted(dirs, key=len, reverse=True):  # deepest first
            walmod.fsync_dir(d)
        walmod.write_checkpoint(self.wal_dir, last)
        self._ckpt_lsn = last
        self._counts["checkpoints"] += 1
        for p in olds:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    # ------------------------------------------------------------------ compression
    def compact(self) -> int:
        """Compact every past-year file of every fixed bucket now (whatever the setting);
        returns how many files were compacted."""
        with self._ckpt_lock:
            fixed = self._fixed_by_dir()
            paths = [p for b in fixed.values() for p in compactmod.year_files(b)]
            return compactmod.Compactor().compact(fixed, paths, self._exclusive)

    def _run_compaction(self, final: bool) -> None:
        """Compact the year files the checkpoints found quiet (all written ones when final)."""
        if self._compactor is None:
            return
        paths, self._zqueue = self._zqueue, []
        if final:
            paths += self._compactor.candidates(set(), final=True)
        elif not self._zswept:  # once per run: past years left raw by an earlier run or setting
            self._zswept = True
            paths += self._compactor.unwritten([p for b in self._fixed_by_dir().values()
                                                for p in compactmod.year_files(b)])
        if paths:
            n = self._compactor.compact(self._fixed_by_dir(), sorted(set(paths)),
                                        self._exclusive_locked if final else self._exclusive)
            if n:
                log.info("compacted %d year files", n)

    def _fixed_by_dir(self) -> dict[str, FixedBucket]:
        with self._cat_lock:
            return {b.dir: b for b in self._buckets.values() if isinstance(b, FixedBucket)}

    def _exclusive(self, b: FixedBucket, fn: Callable[[], None]) -> None:
        """Run fn with no write in flight (writer lock held, every logged frame applied) and
        the bucket's readers excluded; a write of that bucket waits, others briefly too."""
        with self._wlock:
            if self._closed or self._broken is not None:
                return
            self._exclusive_locked(b, fn)

    def _exclusive_locked(self, b: FixedBucket, fn: Callable[[], None]) -> None:
        with self._apply_cv:
            while self._applied_lsn < self.wal.written_lsn:
                self._apply_cv.wait()
        b.lock.acquire_write()
        try:
            if not b.dropped:
                fn()
        finally:
            b.lock.release_write()


# ---------------------------------------------------------------------- helpers
def _key(tbk: str) -> str:
    return str(TBK.parse(tbk))


def _fmt_cols(cols: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{n} {t}" for n, t in cols)
