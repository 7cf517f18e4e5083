"""Result types the wire layer consumes (see docs/INTERFACES.md, planner section)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pgmkts.planner.copyspec import CopySpec


@dataclass
class Field:
    name: str
    type_oid: int
    typmod: int = -1


@dataclass
class Result:
    tag: str
    fields: list[Field] | None
    batches: Iterator[pa.RecordBatch] = field(default_factory=lambda: iter(()))
    copy: CopySpec | None = None
    empty: bool = False
    notices: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """A parsed (and, for SELECT, planned) statement: Parse/Describe answer without executing."""

    sql: str
    param_oids: list[int]          # inferred where the client sent 0
    fields: list[Field] | None     # None: the statement returns no rows (NoData)
    stmt: Any = None               # planner-private: parsed statement / cached plan
    name: str = ""


@dataclass
class Bound:
    prepared: Prepared
    params: list[object | None]
    name: str = ""
