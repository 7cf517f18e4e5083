"""What the wire layer needs to run the COPY sub-protocol (CopyIn/CopyOut responses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from pgmkts.planner.result import Field


@dataclass
class CopySpec:
    direction: str                       # 'in' (FROM STDIN) or 'out' (TO STDOUT)
    format: str                          # 'text' | 'csv' | 'binary'
    fields: list[Field]                  # the columns, in the order they travel on the wire
    # delimiter, null, header (bool), quote, escape, encoding, force_quote... as PostgreSQL's
    # COPY options; defaults filled in by the planner (text: delimiter '\t', null '\\N';
    # csv: delimiter ',', null '', quote '"', escape = quote).
    options: dict[str, object] = field(default_factory=dict)
    # 'in': writes every row of `table` (columns named as `fields`, types as their OIDs) atomically
    # with Engine.write_many; returns the row count for the "COPY n" tag.
    consume: Callable[[pa.Table], int] | None = None
    # 'out': the rows to send, schema matching `fields`.
    batches: Iterator[pa.RecordBatch] | None = None
    # 'out' of a lazy FastResult (planner/session.py) instead of `batches`: `rows()` reads them,
    # and `cache_key` names them exactly, so the wire may send an identical earlier COPY's bytes
    cache_key: tuple | None = None
    rows: Callable[[], pa.RecordBatch] | None = None
