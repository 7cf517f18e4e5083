"""prepare's consecutive-slot shortcut (no flooring modulo) gives exactly the batch the general
floor/sort/last-write-wins path gives, whatever the epochs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmkts.storage import batch

TFS = [1, 60, 300, 3600, 86400, 7, 90_000]   # the last two do not divide a day: never the shortcut


def _prep(epoch: np.ndarray, tf_name: str):
    data = {"Epoch": epoch, "Close": np.arange(len(epoch), dtype=np.float32)}
    return batch.prepare(f"X/{tf_name}/OHLCV", data, None, lambda k: None, {})


def _tf_name(tf: int) -> str:
    return f"{tf}Sec"


def _both(epoch: np.ndarray, tf: int):
    fast = _prep(epoch.copy(), _tf_name(tf))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(batch, "_consecutive_slots", lambda e, t: False)
        ref = _prep(epoch.copy(), _tf_name(tf))
    return fast, ref


epochs = st.one_of(
    # consecutive slots from an aligned or unaligned start (the shortcut's case and near misses)
    st.tuples(st.integers(-10**9, 4 * 10**9), st.integers(1, 300), st.sampled_from(TFS)).map(
        lambda t: (t[0] + t[2] * np.arange(t[1], dtype=np.int64), t[2])),
    st.tuples(st.integers(-10**9, 4 * 10**9), st.integers(1, 300), st.sampled_from(TFS)).map(
        lambda t: (t[0] - t[0] % t[2] + t[2] * np.arange(t[1], dtype=np.int64), t[2])),
    # anything: gaps, duplicates, disorder
    st.tuples(st.lists(st.integers(-10**9, 4 * 10**9), min_size=1, max_size=50), st.sampled_from(TFS)).map(
        lambda t: (np.array(t[0], dtype=np.int64), t[1])),
)


@settings(max_examples=300, deadline=None)
@given(epochs)
def test_shortcut_matches_the_general_floor(case):
    epoch, tf = case
    fast, ref = _both(epoch, tf)
    assert fast.nrows == ref.nrows
    assert list(fast.arrays) == list(ref.arrays)
    for c in ref.arrays:
        np.testing.assert_array_equal(fast.arrays[c], ref.arrays[c])
        assert fast.arrays[c].dtype == ref.arrays[c].dtype


def test_shortcut_taken_only_on_aligned_consecutive_slots():
    base = 1_704_067_200
    assert batch._consecutive_slots(base + 60 * np.arange(5, dtype=np.int64), 60)
    assert batch._consecutive_slots(np.array([base], np.int64), 60)
    assert not batch._consecutive_slots(base + 1 + 60 * np.arange(5, dtype=np.int64), 60)
    assert not batch._consecutive_slots(np.array([base, base + 120, base + 120, base + 240], np.int64), 60)
    assert not batch._consecutive_slots(np.array([base, base + 60, base + 180, base + 180], np.int64), 60)
