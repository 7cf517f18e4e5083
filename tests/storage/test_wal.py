"""WAL recovery: torn and corrupt tails are discarded whole; replay applies each frame exactly once."""

from __future__ import annotations

import os
import shutil

import numpy as np

from pgmkts.storage import Engine
from pgmkts.storage import wal as walmod

T0 = 1704067200


def _wal_file(root):
    files = walmod.wal_files(os.path.join(root, ".wal"))
    assert len(files) == 1
    return files[0][1]


def _frame_offsets(path):
    offs = []
    with open(path, "rb") as f:
        data = f.read()
    pos = walmod.FILE_HEAD.size
    while pos < len(data):
        length, _ = walmod.FRAME_HEAD.unpack_from(data, pos)
        if length == 0:  # the preallocated rest of the file: zeros only
            assert not data[pos:].strip(b"\0")
            break
        offs.append(pos)
        pos += walmod.FRAME_HEAD.size + length
    return offs, pos


def _write_three(root):
    e = Engine(root, wal_rotate_interval=0)
    for i in range(3):
        e.write_many([
            ("F/1Min/OHLCV", {"Epoch": np.array([T0 + 60 * i]), "v": np.array([float(i)])}, None),
            ("V/1Sec/TICK", {"Epoch": np.array([T0, T0 + 1]), "v": np.array([float(i)] * 2)}, True),
        ])
    e._simulate_crash()


def _check(root, expect_third: bool):
    with Engine(root, wal_rotate_interval=0) as e:
        f = e.read("F/1Min/OHLCV")
        v = e.read("V/1Sec/TICK")
    n = 3 if expect_third else 2
    assert f["v"].tolist() == [float(i) for i in range(n)]
    assert sorted(v["v"].tolist()) == sorted([float(i) for i in range(n)] * 2)
    assert len(v["v"]) == 2 * n


def test_crash_without_checkpoint_replays_everything_once(tmp_path):
    root = tmp_path / "d"
    _write_three(root)
    assert os.path.getsize(_wal_file(root)) > 0
    _check(root, True)
    _check(root, True)  # reopen again: nothing duplicated


def test_replay_twice_never_duplicates_ticks(tmp_path):
    root = tmp_path / "d"
    _write_three(root)
    saved = tmp_path / "saved_wal"
    shutil.copytree(root / ".wal", saved)
    _check(root, True)  # replays, checkpoints, deletes the WAL
    # as if the process died after replaying but before its checkpoint: old WAL + old checkpoint back
    shutil.rmtree(root / ".wal")
    shutil.copytree(saved, root / ".wal")
    _check(root, True)
    shutil.rmtree(root / ".wal")
    shutil.copytree(saved, root / ".wal")
    os.unlink(root / ".wal" / "checkpoint") if (root / ".wal" / "checkpoint").exists() else None
    _check(root, True)


def test_torn_tail_at_every_offset(fast_tmp):
    tmp_path = fast_tmp
    pristine = tmp_path / "pristine"
    _write_three(pristine)
    offs, size = _frame_offsets(_wal_file(pristine))
    last = offs[-1]
    work = tmp_path / "work"
    for cut in range(last, size):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        # the applied data files of the crashed process already hold frame 3; remove them so
        # the test sees what the WAL alone restores (as after a power loss before write-back)
        for sub in ("F", "V"):
            shutil.rmtree(work / sub)
        with open(_wal_file(work), "r+b") as f:
            f.truncate(cut)
        _check(work, False)


def test_corrupt_byte_in_last_frame(fast_tmp):
    tmp_path = fast_tmp
    pristine = tmp_path / "pristine"
    _write_three(pristine)
    offs, size = _frame_offsets(_wal_file(pristine))
    work = tmp_path / "work"
    for pos in range(offs[-1], size, 7):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        for sub in ("F", "V"):
            shutil.rmtree(work / sub)
        path = _wal_file(work)
        with open(path, "r+b") as f:
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0x5A]))
        _check(work, False)
        assert not os.path.exists(path)  # tail cut, then rotated away by the checkpoint


def test_garbage_appended_after_frames(tmp_path):
    root = tmp_path / "d"
    _write_three(root)
    with open(_wal_file(root), "ab") as f:
        f.write(b"\xff\xff\xff\x7f" + os.urandom(50))
    _check(root, True)


