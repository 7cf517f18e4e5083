"""The HTTP layer: routing, status codes, headers, keep-alive, chunked bodies, limits, auth,
/healthz and /metrics."""

from __future__ import annotations

import socket

import msgpack
import numpy as np
import pymarketstore as pymkts
import pytest
import requests

from tests.rpc.conftest import TEST_VERSION
from tests.rpc.test_client import bars


def rpc_body(method: str, params: dict) -> bytes:
    return msgpack.dumps({"method": method, "id": "1", "jsonrpc": "2.0", "params": params})


def raw_exchange(port: int, payload: bytes, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
    return b"".join(chunks)


def test_non_post_gets_405_with_version(rpc_server):
    r = requests.get(rpc_server.url())
    assert r.status_code == 405
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Marketstore-Version"] == TEST_VERSION


def test_head_has_version_header(rpc_server):
    r = requests.head(rpc_server.url())
    assert r.headers["Marketstore-Version"] == TEST_VERSION
    assert r.content == b""


def test_unknown_path_404(rpc_server):
    r = requests.post(f"http://127.0.0.1:{rpc_server.port}/nope", data=b"x")
    assert r.status_code == 404


def test_healthz(rpc_server):
    r = requests.get(f"http://127.0.0.1:{rpc_server.port}/healthz")
    assert r.status_code == 200 and r.text.strip() == "ok"


def test_metrics_count_rpc_traffic(rpc_server, client):
    client.write(bars(7), "MET/1Min/OHLCV")
    client.query(pymkts.Params("MET", "1Min", "OHLCV"))
    r = requests.get(f"http://127.0.0.1:{rpc_server.port}/metrics")
    assert r.status_code == 200
    text = r.text
    assert 'pgmkts_queries_total{proto="rpc"}' in text
    assert 'pgmkts_query_duration_seconds_bucket{le="0.001",proto="rpc"}' in text
    rows_in = [ln for ln in text.splitlines() if ln.startswith('pgmkts_rows_in_total{proto="rpc"}')]
    assert rows_in and float(rows_in[0].split()[-1]) >= 7
    assert 'pgmkts_connections_total{proto="rpc"}' in text


def test_keep_alive_serves_several_requests_on_one_connection(rpc_server):
    body = rpc_body("DataService.ListSymbols", {"format": "symbol"})
    req = (f"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", rpc_server.port), timeout=10) as s:
        f = s.makefile("rb")
        for _ in range(3):
            s.sendall(req)
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := f.readline()) != b"\r\n":
                k, _, v = line.decode().partition(":")
                headers[k.lower()] = v.strip()
            reply = msgpack.loads(f.read(int(headers["content-length"])))
            assert "Results" in reply["result"]


