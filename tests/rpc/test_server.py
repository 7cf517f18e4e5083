"""pymarketstore against the whole started server (`python -m pgmkts start`): the native RPC
port and the shared PostgreSQL port (HTTP sniffed by its first bytes)."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pymarketstore as pymkts
import requests

from tests.rpc.test_client import T0, bars
from tests.rpc.test_stream import _run_quietly, wait_for


def test_rpc_port_roundtrip(pgmkts_server):
    c = pymkts.Client(pgmkts_server.rpc_url)
    data = bars(50)
    assert c.write(data, "SRV1/1Min/OHLCV") == {"responses": None}
    got = c.query(pymkts.Params("SRV1", "1Min", "OHLCV", limit=10)).first().array
    np.testing.assert_array_equal(got, data[-10:])
    assert c.server_version()
    assert "SRV1" in c.list_symbols()


def test_pg_port_answers_marketstore_http(pgmkts_server):
    """`pymarketstore.Client()`'s default endpoint is the PostgreSQL port (5993)."""
    c = pymkts.Client(f"http://127.0.0.1:{pgmkts_server.port}/rpc")
    data = bars(5, start=T0 + 6000)
    assert c.write(data, "SNIFF/1Min/OHLCV") == {"responses": None}
    got = c.query(pymkts.Params("SNIFF", "1Min", "OHLCV")).first().array
    np.testing.assert_array_equal(got, data)
    assert c.server_version() == pymkts.Client(pgmkts_server.rpc_url).server_version()
    assert requests.get(f"http://127.0.0.1:{pgmkts_server.port}/healthz").text.strip() == "ok"


def test_stream_on_started_server(pgmkts_server):
    conn = pymkts.StreamConn(f"ws://127.0.0.1:{pgmkts_server.rpc_port}/ws")
    sockets: list = []
    real_connect = conn._connect

    def connect():
        ws = real_connect()
        sockets.append(ws)
        return ws

    conn._connect = connect
    got: queue.Queue = queue.Queue()
    conn.register(r"SSTR/.*", lambda c, msg: got.put(msg))
    t = threading.Thread(target=lambda: _run_quietly(conn, ["SSTR/*/*"]), daemon=True)
    t.start()
    c = pymkts.Client(pgmkts_server.rpc_url)
    wait_for(lambda: bool(sockets))
    # the subscription is live once the server has echoed it; keep writing until a push arrives
    msg = None
    for k in range(200):
        c.write(bars(1, start=T0 + 60 * k), "SSTR/1Min/OHLCV")
        try:
            msg = got.get(timeout=0.05)
            break
        except queue.Empty:
            continue
    assert msg is not None and msg["key"] == "SSTR/1Min/OHLCV"
    sockets[0].close()
    t.join(10)


def test_metrics_on_started_server(pgmkts_server):
    pymkts.Client(pgmkts_server.rpc_url).list_symbols()
    text = requests.get(f"http://127.0.0.1:{pgmkts_server.rpc_port}/metrics").text
    assert 'pgmkts_connections_total{proto="rpc"}' in text
