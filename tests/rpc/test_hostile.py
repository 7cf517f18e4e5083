"""Bad input over /rpc: every case gets an error reply, nothing is written, the server keeps
serving."""

from __future__ import annotations

import msgpack
import numpy as np
import pymarketstore as pymkts
import pytest
import requests

from tests.rpc.test_client import T0, bars
from tests.rpc.test_http import rpc_body


def call(srv, body: bytes) -> dict:
    r = requests.post(srv.url(), data=body, headers={"Content-Type": "application/x-msgpack"})
    assert r.status_code == 200
    return msgpack.loads(r.content)


def dataset(tbk: str, n: int = 2, *, names=("Epoch", "Open"), types=("i8", "f4"), data=None, length=None,
            start=0, count=None):
    if data is None:
        data = [np.arange(n, dtype="i8").tobytes() if t == "i8" else np.zeros(n, "f4").tobytes()
                for t in types]
    return {"types": list(types), "names": list(names), "data": data,
            "length": n if length is None else length,
            "startindex": {tbk: start}, "lengths": {tbk: n if count is None else count}}


def write(srv, ds, var=False) -> dict:
    return call(srv, rpc_body("DataService.Write", {"requests": [{"dataset": ds, "is_variable_length": var}]}))


def assert_alive(srv):
    c = pymkts.Client(srv.url())
    assert isinstance(c.list_symbols(), list)


def test_parse_error_and_bad_request(rpc_server):
    r = call(rpc_server, b"\xc1\xc1garbage")
    assert r["error"]["code"] == -32700
    r = call(rpc_server, msgpack.dumps([1, 2, 3]))
    assert r["error"]["code"] == -32600
    r = call(rpc_server, msgpack.dumps({"id": "1", "params": {}}))
    assert r["error"]["code"] == -32600
    r = call(rpc_server, b"")
    assert r["error"]["code"] == -32700
    assert_alive(rpc_server)


def test_unknown_method(rpc_server):
    r = call(rpc_server, rpc_body("DataService.Nope", {}))
    assert r["error"] == {"code": -32000, "message": 'rpc: can\'t find method "DataService.Nope"', "data": None}
    assert r["id"] == "1" and r["jsonrpc"] == "2.0"


def test_client_sees_error_message(rpc_server):
    c = pymkts.Client(rpc_server.url())
    with pytest.raises(Exception, match=r"^no files returned from query parse: None$"):
        c.query(pymkts.Params("NOTHERE", "1Min", "OHLCV"))


@pytest.mark.parametrize("params", [
    {"requests": "x"}, {"requests": [1]}, {"requests": [{"destination": 5}]},
    {"requests": [{"destination": "A/1Min"}]}, {"requests": [{"destination": "A/1Min/X", "epoch_start": "x"}]},
    {"requests": [{"destination": "A/1Min/X", "columns": "Open"}]},
    {"requests": [{"destination": "../x/1Min/OHLCV"}]},
    {"requests": [{"destination": "A/1Min/X", "limit_record_count": -3}]},
])
def test_wrong_query_types(rpc_server, params):
    r = call(rpc_server, rpc_body("DataService.Query", params))
    assert r["error"]["code"] == -32000 and r["error"]["message"]
    assert_alive(rpc_server)


@pytest.mark.parametrize("case", ["short", "long", "badtype", "objtype", "noepoch", "mismatch", "range",
                                  "notbytes", "notmap", "dupnames", "badlength"])
def test_bad_write_datasets_write_nothing(rpc_server, case):
    tbk = f"HOST{case.upper()}/1Min/OHLCV"
    ds = dataset(tbk, 4)
    if case == "short":
        ds["data"][1] = ds["data"][1][:-1]
    elif case == "long":
        ds["data"][0] += b"\x00" * 8
    elif case == "badtype":
        ds["types"][1] = "f3"
    elif case == "objtype":
        ds["types"][1] = "O"
    elif case == "noepoch":
        ds["names"][0] = "Time"
    elif case == "mismatch":
        ds["names"].append("Extra")
    elif case == "range":
        ds["lengths"][tbk] = 10
    elif case == "notbytes":
        ds["data"][1] = "text"
    elif case == "notmap":
        ds = [1, 2]
    elif case == "dupnames":
        ds["names"][1] = "Epoch"
    elif case == "badlength":
        ds["length"] = "4"
    r = write(rpc_server, ds)
    resp = r["result"]["responses"]
    assert resp and resp[0]["error"], r
    assert rpc_server.engine.info(tbk) is None
    assert_alive(rpc_server)


