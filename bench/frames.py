"""numpy bars/ticks → pandas DataFrames with a UTC DatetimeIndex, as the in-process libraries store them."""

from __future__ import annotations

import numpy as np
import pandas as pd

BAR_NAMES = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}


def bars_frame(bars: np.ndarray) -> pd.DataFrame:
    idx = pd.DatetimeIndex(bars["Epoch"].astype("datetime64[s]").astype("datetime64[ns]"), name="epoch")
    idx = idx.tz_localize("UTC")
    return pd.DataFrame({v: bars[k] for k, v in BAR_NAMES.items()}, index=idx)


def ticks_frame(ticks: np.ndarray) -> pd.DataFrame:
    ns = ticks["Epoch"].astype(np.int64) * 1_000_000_000 + ticks["Nanoseconds"]
    idx = pd.DatetimeIndex(ns.astype("datetime64[ns]"), name="epoch").tz_localize("UTC")
    return pd.DataFrame({"price": ticks["Price"], "size": ticks["Size"]}, index=idx)


def utc(epoch_s: int) -> pd.Timestamp:
    return pd.Timestamp(epoch_s, unit="s", tz="UTC")


def one_bar(epoch_s: int) -> pd.DataFrame:
    idx = pd.DatetimeIndex([utc(epoch_s)], name="epoch").as_unit("ns")
    return pd.DataFrame({"open": np.float32([100.0]), "high": np.float32([101.0]), "low": np.float32([99.0]),
                         "close": np.float32([100.5]), "volume": np.float64([1000.0])}, index=idx)


def resample_hourly(df: pd.DataFrame) -> pd.DataFrame:
    return df.resample("1h").agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                  "volume": "sum"})


def dir_bytes(path) -> int:
    """Allocated bytes under path (st_blocks, so sparse LMDB maps count what they use)."""
    import os
    total = 0
    p = str(path)
    if os.path.isfile(p):
        return os.stat(p).st_blocks * 512
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total
