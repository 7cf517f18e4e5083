"""The aggregate interface every UDA implements (init with arguments, update per batch, merge,
finalize, output schema) and the context it is created with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from .parse import Bound

Batch = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Context:
    """What an aggregate knows about its input besides the columns."""

    tf_seconds: int          # the input bucket's timeframe (0 when unknown)
    timezone: str = "UTC"    # for calendar windows (1D, 1W, months, years)
    input_schema: tuple[tuple[str, str], ...] = ()   # (column, numpy dtype str) of the input


@runtime_checkable
class Aggregate(Protocol):
    """A MarketStore UDA.

    Lifecycle: `cls(bound, literals, ctx)` validates arguments against `ctx.input_schema`
    (raising InvalidParameterValue / UndefinedColumn), then `update(batch)` once per
    time-ordered batch, `merge(other)` to combine partial states computed on disjoint
    time ranges (as parallel scans would), and `finalize()` returns the output columns, whose
    names and dtypes `output_schema()` gives before any data is seen.
    """

    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]]     # parameter names bound positionally first
    optional: ClassVar[tuple[str, ...]]     # bound after them, or by name ('Sum::Volume')
    init_args: ClassVar[tuple[int, int]]    # (min, max) number of quoted literals

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None: ...

    def update(self, batch: Batch) -> None: ...

    def merge(self, other: Self) -> None: ...

    def finalize(self) -> dict[str, np.ndarray]: ...

    def output_schema(self) -> list[tuple[str, str]]: ...


def empty_columns(schema: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    return {name: np.empty(0, dtype=dt) for name, dt in schema}
