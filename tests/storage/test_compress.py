"""Compressed year files: the codec (bit-exact), reads equal to raw reads, writes into compressed
years, the compaction policy, and the storage_compression option."""

from __future__ import annotations

import os
import shutil

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from pgmkts import errors
from pgmkts.config import parse_config
from pgmkts.errors import ConfigError
from pgmkts.storage import Engine
from pgmkts.storage import compact as compactmod
from pgmkts.storage.compress import (
    ZMAGIC,
    decode_presence,
    decode_values,
    encode_presence,
    encode_values,
)

NS = 1_000_000_000
Y2024 = 1704067200
TBK = "Z/1Min/OHLCV"
SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1.5], np.float64)
DTYPES = ["<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f4", "<f8", "?", "<U16"]


def _is_compressed(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == ZMAGIC


# ---------------------------------------------------------------------------------- codec
@st.composite
def arrays(draw):
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    n = draw(st.integers(0, 3000))
    kind = draw(st.sampled_from(["bytes", "walk", "special", "const"]))
    if dt.kind == "U":
        words = draw(st.lists(st.text(max_size=16), min_size=1, max_size=5))
        return np.array([words[i % len(words)] for i in range(n)], dt)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "bytes" or dt.kind in "b":  # arbitrary bit patterns: NaN payloads, -0, denormals
        raw = rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8)
        if dt.kind == "b":
            raw &= 1
        return raw.view(dt)
    if kind == "const":
        return np.full(n, rng.integers(0, 100), dt)
    if dt.kind == "f":
        if kind == "special":
            return rng.choice(SPECIAL, n).astype(dt)
        return (100 * np.exp(np.cumsum(rng.normal(0, 6e-4, n)))).astype(dt)
    return np.cumsum(rng.integers(-3, 4, n)).astype(dt)


@given(arrays())
@settings(max_examples=300, deadline=None)
def test_codec_round_trip_is_bit_exact(a):
    blob, code = encode_values(a)
    got = decode_values(blob, code, a.dtype, len(a))
    assert got.dtype == a.dtype and got.tobytes() == a.tobytes()
    out = np.empty(len(a), a.dtype)
    decode_values(blob, code, a.dtype, len(a), out)
    assert out.tobytes() == a.tobytes()


def test_nan_payloads_survive():
    pats = np.array([0x7FF8000000000001, 0xFFF0000000000ABC, 0x8000000000000000, 0x7FF0000000000000], np.uint64)
    a = np.tile(pats, 500).view(np.float64)
    blob, code = encode_values(a)
    assert decode_values(blob, code, a.dtype, len(a)).view(np.uint64).tolist() == a.view(np.uint64).tolist()


def test_random_walk_compresses():
    rng = np.random.default_rng(7)
    a = (100 * np.exp(np.cumsum(rng.normal(0, 6e-4, 65536)))).astype(np.float32)
    blob, _ = encode_values(a)
    assert len(blob) < a.nbytes * 0.6


@given(st.lists(st.booleans(), max_size=5000))
@settings(max_examples=200, deadline=None)
def test_presence_round_trip(bits):
    p = np.array(bits, np.uint8)
    blob, code, k = encode_presence(p)
    assert k == int(p.sum())
    assert decode_presence(blob, code, len(p)).tolist() == [bool(x) for x in bits]


# ---------------------------------------------------------------------------------- reads
def _write_rows(e: Engine, epochs: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(epochs)
    e.write(TBK, {"Epoch": epochs,
                  "Open": (100 * np.exp(np.cumsum(rng.normal(0, 6e-4, n)))).astype(np.float32),
                  "Volume": rng.integers(0, 2**53, n).astype(np.float64),
                  "Flags": rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)})


slot_sets = st.lists(st.tuples(st.integers(0, 527_039), st.integers(1, 70_000)), min_size=0, max_size=4)
queries = st.lists(st.tuples(st.one_of(st.none(), st.integers(-10, 527_100)),
                             st.one_of(st.none(), st.integers(-10, 527_100)),
                             st.one_of(st.none(), st.integers(0, 70_000)), st.booleans(),
                             st.sampled_from([None, ["Open"], ["Flags", "Volume"], []])),
                   min_size=1, max_size=6)