def test_interrupted_merge_is_undone_then_replayed(fast_tmp, monkeypatch):
    """A crash in the middle of an out-of-order tick merge: the undo record restores the rows
    being rewritten, then WAL replay applies the batch exactly once."""
    from pgmkts import errors
    from pgmkts.storage import bucket as bucketmod
    from pgmkts.storage import variable as varmod

    root = fast_tmp / "d"
    e = Engine(root, wal_rotate_interval=0)
    tbk = "U/1Sec/TICK"
    e.write(tbk, {"Epoch": np.arange(T0, T0 + 100), "v": np.arange(100.0)}, variable_length=True)
    real = varmod.pwrite_all

    def torn(fd, arr, off):
        data = memoryview(bucketmod._u8(arr) if isinstance(arr, np.ndarray) else arr)
        os.pwrite(fd, bytes(len(data) // 2), off)  # half the rewrite lands as zeros, then "crash"
        raise OSError("simulated crash")

    monkeypatch.setattr(varmod, "pwrite_all", torn)
    try:
        e.write(tbk, {"Epoch": np.array([T0 + 50, T0 + 10]), "v": np.array([-1.0, -2.0])})
    except errors.InternalError:
        pass
    monkeypatch.setattr(varmod, "pwrite_all", real)
    assert os.listdir(root / ".wal").count("LOCK") == 1
    assert any(n.startswith("undo.") for n in os.listdir(root / ".wal"))
    e._simulate_crash()
    with Engine(root, wal_rotate_interval=0) as e2:
        got = e2.read(tbk)
    assert len(got["v"]) == 102
    exp_v = list(np.arange(100.0))
    exp_v.insert(11, -2.0)  # after the existing row at T0+10 (stable: old rows first)
    exp_v.insert(52, -1.0)
    assert got["v"].tolist() == exp_v
    assert not any(n.startswith("undo.") for n in os.listdir(root / ".wal"))


def test_appends_invisible_until_durable(fast_tmp):
    """An appended batch may be written while its fsync runs, but readers see it only after."""
    import threading

    e = Engine(fast_tmp / "d", wal_rotate_interval=0)
    try:
        for tbk, var in (("A/1Min/OHLCV", False), ("A/1Sec/TICK", True)):
            e.write(tbk, {"Epoch": np.array([T0]), "v": np.array([1.0])}, variable_length=var)
        real = e.wal.sync_upto
        entered, release = threading.Event(), threading.Event()

        def slow_sync(lsn):
            entered.set()
            release.wait(10)
            real(lsn)

        e.wal.sync_upto = slow_sync
        for tbk in ("A/1Min/OHLCV", "A/1Sec/TICK"):
            entered.clear()
            release.clear()
            t = threading.Thread(target=e.write, args=(tbk, {"Epoch": np.array([T0 + 60, T0 + 120]),
                                                              "v": np.array([2.0, 3.0])}))
            t.start()
            assert entered.wait(10)
            assert e.read(tbk)["v"].tolist() == [1.0]  # written to the file, not yet visible
            assert e.last_epoch(tbk) == T0
            release.set()
            t.join()
            assert e.read(tbk)["v"].tolist() == [1.0, 2.0, 3.0]
        # a brand-new bucket is not in the catalog before it is durable either
        entered.clear()
        release.clear()
        t = threading.Thread(target=e.write, args=("NEW/1Min/OHLCV", {"Epoch": np.array([T0]),
                                                                      "v": np.array([1.0])}))
        t.start()
        assert entered.wait(10)
        assert e.info("NEW/1Min/OHLCV") is None
        release.set()
        t.join()
        assert e.read("NEW/1Min/OHLCV")["v"].tolist() == [1.0]
        e.wal.sync_upto = real
    finally:
        e.close()


def test_unpublished_leftovers_never_surface(fast_tmp):
    """If an appended batch's frame is lost (fsync failed, then the WAL tail is gone), the rows
    it left in the data files stay invisible, also when later writes extend the bucket."""
    from pgmkts import errors

    root = fast_tmp / "d"
    e = Engine(root, wal_rotate_interval=0)
    f, v = "L/1Min/OHLCV", "L/1Sec/TICK"
    e.write(f, {"Epoch": T0 + 60 * np.arange(10), "v": np.arange(10.0)})
    e.write(v, {"Epoch": T0 + np.arange(10), "v": np.arange(10.0)}, variable_length=True)
    size_before = e.wal.size  # the end of the last frame (the file is preallocated past it)

    def failing(lsn):
        raise OSError("simulated fsync failure")

    e.wal.sync_upto = failing
    for tbk, ep in ((f, T0 + 60 * np.arange(20, 30)), (v, T0 + np.arange(20, 30))):
        try:
            e.write(tbk, {"Epoch": ep, "v": np.full(10, -1.0)})
        except errors.InternalError:
            pass
        else:
            raise AssertionError("write should fail")
        e._broken = None  # let the second write try as well
    e._simulate_crash()
    with open(_wal_file(root), "r+b") as fh:  # the lost frames: as after a power cut
        fh.truncate(size_before)
    with Engine(root, wal_rotate_interval=0) as e2:
        assert e2.read(f)["v"].tolist() == list(np.arange(10.0))
        assert e2.read(v)["v"].tolist() == list(np.arange(10.0))
        e2.write(f, {"Epoch": np.array([T0 + 60 * 40]), "v": np.array([40.0])})
        e2.write(v, {"Epoch": np.array([T0 + 40]), "v": np.array([40.0])})
        assert e2.read(f)["v"].tolist() == [*np.arange(10.0), 40.0]
        assert e2.read(v)["v"].tolist() == [*np.arange(10.0), 40.0]
        assert e2.read(f, limit=2, from_end=True)["v"].tolist() == [9.0, 40.0]
