"""float4/float8 text output of the wire's small-batch and general encoders against a real
PostgreSQL 15 (shortest round-trip digits, exponent thresholds, -0, NaN, Infinity)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts.wire.types import encode_column
from pgmkts.wire.types.small import small_text_datarows
from tests.wire.test_small_text import values_of

SPECIAL32 = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e20, 1e-45, 3.4028235e38, 1e-4, 9.999e-5,
             999999.94, 1e6, 16777216.0, 0.1, 123456.7, 1.17549435e-38]


def pg_texts(oracle, vals: np.ndarray, typ: str) -> list[bytes]:
    # repr of the float64 value is exact, so PostgreSQL reads back the very same float4/float8
    lits = ["NaN" if v != v else ("Infinity" if v > 0 else "-Infinity") if np.isinf(v) else repr(float(v))
            for v in vals]
    with oracle.connect() as conn:
        rows = conn.execute(f"SELECT x::{typ}::text FROM unnest(%s::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i",
                            (lits,)).fetchall()
    return [r[0].encode() for r in rows]


def ours(vals: np.ndarray, oid: int) -> tuple[list, list]:
    arr = pa.array(vals)
    batch = pa.record_batch([arr], names=["x"])
    general = values_of(_general(arr, oid), len(arr))
    return values_of(small_text_datarows(batch, [oid], "UTC"), len(arr)), general


def _general(arr: pa.Array, oid: int) -> bytes:
    from pgmkts.wire.types.core import assemble
    return assemble([encode_column(arr, oid, 0)], len(arr))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=400),
       st.lists(st.floats(1e-5, 2e6), max_size=200))   # prices: the plain-notation range
def test_float4_text_equals_postgresql(oracle, bits, prices):
    vals = np.concatenate([np.array(bits, dtype=np.uint32).view(np.float32), np.array(prices, np.float32),
                           np.array(SPECIAL32, np.float32)])
    small, general = ours(vals, 700)
    want = pg_texts(oracle, vals, "float4")
    assert small == want
    assert general == want


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=400))
def test_float8_text_equals_postgresql(oracle, bits):
    vals = np.concatenate([np.array(bits, dtype=np.uint64).view(np.float64),
                           np.array(SPECIAL32 + [1e15, 123456789012345.6, 5e-324, 1.5e300], np.float64)])
    small, general = ours(vals, 701)
    assert small == pg_texts(oracle, vals, "float8")
    assert general == small
