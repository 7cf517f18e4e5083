"""The stream hub (engine commit hook → loop) and `/ws` with pymarketstore's StreamConn."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time

import msgpack
import numpy as np
import pymarketstore as pymkts
import pytest
import websocket

from pgmkts.plugins.stream import Hub, parse_pattern, pattern_matches, rows_to_json
from pgmkts.storage import Engine
from tests.rpc.test_client import T0, bars


def test_patterns():
    assert pattern_matches(parse_pattern("*/*/*"), "A/1Min/OHLCV")
    assert pattern_matches(parse_pattern("BTC*/*/OHLCV"), "BTC-USD/1Min/OHLCV")
    assert not pattern_matches(parse_pattern("BTC/*/*"), "ETH/1Min/OHLCV")
    assert not pattern_matches(parse_pattern("*/1Min/*"), "A/5Min/X")
    for bad in ("*/*", "*", "a/b/c/d", "a//c", "", 5):
        with pytest.raises(ValueError, match="invalid stream"):
            parse_pattern(bad)


def test_rows_to_json_types_and_nan():
    rows = {"Epoch": np.array([T0, T0 + 60], "i8"), "Px": np.array([1.5, np.nan], "f4"),
            "N": np.array([1, 2], "u8"), "S": np.array(["ab", "c"], "U16"), "B": np.array([True, False])}
    out = json.loads(rows_to_json("A/1Min/X", rows))
    assert out == [{"Epoch": T0, "Px": 1.5, "N": 1, "S": "ab", "B": True},
                   {"Epoch": T0 + 60, "Px": None, "N": 2, "S": "c", "B": False}]
    assert rows_to_json("A/1Min/X", {}) == "[]"


def test_hub_fans_out_on_the_loop_thread(tmp_path):
    engine = Engine(tmp_path / "d")

    async def main():
        loop = asyncio.get_running_loop()
        hub = Hub()
        hub.attach(engine, loop)
        got_rows: list = []
        got_json: list = []
        threads: set = set()
        done = asyncio.Event()

        def on_rows(tbk, rows):
            threads.add(threading.get_ident())
            got_rows.append((tbk, len(rows["Epoch"])))

        def on_json(tbk, payload):
            got_json.append((tbk, payload))
            if len(got_json) == 2:
                done.set()

        unsub = hub.subscribe("HUB*/1Min/*", on_rows)
        hub.subscribe_json("*/1Min/OHLCV", on_json)
        hub.subscribe_json("HUBA/*/*", on_json)   # second JSON subscriber: same payload object
        await asyncio.to_thread(engine.write, "HUBA/1Min/OHLCV", {k: bars(3)[k] for k in bars(3).dtype.names})
        await asyncio.to_thread(engine.write, "OTHER/5Min/OHLCV", {k: bars(2)[k] for k in bars(2).dtype.names})
        await asyncio.wait_for(done.wait(), 10)
        assert got_rows == [("HUBA/1Min/OHLCV", 3)]
        assert threads == {threading.get_ident()}
        assert got_json[0][1] is got_json[1][1]          # JSON built once per event
        assert [r["Epoch"] for r in json.loads(got_json[0][1])] == bars(3)["Epoch"].tolist()
        unsub()
        assert hub.subscriber_count == 2
        hub.detach()

    try:
        asyncio.run(main())
    finally:
        engine.close()


def test_failing_subscriber_does_not_starve_others():
    hub = Hub()
    seen = []

    def boom(tbk, rows):
        raise RuntimeError("subscriber bug")

    hub.subscribe("*/*/*", boom)
    hub.subscribe("*/*/*", lambda tbk, rows: seen.append(tbk))
    hub.publish("A/1Min/X", {"Epoch": np.array([1])})
    assert seen == ["A/1Min/X"]


def ws_url(srv) -> str:
    return f"ws://127.0.0.1:{srv.port}/ws"


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_streamconn_receives_writes(rpc_server, client):
    conn = pymkts.StreamConn(ws_url(rpc_server))
    sockets: list = []
    real_connect = conn._connect

    def connect():  # keep the socket so the test can stop run() by closing it
        ws = real_connect()
        sockets.append(ws)
        return ws

    conn._connect = connect
    got: queue.Queue = queue.Queue()
    conn.register(r"STRM/.*", lambda c, msg: got.put(msg))
    before = rpc_server.hub.subscriber_count
    t = threading.Thread(target=lambda: _run_quietly(conn, ["STRM/*/*"]), daemon=True)
    t.start()
    wait_for(lambda: rpc_server.hub.subscriber_count > before)
    data = bars(4)
    client.write(data, "STRM/1Min/OHLCV")
    client.write(bars(2), "NOTME/1Min/OHLCV")
    msg = got.get(timeout=10)
    assert msg["key"] == "STRM/1Min/OHLCV"
    assert msg["data"]["Epoch"] == int(data["Epoch"][-1])
    assert msg["data"]["Volume"] == int(data["Volume"][-1])
    assert msg["data"]["Close"] == pytest.approx(float(data["Close"][-1]))
    sockets[0].close()
    t.join(10)
    assert not t.is_alive()
    wait_for(lambda: rpc_server.hub.subscriber_count == before)
    assert got.empty()


def _run_quietly(conn, streams):
    try:
        conn.run(streams)
    except Exception:  # closing the socket ends run() with an exception: expected
        pass


def test_ws_subscribe_echo_errors_and_replace(rpc_server, client):
    ws = websocket.WebSocket()
    ws.connect(ws_url(rpc_server))
    try:
        ws.send(msgpack.dumps({"streams": ["bad"]}), opcode=websocket.ABNF.OPCODE_BINARY)
        assert msgpack.loads(ws.recv()) == {"error": "bad is an invalid stream"}
        ws.send(msgpack.dumps({"streams": ["WSA/*/*"]}), opcode=websocket.ABNF.OPCODE_BINARY)
        assert msgpack.loads(ws.recv()) == {"streams": ["WSA/*/*"]}
        ws.send(msgpack.dumps({"streams": ["WSB/1Min/*"]}), opcode=websocket.ABNF.OPCODE_BINARY)
        assert msgpack.loads(ws.recv()) == {"streams": ["WSB/1Min/*"]}
        client.write(bars(1), "WSA/1Min/OHLCV")     # no longer subscribed
        client.write(bars(1, seed=4), "WSB/1Min/OHLCV")
        frame = ws.recv_data()
        assert frame[0] == websocket.ABNF.OPCODE_BINARY
        assert msgpack.loads(frame[1])["key"] == "WSB/1Min/OHLCV"
        ws.ping(b"x")   # the server answers pings (websocket-client handles the pong)
        client.write(bars(1, start=T0 + 600), "WSB/1Min/OHLCV")
        assert msgpack.loads(ws.recv())["data"]["Epoch"] == T0 + 600
    finally:
        ws.close()


def test_ws_bad_upgrade(rpc_server):
    import requests

    r = requests.get(f"http://127.0.0.1:{rpc_server.port}/ws",
                     headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert r.status_code == 400
    r = requests.get(f"http://127.0.0.1:{rpc_server.port}/ws")
    assert r.status_code == 426


def test_stream_trigger_on_filter():
    from types import SimpleNamespace

    from pgmkts.rpc.ws import stream_filter

    def app(*triggers):
        return SimpleNamespace(config=SimpleNamespace(triggers=triggers))

    assert stream_filter(app()) == []
    agg = SimpleNamespace(module="ondiskagg.so", on="*/1Min/OHLCV")
    st = SimpleNamespace(module="stream.so", on="*/1Min/*/*.bin")
    assert stream_filter(app(agg, st)) == [("*", "1Min", "*")]
    assert stream_filter(app({"module": "stream", "on": ""})) == [("*", "*", "*")]


def test_server_pings(rpc_server, monkeypatch):
    import pgmkts.rpc.ws as wsmod

    monkeypatch.setattr(wsmod, "PING_INTERVAL", 0.05)
    ws = websocket.WebSocket()
    ws.connect(ws_url(rpc_server))
    try:
        ws.settimeout(10)
        opcode, _ = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_PING
    finally:
        ws.close()


def test_rows_to_json_keeps_newest_rows_of_a_bulk_write():
    rows = {"Epoch": np.arange(50, dtype="i8"), "V": np.arange(50, dtype="f8")}
    out = json.loads(rows_to_json("A/1Min/X", rows, max_rows=5))
    assert [r["Epoch"] for r in out] == [45, 46, 47, 48, 49]
    assert len(json.loads(rows_to_json("A/1Min/X", rows))) == 50
