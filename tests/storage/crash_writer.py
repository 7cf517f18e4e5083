"""Writer process for test_crash.py: writes numbered atomic batches and prints each id once
write_many() has returned (i.e. the batch is acknowledged). Killed with SIGKILL at random moments.

Batch i writes, in ONE atomic write_many:
  F/1Min/OHLCV   slots [i*K, (i+1)*K) with a = b = i, plus an overwrite of slot 0 with a = b = i
  V/1Sec/TICK    K ticks at T0 + i with a = b = i (out of order every 7th batch)
"""

from __future__ import annotations

import sys

import numpy as np

from pgmkts.storage import Engine

T0 = 1704067200
K = 50


def batch(i: int):
    e = T0 + 60 * np.arange(i * K, (i + 1) * K, dtype=np.int64)
    e = np.r_[e, T0]  # also overwrite slot 0: last write wins
    v = np.full(len(e), i, np.int64)
    te = np.full(K, T0 + (i if i % 7 else max(0, i - 5)), np.int64)
    tv = np.full(K, i, np.int64)
    return [("F/1Min/OHLCV", {"Epoch": e, "a": v, "b": v}, False),
            ("V/1Sec/TICK", {"Epoch": te, "Nanoseconds": np.arange(K, dtype=np.int32), "a": tv, "b": tv}, True)]


def main() -> None:
    root, start, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    eng = Engine(root, wal_sync=mode, wal_rotate_interval=0.004)  # checkpoints every ~0.25 s
    print("ready", flush=True)
    i = start
    while True:
        eng.write_many(batch(i))
        print(i, flush=True)
        i += 1


if __name__ == "__main__":
    main()
