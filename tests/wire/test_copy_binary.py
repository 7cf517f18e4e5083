"""Binary COPY input (pgmkts/wire/types/tuples.py): the vectorised paths (one structured view;
runs of one tuple shape; candidate scan + chain) agree with the reference per-field walk, and
bad input — NULLs, truncation, bad UTF-8 — fails the whole COPY with nothing written."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmkts import errors
from pgmkts.planner.copyspec import CopySpec
from pgmkts.planner.result import Field
from pgmkts.planner.session import Session
from pgmkts.storage import Engine
from pgmkts.wire.copy import BINARY_HEADER, CopyInDecoder
from pgmkts.wire.types import tuples as T

PG_EPOCH_US = 946_684_800_000_000
BAR = [Field("epoch", 1184), Field("open", 700), Field("volume", 701)]
GROUP = [Field("symbol", 25), *BAR]


def tup(vals: list[bytes | None]) -> bytes:
    out = struct.pack("!h", len(vals))
    for v in vals:
        out += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return out


def bar(i: int, sym: str | None = None, null: int = -1) -> bytes:
    vals: list[bytes | None] = [struct.pack("!q", i * 60_000_000), struct.pack("!f", i / 4),
                                struct.pack("!d", i * 10.0)]
    if null >= 0:
        vals[null] = None
    return tup(vals if sym is None else [sym.encode(), *vals])


def parse(stream: bytes, fields) -> pa.Table:
    dec = CopyInDecoder(CopySpec("in", "binary", fields))
    for i in range(0, len(stream), 4096):       # CopyData bodies of any size
        dec.feed(stream[i:i + 4096])
    return dec.table()


def reference(stream: bytes, fields) -> pa.Table:
    return T.parse_binary_slow(stream, len(BINARY_HEADER), fields)


def test_bucket_rows_one_structured_view():
    stream = BINARY_HEADER + b"".join(bar(i) for i in range(5000)) + b"\xff\xff"
    t = parse(stream, BAR)
    assert t.equals(reference(stream, BAR))
    assert t.column("epoch").type == pa.timestamp("us", tz="UTC")
    assert t.column("volume")[4999].as_py() == 49990.0
    # no trailer is accepted, as PostgreSQL accepts EOF at a tuple boundary
    assert parse(stream[:-2], BAR).equals(t)


def test_group_rows_in_runs_and_interleaved():
    syms = ["A", "MSFT", "GOOGL", "BRK.B", "Ä€"]
    grouped = b"".join(bar(i, s) for s in syms for i in range(300))
    interleaved = b"".join(bar(i, syms[i % len(syms)]) for i in range(3000))
    for body in (grouped, interleaved):
        stream = BINARY_HEADER + body + b"\xff\xff"
        t = parse(stream, GROUP)
        assert t.equals(reference(stream, GROUP))
        assert set(t.column("symbol").to_pylist()) == set(syms)


@pytest.mark.parametrize("depth", [1, 3, 12])
def test_text_value_that_looks_like_a_tuple(depth):
    # symbols whose bytes are whole fake tuples, chained `depth` deep: the candidate scan sees
    # extra starts; 12 deep outlasts the pruning rounds and is followed tuple by tuple
    fake = tup([b"X", struct.pack("!q", 0), struct.pack("!f", 0), struct.pack("!d", 0)]) * depth
    rows = [bar(i, "S" if i % 2 else fake.decode("latin-1")) for i in range(200)]
    stream = BINARY_HEADER + b"".join(rows) + b"\xff\xff"
    assert T._general(np.frombuffer(stream, np.uint8), len(BINARY_HEADER), GROUP).equals(reference(stream, GROUP))
    assert parse(stream, GROUP).equals(reference(stream, GROUP))


def test_nulls_become_nulls_on_every_path():
    body = b"".join(bar(i, "AB", null=1 if i % 7 == 3 else -1) for i in range(500))
    stream = BINARY_HEADER + body + b"\xff\xff"
    t = parse(stream, GROUP)
    assert t.equals(reference(stream, GROUP))
    assert t.column("open").null_count == len(range(3, 500, 7))
    assert T._general(np.frombuffer(stream, np.uint8), len(BINARY_HEADER), GROUP).equals(t)


@pytest.mark.parametrize("cut", [1, 3, 7, 20])
def test_truncated_stream_is_22P04(cut):
    stream = BINARY_HEADER + b"".join(bar(i, "AB") for i in range(100))
    with pytest.raises(errors.BadCopyFileFormat):
        parse(stream[:-cut], GROUP)
    with pytest.raises(errors.BadCopyFileFormat):
        parse(BINARY_HEADER + b"".join(bar(i) for i in range(100))[:-cut], BAR)


def test_wrong_field_count_and_bad_utf8():
    stream = BINARY_HEADER + bar(0, "A") + tup([b"x"]) + b"\xff\xff"
    with pytest.raises(errors.BadCopyFileFormat, match="field count"):
        parse(stream, GROUP)
    with pytest.raises(errors.CharacterNotInRepertoire):
        parse(BINARY_HEADER + b"".join(bar(i, "A") for i in range(3))
              + tup([b"\xff\xfe", struct.pack("!q", 0), struct.pack("!f", 0), struct.pack("!d", 0)])
              + b"\xff\xff", GROUP)


def test_infinite_timestamp_is_out_of_range():
    inf = tup([struct.pack("!q", 2**63 - 1), struct.pack("!f", 0), struct.pack("!d", 0)])
    with pytest.raises(errors.DatetimeFieldOverflow):
        parse(BINARY_HEADER + bar(0) + inf + b"\xff\xff", BAR)


_row = st.tuples(st.sampled_from(["", "A", "MSFT", "GOOGL", "ÄÖ"]),
                 st.integers(-2**40, 2**40), st.floats(width=32, allow_nan=False),
                 st.floats(allow_nan=False), st.integers(0, 9))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_row, st.integers(1, 80)), max_size=12), st.booleans())
def test_fast_paths_match_reference(groups, trailer):
    """Runs of repeated rows (each row repeated k times) cover runs, interleaving and NULLs."""
    body = b""
    for (sym, us, f4, f8, null), k in groups:
        vals: list[bytes | None] = [sym.encode(), struct.pack("!q", us), struct.pack("!f", f4),
                                    struct.pack("!d", f8)]
        if null < len(vals):
            vals[null] = None
        body += tup(vals) * k
    stream = BINARY_HEADER + body + (b"\xff\xff" if trailer else b"")
    want = reference(stream, GROUP)
    assert parse(stream, GROUP).equals(want)
    u8 = np.frombuffer(stream, np.uint8)
    general = T._general(u8, len(BINARY_HEADER), GROUP)
    assert general is None or general.equals(want)
    fixed_stream = BINARY_HEADER + b"".join(bar(i, null=n % 5 - 2) for i, n in
                                            enumerate(g[0][4] for g in groups)) + b"\xff\xff"
    assert parse(fixed_stream, BAR).equals(reference(fixed_stream, BAR))


# ---------------------------------------------------------------- all or nothing, through the planner
@pytest.fixture()
def session(tmp_path):
    with Engine(tmp_path / "data") as eng:
        s = Session(eng)
        list(s.execute('CREATE TABLE "ZZ/1Min/OHLCV" (epoch timestamptz, open real, volume double precision)'))
        list(s.execute("CREATE TABLE ohlcv_1min (symbol text, epoch timestamptz, open real, "
                       "volume double precision)"))
        yield s, eng


def copy_in(session: Session, table: str, stream: bytes) -> int:
    (res,) = list(session.execute(f"COPY {table} FROM STDIN (FORMAT binary)"))
    dec = CopyInDecoder(res.copy)
    dec.feed(stream)
    return res.copy.consume(dec.table())


def test_copy_with_null_writes_nothing(session):
    s, eng = session
    stream = BINARY_HEADER + bar(0) + bar(1, null=1) + b"\xff\xff"
    with pytest.raises(errors.NotNullViolation, match="open"):
        copy_in(s, '"ZZ/1Min/OHLCV"', stream)
    with pytest.raises(errors.NotNullViolation):
        copy_in(s, "ohlcv_1min", BINARY_HEADER + bar(0, "AA") + tup([None, *[b"\0" * 8, b"\0" * 4, b"\0" * 8]]))
    assert eng.info("AA/1Min/OHLCV") is None
    assert len(eng.read("ZZ/1Min/OHLCV")["Epoch"]) == 0


def test_truncated_copy_writes_nothing(session):
    s, eng = session
    stream = BINARY_HEADER + b"".join(bar(i, "QQ") for i in range(1000))
    with pytest.raises(errors.BadCopyFileFormat):
        copy_in(s, "ohlcv_1min", stream[:-5])
    assert eng.info("QQ/1Min/OHLCV") is None
    assert copy_in(s, "ohlcv_1min", stream + b"\xff\xff") == 1000
    got = eng.read("QQ/1Min/OHLCV")
    np.testing.assert_array_equal(got["Epoch"], (PG_EPOCH_US // 1_000_000) + 60 * np.arange(1000))


@pytest.mark.parametrize("interleaved", [False, True])
def test_group_copy_splits_per_symbol(session, interleaved):
    s, eng = session
    syms = ["AA", "BBB", "C"]
    order = [(i, syms[i % 3]) for i in range(300)] if interleaved else \
        [(i, sym) for sym in syms for i in range(300) if syms[i % 3] == sym]
    stream = BINARY_HEADER + b"".join(bar(i, sym) for i, sym in order) + b"\xff\xff"
    assert copy_in(s, "ohlcv_1min", stream) == 300
    for k, sym in enumerate(syms):
        got = eng.read(f"{sym}/1Min/OHLCV")
        want = np.arange(k, 300, 3)
        np.testing.assert_array_equal(got["Epoch"], PG_EPOCH_US // 1_000_000 + 60 * want)
        np.testing.assert_array_equal(got["volume"], want * 10.0)
