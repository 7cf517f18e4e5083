"""The client floor: a record/replay proxy in front of a PostgreSQL-protocol server.

For each query a runner sends, the proxy first forwards it to the real server and records the
replies (to Describe, Execute and Query); from then on it answers the client itself with those
exact bytes and never contacts the server. A timed call through the proxy therefore costs only the
client's own work (sending, parsing, decoding, building the DataFrame) plus a local socket copy:
no server can answer that client faster. It tells a server-bound gap from a client-bound one.
The proxy runs in a process of its own. Used on large results only (month, year, candles): on a
sub-millisecond query its own Python time and socket hops would weigh as much as the client's.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

from bench.base import Runner

SSL_CODES = (80877103, 80877104)          # SSLRequest, GSSENCRequest
_RFQ_IDLE = b"Z\x00\x00\x00\x05I"


@dataclass
class Recording:
    """The server's replies to one query, by the client message they answer."""
    describe_stmt: bytes = b""            # ParameterDescription + RowDescription/NoData
    describe_portal: bytes = b""          # RowDescription/NoData
    execute: bytes = b""                  # DataRow… CommandComplete (or CopyOut… for COPY via Query)
    query: dict[bytes, bytes] = field(default_factory=dict)   # Query message → all it gets before ReadyForQuery


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def _read_msg(sock: socket.socket) -> tuple[bytes, bytes]:
    """(type byte, whole message bytes) of one typed protocol message."""
    head = _recv_exact(sock, 5)
    (n,) = struct.unpack("!i", head[1:])
    return head[:1], head + _recv_exact(sock, n - 4)


