"""SQL table functions over MarketStore's UDAs (pgmkts/planner/tablefuncs.py, docs/SQL_UDAS.md):
results equal `pgmkts.uda.apply_functions` over the same rows of a real Engine, candles equal a
pandas resample, WHERE epoch ranges narrow the bucket read without changing results, Describe
answers without data, and errors carry PostgreSQL's SQLSTATEs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pgmkts import errors
from pgmkts.planner import tablefuncs
from pgmkts.planner.session import Session
from pgmkts.storage import Engine
from pgmkts.uda import apply_functions
from tests.planner.conftest import START, make_bars

TBK = "AAPL/1Min/OHLCV"
TICK = "AAPL/1Sec/TICK"
H = 3600


def make_ticks(seed: int = 3) -> dict[str, np.ndarray]:
    """Two days of irregular trades with sub-second timestamps and a quiet hour."""
    rng = np.random.default_rng(seed)
    n = 40_000
    t_ns = np.sort(rng.integers(0, 2 * 86400 * 10**9, n))
    t_ns = t_ns[(t_ns < 5 * H * 10**9) | (t_ns > 6 * H * 10**9)]
    m = len(t_ns)
    return {"Epoch": (START + t_ns // 10**9).astype(np.int64),
            "Nanoseconds": (t_ns % 10**9).astype(np.int32),
            "Price": (50 + np.cumsum(rng.normal(0, 0.05, m))).astype(np.float32),
            "Size": rng.integers(1, 500, m).astype(np.int32)}


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    e = Engine(tmp_path_factory.mktemp("tablefuncs"))
    bars = make_bars()
    e.write(TBK, bars["AAPL"])
    e.write("MSFT/1Min/OHLCV", bars["MSFT"])
    e.write(TICK, make_ticks(), variable_length=True)
    e.write("NOVOL/1Min/BARS", {"Epoch": bars["AAPL"]["Epoch"], "Open": bars["AAPL"]["Open"],
                                "High": bars["AAPL"]["High"], "Low": bars["AAPL"]["Low"],
                                "Close": bars["AAPL"]["Close"]})
    yield e
    e.close()


def q(eng, sql: str):
    """(field names, field oids, {name: numpy/array column}) of the last statement's result."""
    res = list(Session(eng).execute(sql))[-1]
    names = [f.name for f in res.fields]
    cols: dict[str, list] = {n: [] for n in names}
    for b in res.batches:
        for n, c in zip(names, b.columns, strict=True):
            cols[n].extend(c.to_pylist())
    return names, [f.type_oid for f in res.fields], cols


def epoch_s(values) -> np.ndarray:
    return np.array([int(v.timestamp()) for v in values], dtype=np.int64)


def reference(eng, tbk: str, calls: list[str], start_ns=None, end_ns=None, tz: str = "UTC"):
    data = eng.read(tbk, start_ns, end_ns)
    info = eng.info(tbk)
    return apply_functions(data, calls, tf_seconds=info.tf_seconds, timezone=tz)


