"""The PostgreSQL listener: accepts connections, sniffs HTTP vs PostgreSQL on the first bytes,
keeps the connection registry (max_connections, CancelRequest keys, NOTIFY channels)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import ssl
from collections import OrderedDict
from typing import Any

from pgmkts.errors import ConfigError
from pgmkts.wire.connection import Connection, secret_matches
from pgmkts.wire.notify import Channels

log = logging.getLogger("pgmkts.wire")

HTTP_PREFIXES = (b"GET ", b"POST", b"HEAD", b"PUT ", b"OPTI", b"DELE", b"PATC")
_CHEAP_MAX = 4096


class RowsCache:
    """Encoded DataRows of recent small FastResults, shared by all connections (LRU, bounded
    in entries and bytes). Keys carry the bucket's data version, so a write retires them."""

    # PGMKTS_WIRE_ROWS_CACHE=0 turns it off (to measure the uncached path)
    MAX_ENTRIES = int(os.environ.get("PGMKTS_WIRE_ROWS_CACHE", "512"))
    MAX_BYTES = 32 << 20
    MAX_ENTRY = 256 << 10

    def __init__(self) -> None:
        self._d: OrderedDict[tuple, tuple[int, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> tuple[int, bytes] | None:
        hit = self._d.get(key)
        if hit is not None:
            self._d.move_to_end(key)
        return hit

    def put(self, key: tuple, rows: int, data: bytes) -> None:
        if len(data) > self.MAX_ENTRY or key in self._d or not self.MAX_ENTRIES:
            return
        self._d[key] = (rows, data)
        self._bytes += len(data)
        while len(self._d) > self.MAX_ENTRIES or self._bytes > self.MAX_BYTES:
            _k, (_n, old) = self._d.popitem(last=False)
            self._bytes -= len(old)


def make_ssl_context(tls) -> ssl.SSLContext | None:
    if not tls.cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"tls.cert_file/tls.key_file: cannot load certificate: {e}") from None
    return ctx


class PgServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.ssl_context = make_ssl_context(app.config.tls)
        self.conns: dict[int, Connection] = {}
        self.channels = Channels()
        self._next_pid = 10000
        # statement texts measured cheap (run inline on the loop); shared by all connections
        self.cheap: OrderedDict[str, bool] = OrderedDict()
        self._metric_children: dict[str, Any] = {}
        self.rows_cache = RowsCache()
        self.rowdesc: dict[tuple, tuple[list, bytes]] = {}   # Connection._row_description memo

    def metric_child(self, name: str):
        """The proto="pg" child of a Metrics counter/histogram, looked up once (labels() is
        ~10 µs, paid per query otherwise); None when metrics are off."""
        try:
            return self._metric_children[name]
        except KeyError:
            pass
        child = None
        m = getattr(self.app.metrics, name, None)
        if m is not None:
            try:
                child = m.labels(proto="pg")
            except Exception:
                child = None
        self._metric_children[name] = child
        return child

    def mark_cheap(self, key: str) -> None:
        self.cheap[key] = True
        if len(self.cheap) > _CHEAP_MAX:
            self.cheap.popitem(last=False)

    def register(self, conn: Connection) -> bool:
        if len(self.conns) >= self.app.config.limits.max_connections:
            return False
        self._next_pid += 1
        while self._next_pid in self.conns:
            self._next_pid += 1
        conn.pid = self._next_pid
        conn.secret = secrets.randbits(31)
        self.conns[conn.pid] = conn
        self._gauge(1)
        return True

    def unregister(self, conn: Connection) -> None:
        if self.conns.get(conn.pid) is conn:
            del self.conns[conn.pid]
            self._gauge(-1)

    def _gauge(self, d: int) -> None:
        g = self.metric_child("connections_open")
        if g is not None:
            try:
                g.inc(d)
            except Exception:
                pass

    def cancel(self, pid: int, secret: int) -> None:
        conn = self.conns.get(pid)
        if conn is not None and secret_matches(conn.secret, secret):
            conn.cancel("user request")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = b""
        try:
            while len(first) < 4:
                chunk = await asyncio.wait_for(reader.read(4096),
                                               self.app.config.limits.startup_timeout_s or None)
                if not chunk:
                    writer.close()
                    return
                first += chunk
        except (TimeoutError, ConnectionError, OSError):
            writer.close()
            return
        if first[:4] in HTTP_PREFIXES and self.app.http_handler is not None:
            await self.app.http_handler(reader, writer, first)
            return
        await Connection(self, reader, writer).run(first)


async def start_pg_server(app: Any, host: str, port: int) -> asyncio.Server:
    """Listen for PostgreSQL (and sniffed HTTP) connections; the caller closes the server."""
    srv = PgServer(app)
    server = await asyncio.start_server(srv.handle, host, port, reuse_address=True, backlog=512)
    app.extras["pg"] = srv   # the registry (connections, cancel keys) for metrics and tests
    return server
