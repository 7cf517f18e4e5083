"""Writer process for test_crash_compress.py: crash_writer.py's numbered atomic batches with
storage_compression on, compacting the (past-year) fixed file after every other batch, so that
the next batch inflates it again: kill -9 lands inside compactions and inflations."""

from __future__ import annotations

import sys

from pgmkts.storage import Engine
from tests.storage.crash_writer import batch


def main() -> None:
    root, start = sys.argv[1], int(sys.argv[2])
    eng = Engine(root, wal_sync="commit", wal_rotate_interval=0.004, compression="zstd")
    print("ready", flush=True)
    i = start
    while True:
        eng.write_many(batch(i))
        print(i, flush=True)
        if i % 2:
            eng.compact()
        i += 1


if __name__ == "__main__":
    main()