@dataclass
class _Proxy:
    """The proxy itself, run in a process of its own (ReplayProxy) so that its Python work does not
    share the bench process's GIL with the client being measured. One connection is expected."""
    upstream: tuple[str, int]
    recordings: dict[str, Recording] = field(default_factory=dict)
    key: str | None = None                # the query being recorded or replayed
    replay: bool = False
    forwarded: int = 0                    # client turns sent on to the server (none while replaying)
    busy: int = 0                         # turns being answered or recorded right now

    def __post_init__(self) -> None:
        self.idle = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    # -- one client connection -------------------------------------------------------------
    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._handshake(client, server)
            while self._turn(client, server):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            client.close()
            server.close()

    def _handshake(self, client: socket.socket, server: socket.socket) -> None:
        while True:                                   # SSL/GSS requests, then the startup packet
            (n,) = struct.unpack("!i", _recv_exact(client, 4))
            body = _recv_exact(client, n - 4)
            server.sendall(struct.pack("!i", n) + body)
            if struct.unpack("!i", body[:4])[0] in SSL_CODES:
                client.sendall(_recv_exact(server, 1))   # 'N': the bench runs without TLS
                continue
            break
        while True:                                   # authentication and parameters, until ReadyForQuery
            kind, msg = _read_msg(server)
            client.sendall(msg)
            if kind == b"R" and struct.unpack("!i", msg[5:9])[0] not in (0,):
                _, answer = _read_msg(client)          # a password/SASL message from the client
                server.sendall(answer)
            if kind == b"Z":
                return

    def _turn(self, client: socket.socket, server: socket.socket) -> bool:
        """Read client messages up to Sync/Query/Flush; answer them (replay) or forward them (record)."""
        msgs: list[tuple[bytes, bytes]] = []
        while True:
            kind, msg = _read_msg(client)
            if kind == b"X":
                return False
            msgs.append((kind, msg))
            if kind in (b"S", b"Q", b"H"):
                break
        with self.idle:
            self.busy += 1
        try:
            return self._answer_or_forward(msgs, client, server)
        finally:
            with self.idle:
                self.busy -= 1
                self.idle.notify_all()

    def wait_idle(self) -> None:
        """The client may return before this process has recorded the reply it already forwarded:
        a mode change waits for the turn in progress to finish."""
        with self.idle:
            while self.busy:
                self.idle.wait()

    def _answer_or_forward(self, msgs: list[tuple[bytes, bytes]], client: socket.socket,
                           server: socket.socket) -> bool:
        key, replay = self.key, self.replay
        if replay and key in self.recordings:
            client.sendall(self._answer(msgs, self.recordings[key]))
            return True
        server.sendall(b"".join(m for _, m in msgs))
        self.forwarded += 1
        if msgs[-1][0] == b"H":
            replies = self._forward_expected(server, client, msgs)
        else:
            replies = self._forward_until_ready(server, client)
        if key is not None:
            self._record(msgs, replies, self.recordings.setdefault(key, Recording()))
        return True

    @staticmethod
    def _forward_expected(server: socket.socket, client: socket.socket,
                          msgs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """After a Flush the server answers each message and waits: read exactly those answers."""
        out: list[tuple[bytes, bytes]] = []

        def read_until(stop: tuple[bytes, ...]) -> bool:
            while True:
                kind, msg = _read_msg(server)
                client.sendall(msg)
                out.append((kind, msg))
                if kind == b"E":
                    return False
                if kind in stop:
                    return True

        for kind, _ in msgs:
            ok = True
            if kind in (b"P", b"B", b"C"):
                ok = read_until((b"1", b"2", b"3"))
            elif kind == b"D":
                ok = read_until((b"T", b"n"))       # statement: 't' first, then T/n
            elif kind == b"E":
                ok = read_until((b"C", b"I", b"s"))
            if not ok:
                break
        return out

    @staticmethod
    def _forward_until_ready(server: socket.socket, client: socket.socket) -> list[tuple[bytes, bytes]]:
        """Forward in large chunks until ReadyForQuery, then split what came into messages."""
        buf = bytearray()
        bounds: list[tuple[bytes, int, int]] = []
        off = 0
        while True:
            chunk = server.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed")
            client.sendall(chunk)
            buf += chunk
            while off + 5 <= len(buf):
                (n,) = struct.unpack_from("!i", buf, off + 1)
                if off + 1 + n > len(buf):
                    break
                bounds.append((bytes(buf[off:off + 1]), off, off + 1 + n))
                off += 1 + n
            if bounds and bounds[-1][0] == b"Z" and off == len(buf):
                data = bytes(buf)
                return [(k, data[a:b]) for k, a, b in bounds]

    @staticmethod
    def _record(msgs: list[tuple[bytes, bytes]], replies: list[tuple[bytes, bytes]], rec: Recording) -> None:
        """Attribute the server's replies to the client messages they answer, in order."""
        i = 0

        def take(stop: tuple[bytes, ...]) -> bytes:
            nonlocal i
            start = i
            while i < len(replies) and replies[i][0] not in stop:
                i += 1
            i += 1                                     # include the terminating message
            return b"".join(m for _, m in replies[start:i])

        for kind, msg in msgs:
            if i < len(replies) and replies[i][0] == b"E":
                return                                 # an error: nothing more is answered
            if kind in (b"P", b"B", b"C"):
                i += 1                                 # ParseComplete / BindComplete / CloseComplete
            elif kind == b"D":
                if msg[5:6] == b"S":
                    rec.describe_stmt = take((b"T", b"n"))
                else:
                    rec.describe_portal = take((b"T", b"n"))
            elif kind == b"E":
                rec.execute = take((b"C", b"I", b"s"))
            elif kind == b"Q":
                rec.query[msg] = take((b"Z",))[: -len(_RFQ_IDLE)]

    @staticmethod
    def _answer(msgs: list[tuple[bytes, bytes]], rec: Recording) -> bytes:
        out = []
        for kind, msg in msgs:
            if kind == b"P":
                out.append(b"1\x00\x00\x00\x04")
            elif kind == b"B":
                out.append(b"2\x00\x00\x00\x04")
            elif kind == b"C":
                out.append(b"3\x00\x00\x00\x04")
            elif kind == b"D":
                out.append(rec.describe_stmt if msg[5:6] == b"S" else rec.describe_portal)
            elif kind == b"E":
                out.append(rec.execute)
            elif kind == b"Q":
                if msg not in rec.query:
                    raise ConnectionError(f"query not recorded: {msg[5:85]!r}")
                out.append(rec.query[msg] + _RFQ_IDLE)
            elif kind == b"S":
                out.append(_RFQ_IDLE)
        return b"".join(out)


def _proxy_main(upstream: tuple[str, int], ctl) -> None:
    """Child process: serve the proxy; obey (key, replay) settings sent over `ctl`."""
    proxy = _Proxy(upstream)
    ctl.send(proxy.port)
    while True:
        try:
            cmd = ctl.recv()
        except EOFError:
            return
        if cmd == "close":
            proxy.close()
            ctl.send(None)
            return
        proxy.wait_idle()
        if cmd == "forwarded":
            ctl.send(proxy.forwarded)
            continue
        key, replay = cmd
        if replay and key not in proxy.recordings:
            ctl.send(f"{key} was not recorded")
            continue
        proxy.key, proxy.replay = key, replay
        ctl.send(None)


class ReplayProxy:
    """Handle on a _Proxy running in a child process."""

    def __init__(self, upstream: tuple[str, int]):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self._ctl, child = ctx.Pipe()
        self._proc = ctx.Process(target=_proxy_main, args=(upstream, child), daemon=True)
        self._proc.start()
        self.port: int = self._ctl.recv()
        self.recorded: set[str] = set()
        self._mode: tuple[str | None, bool] = (None, False)

    def set(self, key: str | None, replay: bool) -> None:
        if (key, replay) == self._mode:
            return
        self._ctl.send((key, replay))
        err = self._ctl.recv()
        if err:
            raise RuntimeError(err)
        self._mode = (key, replay)

    @property
    def forwarded(self) -> int:
        self._ctl.send("forwarded")
        return self._ctl.recv()

    def close(self) -> None:
        try:
            self._ctl.send("close")
            self._ctl.recv()
        except (OSError, EOFError):
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()


class FloorRunner(Runner):
    """Wraps a PostgreSQL-protocol runner connected through a ReplayProxy: `prime` records each
    query once through the real server, untimed; the timed calls are answered by the proxy."""

    METHODS = ("range_df", "last_n", "latest_all", "candles", "tick_range")

    def __init__(self, inner: Runner, proxy: ReplayProxy):
        self.inner, self.proxy = inner, proxy
        self.system, self.client = inner.system, inner.client + "-floor"
        # small results are left out: there the proxy's own Python work and the socket hops are
        # of the order of the whole call
        self.skip = frozenset(inner.skip) | {"append", "latest_lateral", "last100", "latest_all", "tick_hour"}
        for name in self.METHODS:
            if getattr(inner, name, None) is not None:
                setattr(self, name, self._wrap(name))

    def prime(self, name: str, *args) -> None:
        """Record the query once, untimed (the harness calls this before timing a workload)."""
        key = f"{name}{args!r}"
        if key not in self.proxy.recorded:
            self.proxy.set(key, False)
            try:
                getattr(self.inner, name)(*args)
            finally:
                self.proxy.set(None, False)
            self.proxy.recorded.add(key)

    def _wrap(self, name: str):
        fn = getattr(self.inner, name)

        def call(*args):
            key = f"{name}{args!r}"
            if key not in self.proxy.recorded:
                raise RuntimeError(f"{key} was not recorded: call prime() first")
            self.proxy.set(key, True)   # stays set: repeated calls of one query cost no round trip
            return fn(*args)
        return call

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.proxy.close()
