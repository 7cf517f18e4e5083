"""Hostile bytes at the socket (hypothesis): each bad connection gets an error or is closed,
while another client keeps querying successfully throughout."""

from __future__ import annotations

import struct
import threading

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.wire.rawpg import Conn, msg, startup

TYPES = st.sampled_from([b"Q", b"P", b"B", b"D", b"E", b"C", b"H", b"S", b"d", b"c", b"f", b"p", b"F", b"\x00",
                         b"\xff", b"X"])
MESSAGE = st.one_of(
    st.builds(lambda t, body: msg(t, body), TYPES, st.binary(max_size=64)),
    # a length field that lies about the body
    st.builds(lambda t, ln, body: t + struct.pack("!i", ln) + body, TYPES,
              st.integers(-2**31, 2**31 - 1), st.binary(max_size=32)),
    st.binary(min_size=1, max_size=48),
)


class Background:
    """A well-behaved client querying in a loop; records any failure."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.stop = threading.Event()
        self.ok = 0
        self.errors: list[BaseException] = []
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as c:
                while not self.stop.is_set():
                    assert c.execute("SELECT 41 + 1").fetchone() == (42,)
                    self.ok += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.errors.append(e)


def _drain(conn: Conn) -> None:
    conn.sock.settimeout(0.3)
    try:
        while conn.read() is not None:
            pass
    except (TimeoutError, ConnectionError, OSError):
        pass


def test_fuzzed_messages_do_not_hurt_others(pgmkts_server):
    bg = Background(pgmkts_server.dsn)
    bg.t.start()

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.booleans(), st.lists(MESSAGE, min_size=1, max_size=5))
    def one(login: bool, messages: list[bytes]) -> None:
        c = Conn(pgmkts_server.port, timeout=5)
        try:
            if login:
                c.login()
            c.send(*messages)
            _drain(c)
        except (ConnectionError, OSError):
            pass
        finally:
            c.close()

    try:
        one()
    finally:
        bg.stop.set()
        bg.t.join(30)
    assert not bg.errors, bg.errors
    assert bg.ok > 0
    with psycopg.connect(pgmkts_server.dsn) as c:
        assert c.execute("SELECT 'still alive'").fetchone() == ("still alive",)


def test_garbage_startup_never_crashes(pgmkts_server):
    for junk in (b"\x00\x00\x00\x08\x00\x03\x00\x00", startup()[:-1] + b"x", b"\x00" * 64, b"\xff" * 9):
        c = Conn(pgmkts_server.port, timeout=5)
        c.send(junk)
        _drain(c)
        c.close()
    with psycopg.connect(pgmkts_server.dsn) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
