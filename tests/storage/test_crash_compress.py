"""kill -9 a writer that compacts and inflates year files all the time (storage_compression):
every acknowledged batch survives, none is half-applied, no file is left broken."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from pgmkts.storage.compress import ZMAGIC
from tests.storage.test_crash import REPO, _verify

WRITER = Path(__file__).with_name("crash_writer_z.py")


def _run_and_kill(root: Path, start: int, delay: float) -> list[int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, str(WRITER), str(root), str(start)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdout.readline().strip() == b"ready", p.stderr.read()
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    out, err = p.communicate()
    assert p.returncode == -signal.SIGKILL, err.decode()
    return [int(x) for x in out.split()]


def test_kill_minus_nine_during_compaction(tmp_path):
    root = tmp_path / "data"
    rng = random.Random(4321)
    acked: set[int] = set()
    nxt = 0
    compressed_seen = 0
    deadline = time.monotonic() + 18
    iterations = 0
    while time.monotonic() < deadline and iterations < 12:
        got = _run_and_kill(root, nxt, rng.uniform(0.05, 1.2))
        acked |= set(got)
        f = root / "F" / "1Min" / "OHLCV" / "2024.bin"
        if f.exists() and f.read_bytes()[:8] == ZMAGIC:
            compressed_seen += 1
        nxt = _verify(root, acked, nxt)  # opens with compression off: reads either form
        iterations += 1
    print(f"{iterations} kills, {len(acked)} acknowledged batches, {compressed_seen} left compressed")
    assert iterations >= 3 and len(acked) > 20
