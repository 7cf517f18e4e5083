"""kill -9 a writer at random moments; every acknowledged batch must survive, none half-applied."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pgmkts.storage import Engine
from tests.storage.crash_writer import T0, K

WRITER = Path(__file__).with_name("crash_writer.py")
REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(root: Path, start: int, delay: float) -> list[int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, str(WRITER), str(root), str(start), "commit"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdout.readline().strip() == b"ready", p.stderr.read()
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    out, err = p.communicate()
    assert p.returncode == -signal.SIGKILL, err.decode()
    return [int(x) for x in out.split()]


def _verify(root: Path, acked: set[int], start_of_run: int) -> int:
    """Return the next batch id; assert the invariants."""
    with Engine(root, wal_rotate_interval=0) as e:
        f = e.read("F/1Min/OHLCV") if e.info("F/1Min/OHLCV") else {"Epoch": np.empty(0), "a": np.empty(0)}
        v = e.read("V/1Sec/TICK") if e.info("V/1Sec/TICK") else {"Epoch": np.empty(0), "a": np.empty(0)}
    assert np.array_equal(f["a"], f["b"]) if len(f["Epoch"]) else True
    assert np.array_equal(v["a"], v["b"]) if len(v["Epoch"]) else True
    slot = (f["Epoch"] - T0) // 60
    ids_f = set(np.unique(f["a"]).tolist())
    ids_v, counts = np.unique(v["a"], return_counts=True)
    present = set(ids_v.tolist())
    assert ids_f <= present | {int(f["a"][0])} if len(f["Epoch"]) else True
    assert all(c == K for c in counts), dict(zip(ids_v.tolist(), counts.tolist(), strict=True))  # no half batch, no duplicates
    missing = acked - present
    assert not missing, f"acknowledged batches lost: {sorted(missing)[:10]}"
    newest = max(present) if present else -1
    # every present batch i is complete in the fixed bucket (slots of i, except slot 0)
    for i in present:
        sel = (slot >= i * K) & (slot < (i + 1) * K) & (slot != 0)
        assert (f["a"][sel] == i).all() and sel.sum() == K - (1 if i == 0 else 0), i
    # slot 0 holds the newest batch (last write wins), ticks are sorted by time
    assert len(f["Epoch"]) == 0 or int(f["a"][0]) == newest
    keys = v["Epoch"] * 10**9 + v["Nanoseconds"]
    assert (np.diff(keys) >= 0).all()
    assert present == set(range(newest + 1)), "batches must be contiguous"
    return newest + 1


def test_kill_minus_nine(tmp_path):
    root = tmp_path / "data"
    rng = random.Random(1234)
    acked: set[int] = set()
    nxt = 0
    deadline = time.monotonic() + 18
    iterations = 0
    while time.monotonic() < deadline and iterations < 12:
        got = _run_and_kill(root, nxt, rng.uniform(0.05, 1.2))
        acked |= set(got)
        nxt = _verify(root, acked, nxt)
        iterations += 1
    print(f"{iterations} kills, {len(acked)} acknowledged batches, next id {nxt}")
    assert iterations >= 3 and len(acked) > 20
