"""Big request bodies are received straight into one buffer (http._IntoBuffer): the same bytes,
the same errors and the same keep-alive behaviour as the StreamReader path, on asyncio and uvloop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import msgpack
import numpy as np
import pymarketstore as pymkts
import pytest

from pgmkts.rpc import http as H
from tests.rpc.test_client import bars

BIG = H.BIG_BODY + 12_345


def _loops():
    out = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop
        out.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    except ImportError:  # pragma: no cover - uvloop is a dependency of the server
        pass
    return out


class EchoServer:
    """Reads requests with read_body and answers each with its body's length and a digest;
    `fast` picks the into-buffer path (transport passed) or the reference StreamReader path."""

    def __init__(self, new_loop, fast: bool) -> None:
        self.loop = new_loop()
        self.fast = fast
        self.seen: list[tuple[str, bytes]] = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _start(self):
        return await asyncio.start_server(self._conn, "127.0.0.1", 0, limit=H.MAX_HEADER_BYTES)

    async def _conn(self, reader, writer):
        rd = H._BufferedReader(reader, b"", writer.transport if self.fast else None)
        try:
            while True:
                head = await rd.read_head()
                if head is None:
                    return
                req = H.parse_head(head)
                try:
                    body = bytes(await H.read_body(rd, req, 1 << 30))
                except H.HttpError as exc:
                    self.seen.append(("error", f"{exc.status} {exc.message}".encode()))
                    writer.writelines(H.build_response(exc.status, exc.message.encode(), keep_alive=False))
                    await writer.drain()
                    return
                self.seen.append(("body", body))
                writer.writelines(H.build_response(200, str(len(body)).encode()))
                await writer.drain()
        finally:
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _request(body: bytes) -> bytes:
    return f"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def _exchange(port: int, pieces: list[bytes], pause: float = 0.0) -> bytes:
    """Send pieces (with pauses between them), half-close, read every response until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        for p in pieces:
            s.sendall(p)
            if pause:
                time.sleep(pause)
        s.shutdown(socket.SHUT_WR)
        out = []
        while b := s.recv(1 << 16):
            out.append(b)
    return b"".join(out)


def _run_both(new_loop, scenario):
    """The scenario's (responses, bodies seen) through both paths: they must be identical."""
    got = []
    for fast in (False, True):
        srv = EchoServer(new_loop, fast)
        try:
            out = scenario(srv.port)
            got.append((out, list(srv.seen)))
        finally:
            srv.close()
    assert got[0] == got[1]
    return got[1]


@pytest.mark.parametrize("new_loop", _loops())
def test_pipelined_big_bodies_and_a_small_one(new_loop):
    rng = np.random.default_rng(1)
    b1 = rng.integers(0, 256, BIG, dtype=np.uint8).tobytes()
    b2 = rng.integers(0, 256, BIG * 2 + 7, dtype=np.uint8).tobytes()
    b3 = b"small"
    wire = _request(b1) + _request(b2) + _request(b3)   # one sendall: the StreamReader holds some
    out, seen = _run_both(new_loop, lambda port: _exchange(port, [wire]))
    assert seen == [("body", b1), ("body", b2), ("body", b3)]
    assert out.count(b"HTTP/1.1 200") == 3


@pytest.mark.parametrize("new_loop", _loops())
def test_big_body_in_slow_pieces(new_loop):
    body = bytes(range(256)) * (BIG // 256 + 1)
    wire = _request(body) + _request(b"tail")
    pieces = [wire[i:i + 300_001] for i in range(0, len(wire), 300_001)]
    _out, seen = _run_both(new_loop, lambda port: _exchange(port, pieces, pause=0.01))
    assert seen == [("body", body), ("body", b"tail")]


@pytest.mark.parametrize("new_loop", _loops())
def test_truncated_big_body_same_error(new_loop):
    body = b"z" * BIG
    wire = _request(body)[: -1000]   # the client half-closes 1000 bytes short
    out, seen = _run_both(new_loop, lambda port: _exchange(port, [wire]))
    assert seen == [("error", f"400 connection closed after {BIG - 1000} of {BIG} body bytes".encode())]
    assert out.startswith(b"HTTP/1.1 400")


def test_big_write_then_query_on_one_keep_alive_connection(rpc_server):
    """Through the real RPC service: a >1 MB Write pipelined with a Query in one send."""
    data = bars(60_000)
    names = data.dtype.names
    ds = {"types": [data.dtype[n].str.lstrip("<|") for n in names], "names": list(names),
          "data": [np.ascontiguousarray(data[n]).tobytes() for n in names], "length": len(data),
          "startindex": {"BIGB/1Min/OHLCV": 0}, "lengths": {"BIGB/1Min/OHLCV": len(data)}}
    w = msgpack.dumps({"method": "DataService.Write", "id": "1", "jsonrpc": "2.0",
                       "params": {"requests": [{"dataset": ds, "is_variable_length": False}]}})
    assert len(w) > H.BIG_BODY
    q = msgpack.dumps({"method": "DataService.ListSymbols", "id": "2", "jsonrpc": "2.0",
                       "params": {"format": "symbol"}})
    with socket.create_connection(("127.0.0.1", rpc_server.port), timeout=20) as s:
        s.sendall(_request(w) + _request(q))
        f = s.makefile("rb")
        replies = []
        for _ in range(2):
            assert f.readline().startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := f.readline()) != b"\r\n":
                k, _, v = line.decode().partition(":")
                headers[k.lower()] = v.strip()
            replies.append(msgpack.loads(f.read(int(headers["content-length"]))))
    assert replies[0]["result"] == {"responses": None}
    assert "BIGB" in replies[1]["result"]["Results"]
    got = pymkts.Client(rpc_server.url()).query(pymkts.Params("BIGB", "1Min", "OHLCV")).first().array
    np.testing.assert_array_equal(got, data)


@pytest.mark.parametrize("new_loop", _loops())
@pytest.mark.parametrize("fast", [False, True])
def test_body_split_across_sniffed_bytes_reader_buffer_and_socket(new_loop, fast):
    """Part of the body already consumed (sniffer/header read), part held by the StreamReader,
    the rest still in the socket, followed by the next request's bytes."""
    rng = np.random.default_rng(7)
    body = rng.integers(0, 256, BIG, dtype=np.uint8).tobytes()
    first, held, rest = body[:1000], body[1000:401_000], body[401_000:]

    async def main():
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a, limit=H.MAX_HEADER_BYTES)
        rd = H._BufferedReader(reader, first, writer.transport if fast else None)
        reader.feed_data(held)           # bytes the StreamReader had buffered before the body read
        loop = asyncio.get_running_loop()
        send = loop.run_in_executor(None, b.sendall, rest + b"NEXT")
        got = bytes(await rd.read_exactly(len(body)))
        nxt = bytes(await rd.read_exactly(4))
        await send
        writer.close()
        b.close()
        return got, nxt

    loop = new_loop()
    try:
        got, nxt = loop.run_until_complete(main())
    finally:
        loop.close()
    assert got == body
    assert nxt == b"NEXT"
