"""The pymarketstore client floor: a record/replay HTTP proxy in front of the MarketStore RPC.

The proxy (a process of its own, so its work does not share the measured client's GIL) forwards a
request body it has not seen to the real server and keeps the reply; an identical body later is
answered from memory at once (pymarketstore sends the same bytes for the same query). A timed
pymarketstore call through it therefore costs only the client: building the request, requests/urllib3
sending it and reading the reply (in 10 KiB pieces: `Response.content`), msgpack and the DataFrame.
Unlike `pymarketstore-decode` (decode of bytes already in hand) it includes the client's HTTP work,
which no server can take away.
"""

from __future__ import annotations

import socket
import threading

from bench.base import Runner

_HEAD_END = b"\r\n\r\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _read_message(sock: socket.socket, buf: bytearray) -> tuple[bytes, bytes] | None:
    """One HTTP message (head, body) with a Content-Length body; None at EOF. `buf` keeps leftovers."""
    while _HEAD_END not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        buf += chunk
    cut = buf.index(_HEAD_END) + 4
    head = bytes(buf[:cut])
    need = cut + _content_length(head)
    while len(buf) < need:
        chunk = sock.recv(max(1 << 16, need - len(buf)))
        if not chunk:
            return None
        buf += chunk
    body = bytes(buf[cut:need])
    del buf[:need]
    return head, body


class _HttpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.replies: dict[bytes, bytes] = {}      # request body → whole recorded response
        self.forwarded = 0
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

    def _serve(self, client: socket.socket) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream: socket.socket | None = None
        cbuf, ubuf = bytearray(), bytearray()
        try:
            while (req := _read_message(client, cbuf)) is not None:
                head, body = req
                reply = self.replies.get(body)
                if reply is None:
                    if upstream is None:
                        upstream = socket.create_connection(self.upstream)
                        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    upstream.sendall(head + body)
                    got = _read_message(upstream, ubuf)
                    if got is None:
                        return
                    reply = got[0] + got[1]
                    self.forwarded += 1
                    self.replies[body] = reply
                client.sendall(reply)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _proxy_main(upstream: tuple[str, int], ctl) -> None:
    proxy = _HttpProxy(upstream)
    ctl.send(proxy.port)
    while True:
        try:
            cmd = ctl.recv()
        except EOFError:
            return
        if cmd == "forwarded":
            ctl.send(proxy.forwarded)
        elif cmd == "close":
            proxy.sock.close()
            ctl.send(None)
            return


class HttpReplayProxy:
    """Handle on an _HttpProxy running in a child process."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self._ctl, child = ctx.Pipe()
        self._proc = ctx.Process(target=_proxy_main, args=(upstream, child), daemon=True)
        self._proc.start()
        self.port: int = self._ctl.recv()

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


class HttpFloorRunner(Runner):
    """A pymarketstore runner pointed at an HttpReplayProxy: `prime` sends each query once (the
    proxy records the reply), the timed calls are answered by the proxy alone."""

    METHODS = ("range_df", "last_n", "latest_all", "candles", "tick_range")

    def __init__(self, inner: Runner, proxy: HttpReplayProxy) -> None:
        self.inner, self.proxy = inner, proxy
        self.system, self.client = inner.system, inner.client + "-floor"
        self.skip = frozenset(inner.skip) | {"append"}
        self._primed: set[str] = set()
        for name in self.METHODS:
            if getattr(inner, name, None) is not None:
                setattr(self, name, self._wrap(name))

    def prime(self, name: str, *args) -> None:
        key = f"{name}{args!r}"
        if key not in self._primed:
            getattr(self.inner, name)(*args)
            self._primed.add(key)

    def _wrap(self, name: str):
        fn = getattr(self.inner, name)

        def call(*args):
            if f"{name}{args!r}" not in self._primed:
                raise RuntimeError(f"{name}{args!r} was not recorded: call prime() first")
            return fn(*args)
        return call

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.proxy.close()
