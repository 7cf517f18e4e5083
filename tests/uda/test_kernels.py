"""resample_ohlcv against pandas resample/groupby on random data with gaps, every numeric dtype,
several window pairs, calendar windows in America/New_York, and ticks with duplicate times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts import errors
from pgmkts.uda import bucket_index, resample_ohlcv, window_runs

DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]
SPEC = [("first", "first", "v"), ("last", "last", "v"), ("min", "min", "v"), ("max", "max", "v"),
        ("sum", "sum", "v"), ("avg", "avg", "v"), ("count", "count", "v")]
T0 = 1_583_020_800  # 2020-03-01 00:00 UTC: spans the 2020-03-08 DST change in New York


def _values(rng: np.random.Generator, dtype: str, n: int) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(n) * 100).astype(dt)
    lo = 0 if dt.kind == "u" else max(np.iinfo(dt).min, -10_000)
    hi = min(np.iinfo(dt).max, 10_000)
    return rng.integers(lo, hi, n, endpoint=True).astype(dt)


def _bars(seed: int, dtype: str, tf: int, slots: int, density: float) -> dict[str, np.ndarray]:
    """Fixed-timeframe bars: a random subset of `slots` consecutive slots (gaps of any length)."""
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(rng.random(slots) < density)
    return {"Epoch": T0 + keep.astype(np.int64) * tf, "v": _values(rng, dtype, keep.size)}


def _expected(data: dict[str, np.ndarray], key_fn) -> pd.DataFrame:
    idx = pd.to_datetime(data["Epoch"], unit="s", utc=True)
    df = pd.DataFrame({"v": data["v"], "f": data["v"].astype(np.float64)})
    df["k"] = key_fn(pd.Series(idx))
    g = df.groupby("k", sort=True)
    out = pd.DataFrame({"first": g["v"].first(), "last": g["v"].last(), "min": g["v"].min(),
                        "max": g["v"].max(), "sum": g["f"].sum(), "avg": g["f"].mean(),
                        "count": g["v"].count()})
    return out


def _check(got: dict[str, np.ndarray], exp: pd.DataFrame, dtype: str) -> None:
    np.testing.assert_array_equal(got["Epoch"], exp.index.to_numpy(dtype=np.int64))
    for k in ("first", "last", "min", "max"):
        assert got[k].dtype == np.dtype(dtype), k
        np.testing.assert_array_equal(got[k], exp[k].to_numpy().astype(dtype), err_msg=k)
    np.testing.assert_allclose(got["sum"].astype(np.float64), exp["sum"].to_numpy(), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(got["avg"], exp["avg"].to_numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(got["count"], exp["count"].to_numpy())
    assert got["count"].dtype == np.int64 and got["avg"].dtype == np.float64


def _fixed_key(width: int):
    return lambda s: s.dt.as_unit("s").astype("int64") // width * width


def _local_key(tz: str, unit: str):
    def key(s: pd.Series) -> pd.Series:
        naive = s.dt.tz_convert(tz).dt.tz_localize(None)
        if unit == "D":
            start = naive.dt.normalize()
        elif unit == "W":
            start = naive.dt.normalize() - pd.to_timedelta(naive.dt.weekday, unit="D")
        else:
            start = naive.dt.to_period("M").dt.start_time
        return start.dt.tz_localize(tz).dt.as_unit("s").astype("int64") if tz != "UTC" else \
            start.dt.as_unit("s").astype("int64")
    return key


# (input tf, output width, slots): 1Min→5Min, 1Min→1H, 1Min→1D (UTC days), 1Sec→1Min, 1Min→15Min, 5Min→2H
FIXED_PAIRS = [(60, 300, 3000), (60, 3600, 6000), (60, 86400, 6000), (1, 60, 3000), (60, 900, 3000),
               (300, 7200, 2000)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tf_in,width,slots", FIXED_PAIRS)
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.sampled_from([0.02, 0.3, 0.9, 1.0]))
def test_fixed_windows_match_pandas(dtype, tf_in, width, slots, seed, density):
    data = _bars(seed, dtype, tf_in, slots, density)
    got = resample_ohlcv(data, width, SPEC)
    _check(got, _expected(data, _fixed_key(width)), dtype)


@pytest.mark.parametrize("dtype", ["i4", "u8", "f4", "f8"])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
@pytest.mark.parametrize("window,unit", [(86400, "D"), (7 * 86400, "W"), ("1M", "M")])
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.sampled_from([0.01, 0.5, 1.0]))
def test_calendar_windows_match_pandas(dtype, tz, window, unit, seed, density):
    # 1Min bars over ~45 days crossing the March DST change (5Min slots to keep it small)
    data = _bars(seed, dtype, 300, 13000, density)
    got = resample_ohlcv(data, window, SPEC, timezone=tz)
    _check(got, _expected(data, _local_key(tz, unit)), dtype)


def test_daily_windows_in_new_york_follow_dst():
    # One bar per hour for a week around 2020-03-08 (a 23-hour day in New York).
    e = np.arange(T0 + 5 * 86400, T0 + 10 * 86400, 3600, dtype=np.int64)
    data = {"Epoch": e, "v": np.ones(e.size)}
    got = resample_ohlcv(data, 86400, [("n", "count", "v")], timezone="America/New_York")
    labels = pd.to_datetime(got["Epoch"], unit="s", utc=True).tz_convert("America/New_York")
    assert all(t.hour == 0 and t.minute == 0 for t in labels)
    day = dict(zip([t.day for t in labels], got["n"], strict=True))
    assert day[8] == 23 and day[7] == 24 and day[9] == 24
    # and the 25-hour day when DST ends (2020-11-01)
    e = np.arange(1_604_016_000, 1_604_016_000 + 4 * 86400, 3600, dtype=np.int64)
    got = resample_ohlcv({"Epoch": e, "v": np.ones(e.size)}, 86400, [("n", "count", "v")],
                         timezone="America/New_York")
    labels = pd.to_datetime(got["Epoch"], unit="s", utc=True).tz_convert("America/New_York")
    assert dict(zip([t.day for t in labels], got["n"], strict=True))[1] == 25


@pytest.mark.parametrize("dtype", ["f8", "i4", "u4"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ticks_to_one_minute(dtype, seed):
    """Variable-length ticks: duplicate times, sub-second parts; first/last follow (Epoch, ns)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    epoch = T0 + np.sort(rng.integers(0, 4 * 3600, n)).astype(np.int64)
    ns = rng.integers(0, 1_000_000_000, n).astype(np.int32)
    ns[rng.random(n) < 0.3] = 0  # ties on (Epoch, ns) keep their written order
    order = np.lexsort((ns, epoch))
    data = {"Epoch": epoch[order], "Nanoseconds": ns[order], "v": _values(rng, dtype, n)}
    got = resample_ohlcv(data, 60, SPEC)
    _check(got, _expected(data, _fixed_key(60)), dtype)
    # the same rows shuffled give the same answer (the kernel re-sorts stably by time)
    perm = rng.permutation(n)
    if np.unique(epoch * 10**9 + ns).size == n:
        shuffled = {k: v[perm] for k, v in data.items()}
        again = resample_ohlcv(shuffled, 60, SPEC)
        for k in got:
            np.testing.assert_array_equal(again[k], got[k])


