"""`/ws`: MarketStore's stream endpoint (pymarketstore's StreamConn) on websockets' sans-I/O
protocol over the same asyncio streams as the HTTP server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from typing import Any

import msgpack
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from pgmkts.plugins.stream import last_row, parse_pattern, pattern_matches

log = logging.getLogger("pgmkts.ws")

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PING_INTERVAL = 54.0            # MarketStore's period
MAX_MESSAGE = 1 << 20           # subscribe messages are tiny
MAX_BUFFERED = 16 << 20         # a client this far behind is dropped instead of growing memory


def _reject(writer: asyncio.StreamWriter, status: str, text: str) -> None:
    body = text.encode()
    writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                 "Connection: close\r\n\r\n".encode() + body)


def stream_filter(app: Any) -> list[tuple[str, str, str]]:
    """Buckets the configured `stream` trigger(s) publish (their `on` patterns, MarketStore's
    "SYM/TF/AG[/YYYY.bin]"); empty when no stream trigger is configured: then every bucket
    streams (pgmkts has /ws on without configuration)."""
    out = []
    for t in getattr(getattr(app, "config", None), "triggers", None) or ():
        module = str(getattr(t, "module", "") or (t.get("module", "") if isinstance(t, dict) else ""))
        if module.removesuffix(".so") != "stream":
            continue
        on = getattr(t, "on", None) if not isinstance(t, dict) else t.get("on")
        parts = (on or "*/*/*").split("/")[:3]
        try:
            out.append(parse_pattern("/".join(parts)))
        except ValueError:
            log.warning("stream trigger 'on: %s' is not SYM/TF/AG; streaming everything", on)
            return []
    return out


class _StreamSession:
    def __init__(self, app: Any, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.writer = writer
        self.proto = ServerProtocol(state=State.OPEN, max_size=MAX_MESSAGE)
        self.patterns: list[tuple[str, str, str]] = []
        self.allowed = stream_filter(app)
        self._unsub = None
        self.closed = asyncio.Event()

    def flush(self) -> None:
        data = self.proto.data_to_send()
        if data:
            self.writer.writelines([d for d in data if d])
        if self.proto.state is State.CLOSED or self.proto.close_expected():
            self.closed.set()

    def send(self, obj: dict) -> None:
        if self.proto.state is not State.OPEN:
            return
        self.proto.send_binary(msgpack.packb(obj, use_bin_type=True))
        self.flush()

    def on_rows(self, tbk: str, rows: dict) -> None:
        """Hub callback (loop thread): push the last row of a committed write."""
        if not any(pattern_matches(p, tbk) for p in self.patterns):
            return
        if self.allowed and not any(pattern_matches(p, tbk) for p in self.allowed):
            return
        transport = self.writer.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("stream client too slow; dropping it")
            self.proto.fail(1008, "client too slow")
            self.flush()
            self.closed.set()
            return
        self.send({"key": tbk, "data": last_row(rows)})

    def on_message(self, payload: bytes) -> None:
        try:
            msg = msgpack.unpackb(payload, raw=False)
        except Exception:
            self.send({"error": "message is not valid msgpack"})
            return
        streams = msg.get("streams") if isinstance(msg, dict) else None
        if not isinstance(streams, list):
            self.send({"error": "expected a map {\"streams\": [...]}"})
            return
        parsed = []
        for s in streams:
            try:
                parsed.append(parse_pattern(s))
            except ValueError:
                self.send({"error": f"{s} is an invalid stream"})
                return
        self.patterns = parsed  # a new subscribe replaces the old set, as MarketStore
        hub = getattr(self.app, "hub", None)
        if hub is not None and self._unsub is None:
            self._unsub = hub.subscribe("*/*/*", self.on_rows)
        self.send({"streams": streams})

    def close(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None


async def serve_websocket(app: Any, req: Any, leftover: bytes, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
    """Complete the upgrade handshake for `req` and run the stream session until it closes."""
    key = req.headers.get("sec-websocket-key", "")
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid_key = False
    if req.method != "GET" or "upgrade" not in req.headers.get("connection", "").lower() or not valid_key:
        _reject(writer, "400 Bad Request", "invalid websocket upgrade request\n")
        await writer.drain()
        return
    if req.headers.get("sec-websocket-version") != "13":
        writer.write(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        return
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    version = str(getattr(app, "version", "") or "")
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\nMarketstore-Version: {version}\r\n\r\n").encode())
    await writer.drain()
    sess = _StreamSession(app, writer)
    pinger = asyncio.create_task(_ping_loop(sess))
    reading = asyncio.create_task(_read_loop(sess, reader, leftover))
    try:
        closed = asyncio.create_task(sess.closed.wait())
        await asyncio.wait({reading, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        with contextlib.suppress(Exception):
            await writer.drain()
    finally:
        sess.close()
        pinger.cancel()
        reading.cancel()
        for t in (pinger, reading):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


async def _read_loop(sess: _StreamSession, reader: asyncio.StreamReader, leftover: bytes) -> None:
    data = leftover if leftover else await reader.read(65536)
    while True:
        if data:
            sess.proto.receive_data(data)
        else:
            sess.proto.receive_eof()
        for event in sess.proto.events_received():
            # after the handshake the server protocol only yields frames
            if isinstance(event, Frame) and event.opcode in (Opcode.BINARY, Opcode.TEXT):
                sess.on_message(bytes(event.data))
        sess.flush()  # pongs and close replies the protocol queued
        await sess.writer.drain()
        if not data or sess.proto.state is State.CLOSED or sess.closed.is_set():
            return
        data = await reader.read(65536)


async def _ping_loop(sess: _StreamSession) -> None:
    while True:
        await asyncio.sleep(PING_INTERVAL)
        if sess.proto.state is not State.OPEN:
            return
        sess.proto.send_ping(b"")
        sess.flush()
