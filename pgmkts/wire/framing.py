"""Sans-I/O message framing (PostgreSQL docs §55.2 "Message Flow", §55.7 "Message Formats").

Bytes in, whole messages out: the untyped startup packet (length, then protocol code) before
startup completes, typed messages (one type byte, int32 length incl. itself) afterwards.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pgmkts.errors import ProgramLimitExceeded, ProtocolViolation

PROTOCOL_3_0 = 196608            # 3 << 16
SSL_REQUEST = 80877103           # 1234 << 16 | 5679
GSSENC_REQUEST = 80877104        # 1234 << 16 | 5680
CANCEL_REQUEST = 80877102        # 1234 << 16 | 5678

# A startup packet carries a few key/value pairs; PostgreSQL caps it at 10000 bytes
# (MAX_STARTUP_PACKET_LENGTH) and so do we, whatever max_message_bytes says.
MAX_STARTUP_BYTES = 10000

_I32 = struct.Struct("!i")
FLUSH_BYTES = 1 << 16          # buffered protocol output is written once it exceeds this


@dataclass(slots=True)
class StartupPacket:
    code: int          # PROTOCOL_3_0, SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST or something unknown
    body: bytes        # everything after the code


@dataclass(slots=True)
class Message:
    type: bytes        # one byte, e.g. b'Q'
    body: bytes        # without the type and length


class Framer:
    """Feed bytes, take complete messages. Raises ProtocolViolation / ProgramLimitExceeded on
    a malformed or oversized length (the connection then answers FATAL and closes)."""

    def __init__(self, max_message_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_message_bytes = max_message_bytes
        self.startup = True          # until the startup packet has been taken
        self._buf = bytearray()
        self._pos = 0
        self.copy_owed = 0           # bytes of a CopyData body still to come (copy_into)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos > len(self._buf) // 2:
            del self._buf[: self._pos]   # compact lazily so feeding stays amortised O(n)
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def needed(self) -> int:
        """Bytes still missing for the next message (>= 1 when nothing is complete); 0 when one is."""
        avail = self.buffered
        hdr = 4 if self.startup else 5
        if avail < hdr:
            return hdr - avail
        length = self._length()
        total = length + (0 if self.startup else 1)
        return max(0, total - avail)

    def _length(self) -> int:
        off = self._pos + (0 if self.startup else 1)
        (length,) = _I32.unpack_from(self._buf, off)
        if self.startup:
            if length < 8 or length > MAX_STARTUP_BYTES:
                raise ProtocolViolation(f"invalid length of startup packet: {length}")
        else:
            if length < 4:
                mtype = bytes(self._buf[self._pos:self._pos + 1])
                raise ProtocolViolation(f"invalid message length {length} for message type {mtype!r}")
            if length - 4 > self.max_message_bytes:
                raise ProgramLimitExceeded(
                    f"message of {length} bytes exceeds limits.max_message_bytes "
                    f"({self.max_message_bytes}); raise it in mkts.yml or send smaller messages")
        return length

    def next_startup(self) -> StartupPacket | None:
        if self.needed():
            return None
        length = self._length()
        start = self._pos
        (code,) = _I32.unpack_from(self._buf, start + 4)
        body = bytes(self._buf[start + 8: start + length])
        self._pos += length
        return StartupPacket(code, body)

    def next_message(self) -> Message | None:
        buf, pos = self._buf, self._pos
        if not self.startup and len(buf) - pos >= 5:
            # the common case inline (a pgbench -M prepared transaction is four messages)
            (length,) = _I32.unpack_from(buf, pos + 1)
            end = pos + 1 + length
            if 4 <= length <= self.max_message_bytes + 4:
                if end > len(buf):
                    return None
                self._pos = end
                return Message(bytes(buf[pos:pos + 1]), bytes(buf[pos + 5:end]))
        if self.needed():
            return None
        length = self._length()
        start = self._pos
        mtype = bytes(self._buf[start:start + 1])
        body = bytes(self._buf[start + 5: start + 1 + length])
        self._pos += 1 + length
        return Message(mtype, body)

    def copy_into(self, sink: bytearray) -> Message | None:
        """COPY IN fast path: append the bodies of the buffered CopyData messages to `sink`
        (slices of the buffer, no bytes object per message) and return the first other complete
        message, or None when more input is needed. A CopyData message whose body has not fully
        arrived is appended as far as it goes and the rest is owed (`copy_owed`): feed_copy
        writes those bytes straight from the socket data into `sink`."""
        buf = self._buf
        with memoryview(buf) as mv:
            pos = self._copy_bodies(mv, self._pos, sink)
        if pos == len(buf):
            buf.clear()
            self._pos = 0
            return None
        self._pos = pos
        return None if buf[pos] == 0x64 else self.next_message()   # 0x64: 'd' with a partial header

    def feed_copy(self, data, sink: bytearray) -> None:
        """Socket bytes during COPY IN. While nothing is buffered, CopyData bodies are copied from
        `data` into `sink` directly (one copy, none through the message buffer); the rest —
        a partial header, the message after the COPY — is buffered as usual."""
        if self.buffered:
            self.feed(data)
            return
        with memoryview(data) as mv:
            pos = self._copy_bodies(mv, 0, sink)
            if pos < len(mv):
                self.feed(mv[pos:])

    def _copy_bodies(self, mv: memoryview, pos: int, sink: bytearray) -> int:
        """Append the owed body bytes, then whole CopyData bodies, from mv[pos:] to `sink`; return
        where a non-CopyData message or an incomplete header starts (or len(mv))."""
        end = len(mv)
        owed = self.copy_owed
        if owed:
            take = min(owed, end - pos)
            sink += mv[pos:pos + take]
            self.copy_owed = owed - take
            pos += take
            if self.copy_owed:
                return pos
        limit = self.max_message_bytes + 4
        unpack = _I32.unpack_from
        while end - pos >= 5 and mv[pos] == 0x64:
            (length,) = unpack(mv, pos + 1)
            if not 4 <= length <= limit:
                self._buf = bytearray(mv[pos:pos + 5])
                self._pos = 0
                self._length()     # raises the framer's usual error
            stop = pos + 1 + length
            if stop > end:
                sink += mv[pos + 5:end]
                self.copy_owed = stop - end
                return end
            sink += mv[pos + 5:stop]
            pos = stop
        return pos

    def take_rest(self) -> bytes:
        """Whatever was read past the last message (e.g. bytes that arrived before TLS started)."""
        rest = bytes(self._buf[self._pos:])
        self._buf.clear()
        self._pos = 0
        return rest


def parse_startup_params(body: bytes) -> dict[str, str]:
    """The protocol-3.0 startup body: NUL-terminated key/value pairs, then one extra NUL."""
    if not body.endswith(b"\x00"):
        raise ProtocolViolation("invalid startup packet layout: expected terminator as last byte")
    parts = body[:-1].split(b"\x00")
    if parts and parts[-1] == b"":
        parts.pop()
    if len(parts) % 2:
        raise ProtocolViolation("invalid startup packet layout: a parameter name has no value")
    try:
        items = [p.decode("utf-8") for p in parts]
    except UnicodeDecodeError:
        raise ProtocolViolation("invalid startup packet: parameters are not valid UTF-8") from None
    return dict(zip(items[0::2], items[1::2], strict=True))
