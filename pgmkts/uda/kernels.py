"""Vectorised down-sampling: time-sorted column batches → one row per window (first/last/min/max/
sum/avg/count), shared by candlecandler, the SQL time_bucket push-down and ondiskagg."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pgmkts import errors

from .windows import GO_ZERO_UNIX, Window, as_window, calendar_boundaries

AGGS = ("first", "last", "min", "max", "sum", "avg", "count")

_EMPTY_I8 = np.empty(0, dtype=np.int64)


def time_order(data: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """None when rows are already in (Epoch, Nanoseconds) order, else a stable sorting permutation."""
    e = np.asarray(data["Epoch"])
    if e.size < 2:
        return None
    ns = data.get("Nanoseconds")
    if ns is None:
        if bool(np.all(e[1:] >= e[:-1])):
            return None
        return np.argsort(e, kind="stable")
    key = e.astype(np.int64) * 1_000_000_000 + np.asarray(ns, dtype=np.int64)
    if bool(np.all(key[1:] >= key[:-1])):
        return None
    return np.argsort(key, kind="stable")


def sorted_view(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = time_order(data)
    if order is None:
        return dict(data)
    return {k: np.asarray(v)[order] for k, v in data.items()}


def _nonempty(pos: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    nxt = np.empty_like(pos)
    nxt[:-1] = pos[1:]
    nxt[-1] = n
    keep = nxt > pos
    return pos[keep], labels[keep]


def window_runs(epochs: np.ndarray, window: Window | int | str, *, origin: int | None = None,
                timezone: str = "UTC") -> tuple[np.ndarray, np.ndarray]:
    """(first row of each non-empty window, window start epoch) for time-sorted `epochs`.

    Rather than computing a window number per row, the window boundaries are located in the
    sorted epochs by binary search: O(windows · log rows). A per-row pass is used only when
    windows outnumber rows (sparse data over a long span).
    """
    window = as_window(window)
    e = np.asarray(epochs, dtype=np.int64)
    n = e.size
    if n == 0:
        return _EMPTY_I8, _EMPTY_I8
    if window.fixed:
        w = window.n
        o = GO_ZERO_UNIX if origin is None else int(origin)
        first = int(e[0]) - (int(e[0]) - o) % w
        last = int(e[-1]) - (int(e[-1]) - o) % w
        nb = (last - first) // w + 1
        if nb > n:
            s = e - (e - o) % w
            starts = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))
            return starts, s[starts]
        labels = first + np.arange(nb, dtype=np.int64) * w
        fast = _uniform_runs(e, labels, w)
        if fast is not None:
            return fast, labels
        return _nonempty(np.searchsorted(e, labels, side="left"), labels, n)
    b = calendar_boundaries(window, int(e[0]), int(e[-1]), timezone)
    i0 = int(np.searchsorted(b, e[0], side="right")) - 1
    i1 = int(np.searchsorted(b, e[-1], side="right"))
    b = b[i0:i1]
    return _nonempty(np.searchsorted(e, b, side="left"), b, n)


def _uniform_runs(e: np.ndarray, labels: np.ndarray, width: int) -> np.ndarray | None:
    """Fast path for the fixed-slot layout: every window holds exactly k rows (e.g. a complete
    1Min → 1H year), so the run starts are arange(0, n, k) — checked exactly with two strided
    comparisons and no search."""
    nb = labels.size
    n = e.size
    if n % nb:
        return None
    k = n // nb
    if not (np.array_equal(e[::k], labels) and bool(np.all(e[k - 1::k] < labels + width))):
        return None
    return np.arange(0, n, k, dtype=np.int64)


def _check_numeric(agg: str, name: str, v: np.ndarray) -> None:
    if v.dtype.kind not in "iufb":
        raise errors.DatatypeMismatch(
            f"cannot compute {agg}() of column {name!r} of type {v.dtype.str}",
            hint="min/max/sum/avg need a numeric or boolean column; first/last/count take any")


def uniform_run_length(starts: np.ndarray, n: int) -> int | None:
    """k when every run holds exactly k rows (starts == arange(0, n, k)), else None."""
    b = starts.size
    if b == 0 or n % b:
        return None
    k = n // b
    if b > 1 and not bool(np.all(np.diff(starts) == k)):
        return None
    return k


# Below this run length, k strided element-wise passes over the (runs × k) reshape beat
# reduceat, whose per-run overhead dominates short runs (measured: 1Min→5Min max 0.7 ms vs 5 ms
# on a symbol-year); above it reduceat wins.
RESHAPE_MAX_K = 10


def _reduce_reshaped(agg: str, v: np.ndarray, k: int) -> np.ndarray:
    m = v.reshape(-1, k)
    if agg == "first":
        return m[:, 0].copy()
    if agg == "last":
        return m[:, k - 1].copy()
    _check_numeric(agg, "", v)
    kind = v.dtype.kind
    if agg in ("max", "min"):
        uf: Any
        if kind == "f":
            uf = np.fmax if agg == "max" else np.fmin
        elif kind == "b":
            uf = np.logical_or if agg == "max" else np.logical_and
        else:
            uf = np.maximum if agg == "max" else np.minimum
        acc = m[:, 0].copy()
        for j in range(1, k):  # a loop over the k slots of a window, not over rows
            uf(acc, m[:, j], out=acc)
        return acc
    dt = np.float64 if kind == "f" else (np.uint64 if kind == "u" else np.int64)
    total = m[:, 0].astype(dt)
    for j in range(1, k):
        np.add(total, m[:, j], out=total, casting="unsafe")
    return total if agg == "sum" else total / k


def reduce_runs(agg: str, v: np.ndarray | None, starts: np.ndarray, n: int, name: str = "",
                uniform: int | None = None) -> np.ndarray:
    """One aggregate over the runs beginning at `starts` (strictly increasing, starts[0] == 0).
    `uniform=k` says every run holds exactly k rows (see uniform_run_length)."""
    if agg == "count":
        return np.diff(np.append(starts, n)).astype(np.int64)
    assert v is not None
    if starts.size == 0:
        return _empty_result(agg, v.dtype)
    if uniform is not None and (uniform <= RESHAPE_MAX_K or agg in ("first", "last")) and agg in AGGS:
        if agg not in ("first", "last"):
            _check_numeric(agg, name, v)
        return _reduce_reshaped(agg, v, uniform)
    if agg == "first":
        return v[starts]
    if agg == "last":
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:] - 1
        ends[-1] = n - 1
        return v[ends]
    _check_numeric(agg, name, v)
    kind = v.dtype.kind
    if agg in ("max", "min"):
        uf: Any
        if kind == "f":  # NaN-skipping, as pandas and MarketStore's `>` comparisons
            uf = np.fmax if agg == "max" else np.fmin
        elif kind == "b":
            uf = np.logical_or if agg == "max" else np.logical_and
        else:
            uf = np.maximum if agg == "max" else np.minimum
        return uf.reduceat(v, starts)
    acc = np.float64 if kind == "f" else (np.uint64 if kind == "u" else np.int64)
    total = np.add.reduceat(v, starts, dtype=acc)
    if agg == "sum":
        return total
    if agg == "avg":
        return total.astype(np.float64) / np.diff(np.append(starts, n))
    raise errors.InvalidParameterValue(f"unknown aggregate {agg!r}; expected one of {', '.join(AGGS)}")


def _empty_result(agg: str, dtype: np.dtype) -> np.ndarray:
    if agg in ("first", "last", "min", "max"):
        return np.empty(0, dtype=dtype)
    if agg == "sum":
        return np.empty(0, dtype=np.float64 if dtype.kind == "f" else
                        (np.uint64 if dtype.kind == "u" else np.int64))
    if agg == "avg":
        return np.empty(0, dtype=np.float64)
    return _EMPTY_I8.copy()


def resample_ohlcv(data: Mapping[str, np.ndarray], tf_seconds_out: int | str | Window,
                   spec: Sequence[tuple[str, str, str]], timezone: str = "UTC", *,
                   origin: int | None = None) -> dict[str, np.ndarray]:
    """Down-sample `data` ({'Epoch': i8 seconds, ...}) into windows of `tf_seconds_out`.

    spec: (output_name, agg, input_column) with agg in first/last/min/max/sum/avg/count
    (input_column may be '*' for count). Windows are labelled by their start (left-closed,
    left-labelled); empty windows produce no row. Whole days/weeks are calendar windows in
    `timezone` (weeks start Monday); other widths are fixed, aligned to `origin` (default:
    MarketStore's alignment, equal to the Unix epoch for widths that divide a day). A str
    width ('5Min', '1M', '1Y') is parsed as MarketStore's candle duration.
    Output dtypes: first/last/min/max keep the input dtype; sum is int64/uint64/float64;
    avg float64; count int64.
    """
    if "Epoch" not in data:
        raise errors.UndefinedColumn("resample input has no Epoch column")
    for out_name, agg, col in spec:
        if agg not in AGGS:
            raise errors.InvalidParameterValue(
                f"unknown aggregate {agg!r} for output {out_name!r}; expected one of {', '.join(AGGS)}")
        if col not in data and not (agg == "count" and col == "*"):
            raise errors.UndefinedColumn(
                f"column {col!r} does not exist in the input (have: {', '.join(data)})")
    data = sorted_view(data)
    e = np.asarray(data["Epoch"], dtype=np.int64)
    starts, labels = window_runs(e, tf_seconds_out, origin=origin, timezone=timezone)
    n = e.size
    k = uniform_run_length(starts, n)
    out: dict[str, np.ndarray] = {"Epoch": labels}
    for out_name, agg, col in spec:
        v = None if (agg == "count") else np.asarray(data[col])
        out[out_name] = reduce_runs(agg, v, starts, n, col, uniform=k)
    return out
