"""Aggregation windows: MarketStore's candle durations parsed, and epochs mapped to window starts
(fixed-width windows by arithmetic, calendar windows — days, weeks, months, years — in a timezone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from pgmkts import errors

# Go's time.Time.Truncate works on the absolute time since 0001-01-01 00:00 UTC, so MarketStore's
# fixed windows are aligned to that instant. For every width dividing a day it coincides with the
# Unix epoch; it only matters for odd widths such as 7Min or 5H.
GO_ZERO_UNIX = -62135596800
# Multi-day and weekly windows are aligned to Monday 2000-01-03 (local), as TimescaleDB's
# time_bucket does; MarketStore's 1W (Go Truncate from year 1, also a Monday) agrees.
DAY_ORIGIN = date(2000, 1, 3)
_DAY_ORIGIN_ORD = DAY_ORIGIN.toordinal()
_EPOCH_ORD = date(1970, 1, 1).toordinal()

_UNIT_SECONDS = {"Sec": 1, "S": 1, "Min": 60, "T": 60, "H": 3600}
# Full match; alternation order matters only for readability since fullmatch backtracks.
_DURATION_RE = re.compile(r"\s*(\d+)\s*(Sec|S|Min|T|H|D|W|M|Y)\s*")


@dataclass(frozen=True)
class Window:
    """One aggregation window: `unit` 'S' (fixed seconds), 'D', 'W', 'M' (months) or 'Y'."""

    n: int
    unit: str
    text: str = ""

    @property
    def fixed(self) -> bool:
        return self.unit == "S"

    @property
    def seconds(self) -> int:
        """Nominal width; exact for fixed windows, nominal (30/365 days) for months and years."""
        per = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}[self.unit]
        return self.n * per

    def __str__(self) -> str:
        return self.text or f"{self.n}{self.unit}"


def parse_window(text: str) -> Window:
    """MarketStore's CandleDurationFromString: `<int><Sec|Min|H|D|W|M|Y>` (also S and T)."""
    if not isinstance(text, str):
        raise errors.InvalidParameterValue(f"timeframe must be a string like '5Min', got {text!r}")
    m = _DURATION_RE.fullmatch(text)
    if m is None:
        raise errors.InvalidParameterValue(
            f"no suitable timeframe provided: {text!r}",
            hint="use an integer and a unit: Sec, Min, H, D, W, M (month) or Y, e.g. '5Min' or '1D'")
    n, unit = int(m.group(1)), m.group(2)
    if n <= 0:
        raise errors.InvalidParameterValue(f"timeframe {text!r} must be positive")
    if unit in _UNIT_SECONDS:
        return Window(n * _UNIT_SECONDS[unit], "S", text.strip())
    return Window(n, unit, text.strip())


