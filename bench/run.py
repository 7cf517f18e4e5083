"""`python -m bench.run`: generate the data, run every system on it, print medians/ratios/goals, write
JSON + charts to bench/results/ and (full runs) the summary bench/RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import charts, report
from bench.base import Ctx, System
from bench.data import ROWS_PER_YEAR, load_dataset
from bench.goals import evaluate
from bench.timing import Measurement, call_with_timeout, measure_interleaved, settle, short_error
from bench.workloads import BY_KEY, WORKLOADS

HERE = Path(__file__).resolve().parent


def system_classes() -> dict[str, type[System]]:
    from bench.sys_arctic import ArcticSystem
    from bench.sys_duckdb import DuckdbSystem
    from bench.sys_hdf5 import Hdf5System
    from bench.sys_pgmkts import PgmktsSystem
    from bench.sys_pgmkts_zstd import PgmktsZstdSystem
    from bench.sys_postgres import PostgresSystem
    return {"pgmkts": PgmktsSystem, "postgres": PostgresSystem, "hdf5": Hdf5System,
            "arcticdb": ArcticSystem, "duckdb": DuckdbSystem, "pgmkts-zstd": PgmktsZstdSystem}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--symbols", type=int, default=20, help="symbols of 1 year of 1-minute bars (default 20)")
    p.add_argument("--scaling", action="store_true", help="run at 1, 20 and 100 symbols")
    p.add_argument("--sizes", default="", help="comma list of symbol counts (overrides --symbols/--scaling)")
    p.add_argument("--quick", action="store_true", help="1 symbol, 5 reps, short pgbench: fast iteration")
    p.add_argument("--days", type=int, default=365, help="days of bars per symbol (default 365)")
    p.add_argument("--tick-days", type=float, default=1.0, help="days of ticks (1 symbol, ~5 ticks/s)")
    p.add_argument("--systems", default="", help="comma list of: pgmkts,postgres,hdf5,arcticdb,duckdb,pgmkts-zstd")
    p.add_argument("--workloads", default="", help="comma list of workload keys: " +
                   ",".join(w.key for w in WORKLOADS))
    p.add_argument("--reps", type=int, default=None, help="timed repetitions per query (default 7, quick 5)")
    p.add_argument("--budget", type=float, default=None, help="seconds per (runner, workload) before stopping reps")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before one call is abandoned")
    p.add_argument("--load-timeout", type=float, default=1800.0, help="seconds for one system's bulk loads")
    p.add_argument("--append-reps", type=int, default=None, help="durable appends timed (default 50, quick 10)")
    p.add_argument("--pgbench-seconds", type=int, default=None, help="per pgbench mode (default 10, quick 3)")
    p.add_argument("--workdir", default=None, help="where the stores live (default: a temp dir, removed)")
    p.add_argument("--out", default=str(HERE / "results"), help="results directory")
    p.add_argument("--summary", default=None,
                   help="markdown summary path (default bench/RESULTS.md on a full run; 'none' to skip)")
    p.add_argument("--no-charts", action="store_true")
    p.add_argument("--notes", default="", help="free text recorded with the results")
    a = p.parse_args(argv)
    if a.quick:
        a.symbols = 1
    a.reps = a.reps or (5 if a.quick else 7)
    a.budget = a.budget or (5.0 if a.quick else 15.0)
    a.append_reps = a.append_reps or (10 if a.quick else 50)
    a.pgbench_seconds = a.pgbench_seconds or (3 if a.quick else 10)
    return a


def _set(results: dict, runner: str, key: str, m: Measurement) -> None:
    results.setdefault(runner, {})[key] = m


def _err(results: dict, runner: str, key: str, msg: str) -> None:
    _set(results, runner, key, Measurement(error=msg, unit=BY_KEY[key].unit))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def setup_system(system: System, ctx: Ctx, wanted: set[str], results: dict) -> list | None:
    """Start and load one system; its runners, or None (system closed) when it cannot be used."""
    name = system.name
    log(f"{name}: setup")
    try:
        system.setup(ctx)
    except Exception as exc:  # noqa: BLE001
        _err(results, name, "load", "start: " + short_error(exc))
        _close(system)
        return None
    log(f"{name}: load {ctx.ds.rows:,} rows")
    try:
        settle()
        loads = call_with_timeout(lambda: system.load(ctx), ctx.load_timeout)
        for r, m in loads.items():
            _set(results, r, "load", m)
            log(f"  {r}: {report.fmt_value(m.value, 'rows/s') if m.error is None else m.error}")
    except Exception as exc:  # noqa: BLE001
        _err(results, name, "load", short_error(exc))
        _close(system)
        return None
    if "bytes" in wanted:
        try:
            b = system.bytes_on_disk(ctx)
            if b is not None:
                _set(results, name, "bytes", Measurement(b / ctx.ds.rows, "B/row", [b / ctx.ds.rows],
                                                         note=getattr(system, "bytes_note", "")))
        except Exception as exc:  # noqa: BLE001
            _err(results, name, "bytes", short_error(exc))
    if wanted & {"tick_load", "tick_hour"} and ctx.ds.ticks:
        log(f"{name}: load {ctx.ds.tick_rows:,} ticks")
        try:
            settle()
            for r, m in system.load_ticks(ctx).items():
                _set(results, r, "tick_load", m)
        except Exception as exc:  # noqa: BLE001
            _err(results, name, "tick_load", short_error(exc))
    try:
        runners = system.runners(ctx)
    except Exception as exc:  # noqa: BLE001
        _err(results, name, "month", "runners: " + short_error(exc))
        runners = []
    for r, msg in getattr(system, "conn_errors", {}).items():
        _err(results, r, "month", msg)
    return runners


def _close(obj) -> None:
    try:
        obj.close()
    except Exception as exc:  # noqa: BLE001
        log(f"close {getattr(obj, 'name', obj)}: {short_error(exc)}")


def _append(fn, sym: str, base: int, counter) -> object:
    return fn(sym, base + 60 * next(counter))


def run_workload(wl, runners: list, ctx: Ctx, args, results: dict) -> None:
    """One workload on every runner that implements it, interleaved round-robin."""
    calls, by_name = {}, {}
    for slot, runner in enumerate(runners):
        fn = getattr(runner, wl.method, None)
        if fn is None or wl.key in runner.skip:
            continue
        if wl.key == "append":
            base = ctx.append_epoch0 + slot * 86400
            call = functools.partial(_append, fn, ctx.sym, base, iter(range(10**6)))
        else:
            a = wl.args(ctx)
            call = functools.partial(fn, *a)
            if hasattr(runner, "prime"):
                try:
                    runner.prime(wl.method, *a)
                except Exception as exc:  # noqa: BLE001 - reported in the table
                    _err(results, runner.name, wl.key, "record: " + short_error(exc))
                    continue
        calls[runner.name] = (call, runner.cancel)
        by_name[runner.name] = runner
    if not calls:
        return
    log(f"{wl.key}: {', '.join(calls)}")
    reps = args.append_reps if wl.key == "append" else args.reps
    for name, m in measure_interleaved(calls, reps=reps, budget=args.budget, timeout=args.timeout).items():
        _set(results, name, wl.key, m)
        log(f"  {name} {wl.key}: " + (f"error: {m.error}" if m.error else
                                       f"{report.fmt_value(m.value, 's')} (n={len(m.samples)})"))
        if m.note == "timeout" and hasattr(by_name[name], "reset"):
            try:
                by_name[name].reset()
            except Exception:
                pass


def run_pgbench(live: list[System], ctx: Ctx, wanted: set[str], results: dict) -> None:
    """Each PostgreSQL-protocol server in turn, per mode; server memory sampled while it runs."""
    from bench.pgbench import run_pgbench as pgb
    from bench.procmem import PeakSampler
    targets = [(s, t) for s in live if (t := s.pgbench_target()) is not None]
    peaks: dict[str, int] = {}
    for mode in ("simple", "prepared"):
        key = f"pgbench_{mode}"
        if key not in wanted and "rss" not in wanted:
            continue
        for system, target in targets:
            client = f"{system.name}/pgbench"
            with PeakSampler(system.server_pids()) as sampler:
                try:
                    tps = pgb(target, ctx.sym, mode, ctx.pgbench_seconds)
                    _set(results, client, key, Measurement(tps, "tps", [tps], note="8 clients"))
                    log(f"  {client} {mode}: {tps:,.0f} tps")
                except Exception as exc:  # noqa: BLE001
                    _err(results, client, key, short_error(exc))
                    log(f"  {client} {mode}: {short_error(exc)}")
            peaks[system.name] = max(peaks.get(system.name, 0), sampler.peak)
    if "rss" in wanted:
        for name, peak in peaks.items():
            if peak:
                mb = peak / 2**20
                _set(results, name, "rss", Measurement(mb, "MB", [mb], note="peak summed PSS during pgbench"))


def to_json(results: dict) -> dict:
    return {r: {w: m.to_json() for w, m in ws.items()} for r, ws in results.items()}


def run_size(n: int, args, systems: list[str], wanted: set[str], workdir: Path) -> dict:
    rows = args.days * 1440
    ds = load_dataset(n, rows=rows, tick_symbols=1 if wanted & {"tick_load", "tick_hour"} else 0,
                      tick_days=args.tick_days)
    log(f"data: {n} symbols × {rows:,} bars = {ds.rows:,} rows; {ds.tick_rows:,} ticks")
    ctx = Ctx.make(ds, str(workdir), reps=args.reps, budget=args.budget, timeout=args.timeout,
                   pgbench_seconds=args.pgbench_seconds, load_timeout=args.load_timeout)
    results: dict = {}
    classes = system_classes()
    live: list[System] = []
    runners: list = []
    try:
        for name in systems:              # every system is set up and loaded, one after the other ...
            system = classes[name]()
            rs = setup_system(system, ctx, wanted, results)
            if rs is not None:
                live.append(system)
                runners += rs
        for wl in WORKLOADS:              # ... then queried side by side, workload by workload
            if wl.method and wl.key in wanted and wl.key != "append":
                run_workload(wl, runners, ctx, args, results)
        if wanted & {"pgbench_simple", "pgbench_prepared", "rss"}:
            run_pgbench(live, ctx, wanted, results)
        if "append" in wanted:
            run_workload(BY_KEY["append"], runners, ctx, args, results)
    finally:
        for r in runners:
            _close(r)
        for system in live:
            log(f"{system.name}: close")
            _close(system)
        gc.collect()
    size = {"symbols": n, "rows_per_symbol": rows, "rows": ds.rows, "ticks": ds.tick_rows,
            "results": to_json(results)}
    size["goals"] = evaluate(results)
    return size


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    all_systems = list(system_classes())
    systems = [s.strip() for s in args.systems.split(",") if s.strip()] or all_systems
    bad = [s for s in systems if s not in all_systems]
    wanted = {w.strip() for w in args.workloads.split(",") if w.strip()} or {w.key for w in WORKLOADS}
    bad += [w for w in wanted if w not in BY_KEY]
    if bad:
        print(f"unknown system/workload: {', '.join(bad)}", file=sys.stderr)
        return 2
    wanted.add("load")
    sizes = [1, 20, 100] if args.scaling else [args.symbols]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    own_workdir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pgmkts-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run = {"meta": {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "argv": shlex.join(argv if argv is not None else sys.argv[1:]),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                    "notes": args.notes, "systems": systems, "full_year_rows": ROWS_PER_YEAR},
           "sizes": []}
    out = Path(args.out)
    texts = []
    try:
        for n in sizes:
            size = run_size(n, args, systems, wanted, workdir)
            run["sizes"].append(size)
            texts.append(report.print_run(size))
            report.write_json(run, out, stamp)
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    chart_paths = []
    if not args.no_charts and run["sizes"]:
        try:
            main_size = next((s for s in run["sizes"] if s["symbols"] == 20), run["sizes"][-1])
            chart_paths = [p for p in (charts.table_chart(main_size, out / f"{stamp}-table.png"),
                charts.scaling_chart(run["sizes"], out / f"{stamp}-scaling.png")) if p]
        except Exception as exc:  # noqa: BLE001
            log(f"charts failed: {short_error(exc)}")
    path = report.write_json(run, out, stamp)
    (out / f"{stamp}.txt").write_text("\n".join(texts))
    full = not args.quick and not args.systems and not args.workloads and args.days == 365
    summary = args.summary or (str(HERE / "RESULTS.md") if full else None)
    if summary and summary != "none":
        report.write_markdown(run, Path(summary), chart_paths)
        log(f"summary: {summary}")
    log(f"results: {path}" + "".join(f", {p}" for p in chart_paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