def test_complete_hour_buckets_use_fast_path_and_agree_with_general_path():
    n = 60 * 24 * 3
    e = T0 + np.arange(n, dtype=np.int64) * 60
    runs, labels = window_runs(e, 3600)
    np.testing.assert_array_equal(runs, np.arange(0, n, 60))
    data = {"Epoch": e, "v": np.random.default_rng(1).standard_normal(n)}
    full = resample_ohlcv(data, 3600, SPEC)
    _check(full, _expected(data, _fixed_key(3600)), "f8")
    # a duplicate time in an otherwise complete layout must not fool the fast path
    e2 = e.copy()
    e2[61] = e2[60]
    runs2, _ = window_runs(e2, 3600)
    assert runs2.tolist()[:3] == [0, 60, 120]
    e3 = e.copy()
    e3[59] = e3[60]  # last row of hour 0 moved into hour 1: run lengths 59, 61, ...
    runs3, _ = window_runs(e3, 3600)
    assert runs3.tolist()[:3] == [0, 59, 120]


def test_sparse_data_over_long_span_uses_per_row_path():
    e = np.array([0, 10, 86400 * 365 * 30 + 5], dtype=np.int64)
    got = resample_ohlcv({"Epoch": e, "v": np.arange(3.0)}, 1, [("s", "sum", "v")])
    np.testing.assert_array_equal(got["Epoch"], e)


