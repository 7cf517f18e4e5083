"""count, min, max, avg: one output row over the whole input, as MarketStore's uda/ (Epoch is the
time of the call; Count i8, Min/Max f4, Avg f8)."""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from pgmkts import errors

from .base import Batch, Context
from .parse import Bound, require_literals, resolve_column
from .registry import register


def _now() -> np.ndarray:
    return np.array([int(time.time())], dtype=np.int64)


class _OneColumn:
    name: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ("*",)
    optional: ClassVar[tuple[str, ...]] = ()
    init_args: ClassVar[tuple[int, int]] = (0, 0)

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        require_literals(self.name, literals, *self.init_args)
        cols = bound.get("*")
        if len(cols) != 1 or cols[0] == "*":
            raise errors.InvalidParameterValue(f"{self.name} takes exactly one column, e.g. {self.name}(Close)")
        self.column = resolve_column(self.name, cols[0], [c for c, _ in ctx.input_schema])
        dt = np.dtype(dict(ctx.input_schema)[self.column])
        if dt.kind not in "iufb":
            raise errors.DatatypeMismatch(f"{self.name}: column {self.column!r} has non-numeric type {dt.str}")


@register
class Count:
    """count(*) or count(col): the number of input rows."""

    name: ClassVar[str] = "count"
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ("*",)
    init_args: ClassVar[tuple[int, int]] = (0, 0)

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        require_literals(self.name, literals, *self.init_args)
        cols = bound.get("*")
        if len(cols) > 1:
            raise errors.InvalidParameterValue("count takes at most one column, e.g. count(*)")
        if cols and cols[0] != "*":
            resolve_column(self.name, cols[0], [c for c, _ in ctx.input_schema])
        self.n = 0

    def update(self, batch: Batch) -> None:
        self.n += len(batch["Epoch"])

    def merge(self, other: Count) -> None:
        self.n += other.n

    def output_schema(self) -> list[tuple[str, str]]:
        return [("Epoch", "i8"), ("Count", "i8")]

    def finalize(self) -> dict[str, np.ndarray]:
        return {"Epoch": _now(), "Count": np.array([self.n], dtype=np.int64)}


class _Extreme(_OneColumn):
    out: ClassVar[str] = ""
    ufunc: ClassVar[np.ufunc]

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        super().__init__(bound, literals, ctx)
        self.value: float | None = None

    def update(self, batch: Batch) -> None:
        v = np.asarray(batch[self.column])
        if v.size == 0:
            return
        # MarketStore converts to float32 before comparing; rounding is monotone, so taking the
        # extreme first and rounding after gives the same value. fmax/fmin skip NaN.
        m = float(self.ufunc.reduce(v.astype(np.float64, copy=False)))
        self.value = m if self.value is None else float(self.ufunc(self.value, m))

    def merge(self, other: _Extreme) -> None:
        if other.value is not None:
            self.value = other.value if self.value is None else float(self.ufunc(self.value, other.value))

    def output_schema(self) -> list[tuple[str, str]]:
        return [("Epoch", "i8"), (self.out, "f4")]

    def finalize(self) -> dict[str, np.ndarray]:
        # An empty input yields NaN (MarketStore returns an uninitialised 0).
        v = np.nan if self.value is None else self.value
        return {"Epoch": _now(), self.out: np.array([v], dtype=np.float32)}


@register
class Max(_Extreme):
    name: ClassVar[str] = "max"
    out: ClassVar[str] = "Max"
    ufunc = np.fmax


@register
class Min(_Extreme):
    name: ClassVar[str] = "min"
    out: ClassVar[str] = "Min"
    ufunc = np.fmin


@register
class Avg(_OneColumn):
    name: ClassVar[str] = "avg"

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        super().__init__(bound, literals, ctx)
        self.total = 0.0
        self.n = 0

    def update(self, batch: Batch) -> None:
        v = np.asarray(batch[self.column])
        self.total += float(np.add.reduce(v, dtype=np.float64)) if v.size else 0.0
        self.n += v.size

    def merge(self, other: Avg) -> None:
        self.total += other.total
        self.n += other.n

    def output_schema(self) -> list[tuple[str, str]]:
        return [("Epoch", "i8"), ("Avg", "f8")]

    def finalize(self) -> dict[str, np.ndarray]:
        avg = self.total / self.n if self.n else np.nan
        return {"Epoch": _now(), "Avg": np.array([avg], dtype=np.float64)}
