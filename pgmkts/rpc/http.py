"""A small HTTP/1.1 server on asyncio streams for the native port: /rpc (MarketStore msgpack
RPC), /ws (stream), /healthz, /metrics. Hand-written so the PostgreSQL listener can hand over a
connection whose first bytes it already read (protocol sniffing on the shared port)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from pgmkts import errors
from pgmkts.rpc.auth import authenticate
from pgmkts.rpc.msgpack_rpc import RpcService
from pgmkts.storage.asyncwrite import NOT_INLINE, run_deferred

log = logging.getLogger("pgmkts.rpc")

MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 1 << 30  # a year of 1-min bars for many symbols in one write is ~100 MB
IDLE_TIMEOUT = 300.0
HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ",
                b"TRACE ")

_REASONS = {200: "OK", 101: "Switching Protocols", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            411: "Length Required", 413: "Content Too Large", 426: "Upgrade Required",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}


def looks_like_http(first_bytes: bytes) -> bool:
    """True if a connection's first bytes start an HTTP request line (for the port sniffer);
    a prefix shorter than the method ("PO") counts, so the sniffer may ask with few bytes."""
    if not first_bytes:
        return False
    return any(m.startswith(first_bytes) if len(first_bytes) < len(m) else first_bytes.startswith(m)
               for m in HTTP_METHODS)


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]          # lower-cased names; repeated headers joined with ", "
    raw_head: bytes
    body: bytes | memoryview = b""
    path: str = field(init=False)

    def __post_init__(self) -> None:
        self.path = self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


BIG_BODY = 1 << 20  # bodies at least this big are received straight into their final buffer


class _IntoBuffer(asyncio.BufferedProtocol):
    """Takes over a transport to receive exactly len(view) bytes into `view`.

    The kernel copies the socket's bytes straight into the body's buffer; through the
    StreamReader a large body was copied three more times (its growing bytearray, the bytes
    cut from it, the join with what the header read left over): measured ~35 ms of loop time
    per 17 MB Write.
    """

    def __init__(self, transport: asyncio.BaseTransport, view: memoryview,
                 done: asyncio.Future) -> None:
        self.transport = transport
        self.view = view
        self.pos = 0
        self.done = done
        self.eof = False
        self.lost: tuple[Exception | None] | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.pos:]

    def buffer_updated(self, nbytes: int) -> None:
        self.pos += nbytes
        if self.pos >= len(self.view):
            # stop at once: the next request's bytes stay in the socket for the StreamReader
            self.transport.pause_reading()  # type: ignore[attr-defined]
            self._finish()

    def eof_received(self) -> bool:
        self.eof = True
        self._finish()
        return True  # the owner's protocol decides once it is back

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = (exc,)
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class _BufferedReader:
    """asyncio StreamReader plus the bytes the sniffer already consumed."""

    def __init__(self, reader: asyncio.StreamReader, first: bytes,
                 transport: asyncio.BaseTransport | None = None) -> None:
        self.reader = reader
        self.buf = bytearray(first)
        # plain TCP transports that can switch protocols: big bodies are read into place
        self.transport = transport if transport is not None and hasattr(transport, "set_protocol") \
            and transport.get_extra_info("sslcontext") is None else None

    async def _fill(self) -> bool:
        chunk = await self.reader.read(256 * 1024)
        if not chunk:
            return False
        self.buf += chunk
        return True

    async def read_head(self) -> bytes | None:
        """Bytes up to and including the blank line; None on a clean EOF before any byte."""
        start = 0
        while True:
            idx = self.buf.find(b"\r\n\r\n", max(0, start - 3))
            if idx >= 0:
                if idx + 4 > MAX_HEADER_BYTES:
                    raise HttpError(431, "request header too large")
                head = bytes(self.buf[: idx + 4])
                del self.buf[: idx + 4]
                return head
            if len(self.buf) > MAX_HEADER_BYTES:
                raise HttpError(431, "request header too large")
            start = len(self.buf)
            if not await self._fill():
                if self.buf.strip():
                    raise HttpError(400, "connection closed inside the request header")
                return None

    async def read_exactly(self, n: int) -> bytes | memoryview:
        if len(self.buf) >= n:
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out
        pending = getattr(self.reader, "_buffer", None)  # what the StreamReader holds already
        if n >= BIG_BODY and self.transport is not None and isinstance(pending, bytearray) \
                and self.reader.exception() is None and not self.reader.at_eof():
            return await self._read_into(n, len(pending))
        # big bodies: take the rest straight from the stream instead of growing our buffer
        have = bytes(self.buf)
        self.buf.clear()
        try:
            rest = await self.reader.readexactly(n - len(have))
        except asyncio.IncompleteReadError as exc:
            raise HttpError(400, f"connection closed after {len(have) + len(exc.partial)} of {n} "
                                 "body bytes") from None
        return have + rest if have else rest

    async def _read_into(self, n: int, pending: int) -> memoryview:
        """`n` bytes into one preallocated buffer: ours, then the StreamReader's, then the socket."""
        import numpy as np  # the RPC service needs it anyway; np.empty leaves pages untouched

        out = np.empty(n, np.uint8).data
        pos = len(self.buf)
        out[:pos] = self.buf
        self.buf.clear()
        if pending:  # returns at once (data is buffered) and never more than asked for
            chunk = await self.reader.read(min(pending, n - pos))
            out[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
        if pos == n:
            return out
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        proto = _IntoBuffer(transport, out[pos:], loop.create_future())
        owner = transport.get_protocol()
        transport.set_protocol(proto)
        transport.resume_reading()  # type: ignore[attr-defined]  # the StreamReader may have paused it
        try:
            await proto.done
        finally:
            transport.set_protocol(owner)
            if proto.lost is not None:
                owner.connection_lost(proto.lost[0])
            elif proto.eof:
                if not owner.eof_received():  # type: ignore[attr-defined]
                    transport.close()
            else:
                transport.resume_reading()  # type: ignore[attr-defined]
        if proto.pos < len(proto.view):
            raise HttpError(400, f"connection closed after {pos + proto.pos} of {n} body bytes")
        return out

    async def read_line(self, limit: int = 4096) -> bytes:
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self.buf[:idx])
                del self.buf[: idx + 2]
                return line
            if len(self.buf) > limit:
                raise HttpError(400, "chunk header line too long")
            if not await self._fill():
                raise HttpError(400, "connection closed inside a chunked body")

    def take_buffer(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


def parse_head(head: bytes) -> Request:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes anything; kept for clarity
        raise HttpError(400, "undecodable request header") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"unsupported HTTP version {version[:20]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Request(method.upper(), target, version, headers, head)


async def read_body(rd: _BufferedReader, req: Request, max_body: int) -> bytes | memoryview:
    te = req.headers.get("transfer-encoding", "").lower()
    if te:
        if te != "chunked":
            raise HttpError(501, f"unsupported transfer-encoding {te[:40]!r}")
        chunks: list[bytes | memoryview] = []
        total = 0
        while True:
            line = await rd.read_line()
            size_txt = line.split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
            except ValueError:
                raise HttpError(400, "bad chunk size") from None
            if size < 0:
                raise HttpError(400, "bad chunk size")
            if size == 0:
                while await rd.read_line():  # trailers until the empty line
                    pass
                return b"".join(chunks)
            total += size
            if total > max_body:
                raise HttpError(413, f"request body larger than {max_body} bytes")
            chunks.append(await rd.read_exactly(size))
            if await rd.read_exactly(2) != b"\r\n":
                raise HttpError(400, "chunk not terminated by CRLF")
    cl = req.headers.get("content-length")
    if cl is None:
        return b""
    try:
        n = int(cl)
    except ValueError:
        raise HttpError(400, "bad Content-Length") from None
    if n < 0:
        raise HttpError(400, "bad Content-Length")
    if n > max_body:
        raise HttpError(413, f"request body larger than {max_body} bytes")
    return await rd.read_exactly(n)


def build_response(status: int, body: bytes | list = b"", *, content_type: str = "text/plain; charset=utf-8",
                   headers: dict[str, str] | None = None, keep_alive: bool = True,
                   head_only: bool = False) -> list:
    """Status line + headers + body; `body` may be a list of buffers (sent without joining)."""
    pieces = body if isinstance(body, list) else [body]
    size = sum(memoryview(p).nbytes for p in pieces)
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
             f"Content-Type: {content_type}",
             f"Content-Length: {size}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if not keep_alive:
        lines.append("Connection: close")
    out = ["\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"]
    if size and not head_only:
        out.extend(p for p in pieces if memoryview(p).nbytes)
    return out


def _max_body(app: Any) -> int:
    limits = getattr(getattr(app, "config", None), "limits", None)
    value = getattr(limits, "max_message_bytes", None)
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MAX_BODY


def _metrics(app: Any):
    return getattr(app, "metrics", None)


def _service(app: Any) -> RpcService:
    # one RpcService per app, created lazily: the app object belongs to the lead
    extras = getattr(app, "extras", None)
    store = extras if isinstance(extras, dict) else None
    svc = store.get("rpc_service") if store is not None else getattr(app, "_rpc_service", None)
    if svc is None:
        svc = RpcService(app)
        if store is not None:
            store["rpc_service"] = svc
        else:
            with contextlib.suppress(AttributeError):
                app._rpc_service = svc
    return svc


def _basic_credentials(req: Request) -> tuple[str, str] | None:
    value = req.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def handle_http(app: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      first_bytes: bytes = b"") -> None:
    """Serve one HTTP connection until it closes (keep-alive). `first_bytes` were already read."""
    metrics = _metrics(app)
    if metrics is not None:
        metrics.conn_opened("rpc")
    rd = _BufferedReader(reader, first_bytes, writer.transport)
    version = str(getattr(app, "version", "") or "")
    max_body = _max_body(app)
    try:
        while True:
            try:
                head = await asyncio.wait_for(rd.read_head(), IDLE_TIMEOUT)
                if head is None:
                    return
                req = parse_head(head)
                if req.headers.get("expect", "").lower() == "100-continue":
                    # curl sends this for big bodies and waits a second for the go-ahead
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    req.body = await asyncio.wait_for(read_body(rd, req, max_body), IDLE_TIMEOUT)
                except TimeoutError:
                    raise HttpError(408, "request body not received in time") from None
            except HttpError as exc:
                # after a framing error the stream position is unknown: answer and close
                writer.writelines(build_response(exc.status, (exc.message + "\n").encode(),
                                                 headers={"Marketstore-Version": version},
                                                 keep_alive=False))
                await writer.drain()
                return
            except TimeoutError:
                return
            keep = req.keep_alive
            if req.path == "/ws" and req.headers.get("upgrade", "").lower() == "websocket":
                from pgmkts.rpc.ws import serve_websocket  # local: only stream clients need it

                if not await _authorized(app, req, writer, version):
                    return
                await serve_websocket(app, req, rd.take_buffer(), reader, writer)
                return
            keep = await _dispatch(app, req, writer, version, keep)
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        return
    except asyncio.CancelledError:
        # server shutdown cancels idle keep-alive connections; end the task normally, or
        # asyncio's start_server callback logs the cancellation as an error
        return
    except Exception:
        log.exception("HTTP connection failed")
    finally:
        if metrics is not None:
            metrics.conn_closed("rpc")
        with contextlib.suppress(Exception):
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 1.0)  # TLS close_notify may never come


