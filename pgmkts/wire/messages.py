"""Builders for backend messages and parsers for frontend messages (docs §55.7).

Everything here is bytes in / bytes out; no sockets. Parsers raise ProtocolViolation (08P01)
with the message name when a body is truncated or has trailing garbage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pgmkts.errors import ProtocolViolation

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_HDR = struct.Struct("!ci")


def msg(mtype: bytes, body: bytes = b"") -> bytes:
    return _HDR.pack(mtype, len(body) + 4) + body


def cstr(s: str) -> bytes:
    return s.encode("utf-8").replace(b"\x00", b"") + b"\x00"


# ---------------------------------------------------------------- backend messages
AUTH_OK = msg(b"R", _I32.pack(0))
AUTH_CLEARTEXT = msg(b"R", _I32.pack(3))
PARSE_COMPLETE = msg(b"1")
BIND_COMPLETE = msg(b"2")
CLOSE_COMPLETE = msg(b"3")
NO_DATA = msg(b"n")
EMPTY_QUERY = msg(b"I")
PORTAL_SUSPENDED = msg(b"s")
COPY_DONE = msg(b"c")


def auth_md5(salt: bytes) -> bytes:
    return msg(b"R", _I32.pack(5) + salt)


def auth_sasl(mechanisms: list[str]) -> bytes:
    return msg(b"R", _I32.pack(10) + b"".join(cstr(m) for m in mechanisms) + b"\x00")


def auth_sasl_continue(data: bytes) -> bytes:
    return msg(b"R", _I32.pack(11) + data)


def auth_sasl_final(data: bytes) -> bytes:
    return msg(b"R", _I32.pack(12) + data)


def parameter_status(name: str, value: str) -> bytes:
    return msg(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return msg(b"K", struct.pack("!ii", pid, secret))


def ready_for_query(status: str) -> bytes:
    return msg(b"Z", status.encode("ascii"))


def command_complete(tag: str) -> bytes:
    return msg(b"C", cstr(tag))


def parameter_description(oids: list[int]) -> bytes:
    return msg(b"t", _I16.pack(len(oids)) + b"".join(struct.pack("!I", o & 0xFFFFFFFF) for o in oids))


def row_description(fields, formats: list[int] | None = None) -> bytes:
    """fields: objects with .name/.type_oid/.typmod; formats: per-column 0 text / 1 binary."""
    parts = [_I16.pack(len(fields))]
    for i, f in enumerate(fields):
        fmt = formats[i] if formats else 0
        size = TYPE_SIZES.get(f.type_oid, -1)
        # table oid 0 / attnum 0: results are not tied to a pg_class row clients could look up
        parts.append(cstr(f.name) + struct.pack("!IhIhih", 0, 0, f.type_oid & 0xFFFFFFFF, size,
                                                getattr(f, "typmod", -1), fmt))
    return msg(b"T", b"".join(parts))


# typlen as pg_type reports it (RowDescription's "data type size")
TYPE_SIZES = {16: 1, 17: -1, 18: 1, 19: 64, 20: 8, 21: 2, 23: 4, 25: -1, 26: 4, 700: 4, 701: 8,
              1043: -1, 1082: 4, 1114: 8, 1184: 8, 1186: 16, 1700: -1}


def notification(pid: int, channel: str, payload: str) -> bytes:
    return msg(b"A", _I32.pack(pid) + cstr(channel) + cstr(payload))


def copy_response(kind: bytes, binary: bool, ncols: int) -> bytes:
    """CopyInResponse (G) / CopyOutResponse (H): overall format and per-column formats."""
    fmt = 1 if binary else 0
    return msg(kind, struct.pack("!bh", fmt, ncols) + _I16.pack(fmt) * ncols)


def copy_data(data: bytes) -> bytes:
    return msg(b"d", data)


def error_fields(severity: str, code: str, message: str, *, detail: str | None = None,
                 hint: str | None = None, position: int | None = None) -> bytes:
    out = [b"S" + cstr(severity), b"V" + cstr(severity), b"C" + cstr(code), b"M" + cstr(message)]
    if detail:
        out.append(b"D" + cstr(detail))
    if hint:
        out.append(b"H" + cstr(hint))
    if position:
        out.append(b"P" + cstr(str(position)))
    return b"".join(out) + b"\x00"


def error_response(severity: str, code: str, message: str, **kw) -> bytes:
    return msg(b"E", error_fields(severity, code, message, **kw))


def notice_response(message: str, code: str = "00000", severity: str = "NOTICE") -> bytes:
    return msg(b"N", error_fields(severity, code, message))


def error_from_exception(exc: BaseException, severity: str | None = None) -> bytes:
    from pgmkts.errors import PgmktsError

    if isinstance(exc, PgmktsError):
        return error_response(severity or exc.severity, exc.sqlstate, exc.message,
                              detail=exc.detail, hint=exc.hint, position=exc.position)
    return error_response(severity or "ERROR", "XX000", f"internal error: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- frontend messages
class Reader:
    """Cursor over one message body; every read checks bounds (hostile lengths → 08P01)."""

    __slots__ = ("buf", "pos", "what")

    def __init__(self, buf: bytes, what: str) -> None:
        self.buf = buf
        self.pos = 0
        self.what = what

    def _fail(self, why: str) -> ProtocolViolation:
        return ProtocolViolation(f"invalid {self.what} message: {why}")

    def int16(self) -> int:
        if self.pos + 2 > len(self.buf):
            raise self._fail("truncated")
        (v,) = _I16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return v

    def int32(self) -> int:
        if self.pos + 4 > len(self.buf):
            raise self._fail("truncated")
        (v,) = _I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def uint32(self) -> int:
        return self.int32() & 0xFFFFFFFF

    def byte(self) -> bytes:
        if self.pos + 1 > len(self.buf):
            raise self._fail("truncated")
        b = self.buf[self.pos:self.pos + 1]
        self.pos += 1
        return b

    def bytes_(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise self._fail(f"a value of {n} bytes does not fit the message")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def cstring(self) -> str:
        end = self.buf.find(b"\x00", self.pos)
        if end < 0:
            raise self._fail("unterminated string")
        raw = self.buf[self.pos:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            from pgmkts.errors import CharacterNotInRepertoire

            raise CharacterNotInRepertoire("invalid byte sequence for encoding \"UTF8\"") from None

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise self._fail(f"{len(self.buf) - self.pos} unexpected trailing bytes")


@dataclass(slots=True)
class Parse:
    name: str
    query: str
    param_oids: list[int]


@dataclass(slots=True)
class Bind:
    portal: str
    statement: str
    param_formats: list[int]
    params: list[bytes | None]
    result_formats: list[int]


def parse_query(body: bytes) -> str:
    r = Reader(body, "Query")
    q = r.cstring()
    r.done()
    return q


def parse_parse(body: bytes) -> Parse:
    r = Reader(body, "Parse")
    name, query = r.cstring(), r.cstring()
    n = r.int16()
    if n < 0:
        raise r._fail("negative parameter count")
    oids = [r.uint32() for _ in range(n)]
    r.done()
    return Parse(name, query, oids)


_BIND_TAIL = struct.Struct("!hhh")


def parse_bind(body: bytes) -> Bind:
    # fast path: no parameters and no parameter formats (pgbench -M prepared, most dashboards);
    # anything else, or anything odd, takes the checked reader below
    i = body.find(b"\x00")
    j = body.find(b"\x00", i + 1) if i >= 0 else -1
    if j >= 0 and len(body) >= j + 7:
        nf, npar, nr = _BIND_TAIL.unpack_from(body, j + 1)
        if nf == 0 and npar == 0 and 0 <= nr <= 1 and len(body) == j + 7 + 2 * nr:
            rfmts = [_I16.unpack_from(body, j + 7)[0]] if nr else []
            if not rfmts or rfmts[0] in (0, 1):
                try:
                    return Bind(body[:i].decode("utf-8"), body[i + 1:j].decode("utf-8"), [], [], rfmts)
                except UnicodeDecodeError:
                    pass
    return _parse_bind_checked(body)


def _parse_bind_checked(body: bytes) -> Bind:
    r = Reader(body, "Bind")
    portal, stmt = r.cstring(), r.cstring()
    nf = r.int16()
    if nf < 0:
        raise r._fail("negative format count")
    pfmts = [r.int16() for _ in range(nf)]
    npar = r.int16()
    if npar < 0:
        raise r._fail("negative parameter count")
    params: list[bytes | None] = []
    for _ in range(npar):
        n = r.int32()
        params.append(None if n == -1 else r.bytes_(n))
    nr = r.int16()
    if nr < 0:
        raise r._fail("negative result format count")
    rfmts = [r.int16() for _ in range(nr)]
    r.done()
    for f in (*pfmts, *rfmts):
        if f not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {f}")
    if nf not in (0, 1, npar):
        raise ProtocolViolation(f"bind message has {nf} parameter formats but {npar} parameters")
    return Bind(portal, stmt, pfmts, params, rfmts)


def parse_describe_or_close(body: bytes, what: str) -> tuple[bytes, str]:
    if body[:1] in (b"S", b"P") and body.find(b"\x00") == len(body) - 1:   # fast path: well formed
        try:
            return body[:1], body[1:-1].decode("utf-8")
        except UnicodeDecodeError:
            pass
    return _parse_describe_or_close_checked(body, what)


def _parse_describe_or_close_checked(body: bytes, what: str) -> tuple[bytes, str]:
    r = Reader(body, what)
    kind = r.byte()
    name = r.cstring()
    r.done()
    if kind not in (b"S", b"P"):
        raise ProtocolViolation(f"invalid {what} message subtype {kind!r}")
    return kind, name


def parse_execute(body: bytes) -> tuple[str, int]:
    if len(body) >= 5 and body.find(b"\x00") == len(body) - 5:   # fast path: well formed
        try:
            return body[:-5].decode("utf-8"), _I32.unpack_from(body, len(body) - 4)[0]
        except UnicodeDecodeError:
            pass
    return _parse_execute_checked(body)


def _parse_execute_checked(body: bytes) -> tuple[str, int]:
    r = Reader(body, "Execute")
    name = r.cstring()
    limit = r.int32()
    r.done()
    return name, limit


def parse_cancel(body: bytes) -> tuple[int, int]:
    r = Reader(body, "CancelRequest")
    pid, secret = r.int32(), r.int32()
    r.done()
    return pid, secret


def parse_sasl_initial(body: bytes) -> tuple[str, bytes]:
    r = Reader(body, "SASLInitialResponse")
    mech = r.cstring()
    n = r.int32()
    data = b"" if n == -1 else r.bytes_(n)
    r.done()
    return mech, data


def parse_password(body: bytes) -> str:
    r = Reader(body, "PasswordMessage")
    pw = r.cstring()
    r.done()
    return pw


def per_column(formats: list[int], n: int) -> list[int]:
    """Bind's result-format list: none → all text, one → applies to all, else one per column."""
    if not formats:
        return [0] * n
    if len(formats) == 1:
        return formats * n
    if len(formats) != n:
        raise ProtocolViolation(f"bind message has {len(formats)} result formats but query has {n} columns")
    return list(formats)
