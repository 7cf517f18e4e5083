"""Engine semantics: fixed and variable buckets, schema, reads, deletes, durability across reopen."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pgmkts import errors
from pgmkts.storage import BucketInfo, Engine

NS = 1_000_000_000
T0 = 1704067200  # 2024-01-01 00:00:00 UTC (a leap year)


def bars(n, start=T0, step=60, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Epoch": np.arange(start, start + n * step, step, dtype=np.int64),
        "Open": rng.random(n, dtype=np.float32), "High": rng.random(n, dtype=np.float32),
        "Low": rng.random(n, dtype=np.float32), "Close": rng.random(n, dtype=np.float32),
        "Volume": rng.random(n),
    }


def assert_data(got, exp):
    assert list(got) == list(exp)
    for k in exp:
        np.testing.assert_array_equal(got[k], exp[k], err_msg=k)


def test_fixed_roundtrip_and_info(engine: Engine):
    d = bars(1000)
    assert engine.write("AAPL/1Min/OHLCV", d) == 1000
    got = engine.read("AAPL/1Min/OHLCV")
    assert_data(got, d)
    info = engine.info("AAPL/1Min/OHLCV")
    assert isinstance(info, BucketInfo)
    assert info.columns == (("Epoch", "i8"), ("Open", "f4"), ("High", "f4"), ("Low", "f4"),
                            ("Close", "f4"), ("Volume", "f8"))
    assert info.tf_seconds == 60 and not info.variable_length
    assert [b.tbk for b in engine.buckets()] == ["AAPL/1Min/OHLCV"]
    assert engine.info("AAPL/1T/OHLCV") == info  # 1T is 1Min
    assert engine.last_epoch("AAPL/1Min/OHLCV") == T0 + 999 * 60
    assert engine.info("NOPE/1Min/OHLCV") is None


def test_fixed_floor_and_overwrite_last_wins_in_batch(engine):
    tbk = "X/1Min/OHLCV"
    engine.write(tbk, {"Epoch": np.array([T0 + 90, T0 + 61, T0 + 5, T0 + 119]),
                       "v": np.array([1.0, 2.0, 3.0, 4.0])})
    got = engine.read(tbk)
    assert got["Epoch"].tolist() == [T0, T0 + 60]
    assert got["v"].tolist() == [3.0, 4.0]  # last occurrence within the batch wins
    engine.write(tbk, {"Epoch": np.array([T0 + 30]), "v": np.array([9.0])})
    assert engine.read(tbk)["v"].tolist() == [9.0, 4.0]


def test_fixed_out_of_order_cross_year_and_leap(engine):
    tbk = "X/1D/OHLCV"
    days = [T0 + 86400 * 59, T0 - 86400, T0 + 86400 * 365, T0, T0 + 86400 * 366, T0 - 86400 * 365]
    # 2024-02-29 (leap day), 2023-12-31, 2024-12-31 (day 366), 2024-01-01, 2025-01-01, 2023-01-01
    engine.write(tbk, {"Epoch": np.array(days), "v": np.arange(6, dtype=np.int32)})
    got = engine.read(tbk)
    assert got["Epoch"].tolist() == sorted(days)
    order = np.argsort(days)
    assert got["v"].tolist() == np.arange(6)[order].tolist()
    # range inside 2024 only
    r = engine.read(tbk, T0 * NS, (T0 + 86400 * 365) * NS)
    assert r["Epoch"].tolist() == [T0, T0 + 86400 * 59, T0 + 86400 * 365]
    assert engine.read(tbk, limit=2, from_end=True)["Epoch"].tolist() == [T0 + 86400 * 365, T0 + 86400 * 366]
    assert engine.read(tbk, limit=2)["Epoch"].tolist() == [T0 - 86400 * 365, T0 - 86400]


def test_fixed_1sec_bucket_and_bounds_inclusive(engine):
    tbk = "S/1Sec/TICK"
    e = np.arange(T0 - 5, T0 + 5, dtype=np.int64)  # crosses the year boundary
    engine.write(tbk, {"Epoch": e, "p": e.astype(np.float64)})
    assert engine.read(tbk)["Epoch"].tolist() == e.tolist()
    r = engine.read(tbk, (T0 - 2) * NS, T0 * NS)
    assert r["Epoch"].tolist() == [T0 - 2, T0 - 1, T0]
    # nanosecond bounds: start rounds up, end rounds down
    r = engine.read(tbk, (T0 - 2) * NS + 1, T0 * NS - 1)
    assert r["Epoch"].tolist() == [T0 - 1]
    assert engine.read(tbk, T0 * NS, (T0 - 1) * NS)["Epoch"].tolist() == []


def test_epoch_zero_is_storable(engine):
    engine.write("Z/1Min/OHLCV", {"Epoch": np.array([0, 60]), "v": np.array([1, 2], np.int8)})
    got = engine.read("Z/1Min/OHLCV")
    assert got["Epoch"].tolist() == [0, 60] and got["v"].tolist() == [1, 2]
    engine.write("Z/1Min/OHLCV", {"Epoch": np.array([-60]), "v": np.array([3], np.int8)})
    assert engine.read("Z/1Min/OHLCV")["Epoch"].tolist() == [-60, 0, 60]


def test_projection_limits(engine):
    d = bars(500)
    engine.write("P/1Min/OHLCV", d)
    r = engine.read("P/1Min/OHLCV", columns=["Close"])
    assert list(r) == ["Epoch", "Close"]
    np.testing.assert_array_equal(r["Close"], d["Close"])
    r = engine.read("P/1Min/OHLCV", columns=["Epoch", "Volume", "Open"], limit=10)
    assert list(r) == ["Epoch", "Volume", "Open"]
    np.testing.assert_array_equal(r["Epoch"], d["Epoch"][:10])
    r = engine.read("P/1Min/OHLCV", limit=7, from_end=True)
    np.testing.assert_array_equal(r["Epoch"], d["Epoch"][-7:])
    np.testing.assert_array_equal(r["Open"], d["Open"][-7:])
    r = engine.read("P/1Min/OHLCV", (T0 + 60 * 100) * NS, (T0 + 60 * 200) * NS, limit=5, from_end=True)
    np.testing.assert_array_equal(r["Epoch"], d["Epoch"][196:201])
    assert len(engine.read("P/1Min/OHLCV", limit=0)["Epoch"]) == 0
    with pytest.raises(errors.UndefinedColumn):
        engine.read("P/1Min/OHLCV", columns=["nope"])
    with pytest.raises(errors.BucketNotFound):
        engine.read("Q/1Min/OHLCV")


def test_last_n_sparse_over_big_range(engine):
    tbk = "SP/1Sec/OHLCV"
    e = np.array([T0 + 10, T0 + 86400 * 200, T0 + 86400 * 300 + 7], np.int64)
    engine.write(tbk, {"Epoch": e, "v": np.array([1.0, 2.0, 3.0])})
    r = engine.read(tbk, limit=2, from_end=True)
    assert r["Epoch"].tolist() == e[1:].tolist()
    r = engine.read(tbk, limit=2)
    assert r["Epoch"].tolist() == e[:2].tolist()
    assert engine.last_epoch(tbk) == int(e[-1])


def test_delete_range_fixed(engine):
    d = bars(100)
    engine.write("D/1Min/OHLCV", d)
    n = engine.delete("D/1Min/OHLCV", (T0 + 60 * 10) * NS, (T0 + 60 * 19) * NS)
    assert n == 10
    got = engine.read("D/1Min/OHLCV")
    keep = np.r_[0:10, 20:100]
    np.testing.assert_array_equal(got["Epoch"], d["Epoch"][keep])
    assert engine.delete("D/1Min/OHLCV", None, None) == 90
    assert len(engine.read("D/1Min/OHLCV")["Epoch"]) == 0
    assert engine.last_epoch("D/1Min/OHLCV") is None


def test_destroy_and_recreate(engine):
    engine.write("D/1Min/OHLCV", bars(10))
    engine.destroy("D/1Min/OHLCV")
    assert engine.info("D/1Min/OHLCV") is None
    with pytest.raises(errors.BucketNotFound):
        engine.read("D/1Min/OHLCV")
    with pytest.raises(errors.BucketNotFound):
        engine.destroy("D/1Min/OHLCV")
    engine.write("D/1Min/OHLCV", {"Epoch": np.array([T0]), "x": np.array([True])})
    assert engine.read("D/1Min/OHLCV")["x"].tolist() == [True]


def test_schema_mismatch_and_coercion(engine):
    engine.write("C/1Min/OHLCV", {"Epoch": np.array([T0]), "a": np.array([1.5], np.float32),
                                  "b": np.array([7], np.int64)})
    with pytest.raises(errors.SchemaMismatch) as ei:
        engine.write("C/1Min/OHLCV", {"Epoch": np.array([T0]), "a": np.array([1.0])})
    assert "expected" in str(ei.value) and "'b'" in str(ei.value)
    with pytest.raises(errors.SchemaMismatch):
        engine.write("C/1Min/OHLCV", {"Epoch": np.array([T0]), "A": np.array([1.0]), "b": np.array([1])})
    # same names, other widths: coerced to the bucket's types
    engine.write("C/1Min/OHLCV", {"b": np.array([3], np.int8), "Epoch": np.array([T0 + 60], np.int32),
                                  "a": np.array([2.25], np.float64)})
    got = engine.read("C/1Min/OHLCV")
    assert got["a"].dtype == np.float32 and got["b"].dtype == np.int64
    assert got["a"].tolist() == [1.5, 2.25] and got["b"].tolist() == [7, 3]
    with pytest.raises(errors.DatatypeMismatch):
        engine.write("C/1Min/OHLCV", {"Epoch": np.array([T0]), "a": np.array(["x"]), "b": np.array([1])})
    with pytest.raises(errors.SchemaMismatch):
        engine.write("C/1Min/OHLCV", {"a": np.array([1.0]), "b": np.array([1])})
    with pytest.raises(errors.InvalidParameterValue):
        engine.write("C/1Min/OHLCV", {"Epoch": np.array([T0, T0]), "a": np.array([1.0]), "b": np.array([1])})
    assert len(engine.read("C/1Min/OHLCV")["Epoch"]) == 2  # nothing half-written


def test_create_and_duplicate(engine):
    info = engine.create("K/1Min/OHLCV", [("Open", "f4"), ("Sym", "U16"), ("Ok", "bool")])
    assert info.columns == (("Epoch", "i8"), ("Open", "f4"), ("Sym", "U16"), ("Ok", "bool"))
    assert engine.create("K/1Min/OHLCV", [("Open", "f4"), ("Sym", "U16"), ("Ok", "bool")]) == info
    with pytest.raises(errors.DuplicateTable):
        engine.create("K/1Min/OHLCV", [("Open", "f8")])
    assert engine.read("K/1Min/OHLCV")["Sym"].dtype == np.dtype("<U16")
    engine.write("K/1Min/OHLCV", {"Epoch": np.array([T0, T0 + 60]), "Open": np.array([1.0, 2.0]),
                                  "Sym": np.array(["hello", "a" * 20]), "Ok": np.array([True, False])})
    got = engine.read("K/1Min/OHLCV")
    assert got["Sym"].tolist() == ["hello", "a" * 16] and got["Ok"].tolist() == [True, False]
    with pytest.raises(errors.InvalidParameterValue):
        engine.create("K2/1Min/OHLCV", [("Open", "f16")])
    with pytest.raises(errors.InvalidParameterValue):
        engine.create("K2/1Min/OHLCV", [("Epoch", "i8")])
    with pytest.raises(errors.InvalidName):
        engine.create("../1Min/OHLCV", [("Open", "f4")])


def test_all_types_roundtrip(engine, engine_factory):
    types = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8", "bool", "U16"]
    cols = [(f"c_{t}", t) for t in types]
    for var in (False, True):
        tbk = f"T{int(var)}/1Sec/ALL"
        engine.create(tbk, cols, variable_length=var)
        n = 50
        d = {"Epoch": np.arange(T0, T0 + n)}
        for name, t in cols:
            dt = np.dtype("<U16" if t == "U16" else ("?" if t == "bool" else t))
            d[name] = (np.arange(n) % 2 == 0) if t == "bool" else \
                np.array([f"s{i}✓" for i in range(n)], dt) if t == "U16" else np.arange(n).astype(dt)
        engine.write(tbk, d)
        got = engine.read(tbk)
        for name, _ in cols:
            np.testing.assert_array_equal(got[name], d[name])
            assert got[name].dtype == d[name].dtype


def test_variable_semantics(engine):
    tbk = "BTC/1Sec/TICK"
    engine.write(tbk, {"Epoch": np.array([T0 + 5, T0 + 3, T0 + 3, T0 + 1]),
                       "Nanoseconds": np.array([1, 999_999_999, 1, 0]), "p": np.array([1.0, 2.0, 3.0, 4.0])},
                 variable_length=True)
    info = engine.info(tbk)
    assert info.variable_length and info.columns[-1] == ("Nanoseconds", "i4")
    got = engine.read(tbk)
    assert list(got) == ["Epoch", "p", "Nanoseconds"]
    assert got["Epoch"].tolist() == [T0 + 1, T0 + 3, T0 + 3, T0 + 5]
    assert got["Nanoseconds"].tolist() == [0, 1, 999_999_999, 1]  # exact, no precision loss
    assert got["p"].tolist() == [4.0, 3.0, 2.0, 1.0]
    # duplicates kept, equal times stable (existing first, then batch order); no Nanoseconds -> 0
    engine.write(tbk, {"Epoch": np.array([T0 + 3, T0 + 3]), "p": np.array([9.0, 8.0])})
    engine.write(tbk, {"Epoch": np.array([T0 + 3]), "p": np.array([7.0])})
    got = engine.read(tbk)
    assert got["p"].tolist() == [4.0, 9.0, 8.0, 7.0, 3.0, 2.0, 1.0]
    # ns bounds
    r = engine.read(tbk, (T0 + 3) * NS + 1, (T0 + 3) * NS + 999_999_999)
    assert r["p"].tolist() == [3.0, 2.0]
    r = engine.read(tbk, limit=2, from_end=True, columns=[])
    assert list(r) == ["Epoch", "Nanoseconds"] and r["Nanoseconds"].tolist() == [999_999_999, 1]
    assert engine.delete(tbk, (T0 + 3) * NS, (T0 + 3) * NS) == 3
    assert engine.read(tbk)["p"].tolist() == [4.0, 3.0, 2.0, 1.0]
    assert engine.last_epoch(tbk) == T0 + 5
    with pytest.raises(errors.InvalidParameterValue):
        engine.write(tbk, {"Epoch": np.array([T0]), "Nanoseconds": np.array([NS]), "p": np.array([1.0])})


def test_variable_cross_year_and_reopen(engine_factory):
    e = engine_factory()
    tbk = "ETH/1Min/TICK"
    ep = np.array([T0 + 10, T0 - 10, T0 + 86400 * 400, T0 - 10])
    e.write(tbk, {"Epoch": ep, "p": np.arange(4.0)}, variable_length=True)
    e.write(tbk, {"Epoch": np.array([T0 - 20]), "p": np.array([9.0])})
    exp = e.read(tbk)
    assert exp["Epoch"].tolist() == [T0 - 20, T0 - 10, T0 - 10, T0 + 10, T0 + 86400 * 400]
    assert exp["p"].tolist() == [9.0, 1.0, 3.0, 0.0, 2.0]
    e.close()
    e2 = engine_factory()
    assert_data(e2.read(tbk), exp)


def test_fixed_nanoseconds_is_ordinary_column(engine):
    engine.write("F/1Min/X", {"Epoch": np.array([T0]), "Nanoseconds": np.array([5], np.int32)})
    info = engine.info("F/1Min/X")
    assert info.columns == (("Epoch", "i8"), ("Nanoseconds", "i4"))
    assert engine.read("F/1Min/X")["Nanoseconds"].tolist() == [5]


def test_write_many_atomic(engine):
    engine.write("A/1Min/OHLCV", {"Epoch": np.array([T0]), "v": np.array([1.0])})
    with pytest.raises(errors.SchemaMismatch):
        engine.write_many([("B/1Min/OHLCV", {"Epoch": np.array([T0]), "v": np.array([1.0])}, None),
                           ("A/1Min/OHLCV", {"Epoch": np.array([T0]), "w": np.array([1.0])}, None)])
    assert engine.info("B/1Min/OHLCV") is None
    n = engine.write_many([("B/1Min/OHLCV", {"Epoch": np.array([T0]), "v": np.array([2.0])}, None),
                           ("B/1Min/OHLCV", {"Epoch": np.array([T0 + 60]), "v": np.array([3.0])}, None),
                           ("A/1Min/OHLCV", {"Epoch": np.array([T0]), "v": np.array([4.0])}, None)])
    assert n == 3
    assert engine.read("B/1Min/OHLCV")["v"].tolist() == [2.0, 3.0]
    assert engine.read("A/1Min/OHLCV")["v"].tolist() == [4.0]
    r = engine.read_many(["A/1Min/OHLCV", "B/1T/OHLCV"])
    assert set(r) == {"A/1Min/OHLCV", "B/1T/OHLCV"} and r["B/1T/OHLCV"]["v"].tolist() == [2.0, 3.0]


def test_subscribe(engine):
    seen = []
    unsub = engine.subscribe(lambda tbk, rows: seen.append((tbk, rows["Epoch"].tolist())))
    engine.write("S/1Min/OHLCV", {"Epoch": np.array([T0 + 61, T0]), "v": np.array([1.0, 2.0])})
    assert seen == [("S/1Min/OHLCV", [T0, T0 + 60])]
    unsub()
    engine.write("S/1Min/OHLCV", {"Epoch": np.array([T0]), "v": np.array([1.0])})
    assert len(seen) == 1


def test_empty_write_and_auto_create(engine):
    assert engine.write("E/1Min/OHLCV", {"Epoch": np.array([], np.int64), "v": np.array([], np.float64)}) == 0
    assert engine.info("E/1Min/OHLCV") is not None
    assert len(engine.read("E/1Min/OHLCV")["Epoch"]) == 0


def test_bad_epochs(engine):
    with pytest.raises(errors.DatetimeFieldOverflow):
        engine.write("E/1Min/OHLCV", {"Epoch": np.array([2**62]), "v": np.array([1.0])})
    with pytest.raises(errors.InvalidParameterValue):
        engine.write("E/1Min/OHLCV", {"Epoch": np.array([1.5]), "v": np.array([1.0])})


def test_reopen_persists_everything(engine_factory):
    e = engine_factory()
    d = bars(3000, start=T0 - 1000 * 60)
    e.write("R/1Min/OHLCV", d)
    e.write("RV/1Sec/TICK", {"Epoch": np.array([T0, T0]), "p": np.array([1.0, 2.0])}, variable_length=True)
    e.delete("R/1Min/OHLCV", T0 * NS, T0 * NS)
    e.close()
    e = engine_factory()
    got = e.read("R/1Min/OHLCV")
    mask = d["Epoch"] != T0
    np.testing.assert_array_equal(got["Epoch"], d["Epoch"][mask])
    np.testing.assert_array_equal(got["Close"], d["Close"][mask])
    assert e.read("RV/1Sec/TICK")["p"].tolist() == [1.0, 2.0]
    assert [b.tbk for b in e.buckets()] == ["R/1Min/OHLCV", "RV/1Sec/TICK"]


def test_second_engine_on_same_root_refused(engine, tmp_path):
    with pytest.raises(errors.PgmktsError):
        Engine(tmp_path / "data")


def test_concurrent_writers_and_readers(engine):
    tbk = "CC/1Sec/OHLCV"
    engine.create(tbk, [("a", "i8"), ("b", "i8")])
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            r = engine.read(tbk)
            # every batch writes a == b for all its rows: a torn batch would break this
            if not np.array_equal(r["a"], r["b"]) or len(r["Epoch"]) % 10:
                bad.append(r)

    def writer(k):
        for i in range(30):
            e = T0 + np.arange(10) + 10 * (k * 100 + i)
            v = np.full(10, k * 1000 + i)
            engine.write(tbk, {"Epoch": e, "a": v, "b": v})

    rs = [threading.Thread(target=reader) for _ in range(2)]
    ws = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in rs + ws:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in rs:
        t.join()
    assert not bad
    assert len(engine.read(tbk)["Epoch"]) == 4 * 30 * 10


def test_checkpoint_and_interval_mode(engine_factory):
    e = engine_factory(wal_sync="interval", wal_sync_interval_ms=5)
    e.write("I/1Min/OHLCV", bars(10))
    e.checkpoint()
    e.write("I/1Min/OHLCV", bars(10, start=T0 + 600))
    e.close()
    e = engine_factory()
    assert len(e.read("I/1Min/OHLCV")["Epoch"]) == 20


def test_subscribers_in_commit_order_and_reentrant(engine):
    seen = []

    def hook(tbk, rows):
        seen.append((tbk, int(rows["v"][0])))
        if tbk == "H/1Min/A":  # a hook that writes (as ondiskagg does) must not deadlock
            engine.write("H/1Min/B", {"Epoch": rows["Epoch"][:1], "v": rows["v"][:1]})

    engine.subscribe(hook)

    def writer(k):
        for i in range(20):
            engine.write("H/1Min/A", {"Epoch": np.array([T0 + 60 * i]), "v": np.array([k * 100 + i])})

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a = [v for tbk, v in seen if tbk == "H/1Min/A"]
    b = [v for tbk, v in seen if tbk == "H/1Min/B"]
    assert sorted(a) == sorted(k * 100 + i for k in range(3) for i in range(20))
    assert a == b  # each nested write delivered right after the hook that made it, in order
    for k in range(3):  # per writer, commit order is preserved
        mine = [v for v in a if v // 100 == k]
        assert mine == sorted(mine)


def test_background_checkpoint_rotates_wal(engine_factory):
    import os
    import time

    e = engine_factory(wal_rotate_interval=0.001)  # every 60 ms
    e.write("B/1Min/OHLCV", bars(10))
    deadline = time.monotonic() + 10
    while e.stats()["checkpoint_lsn"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    st = e.stats()
    assert st["checkpoint_lsn"] >= 1 and st["checkpoints"] >= 1
    wals = [n for n in os.listdir(os.path.join(e.root, ".wal")) if n.startswith("wal.")]
    assert len(wals) == 1


def test_group_commit_shares_fsyncs(engine):
    engine.create("G/1Sec/OHLCV", [("v", "f8")])
    before = engine.stats()

    def writer(k):
        for i in range(25):
            engine.write("G/1Sec/OHLCV", {"Epoch": np.array([T0 + k * 1000 + i]), "v": np.array([1.0])})

    ts = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st = engine.stats()
    writes = st["writes"] - before["writes"]
    fsyncs = st["wal_fsyncs"] - before["wal_fsyncs"]
    assert writes == 200 and len(engine.read("G/1Sec/OHLCV")["Epoch"]) == 200
    assert 0 < fsyncs <= writes


def test_object_and_list_inputs(engine):
    engine.write("O/1Min/X", {"Epoch": [T0, T0 + 60], "v": [1.5, 2.5], "b": [True, False], "s": ["a", None]})
    info = engine.info("O/1Min/X")
    assert info.columns == (("Epoch", "i8"), ("v", "f8"), ("b", "bool"), ("s", "U16"))
    engine.write("O/1Min/X", {"Epoch": np.array([T0 + 120], object), "v": np.array([3], object),
                              "b": np.array([1], object), "s": np.array(["zz"], object)})
    got = engine.read("O/1Min/X")
    assert got["v"].tolist() == [1.5, 2.5, 3.0] and got["b"].tolist() == [True, False, True]
    assert got["s"].tolist() == ["a", "None", "zz"] or got["s"].tolist() == ["a", "", "zz"]
    engine.write("O/1Min/X", {"Epoch": [T0], "v": [None], "b": [True], "s": ["x"]})  # None -> NaN
    assert np.isnan(engine.read("O/1Min/X")["v"][0])
    engine.write("O/1Min/N", {"Epoch": [T0], "n": [1]})
    with pytest.raises(errors.DatatypeMismatch):
        engine.write("O/1Min/N", {"Epoch": [T0], "n": [None]})
    with pytest.raises(errors.DatatypeMismatch):
        engine.write("O/1Min/N", {"Epoch": [T0], "n": ["1"]})


def test_subscribe_changes_in_lsn_order(engine):
    got = []
    engine.subscribe_changes(lambda lsn, kind, tbk, payload: got.append((lsn, kind, tbk, payload)))
    engine.create("R/1Min/OHLCV", [("v", "f8")])
    engine.write("R/1Min/OHLCV", {"Epoch": np.array([T0, T0 + 60]), "v": np.array([1.0, 2.0])})
    engine.delete("R/1Min/OHLCV", T0 * NS, T0 * NS)
    engine.destroy("R/1Min/OHLCV")
    assert [g[1] for g in got] == ["create", "write", "delete", "destroy"]
    assert [g[0] for g in got] == sorted(g[0] for g in got)
    assert got[0][3].columns == (("Epoch", "i8"), ("v", "f8"))
    assert got[1][3]["v"].tolist() == [1.0, 2.0]
    assert got[2][3] == {"start_ns": T0 * NS, "end_ns": T0 * NS, "removed": 1}
    assert got[3][2] == "R/1Min/OHLCV" and got[3][3] is None
