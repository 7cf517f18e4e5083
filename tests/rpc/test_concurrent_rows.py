"""RpcService.handle runs in several worker threads at once: the row count each call reports (the
rows_out metric) must be its own, not another request's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import msgpack
import numpy as np

from pgmkts.rpc.msgpack_rpc import RpcService
from pgmkts.storage import Engine

T0 = 1704153600


def test_rows_out_is_per_request_under_concurrency(tmp_path):
    with Engine(tmp_path / "d") as eng:
        eng.write("AAPL/1Min/OHLCV", {"Epoch": T0 + 60 * np.arange(500, dtype=np.int64),
                                      "Close": np.arange(500, dtype=np.float64)})
        app = SimpleNamespace(engine=eng, config=None, metrics=None, version="t")
        svc = RpcService(app)

        def query(limit: int) -> tuple[int, int]:
            body = msgpack.packb({"jsonrpc": "2.0", "id": 1, "method": "DataService.Query", "params": {
                "requests": [{"destination": "AAPL/1Min/OHLCV", "limit_record_count": limit}]}})
            _reply, rows, _is_query = svc.handle(body)
            return limit, rows

        limits = [1 + (i * 37) % 499 for i in range(400)]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(query, limits))
    wrong = [(want, got) for want, got in results if want != got]
    assert not wrong, wrong[:5]
