"""limits.startup_timeout_s and limits.idle_timeout_s close only the offending connection."""

from __future__ import annotations

import psycopg

from tests.wire.rawpg import Conn, error_code, error_severity, types


def test_startup_and_idle_timeouts(fresh_server):
    srv = fresh_server("limits: {startup_timeout_s: 1, idle_timeout_s: 1.5}\n")
    silent = Conn(srv.port, timeout=20)
    silent.send(b"\x00\x00\x00\x20\x00\x03")  # a startup packet's first bytes, then nothing
    m = silent.read()
    assert m is not None and m[0] == b"E" and error_severity(m[1]) == "FATAL"
    assert silent.read() is None
    idle = Conn(srv.port, timeout=20)
    assert types(idle.login())[-1:] == b"Z"
    m = idle.read()                          # the server ends the idle session by itself
    assert m is not None and error_code(m[1]) == "57P05"
    assert idle.read() is None
    with psycopg.connect(srv.dsn) as c:      # everyone else is unaffected
        assert c.execute("SELECT 1").fetchone() == (1,)