@pytest.mark.parametrize("tbk", ["../x/1Min/OHLCV", "a/../../1Min/OHLCV", "A/1Min/OH\x00LCV", "A/1Min",
                                 "A/1Foo/OHLCV", "/1Min/OHLCV", "A/1Min/" + "x" * 300])
def test_hostile_bucket_names(rpc_server, tbk):
    r = write(rpc_server, dataset(tbk, 2))
    assert r["result"]["responses"][0]["error"]
    r = call(rpc_server, rpc_body("DataService.Create", {"requests": [
        {"key": tbk + ":Symbol/Timeframe/AttributeGroup", "column_names": ["Epoch", "x"],
         "column_types": ["i8", "f4"], "row_type": "fixed"}]}))
    assert r["result"]["responses"][0]["error"]
    r = call(rpc_server, rpc_body("DataService.Destroy", {"requests": [{"key": tbk}]}))
    assert r["result"]["responses"][0]["error"]
    assert not (rpc_server.root.parent / "x").exists()
    assert not (rpc_server.root.parent / "1Min").exists()
    assert_alive(rpc_server)


def test_multi_request_write_reports_per_request(rpc_server):
    good = dataset("MRGOOD/1Min/OHLCV", 3)
    good["data"][0] = (T0 + 60 * np.arange(3, dtype="i8")).tobytes()
    bad = dataset("MRBAD/1Min/OHLCV", 3)
    bad["data"][1] = b"\x00"
    r = call(rpc_server, rpc_body("DataService.Write", {"requests": [
        {"dataset": bad, "is_variable_length": False}, {"dataset": good, "is_variable_length": False}]}))
    resp = r["result"]["responses"]
    assert len(resp) == 1 and "column Open" in resp[0]["error"]
    assert rpc_server.engine.read("MRGOOD/1Min/OHLCV")["Epoch"].tolist() == (T0 + 60 * np.arange(3)).tolist()
    assert rpc_server.engine.info("MRBAD/1Min/OHLCV") is None


def test_multi_bucket_dataset_and_big_endian_raw(rpc_server):
    """One dataset holding two buckets (startindex/lengths), with big-endian columns."""
    n = 5
    ep = (T0 + 60 * np.arange(n)).astype(">i8")
    px = np.arange(n, dtype=">f8")
    ds = {"types": [">i8", ">f8"], "names": ["Epoch", "Px"], "data": [ep.tobytes(), px.tobytes()],
          "length": n, "startindex": {"MB1/1Min/P:Symbol/Timeframe/AttributeGroup": 0, "MB2/1Min/P": 2},
          "lengths": {"MB1/1Min/P:Symbol/Timeframe/AttributeGroup": 2, "MB2/1Min/P": 3}}
    assert write(rpc_server, ds)["result"] == {"responses": None}
    assert rpc_server.engine.read("MB1/1Min/P")["Px"].tolist() == [0.0, 1.0]
    assert rpc_server.engine.read("MB2/1Min/P")["Px"].tolist() == [2.0, 3.0, 4.0]


def test_huge_declared_length_is_refused(rpc_server):
    ds = dataset("HUGE/1Min/OHLCV", 2, length=2**40)
    r = write(rpc_server, ds)
    assert r["result"]["responses"][0]["error"]
    assert rpc_server.engine.info("HUGE/1Min/OHLCV") is None


def test_server_survives_many_bad_requests(rpc_server):
    c = pymkts.Client(rpc_server.url())
    c.write(bars(3), "SURV/1Min/OHLCV")
    for body in (b"\x00" * 100, msgpack.dumps({"method": 5}), msgpack.dumps({"method": "DataService.Write",
                                                                             "params": "x"})):
        assert "error" in call(rpc_server, body)
    assert len(c.query(pymkts.Params("SURV", "1Min", "OHLCV")).first().array) == 3


def test_extreme_epoch_bounds(rpc_server):
    pymkts.Client(rpc_server.url()).write(bars(3), "EXT/1Min/OHLCV")
    r = call(rpc_server, rpc_body("DataService.Query", {"requests": [
        {"destination": "EXT/1Min/OHLCV", "epoch_start": -(2**62), "epoch_end": 2**63 - 1}]}))
    assert r["result"]["responses"][0]["result"]["length"] == 3


def test_looks_like_http():
    from pgmkts.rpc.http import looks_like_http

    assert looks_like_http(b"POST /rpc HTTP/1.1") and looks_like_http(b"GE") and looks_like_http(b"HEAD ")
    assert not looks_like_http(b"\x00\x00\x00\x08\x04\xd2\x16\x2f") and not looks_like_http(b"")
