"""The small-batch text encoder (wire/types/small.py) against independent references: floats
against the per-value shortest-round-trip formatters (pg_float_text, float4_text), timestamps
against the general vectorised formatter, whole batches against the general assembler."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts.wire.types import encode_column
from pgmkts.wire.types.core import assemble
from pgmkts.wire.types.scalar import pg_float_text
from pgmkts.wire.types.small import float4_text, small_text_datarows
from pgmkts.wire.types.text import encode_text


def values_of(data: bytes, n: int) -> list[bytes | None]:
    """Split DataRows of one column back into values."""
    out: list[bytes | None] = []
    pos = 0
    for _ in range(n):
        assert data[pos:pos + 1] == b"D"
        pos += 7
        ln = int.from_bytes(data[pos:pos + 4], "big", signed=True)
        pos += 4
        out.append(None if ln == -1 else data[pos:pos + ln])
        pos += max(ln, 0)
    assert pos == len(data)
    return out


def small(arr: pa.Array, oid: int, tz: str = "UTC") -> list[bytes | None]:
    batch = pa.record_batch([arr], names=["x"])
    return values_of(small_text_datarows(batch, [oid], tz), len(arr))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=60))
def test_float4_any_bit_pattern_matches_reference(bits):
    vals = np.array(bits, dtype=np.uint32).view(np.float32)
    got = small(pa.array(vals), 700)
    want = [pg_float_text(float(v), True).encode() for v in vals]
    assert got == want
    # the per-value %g search agrees too (independent algorithm)
    assert [float4_text(float(v)).encode() for v in vals] == want


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=60))
def test_float8_any_bit_pattern_matches_reference(bits):
    vals = np.array(bits, dtype=np.uint64).view(np.float64)
    assert small(pa.array(vals), 701) == [pg_float_text(float(v), False).encode() for v in vals]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(width=32)), min_size=1, max_size=40),
       st.lists(st.one_of(st.none(), st.floats(width=32)), min_size=1, max_size=40))
def test_float_columns_formatted_together_keep_their_rows(a, b):
    n = min(len(a), len(b))
    batch = pa.record_batch({"a": pa.array(a[:n], pa.float32()), "b": pa.array(b[:n], pa.float32()),
                             "c": pa.array(b[:n], pa.float64())})
    oids = [700, 700, 701]
    vec = assemble([encode_column(batch.column(i), o, 0) for i, o in enumerate(oids)], n)
    assert small_text_datarows(batch, oids, "UTC") == vec


_US = st.integers(-62135596800 * 10**6 - 10**12, 253402300799 * 10**6 + 10**12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_US, _US.map(lambda u: u - u % 10**6), st.none()), min_size=1, max_size=30),
       st.sampled_from(["UTC", "Etc/UTC", "America/New_York", "Asia/Kolkata"]))
def test_timestamps_match_general_formatter(us, tz):
    for oid, typ in ((1184, pa.timestamp("us", tz="UTC")), (1114, pa.timestamp("us"))):
        arr = pa.array(us, typ)
        want = [None if v is None else v.encode() for v in encode_text(arr, oid, tz).to_pylist()]
        assert small(arr, oid, tz) == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**31).map(lambda s: s * 10**6), min_size=1, max_size=30))
def test_whole_second_timestamps_match_general_formatter(us):
    """The fixed-width fast path (UTC, whole seconds) against the general one."""
    for oid, typ in ((1184, pa.timestamp("us", tz="UTC")), (1114, pa.timestamp("us"))):
        arr = pa.array(us, typ)
        want = [v.encode() for v in encode_text(arr, oid, "UTC").to_pylist()]
        assert small(arr, oid) == want


def test_bars_batch_equals_general_assembler():
    n = 100
    rng = np.random.default_rng(3)
    batch = pa.record_batch({
        "symbol": pa.array([f"S{i % 7}" for i in range(n)]),
        "epoch": pa.array(1_700_000_000_000_000 + np.arange(n) * 60_000_000, pa.timestamp("us", tz="UTC")),
        "open": pa.array((100 + rng.standard_normal(n)).astype(np.float32)),
        "volume": pa.array(rng.integers(0, 10**6, n).astype(np.float64)),
        "n": pa.array(rng.integers(-5, 5, n)),
        "ok": pa.array(rng.random(n) > 0.5),
    })
    oids = [25, 1184, 700, 701, 20, 16]
    vec = assemble([encode_column(batch.column(i), o, 0) for i, o in enumerate(oids)], n)
    assert small_text_datarows(batch, oids, "UTC") == vec
    assert small_text_datarows(batch.slice(0, 0), oids, "UTC") == b""
    sl = batch.slice(13, 40)   # offsets into shared buffers
    vec = assemble([encode_column(sl.column(i), o, 0) for i, o in enumerate(oids)], 40)
    assert small_text_datarows(sl, oids, "UTC") == vec


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=4)), st.one_of(st.none(), st.floats(width=32)),
                          st.one_of(st.none(), st.integers(-2**40, 2**40)), st.one_of(st.none(), st.floats())),
                min_size=1, max_size=30),
       st.lists(st.integers(0, 1), min_size=5, max_size=5))
def test_mixed_formats_equal_general_assembler(rows, fmts):
    """Binary columns (binary.py's encoders) and text columns laid out by the same gather."""
    sym, f4, i8, f8 = zip(*rows, strict=True)
    n = len(rows)
    batch = pa.record_batch({"s": pa.array(sym, pa.string()), "a": pa.array(f4, pa.float32()),
                             "t": pa.array([None if v is None else v * 10**6 for v in i8], pa.timestamp("us", tz="UTC")),
                             "i": pa.array(i8, pa.int64()), "b": pa.array(f8, pa.float64())})
    oids = [25, 700, 1184, 20, 701]
    vec = assemble([encode_column(batch.column(i), o, fmts[i]) for i, o in enumerate(oids)], n)
    assert small_text_datarows(batch, oids, "UTC", fmts) == vec
    # all binary and fixed width without NULLs: the structured-array layout
    fixed = batch.select([1, 3, 4]).filter(pa.array([all(r[k] is not None for k in (1, 2, 3)) for r in rows]))
    vec = assemble([encode_column(fixed.column(i), o, 1) for i, o in enumerate([700, 20, 701])], fixed.num_rows)
    assert small_text_datarows(fixed, [700, 20, 701], "UTC", [1, 1, 1]) == vec
