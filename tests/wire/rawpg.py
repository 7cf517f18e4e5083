"""A tiny blocking frontend for protocol tests: builds frontend messages independently of
pgmkts.wire and reads backend messages off a socket."""

from __future__ import annotations

import socket
import struct


def msg(t: bytes, body: bytes = b"") -> bytes:
    return t + struct.pack("!i", len(body) + 4) + body


def startup(user: str = "pgmkts", **params: str) -> bytes:
    kv = {"user": user, "database": "pgmkts", **params}
    body = struct.pack("!i", 196608) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in kv.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def query(sql: str) -> bytes:
    return msg(b"Q", sql.encode() + b"\0")


def parse(sql: str, name: str = "", oids: tuple[int, ...] = ()) -> bytes:
    return msg(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", len(oids))
               + b"".join(struct.pack("!I", o) for o in oids))


def bind(portal: str = "", stmt: str = "", params: tuple[bytes | None, ...] = (), result_fmt: int = 0) -> bytes:
    body = portal.encode() + b"\0" + stmt.encode() + b"\0" + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!hh", 1, result_fmt)
    return msg(b"B", body)


def describe(kind: bytes, name: str = "") -> bytes:
    return msg(b"D", kind + name.encode() + b"\0")


def execute(portal: str = "", limit: int = 0) -> bytes:
    return msg(b"E", portal.encode() + b"\0" + struct.pack("!i", limit))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERMINATE = msg(b"X")


class Conn:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, *parts: bytes) -> None:
        self.sock.sendall(b"".join(parts))

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read(self) -> tuple[bytes, bytes] | None:
        """Next backend message as (type, body), or None at EOF."""
        if not self._fill(5):
            return None
        t, ln = self.buf[:1], struct.unpack("!i", self.buf[1:5])[0]
        if not self._fill(1 + ln):
            return None
        body, self.buf = self.buf[5:1 + ln], self.buf[1 + ln:]
        return t, body

    def read_byte(self) -> bytes:
        self._fill(1)
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def until(self, t: bytes = b"Z") -> list[tuple[bytes, bytes]]:
        out = []
        while True:
            m = self.read()
            if m is None:
                return out
            out.append(m)
            if m[0] == t:
                return out

    def login(self, **params: str) -> list[tuple[bytes, bytes]]:
        self.send(startup(**params))
        return self.until(b"Z")

    def close(self) -> None:
        self.sock.close()


def error_code(body: bytes) -> str:
    for part in body.split(b"\0"):
        if part.startswith(b"C"):
            return part[1:].decode()
    return ""


def error_severity(body: bytes) -> str:
    for part in body.split(b"\0"):
        if part.startswith(b"S"):
            return part[1:].decode()
    return ""


def types(msgs) -> bytes:
    return b"".join(t for t, _ in msgs)
