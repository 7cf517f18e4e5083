"""`x = ANY($1)` / `> ALL($1)` where $1 arrives as text ('{1,2}': Go lib/pq's pq.Array sends every
parameter untyped, in text format) or as an array literal; and `epoch = ANY(...)` stays a filter
instead of becoming a time-range bound."""

from __future__ import annotations

import datetime as dt

import pytest

from pgmkts import errors
from tests.planner.conftest import START, run

UTC = dt.UTC
T = '"AAPL/1Min/OHLCV"'


def _epochs(session, n=3):
    _f, rows = run(session, f"SELECT epoch, volume FROM {T} ORDER BY epoch LIMIT {n}")
    return rows


def test_text_array_parameter_against_bigint(session):
    rows = _epochs(session)
    vols = sorted({v for _e, v in rows[:2]})
    _f, got = run(session, f"SELECT volume FROM {T} WHERE volume = ANY($1) AND epoch < $2 ORDER BY epoch",
                  ["{" + ",".join(map(str, vols)) + "}", dt.datetime.fromtimestamp(START + 180, UTC)])
    assert sorted({v for (v,) in got}) == vols


def test_array_literal_and_all(session):
    rows = _epochs(session)
    v0 = rows[0][1]
    _f, got = run(session, f"SELECT count(*) FROM {T} WHERE volume = ANY('{{{v0}}}') AND epoch <= $1",
                  [rows[0][0]])
    assert got == [(1,)]
    _f, got = run(session, f"SELECT count(*) FROM {T} WHERE volume <> ALL('{{{v0}}}') AND epoch <= $1",
                  [rows[0][0]])
    assert got == [(0,)]
    with pytest.raises(errors.InvalidTextRepresentation):
        run(session, f"SELECT count(*) FROM {T} WHERE volume = ANY('nope')")


def test_epoch_any_is_a_filter_not_a_bound(session):
    rows = _epochs(session, 3)
    want = [rows[0][0], rows[2][0]]
    _f, got = run(session, f"SELECT epoch FROM {T} WHERE epoch = ANY($1) ORDER BY epoch", [want])
    assert [e for (e,) in got] == want
    text = "{" + ",".join(e.isoformat() for e in want) + "}"
    _f, got = run(session, f"SELECT epoch FROM {T} WHERE epoch = ANY($1) ORDER BY epoch", [text])
    assert [e for (e,) in got] == want
    _f, got = run(session, f"SELECT count(*) FROM {T} WHERE epoch > ALL($1) AND epoch <= $2", [want, rows[2][0]])
    assert got == [(0,)]
