"""Window parsing (MarketStore candle durations) and calendar windows: months, quarters, years."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pgmkts import errors
from pgmkts.uda import parse_window, resample_ohlcv, window_from_seconds, window_starts
from pgmkts.uda.windows import window_ends


@pytest.mark.parametrize("text,n,unit", [("1Sec", 1, "S"), ("30S", 30, "S"), ("5Min", 300, "S"), ("5T", 300, "S"),
                                         ("4H", 14400, "S"), ("1D", 1, "D"), ("2W", 2, "W"), ("3M", 3, "M"),
                                         ("1Y", 1, "Y"), (" 15Min ", 900, "S")])
def test_parse_window(text, n, unit):
    w = parse_window(text)
    assert (w.n, w.unit) == (n, unit)


@pytest.mark.parametrize("bad", ["", "Min", "0Min", "5Minutes", "1.5H", "-1D", "5X", 5])
def test_parse_window_errors(bad):
    with pytest.raises(errors.InvalidParameterValue):
        parse_window(bad)


def test_window_from_seconds():
    assert (window_from_seconds(604800).unit, window_from_seconds(1209600).n) == ("W", 2)
    assert (window_from_seconds(86400).unit, window_from_seconds(172800).n) == ("D", 2)
    assert window_from_seconds(3600).unit == "S"


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("width,freq", [("1M", "M"), ("3M", "Q"), ("1Y", "Y")])
def test_months_quarters_years_match_pandas(tz, width, freq):
    rng = np.random.default_rng(0)
    e = np.sort(rng.integers(1_500_000_000, 1_700_000_000, 3000)).astype(np.int64)
    v = rng.standard_normal(e.size)
    got = resample_ohlcv({"Epoch": e, "v": v}, width, [("f", "first", "v"), ("s", "sum", "v")], timezone=tz)
    local = pd.Series(pd.to_datetime(e, unit="s", utc=True)).dt.tz_convert(tz).dt.tz_localize(None)
    start = local.dt.to_period(freq).dt.start_time
    key = start.dt.tz_localize(tz).dt.as_unit("s").astype("int64") if tz != "UTC" else start.dt.as_unit("s").astype("int64")
    exp = pd.DataFrame({"k": key, "v": v}).groupby("k")["v"].agg(["first", "sum"])
    np.testing.assert_array_equal(got["Epoch"], exp.index.to_numpy())
    np.testing.assert_array_equal(got["f"], exp["first"].to_numpy())
    np.testing.assert_allclose(got["s"], exp["sum"].to_numpy(), rtol=1e-12)


def test_window_ends_are_next_starts():
    e = np.array([1_583_643_540, 1_604_200_000, 1_700_000_000], dtype=np.int64)
    for w in ("1D", "1W", "1M", "1Y", "15Min"):
        s = window_starts(e, w, timezone="America/New_York")
        end = window_ends(s, w, timezone="America/New_York")
        assert (end > e).all() and (s <= e).all()
        np.testing.assert_array_equal(window_starts(end, w, timezone="America/New_York"), end)


def test_unknown_timezone():
    with pytest.raises(errors.InvalidParameterValue):
        window_starts(np.array([0]), "1D", timezone="Mars/Olympus")
