"""Engine.deferred (an event loop's durable append that does not wait for its fsync) and the
preallocated WAL: published only once durable, WouldBlock before anything is logged whenever
the write would have to wait, fsync failures reported, and replay of a preallocated file."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from pgmkts import errors
from pgmkts.storage import wal as walmod
from pgmkts.storage.engine import Engine, WouldBlock

T0 = 1_700_000_000 - 1_700_000_000 % 86400
TBK = "D/1Min/OHLCV"


def _row(i: int, v: float | None = None) -> dict:
    return {"Epoch": np.array([T0 + 60 * i]), "v": np.array([float(i) if v is None else v])}


class Done:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.errors: list[BaseException | None] = []
        self.calls = 0

    def __call__(self, err: BaseException | None) -> None:
        self.calls += 1
        self.errors.append(err)
        self.event.set()

    def wait(self) -> BaseException | None:
        assert self.event.wait(10), "the deferred commit never completed"
        return self.errors[-1]


@pytest.fixture
def eng(tmp_path):
    e = Engine(tmp_path / "d", wal_rotate_interval=0)
    e.write(TBK, _row(0))
    yield e
    e.close()


def test_deferred_append_is_published_once_durable(eng):
    seen: list[int] = []
    eng.subscribe(lambda tbk, rows: seen.append(int(rows["Epoch"][0])), light=True)
    done = Done()
    with eng.deferred(done) as scope:
        assert eng.write(TBK, _row(1)) == 1
    assert scope.lsn == eng.wal.written_lsn
    assert done.wait() is None and done.calls == 1
    assert eng.wal.synced_lsn >= scope.lsn  # acknowledged only after its fsync
    assert seen == [T0 + 60]  # light subscribers ran before on_done
    assert eng.read(TBK)["v"].tolist() == [0.0, 1.0]


def test_deferred_new_bucket(eng):
    done = Done()
    with eng.deferred(done):
        eng.write("NEW/1Min/OHLCV", _row(5))
    assert done.wait() is None
    assert eng.read("NEW/1Min/OHLCV")["v"].tolist() == [5.0]


def _logged_nothing(eng, fn) -> None:
    before = eng.wal.written_lsn
    done = Done()
    with pytest.raises(WouldBlock), eng.deferred(done):
        fn()
    assert eng.wal.written_lsn == before and done.calls == 0


def test_slot_write_below_the_end_is_applied_after_the_fsync(eng):
    eng.write(TBK, _row(5))
    seen: list[float] = []
    eng.subscribe(lambda tbk, rows: seen.append(float(rows["v"][0])), light=True)
    for i, v in ((0, 9.0), (3, 3.0)):  # an overwrite, then an empty slot below the published end
        done = Done()
        with eng.deferred(done):
            eng.write(TBK, _row(i, v))
        assert done.wait() is None
    assert seen == [9.0, 3.0]
    assert eng.read(TBK)["v"].tolist() == [9.0, 3.0, 5.0]


def test_tick_merge_would_block(eng):
    ticks = "D/1Sec/TICK"
    eng.write(ticks, {"Epoch": np.array([T0 + 10]), "v": np.array([1.0])}, variable_length=True)
    _logged_nothing(eng, lambda: eng.write(ticks, {"Epoch": np.array([T0 + 5]), "v": np.array([2.0])}))
    done = Done()
    with eng.deferred(done):  # a tick after the last one is an append: deferred
        eng.write(ticks, {"Epoch": np.array([T0 + 20]), "v": np.array([3.0])})
    assert done.wait() is None
    assert eng.read(ticks)["v"].tolist() == [1.0, 3.0]


def test_writer_lock_busy_would_block(eng):
    with eng._wlock:
        _logged_nothing(eng, lambda: eng.write(TBK, _row(1)))


def test_heavy_subscriber_would_block(eng):
    unsubscribe = eng.subscribe(lambda tbk, rows: None)
    _logged_nothing(eng, lambda: eng.write(TBK, _row(1)))
    unsubscribe()
    done = Done()
    with eng.deferred(done):
        eng.write(TBK, _row(1))
    assert done.wait() is None


def test_interval_mode_would_block(tmp_path):
    with Engine(tmp_path / "i", wal_sync="interval", wal_rotate_interval=0) as e:
        _logged_nothing(e, lambda: e.write(TBK, _row(1)))


def test_commit_in_flight_would_block_then_both_land(eng, monkeypatch):
    # a deferred commit not yet durable (its fsync is held back) blocks the next deferral
    gate = threading.Event()
    real = os.fdatasync

    def slow(fd):
        gate.wait(10)
        real(fd)
    monkeypatch.setattr(walmod.os, "fdatasync", slow)
    first = Done()
    try:
        with eng.deferred(first):
            eng.write(TBK, _row(1))
        _logged_nothing(eng, lambda: eng.write(TBK, _row(2)))
    finally:
        gate.set()
    assert first.wait() is None
    eng.write(TBK, _row(2))
    assert eng.read(TBK)["v"].tolist() == [0.0, 1.0, 2.0]


def test_second_write_in_one_scope_is_synchronous(eng):
    done = Done()
    with eng.deferred(done) as scope:
        eng.write(TBK, _row(1))
        first = scope.lsn
        eng.write(TBK, _row(2))  # waits for the first's turn, then commits normally
    assert done.wait() is None and done.calls == 1 and scope.lsn == first
    assert eng.read(TBK)["v"].tolist() == [0.0, 1.0, 2.0]


def test_fsync_failure_is_reported_and_stops_writes(eng, monkeypatch):
    def failing(fd):
        raise OSError(5, "simulated EIO")
    monkeypatch.setattr(walmod.os, "fdatasync", failing)
    done = Done()
    with eng.deferred(done):
        eng.write(TBK, _row(1))
    err = done.wait()
    assert isinstance(err, errors.InternalError) and "fsync failed" in str(err)
    monkeypatch.undo()
    with pytest.raises(errors.InternalError):
        eng.write(TBK, _row(2))
    eng._broken = None  # let close() run its checkpoint


def test_preallocated_wal_replays_and_is_trimmed_on_close(tmp_path):
    root = tmp_path / "p"
    e = Engine(root, wal_rotate_interval=0)
    for i in range(5):
        done = Done()
        with e.deferred(done):
            e.write(TBK, _row(i))
        assert done.wait() is None
    path = e.wal.path
    assert os.path.getsize(path) >= walmod.PREALLOC_BYTES > e.wal.size  # zeros past the last frame
    e._simulate_crash()
    with Engine(root, wal_rotate_interval=0) as e2:  # replay stops quietly at the zero tail
        assert e2.read(TBK)["v"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        e2.write(TBK, _row(5))
    (_, path2), = walmod.wal_files(str(root / ".wal"))  # the close's checkpoint rotated
    assert os.path.getsize(path2) == walmod.FILE_HEAD.size  # checkpointed, closed, trimmed
    assert walmod.WAL.reusable(path2)
    with Engine(root, wal_rotate_interval=0) as e3:
        assert e3.wal.path == path2  # the empty file is reused, and preallocated again on use
        e3.write(TBK, _row(6))
        assert os.path.getsize(path2) >= walmod.PREALLOC_BYTES
        assert e3.read(TBK)["v"].tolist() == [float(i) for i in range(7)]
