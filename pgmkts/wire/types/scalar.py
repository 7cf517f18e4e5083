"""Per-value codecs for the rare types (numeric binary, interval, bytea text, arrays).

These never carry bulk market data, so a per-value Python codec keeps them simple; the bulk
types (ints, floats, bool, text, timestamps, dates) are vectorised in text.py / binary.py.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from decimal import Decimal

import numpy as np

from pgmkts import pgtext

PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PG_EPOCH_DATE = dt.date(2000, 1, 1)

# array OID → element OID (pg_type.typelem)
ARRAY_ELEM = {1000: 16, 1001: 17, 1005: 21, 1007: 23, 1016: 20, 1009: 25, 1015: 1043, 1003: 19,
              1021: 700, 1022: 701, 1185: 1184, 1115: 1114, 1182: 1082, 1231: 1700, 1028: 26,
              1187: 1186, 1034: 1033, 1002: 18}
# int2vector/oidvector: arrays in binary (lower bound 0, as PostgreSQL stores them), but their text
# form is space-separated without braces (int2vectorout); catalog columns such as pg_index.indkey.
VECTOR_ELEM = {22: 21, 30: 26}


# ---------------------------------------------------------------- numeric
def numeric_to_binary(v) -> bytes:
    """NUMERIC binary: ndigits, weight, sign, dscale, then base-10000 digits (numeric.c)."""
    d = Decimal(v) if not isinstance(v, float) else Decimal(repr(v))
    if d.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    if d.is_infinite():
        return struct.pack("!hhHh", 0, 0, 0xF000 if d < 0 else 0xD000, 0)
    sign, digits, exp_ = d.as_tuple()
    exp = int(exp_)  # finite here: NaN/Infinity returned above
    dscale = max(0, -exp)
    s = "".join(map(str, digits))
    # pad so the decimal point falls on a 4-digit group boundary
    int_len = len(s) + exp
    frac_pad = (-(len(s) - int_len)) % 4 if len(s) > int_len else 0
    s = s + "0" * frac_pad
    if int_len < 0:
        s = "0" * (-int_len) + s
        int_len = 0
    lead = (-int_len) % 4
    s = "0" * lead + s
    int_len += lead
    groups = [int(s[i:i + 4]) for i in range(0, len(s), 4)]
    weight = int_len // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f"!hhHh{len(groups)}H", len(groups), weight, 0x4000 if sign else 0, dscale, *groups)


def numeric_from_binary(b: bytes) -> Decimal:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", b)
    if sign == 0xC000:
        return Decimal("NaN")
    if sign == 0xD000:
        return Decimal("Infinity")
    if sign == 0xF000:
        return Decimal("-Infinity")
    digits = struct.unpack_from(f"!{ndigits}H", b, 8)
    v = Decimal(0)
    for i, g in enumerate(digits):
        v += Decimal(g).scaleb(4 * (weight - i))
    v = -v if sign == 0x4000 else v
    return v.quantize(Decimal(1).scaleb(-dscale)) if dscale else v.to_integral_value()


# ---------------------------------------------------------------- interval
_IV_UNIT = re.compile(r"([+-]?\d+) (year|mon|day)s?")
_IV_TIME = re.compile(r"([+-]?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


def parse_interval_text(v: str) -> tuple[int, int, int]:
    """PostgreSQL-style interval text ('1 year 2 mons -3 days 04:05:06.5') → (months, days, µs).

    The planner hands interval results to the wire as this text (IntervalStyle postgres)."""
    months = days = 0
    for num, unit in _IV_UNIT.findall(v):
        n = int(num)
        if unit == "year":
            months += 12 * n
        elif unit == "mon":
            months += n
        else:
            days += n
    us = 0
    m = _IV_TIME.search(v)
    if m:
        sign, h, mi, sec, frac = m.groups()
        us = ((int(h) * 60 + int(mi)) * 60 + int(sec)) * 1_000_000 + int((frac or "0").ljust(6, "0"))
        us = -us if sign == "-" else us
    elif not _IV_UNIT.search(v):
        raise ValueError(f"invalid interval text {v!r}")
    return months, days, us


def interval_parts(v) -> tuple[int, int, int]:
    """(months, days, microseconds) from an Arrow MonthDayNano / timedelta / int µs / interval text."""
    if isinstance(v, str):
        return parse_interval_text(v)
    if isinstance(v, dt.timedelta):
        return 0, v.days, v.seconds * 1_000_000 + v.microseconds
    if hasattr(v, "months"):
        return int(v.months), int(v.days), int(v.nanoseconds) // 1000
    return 0, 0, int(v)


def interval_text(v) -> str:
    """IntervalStyle postgres: '1 year 2 mons 3 days 04:05:06.5'."""
    return pgtext.interval_text(*interval_parts(v))


def interval_binary(v) -> bytes:
    months, days, us = interval_parts(v)
    return struct.pack("!qii", us, days, months)


# ---------------------------------------------------------------- arrays
def _array_text_elem(s: str | None) -> str:
    if s is None:
        return "NULL"
    if s == "" or s.upper() == "NULL" or any(c in s for c in '{}," \\\t\n'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def array_text(values: list, elem_text) -> str:
    return "{" + ",".join(_array_text_elem(None if v is None else elem_text(v)) for v in values) + "}"


def vector_text(values: list) -> str:
    return " ".join(str(int(v)) for v in values)


def array_binary(values: list, elem_oid: int, elem_binary, lbound: int = 1) -> bytes:
    has_null = any(v is None for v in values)
    if not values:
        return struct.pack("!iiI", 0, 0, elem_oid)
    out = [struct.pack("!iiIii", 1, 1 if has_null else 0, elem_oid, len(values), lbound)]
    for v in values:
        if v is None:
            out.append(struct.pack("!i", -1))
        else:
            b = elem_binary(v)
            out.append(struct.pack("!i", len(b)) + b)
    return b"".join(out)


def pg_float_text(x: float, float4: bool) -> str:
    """PostgreSQL's float output (shortest round-trip, %g-like thresholds from float.c/ryu):
    plain notation for exponents in [-4, 15) (float4: [-4, 6)), else d.ddde±XX."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    v = np.float32(x) if float4 else np.float64(x)
    if x == 0:
        return "-0" if np.signbit(v) else "0"
    sci = np.format_float_scientific(v, unique=True, trim="-", exp_digits=2)
    exp = int(sci.split("e")[1])
    if -4 <= exp < (6 if float4 else 15):
        return np.format_float_positional(v, unique=True, trim="-")
    return sci
