"""Property test: whatever msgpack arrives, RpcService answers a decodable JSON-RPC envelope
and never raises (hostile structures, wrong types, odd sizes)."""

from __future__ import annotations

from types import SimpleNamespace

import msgpack
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmkts.rpc.msgpack_rpc import RpcService
from pgmkts.storage import Engine

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
                    st.text(max_size=20), st.binary(max_size=40),
                    st.sampled_from(["i8", "f4", ">i4", "U16", "O", "V8", "Epoch", "A/1Min/X", "../x/1Min/Y"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                      max_leaves=20)
methods = st.sampled_from(["DataService.Query", "DataService.Write", "DataService.Create", "DataService.Destroy",
                           "DataService.ListSymbols", "DataService.GetInfo", "Nope", ""])
dataset = st.fixed_dictionaries({
    "types": st.lists(st.sampled_from(["i8", "f4", "f8", ">i8", "u1", "U16", "bad"]), min_size=1, max_size=3),
    "names": st.lists(st.sampled_from(["Epoch", "Open", "Nanoseconds", ""]), min_size=1, max_size=3),
    "data": st.lists(st.binary(max_size=64), min_size=1, max_size=3),
    "length": st.integers(-2, 10),
    "startindex": st.dictionaries(st.sampled_from(["FZ/1Min/X", "FZ/1Sec/T:Symbol/Timeframe/AttributeGroup",
                                                   "../FZ/1Min/X"]), st.integers(-1, 10), max_size=2),
    "lengths": st.dictionaries(st.sampled_from(["FZ/1Min/X", "FZ/1Sec/T:Symbol/Timeframe/AttributeGroup"]),
                               st.integers(-1, 10), max_size=2),
})


def _service(tmp_path_factory) -> RpcService:
    engine = Engine(tmp_path_factory.mktemp("fuzz"))
    app = SimpleNamespace(config=SimpleNamespace(timezone="UTC", queryable=True), engine=engine,
                          version="fuzz", metrics=None)
    return RpcService(app)


def _check(reply_pieces) -> dict:
    reply = msgpack.loads(b"".join(bytes(p) for p in reply_pieces))
    assert reply["jsonrpc"] == "2.0"
    assert ("error" in reply) != ("result" in reply)
    if "error" in reply:
        msg = reply["error"]["message"]
        assert isinstance(msg, str) and msg
        assert not msg.startswith("internal error"), msg   # an unexpected exception is a bug
    return reply


def test_fuzz_envelopes(tmp_path_factory):
    svc = _service(tmp_path_factory)

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=methods, params=values)
    def run(method, params):
        body = msgpack.dumps({"method": method, "id": "1", "jsonrpc": "2.0", "params": params})
        _check(svc.handle(body)[0])

    run()
    svc.app.engine.close()


def test_fuzz_write_datasets(tmp_path_factory):
    svc = _service(tmp_path_factory)

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ds=dataset, var=st.booleans())
    def run(ds, var):
        body = msgpack.dumps({"method": "DataService.Write", "id": "1", "jsonrpc": "2.0",
                              "params": {"requests": [{"dataset": ds, "is_variable_length": var}]}})
        reply = _check(svc.handle(body)[0])
        assert "result" in reply   # Write reports per-request errors, never a call error

    run()
    # whatever was accepted is readable and well-formed
    for b in svc.app.engine.buckets():
        data = svc.app.engine.read(b.tbk)
        assert data["Epoch"].dtype == np.int64
    svc.app.engine.close()