def test_odd_width_alignment_follows_go_truncate():
    # Go truncates from 0001-01-01 UTC: 7Min windows are not aligned to the Unix epoch.
    e = np.array([0], dtype=np.int64)
    got = resample_ohlcv({"Epoch": e, "v": np.ones(1)}, 420, [("c", "count", "v")])
    assert (got["Epoch"][0] - (-62135596800)) % 420 == 0 and got["Epoch"][0] <= 0
    got0 = resample_ohlcv({"Epoch": e, "v": np.ones(1)}, 420, [("c", "count", "v")], origin=0)
    assert got0["Epoch"][0] == 0


def test_nan_is_skipped_by_min_max_and_propagates_in_sum():
    data = {"Epoch": np.array([0, 60, 120], dtype=np.int64), "v": np.array([1.0, np.nan, 3.0])}
    got = resample_ohlcv(data, 300, [("lo", "min", "v"), ("hi", "max", "v"), ("s", "sum", "v")])
    assert got["lo"][0] == 1.0 and got["hi"][0] == 3.0 and np.isnan(got["s"][0])


def test_empty_input_gives_typed_empty_columns():
    data = {"Epoch": np.empty(0, np.int64), "v": np.empty(0, np.float32)}
    got = resample_ohlcv(data, 300, SPEC)
    assert all(v.size == 0 for v in got.values())
    assert got["first"].dtype == np.float32 and got["count"].dtype == np.int64


def test_bool_and_string_columns():
    e = np.array([0, 60, 400], dtype=np.int64)
    data = {"Epoch": e, "b": np.array([True, False, True]), "s": np.array(["a", "b", "c"], dtype="<U16")}
    got = resample_ohlcv(data, 300, [("bmax", "max", "b"), ("bsum", "sum", "b"), ("sl", "last", "s")])
    assert got["bmax"].tolist() == [True, True] and got["bsum"].tolist() == [1, 1]
    assert got["sl"].tolist() == ["b", "c"]
    with pytest.raises(errors.DatatypeMismatch):
        resample_ohlcv(data, 300, [("x", "max", "s")])


def test_bad_spec_errors():
    data = {"Epoch": np.array([0], dtype=np.int64), "v": np.ones(1)}
    with pytest.raises(errors.UndefinedColumn):
        resample_ohlcv(data, 300, [("x", "max", "nope")])
    with pytest.raises(errors.InvalidParameterValue):
        resample_ohlcv(data, 300, [("x", "median", "v")])
    with pytest.raises(errors.InvalidParameterValue):
        resample_ohlcv(data, 0, [("x", "max", "v")])


def test_bucket_index():
    e = np.array([0, 299, 300, -1], dtype=np.int64)
    assert bucket_index(e, 300).tolist() == [0, 0, 1, -1]
    assert bucket_index(e, 300, origin=100).tolist() == [-1, 0, 0, -1]
    # New York: 2020-03-08 04:59 UTC is still 2020-03-07 locally
    ny = np.array([1583643540, 1583643600], dtype=np.int64)
    d = bucket_index(ny, 86400, timezone="America/New_York")
    assert d[1] == d[0] + 1
    assert bucket_index(ny, "1M").tolist() == [602, 602]  # months since 1970-01


@pytest.mark.parametrize("dtype", DTYPES + ["b1"])
@pytest.mark.parametrize("k", [1, 2, 5, 10, 60])
def test_reshaped_fast_path_equals_reduceat(dtype, k):
    from pgmkts.uda.kernels import reduce_runs, uniform_run_length

    rng = np.random.default_rng(k)
    n = k * 97
    v = rng.integers(0, 2, n).astype(bool) if dtype == "b1" else _values(rng, dtype, n)
    if dtype.startswith("f"):
        v[rng.random(n) < 0.05] = np.nan
    starts = np.arange(0, n, k, dtype=np.int64)
    assert uniform_run_length(starts, n) == k
    assert uniform_run_length(np.array([0, 3, 5]), 9) is None
    for agg in ("first", "last", "min", "max", "sum", "avg", "count"):
        a = reduce_runs(agg, v, starts, n, uniform=k)
        b = reduce_runs(agg, v, starts, n)
        assert a.dtype == b.dtype, agg
        np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-12, equal_nan=True, err_msg=agg)
