"""Regressions found while typing the planner: date_trunc's zone argument was dropped, and text cast
to `timestamp` (without time zone) shifted by the session zone when evaluated over a column."""

from __future__ import annotations

import datetime as dt

import pytest

from pgmkts import errors
from pgmkts.planner.session import Session
from tests.planner.conftest import START, run

UTC = dt.UTC


def _utc(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def test_date_trunc_with_zone_truncates_in_that_zone(engine):
    s = Session(engine)
    list(s.execute("SET TIME ZONE 'America/New_York'"))
    # the explicit zone wins over the session's
    _f, rows = run(s, "SELECT date_trunc('day', '2024-01-01 03:00:00+00'::timestamptz, 'UTC')")
    assert rows == [(_utc(2024, 1, 1),)]
    list(s.execute("SET TIME ZONE 'UTC'"))
    _f, rows = run(s, "SELECT date_trunc('day', x::timestamptz, 'America/New_York') FROM "
                      "(VALUES ('2024-01-01 03:00:00+00'), ('2024-03-10 12:00:00+00')) t(x)")
    # 22:00 on Dec 31 in New York; the DST day still starts at EST midnight
    assert rows == [(_utc(2023, 12, 31, 5),), (_utc(2024, 3, 10, 5),)]
    _f, rows = run(s, "SELECT date_trunc('day', now(), NULL)")
    assert rows == [(None,)]
    with pytest.raises(errors.InvalidParameterValue, match="not recognized"):
        run(s, "SELECT date_trunc('day', now(), 'Mars/Olympus')")


def test_group_by_date_trunc_with_zone_is_not_the_utc_fast_path(session):
    # START is 2024-01-02 00:00 UTC = 2024-01-01 19:00 in New York: the first NY day is 5 hours long
    _f, rows = run(session, "SELECT date_trunc('day', epoch, 'America/New_York') AS d, count(*) "
                            "FROM \"AAPL/1Min/OHLCV\" GROUP BY 1 ORDER BY 1 LIMIT 2")
    assert [r[0] for r in rows] == [_utc(2024, 1, 1, 5), _utc(2024, 1, 2, 5)]
    _f, check = run(session, "SELECT count(*) FROM \"AAPL/1Min/OHLCV\" "
                             f"WHERE epoch < to_timestamp({START + 5 * 3600})")
    assert rows[0][1] == check[0][0]


def test_text_to_timestamp_column_cast_ignores_session_zone(engine):
    s = Session(engine)
    list(s.execute("SET TIME ZONE 'America/New_York'"))
    _f, rows = run(s, "SELECT x::timestamp, x::timestamptz FROM "
                      "(VALUES ('2024-01-01 10:00:00'), ('2024-07-01 11:30:00')) t(x)")
    assert rows == [(dt.datetime(2024, 1, 1, 10), _utc(2024, 1, 1, 15)),
                    (dt.datetime(2024, 7, 1, 11, 30), _utc(2024, 7, 1, 15, 30))]
    # the same as the constant cast
    _f, rows = run(s, "SELECT '2024-01-01 10:00:00'::timestamp")
    assert rows == [(dt.datetime(2024, 1, 1, 10),)]
