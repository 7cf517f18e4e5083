"""Frame (columns of one relation in flight) and the per-execution context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from pgmkts import errors


@dataclass
class Ctx:
    """Everything an execution needs besides the plan: time, parameters, session state."""

    now_us: int
    params: list[Any] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    session: Any = None
    engine: Any = None
    ctes: dict[str, Frame] = field(default_factory=dict)
    outer: Frame | None = None   # for correlated sub-queries (evaluated per outer row)
    deadline: float | None = None  # time.monotonic() limit from statement_timeout

    def check_cancel(self) -> None:
        """Raise QueryCanceled (57014) on CancelRequest or statement_timeout; called between phases."""
        ev = getattr(self.session, "cancel_event", None)
        if ev is not None and ev.is_set():
            raise errors.QueryCanceled("canceling statement due to user request")
        if self.deadline is not None:
            import time
            if time.monotonic() > self.deadline:
                raise errors.QueryCanceled("canceling statement due to statement timeout")

    @property
    def tz(self) -> str:
        return self.settings.get("TimeZone", "UTC")

    # for the catalog package (pgmkts.planner.catalog.snapshot reads these off the context)
    @property
    def user(self) -> str:
        return getattr(self.session, "user", "pgmkts")

    @property
    def database(self) -> str:
        return getattr(self.session, "database", "pgmkts")

    def declared_groups(self) -> dict:
        from pgmkts.planner.bind import declared_groups
        return declared_groups(self.engine) if self.engine is not None else {}


class Frame:
    """Named columns of equal length. names: (qualifier or None, column name) pairs."""

    __slots__ = ("cols", "names", "n", "subst", "meta", "grouping_src", "segments")

    def __init__(self, cols: list, names: list, n: int | None = None,
                 meta: list[dict | None] | None = None) -> None:
        self.cols = cols
        self.names = names
        self.n = n if n is not None else (len(cols[0]) if cols else 0)
        self.subst: dict[str, Any] | None = None   # expression key → precomputed column
        self.meta = meta or [None] * len(cols)        # per column: field metadata (pg_oid)
        self.grouping_src: Frame | None = None     # in an aggregate frame: the input (for 42803)
        self.segments: list[int] | None = None     # group scans: first row of each bucket (unfiltered)

    def find(self, name: str, qual: str | None) -> int | None:
        hits = [i for i, (q, nm) in enumerate(self.names)
                if nm == name and (qual is None or q == qual)]
        if not hits:
            return None
        if len(hits) > 1:
            raise errors.AmbiguousColumn(f'column reference "{name}" is ambiguous')
        return hits[0]

    def take(self, idx) -> Frame:
        ia = pa.array(idx) if not isinstance(idx, pa.Array) else idx
        cols = [c.take(ia) for c in self.cols]
        return Frame(cols, list(self.names), len(ia), list(self.meta))

    def filter(self, mask) -> Frame:
        if isinstance(mask, pa.Scalar):
            if mask.is_valid and mask.as_py():
                return self
            return self.take(np.zeros(0, np.int64))
        cols = [c.filter(mask, null_selection_behavior="drop") for c in self.cols]
        n = len(cols[0]) if cols else int(np.count_nonzero(
            mask.fill_null(False).to_numpy(zero_copy_only=False)))
        return Frame(cols, list(self.names), n, list(self.meta))

    def slice(self, offset: int, length: int | None) -> Frame:
        end = self.n if length is None else min(self.n, offset + length)
        offset = min(offset, self.n)
        return Frame([c.slice(offset, end - offset) for c in self.cols], list(self.names),
                     end - offset, list(self.meta))

    def requalify(self, alias: str | None, colnames: list[str] | None = None) -> Frame:
        names = [(alias, colnames[i] if colnames and i < len(colnames) else nm)
                 for i, (_q, nm) in enumerate(self.names)]
        return Frame(self.cols, names, self.n, list(self.meta))


def concat_frames(frames: list[Frame]) -> Frame:
    base = frames[0]
    cols = []
    for i in range(len(base.cols)):
        parts = [f.cols[i] for f in frames]
        cols.append(pa.concat_arrays([p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p
                                      for p in parts]))
    return Frame(cols, list(base.names), sum(f.n for f in frames), list(base.meta))
