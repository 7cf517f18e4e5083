"""Type codecs: text (text.py) and binary (binary.py) output per OID, vectorised per column;
parameter decoding (params.py); binary COPY input, vectorised (tuples.py); per-value codecs for
rare types (scalar.py)."""

from __future__ import annotations

import pyarrow as pa

from pgmkts.wire.types.binary import encode_binary
from pgmkts.wire.types.core import Encoded, assemble, from_arrow_binary
from pgmkts.wire.types.params import decode_param
from pgmkts.wire.types.small import SMALL_ROWS, small_text_datarows
from pgmkts.wire.types.text import encode_text


def encode_column(arr: pa.Array, oid: int, fmt: int, tz: str | None = "UTC") -> Encoded:
    """One result column in wire format `fmt` (0 text, 1 binary)."""
    if fmt == 1:
        return encode_binary(arr, oid)
    return from_arrow_binary(encode_text(arr, oid, tz))


def encode_datarows(batch: pa.RecordBatch, oids: list[int], formats: list[int], tz: str | None = "UTC") -> bytes:
    """A whole batch as consecutive DataRow messages."""
    if batch.num_rows <= SMALL_ROWS:
        return small_text_datarows(batch, oids, tz, formats)
    cols = [encode_column(batch.column(i), oids[i], formats[i], tz) for i in range(batch.num_columns)]
    return assemble(cols, batch.num_rows)


__all__ = ["Encoded", "assemble", "decode_param", "encode_binary", "encode_column", "encode_datarows",
           "encode_text"]
