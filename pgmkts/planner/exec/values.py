"""Value helpers for the executor: intervals, broadcasting, common types, casts, timestamp parsing.

A value is a pyarrow Array (one entry per row), a pyarrow Scalar, or an `Interval` constant.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pgmkts import errors
from pgmkts.planner.types import TS

US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Interval:
    """PostgreSQL interval: months, days and microseconds kept apart (8.5.4 of the manual)."""

    months: int = 0
    days: int = 0
    us: int = 0

    def fixed_us(self) -> int:
        """Length in µs when the interval has no months (days count as 24h, as date_bin does)."""
        if self.months:
            raise errors.FeatureNotSupported("intervals with months or years are not supported here")
        return self.days * 86400 * US + self.us

    def __neg__(self) -> Interval:
        return Interval(-self.months, -self.days, -self.us)

    def __mul__(self, k: float) -> Interval:
        return Interval(int(self.months * k), int(self.days * k), int(round(self.us * k)))

    def text(self) -> str:
        from pgmkts.pgtext import interval_text
        return interval_text(self.months, self.days, self.us)


_UNITS = {
    "microsecond": (0, 0, 1), "microseconds": (0, 0, 1), "us": (0, 0, 1), "usec": (0, 0, 1),
    "millisecond": (0, 0, 1000), "milliseconds": (0, 0, 1000), "ms": (0, 0, 1000), "msec": (0, 0, 1000),
    "second": (0, 0, US), "seconds": (0, 0, US), "sec": (0, 0, US), "secs": (0, 0, US), "s": (0, 0, US),
    "minute": (0, 0, 60 * US), "minutes": (0, 0, 60 * US), "min": (0, 0, 60 * US),
    "mins": (0, 0, 60 * US), "m": (0, 0, 60 * US),
    "hour": (0, 0, 3600 * US), "hours": (0, 0, 3600 * US), "h": (0, 0, 3600 * US),
    "hr": (0, 0, 3600 * US), "hrs": (0, 0, 3600 * US),
    "day": (0, 1, 0), "days": (0, 1, 0), "d": (0, 1, 0),
    "week": (0, 7, 0), "weeks": (0, 7, 0), "w": (0, 7, 0),
    "month": (1, 0, 0), "months": (1, 0, 0), "mon": (1, 0, 0), "mons": (1, 0, 0),
    "year": (12, 0, 0), "years": (12, 0, 0), "y": (12, 0, 0), "yr": (12, 0, 0), "yrs": (12, 0, 0),
}
_IV_TOKEN = re.compile(r"([+-]?\d+(?:\.\d*)?)\s*([a-z]+)")
_IV_CLOCK = re.compile(r"([+-])?(\d+):(\d\d)(?::(\d\d(?:\.\d+)?))?")


def parse_interval(text: str) -> Interval:
    s = text.strip().lower().replace("@", " ").strip()
    months = days = us = 0
    pos = 0
    ok = bool(s)
    for m in re.finditer(r"\S+(?:\s+[a-z]+)?", s):
        tok = m.group(0)
        cm = _IV_CLOCK.fullmatch(tok)
        if cm:
            sign = -1 if cm.group(1) == "-" else 1
            secs = float(cm.group(4) or 0)
            us += sign * (int(cm.group(2)) * 3600 * US + int(cm.group(3)) * 60 * US + round(secs * US))
            pos = m.end()
            continue
        um = _IV_TOKEN.fullmatch(tok.replace(" ", ""))
        if um is None:
            # a bare number means seconds ("interval '30'")
            try:
                us += round(float(tok) * US)
                continue
            except ValueError:
                ok = False
                break
        num, unit = float(um.group(1)), um.group(2)
        if unit == "ago":
            ok = False
            break
        if unit not in _UNITS:
            ok = False
            break
        mo, d, u = _UNITS[unit]
        if mo:
            months += int(num * mo)
        if d:
            whole = int(num)
            days += whole * d
            us += round((num - whole) * d * 86400 * US)
        if u:
            us += round(num * u)
        pos = m.end()
    del pos
    if not ok:
        raise errors.InvalidDatetimeFormat(f'invalid input syntax for type interval: "{text}"')
    if s.endswith(" ago"):
        return Interval(-months, -days, -us)
    return Interval(months, days, us)


def tzinfo(name: str) -> dt.tzinfo:
    if name.upper() in ("UTC", "GMT", "Z", "ZULU", "ETC/UTC"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except Exception as exc:
        raise errors.InvalidParameterValue(f'time zone "{name}" not recognized') from exc


_TS_FIX = re.compile(r"([+-]\d\d)$")


def parse_timestamp_us(text: str, tz: str = "UTC", *, now_us: int | None = None) -> int:
    """µs since 1970 for a PostgreSQL timestamptz literal; a missing offset means session TimeZone."""
    s = text.strip()
    low = s.lower()
    if low == "epoch":
        return 0
    if low == "now" and now_us is not None:
        return now_us
    if low in ("today", "yesterday", "tomorrow") and now_us is not None:
        day = now_us // (86400 * US) * 86400 * US
        return day + {"today": 0, "yesterday": -1, "tomorrow": 1}[low] * 86400 * US
    if low in ("infinity", "-infinity"):
        raise errors.FeatureNotSupported("infinite timestamps are not supported")
    s2 = s.replace(" UTC", "+00:00").replace(" Z", "+00:00")
    if s2.endswith("Z"):
        s2 = s2[:-1] + "+00:00"
    s2 = _TS_FIX.sub(r"\1:00", s2)
    try:
        d = dt.datetime.fromisoformat(s2)
    except ValueError:
        raise errors.InvalidDatetimeFormat(
            f'invalid input syntax for type timestamp with time zone: "{text}"') from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=tzinfo(tz))
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def length(v) -> int | None:
    return len(v) if isinstance(v, pa.Array | pa.ChunkedArray) else None


def broadcast(v, n: int) -> pa.Array:
    """A value as an Array of n entries."""
    if isinstance(v, pa.ChunkedArray):
        return v.combine_chunks()
    if isinstance(v, pa.Array):
        return v
    if isinstance(v, Interval):
        return pa.array([(v.months, v.days, v.us * 1000)] * n, pa.month_day_nano_interval())
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return pa.nulls(n, v.type)
        return pa.repeat(v, n)
    return pa.array([v] * n)


def scalar_py(v):
    if isinstance(v, pa.Scalar):
        return v.as_py()
    return v


_NUM_RANK = {pa.int8(): 1, pa.int16(): 2, pa.int32(): 3, pa.int64(): 4, pa.float32(): 5,
             pa.float64(): 6}


def common_type(types: list[pa.DataType]) -> pa.DataType:
    ts = [t for t in types if not pa.types.is_null(t)]
    if not ts:
        return pa.string()  # PostgreSQL resolves all-unknown to text
    first = ts[0]
    if all(t == first for t in ts):
        return first
    if all(pa.types.is_decimal(t) for t in ts):
        return pa.decimal128(38, max(t.scale for t in ts))
    if all(t in _NUM_RANK or pa.types.is_decimal(t) for t in ts):
        return max((pa.float64() if pa.types.is_decimal(t) else t for t in ts), key=lambda t: _NUM_RANK[t])
    if all(pa.types.is_timestamp(t) for t in ts):
        return TS
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in ts):
        return pa.string()
    if any(pa.types.is_timestamp(t) for t in ts) and all(
            pa.types.is_timestamp(t) or pa.types.is_date32(t) for t in ts):
        return TS
    raise errors.DatatypeMismatch(f"types {', '.join(map(str, ts))} cannot be matched")


def type_of(v) -> pa.DataType:
    if isinstance(v, Interval):
        return pa.month_day_nano_interval()
    return v.type


def cast_value(v, target: pa.DataType, tz: str = "UTC"):
    """CAST with PostgreSQL's error codes (22P02 bad text, 22007 bad datetime, 22003 overflow)."""
    if isinstance(v, Interval):
        if pa.types.is_string(target):
            return pa.scalar(v.text())
        if pa.types.is_interval(target):
            return v
        raise errors.DatatypeMismatch(f"cannot cast type interval to {target}")
    src = v.type
    if src == target:
        return v
    if pa.types.is_interval(target):
        if isinstance(v, pa.Scalar):
            return None if not v.is_valid else parse_interval(str(v.as_py()))
        raise errors.FeatureNotSupported("casting a column to interval is not supported")
    if pa.types.is_null(src):
        return pa.nulls(len(v), target) if isinstance(v, pa.Array) else pa.scalar(None, target)
    if pa.types.is_string(src):
        return _cast_from_text(v, target, tz)
    if pa.types.is_decimal(src) and not pa.types.is_decimal(target) and not pa.types.is_string(target):
        v = pc.cast(v, pa.float64())
        src = v.type
    if pa.types.is_integer(target) and pa.types.is_floating(src):
        # PostgreSQL rounds half away from zero when casting float → int
        v = pc.round(v, round_mode="half_to_even") if False else pc.round(v, round_mode="half_towards_infinity")
    if pa.types.is_string(target):
        if pa.types.is_boolean(src):
            return pc.if_else(v, "true", "false")
        if pa.types.is_timestamp(src):
            return _ts_text(v, tz)
        if pa.types.is_floating(src):
            return _float_text(v)
    if pa.types.is_boolean(target) and pa.types.is_integer(src):
        return pc.not_equal(v, 0)
    if pa.types.is_integer(target) and pa.types.is_boolean(src):
        return pc.cast(v, target)
    try:
        return pc.cast(v, target)
    except pa.ArrowInvalid as exc:
        low = str(exc).lower()
        if "overflow" in low or "out of bounds" in low or "not in range" in low or "out of range" in low:
            raise errors.NumericValueOutOfRange(f"value out of range for type {target}") from None
        raise errors.DatatypeMismatch(f"cannot cast type {src} to {target}") from None
    except pa.ArrowNotImplementedError:
        raise errors.DatatypeMismatch(f"cannot cast type {src} to {target}") from None


