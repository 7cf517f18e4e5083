"""SQL through DataService.Query: a result with a repeated column name is a clear error (the
reply maps names to columns), not an internal KeyError."""

from __future__ import annotations

from types import SimpleNamespace

import msgpack
import numpy as np

from pgmkts.rpc.msgpack_rpc import RpcService
from pgmkts.storage import Engine

T0 = 1704153600


def _sql(svc: RpcService, sql: str) -> dict:
    body = msgpack.packb({"jsonrpc": "2.0", "id": 7, "method": "DataService.Query", "params": {
        "requests": [{"is_sqlstatement": True, "sql_statement": sql}]}})
    reply, _rows, _q = svc.handle(body)
    return msgpack.unpackb(b"".join(bytes(p) for p in reply), raw=False)


def test_repeated_column_name_in_sql_result(tmp_path):
    with Engine(tmp_path / "d") as eng:
        eng.write("AAPL/1Min/OHLCV", {"Epoch": T0 + 60 * np.arange(3, dtype=np.int64),
                                      "Close": np.array([1.0, 2.0, 3.0])})
        svc = RpcService(SimpleNamespace(engine=eng, config=None, metrics=None, version="t"))
        out = _sql(svc, 'SELECT epoch, close, close FROM "AAPL/1Min/OHLCV"')
        assert "internal error" not in out["error"]["message"]
        assert "more than one column named 'close'" in out["error"]["message"]
        ok = _sql(svc, 'SELECT epoch, close, close AS c2 FROM "AAPL/1Min/OHLCV"')
        ds = ok["result"]["responses"][0]["result"]
        assert ds["names"] == ["Epoch", "close", "c2"] and ds["length"] == 3
