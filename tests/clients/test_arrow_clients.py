"""Arrow clients: adbc-driver-postgresql and connectorx pull results through
`COPY (query) TO STDOUT (FORMAT binary)` — the fast path to a DataFrame over the PostgreSQL protocol."""

from __future__ import annotations

import adbc_driver_postgresql.dbapi as dbapi
import connectorx as cx
import numpy as np
import pyarrow as pa
import pymarketstore as pymkts
import pytest

TBK = "ARROW/1Min/OHLCV"
T0 = 1_704_067_200
N = 5000


@pytest.fixture(scope="module")
def loaded(pgmkts_server):
    a = np.zeros(N, dtype=[("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"),
                           ("Close", "f4"), ("Volume", "f8")])
    a["Epoch"] = T0 + np.arange(N) * 60
    a["Open"] = np.arange(N) / 4
    a["High"] = a["Open"] + 1
    a["Low"] = a["Open"] - 1
    a["Close"] = a["Open"] + 0.5
    a["Volume"] = np.arange(N) * 10.0
    reply = pymkts.Client(pgmkts_server.rpc_url).write(a, TBK)
    assert not (reply or {}).get("responses")
    return pgmkts_server, a


def test_adbc_fetch_arrow_table(loaded):
    srv, a = loaded
    uri = f"postgresql://pgmkts@127.0.0.1:{srv.port}/pgmkts"
    with dbapi.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT epoch, open, volume FROM "{TBK}" WHERE epoch >= to_timestamp({T0 + 60 * 100}) '
                    'ORDER BY epoch')
        t = cur.fetch_arrow_table()
    assert t.num_rows == N - 100
    assert t.schema.field("epoch").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("open").type == pa.float32()
    np.testing.assert_array_equal(t["epoch"].cast(pa.int64()).to_numpy() // 1_000_000, a["Epoch"][100:])
    np.testing.assert_array_equal(t["open"].to_numpy(), a["Open"][100:])
    np.testing.assert_array_equal(t["volume"].to_numpy(), a["Volume"][100:])


def test_adbc_group_table_and_parameters(loaded):
    srv, _ = loaded
    with dbapi.connect(f"postgresql://pgmkts@127.0.0.1:{srv.port}/pgmkts") as conn, conn.cursor() as cur:
        cur.execute("SELECT symbol, count(*) AS n, max(close) AS mx FROM ohlcv_1min WHERE symbol = $1 "
                    "GROUP BY symbol", parameters=("ARROW",))
        t = cur.fetch_arrow_table()
    assert t.to_pylist() == [{"symbol": "ARROW", "n": N, "mx": pytest.approx((N - 1) / 4 + 0.5)}]


def test_connectorx_read_sql_to_arrow(loaded):
    srv, a = loaded
    t = cx.read_sql(f"postgresql://pgmkts@127.0.0.1:{srv.port}/pgmkts",
                    f'SELECT epoch, close FROM "{TBK}" ORDER BY epoch DESC LIMIT 10', return_type="arrow")
    closes = t["close"].to_numpy()
    np.testing.assert_array_equal(closes, a["Close"][::-1][:10])
