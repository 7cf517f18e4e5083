"""Protocol behaviour on a raw socket against the real server: extended query, pipelining,
row limits, Describe without execution, error recovery, limits, sniffing, bad input."""

from __future__ import annotations

import socket
import struct

import psycopg
import pytest

from tests.wire.rawpg import (
    FLUSH,
    SYNC,
    TERMINATE,
    Conn,
    bind,
    describe,
    error_code,
    error_severity,
    execute,
    msg,
    parse,
    query,
    startup,
    types,
)

TBK = '"WIRE/1Min/OHLCV"'


@pytest.fixture(scope="module")
def port(pgmkts_server):
    with psycopg.connect(pgmkts_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE TABLE {TBK} (epoch timestamptz, open real, high real, low real, close real, volume bigint)")
        c.execute(f"INSERT INTO {TBK} SELECT to_timestamp(1704067200 + g * 60), g, g + 1, g - 1, g + 0.5, g * 10 "
                  "FROM generate_series(0, 9) AS g")
    return pgmkts_server.port


def test_startup_reports_parameters(port):
    c = Conn(port)
    msgs = c.login(application_name="rawtest")
    assert msgs[0] == (b"R", b"\0\0\0\0")
    status = dict(tuple(b.rstrip(b"\0").decode().split("\0")) for t, b in msgs if t == b"S")
    assert status["server_version"].startswith("15")
    assert status["server_encoding"] == "UTF8" and status["client_encoding"] == "UTF8"
    assert status["DateStyle"].startswith("ISO") and status["integer_datetimes"] == "on"
    assert status["standard_conforming_strings"] == "on" and status["application_name"] == "rawtest"
    assert "TimeZone" in status and "is_superuser" in status and "session_authorization" in status
    assert b"K" in types(msgs) and msgs[-1] == (b"Z", b"I")
    c.close()


def test_simple_query_several_statements_and_empty(port):
    c = Conn(port)
    c.login()
    c.send(query("SELECT 1 AS a; SELECT 2 AS b, 3 AS c"))
    assert types(c.until()) == b"TDCTDCZ"
    c.send(query(""))
    assert types(c.until()) == b"IZ"
    c.send(query("-- only a comment\n"))
    assert types(c.until()) == b"IZ"
    c.send(query("SELECT 1; SELECT * FROM nosuch_relation; SELECT 3"))
    got = c.until()
    assert types(got) == b"TDCEZ"      # the rest of the message is skipped after an error
    assert error_code(got[3][1]) == "42P01"
    c.close()


def test_extended_row_limit_and_portal_suspended(port):
    c = Conn(port)
    c.login()
    c.send(parse(f"SELECT volume FROM {TBK} ORDER BY epoch", "st"), bind("p1", "st"), describe(b"P", "p1"),
           execute("p1", 4), execute("p1", 4), execute("p1", 4), SYNC)
    got = c.until()
    assert types(got) == b"12T" + b"D" * 4 + b"s" + b"D" * 4 + b"s" + b"D" * 2 + b"C" + b"Z"
    vals = [int(b[6:].decode()) for t, b in got if t == b"D"]
    assert vals == [g * 10 for g in range(10)]
    c.close()


def test_describe_does_not_execute_and_reports_types(port):
    c = Conn(port)
    c.login()
    tbk = '"WIREDESC/1Min/OHLCV"'
    c.send(query(f"CREATE TABLE {tbk} (epoch timestamptz, close double precision)"))
    c.until()
    c.send(parse(f"INSERT INTO {tbk} VALUES ('2024-01-01 00:00:00+00', 1.0)", "ins"), describe(b"S", "ins"),
           parse(f"SELECT epoch, close FROM {tbk} WHERE close > $1", "sel", (701,)), describe(b"S", "sel"), SYNC)
    got = c.until()
    assert types(got) == b"1tn1tTZ"
    assert struct.unpack("!hI", got[4][1]) == (1, 701)
    rd = got[5][1]
    assert struct.unpack("!h", rd[:2])[0] == 2
    c.send(query(f"SELECT count(*) FROM {tbk}"))
    rows = [b for t, b in c.until() if t == b"D"]
    assert rows[0][6:] == b"0"       # Describe of the INSERT did not run it
    c.close()


def test_error_in_pipeline_discards_until_sync(port):
    c = Conn(port)
    c.login()
    c.send(parse("SELECT (1"), bind(), execute(), parse("SELECT 42"), bind(), execute(), SYNC,
           parse("SELECT 7"), bind(), execute(), SYNC)
    got = c.until()
    # the error may surface at Parse or at Execute; after it nothing but ReadyForQuery
    assert types(got) in (b"EZ", b"1EZ", b"12EZ") and error_code(got[-2][1]) == "42601"
    got = c.until()
    assert types(got) == b"12DCZ" and got[2][1][6:] == b"7"
    c.close()


def test_binary_params_and_results(port):
    c = Conn(port)
    c.login()
    c.send(parse("SELECT $1::int8 * 2 AS x", "", (20,)),
           msg(b"B", b"\0\0" + struct.pack("!hh", 1, 1) + struct.pack("!h", 1) + struct.pack("!iq", 8, 21)
               + struct.pack("!hh", 1, 1)),
           execute(), SYNC)
    got = c.until()
    assert types(got) == b"12DCZ"
    assert struct.unpack("!hiq", got[2][1]) == (1, 8, 42)
    c.close()


def test_flush_returns_pending_messages_without_sync(port):
    c = Conn(port)
    c.login()
    c.send(parse("SELECT 1"), FLUSH)
    assert c.read()[0] == b"1"
    c.send(SYNC)
    assert c.read() == (b"Z", b"I")
    c.close()


def test_close_statement_and_unknown_names(port):
    c = Conn(port)
    c.login()
    c.send(parse("SELECT 1", "s1"), msg(b"C", b"Ss1\0"), bind("", "s1"), SYNC)
    got = c.until()
    assert types(got) == b"13EZ" and error_code(got[2][1]) == "26000"
    c.send(execute("nope"), SYNC)
    got = c.until()
    assert types(got) == b"EZ" and error_code(got[0][1]) == "34000"
    c.send(parse("SELECT 1", "dup"), parse("SELECT 2", "dup"), SYNC)
    got = c.until()
    assert types(got) == b"1EZ" and error_code(got[1][1]) == "42P05"
    c.close()


def test_unknown_message_type_is_fatal_for_that_connection_only(port, pgmkts_server):
    c = Conn(port)
    c.login()
    c.send(msg(b"@", b"junk"))
    got = c.until(b"E")
    assert error_code(got[-1][1]) == "08P01" and error_severity(got[-1][1]) == "FATAL"
    assert c.read() is None
    with psycopg.connect(pgmkts_server.dsn) as other:
        assert other.execute("SELECT 1").fetchone() == (1,)


def test_truncated_bind_is_a_protocol_violation(port):
    c = Conn(port)
    c.login()
    c.send(parse("SELECT $1::int4", "", (23,)), msg(b"B", b"\0\0\0\0\0\x01\0\0\x10\0"), SYNC)
    got = c.until(b"E")
    assert error_code(got[-1][1]) == "08P01"


def test_ssl_and_gss_requests_refused_without_tls(port):
    c = Conn(port)
    c.send(struct.pack("!ii", 8, 80877104))
    assert c.read_byte() == b"N"
    c.send(struct.pack("!ii", 8, 80877103))
    assert c.read_byte() == b"N"
    msgs = c.login()
    assert msgs[-1][0] == b"Z"
    c.close()


def test_bad_startup_lengths(port):
    for pkt in (struct.pack("!ii", 4, 196608), struct.pack("!ii", 1 << 30, 196608),
                struct.pack("!ii", 8, 12345678)):
        c = Conn(port)
        c.send(pkt)
        m = c.read()
        assert m is not None and m[0] == b"E" and error_severity(m[1]) == "FATAL"
        c.close()


def test_http_on_the_postgres_port_goes_to_rpc(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")
    s.close()


def test_terminate_closes(port):
    c = Conn(port)
    c.login()
    c.send(TERMINATE)
    assert c.read() is None


def test_limits_max_connections_and_message_size(fresh_server):
    srv = fresh_server("limits: {max_connections: 2, max_message_bytes: 2000}\n")
    a, b = Conn(srv.port), Conn(srv.port)
    a.login()
    b.login()
    c = Conn(srv.port)
    c.send(startup())
    m = c.read()
    assert m[0] == b"E" and error_code(m[1]) == "53300"
    c.close()
    a.send(query("SELECT '" + "x" * 5000 + "'"))
    m = a.until(b"E")[-1]
    assert error_code(m[1]) == "54000" and error_severity(m[1]) == "FATAL"
    b.send(query("SELECT 1"))
    assert types(b.until()) == b"TDCZ"
    b.close()


def test_pg_metrics_are_counted(port, pgmkts_server):
    import re
    import urllib.request

    with psycopg.connect(pgmkts_server.dsn) as c:
        c.execute("SELECT 1").fetchone()
    text = urllib.request.urlopen(f"http://127.0.0.1:{pgmkts_server.rpc_port}/metrics", timeout=10).read().decode()
    m = re.search(r'pgmkts_queries_total\{proto="pg"\} (\d+(\.\d+)?)', text)
    assert m and float(m.group(1)) >= 1
    assert re.search(r'pgmkts_connections_total\{proto="pg"\} [1-9]', text)
