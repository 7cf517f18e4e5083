"""Repeated timing with a budget and a per-call timeout; results are medians of the samples taken."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class BenchTimeout(Exception):
    pass


@dataclass
class Measurement:
    value: float | None = None          # median (seconds for latencies; the unit's value otherwise)
    unit: str = "s"                     # s | rows/s | tps | B/row | MB
    samples: list[float] = field(default_factory=list)
    error: str | None = None
    note: str = ""
    rows: int | None = None             # rows the call returned (first run), to check all systems agree

    def to_json(self) -> dict:
        return {"value": self.value, "unit": self.unit, "samples": self.samples, "error": self.error,
                "note": self.note, "rows": self.rows}


def short_error(exc: BaseException, limit: int = 100) -> str:
    """One line: the first line of the message and, for a multi-line one (a traceback), its last line."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    if len(lines) > 1:
        text = text[:40] + " … " + lines[-1][-(limit - 45):]
    if isinstance(exc, BenchTimeout):
        return text
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def settle() -> None:
    """Before a timed bulk load: write back what earlier loads left dirty in the page cache
    (os.sync, untimed), so no load pays for another system's deferred writeback — the fsyncs
    of a load otherwise queue behind hundreds of MB that are not its own."""
    os.sync()


def call_with_timeout(fn: Callable[[], object], timeout: float, cancel: Callable[[], None] | None = None):
    """Run fn in a worker thread; on timeout call `cancel` (best effort) and raise BenchTimeout."""
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if cancel is not None:
            try:
                cancel()
            except Exception:
                pass
            t.join(5.0)
        raise BenchTimeout(f"timeout > {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def result_rows(result: object) -> int | None:
    try:
        return len(result)  # type: ignore[arg-type]
    except TypeError:
        return None


def measure(fn: Callable[[], object], *, reps: int, budget: float, timeout: float,
            cancel: Callable[[], None] | None = None, warmup: bool = True) -> Measurement:
    """Median wall time of fn() over up to `reps` runs, stopping early once `budget` seconds are spent.

    A first warm-up run is discarded unless it is slow (> budget/4), in which case it is the sample:
    slow queries are run once rather than skipped."""
    samples: list[float] = []
    spent = 0.0
    first = True
    rows = None
    while len(samples) < reps:
        t0 = time.perf_counter()
        result = call_with_timeout(fn, timeout, cancel)
        dt = time.perf_counter() - t0
        spent += dt
        if first:
            rows = result_rows(result)
        del result
        if first and warmup and dt <= budget / 4 and reps > 1:
            first = False
            continue
        first = False
        samples.append(dt)
        if spent >= budget:
            break
    return Measurement(statistics.median(samples), "s", samples, rows=rows)


@dataclass
class _Lane:
    fn: Callable[[], object]
    cancel: Callable[[], None] | None
    samples: list[float] = field(default_factory=list)
    spent: float = 0.0
    calls: int = 0
    rows: int | None = None
    error: str | None = None
    timed_out: bool = False
    done: bool = False


def measure_interleaved(calls: dict[str, tuple[Callable[[], object], Callable[[], None] | None]], *,
                        reps: int, budget: float, timeout: float, warmup: bool = True
                        ) -> dict[str, Measurement]:
    """Like `measure`, but round-robin over several runners (one call each per round), so that a
    machine whose load changes over time weighs on every system alike."""
    lanes = {k: _Lane(fn, cancel) for k, (fn, cancel) in calls.items()}
    while any(not ln.done for ln in lanes.values()):
        for ln in lanes.values():
            if ln.done:
                continue
            t0 = time.perf_counter()
            try:
                result = call_with_timeout(ln.fn, timeout, ln.cancel)
            except BenchTimeout as exc:
                ln.error, ln.timed_out, ln.done = str(exc), True, True
                continue
            except Exception as exc:  # noqa: BLE001 - reported in the table
                ln.error, ln.done = short_error(exc), True
                continue
            dt = time.perf_counter() - t0
            ln.spent += dt
            ln.calls += 1
            if ln.calls == 1:
                ln.rows = result_rows(result)
            del result
            if ln.calls == 1 and warmup and dt <= budget / 4 and reps > 1:
                continue
            ln.samples.append(dt)
            if len(ln.samples) >= reps or ln.spent >= budget:
                ln.done = True
    out = {}
    for k, ln in lanes.items():
        if ln.error is not None:
            out[k] = Measurement(error=ln.error, note="timeout" if ln.timed_out else "")
        else:
            out[k] = Measurement(statistics.median(ln.samples), "s", ln.samples, rows=ln.rows)
    return out