def _ts_text(v, tz: str = "UTC"):
    """timestamptz → text as PostgreSQL prints it in the session TimeZone ('2024-01-02 03:04:05-05')."""
    from pgmkts.pgtext import timestamp_text
    zone = tz if v.type.tz is not None else None
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return pa.scalar(None, pa.string())
        return timestamp_text(pa.array([v.as_py()], v.type), zone)[0]
    return timestamp_text(v, zone)


def format_ts_us(us: int) -> str:
    d = _EPOCH + dt.timedelta(microseconds=us)
    s = d.strftime("%Y-%m-%d %H:%M:%S")
    if d.microsecond:
        s += f".{d.microsecond:06d}".rstrip("0")
    return s + "+00"


def _float_text(v):
    # shortest round-trip repr, as PostgreSQL 12+ prints floats (extra_float_digits=1)
    if isinstance(v, pa.Scalar):
        x = v.as_py()
        return pa.scalar(None if x is None else _fmt_float(x), pa.string())
    return pa.array([None if x is None else _fmt_float(x) for x in v.to_pylist()], pa.string())


def _fmt_float(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    r = repr(x)
    if r.endswith(".0"):
        r = r[:-2]
    return r


def _cast_from_text(v, target: pa.DataType, tz: str):
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return pa.scalar(None, target)
        s = v.as_py()
        if pa.types.is_timestamp(target):
            us = parse_timestamp_us(s, tz if target.tz else "UTC")
            return pa.scalar(us, pa.int64()).cast(target)
        if pa.types.is_date32(target):
            us = parse_timestamp_us(s, "UTC")
            return pa.scalar(us // (86400 * US), pa.int32()).cast(pa.date32())
        if pa.types.is_boolean(target):
            t = s.strip().lower()
            if t in ("t", "true", "yes", "y", "on", "1"):
                return pa.scalar(True)
            if t in ("f", "false", "no", "n", "off", "0"):
                return pa.scalar(False)
            raise errors.InvalidTextRepresentation(f'invalid input syntax for type boolean: "{s}"')
        try:
            if pa.types.is_integer(target):
                return pa.scalar(int(s.strip()), target)
            if pa.types.is_floating(target):
                return pa.scalar(float(s.strip()), target)
        except (ValueError, OverflowError, pa.ArrowInvalid):
            kind = "integer" if pa.types.is_integer(target) else "double precision"
            raise errors.InvalidTextRepresentation(f'invalid input syntax for type {kind}: "{s}"') from None
        return pa.scalar(s).cast(target)
    if pa.types.is_timestamp(target):
        # vectorised first: ISO strings with an offset, then naive ones in the session zone
        try:
            return pc.cast(v, TS).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # zone-less text is wall-clock time: in the session zone for timestamptz, as-is for timestamp
        zone = tz if target.tz else "UTC"
        try:
            naive = pc.cast(v, pa.timestamp("us"))
            if zone.upper() in ("UTC", "GMT"):
                return naive.cast(pa.int64()).cast(target)
            return pc.assume_timezone(naive, zone).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        us_list = [None if s is None else parse_timestamp_us(s, zone) for s in v.to_pylist()]
        return pa.array(us_list, pa.int64()).cast(target)
    try:
        return pc.cast(pc.utf8_trim_whitespace(v), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise errors.InvalidTextRepresentation(f"invalid input syntax for type {target}: {exc}") from None


def ts_scalar(us: int) -> pa.Scalar:
    return pa.scalar(us, pa.int64()).cast(TS)


def to_int64_us(v):
    """timestamp value → int64 µs (array or scalar)."""
    return pc.cast(v, pa.int64()) if not isinstance(v, pa.Scalar) else v.cast(pa.int64())


def add_interval(ts, iv: Interval, sign: int = 1, tz: str = "UTC"):
    """timestamptz ± interval; months use calendar arithmetic (clamped to month end); days and
    months step in local wall-clock time of the session TimeZone (across DST, as PostgreSQL)."""
    if (iv.days or iv.months) and tz.upper() not in ("UTC", "GMT") and pa.types.is_timestamp(ts.type):
        arr = broadcast(ts, 1) if isinstance(ts, pa.Scalar) else ts
        local = pc.local_timestamp(pc.cast(arr, pa.timestamp("us", tz=tz)))
        moved = add_interval(local, Interval(iv.months, iv.days, 0), sign, "UTC")
        back = pc.assume_timezone(pc.cast(moved, pa.timestamp("us")), tz, ambiguous="earliest",
                                  nonexistent="latest").cast(TS)
        if iv.us:
            back = pc.add(back, pa.scalar(sign * iv.us, pa.duration("us")))
        return back[0] if isinstance(ts, pa.Scalar) else back
    if iv.months == 0:
        d = pa.scalar(sign * (iv.days * 86400 * US + iv.us), pa.duration("us"))
        return pc.add(ts, d)
    arr = broadcast(ts, 1) if isinstance(ts, pa.Scalar) else ts
    us = to_int64_us(arr).to_numpy(zero_copy_only=False).astype("f8")
    valid = ~np.isnan(us)
    u = np.where(valid, us, 0).astype(np.int64)
    days = u // (86400 * US)
    tod = u - days * 86400 * US
    d64 = days.astype("datetime64[D]")
    mon = d64.astype("datetime64[M]")
    dom = (d64 - mon).astype(np.int64)
    newmon = mon + sign * iv.months
    month_len = ((newmon + 1).astype("datetime64[D]") - newmon.astype("datetime64[D]")).astype(np.int64)
    newday = newmon.astype("datetime64[D]") + np.minimum(dom, month_len - 1)
    out = newday.astype(np.int64) * 86400 * US + tod + sign * (iv.days * 86400 * US + iv.us)
    res = pa.array(out, pa.int64(), mask=~valid).cast(TS)
    return res[0] if isinstance(ts, pa.Scalar) else res
