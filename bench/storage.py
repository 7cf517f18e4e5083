"""In-process storage-engine benchmark (a script, not a test): `python -m bench.storage`.

20 symbols x 1 year of 1-minute bars (Epoch i8, Open/High/Low/Close f4, Volume f8), written
with wal_sync=commit, then reads, appends, bytes on disk and start-up time with many buckets.
Reference points (ArcticDB/LMDB, in-process): 6.9M rows/s write, 22 ms symbol-year read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

from pgmkts.storage import Engine

START = 1704067200  # 2024-01-01 UTC
ROWS = 525_600


def make_bars(seed: int, rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = (100.0 * np.exp(np.cumsum(rng.normal(0, 6e-4, rows)))).astype(np.float32)
    return {
        "Epoch": START + 60 * np.arange(rows, dtype=np.int64),
        "Open": close, "High": close * np.float32(1.001), "Low": close * np.float32(0.999), "Close": close,
        "Volume": np.round(rng.lognormal(6.0, 1.0, rows)),
    }


def median_ms(fn, n: int) -> float:
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def disk_bytes(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            total += os.stat(os.path.join(dirpath, f)).st_blocks * 512
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--buckets", type=int, default=10_000, help="buckets for the start-up test")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()

    base = tempfile.mkdtemp(prefix="pgmkts-bench-", dir=args.dir)
    results: list[tuple[str, str]] = []
    try:
        data = [make_bars(i, args.rows) for i in range(args.symbols)]
        total = args.symbols * args.rows
        root = os.path.join(base, "bars")
        eng = Engine(root, wal_sync="commit", wal_rotate_interval=0)
        t, c = time.perf_counter(), time.process_time()
        for i, d in enumerate(data):
            eng.write(f"S{i:03d}/1Min/OHLCV", d)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        results.append(("bulk write (wal_sync=commit)",
                        f"{total / dt / 1e6:.2f} M rows/s ({dt:.2f} s wall, {dc:.2f} s CPU)"))
        t = time.perf_counter()
        eng.checkpoint()
        results.append(("checkpoint after bulk write", f"{(time.perf_counter() - t) * 1e3:.0f} ms"))

        # durable one-row appends after the last bar
        d0 = data[0]
        k = [0]

        def append() -> None:
            k[0] += 1
            eng.write("S000/1Min/OHLCV", {c: a[-1:] if c != "Epoch" else a[-1:] + 60 * k[0]
                                          for c, a in d0.items()})
        append()
        results.append(("one-row durable append (median)", f"{median_ms(append, 300):.3f} ms"))

        tbk = "S001/1Min/OHLCV"
        r = eng.read(tbk)
        assert len(r["Epoch"]) == args.rows and np.array_equal(r["Close"], data[1]["Close"])
        results.append(("read symbol-year (median)", f"{median_ms(lambda: eng.read(tbk), 20):.2f} ms"))
        m0, m1 = (START + 31 * 86400 * 5) * 10**9, (START + 31 * 86400 * 6) * 10**9 - 1
        results.append(("read one month (median)", f"{median_ms(lambda: eng.read(tbk, m0, m1), 50):.2f} ms"))
        results.append(("read Close only, symbol-year", f"{median_ms(lambda: eng.read(tbk, columns=['Close']), 20):.2f} ms"))
        results.append(("last 100 rows (median)",
                        f"{median_ms(lambda: eng.read(tbk, limit=100, from_end=True), 200) * 1e3:.0f} us"))
        results.append(("last_epoch (median)", f"{median_ms(lambda: eng.last_epoch(tbk), 200) * 1e3:.1f} us"))
        eng.close()
        nbytes = disk_bytes(root)
        results.append(("file bytes per row", f"{nbytes / (total + 301):.1f} B (raw row 32 B)"))

        # the same files compacted (storage_compression: zstd): size and what decoding costs
        eng = Engine(root, wal_rotate_interval=0, compression="zstd")
        t = time.perf_counter()
        nz = eng.compact()
        results.append(("zstd: compact every year file", f"{(time.perf_counter() - t) * 1e3:.0f} ms ({nz} files)"))
        rz = eng.read(tbk)
        assert all(rz[c].tobytes() == r[c].tobytes() for c in r)
        results.append(("zstd: read symbol-year (median)", f"{median_ms(lambda: eng.read(tbk), 20):.2f} ms"))
        results.append(("zstd: read one month (median)", f"{median_ms(lambda: eng.read(tbk, m0, m1), 50):.2f} ms"))
        results.append(("zstd: read Close only, symbol-year",
                        f"{median_ms(lambda: eng.read(tbk, columns=['Close']), 20):.2f} ms"))
        results.append(("zstd: last 100 rows (median)",
                        f"{median_ms(lambda: eng.read(tbk, limit=100, from_end=True), 200) * 1e3:.0f} us"))
        eng.close()
        results.append(("zstd: file bytes per row", f"{disk_bytes(root) / (total + 301):.1f} B"))

        # ticks (variable-length): 5 days at ~5 trades/s, written in one-hour batches
        root_t = os.path.join(base, "ticks")
        eng = Engine(root_t, wal_sync="commit", wal_rotate_interval=0)
        rng = np.random.default_rng(7)
        n_t = 5 * 86400 * 5
        t_ns = np.sort(rng.integers(0, 5 * 86400 * 10**9, n_t)) + START * 10**9
        ticks = {"Epoch": t_ns // 10**9, "Nanoseconds": (t_ns % 10**9).astype(np.int32),
                 "Price": rng.random(n_t, dtype=np.float32), "Size": rng.integers(1, 500, n_t, dtype=np.int32)}
        hour = np.searchsorted(ticks["Epoch"], START + 3600 * np.arange(5 * 24 + 1))
        t = time.perf_counter()
        for a, b in zip(hour[:-1], hour[1:], strict=True):
            eng.write("BTC/1Sec/TRADE", {k: v[a:b] for k, v in ticks.items()}, variable_length=True)
        dt = time.perf_counter() - t
        results.append(("ticks: write in 1-hour batches", f"{n_t / dt / 1e6:.2f} M rows/s ({n_t} ticks)"))
        h0 = (START + 86400 * 2) * 10**9
        results.append(("ticks: read one hour (median)",
                        f"{median_ms(lambda: eng.read('BTC/1Sec/TRADE', h0, h0 + 3600 * 10**9 - 1), 50):.2f} ms"))
        results.append(("ticks: read all (median)", f"{median_ms(lambda: eng.read('BTC/1Sec/TRADE'), 10):.1f} ms"))
        results.append(("ticks: last 100 (median)",
                        f"{median_ms(lambda: eng.read('BTC/1Sec/TRADE', limit=100, from_end=True), 200) * 1e3:.0f} us"))
        eng.close()

        # start-up with many buckets
        root2 = os.path.join(base, "many")
        eng = Engine(root2, wal_sync="interval", wal_rotate_interval=0)
        one = {"Epoch": np.array([START]), "Close": np.array([1.0], np.float32)}
        t = time.perf_counter()
        batch = []
        for i in range(args.buckets):
            batch.append((f"B{i // 10:05d}/1Min/G{i % 10}", one, None))
            if len(batch) == 500:
                eng.write_many(batch)
                batch = []
        if batch:
            eng.write_many(batch)

        eng.close()
        t, c = time.perf_counter(), time.process_time()
        eng = Engine(root2, wal_rotate_interval=0)
        st, sc = time.perf_counter() - t, time.process_time() - c
        assert len(eng.buckets()) == args.buckets
        eng.close()
        results.append((f"start-up with {args.buckets} buckets", f"{st * 1e3:.0f} ms ({sc * 1e3:.0f} ms CPU)"))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    w = max(len(k) for k, _ in results)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"pgmkts storage engine, {args.symbols} symbols x {args.rows} 1-min bars "
          f"({os.cpu_count()} CPUs, load average {load:.1f})")
    for k, v in results:
        print(f"  {k:<{w}}  {v}")


if __name__ == "__main__":
    main()
