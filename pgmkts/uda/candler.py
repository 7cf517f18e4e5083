"""candlecandler and tickcandler: OHLC bars of a coarser window from bars or from ticks, with
optional Sum::col / Avg::col columns, as MarketStore's contrib/candler (outputs Epoch i8,
Open/High/Low/Close f4, <col>_SUM and <col>_AVG f8; windows left-closed and left-labelled)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pgmkts import errors

from .base import Batch, Context, empty_columns
from .kernels import reduce_runs, sorted_view, uniform_run_length, window_runs
from .parse import Bound, require_literals, resolve_column
from .registry import register
from .windows import parse_window


def _time_key(data: Batch, rows: np.ndarray) -> np.ndarray:
    """(Epoch, Nanoseconds) of the given rows as one int64 nanosecond key (for merges)."""
    e = np.asarray(data["Epoch"])[rows].astype(np.int64)
    ns = data.get("Nanoseconds")
    return e * 1_000_000_000 + (0 if ns is None else np.asarray(ns)[rows].astype(np.int64))


class _Candler:
    name: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ("Sum", "Avg")
    init_args: ClassVar[tuple[int, int]] = (1, 1)

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        require_literals(self.name, literals, *self.init_args)
        self.window = parse_window(literals[0])
        self.ctx = ctx
        have = [c for c, _ in ctx.input_schema]
        self.inputs = {p: [resolve_column(self.name, c, have) for c in bound.get(p)]
                       for p in self.required}
        # Output order follows MarketStore: every _SUM column, then every _AVG column.
        self.sum_names = list(dict.fromkeys(resolve_column(self.name, c, have) for c in bound.get("Sum")))
        self.avg_names = list(dict.fromkeys(resolve_column(self.name, c, have) for c in bound.get("Avg")))
        dtypes = dict(ctx.input_schema)
        for col in {c for cols in self.inputs.values() for c in cols} | set(self.sum_names) | set(self.avg_names):
            if np.dtype(dtypes[col]).kind not in "iufb":
                raise errors.DatatypeMismatch(
                    f"{self.name}: column {col!r} has non-numeric type {dtypes[col]}")
        self.parts: list[dict[str, np.ndarray]] = []
        self._k: int | None = None  # uniform run length of the batch being reduced

    # --- price columns: several columns bound to one parameter are averaged, in float32 as
    # MarketStore's GetAverageColumnFloat32 does
    def _price(self, data: Batch, param: str) -> np.ndarray:
        cols = self.inputs[param]
        if len(cols) == 1:
            return np.asarray(data[cols[0]]).astype(np.float32, copy=False)
        acc = np.zeros(len(data["Epoch"]), dtype=np.float32)
        for c in cols:
            acc += np.asarray(data[c], dtype=np.float32)
        return acc / np.float32(len(cols))

    def _ohlc(self, data: Batch, starts: np.ndarray, n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def update(self, batch: Batch) -> None:
        data = sorted_view(batch)
        e = np.asarray(data["Epoch"], dtype=np.int64)
        if e.size == 0:
            return
        starts, labels = window_runs(e, self.window, timezone=self.ctx.timezone)
        n = e.size
        self._k = uniform_run_length(starts, n)
        part = {"Epoch": labels, **self._ohlc(data, starts, n)}
        part["_t0"] = _time_key(data, starts)
        part["_t1"] = _time_key(data, np.append(starts[1:], n) - 1)
        part["_n"] = reduce_runs("count", None, starts, n)
        for col in dict.fromkeys(self.sum_names + self.avg_names):
            part["_s:" + col] = reduce_runs("sum", np.asarray(data[col]), starts, n, col,
                                            uniform=self._k).astype(np.float64)
        self.parts.append(part)

    def merge(self, other: _Candler) -> None:
        self.parts.extend(other.parts)

    def output_schema(self) -> list[tuple[str, str]]:
        return ([("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4")]
                + [(c + "_SUM", "f8") for c in self.sum_names]
                + [(c + "_AVG", "f8") for c in self.avg_names])

    def _combined(self) -> dict[str, np.ndarray]:
        """Partial states from disjoint time ranges → one row per window."""
        if len(self.parts) == 1:
            return self.parts[0]
        cat = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.lexsort((cat["_t0"], cat["Epoch"]))
        cat = {k: v[order] for k, v in cat.items()}
        lab = cat["Epoch"]
        n = lab.size
        starts = np.concatenate(([0], np.flatnonzero(lab[1:] != lab[:-1]) + 1)).astype(np.int64)
        # Close comes from the part holding the latest row of the window.
        last_idx = self._argmax_runs(cat["_t1"], starts, n)
        out = {"Epoch": lab[starts], "Open": cat["Open"][starts],
               "High": reduce_runs("max", cat["High"], starts, n),
               "Low": reduce_runs("min", cat["Low"], starts, n),
               "Close": cat["Close"][last_idx], "_n": np.add.reduceat(cat["_n"], starts)}
        for k in cat:
            if k.startswith("_s:"):
                out[k] = np.add.reduceat(cat[k], starts)
        return out

    @staticmethod
    def _argmax_runs(t: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
        run = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
        order = np.lexsort((t, run))  # within each run, ascending time; the run's last is its max
        ends = np.append(starts[1:], n) - 1
        return order[ends]

    def finalize(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return empty_columns(self.output_schema())
        c = self._combined()
        out = {"Epoch": c["Epoch"]}
        for k in ("Open", "High", "Low", "Close"):
            out[k] = c[k].astype(np.float32, copy=False)
        for col in self.sum_names:
            out[col + "_SUM"] = c["_s:" + col]
        for col in self.avg_names:
            out[col + "_AVG"] = c["_s:" + col] / c["_n"]
        return out


@register
class CandleCandler(_Candler):
    """candlecandler('5Min', Open, High, Low, Close, Sum::Volume, Avg::Volume)."""

    name: ClassVar[str] = "candlecandler"
    required: ClassVar[tuple[str, ...]] = ("Open", "High", "Low", "Close")

    def _ohlc(self, data: Batch, starts: np.ndarray, n: int) -> dict[str, np.ndarray]:
        k = self._k
        return {"Open": reduce_runs("first", self._price(data, "Open"), starts, n, uniform=k),
                "High": reduce_runs("max", self._price(data, "High"), starts, n, uniform=k),
                "Low": reduce_runs("min", self._price(data, "Low"), starts, n, uniform=k),
                "Close": reduce_runs("last", self._price(data, "Close"), starts, n, uniform=k)}


@register
class TickCandler(_Candler):
    """tickcandler('1Min', Price, Sum::Size): bars from one price column (or the average of several)."""

    name: ClassVar[str] = "tickcandler"
    required: ClassVar[tuple[str, ...]] = ("CandlePrice",)

    def _ohlc(self, data: Batch, starts: np.ndarray, n: int) -> dict[str, np.ndarray]:
        p, k = self._price(data, "CandlePrice"), self._k
        return {out: reduce_runs(agg, p, starts, n, uniform=k)
                for out, agg in (("Open", "first"), ("High", "max"), ("Low", "min"), ("Close", "last"))}