def test_chunked_request_body(rpc_server):
    body = rpc_body("DataService.ListSymbols", {"format": "tbk"})
    chunked = b"".join(f"{len(body[i:i + 7]):x}\r\n".encode() + body[i:i + 7] + b"\r\n"
                       for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    out = raw_exchange(rpc_server.port, b"POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n" + chunked)
    assert out.startswith(b"HTTP/1.1 200")
    reply = msgpack.loads(out.split(b"\r\n\r\n", 1)[1])
    assert isinstance(reply["result"]["Results"], list)


def test_body_too_large_413(make_server):
    srv = make_server(max_message_bytes=1000)
    out = raw_exchange(srv.port, b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413")


def test_header_too_large_and_garbage(rpc_server):
    out = raw_exchange(rpc_server.port, b"GET /rpc HTTP/1.1\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431")
    out = raw_exchange(rpc_server.port, b"POST /rpc HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    out = raw_exchange(rpc_server.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.1 505")
    assert requests.get(f"http://127.0.0.1:{rpc_server.port}/healthz").status_code == 200


AUTH_USERS = [("alice", "secret", "readwrite"), ("bob", "pw", "readonly")]


def test_auth_basic_required(make_server):
    srv = make_server(auth_method="scram-sha-256", users=AUTH_USERS)
    r = requests.post(srv.url(), data=rpc_body("DataService.ListSymbols", {}))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    with pytest.raises(requests.exceptions.HTTPError):
        pymkts.Client(srv.url("alice:wrong")).list_symbols()
    # server_version() (a HEAD) still finds the header on the 401
    assert pymkts.Client(srv.url()).server_version() == TEST_VERSION
    # /healthz stays open
    assert requests.get(f"http://127.0.0.1:{srv.port}/healthz").status_code == 200
    assert requests.get(f"http://127.0.0.1:{srv.port}/metrics").status_code == 401
    alice = pymkts.Client(srv.url("alice:secret"))
    assert alice.write(bars(3), "AUTH/1Min/OHLCV") == {"responses": None}
    assert alice.list_symbols() == ["AUTH"]


def test_auth_readonly_user_cannot_write(make_server):
    srv = make_server(auth_method="password", users=AUTH_USERS)
    pymkts.Client(srv.url("alice:secret")).write(bars(3), "RO/1Min/OHLCV")
    bob = pymkts.Client(srv.url("bob:pw"))
    with pytest.raises(Exception, match="readwrite"):
        bob.write(bars(3, start=10_000_000), "RO/1Min/OHLCV")
    with pytest.raises(Exception, match="readwrite"):
        bob.destroy("RO/1Min/OHLCV")
    with pytest.raises(Exception, match="readwrite"):
        bob.create("RO2/1Min/OHLCV", [("Epoch", "i8"), ("x", "f4")])
    got = bob.query(pymkts.Params("RO", "1Min", "OHLCV")).first().array
    assert len(got) == 3


def test_scram_verifier_password(make_server):
    import base64
    import hashlib
    import hmac

    salt = b"0123456789abcdef"
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    verifier = (f"SCRAM-SHA-256$4096:{base64.b64encode(salt).decode()}$"
                f"{base64.b64encode(hashlib.sha256(client_key).digest()).decode()}:"
                f"{base64.b64encode(server_key).decode()}")
    srv = make_server(auth_method="scram-sha-256", users=[("carol", verifier, "readwrite")])
    assert pymkts.Client(srv.url("carol:s3cret")).list_symbols() == []
    assert requests.post(srv.url("carol:nope"), data=b"").status_code == 401


def test_not_queryable_refuses_queries_accepts_writes(make_server):
    srv = make_server(queryable=False)
    c = pymkts.Client(srv.url())
    assert c.write(bars(2), "NQ/1Min/OHLCV") == {"responses": None}
    with pytest.raises(Exception, match="not queryable"):
        c.query(pymkts.Params("NQ", "1Min", "OHLCV"))
    assert srv.engine.read("NQ/1Min/OHLCV")["Epoch"].size == 2


def test_get_info(rpc_server, client):
    client.write(bars(2), "GI/1Min/OHLCV")
    r = requests.post(rpc_server.url(), data=rpc_body("DataService.GetInfo",
                                                       {"requests": [{"key": "GI/1Min/OHLCV"},
                                                                     {"key": "NOPE/1Min/OHLCV"}]}))
    res = msgpack.loads(r.content)["result"]["responses"]
    assert res[0]["TimeFrame"] == 60 * 10**9 and res[0]["RecordType"] == 0
    assert [d["Name"] for d in res[0]["DSV"]] == ["Epoch", "Open", "High", "Low", "Close", "Volume"]
    assert res[0]["ServerResp"]["error"] == ""
    assert res[1]["ServerResp"]["error"]


def test_u16_strings_roundtrip(client):
    arr = np.zeros(2, dtype=[("Epoch", "i8"), ("Name", "U16"), ("Px", "f8")])
    arr["Epoch"] = [1_700_000_000, 1_700_000_060]
    arr["Name"] = ["hello", "wörld-0123456789"[:16]]
    resp = client.write(arr, "STR/1Min/NAMES")
    if resp["responses"]:
        pytest.fail(f"U16 write failed: {resp}")
    got = client.query(pymkts.Params("STR", "1Min", "NAMES")).first().array
    assert got["Name"].tolist() == arr["Name"].tolist()


def test_https_when_tls_configured(make_server, tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.xfail("openssl CLI needed to make a test certificate")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    srv = make_server(cert_file=str(cert), key_file=str(key))
    r = requests.post(srv.url(scheme="https"), data=rpc_body("DataService.ListSymbols", {}), verify=str(cert))
    assert r.status_code == 200 and msgpack.loads(r.content)["result"] == {"Results": []}
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(srv.url(), data=rpc_body("DataService.ListSymbols", {}), timeout=5)


def test_truncated_body_gets_400(rpc_server):
    with socket.create_connection(("127.0.0.1", rpc_server.port), timeout=10) as s:
        s.sendall(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 400") and b"10 of 100" in out
    assert requests.get(f"http://127.0.0.1:{rpc_server.port}/healthz").status_code == 200


def test_large_write_body(rpc_server, client):
    data = bars(300_000)   # ~11 MB request body, read in many socket chunks
    assert client.write(data, "LARGE/1Min/OHLCV") == {"responses": None}
    got = client.query(pymkts.Params("LARGE", "1Min", "OHLCV", limit=5)).first().array
    np.testing.assert_array_equal(got, data[-5:])


def test_max_result_rows(make_server):
    srv = make_server(max_result_rows=50)
    c = pymkts.Client(srv.url())
    c.write(bars(100), "MAXR/1Min/OHLCV")
    with pytest.raises(Exception, match="max_result_rows"):
        c.query(pymkts.Params("MAXR", "1Min", "OHLCV"))
    assert len(c.query(pymkts.Params("MAXR", "1Min", "OHLCV", limit=50)).first().array) == 50
