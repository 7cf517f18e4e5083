"""Plugins configured in mkts.yml, as a MarketStore user writes them, on the real server."""

from __future__ import annotations

import time

import numpy as np
import pymarketstore as pymkts

CONFIG = """
triggers:
  - module: ondiskagg.so
    on: "*/1Min/OHLCV"
    config:
      destinations: [5Min, 1H]
  - module: stream.so
    on: "*/*/*"
bgworkers:
  - module: demo_feeder
    name: feeder
    config: {symbols: [DEMO-FEED], timeframe: 1Sec, interval: 0.2}
"""
T0 = 1_704_067_200  # 2024-01-01 00:00 UTC


def _bars(minutes: np.ndarray, price: float) -> np.ndarray:
    a = np.zeros(minutes.size, dtype=[("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"),
                                      ("Close", "f4"), ("Volume", "f8")])
    a["Epoch"] = T0 + minutes * 60
    a["Open"] = a["Close"] = price + minutes
    a["High"] = price + minutes + 1
    a["Low"] = price + minutes - 1
    a["Volume"] = 10
    return a


def test_ondiskagg_and_demo_feeder_from_mkts_yml(fresh_server):
    srv = fresh_server(CONFIG)
    cli = pymkts.Client(srv.rpc_url)
    assert not (cli.write(_bars(np.arange(120), 100.0), "AGG/1Min/OHLCV") or {}).get("responses")
    five = cli.query(pymkts.Params("AGG", "5Min", "OHLCV")).first().array
    assert len(five) == 24
    assert five["Open"][1] == 105 and five["Close"][1] == 109 and five["High"][1] == 110
    assert five["Volume"][0] == 50
    hour = cli.query(pymkts.Params("AGG", "1H", "OHLCV")).first().array
    assert list(hour["Epoch"]) == [T0, T0 + 3600] and list(hour["Volume"]) == [600, 600]
    # An out-of-order overwrite of one minute updates only its windows.
    cli.write(_bars(np.array([7]), 1000.0), "AGG/1Min/OHLCV")
    five = cli.query(pymkts.Params("AGG", "5Min", "OHLCV")).first().array
    assert five["High"][1] == 1008 and five["Open"][1] == 105 and five["High"][0] == 105
    # The configured demo feeder appends synthetic bars while the server runs.
    deadline = time.monotonic() + 20
    while "DEMO-FEED" not in cli.list_symbols() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "DEMO-FEED" in cli.list_symbols()
