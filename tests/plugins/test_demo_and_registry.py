"""Demo data (seed_demo, DemoFeeder) and the bgworker registry."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pgmkts import errors
from pgmkts.plugins import load_bgworkers, load_triggers, module_name, start_bgworkers
from pgmkts.plugins.demo_feeder import DEMO_SYMBOLS, DemoFeeder, seed_demo, synth_bars
from pgmkts.plugins.ondiskagg import OnDiskAgg
from pgmkts.storage import Engine

END = 1_704_067_200


@pytest.fixture
def engine(tmp_path):
    eng = Engine(tmp_path / "data")
    yield eng
    eng.close()


def test_seed_demo_is_deterministic_and_sane(tmp_path, engine):
    n = seed_demo(engine, days=2, end=END + 30)
    assert n == len(DEMO_SYMBOLS) * 2 * 1440
    assert all(s.startswith("DEMO-") for s in DEMO_SYMBOLS)
    d = engine.read("DEMO-AAPL/1Min/OHLCV")
    assert d["Epoch"][0] == END - 2 * 86400 and d["Epoch"][-1] == END - 60
    assert (d["High"] >= np.maximum(d["Open"], d["Close"])).all()
    assert (d["Low"] <= np.minimum(d["Open"], d["Close"])).all() and (d["Low"] > 0).all()
    assert (d["Volume"] >= 0).all() and d["Volume"].dtype == np.int64
    with Engine(tmp_path / "other") as e2:
        seed_demo(e2, days=2, end=END)
        d2 = e2.read("DEMO-AAPL/1Min/OHLCV")
        for k in d:
            np.testing.assert_array_equal(d[k], d2[k])
    assert seed_demo(engine, days=2, end=END) == 0  # existing buckets are left alone
    with pytest.raises(errors.InvalidParameterValue):
        seed_demo(engine, symbols=("AAPL",), days=1, end=END)


def test_seed_demo_feeds_ondiskagg(engine):
    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["1H", "1D"]}, "UTC")
    engine.subscribe(agg.fire)
    seed_demo(engine, symbols=("DEMO-X",), days=3, end=END)
    assert engine.read("DEMO-X/1H/OHLCV")["Epoch"].size == 72
    assert engine.read("DEMO-X/1D/OHLCV")["Epoch"].size == 3


def test_feeder_step_appends_due_bars_and_continues_the_walk(engine):
    f = DemoFeeder(engine, {"symbols": ["DEMO-A", "DEMO-B"]})
    assert f.step(now=END + 5) == 2  # one bar each: the last complete minute
    assert f.step(now=END + 5) == 0  # nothing new within the same minute
    assert f.step(now=END + 60 * 10 + 1) == 2 * 10
    d = engine.read("DEMO-A/1Min/OHLCV")
    assert d["Epoch"].tolist() == list(range(END - 60, END + 600, 60))
    # each new batch opens at the previous close
    assert d["Open"][1] == d["Close"][0]
    np.testing.assert_array_equal(synth_bars("DEMO-A", 0, 5)["Close"], synth_bars("DEMO-A", 0, 5)["Close"])


def written(engine, tbk: str) -> threading.Event:
    """Set by the engine's commit hook when `tbk` receives rows (no polling, no sleeping)."""
    ev = threading.Event()
    engine.subscribe(lambda t, rows: ev.set() if t == tbk and len(rows["Epoch"]) else None)
    return ev


def test_feeder_runs_in_a_thread_until_stopped(engine):
    workers = load_bgworkers(engine, [{"module": "demo_feeder", "name": "demo",
                                       "config": {"symbols": ["DEMO-T"], "interval": 0.05}}], "UTC")
    assert workers[0].name == "demo"
    ev = written(engine, "DEMO-T/1Min/OHLCV")
    stop = threading.Event()
    threads = start_bgworkers(workers, stop)
    try:
        assert ev.wait(30)
        assert engine.last_epoch("DEMO-T/1Min/OHLCV") is not None
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("cfg,msg", [
    ([{"module": "nosuchfeeder.so", "name": "g"}], "bgworkers[0].module"),
    ([{"module": "demo_feeder", "config": {"symbols": ["AAPL"]}}], "DEMO-"),
    ([{"module": "demo_feeder", "config": {"timeframe": "1Parsec"}}], "timeframe"),
    (["demo_feeder"], "bgworkers[0]"),
])
def test_bgworker_config_errors(engine, cfg, msg):
    with pytest.raises(errors.ConfigError) as ei:
        load_bgworkers(engine, cfg, "UTC")
    assert msg in str(ei.value)


def test_module_names():
    assert module_name("ondiskagg.so") == "ondiskagg"
    assert module_name("/opt/mkts/bin/Stream.so") == "stream"
    assert module_name(None) == ""
    assert load_triggers(None, [], "UTC") == [] and load_bgworkers(None, None) == []


def test_marketstore_feeders_are_skipped_not_fatal(engine, caplog):
    ws = load_bgworkers(engine, [{"module": "gdaxfeeder.so", "name": "GdaxFetcher",
                                  "config": {"symbols": ["BTC"]}},
                                 {"module": "demo_feeder.so", "config": {"symbols": ["DEMO-Q"]}}], "UTC")
    assert [type(w).__name__ for w in ws] == ["DemoFeeder"]
    assert "gdaxfeeder" in caplog.text


def test_workers_start_and_stop_as_server_py_calls_them(engine, monkeypatch):
    import pgmkts.plugins as plugins

    class RunOnly:  # an entry-point worker that only defines run(stop)
        name = "runonly"

        def __init__(self):
            self.ran = threading.Event()

        def run(self, stop):
            self.ran.set()
            stop.wait()

    inner = RunOnly()
    monkeypatch.setattr(plugins, "_entry_point", lambda group, mod: (lambda *a, **k: inner))
    ws = load_bgworkers(engine, [{"module": "thirdparty.so"},
                                 {"module": "demo_feeder", "config": {"symbols": ["DEMO-S"], "interval": 0.01}}])
    ev = written(engine, "DEMO-S/1Min/OHLCV")
    for w in ws:
        w.start()
    assert inner.ran.wait(30) and ev.wait(30)
    for w in ws:
        w.stop()
    assert all(not w._thread.is_alive() for w in ws)
    assert engine.last_epoch("DEMO-S/1Min/OHLCV") is not None
