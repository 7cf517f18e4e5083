"""Sans-I/O framing and message parsing: lengths, limits, truncation, startup packets."""

from __future__ import annotations

import struct

import pytest

from pgmkts import errors
from pgmkts.wire import messages as m
from pgmkts.wire.framing import PROTOCOL_3_0, SSL_REQUEST, Framer, parse_startup_params


def startup(params: dict[str, str]) -> bytes:
    body = struct.pack("!i", PROTOCOL_3_0) + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                                      for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def test_startup_packet_split_across_feeds():
    f = Framer()
    data = startup({"user": "bob", "database": "db"})
    for i in range(len(data) - 1):
        f.feed(data[i:i + 1])
        assert f.next_startup() is None
    f.feed(data[-1:])
    pkt = f.next_startup()
    assert pkt.code == PROTOCOL_3_0
    assert parse_startup_params(pkt.body) == {"user": "bob", "database": "db"}


def test_ssl_request_then_typed_messages():
    f = Framer()
    f.feed(struct.pack("!ii", 8, SSL_REQUEST))
    assert f.next_startup().code == SSL_REQUEST
    f.startup = False
    f.feed(m.msg(b"Q", b"select 1\0") + m.msg(b"S"))
    q = f.next_message()
    assert (q.type, q.body) == (b"Q", b"select 1\0")
    assert f.next_message().type == b"S"
    assert f.next_message() is None


@pytest.mark.parametrize("length", [0, 3, 7, 10001, 2**31 - 1])
def test_bad_startup_length(length):
    f = Framer()
    f.feed(struct.pack("!ii", length, PROTOCOL_3_0))
    with pytest.raises(errors.ProtocolViolation):
        f.next_startup()


def test_typed_message_length_checks():
    f = Framer(max_message_bytes=100)
    f.startup = False
    f.feed(b"Q" + struct.pack("!i", 3))
    with pytest.raises(errors.ProtocolViolation):
        f.next_message()
    f = Framer(max_message_bytes=100)
    f.startup = False
    f.feed(b"Q" + struct.pack("!i", 1000))
    with pytest.raises(errors.ProgramLimitExceeded, match="max_message_bytes"):
        f.next_message()


def test_startup_params_layout_errors():
    with pytest.raises(errors.ProtocolViolation):
        parse_startup_params(b"user\0bob")           # no terminator
    with pytest.raises(errors.ProtocolViolation):
        parse_startup_params(b"user\0bob\0db\0\0")   # key without value
    assert parse_startup_params(b"user\0bob\0options\0\0\0") == {"user": "bob", "options": ""}


def test_bind_parse_and_truncation():
    body = (b"p1\0s1\0" + struct.pack("!hh", 1, 1) + struct.pack("!h", 2) + struct.pack("!i", 4) + b"\0\0\0\x07"
            + struct.pack("!i", -1) + struct.pack("!hh", 1, 1))
    b = m.parse_bind(body)
    assert (b.portal, b.statement, b.param_formats, b.params, b.result_formats) == \
        ("p1", "s1", [1], [b"\0\0\0\x07", None], [1])
    for cut in range(1, len(body)):
        with pytest.raises(errors.ProtocolViolation):
            m.parse_bind(body[:cut])
    with pytest.raises(errors.ProtocolViolation):
        m.parse_bind(body + b"x")
    # a parameter length pointing past the end of the message
    evil = b"\0\0" + struct.pack("!h", 0) + struct.pack("!h", 1) + struct.pack("!i", 2**30) + b"ab"
    with pytest.raises(errors.ProtocolViolation):
        m.parse_bind(evil)


def test_parse_execute_describe():
    p = m.parse_parse(b"st\0select $1\0" + struct.pack("!hI", 1, 23))
    assert (p.name, p.query, p.param_oids) == ("st", "select $1", [23])
    assert m.parse_execute(b"\0" + struct.pack("!i", 10)) == ("", 10)
    assert m.parse_describe_or_close(b"Sname\0", "Describe") == (b"S", "name")
    with pytest.raises(errors.ProtocolViolation):
        m.parse_describe_or_close(b"Xname\0", "Describe")
    with pytest.raises(errors.CharacterNotInRepertoire):
        m.parse_query(b"select '\xff'\0")


def test_backend_messages_layout():
    assert m.ready_for_query("I") == b"Z\0\0\0\x05I"
    assert m.command_complete("SELECT 1") == b"C\0\0\0\x0dSELECT 1\0"
    err = m.error_response("ERROR", "42P01", "nope", hint="h")
    assert err[:1] == b"E" and struct.unpack("!i", err[1:5])[0] == len(err) - 1
    assert b"C42P01\0" in err and b"Hh\0" in err
    assert m.per_column([], 3) == [0, 0, 0] and m.per_column([1], 2) == [1, 1]
    with pytest.raises(errors.ProtocolViolation):
        m.per_column([0, 1], 3)
