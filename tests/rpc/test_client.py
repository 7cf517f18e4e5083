"""The unmodified pymarketstore 0.22 client against the RPC server: every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymarketstore as pymkts
import pytest
from pymarketstore.params import ListSymbolsFormat

from tests.rpc.conftest import TEST_VERSION

T0 = 1_700_000_040  # a minute boundary (2023-11-14 22:14 UTC)

ALL_TYPES = [("Epoch", "i8"), ("a_i1", "i1"), ("a_i2", "i2"), ("a_i4", "i4"), ("a_i8", "i8"),
             ("a_u1", "u1"), ("a_u2", "u2"), ("a_u4", "u4"), ("a_u8", "u8"), ("a_f4", "f4"),
             ("a_f8", "f8")]


def bars(n: int, start: int = T0, step: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arr = np.empty(n, dtype=[("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"),
                             ("Close", "f4"), ("Volume", "i8")])
    arr["Epoch"] = start + step * np.arange(n)
    px = rng.uniform(10, 20, n).astype("f4")
    arr["Open"], arr["High"], arr["Low"], arr["Close"] = px, px + 1, px - 1, px + 0.5
    arr["Volume"] = rng.integers(0, 10_000, n)
    return arr


def q(client, symbols, tf="1Min", ag="OHLCV", **kw):
    return client.query(pymkts.Params(symbols, tf, ag, **kw))


def test_write_query_roundtrip_ohlcv(client):
    data = bars(500)
    assert client.write(data, "RT1/1Min/OHLCV") == {"responses": None}
    reply = q(client, "RT1")
    arr = reply.first().array
    assert arr.dtype.names == data.dtype.names
    np.testing.assert_array_equal(arr, data)
    df = reply.first().df()
    assert len(df) == 500
    assert df.index[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert reply.first().key == "RT1/1Min/OHLCV"


@pytest.mark.parametrize("dtype", [t for _, t in ALL_TYPES[1:]])
def test_every_dtype_roundtrips(client, dtype):
    dt = np.dtype([("Epoch", "i8"), ("v", dtype)])
    arr = np.zeros(5, dtype=dt)
    arr["Epoch"] = T0 + 60 * np.arange(5)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    lo, hi = (int(info.min), int(info.max)) if np.dtype(dtype).kind in "iu" else (float(info.min), float(info.max))
    arr["v"] = np.array([lo, hi, 0, 1, 2], dtype=dtype)
    tbk = f"DT{dtype.upper()}/1Min/T"
    client.write(arr, tbk)
    got = q(client, f"DT{dtype.upper()}", ag="T").first().array
    assert got.dtype["v"] == np.dtype(dtype)
    np.testing.assert_array_equal(got["v"], arr["v"])


def test_big_endian_columns_are_decoded(client):
    dt = np.dtype([("Epoch", ">i8"), ("v", ">f8"), ("w", ">i4")])
    arr = np.zeros(3, dtype=dt)
    arr["Epoch"] = T0 + 60 * np.arange(3)
    arr["v"] = [1.5, -2.25, 3e100]
    arr["w"] = [1, -2, 2**31 - 1]
    client.write(arr, "BE/1Min/T")
    got = q(client, "BE", ag="T").first().array
    np.testing.assert_array_equal(got["Epoch"], arr["Epoch"])
    np.testing.assert_array_equal(got["v"], arr["v"])
    np.testing.assert_array_equal(got["w"], arr["w"])


def test_overwrite_and_out_of_order(client):
    first = bars(10)
    client.write(first, "OVR/1Min/OHLCV")
    again = bars(3, start=T0 + 60 * 8, seed=5)[::-1].copy()   # out of order, overlaps slots 8,9 + new 10
    again["Close"] = [-1, -2, -3]
    client.write(again, "OVR/1Min/OHLCV")
    got = q(client, "OVR").first().array
    assert len(got) == 11
    assert np.all(np.diff(got["Epoch"]) == 60)
    by_epoch = dict(zip(got["Epoch"].tolist(), got["Close"].tolist(), strict=True))
    assert by_epoch[T0 + 600] == -1 and by_epoch[T0 + 540] == -2 and by_epoch[T0 + 480] == -3


def test_ticks_with_nanoseconds_variable_length(client):
    n = 6
    arr = np.zeros(n, dtype=[("Epoch", "i8"), ("Bid", "f4"), ("Ask", "f4"), ("Nanoseconds", "i4")])
    arr["Epoch"] = [T0, T0, T0 + 1, T0, T0 + 1, T0 + 2]
    arr["Nanoseconds"] = [500, 100, 7, 100, 999_999_999, 0]
    arr["Bid"] = np.arange(n)
    arr["Ask"] = np.arange(n) + 0.5
    client.write(arr, "TCK/1Sec/TICK", isvariablelength=True)
    client.write(arr[:1], "TCK/1Sec/TICK", isvariablelength=True)   # duplicates are kept
    got = q(client, "TCK", tf="1Sec", ag="TICK").first().array
    assert got.dtype.names == ("Epoch", "Bid", "Ask", "Nanoseconds")
    assert len(got) == n + 1
    keys = got["Epoch"].astype(np.int64) * 10**9 + got["Nanoseconds"]
    assert np.all(np.diff(keys) >= 0)
    assert sorted(got["Nanoseconds"].tolist()) == sorted([500, 100, 7, 100, 999_999_999, 0, 500])
    # equal times keep write order (stable): Bid 1 before Bid 3 at T0+100ns
    at100 = got[(got["Epoch"] == T0) & (got["Nanoseconds"] == 100)]
    assert at100["Bid"].tolist() == [1, 3]
    # nanosecond bounds are honoured for variable buckets (inclusive)
    start = pd.Timestamp(T0 * 10**9 + 100, unit="ns")
    end = pd.Timestamp((T0 + 1) * 10**9 + 7, unit="ns")
    got2 = q(client, "TCK", tf="1Sec", ag="TICK", start=start, end=end).first().array
    assert [(int(e), int(ns)) for e, ns in zip(got2["Epoch"], got2["Nanoseconds"], strict=True)] == \
        [(T0, 100), (T0, 100), (T0, 500), (T0, 500), (T0 + 1, 7)]


def test_multi_symbol_and_star(client):
    client.write(bars(5, seed=1), "MSA/1Min/MULTI")
    client.write(bars(7, seed=2), "MSB/1Min/MULTI")
    client.write(bars(3, seed=3), "MSC/5Min/MULTI")   # other timeframe: not part of '*' below
    reply = q(client, ["MSA", "MSB", "NOPE"], ag="MULTI")
    assert set(reply.keys()) == {"MSA/1Min/MULTI", "MSB/1Min/MULTI"}
    assert len(reply.by_symbols()["MSA"].array) == 5
    assert len(reply.by_symbols()["MSB"].array) == 7
    np.testing.assert_array_equal(reply.by_symbols()["MSB"].array, bars(7, seed=2))
    star = q(client, "*", ag="MULTI")
    assert set(star.keys()) == {"MSA/1Min/MULTI", "MSB/1Min/MULTI"}


def test_limits_from_start_and_end_and_range(client):
    data = bars(100)
    client.write(data, "LIM/1Min/OHLCV")
    last = q(client, "LIM", limit=10).first().array
    np.testing.assert_array_equal(last["Epoch"], data["Epoch"][-10:])
    first = q(client, "LIM", limit=10, limit_from_start=True).first().array
    np.testing.assert_array_equal(first["Epoch"], data["Epoch"][:10])
    # inclusive bounds
    rng = q(client, "LIM", start=int(data["Epoch"][10]), end=int(data["Epoch"][19])).first().array
    np.testing.assert_array_equal(rng["Epoch"], data["Epoch"][10:20])
    both = q(client, "LIM", start=int(data["Epoch"][10]), end=int(data["Epoch"][59]), limit=5).first().array
    np.testing.assert_array_equal(both["Epoch"], data["Epoch"][55:60])


def test_columns_projection(client):
    client.write(bars(4), "COL/1Min/OHLCV")
    got = q(client, "COL", columns=["Close", "Open"]).first().array
    assert got.dtype.names == ("Epoch", "Close", "Open")
    ticks = np.zeros(2, dtype=[("Epoch", "i8"), ("Bid", "f4"), ("Ask", "f4"), ("Nanoseconds", "i4")])
    ticks["Epoch"] = [T0, T0 + 1]
    client.write(ticks, "COLV/1Sec/TICK", isvariablelength=True)
    got = q(client, "COLV", tf="1Sec", ag="TICK", columns=["Ask"]).first().array
    assert got.dtype.names == ("Epoch", "Ask", "Nanoseconds")


def test_empty_range_reply_shape(client):
    client.write(bars(3), "EMP/1Min/OHLCV")
    reply = q(client, "EMP", start=T0 - 10_000, end=T0 - 5_000)
    ds = reply.first()
    assert ds.key == "EMP/1Min/OHLCV"
    assert len(ds.array) == 0
    assert ds.array.dtype.names == ("Epoch", "Open", "High", "Low", "Close", "Volume")
    assert len(ds.df()) == 0


def test_missing_bucket_is_no_files_error(client):
    with pytest.raises(Exception, match="no files returned from query parse"):
        q(client, "DOES-NOT-EXIST")


def test_server_version_header(client):
    assert client.server_version() == TEST_VERSION


def test_list_symbols_both_formats(client):
    client.write(bars(2), "LSA/1Min/OHLCV")
    client.write(bars(2), "LSA/5Min/OHLCV")
    syms = client.list_symbols()
    assert "LSA" in syms and syms.count("LSA") == 1
    tbks = client.list_symbols(ListSymbolsFormat.TBK)
    assert {"LSA/1Min/OHLCV", "LSA/5Min/OHLCV"} <= set(tbks)


def test_create_variable_then_write_and_destroy(client):
    dt = [("Epoch", "i8"), ("Price", "f8"), ("Size", "i4")]
    resp = client.create("CRV/1Sec/TRADE", dt, isvariablelength=True)
    assert resp["responses"][0]["error"] == ""
    again = client.create("CRV/1Sec/TRADE", [("Epoch", "i8"), ("Other", "f8")])
    assert again["responses"][0]["error"] != ""
    assert "CRV/1Sec/TRADE" in client.list_symbols(ListSymbolsFormat.TBK)
    rows = np.zeros(2, dtype=[("Epoch", "i8"), ("Price", "f8"), ("Size", "i4"), ("Nanoseconds", "i4")])
    rows["Epoch"] = T0
    rows["Nanoseconds"] = [20, 10]
    client.write(rows, "CRV/1Sec/TRADE", isvariablelength=True)
    got = q(client, "CRV", tf="1Sec", ag="TRADE").first().array
    assert got["Nanoseconds"].tolist() == [10, 20]
    assert client.destroy("CRV/1Sec/TRADE")["responses"][0]["error"] == ""
    assert "CRV/1Sec/TRADE" not in client.list_symbols(ListSymbolsFormat.TBK)
    gone = client.destroy("CRV/1Sec/TRADE")["responses"][0]["error"]
    assert gone.startswith("removal of catalog entry failed")


def test_schema_mismatch_write_reports_error(client):
    client.write(bars(2), "SCM/1Min/OHLCV")
    other = np.zeros(1, dtype=[("Epoch", "i8"), ("Foo", "f4")])
    other["Epoch"] = T0
    resp = client.write(other, "SCM/1Min/OHLCV")
    assert resp["responses"] and resp["responses"][0]["error"]
    assert resp["responses"][0]["version"] == TEST_VERSION
    assert len(q(client, "SCM").first().array) == 2


def test_coerced_numeric_widths(client):
    client.write(bars(2), "COE/1Min/OHLCV")
    wide = np.zeros(1, dtype=[("Epoch", "i8"), ("Open", "f8"), ("High", "f8"), ("Low", "f8"),
                              ("Close", "f8"), ("Volume", "i4")])
    wide["Epoch"] = T0 + 600
    wide["Close"] = 42.5
    assert client.write(wide, "COE/1Min/OHLCV") == {"responses": None}
    got = q(client, "COE").first().array
    assert got.dtype["Close"] == np.dtype("f4") and got["Close"][-1] == 42.5


def test_functions_candlecandler(client):
    client.write(bars(30), "FN/1Min/OHLCV")
    reply = q(client, "FN", functions=["candlecandler('5Min',Open,High,Low,Close,Sum::Volume)"])
    arr = reply.first().array
    src = bars(30)
    assert len(arr) == len(np.unique(src["Epoch"] // 300))
    assert "Volume_SUM" in arr.dtype.names
    assert arr["Volume_SUM"].sum() == src["Volume"].sum()


def test_timeframe_rewrite_reads_base_bucket(client):
    """MarketStore reads 1Min when asked for 3Min and no 3Min bucket exists."""
    data = bars(30)
    client.write(data, "QRW/1Min/OHLCV")
    reply = q(client, "QRW", tf="3Min")
    assert reply.first().key == "QRW/1Min/OHLCV"
    assert len(reply.first().array) == 30
    limited = q(client, "QRW", tf="3Min", limit=2).first().array
    np.testing.assert_array_equal(limited["Epoch"], data["Epoch"][-6:])
    candles = q(client, "QRW", tf="3Min",
                functions=["candlecandler('3Min',Open,High,Low,Close,Sum::Volume)"]).first().array
    assert np.all(np.diff(candles["Epoch"]) == 180)


def test_sql_statement(client):
    data = bars(5)
    client.write(data, "SQLB/1Min/OHLCV")
    stmt = 'SELECT epoch, close FROM "SQLB/1Min/OHLCV" ORDER BY epoch'
    reply = client.sql(stmt)
    ds = reply.first()
    assert ds.key == stmt
    assert ds.array.dtype.names == ("Epoch", "close")
    np.testing.assert_array_equal(ds.array["Epoch"], data["Epoch"])
    np.testing.assert_allclose(ds.array["close"], data["Close"])
    assert len(ds.df()) == 5


def test_several_requests_in_one_query_call(client):
    client.write(bars(4), "MQA/1Min/OHLCV")
    ticks = np.zeros(3, dtype=[("Epoch", "i8"), ("Px", "f8"), ("Nanoseconds", "i4")])
    ticks["Epoch"] = T0
    ticks["Nanoseconds"] = [3, 1, 2]
    client.write(ticks, "MQB/1Sec/TICK", isvariablelength=True)
    reply = client.query([pymkts.Params("MQA", "1Min", "OHLCV", limit=2),
                          pymkts.Params("MQB", "1Sec", "TICK")])
    assert [len(r.first().array) for r in reply.results] == [2, 3]
    assert reply.results[1].first().array["Nanoseconds"].tolist() == [1, 2, 3]


def test_concurrent_clients(rpc_server):
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> int:
        c = pymkts.Client(rpc_server.url())
        c.write(bars(100, seed=i), f"CC{i}/1Min/OHLCV")
        return len(q(c, f"CC{i}").first().array)

    with ThreadPoolExecutor(8) as ex:
        assert list(ex.map(work, range(16))) == [100] * 16


def test_multi_symbol_with_different_schemas_is_an_error(client):
    a = np.zeros(1, dtype=[("Epoch", "i8"), ("Px", "f4")])
    b = np.zeros(1, dtype=[("Epoch", "i8"), ("Px", "f8")])
    a["Epoch"] = b["Epoch"] = T0
    client.write(a, "MDA/1Min/MIX")
    client.write(b, "MDB/1Min/MIX")
    with pytest.raises(Exception, match="same data type"):
        q(client, ["MDA", "MDB"], ag="MIX")
    # a common projection is fine when the types agree; here they do not, so still an error,
    # while each symbol alone reads
    assert len(q(client, "MDA", ag="MIX").first().array) == 1
