"""COPY FROM STDIN receive path (Framer.copy_into / feed_copy, Connection._copy_in): CopyData
bodies land in one buffer whatever the message and socket-read boundaries, the messages after
the COPY are still framed, and on the real server the stored rows and errors do not depend on
how the payload is split; CopyFail, a bad last row and a dropped connection write nothing."""

from __future__ import annotations

import struct

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmkts import errors
from pgmkts.wire.framing import Framer
from tests.wire.rawpg import SYNC, Conn, error_code, msg, query, types

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\0" * 8
PG_EPOCH_US = 946_684_800_000_000


def cuts(data: bytes, points: list[int]) -> list[bytes]:
    at = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(at, at[1:], strict=False)]


def receive(wire: bytes, reads: list[int]) -> tuple[bytearray, list[tuple[bytes, bytes]], Framer, list[bytes]]:
    """Drive the framer as Connection._copy_in does, the socket delivering `wire` in pieces."""
    f = Framer()
    f.startup = False
    sink = bytearray()
    got = []
    chunks = cuts(wire, reads)
    while True:
        m = f.copy_into(sink)
        if m is not None:
            got.append((m.type, m.body))
            if m.type in (b"c", b"f"):
                return sink, got, f, chunks
            continue
        assert chunks, "ran out of input before CopyDone"
        f.feed_copy(chunks.pop(0), sink)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=3000), msg_cuts=st.lists(st.integers(0, 3000), max_size=12),
       read_cuts=st.lists(st.integers(0, 4000), max_size=20), sync=st.booleans())
def test_bodies_reassembled_at_any_boundaries(payload, msg_cuts, read_cuts, sync):
    parts = cuts(payload, msg_cuts)
    wire = b"".join(msg(b"d", p) for p in parts)
    wire += (SYNC if sync else b"") + msg(b"c") + query("SELECT 1")
    sink, got, f, unread = receive(wire, read_cuts)
    assert bytes(sink) == payload
    assert [t for t, _ in got] == ([b"S"] if sync else []) + [b"c"]
    # what followed the COPY is framed as usual, whatever was left in the buffer
    for chunk in unread:                  # the main loop reads on after the COPY
        f.feed(chunk)
    m = f.next_message()
    assert m is not None, "the Query after CopyDone was lost"
    assert (m.type, m.body) == (b"Q", b"SELECT 1\0")


def test_oversized_copydata_is_refused_as_before():
    f = Framer(max_message_bytes=100)
    f.startup = False
    with pytest.raises(errors.ProgramLimitExceeded):
        f.feed_copy(msg(b"d", b"x" * 101)[:50], bytearray())
    g = Framer(max_message_bytes=100)
    g.startup = False
    g.feed(msg(b"d", b"x" * 101)[:50])         # already buffered when the COPY starts
    with pytest.raises(errors.ProgramLimitExceeded):
        g.copy_into(bytearray())


# ---------------------------------------------------------------- against the real server
def row(i: int, sym: bytes) -> bytes:
    return (struct.pack("!h", 3) + struct.pack("!i", len(sym)) + sym
            + struct.pack("!iq", 8, i * 60_000_000 + 1_000_000_000_000) + struct.pack("!if", 4, i / 8))


PAYLOAD = HEADER + b"".join(row(i, s) for s in (b"AB", b"XYZ") for i in range(400)) + b"\xff\xff"


@pytest.fixture(scope="module")
def port(pgmkts_server):
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        for i in range(4):
            c.execute(f"CREATE TABLE rcv{i}_1min (symbol text, epoch timestamptz, open real)")
    return pgmkts_server.port


def copy_raw(port: int, table: str, parts: list[bytes], end: bytes = msg(b"c")):
    c = Conn(port)
    c.login()
    c.send(query(f"COPY {table} FROM STDIN (FORMAT binary)"))
    assert c.read()[0] == b"G"
    c.send(b"".join(msg(b"d", p) for p in parts) + end)
    out = c.until(b"Z")
    c.close()
    return out


def rows(port: int, table: str) -> list[tuple]:
    with psycopg.connect(f"host=127.0.0.1 port={port} user=pgmkts dbname=pgmkts", autocommit=True) as c:
        return c.execute(f"SELECT symbol, epoch, open FROM {table} ORDER BY symbol, epoch").fetchall()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.integers(0, len(PAYLOAD)), max_size=30))
def test_split_payload_stores_the_same_rows(port, points):
    want = rows(port, "rcv0_1min")
    if not want:
        out = copy_raw(port, "rcv0_1min", [PAYLOAD])
        assert (b"C", b"COPY 800\0") in out
        want = rows(port, "rcv0_1min")
    with psycopg.connect(f"host=127.0.0.1 port={port} user=pgmkts dbname=pgmkts", autocommit=True) as c:
        c.execute("DELETE FROM rcv1_1min")
    out = copy_raw(port, "rcv1_1min", cuts(PAYLOAD, points))
    assert (b"C", b"COPY 800\0") in out
    assert rows(port, "rcv1_1min") == want and len(want) == 800


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.integers(0, len(PAYLOAD)), max_size=10))
def test_bad_last_row_same_error_at_any_split(port, points):
    # the last row's last field claims a length past the end of the data
    bad = PAYLOAD[:-2 - 8] + b"\x7f\xff\xff\xff" + PAYLOAD[-2 - 4:]
    whole = [(t, error_code(b)) for t, b in copy_raw(port, "rcv2_1min", [bad]) if t == b"E"]
    split = [(t, error_code(b)) for t, b in copy_raw(port, "rcv2_1min", cuts(bad, points)) if t == b"E"]
    assert whole == split == [(b"E", "22P04")]
    assert rows(port, "rcv2_1min") == []


