"""to_batches' contiguous-symbol fast path (_symbol_runs: neighbours compared, no sort) gives the
same storage batches as the sorting path, for grouped and interleaved symbols alike."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from pgmkts.planner import write as W
from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.session import Session
from pgmkts.storage import Engine

NAMES = ["symbol", "epoch", "close", "volume"]


@pytest.fixture(scope="module")
def rel(tmp_path_factory):
    eng = Engine(tmp_path_factory.mktemp("runs"))
    s = Session(eng)
    list(s.execute("CREATE TABLE runs_1min (symbol text, epoch timestamptz, close real, volume double precision)"))
    yield W.target_relation(eng, exp.to_table("runs_1min"), s._ctx([]))
    eng.close()


def _frame(symbols: list[str]) -> Frame:
    n = len(symbols)
    epoch = pa.array((1_704_067_200 + 60 * np.arange(n, dtype=np.int64)) * 1_000_000, pa.timestamp("us", "UTC"))
    cols = [pa.array(symbols, pa.string()), epoch, pa.array(np.arange(n, dtype=np.float32)),
            pa.array(np.arange(n, dtype=np.float64) * 2)]
    return Frame(cols, [(None, c) for c in NAMES], n)


def _reference(rel, frame) -> list:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(W, "_symbol_runs", lambda sym, n: None)   # force group_ids' sort
        return W.to_batches(rel, frame, NAMES)


def _as_dict(batches) -> dict:
    return {t: {k: v.tolist() for k, v in d.items()} for t, d, _ in batches}


runs = st.lists(st.tuples(st.sampled_from(["A", "B", "CC", "é", "", "A "]), st.integers(1, 5)),
                min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(runs)
def test_same_batches_as_the_sorting_path(rel, spec):
    symbols = [s for s, k in spec for _ in range(k)]
    frame = _frame(symbols)
    got = W.to_batches(rel, frame, NAMES)
    ref = _reference(rel, frame)
    assert _as_dict(got) == _as_dict(ref)
    assert len(got) == len({*symbols})
    contiguous = len([i for i in range(1, len(symbols)) if symbols[i] != symbols[i - 1]]) + 1 == len({*symbols})
    if contiguous:   # grouped input keeps the order the symbols arrived in
        assert [t.split("/")[0] for t, _, _ in got] == list(dict.fromkeys(symbols))


def test_runs_found_and_declined():
    sym = pa.array(["X", "X", "Y", "Y", "Y", "Z"])
    assert W._symbol_runs(sym, 6) == [(0, 2, "X"), (2, 5, "Y"), (5, 6, "Z")]
    assert W._symbol_runs(pa.array(["X", "Y", "X"]), 3) is None
    assert W._symbol_runs(pa.array(["X"]), 1) == [(0, 1, "X")]
    assert W._symbol_runs(pa.chunked_array([["X", "X"], ["X", "Y"]]), 4) == [(0, 3, "X"), (3, 4, "Y")]