def window_from_seconds(seconds: int) -> Window:
    """Seconds → window: whole weeks are Monday-aligned weeks, whole days calendar days, else fixed."""
    seconds = int(seconds)
    if seconds <= 0:
        raise errors.InvalidParameterValue(f"window width must be positive, got {seconds} seconds")
    if seconds % (7 * 86400) == 0:
        return Window(seconds // (7 * 86400), "W")
    if seconds % 86400 == 0:
        return Window(seconds // 86400, "D")
    return Window(seconds, "S")


def as_window(w: Window | int | str) -> Window:
    if isinstance(w, Window):
        return w
    if isinstance(w, str):
        return parse_window(w)
    return window_from_seconds(int(w))


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo | None:
    """None for UTC-equivalent zones, so the common case stays pure arithmetic."""
    if tz.upper() in ("UTC", "ETC/UTC", "GMT", "Z", "ETC/GMT", "UCT"):
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise errors.InvalidParameterValue(f"unknown time zone {tz!r}",
                                           hint="use an IANA name such as 'America/New_York'") from exc


@lru_cache(maxsize=512)
def _year_midnights(tz: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """Local-midnight epochs and proleptic ordinals of every day of `year` in `tz`.

    A Python loop per *day* (cached per year), never per row. A midnight that does not exist
    (DST at 00:00) resolves, with fold=0, to the first existing instant of that day.
    """
    zone = _zone(tz)
    d0 = date(year, 1, 1)
    ndays = (date(year + 1, 1, 1) - d0).days
    ords = np.arange(d0.toordinal(), d0.toordinal() + ndays, dtype=np.int64)
    if zone is None:
        return (ords - _EPOCH_ORD) * 86400, ords
    mids = np.empty(ndays, dtype=np.int64)
    for i in range(ndays):
        d = d0 + timedelta(days=i)
        mids[i] = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())
    return mids, ords


def _local_year(epoch: int, tz: str) -> int:
    zone = _zone(tz)
    # datetime supports years 1..9999; clamp so absurd epochs still get a (useless) table.
    epoch = max(min(int(epoch), 253402214400), -62135596800)
    if zone is None:
        return (datetime(1970, 1, 1) + timedelta(seconds=epoch)).year
    return datetime.fromtimestamp(epoch, zone).year


def calendar_boundaries(window: Window, lo: int, hi: int, tz: str) -> np.ndarray:
    """Sorted start epochs of every calendar window overlapping [lo, hi] (plus one on each side)."""
    y0 = max(_local_year(lo, tz) - 1, 1)
    y1 = min(_local_year(hi, tz) + 1, 9998)
    # The year span covers weeks/multi-day windows crossing Jan 1, and years back to n-year alignment.
    if window.unit == "Y":
        y0 = max(y0 - (y0 - 1970) % window.n, 1)
    parts = [_year_midnights(tz, y) for y in range(y0, y1 + 1)]
    mids = np.concatenate([p[0] for p in parts])
    ords = np.concatenate([p[1] for p in parts])
    if window.unit == "D":
        keep = (ords - _DAY_ORIGIN_ORD) % window.n == 0
    elif window.unit == "W":
        keep = (ords - _DAY_ORIGIN_ORD) % (7 * window.n) == 0
    else:
        # Month/year starts: derive calendar fields from the ordinals once per day (not per row).
        days = (ords - _EPOCH_ORD).astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        first_of_month = days == months.astype("datetime64[D]")
        month_no = months.astype(np.int64)  # months since 1970-01
        if window.unit == "M":
            keep = first_of_month & (month_no % window.n == 0)
        else:
            keep = first_of_month & (month_no % 12 == 0) & ((month_no // 12) % window.n == 0)
    return mids[keep]


def window_starts(epochs: np.ndarray, window: Window | int | str, *, origin: int | None = None,
                  timezone: str = "UTC") -> np.ndarray:
    """Start epoch (seconds) of the window holding each epoch; any order, one pass over the rows."""
    window = as_window(window)
    e = np.asarray(epochs, dtype=np.int64)
    if window.fixed:
        o = GO_ZERO_UNIX if origin is None else int(origin)
        return e - (e - o) % window.n
    if e.size == 0:
        return e.copy()
    b = calendar_boundaries(window, int(e.min()), int(e.max()), timezone)
    return b[np.searchsorted(b, e, side="right") - 1]


def bucket_index(epochs: np.ndarray, width_seconds: int | str | Window, origin: int = 0,
                 timezone: str = "UTC") -> np.ndarray:
    """Window number of each epoch: floor((epoch - origin) / width) for fixed widths; for
    calendar windows (whole days/weeks in `timezone`, months, years) the local window ordinal
    (days since 2000-01-03 // n, weeks likewise, months since 1970-01 // n, years since 1970 // n)."""
    window = as_window(width_seconds)
    e = np.asarray(epochs, dtype=np.int64)
    if window.fixed:
        return (e - int(origin)) // window.n
    starts = window_starts(e, window, timezone=timezone)
    zone = _zone(timezone)
    # Local date of each window start: add the UTC offset at that start (a handful of distinct
    # starts, so the offsets are looked up per window, not per row).
    uniq, inv = np.unique(starts, return_inverse=True)
    if zone is None:
        local = uniq
    else:
        # one lookup per distinct window, not per row
        offs = np.array([int(zone.utcoffset(datetime.fromtimestamp(int(s), zone)).total_seconds())  # type: ignore[union-attr]
                         for s in uniq], dtype=np.int64)
        local = uniq + offs
    days = local // 86400 + _EPOCH_ORD - _DAY_ORIGIN_ORD
    if window.unit == "D":
        ordinal = days // window.n
    elif window.unit == "W":
        ordinal = days // (7 * window.n)
    else:
        months = (local // 86400).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        ordinal = months // window.n if window.unit == "M" else (months // 12) // window.n
    return ordinal[inv.reshape(-1)]


def window_ends(starts: np.ndarray, window: Window | int | str, *, timezone: str = "UTC") -> np.ndarray:
    """Exclusive end epoch of each window given its start (the next window's start)."""
    window = as_window(window)
    s = np.asarray(starts, dtype=np.int64)
    if window.fixed or s.size == 0:
        return s + window.n if window.fixed else s.copy()
    # the table reaches at least one whole window past the last start
    b = calendar_boundaries(window, int(s.min()), int(s.max()) + 2 * window.seconds + 86400 * 32, timezone)
    return b[np.searchsorted(b, s, side="right")]