def assert_same(cols: dict, ref: dict, mapping: dict[str, str]) -> None:
    for sql_name, ref_name in mapping.items():
        got = cols[sql_name]
        want = ref[ref_name]
        if sql_name in ("epoch", "end"):
            np.testing.assert_array_equal(epoch_s(got), want)
        else:
            np.testing.assert_allclose(np.array(got, dtype=np.float64), want.astype(np.float64),
                                       rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------ candles

def test_candlecandler_defaults_match_apply_functions(eng):
    names, oids, cols = q(eng, f"SELECT * FROM candlecandler('{TBK}', '1H')")
    assert names == ["epoch", "open", "high", "low", "close", "volume_sum"]
    assert oids == [1184, 700, 700, 700, 700, 701]
    ref = reference(eng, TBK, ["candlecandler('1H',Open,High,Low,Close,Sum::Volume)"])
    assert len(cols["epoch"]) == len(ref["Epoch"]) > 60
    assert_same(cols, ref, {"epoch": "Epoch", "open": "Open", "high": "High", "low": "Low",
                            "close": "Close", "volume_sum": "Volume_SUM"})


def test_candlecandler_explicit_args(eng):
    names, oids, cols = q(eng, f"SELECT * FROM candlecandler('{TBK}', '15Min', 'Open', 'High', 'Low', "
                               f"'Close', 'Sum::Volume', 'Avg::Volume')")
    assert names == ["epoch", "open", "high", "low", "close", "volume_sum", "volume_avg"]
    ref = reference(eng, TBK, ["candlecandler('15Min',Open,High,Low,Close,Sum::Volume,Avg::Volume)"])
    assert_same(cols, ref, {"epoch": "Epoch", "open": "Open", "close": "Close",
                            "volume_sum": "Volume_SUM", "volume_avg": "Volume_AVG"})
    # one argument holding MarketStore's comma list, lower-case column names: same result
    _, _, cols2 = q(eng, f"SELECT * FROM candlecandler('{TBK}', '15Min', 'open,high,low,close', "
                         f"'sum::volume', 'avg::volume')")
    assert cols2 == cols


def test_candlecandler_matches_pandas_resample(eng):
    data = eng.read(TBK)
    df = pd.DataFrame({k: v for k, v in data.items() if k != "Epoch"},
                      index=pd.to_datetime(data["Epoch"], unit="s", utc=True))
    want = df.resample("4h", label="left", closed="left").agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"})
    want = want[df["Open"].resample("4h").count() > 0]
    _, _, cols = q(eng, f"SELECT * FROM candlecandler('{TBK}', '4H')")
    assert [pd.Timestamp(t) for t in cols["epoch"]] == list(want.index)
    np.testing.assert_array_equal(np.array(cols["open"], np.float32), want["Open"].to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(cols["high"], np.float32), want["High"].to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(cols["low"], np.float32), want["Low"].to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(cols["close"], np.float32), want["Close"].to_numpy(np.float32))
    np.testing.assert_array_equal(np.array(cols["volume_sum"]), want["Volume"].to_numpy(np.float64))


def test_daily_candles_in_a_timezone(eng):
    _, _, cols = q(eng, f"SELECT * FROM candlecandler('{TBK}', '1D', timezone => 'America/New_York')")
    ref = reference(eng, TBK, ["candlecandler('1D',Open,High,Low,Close,Sum::Volume)"],
                    tz="America/New_York")
    assert_same(cols, ref, {"epoch": "Epoch", "open": "Open", "close": "Close", "volume_sum": "Volume_SUM"})
    # New York midnight is 05:00 UTC in January
    assert all(t.hour == 5 for t in cols["epoch"][1:])


class ReadSpy:
    """Wraps an Engine, recording read() ranges."""

    def __init__(self, eng):
        self._eng = eng
        self.reads: list[tuple] = []

    def __getattr__(self, name):
        return getattr(self._eng, name)

    def read(self, tbk, start_ns=None, end_ns=None, **kw):
        self.reads.append((tbk, start_ns, end_ns, kw))
        return self._eng.read(tbk, start_ns, end_ns, **kw)


@pytest.mark.parametrize("where", [
    "epoch >= '2024-01-02 05:30:00+00' AND epoch < '2024-01-03 07:30:00+00'",
    "epoch > '2024-01-02 05:00:00+00' AND epoch <= '2024-01-02 09:00:00+00'",
    "epoch BETWEEN '2024-01-03 00:00:00+00' AND '2024-01-03 23:59:59+00'",
    "epoch = '2024-01-03 02:00:00+00'",
])
def test_where_range_pushed_into_the_read(eng, where):
    spy = ReadSpy(eng)
    _, _, full = q(eng, f"SELECT * FROM candlecandler('{TBK}', '1H')")
    _, _, got = q(spy, f"SELECT * FROM candlecandler('{TBK}', '1H') c WHERE {where}")
    _, _, filt = q(eng, f"SELECT * FROM (SELECT * FROM candlecandler('{TBK}', '1H')) s WHERE {where}")
    assert got == filt and 0 < len(got["epoch"]) < len(full["epoch"])
    ((tbk, lo, hi, kw),) = spy.reads
    assert tbk == TBK and lo is not None and hi is not None
    # the read covers whole windows of the selected candles, nothing past the last one's hour
    last = int(got["epoch"][-1].timestamp())
    assert hi == (last + H) * 10**9 - 1
    assert lo <= int(got["epoch"][0].timestamp()) * 10**9
    assert set(kw["columns"]) == {"Open", "High", "Low", "Close", "Volume"}


@pytest.mark.parametrize("tf, tz", [("7Min", "UTC"), ("5H", "UTC"), ("1D", "America/New_York"),
                                    ("1W", "UTC"), ("1M", "Europe/Berlin")])
def test_pushdown_never_changes_results(eng, tf, tz):
    fn = f"candlecandler('{TBK}', '{tf}', timezone => '{tz}')"
    for where in ["epoch >= '2024-01-02 13:17:00+00' AND epoch <= '2024-01-03 22:41:00+00'",
                  "epoch > '2024-01-02 00:00:00+00' AND epoch < '2024-01-04 05:00:00+00'",
                  "epoch <= '2024-01-03 00:00:00+00'", "epoch >= '2024-01-01 00:00:00+00'"]:
        _, _, got = q(eng, f"SELECT * FROM {fn} WHERE {where}")
        _, _, want = q(eng, f"SELECT * FROM (SELECT * FROM {fn}) s WHERE {where}")
        assert got == want


def test_no_pushdown_through_or(eng):
    spy = ReadSpy(eng)
    q(spy, f"SELECT * FROM candlecandler('{TBK}', '1H') WHERE epoch < '2024-01-02 03:00:00+00' "
           f"OR epoch > '2024-01-04 20:00:00+00'")
    assert spy.reads[0][1:3] == (None, None)


def test_outer_query_over_candles(eng):
    names, _, cols = q(eng, f"SELECT date_trunc('day', epoch) AS d, max(high) AS hi, sum(volume_sum) AS v "
                            f"FROM candlecandler('{TBK}', '1H') GROUP BY 1 ORDER BY 1")
    ref = reference(eng, TBK, ["candlecandler('1D',Open,High,Low,Close,Sum::Volume)"])
    assert names == ["d", "hi", "v"]
    np.testing.assert_array_equal(epoch_s(cols["d"]), ref["Epoch"])
    np.testing.assert_allclose(cols["hi"], ref["High"])
    np.testing.assert_allclose(cols["v"], ref["Volume_SUM"])


def test_column_aliases(eng):
    names, _, cols = q(eng, f"SELECT t, c FROM candlecandler('{TBK}', '1H') AS k(t, o, h, l, c) LIMIT 2")
    assert names == ["t", "c"] and len(cols["t"]) == 2


# ------------------------------------------------------------------------------ ticks

def test_tickcandler_matches_apply_functions(eng):
    names, oids, cols = q(eng, f"SELECT * FROM tickcandler('{TICK}', '1Min', 'Price', 'Sum::Size')")
    assert names == ["epoch", "open", "high", "low", "close", "size_sum"]
    ref = reference(eng, TICK, ["tickcandler('1Min',Price,Sum::Size)"])
    assert len(ref["Epoch"]) > 2000
    assert_same(cols, ref, {"epoch": "Epoch", "open": "Open", "high": "High", "low": "Low",
                            "close": "Close", "size_sum": "Size_SUM"})
    # defaults: Price and Sum::Size when the bucket has them
    _, _, dflt = q(eng, f"SELECT * FROM tickcandler('{TICK}', '1Min')")
    assert dflt == cols


def test_tickcandler_range_with_subsecond_bounds(eng):
    lo, hi = "2024-01-02 04:10:00.5+00", "2024-01-02 07:20:00+00"
    _, _, got = q(eng, f"SELECT * FROM tickcandler('{TICK}', '5Min') WHERE epoch >= '{lo}' AND epoch < '{hi}'")
    _, _, filt = q(eng, f"SELECT * FROM (SELECT * FROM tickcandler('{TICK}', '5Min')) s "
                        f"WHERE epoch >= '{lo}' AND epoch < '{hi}'")
    assert got == filt and len(got["epoch"]) > 10


# ------------------------------------------------------------------------------ gap

def test_gap_matches_apply_functions(eng):
    names, oids, cols = q(eng, f"SELECT * FROM gap('{TBK}', '5Min')")
    assert names == ["epoch", "end", "length"] and oids == [1184, 1184, 20]
    ref = reference(eng, TBK, ["gap('5Min')"])
    assert len(ref["Epoch"]) >= 1
    assert_same(cols, ref, {"epoch": "Epoch", "end": "End"})
    assert cols["length"] == ref["Length"].tolist()
    _, _, z = q(eng, f"SELECT * FROM gap('{TBK}')")
    zref = reference(eng, TBK, ["gap()"])
    assert_same(z, zref, {"epoch": "Epoch", "end": "End"})


def test_gap_range_keeps_the_gap_that_ends_after_it(eng):
    ref = reference(eng, TBK, ["gap('2Min')"])
    big = int(np.argmax(ref["Length"]))
    start, end = int(ref["Epoch"][big]), int(ref["End"][big])
    spy = ReadSpy(eng)
    where = f"epoch >= to_timestamp({start - 3 * H}) AND epoch <= to_timestamp({start})"
    _, _, got = q(spy, f"SELECT * FROM gap('{TBK}', '2Min') WHERE {where}")
    _, _, filt = q(eng, f"SELECT * FROM (SELECT * FROM gap('{TBK}', '2Min')) s WHERE {where}")
    assert got == filt
    assert int(got["end"][-1].timestamp()) == end
    assert spy.reads[0][1:3] == ((start - 3 * H) * 10**9, start * 10**9 + 999)
    # z-score gaps depend on every row: the range is not pushed
    spy.reads.clear()
    q(spy, f"SELECT * FROM gap('{TBK}') WHERE {where}")
    assert spy.reads[0][1:3] == (None, None)


# ------------------------------------------------------------------------------ count/min/max/avg

@pytest.mark.parametrize("sql_fn, call, out, oid", [
    ("count('{tbk}')", "count(*)", "Count", 20),
    ("mkts_count('{tbk}', 'Close')", "count(Close)", "Count", 20),
    ("min('{tbk}', 'Low')", "min(Low)", "Min", 700),
    ("max('{tbk}', 'high')", "max(High)", "Max", 700),
    ("mkts_avg('{tbk}', 'Close')", "avg(Close)", "Avg", 701),
    ("mkts_min('{tbk}', 'Volume')", "min(Volume)", "Min", 700),
])
def test_scalar_udas_with_named_range(eng, sql_fn, call, out, oid):
    a, b = "2024-01-02 06:00:00+00", "2024-01-03 06:00:00+00"
    names, oids, cols = q(eng, f"SELECT * FROM {sql_fn.format(tbk=TBK)[:-1]}, start => '{a}', "
                               f"\"end\" => '{b}')")
    lo = int(pd.Timestamp(a).value)
    hi = int(pd.Timestamp(b).value) + 999
    ref = reference(eng, TBK, [call], lo, hi)
    assert names == ["epoch", out.lower()] and oids == [1184, oid]
    np.testing.assert_allclose(cols[out.lower()], ref[out].astype(np.float64))
    assert abs(int(cols["epoch"][0].timestamp()) - int(ref["Epoch"][0])) <= 5   # the time of the call
    # without a range: the whole bucket
    _, _, whole = q(eng, f"SELECT * FROM {sql_fn.format(tbk=TBK)}")
    np.testing.assert_allclose(whole[out.lower()], reference(eng, TBK, [call])[out].astype(np.float64))


def test_uda_chain(eng):
    calls = ["candlecandler('1D',Open,High,Low,Close,Sum::Volume)", "avg(Volume_SUM)"]
    names, _, cols = q(eng, f"SELECT * FROM uda('{TBK}', 'candlecandler(\"1D\",Open,High,Low,Close,"
                            f"Sum::Volume)', 'avg(Volume_SUM)')")
    assert names == ["epoch", "avg"]
    np.testing.assert_allclose(cols["avg"], reference(eng, TBK, calls)["Avg"])


# ------------------------------------------------------------------------------ Describe, parameters

def test_describe_without_reading(eng):
    spy = ReadSpy(eng)
    s = Session(spy)
    sql = f"SELECT * FROM candlecandler('{TBK}', '1H', 'Open', 'High', 'Low', 'Close', 'Avg::Volume')"
    prep = s.prepare(sql, [])
    assert [(f.name, f.type_oid) for f in prep.fields] == [
        ("epoch", 1184), ("open", 700), ("high", 700), ("low", 700), ("close", 700), ("volume_avg", 701)]
    assert spy.reads == []
    fields = tablefuncs.output_fields("candlecandler", [TBK, "1H"], eng)
    assert [f.name for f in fields] == ["epoch", "open", "high", "low", "close", "volume_sum"]
    assert [f.type_oid for f in tablefuncs.output_fields("gap", [TBK], eng)] == [1184, 1184, 20]
    assert [f.name for f in tablefuncs.output_fields("candlecandler", ["NOVOL/1Min/BARS", "5Min"], eng)] == [
        "epoch", "open", "high", "low", "close"]


def test_parameters(eng):
    s = Session(eng)
    prep = s.prepare("SELECT * FROM candlecandler($1, $2) WHERE epoch >= $3", [25, 25, 1184])
    res = s.run(s.bind(prep, [TBK, "1H", "2024-01-03 00:00:00+00"]))
    got = [b for b in res.batches]
    n = sum(b.num_rows for b in got)
    ref = reference(eng, TBK, ["candlecandler('1H',Open,High,Low,Close,Sum::Volume)"])
    assert n == int(np.sum(ref["Epoch"] >= START + 86400))
    assert [f.name for f in res.fields] == ["epoch", "open", "high", "low", "close", "volume_sum"]


def test_two_buckets_joined(eng):
    names, _, cols = q(eng, f"SELECT a.epoch, a.close - b.close AS spread "
                            f"FROM candlecandler('{TBK}', '1H') a "
                            f"JOIN candlecandler('MSFT/1Min/OHLCV', '1H') b ON a.epoch = b.epoch ORDER BY 1")
    assert names == ["epoch", "spread"] and len(cols["epoch"]) > 60


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("sql, err, state", [
    ("SELECT * FROM candlecandler('NOPE/1Min/OHLCV', '1H')", errors.BucketNotFound, "42P01"),
    (f"SELECT * FROM candlecandler('{TBK}', '1Hour')", errors.InvalidParameterValue, "22023"),
    (f"SELECT * FROM candlecandler('{TBK}', '0Min')", errors.InvalidParameterValue, "22023"),
    (f"SELECT * FROM gap('{TBK}', '5 minutes')", errors.InvalidParameterValue, "22023"),
    (f"SELECT * FROM candlecandler('{TBK}')", errors.UndefinedFunction, "42883"),
    ("SELECT * FROM gap()", errors.UndefinedFunction, "42883"),
    (f"SELECT * FROM gap('{TBK}', '5Min', '1H')", errors.UndefinedFunction, "42883"),
    (f"SELECT * FROM mkts_avg('{TBK}')", errors.UndefinedFunction, "42883"),
    (f"SELECT * FROM candlecandler('{TBK}', 5)", errors.UndefinedFunction, "42883"),
    (f"SELECT * FROM candlecandler('{TBK}', '1H', origin => '2024-01-01')", errors.UndefinedFunction, "42883"),
    (f"SELECT * FROM candlecandler('{TBK}', '1H', 'Open', 'High', 'Low', 'Nope')", errors.UndefinedColumn,
     "42703"),
    ("SELECT * FROM candlecandler('NOVOL/1Min/BARS', '1H', 'Open', 'High', 'Low', 'Close', 'Sum::Volume')",
     errors.UndefinedColumn, "42703"),
    ("SELECT * FROM candlecandler('NOVOL/1Min/BARS', '1H', 'Sum::Volume')", errors.InvalidParameterValue, "22023"),
    (f"SELECT * FROM tickcandler('{TBK}', '1H')", errors.UndefinedColumn, "42703"),
    (f"SELECT * FROM candlecandler('{TBK}', '1H', 'Open) , x(')", errors.InvalidParameterValue, "22023"),
    (f"SELECT * FROM uda('{TBK}', 'frobnicate(Close)')", errors.UndefinedFunction, "42883"),
])
def test_errors(eng, sql, err, state):
    with pytest.raises(errors.PgmktsError) as ei:
        list(Session(eng).execute(sql))
    assert isinstance(ei.value, err) and ei.value.sqlstate == state, ei.value


def test_unknown_bucket_at_describe(eng):
    with pytest.raises(errors.PgmktsError) as ei:
        Session(eng).prepare("SELECT * FROM gap('NOPE/1Min/OHLCV')", [])
    assert ei.value.sqlstate == "42P01"


def test_is_table_function():
    assert tablefuncs.is_table_function("CandleCandler") and tablefuncs.is_table_function("count")
    assert not tablefuncs.is_table_function("generate_series")
