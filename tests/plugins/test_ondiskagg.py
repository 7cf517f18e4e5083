"""ondiskagg on a real Engine: destinations equal a from-scratch recomputation after random
out-of-order writes, trades become bars, calendar days follow the timezone, rebuild repairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmkts import errors
from pgmkts.plugins import StreamTrigger, attach_triggers, load_triggers
from pgmkts.plugins.ondiskagg import OnDiskAgg
from pgmkts.storage import Engine
from pgmkts.uda import resample_ohlcv

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
DESTS = ["5Min", "15Min", "1H", "1D"]
SPEC = [("Open", "first", "Open"), ("High", "max", "High"), ("Low", "min", "Low"),
        ("Close", "last", "Close"), ("Volume", "sum", "Volume")]
SECONDS = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": 86400, "1W": 604800}


def bars(rng, slots: np.ndarray) -> dict[str, np.ndarray]:
    c = rng.uniform(50, 150, slots.size)
    return {"Epoch": T0 + slots.astype(np.int64) * 60, "Open": c.astype("f4"),
            "High": (c + rng.uniform(0, 2, c.size)).astype("f4"), "Low": (c - rng.uniform(0, 2, c.size)).astype("f4"),
            "Close": (c + rng.uniform(-1, 1, c.size)).astype("f4"), "Volume": rng.integers(0, 1000, c.size)}


def floor_like_storage(e: np.ndarray, tf: int) -> np.ndarray:
    ys = e.astype("datetime64[s]").astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    return ys + (e - ys) // tf * tf


def assert_dest_equals_scratch(eng: Engine, base: str, dests, tz="UTC", group="OHLCV", spec=SPEC):
    sym = base.split("/")[0]
    data = eng.read(base)
    for d in dests:
        exp = resample_ohlcv(data, SECONDS[d], spec, timezone=tz)
        exp["Epoch"] = floor_like_storage(exp["Epoch"], SECONDS[d])
        got = eng.read(f"{sym}/{d}/{group}")
        assert list(got) == ["Epoch", "Open", "High", "Low", "Close", "Volume"]
        np.testing.assert_array_equal(got["Epoch"], exp["Epoch"], err_msg=d)
        for k in ("Open", "High", "Low", "Close", "Volume"):
            np.testing.assert_array_equal(got[k], exp[k].astype(got[k].dtype), err_msg=f"{d} {k}")


@pytest.fixture
def engine(tmp_path):
    eng = Engine(tmp_path / "data")
    yield eng
    eng.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), nbatches=st.integers(1, 6))
def test_random_out_of_order_writes_match_scratch(tmp_path_factory, seed, nbatches):
    rng = np.random.default_rng(seed)
    with Engine(tmp_path_factory.mktemp("odagg")) as eng:
        agg = OnDiskAgg(eng, "*/1Min/OHLCV", {"destinations": DESTS}, "UTC")
        eng.subscribe(agg.fire)
        for _ in range(nbatches):
            # overlapping, unsorted, sometimes rewriting slots already written, across 3 days
            slots = rng.choice(3 * 1440, int(rng.integers(1, 400)), replace=False)
            eng.write("SYM/1Min/OHLCV", bars(rng, slots))
        assert_dest_equals_scratch(eng, "SYM/1Min/OHLCV", DESTS)


def test_incremental_append_touches_only_affected_windows(engine):
    rng = np.random.default_rng(3)
    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["1H"]}, "UTC")
    engine.subscribe(agg.fire)
    engine.write("X/1Min/OHLCV", bars(rng, np.arange(0, 180)))
    seen = []
    engine.subscribe(lambda tbk, rows: seen.append((tbk, rows["Epoch"].tolist())))
    engine.write("X/1Min/OHLCV", bars(rng, np.array([61])))  # inside hour 1 only
    assert ("X/1H/OHLCV", [T0 + 3600]) in seen
    assert_dest_equals_scratch(engine, "X/1Min/OHLCV", ["1H"])


def test_daily_destination_in_new_york(tmp_path):
    rng = np.random.default_rng(5)
    with Engine(tmp_path / "d") as eng:
        agg = OnDiskAgg(eng, "*/1Min/OHLCV", {"destinations": ["1H", "1D"]}, "America/New_York")
        eng.subscribe(agg.fire)
        # 2024-03-08 .. 2024-03-12 around the DST change, in shuffled chunks
        start = (1_709_856_000 - T0) // 60
        slots = start + rng.permutation(5 * 1440)
        for chunk in np.array_split(slots, 7):
            eng.write("NY/1Min/OHLCV", bars(rng, chunk))
        assert_dest_equals_scratch(eng, "NY/1Min/OHLCV", ["1H", "1D"], tz="America/New_York")
        daily = eng.read("NY/1D/OHLCV")
        assert daily["Epoch"].size == 6  # 5 UTC days touch 6 New York days


def test_trades_become_ohlcv_bars(engine):
    agg = OnDiskAgg(engine, "*/1Sec/TRADE", {"destinations": ["1Min", "1H"]}, "UTC")
    engine.subscribe(agg.fire)
    rng = np.random.default_rng(9)
    for _ in range(3):
        n = 300
        e = T0 + rng.integers(0, 7200, n).astype(np.int64)
        trades = {"Epoch": e, "Nanoseconds": rng.integers(0, 10**9, n).astype(np.int32),
                  "Price": rng.uniform(10, 20, n), "Size": rng.integers(1, 100, n).astype(np.uint64)}
        engine.write("BTC/1Sec/TRADE", trades, variable_length=True)
    spec = [("Open", "first", "Price"), ("High", "max", "Price"), ("Low", "min", "Price"),
            ("Close", "last", "Price"), ("Volume", "sum", "Size")]
    assert engine.info("BTC/1Min/OHLCV") is not None and engine.info("BTC/1Min/TRADE") is None
    assert_dest_equals_scratch(engine, "BTC/1Sec/TRADE", ["1Min", "1H"], spec=spec)
    assert dict(engine.info("BTC/1Min/OHLCV").columns)["Volume"] == "u8"


def test_rebuild_after_unobserved_writes_and_deletes(engine):
    rng = np.random.default_rng(11)
    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["15Min", "1D"]}, "UTC")
    unsub = engine.subscribe(agg.fire)
    engine.write("R/1Min/OHLCV", bars(rng, np.arange(0, 3 * 1440, 7)))
    unsub()  # writes the trigger never saw (as after a crash between commit and trigger)
    engine.write("R/1Min/OHLCV", bars(rng, np.arange(5 * 1440, 6 * 1440, 3)))
    engine.delete("R/1Min/OHLCV", (T0 + 86400) * 10**9, (T0 + 2 * 86400) * 10**9 - 1)
    with pytest.raises(AssertionError):
        assert_dest_equals_scratch(engine, "R/1Min/OHLCV", ["15Min", "1D"])
    assert agg.rebuild_all() > 0
    assert_dest_equals_scratch(engine, "R/1Min/OHLCV", ["15Min", "1D"])
    assert agg.rebuild("R/1Min/OHLCV") > 0  # idempotent
    assert_dest_equals_scratch(engine, "R/1Min/OHLCV", ["15Min", "1D"])


def test_rebuild_chunks_across_years(engine, monkeypatch):
    import pgmkts.plugins.ondiskagg as mod
    monkeypatch.setattr(mod, "CHUNK", 86400 * 3 + 1234)  # odd chunk edges inside windows
    rng = np.random.default_rng(13)
    engine.write("C/1Min/OHLCV", bars(rng, np.sort(rng.choice(20 * 1440, 6000, replace=False))))
    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["1H", "1D", "1W"]}, "UTC")
    agg.rebuild_all()
    assert_dest_equals_scratch(engine, "C/1Min/OHLCV", ["1H", "1D", "1W"])


def test_catch_up_after_appends(engine):
    rng = np.random.default_rng(17)
    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["5Min", "1H"]}, "UTC")
    unsub = engine.subscribe(agg.fire)
    engine.write("K/1Min/OHLCV", bars(rng, np.arange(0, 600)))
    unsub()
    engine.write("K/1Min/OHLCV", bars(rng, np.arange(600, 900)))
    engine.write("L/1Min/OHLCV", bars(rng, np.arange(0, 50)))  # no destinations yet
    agg.catch_up()
    assert_dest_equals_scratch(engine, "K/1Min/OHLCV", ["5Min", "1H"])
    assert_dest_equals_scratch(engine, "L/1Min/OHLCV", ["5Min", "1H"])


def test_matching_and_non_ohlcv_buckets(engine):
    agg = OnDiskAgg(engine, "*/1T/OHLCV", {"destinations": ["5Min"]}, "UTC")
    assert agg.matches("AAPL/1Min/OHLCV") and not agg.matches("AAPL/5Min/OHLCV")
    assert not agg.matches("AAPL/1Min/TICK")
    engine.subscribe(agg.fire)
    engine.write("Q/1Min/OHLCV", {"Epoch": np.array([T0]), "Bid": np.array([1.0])})
    assert engine.info("Q/5Min/OHLCV") is None  # nothing to aggregate, nothing written
    # a wildcard timeframe must not loop on its own destinations
    agg2 = OnDiskAgg(engine, "*/*/OHLCV", {"destinations": ["5Min", "1H"]}, "UTC")
    engine.subscribe(agg2.fire)
    engine.write("W/1Min/OHLCV", bars(np.random.default_rng(1), np.arange(120)))
    assert_dest_equals_scratch(engine, "W/1Min/OHLCV", ["5Min", "1H"])


@pytest.mark.parametrize("cfg,msg", [
    ({"module": "nosuch.so", "on": "*/1Min/OHLCV"}, "triggers[0].module"),
    ({"module": "ondiskagg.so", "on": "*/1Min/OHLCV", "config": {}}, "no destinations"),
    ({"module": "ondiskagg.so", "on": "*/1Min/OHLCV", "config": {"destinations": ["5Parsecs"]}}, "5Parsecs"),
    ({"module": "ondiskagg.so", "on": "1Min", "config": {"destinations": ["5Min"]}}, "on"),
    ("ondiskagg", "triggers[0]"),
])
def test_load_triggers_errors(engine, cfg, msg):
    with pytest.raises(errors.ConfigError) as ei:
        load_triggers(engine, [cfg], "UTC")
    assert msg in str(ei.value)


def test_load_triggers_as_marketstore_writes_them(engine):
    trig = load_triggers(engine, [
        {"module": "ondiskagg.so", "on": "*/1Min/OHLCV", "config": {"destinations": DESTS}},
        {"module": "stream.so", "on": "*/*/*"},
        {"module": "/usr/local/bin/OnDiskAgg.so", "on": "*/1Sec/TRADE", "config": {"destinations": "1Min,1H"}},
    ], "UTC")
    assert isinstance(trig[0], OnDiskAgg) and isinstance(trig[1], StreamTrigger)
    assert [d.timeframe for d in trig[2].destinations] == ["1Min", "1H"]
    unsubs = attach_triggers(engine, trig)
    assert len(unsubs) == 2
    engine.write("Z/1Min/OHLCV", bars(np.random.default_rng(2), np.arange(30)))
    assert engine.read("Z/5Min/OHLCV")["Epoch"].size == 6


def test_concurrent_writers_converge(engine):
    import threading

    agg = OnDiskAgg(engine, "*/1Min/OHLCV", {"destinations": ["5Min", "1H"]}, "UTC")
    engine.subscribe(agg.fire)

    def writer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(15):
            engine.write("CC/1Min/OHLCV", bars(rng, rng.choice(300, 40, replace=False)))

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert_dest_equals_scratch(engine, "CC/1Min/OHLCV", ["5Min", "1H"])
