"""The fast paths of Bind/Describe/Execute parsing and of the framer give exactly what the
checked readers give (values, or the same error and SQLSTATE) for arbitrary bytes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts.wire import messages as m
from pgmkts.wire.framing import Framer


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as e:   # the error class and SQLSTATE must match too
        return ("err", type(e), getattr(e, "sqlstate", None), str(e))


names = st.one_of(st.text(max_size=6), st.just(""), st.binary(max_size=4).map(lambda b: b.decode("latin-1")))


@st.composite
def bind_bodies(draw):
    """Well-formed, near-well-formed and random Bind bodies."""
    kind = draw(st.integers(0, 2))
    if kind == 2:
        return draw(st.binary(max_size=40))
    portal = draw(st.binary(max_size=5).filter(lambda b: b"\x00" not in b))
    stmt = draw(st.binary(max_size=5).filter(lambda b: b"\x00" not in b))
    nf, npar, nr = draw(st.integers(-1, 2)), draw(st.integers(-1, 2)), draw(st.integers(-1, 3))
    body = portal + b"\x00" + stmt + b"\x00" + struct.pack("!h", nf)
    body += b"".join(struct.pack("!h", draw(st.integers(-1, 2))) for _ in range(max(nf, 0)))
    body += struct.pack("!h", npar)
    for _ in range(max(npar, 0)):
        v = draw(st.one_of(st.none(), st.binary(max_size=4)))
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    body += struct.pack("!h", nr) + b"".join(struct.pack("!h", draw(st.integers(-1, 2))) for _ in range(max(nr, 0)))
    if kind == 1:
        body = body[:draw(st.integers(0, len(body)))] + draw(st.binary(max_size=3))
    return body


@settings(max_examples=500, deadline=None)
@given(bind_bodies())
def test_bind_fast_path_equals_checked(body):
    assert outcome(m.parse_bind, body) == outcome(m._parse_bind_checked, body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=12), st.tuples(st.sampled_from([b"S", b"P", b"X"]), st.binary(max_size=6))
                 .map(lambda t: t[0] + t[1] + b"\x00")))
def test_describe_close_fast_path_equals_checked(body):
    for what in ("Describe", "Close"):
        assert outcome(m.parse_describe_or_close, body, what) == outcome(m._parse_describe_or_close_checked, body, what)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=12), st.tuples(st.binary(max_size=6), st.integers(-2**31, 2**31 - 1))
                 .map(lambda t: t[0] + b"\x00" + struct.pack("!i", t[1]))))
def test_execute_fast_path_equals_checked(body):
    assert outcome(m.parse_execute, body) == outcome(m._parse_execute_checked, body)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"B", b"E", b"S", b"Q"]), st.binary(max_size=20)), max_size=5),
       st.binary(max_size=12), st.lists(st.integers(1, 30), max_size=6))
def test_framer_splits_like_the_checked_reader(msgs, junk, cuts):
    """Messages fed in arbitrary pieces come out whole and in order; a bad length raises the
    same error as the reference (needed()/_length) path."""
    stream = b"".join(t + struct.pack("!i", len(b) + 4) + b for t, b in msgs) + junk
    fast, ref = Framer(1 << 10), Framer(1 << 10)
    fast.startup = ref.startup = False
    got, want = [], []
    pos = 0
    for c in [*cuts, len(stream)]:
        if any(out and isinstance(out[-1][0], type) for out in (got, want)):
            break
        piece, pos = stream[pos:pos + c], pos + c
        for fr, out in ((fast, got), (ref, want)):
            fr.feed(piece)
            while True:
                if fr is ref:
                    r = outcome(lambda f=fr: None if f.needed() else f.next_message())
                else:
                    r = outcome(fr.next_message)
                if r[0] == "err":
                    out.append(r[1:3])
                    break
                if r[1] is None:
                    break
                out.append((r[1].type, r[1].body))
    assert got[:len(msgs)] == [(t, b) for t, b in msgs][:len(got)]
    assert got == want
