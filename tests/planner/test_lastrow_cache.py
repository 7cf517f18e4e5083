"""storage/lastrow.py: the cached newest-row reads behind DISTINCT ON (symbol) give exactly the
rows of an uncached read after any sequence of writes, deletes, new and dropped buckets, and
are bypassed for a transaction's own buffered writes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts.planner.session import Session
from pgmkts.storage import Engine, lastrow

LATEST = "SELECT DISTINCT ON (symbol) * FROM g1_1min ORDER BY symbol, epoch DESC"
T0 = 1_704_067_200


def rows(s: Session, sql: str) -> list[tuple]:
    res = list(s.execute(sql))[-1]
    out: list[tuple] = []
    for b in res.batches:
        out.extend(zip(*[c.to_pylist() for c in b.columns], strict=True))
    return out


def uncached(s: Session, sql: str) -> list[tuple]:
    keep = lastrow.MAX_ROWS
    lastrow.MAX_ROWS = 0
    try:
        return rows(s, sql)
    finally:
        lastrow.MAX_ROWS = keep


@pytest.fixture
def eng(tmp_path):
    e = Engine(tmp_path / "data")
    s = Session(e)
    list(s.execute("CREATE TABLE g1_1min (symbol text, epoch timestamptz, close real, volume double precision)"))
    yield e
    e.close()


def bars(sym: str, minutes: list[int], seed: int) -> tuple[str, dict, bool]:
    rng = np.random.default_rng(seed)
    m = np.array(sorted(set(minutes)), dtype=np.int64)
    return (f"{sym}/1Min/G1", {"Epoch": T0 + m * 60, "Close": rng.random(len(m)).astype(np.float32),
                               "Volume": rng.random(len(m))}, False)


OPS = st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from("ABC"), st.lists(st.integers(0, 500), min_size=1, max_size=5)),
    st.tuples(st.just("delete"), st.sampled_from("ABC"), st.integers(0, 500)),
    st.tuples(st.just("drop"), st.sampled_from("ABC"), st.just(0)),
    st.tuples(st.just("read"), st.just(""), st.just(0)),
), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None)
@given(ops=OPS)
def test_cached_latest_rows_equal_uncached(tmp_path_factory, ops):
    e = Engine(tmp_path_factory.mktemp("lastrow"))
    try:
        s = Session(e)
        list(s.execute("CREATE TABLE g1_1min (symbol text, epoch timestamptz, close real, volume double precision)"))
        for k, (op, sym, arg) in enumerate(ops):
            tbk = f"{sym}/1Min/G1"
            if op == "write":
                e.write_many([bars(sym, arg, k)])
            elif op == "delete" and e.info(tbk):
                e.delete(tbk, (T0 + arg * 60) * 10**9, None)
            elif op == "drop" and e.info(tbk):
                e.destroy(tbk)
            got = rows(s, LATEST)
            assert got == uncached(s, LATEST)
            assert rows(s, LATEST) == got   # a second, cached read
    finally:
        e.close()


def test_cache_serves_repeated_reads_and_write_retires_it(eng, monkeypatch):
    eng.write_many([bars("A", [1, 2, 3], 1), bars("B", [5, 9], 2)])
    s = Session(eng)
    first = rows(s, LATEST)
    calls = []
    for name in ("read", "read_many"):   # buckets spelling "Close" are read one by one
        real = getattr(eng, name)
        monkeypatch.setattr(eng, name, lambda *a, real=real, **k: calls.append(1) or real(*a, **k))
    assert rows(s, LATEST) == first and not calls           # served from the cache
    eng.write_many([bars("B", [10], 3)])
    after = rows(s, LATEST)
    assert calls and after != first
    assert after[1][1] > first[1][1]                         # B's newest bar is the new one
    assert after == uncached(s, LATEST)


def test_transaction_sees_its_own_buffered_rows(eng):
    eng.write_many([bars("A", [1, 2, 3], 1)])
    s = Session(eng)
    rows(s, LATEST)                                           # fill the cache
    list(s.execute("BEGIN"))
    list(s.execute("INSERT INTO g1_1min (symbol, epoch, close, volume) VALUES ('A', '2024-01-01 05:00+00', 7, 8)"))
    inside = rows(s, LATEST)
    assert inside[0][2] == 7.0
    assert inside == uncached(s, LATEST)
    list(s.execute("ROLLBACK"))
    assert rows(s, LATEST)[0][2] != 7.0


def test_cached_arrays_are_read_only(eng):
    eng.write_many([bars("A", [1, 2], 1)])
    s = Session(eng)
    rows(s, LATEST)
    st_ = lastrow._state(eng)
    assert st_ is not None and st_.entries
    for _v, data in st_.entries.values():
        assert all(not a.flags.writeable for a in data.values())
