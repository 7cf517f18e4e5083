"""MarketStore `functions` strings: parsing, argument binding, candlecandler/tickcandler against
pandas, count/min/max/avg, gap (threshold and z-score), chaining, errors and merge."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts import errors
from pgmkts.uda import apply_functions, build, output_schema, parse_call
from pgmkts.uda.apply import schema_of

T0 = 1_577_836_800  # 2020-01-01 00:00 UTC


def ts(s: str) -> int:
    return int(pd.Timestamp(s, tz="UTC").value // 10**9)


def ohlc_hours():
    # tests/integ/tests/test_aggcandler.py of MarketStore
    return {"Epoch": np.array([ts("2020-01-01 00:00"), ts("2020-01-01 01:00"), ts("2020-01-01 02:00"),
                               ts("2020-01-01 03:00")], dtype=np.int64),
            "Open": np.array([20, 40, 60, 80], "f4"), "High": np.array([40, 80, 120, 160], "f4"),
            "Low": np.array([10, 20, 30, 40], "f4"), "Close": np.array([30, 60, 90, 120], "f4")}


@pytest.mark.parametrize("call,expect", [
    ("candlecandler('5Min',Open,High,Low,Close,Sum::Volume,Avg::Volume)",
     ("candlecandler", ("5Min",), ("Open", "High", "Low", "Close", "Sum::Volume", "Avg::Volume"))),
    ('candlecandler("1Min",Ask)', ("candlecandler", ("1Min",), ("Ask",))),
    ("  AVG (Example) ", ("avg", (), ("Example",))),
    ("GAP ('10Sec')", ("gap", ("10Sec",), ())),
    ("gap()", ("gap", (), ())),
    ("tickcandler( Price , '1Min', Sum::Size )", ("tickcandler", ("1Min",), ("Price", "Sum::Size"))),
])
def test_parse_call(call, expect):
    c = parse_call(call)
    assert (c.name, c.literals, c.params) == expect


@pytest.mark.parametrize("bad", ["candlecandler", "candlecandler('5Min'", "candlecandler('5Min,Open)",
                                 "(x)", "a b(x)", "f(x) trailing"])
def test_parse_errors(bad):
    with pytest.raises(errors.SyntaxError_):
        parse_call(bad)


@pytest.mark.parametrize("fn,exp", [("candlecandler('2H',Open,High,Low,Close)", (20, 80, 10, 60)),
                                    ("candlecandler(\"4H\",Open,High,Low,Close)", (20, 160, 10, 120)),
                                    ("tickcandler('2H', Open)", (20, 40, 20, 40)),
                                    ("tickcandler('4H', Close)", (30, 120, 30, 120))])
def test_candlers_as_marketstore_integration_suite(fn, exp):
    out = apply_functions(ohlc_hours(), [fn], tf_seconds=1)
    assert (out["Open"][0], out["High"][0], out["Low"][0], out["Close"][0]) == exp
    assert out["Epoch"][0] == T0 and out["Open"].dtype == np.float32


def test_candlecandler_output_columns_and_order():
    d = ohlc_hours()
    d["Volume"] = np.array([1, 2, 3, 4], dtype=np.int32)
    d["Trades"] = np.array([10, 20, 30, 40], dtype=np.int64)
    fn = "candlecandler('2H',Open,High,Low,Close,Avg::Volume,Sum::Volume,sum::Trades)"
    out = apply_functions(d, [fn], tf_seconds=3600)
    # MarketStore emits every _SUM column, then every _AVG column
    assert list(out) == ["Epoch", "Open", "High", "Low", "Close", "Volume_SUM", "Trades_SUM", "Volume_AVG"]
    assert out["Volume_SUM"].tolist() == [3.0, 7.0] and out["Volume_SUM"].dtype == np.float64
    assert out["Volume_AVG"].tolist() == [1.5, 3.5]
    assert out["Trades_SUM"].tolist() == [30.0, 70.0]
    assert output_schema([fn], schema_of(d)) == [
        ("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4"),
        ("Volume_SUM", "f8"), ("Trades_SUM", "f8"), ("Volume_AVG", "f8")]
    # positional optionals bind Sum then Avg
    pos = apply_functions(d, ["candlecandler('2H',Open,High,Low,Close,Volume,Trades)"], tf_seconds=3600)
    assert list(pos)[-2:] == ["Volume_SUM", "Trades_AVG"]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), window=st.sampled_from(["5Min", "1H", "1D", "15Min"]),
       dtype=st.sampled_from(["f4", "f8", "i4", "u2"]))
def test_candlecandler_matches_pandas(seed, window, dtype):
    rng = np.random.default_rng(seed)
    slots = np.flatnonzero(rng.random(5000) < rng.uniform(0.05, 1.0))
    n = slots.size
    close = rng.uniform(10, 200, n)
    d = {"Epoch": T0 + slots.astype(np.int64) * 60,
         "Open": close.astype(dtype), "High": (close + 5).astype(dtype),
         "Low": (close - 5).astype(dtype), "Close": close.astype(dtype),
         "Volume": rng.integers(0, 1000, n).astype(np.int64)}
    out = apply_functions(d, [f"candlecandler('{window}',Open,High,Low,Close,Sum::Volume,Avg::Volume)"],
                          tf_seconds=60)
    rule = {"5Min": "5min", "1H": "1h", "1D": "1D", "15Min": "15min"}[window]
    df = pd.DataFrame({k: v for k, v in d.items() if k != "Epoch"},
                      index=pd.to_datetime(d["Epoch"], unit="s", utc=True))
    for c in ("Open", "High", "Low", "Close"):
        df[c] = df[c].astype(np.float32)
    r = df.resample(rule, label="left", closed="left").agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": ["sum", "mean", "count"]})
    r = r[r[("Volume", "count")] > 0]
    np.testing.assert_array_equal(out["Epoch"], r.index.as_unit("s").asi8)
    for c in ("Open", "High", "Low", "Close"):
        np.testing.assert_array_equal(out[c], r[(c, {"Open": "first", "High": "max", "Low": "min",
                                                     "Close": "last"}[c])].to_numpy(np.float32))
    np.testing.assert_array_equal(out["Volume_SUM"], r[("Volume", "sum")].to_numpy(np.float64))
    np.testing.assert_allclose(out["Volume_AVG"], r[("Volume", "mean")].to_numpy(), rtol=1e-12)


def test_tickcandler_from_ticks_with_nanoseconds():
    e = np.array([T0, T0, T0 + 59, T0 + 60, T0 + 61], dtype=np.int64)
    ns = np.array([500, 100, 0, 0, 0], dtype=np.int32)  # written out of order within the second
    d = {"Epoch": e, "Nanoseconds": ns, "Price": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
         "Size": np.array([10, 20, 30, 40, 50], dtype=np.uint64)}
    out = apply_functions(d, ["tickcandler('1Min',Price,Sum::Size)"], tf_seconds=1)
    assert out["Epoch"].tolist() == [T0, T0 + 60]
    assert out["Open"].tolist() == [2.0, 4.0]  # (T0, 100ns) comes first
    assert out["Close"].tolist() == [3.0, 5.0] and out["High"].tolist() == [3.0, 5.0]
    assert out["Size_SUM"].tolist() == [60.0, 90.0]


def test_tickcandler_averages_several_price_columns():
    d = {"Epoch": np.array([T0, T0 + 1], dtype=np.int64), "Bid": np.array([1.0, 3.0]),
         "Ask": np.array([2.0, 5.0])}
    out = apply_functions(d, ["tickcandler('1Min',CandlePrice::Bid,CandlePrice::Ask)"], tf_seconds=1)
    assert out["Open"].tolist() == [1.5] and out["Close"].tolist() == [4.0]


@pytest.mark.parametrize("fn,col,limit,exp", [
    ("AVG (Example)", "Avg", 2, 3.0), ("AVG (Example2)", "Avg", 4, 50.0),
    ("MAX (Example)", "Max", 3, 6.0), ("MIN (Example2)", "Min", 4, 20.0),
    ("COUNT (Example)", "Count", 3, 3), ("count(*)", "Count", 4, 4), ("count()", "Count", 1, 1)])
def test_scalar_aggregates(fn, col, limit, exp):
    # tests/integ/tests/test_basic_aggfunc.py of MarketStore
    d = {"Epoch": T0 + np.arange(4, dtype=np.int64), "Example": np.array([2, 4, 6, 8], "f4"),
         "Example2": np.array([20, 40, 60, 80], "f4")}
    d = {k: v[:limit] for k, v in d.items()}
    before = int(time.time())
    out = apply_functions(d, [fn], tf_seconds=1)
    assert list(out) == ["Epoch", col] and out[col][0] == exp
    assert before <= out["Epoch"][0] <= int(time.time())  # MarketStore stamps "now"
    assert out[col].dtype == {"Avg": np.float64, "Max": np.float32, "Min": np.float32,
                              "Count": np.int64}[col]


def test_scalars_on_integer_and_empty_input():
    d = {"Epoch": np.array([1, 2, 3], dtype=np.int64), "v": np.array([-5, 7, 1], dtype=np.int16)}
    assert apply_functions(d, ["min(v)"], tf_seconds=1)["Min"][0] == -5
    assert apply_functions(d, ["max(V)"], tf_seconds=1)["Max"][0] == 7  # case-insensitive fallback
    empty = {k: v[:0] for k, v in d.items()}
    assert np.isnan(apply_functions(empty, ["avg(v)"], tf_seconds=1)["Avg"][0])
    assert apply_functions(empty, ["count(*)"], tf_seconds=1)["Count"][0] == 0
    out = apply_functions(empty, ["candlecandler('5Min',v,v,v,v,Sum::v)"], tf_seconds=1)
    assert list(out) == ["Epoch", "Open", "High", "Low", "Close", "v_SUM"] and out["Epoch"].size == 0


GAP = {"Epoch": np.array([T0, T0 + 10, T0 + 30, T0 + 60], dtype=np.int64), "Example": np.ones(4, "f4")}


@pytest.mark.parametrize("fn,n", [("GAP ('1Sec')", 3), ("GAP ('10Sec')", 2), ("GAP ('20Sec')", 1),
                                  ("GAP ('30Sec')", 0), ('gap("1Min")', 0)])
def test_gap_threshold(fn, n):
    out = apply_functions(GAP, [fn], tf_seconds=1)
    assert list(out) == ["Epoch", "End", "Length"] and len(out["Epoch"]) == n
    if n:
        assert (out["End"] - out["Epoch"] == out["Length"]).all() and (out["Length"] > 0).all()


def test_gap_zscore():
    e = T0 + np.arange(100, dtype=np.int64) * 60
    e[50:] += 3600  # one big hole among regular minutes
    out = apply_functions({"Epoch": e}, ["gap()"], tf_seconds=60)
    assert out["Epoch"].tolist() == [int(e[49])] and out["Length"].tolist() == [3660]
    g = np.diff(e).astype(float)
    assert abs((3660 - g.mean()) / g.std(ddof=1)) > 3
    # perfectly regular data: std 0 → treated as 1, no gap
    reg = {"Epoch": T0 + np.arange(10, dtype=np.int64) * 60}
    assert apply_functions(reg, ["gap()"], tf_seconds=60)["Epoch"].size == 0
    assert apply_functions({"Epoch": e[:2]}, ["gap()"], tf_seconds=60)["Epoch"].size == 0


def test_chaining_in_order():
    e = T0 + np.arange(600, dtype=np.int64) * 60
    d = {"Epoch": e, "Close": np.arange(600, dtype="f4")}
    out = apply_functions(d, ["tickcandler('1H',Close)", "candlecandler('2H',Open,High,Low,Close)",
                              "count(*)"], tf_seconds=60)
    assert out["Count"][0] == 5  # 10 hours → 10 hourly bars → five 2H bars


@pytest.mark.parametrize("fn,exc", [
    ("nosuch(Open)", errors.UndefinedFunction),
    ("adjust('split')", errors.FeatureNotSupported),
    ("candlecandler(Open,High,Low,Close)", errors.InvalidParameterValue),
    ("candlecandler('5Min','1H',Open,High,Low,Close)", errors.InvalidParameterValue),
    ("candlecandler('fortnight',Open,High,Low,Close)", errors.InvalidParameterValue),
    ("candlecandler('5Min',Open,High,Low)", errors.InvalidParameterValue),
    ("candlecandler('5Min',Open,High,Low,Close,Open,High,Low)", errors.InvalidParameterValue),
    ("candlecandler('5Min',Open,High,Low,Close,Median::Open)", errors.InvalidParameterValue),
    ("candlecandler('5Min',Open,High,Low,Volume)", errors.UndefinedColumn),
    ("max(*)", errors.InvalidParameterValue),
    ("avg(Open, Close)", errors.InvalidParameterValue),
    ("gap('1Min','2Min')", errors.InvalidParameterValue),
    ("gap('soon')", errors.InvalidParameterValue),
    ("min(Sym)", errors.DatatypeMismatch),
])
def test_errors_carry_sqlstate(fn, exc):
    d = dict(ohlc_hours(), Sym=np.array(["a", "b", "c", "d"], dtype="<U16"))
    with pytest.raises(exc) as ei:
        apply_functions(d, [fn], tf_seconds=3600)
    assert ei.value.sqlstate == exc.sqlstate and str(ei.value)


def test_update_merge_equals_single_pass():
    rng = np.random.default_rng(7)
    slots = np.flatnonzero(rng.random(4000) < 0.5)
    e = T0 + slots.astype(np.int64) * 60
    p = rng.uniform(1, 2, e.size)
    d = {"Epoch": e, "Open": p, "High": p + 1, "Low": p - 1, "Close": p, "Volume": rng.integers(0, 9, e.size)}
    for fn in ["candlecandler('1H',Open,High,Low,Close,Sum::Volume,Avg::Volume)", "count(*)", "max(High)",
               "min(Low)", "avg(Close)", "gap('5Min')"]:
        whole = build(fn, schema_of(d), tf_seconds=60)
        whole.update(d)
        cuts = sorted(rng.choice(np.arange(1, e.size), 3, replace=False))
        pieces = [{k: v[a:b] for k, v in d.items()} for a, b in zip([0, *cuts], [*cuts, e.size], strict=True)]
        aggs = []
        for piece in pieces:
            a = build(fn, schema_of(d), tf_seconds=60)
            a.update(piece)
            aggs.append(a)
        head = aggs[-1]  # merge out of order: partial states from disjoint ranges
        for a in aggs[:-1]:
            head.merge(a)
        got, exp = head.finalize(), whole.finalize()
        assert list(got) == list(exp)
        for k in exp:
            if k == "Epoch" and fn.startswith(("count", "max", "min", "avg")):
                continue
            np.testing.assert_allclose(got[k], exp[k], rtol=1e-12, err_msg=f"{fn} {k}")


def test_functions_on_rows_read_from_the_engine(tmp_path):
    from pgmkts.storage import Engine

    rng = np.random.default_rng(21)
    n = 2000
    e = T0 + rng.integers(0, 3 * 3600, n).astype(np.int64)
    ticks = {"Epoch": e, "Nanoseconds": rng.integers(0, 10**9, n).astype(np.int32),
             "Price": rng.uniform(100, 101, n), "Size": rng.integers(1, 50, n).astype(np.int32)}
    with Engine(tmp_path / "d") as eng:
        eng.write("T/1Sec/TRADE", ticks, variable_length=True)
        rows = eng.read("T/1Sec/TRADE")
    out = apply_functions(rows, ["tickcandler('5Min',Price,Sum::Size)"], tf_seconds=1)
    df = pd.DataFrame({"p": rows["Price"].astype(np.float32), "s": rows["Size"]},
                      index=pd.to_datetime(rows["Epoch"], unit="s", utc=True))
    r = df.resample("5min").agg({"p": ["first", "max", "min", "last"], "s": "sum"})
    np.testing.assert_array_equal(out["Epoch"], r.index.as_unit("s").asi8)
    np.testing.assert_array_equal(out["Open"], r[("p", "first")].to_numpy(np.float32))
    np.testing.assert_array_equal(out["Close"], r[("p", "last")].to_numpy(np.float32))
    np.testing.assert_array_equal(out["Size_SUM"], r[("s", "sum")].to_numpy(np.float64))