@given(runs=slot_sets, holes=slot_sets, qs=queries, seed=st.integers(0, 1000))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_reads_equal_raw_and_compressed(fast_tmp, runs, holes, qs, seed):
    """The same data in two buckets, one compacted: every read returns the same bytes."""
    root = fast_tmp / f"eq{seed}"
    shutil.rmtree(root, ignore_errors=True)
    with Engine(root, wal_rotate_interval=0) as e:
        cols = [("Open", "f4"), ("Volume", "f8"), ("Flags", "i4")]
        e.create(TBK, cols)
        e.create("R/1Min/OHLCV", cols)
        for k, (s0, n) in enumerate(runs):  # runs of slots, some reaching into 2025
            ep = Y2024 + 60 * np.arange(s0, s0 + n, dtype=np.int64)
            _write_rows(e, ep, seed + k)
        for a, n in holes:
            e.delete(TBK, (Y2024 + 60 * a) * NS, (Y2024 + 60 * (a + n // 8)) * NS)
        data = e.read(TBK)
        if len(data["Epoch"]):
            e.write("R/1Min/OHLCV", data)
        assert e.compact() >= (1 if len(data["Epoch"]) else 0)
        for y in e._bucket(TBK).years():
            assert _is_compressed(e._bucket(TBK).year_path(y))
        for a, b, lim, from_end, proj in qs:
            an = None if a is None else (Y2024 + 60 * a) * NS - 1
            bn = None if b is None else (Y2024 + 60 * b) * NS
            want = e.read("R/1Min/OHLCV", an, bn, columns=proj, limit=lim, from_end=from_end)
            got = e.read(TBK, an, bn, columns=proj, limit=lim, from_end=from_end)
            assert list(got) == list(want)
            for c in want:
                assert got[c].dtype == want[c].dtype and got[c].tobytes() == want[c].tobytes(), c
        many = e.read_many([TBK, "R/1Min/OHLCV"], limit=7, from_end=True)
        assert many[TBK]["Epoch"].tolist() == many["R/1Min/OHLCV"]["Epoch"].tolist()
        assert e.last_epoch(TBK) == e.last_epoch("R/1Min/OHLCV")
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------- writes
def _setup(engine_factory, **kw) -> tuple[Engine, dict]:
    e = engine_factory(**kw)
    ep = Y2024 + 60 * np.arange(0, 200_000, 3, dtype=np.int64)
    _write_rows(e, ep, 1)
    return e, e.read(TBK)


def test_late_write_and_delete_into_compressed_year(engine_factory):
    e, before = _setup(engine_factory)
    b = e._bucket(TBK)
    path = b.year_path(2024)
    raw_bytes = os.stat(path).st_blocks * 512
    assert e.compact() == 1 and _is_compressed(path)
    assert os.path.getsize(path) < raw_bytes / 2
    # a late bar between existing ones and an overwrite: the year is inflated, then written
    e.write(TBK, {"Epoch": np.array([Y2024 + 60, Y2024 + 120 * 60], np.int64),
                  "Open": np.array([1.5, 2.5], np.float32), "Volume": np.array([7.0, 8.0]),
                  "Flags": np.array([1, 2], np.int32)})
    assert not _is_compressed(path)
    got = e.read(TBK)
    assert len(got["Epoch"]) == len(before["Epoch"]) + 1
    assert got["Open"][1] == np.float32(1.5)
    assert got["Open"][got["Epoch"] == Y2024 + 120 * 60].tolist() == [np.float32(2.5)]
    keep = ~np.isin(got["Epoch"], [Y2024 + 60, Y2024 + 120 * 60])
    assert got["Volume"][keep].tobytes() == before["Volume"][before["Epoch"] != Y2024 + 120 * 60].tobytes()
    assert e.compact() == 1 and _is_compressed(path)
    n = e.delete(TBK, Y2024 * NS, (Y2024 + 3600) * NS)
    assert n == int(((got["Epoch"] >= Y2024) & (got["Epoch"] <= Y2024 + 3600)).sum())
    assert not _is_compressed(path)
    assert e.read(TBK)["Epoch"][0] > Y2024 + 3600


def test_current_year_is_not_compacted(engine_factory, monkeypatch):
    monkeypatch.setattr(compactmod, "current_year", lambda: 2024)
    e, _ = _setup(engine_factory)
    assert e.compact() == 0
    assert not _is_compressed(e._bucket(TBK).year_path(2024))


def test_checkpoint_compacts_quiet_files_only(engine_factory):
    e, before = _setup(engine_factory, compression="zstd")
    path = e._bucket(TBK).year_path(2024)
    e.checkpoint()  # written during this interval: not quiet yet
    assert not _is_compressed(path)
    e.write("Other/1Min/OHLCV", {"Epoch": np.array([Y2024], np.int64), "v": np.array([1.0])})
    e.checkpoint()  # not written since the last checkpoint: compacted
    assert _is_compressed(path)
    other = e._bucket("Other/1Min/OHLCV").year_path(2024)
    assert not _is_compressed(other)
    e.checkpoint()  # idle checkpoint: the other file went quiet too
    assert _is_compressed(other)
    got = e.read(TBK)
    assert all(got[c].tobytes() == before[c].tobytes() for c in before)


def test_close_compacts_written_past_years(engine_factory):
    e, before = _setup(engine_factory, compression="zstd")
    path = e._bucket(TBK).year_path(2024)
    e.close()
    assert _is_compressed(path)
    e2 = engine_factory()  # the option off: compressed files stay readable and writable
    got = e2.read(TBK)
    assert all(got[c].tobytes() == before[c].tobytes() for c in before)
    e2.write(TBK, {"Epoch": np.array([Y2024 + 60 * 200_001], np.int64), "Open": np.array([1.0], np.float32),
                   "Volume": np.array([1.0]), "Flags": np.array([1], np.int32)})
    e2.close()
    assert not _is_compressed(path)


def test_no_compaction_by_default(engine_factory):
    e, _ = _setup(engine_factory)
    e.checkpoint()
    e.write("Other/1Min/OHLCV", {"Epoch": np.array([Y2024], np.int64), "v": np.array([1.0])})
    e.checkpoint()
    e.close()
    assert not _is_compressed(e._bucket(TBK).year_path(2024))


def test_wal_replay_into_compressed_year_is_idempotent(engine_factory):
    """Writes after the last checkpoint replay into a file that was compacted after them."""
    e, _ = _setup(engine_factory)
    e.checkpoint()
    _write_rows(e, Y2024 + 60 * np.arange(1, 3000, 3, dtype=np.int64), 5)  # logged, not checkpointed
    want = e.read(TBK)
    assert e.compact() == 1
    e._simulate_crash()
    e2 = engine_factory()
    assert e2.stats()["replayed_frames"] >= 1
    got = e2.read(TBK)
    assert all(got[c].tobytes() == want[c].tobytes() for c in want)


def test_leftover_temp_file_is_harmless(engine_factory):
    """A kill during compaction leaves `YYYY.bin.z.tmp` beside the intact file."""
    e, before = _setup(engine_factory)
    path = e._bucket(TBK).year_path(2024)
    e.close()
    with open(path + ".z.tmp", "wb") as f:
        f.write(ZMAGIC + b"\0" * 20)  # a torn compressed file
    e2 = engine_factory(compression="zstd")
    got = e2.read(TBK)
    assert all(got[c].tobytes() == before[c].tobytes() for c in before)
    assert e2.compact() == 1 and _is_compressed(path) and not os.path.exists(path + ".z.tmp")
    got = e2.read(TBK)
    assert all(got[c].tobytes() == before[c].tobytes() for c in before)


def test_engine_rejects_unknown_mode(tmp_path):
    with pytest.raises(errors.InvalidParameterValue):
        Engine(tmp_path / "d", compression="lz4")


def test_config_option():
    assert parse_config({}).storage_compression == "none"
    assert parse_config({"storage_compression": "zstd"}).storage_compression == "zstd"
    with pytest.raises(ConfigError, match="storage_compression"):
        parse_config({"storage_compression": "gzip"})
    with pytest.raises(ConfigError, match="storage_compression"):
        parse_config({"storage_compression": True})