async def _authorized(app: Any, req: Request, writer: asyncio.StreamWriter, version: str,
                      keep: bool = True) -> str | None:
    """The caller's role ('readwrite'/'readonly'), or None after answering 401."""
    creds = _basic_credentials(req)
    role = authenticate(app, creds)
    if role is None:
        msg = b"authentication required\n" if creds is None else b"invalid user name or password\n"
        writer.writelines(build_response(
            401, msg, headers={"WWW-Authenticate": 'Basic realm="pgmkts", charset="UTF-8"',
                               "Marketstore-Version": version},
            keep_alive=keep, head_only=req.method == "HEAD"))
        await writer.drain()
    return role


async def _dispatch(app: Any, req: Request, writer: asyncio.StreamWriter, version: str,
                    keep: bool) -> bool:
    head_only = req.method == "HEAD"
    vh = {"Marketstore-Version": version}
    if req.path == "/healthz":
        if req.method not in ("GET", "HEAD"):
            writer.writelines(build_response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"},
                                             keep_alive=keep))
        else:
            writer.writelines(build_response(200, b"ok\n", keep_alive=keep, head_only=head_only))
        return keep
    if req.path not in ("/rpc", "/metrics", "/ws"):
        writer.writelines(build_response(404, b"not found\n", headers=vh, keep_alive=keep,
                                         head_only=head_only))
        return keep
    role = await _authorized(app, req, writer, version, keep)
    if role is None:
        return keep
    if req.path == "/metrics":
        metrics = _metrics(app)
        if req.method not in ("GET", "HEAD"):
            writer.writelines(build_response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"},
                                             keep_alive=keep))
        elif metrics is None:
            writer.writelines(build_response(503, b"metrics not configured\n", keep_alive=keep))
        else:
            from pgmkts.metrics import CONTENT_TYPE

            # the app may build Metrics() before/without the engine: export its counters lazily
            if getattr(app, "engine", None) is not None and hasattr(metrics, "attach_engine"):
                metrics.attach_engine(app.engine)
            writer.writelines(build_response(200, metrics.render(), content_type=CONTENT_TYPE,
                                             keep_alive=keep, head_only=head_only))
        return keep
    if req.path == "/ws":
        writer.writelines(build_response(426, b"websocket upgrade required\n", headers=vh,
                                         keep_alive=keep, head_only=head_only))
        return keep
    # /rpc
    if req.method == "HEAD":
        # pymarketstore's server_version() does a HEAD and reads only this header
        writer.writelines(build_response(200, b"", content_type="application/x-msgpack", headers=vh,
                                         keep_alive=keep))
        return keep
    if req.method != "POST":
        writer.writelines(build_response(405, b"rpc: POST method required, received " +
                                         req.method.encode("latin-1") + b"\n",
                                         headers={**vh, "Allow": "POST"}, keep_alive=keep))
        return keep
    svc = _service(app)
    t0 = time.perf_counter()
    loop = asyncio.get_running_loop()
    out = NOT_INLINE
    if svc.small_write(req.body):  # decoded and logged here; only the fsync is awaited
        try:
            out = await run_deferred(app.engine, lambda: svc.handle(req.body, role))
        except errors.PgmktsError as exc:
            out = svc.failed(req.body, exc)
    if out is NOT_INLINE:
        # numpy decoding and the engine (fsync on write) block: keep them off the event loop
        out = await loop.run_in_executor(None, svc.handle, req.body, role)
    body, rows_out, is_query = out
    metrics = _metrics(app)
    if metrics is not None and is_query:
        metrics.query("rpc", time.perf_counter() - t0, rows_out)
    writer.writelines(build_response(200, body, content_type="application/x-msgpack", headers=vh,
                                     keep_alive=keep))
    return keep


def server_ssl_context(app: Any) -> ssl.SSLContext | None:
    tls = getattr(getattr(app, "config", None), "tls", None)
    cert = getattr(tls, "cert_file", None) if tls is not None else None
    if not cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, getattr(tls, "key_file", None) or None)
    return ctx


async def start_rpc_server(app: Any, host: str, port: int) -> asyncio.Server:
    """Listen on host:port for the native HTTP side (HTTPS when config.tls.cert_file is set)."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handle_http(app, reader, writer, b"")

    return await asyncio.start_server(on_connect, host, port, ssl=server_ssl_context(app),
                                      limit=MAX_HEADER_BYTES)
