"""Frames → wire results: Field list (type OIDs) and RecordBatches; intervals as PostgreSQL text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.result import Field, Result
from pgmkts.planner.types import oid_of

BATCH_ROWS = 65536


def frame_fields(frame: Frame) -> list[Field]:
    out = []
    for c, (_q, name), meta in zip(frame.cols, frame.names, frame.meta, strict=False):
        if pa.types.is_duration(c.type) or pa.types.is_interval(c.type):
            out.append(Field(name, 1186))
            continue
        out.append(Field(name, oid_of(_wire_type(c.type), meta)))
    return out


def _interval_text(c: pa.Array) -> pa.Array:
    """interval/duration → PostgreSQL's interval text (IntervalStyle postgres); typed 1186."""
    from pgmkts.planner.exec.values import Interval
    out: list[str | None] = []
    if pa.types.is_duration(c.type):
        for us in pc.cast(c, pa.int64()).to_pylist():
            if us is None:
                out.append(None)
                continue
            days, rest = divmod(abs(us), 86_400_000_000)
            sign = -1 if us < 0 else 1
            out.append(Interval(0, sign * days, sign * rest).text())
    else:
        for v in c.to_pylist():
            out.append(None if v is None else Interval(v.months, v.days, v.nanoseconds // 1000).text())
    return pa.array(out, pa.string())


def _wire_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return t.value_type
    return pa.string() if pa.types.is_null(t) else t


def frame_result(frame: Frame, tag: str) -> Result:
    fields = frame_fields(frame)
    cols = []
    for c in frame.cols:
        if isinstance(c, pa.ChunkedArray):
            c = c.combine_chunks()
        if pa.types.is_dictionary(c.type):
            c = c.cast(c.type.value_type)
        if pa.types.is_null(c.type):
            c = pa.nulls(len(c), pa.string())
        elif pa.types.is_duration(c.type) or pa.types.is_interval(c.type):
            c = _interval_text(c)
        cols.append(c)
    schema = pa.schema([pa.field(f.name, c.type) for f, c in zip(fields, cols, strict=False)])
    if not cols:
        return Result(tag=tag, fields=fields, batches=iter(()))
    batch = pa.RecordBatch.from_arrays(cols, schema=schema)
    if batch.num_rows <= BATCH_ROWS:
        return Result(tag=tag, fields=fields, batches=iter([batch]))
    return Result(tag=tag, fields=fields,
                  batches=iter([batch.slice(i, BATCH_ROWS) for i in range(0, batch.num_rows, BATCH_ROWS)]))
