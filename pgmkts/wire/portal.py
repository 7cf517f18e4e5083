"""Extended-protocol bookkeeping, sans-I/O: prepared statements, portals and row-limited
Execute (docs §55.2.3 "Extended Query"). A portal keeps its Result and the unsent remainder
of its current batch between Executes, so PortalSuspended resumes exactly where it stopped."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass
class Portal:
    bound: Any                               # planner Bound
    formats: list[int]                       # per result column (0 text, 1 binary)
    fields: list | None                      # what Describe announced (None: NoData)
    result: Any = None                       # planner Result once executed
    pending: pa.RecordBatch | None = None    # rows of the current batch not yet sent
    done: bool = False
    described: bool = False
    sent: int = 0                            # rows sent over all Executes
    extras: dict = field(default_factory=dict)


def take_rows(pending: pa.RecordBatch | None, batches: Iterator[pa.RecordBatch], limit: int
              ) -> tuple[pa.RecordBatch | None, pa.RecordBatch | None, bool]:
    """Next chunk to send under a row `limit` (<= 0: no limit).

    Returns (chunk or None when exhausted, new pending remainder, exhausted flag). Pulls at
    most one batch from the iterator per call so the caller can write with back-pressure.
    """
    batch = pending
    if batch is None or batch.num_rows == 0:
        batch = next(batches, None)
        while batch is not None and batch.num_rows == 0:
            batch = next(batches, None)
        if batch is None:
            return None, None, True
    if limit > 0 and batch.num_rows > limit:
        return batch.slice(0, limit), batch.slice(limit), False
    return batch, None, False


@functools.lru_cache(maxsize=64)   # read at every statement start; the setting rarely changes
def parse_duration_ms(value: str | int | None) -> int:
    """statement_timeout values: '0', '1500', '1.5s', '200ms', '1min' → milliseconds."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value).strip().strip("'").lower()
    if not s:
        return 0
    units = (("ms", 1), ("min", 60000), ("s", 1000), ("h", 3600000), ("d", 86400000), ("us", 0.001))
    for suffix, mult in units:
        if s.endswith(suffix):
            try:
                return int(float(s[: -len(suffix)].strip()) * mult)
            except ValueError:
                return 0
    try:
        return int(float(s))
    except ValueError:
        return 0
