"""gap(['threshold']): holes in the Epoch sequence — above an explicit threshold duration, or
else with |z-score| > 3 (sample standard deviation) — as MarketStore's uda/gap."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Batch, Context
from .parse import Bound, require_literals
from .registry import register
from .windows import parse_window

Z_THRESHOLD = 3.0


@register
class Gap:
    name: ClassVar[str] = "gap"
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    init_args: ClassVar[tuple[int, int]] = (0, 1)

    def __init__(self, bound: Bound, literals: tuple[str, ...], ctx: Context) -> None:
        require_literals(self.name, literals, *self.init_args)
        # MarketStore silently falls back to the z-score on an unparsable threshold; a typo
        # should not change the meaning of the query, so it is an error here.
        self.threshold: int | None = parse_window(literals[0]).seconds if literals else None
        self.epochs: list[np.ndarray] = []

    def update(self, batch: Batch) -> None:
        self.epochs.append(np.asarray(batch["Epoch"], dtype=np.int64))

    def merge(self, other: Gap) -> None:
        self.epochs.extend(other.epochs)

    def output_schema(self) -> list[tuple[str, str]]:
        return [("Epoch", "i8"), ("End", "i8"), ("Length", "i8")]

    def finalize(self) -> dict[str, np.ndarray]:
        e = np.concatenate(self.epochs) if self.epochs else np.empty(0, dtype=np.int64)
        if e.size > 1 and not bool(np.all(e[1:] >= e[:-1])):
            e = np.sort(e, kind="stable")
        gaps = np.diff(e)
        if self.threshold is not None:
            big = np.flatnonzero(gaps > self.threshold)
        elif gaps.size >= 2:
            g = gaps.astype(np.float64)
            m, s = g.mean(), g.std(ddof=1)  # gonum's StdDev is the unbiased estimate
            if s == 0:
                s = 1.0
            big = np.flatnonzero(np.abs((g - m) / s) > Z_THRESHOLD)
        else:
            big = np.empty(0, dtype=np.int64)
        return {"Epoch": e[big], "End": e[big + 1], "Length": gaps[big].astype(np.int64)}