def test_copyfail_mid_stream_writes_nothing_and_connection_continues(port):
    c = Conn(port)
    c.login()
    c.send(query("COPY rcv3_1min FROM STDIN (FORMAT binary)"))
    assert c.read()[0] == b"G"
    half = len(PAYLOAD) // 2
    # CopyFail right after a partial CopyData body: the message boundary is kept
    c.send(msg(b"d", PAYLOAD[:1000]) + msg(b"d", PAYLOAD[1000:half]) + msg(b"f", b"client gave up\0"))
    out = c.until(b"Z")
    assert types(out) == b"EZ" and error_code(out[0][1]) == "57014"
    assert b"client gave up" in out[0][1]
    c.send(query("SELECT count(*) FROM rcv3_1min"))
    out = c.until(b"Z")
    assert (b"D", struct.pack("!hi", 1, 1) + b"0") in out
    c.close()


def test_connection_dropped_mid_copydata_writes_nothing(port):
    c = Conn(port)
    c.login()
    c.send(query("COPY rcv3_1min FROM STDIN (FORMAT binary)"))
    assert c.read()[0] == b"G"
    whole = msg(b"d", PAYLOAD)
    c.send(whole[:len(whole) // 2])      # the message is cut off by the disconnect
    c.close()
    # the server keeps serving, and nothing of the COPY was stored
    assert rows(port, "rcv3_1min") == []
    assert (b"C", b"COPY 800\0") in copy_raw(port, "rcv3_1min", [PAYLOAD])
    assert len(rows(port, "rcv3_1min")) == 800


# ---------------------------------------------------------------- large COPY through the real server
BASE_US = 500_000 * 60_000_000     # a minute boundary (2000-12-13): 1-minute buckets keep it as is


def big_body(sym: bytes, first: int, n: int) -> bytes:
    """n rows of (symbol, epoch, open) in binary COPY form, built with numpy (no per-row Python)."""
    rec = np.empty(n, np.dtype([("nf", ">i2"), ("ls", ">i4"), ("s", f"S{len(sym)}"), ("le", ">i4"),
                                ("e", ">i8"), ("lo", ">i4"), ("o", ">f4")]))
    i = np.arange(first, first + n)
    rec["nf"], rec["ls"], rec["s"], rec["le"], rec["lo"] = 3, len(sym), sym, 8, 4
    rec["e"] = i * 60_000_000 + BASE_US
    rec["o"] = i / 8
    return rec.tobytes()


def test_large_copy_every_row_once(pgmkts_server):
    """~130 MB through psycopg in 8 MiB writes (CopyData messages split anywhere in a tuple):
    every row of every symbol stored once, in order."""
    counts = {b"BIGA": 1_500_000, b"BIGBB": 900_000, b"BIGC": 1_600_000}
    parts = [HEADER] + [big_body(s, 0, n) for s, n in counts.items()] + [b"\xff\xff"]
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute("CREATE TABLE bigcopy_1min (symbol text, epoch timestamptz, open real)")
        with c.cursor().copy("COPY bigcopy_1min FROM STDIN (FORMAT binary)") as cp:
            for p in parts:
                for k in range(0, len(p), 8 << 20):
                    cp.write(p[k:k + (8 << 20)])
        got = c.execute("SELECT symbol, count(*), min(epoch), max(epoch), sum(open::float8) "
                        "FROM bigcopy_1min GROUP BY symbol ORDER BY symbol").fetchall()
    want = []
    for s, n in sorted(counts.items()):
        want.append((s.decode(), n, BASE_US, (n - 1) * 60_000_000 + BASE_US,
                     float(np.sum(np.arange(n) / 8, dtype=np.float64))))
    assert [(r[0], r[1]) for r in got] == [(w[0], w[1]) for w in want]
    for r, w in zip(got, want, strict=True):
        assert r[2].timestamp() * 1e6 - 946_684_800_000_000 == w[2]
        assert r[3].timestamp() * 1e6 - 946_684_800_000_000 == w[3]
        assert r[4] == pytest.approx(w[4], rel=1e-6)


def test_large_copy_bad_last_row_writes_nothing(port):
    """A damaged last tuple after ~100 MB: 22P04, nothing stored, the session goes on."""
    with psycopg.connect(f"host=127.0.0.1 port={port} user=pgmkts dbname=pgmkts", autocommit=True) as pc:
        pc.execute("CREATE TABLE dmg_1min (symbol text, epoch timestamptz, open real)")
    body = big_body(b"DMG", 0, 3_000_000)
    # the last row's last field claims a length past the end of the data
    bad = HEADER + body[:-8] + b"\x7f\xff\xff\xff" + body[-4:] + b"\xff\xff"
    c = Conn(port)
    c.login()
    c.send(query("COPY dmg_1min FROM STDIN (FORMAT binary)"))
    assert c.read()[0] == b"G"
    step = 1 << 20
    c.send(b"".join(msg(b"d", bad[k:k + step]) for k in range(0, len(bad), step)) + msg(b"c"))
    out = c.until(b"Z")
    assert types(out) == b"EZ" and error_code(out[0][1]) == "22P04"
    c.send(query("SELECT count(*) FROM dmg_1min"))
    out = c.until(b"Z")
    assert (b"D", struct.pack("!hi", 1, 1) + b"0") in out
    c.close()
