"""Year files a fixed bucket keeps open (and mapped) between writes (fixed.py WRITE_FDS): the
rows written through them read back, before and after a reopen, and whatever replaces or
removes a file (compaction, inflation, DROP, close) lets go of it; past the budget, writes
open and close their files as before."""

from __future__ import annotations

import os

import numpy as np

from pgmkts.storage import Engine
from pgmkts.storage import fixed as fixedmod

Y2024 = 1704067200
COLS = [("Open", "f4"), ("Volume", "f8")]


def one_row(e: Engine, tbk: str, i: int) -> None:
    e.write(tbk, {"Epoch": np.array([Y2024 + 60 * i], np.int64), "Open": np.array([i / 4], np.float32),
                  "Volume": np.array([i * 10.0])})


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_one_row_appends_through_the_mapping_read_back_after_reopen(tmp_path):
    held = fixedmod.WRITE_FDS.held
    with Engine(tmp_path / "d", wal_rotate_interval=0) as e:
        e.create("A/1Min/OHLCV", COLS)
        for i in range(300):
            one_row(e, "A/1Min/OHLCV", i)
        e.write("A/1Min/OHLCV", {"Epoch": Y2024 + 60 * np.arange(300, 1300, dtype=np.int64),
                                 "Open": np.arange(300, 1300, dtype=np.float32) / 4,
                                 "Volume": np.arange(300, 1300) * 10.0})   # a bulk write: pwrite
        b = e._bucket("A/1Min/OHLCV")
        assert 2024 in b._wfds and 2024 in b._wmaps
        got = e.read("A/1Min/OHLCV")
        assert fixedmod.WRITE_FDS.held == held + 1
    assert fixedmod.WRITE_FDS.held == held
    with Engine(tmp_path / "d", wal_rotate_interval=0) as e:
        again = e.read("A/1Min/OHLCV")
    want = np.arange(1300)
    for g in (got, again):
        np.testing.assert_array_equal(g["Epoch"], Y2024 + 60 * want)
        np.testing.assert_array_equal(g["Open"], (want / 4).astype(np.float32))
        np.testing.assert_array_equal(g["Volume"], want * 10.0)


def test_past_the_budget_writes_open_and_close(tmp_path, monkeypatch):
    monkeypatch.setattr(fixedmod.WRITE_FDS, "limit", fixedmod.WRITE_FDS.held + 2)
    with Engine(tmp_path / "d", wal_rotate_interval=0) as e:
        names = [f"B{k}/1Min/OHLCV" for k in range(6)]
        for t in names:
            e.create(t, COLS)
        for i in range(5):
            for t in names:
                one_row(e, t, i)
        before = open_fds()
        for i in range(5, 40):
            for t in names:
                one_row(e, t, i)
        assert open_fds() <= before            # no descriptor per write left behind
        assert fixedmod.WRITE_FDS.held == fixedmod.WRITE_FDS.limit
        assert sum(1 for t in names if e._bucket(t)._wfds) == 2
        for t in names:
            np.testing.assert_array_equal(e.read(t)["Volume"], np.arange(40) * 10.0)


def test_compaction_inflation_and_drop_let_go(tmp_path):
    held = fixedmod.WRITE_FDS.held
    with Engine(tmp_path / "d", wal_rotate_interval=0, compression="zstd") as e:
        e.create("C/1Min/OHLCV", COLS)
        for i in range(50):
            one_row(e, "C/1Min/OHLCV", i)
        b = e._bucket("C/1Min/OHLCV")
        assert 2024 in b._wfds
        assert e.compact() == 1                # 2024 is a past year: rewritten compressed
        assert not b._wfds and not b._wmaps and fixedmod.WRITE_FDS.held == held
        for i in range(50, 60):                # late rows: inflated, then kept open again
            one_row(e, "C/1Min/OHLCV", i)
        assert 2024 in b._wfds
        np.testing.assert_array_equal(e.read("C/1Min/OHLCV")["Volume"], np.arange(60) * 10.0)
        e.destroy("C/1Min/OHLCV")
        assert not b._wfds and fixedmod.WRITE_FDS.held == held
