"""Date/time SQL functions: to_timestamp, to_char, date_trunc, time_bucket, date_bin, date_part."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pgmkts import errors
from pgmkts.planner.exec.values import US, Interval, broadcast, cast_value, parse_interval, tzinfo
from pgmkts.planner.types import TS


def _py(v):
    return v.as_py() if isinstance(v, pa.Scalar) else v


def _to_timestamp(args, ctx):
    if len(args) == 2:
        fmt = _pg_fmt_to_strftime(_py(args[1]))
        v = args[0]
        arr = broadcast(v, 1) if isinstance(v, pa.Scalar) else v
        out = pc.strptime(arr, format=fmt, unit="us").cast(pa.int64()).cast(TS)
        return out[0] if isinstance(v, pa.Scalar) else out
    v = args[0]
    if pa.types.is_string(v.type):
        v = cast_value(v, pa.float64())
    us = pc.round(pc.multiply(pc.cast(v, pa.float64()), float(US)))
    return pc.cast(pc.cast(us, pa.int64()), TS)


_PG_FMT = [("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("HH12", "%I"), ("HH", "%I"),
           ("MI", "%M"), ("SS", "%S"), ("MS", "%f"), ("US", "%f"), ("Mon", "%b"), ("Month", "%B"),
           ("Dy", "%a"), ("Day", "%A"), ("YY", "%y"), ("AM", "%p"), ("PM", "%p"), ("TZ", "%Z")]


def _pg_fmt_to_strftime(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        for pg, st in _PG_FMT:
            if fmt.startswith(pg, i):
                out.append(st)
                i += len(pg)
                break
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def _to_char(args, ctx):
    v, fmt = args[0], _py(args[1])
    if pa.types.is_timestamp(v.type) or pa.types.is_date32(v.type):
        # sqlglot already translated the PostgreSQL pattern to strftime
        st = fmt if "%" in fmt else _pg_fmt_to_strftime(fmt)
        if pa.types.is_timestamp(v.type) and "%f" not in st:
            # arrow prints fractional seconds with %S for sub-second units; PostgreSQL's SS does not
            v = pc.cast(v, pa.timestamp("s", tz=v.type.tz), safe=False)
        if isinstance(v, pa.Scalar):
            return pc.strftime(broadcast(v, 1), format=st)[0]
        return pc.strftime(v, format=st)
    raise errors.FeatureNotSupported("to_char for numbers")


_TRUNC_UNITS = {"microseconds": "microsecond", "milliseconds": "millisecond", "second": "second",
                "minute": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month",
                "quarter": "quarter", "year": "year", "decade": None, "century": None}


def _date_trunc(args, ctx):
    unit = _py(args[0]).lower().rstrip("s") if isinstance(_py(args[0]), str) else _py(args[0])
    unit = {"microsecond": "microsecond", "millisecond": "millisecond", "sec": "second",
            "min": "minute", "mon": "month"}.get(unit, unit)
    v = args[1]
    if unit not in ("microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month",
                    "quarter", "year"):
        raise errors.InvalidParameterValue(f'unit "{unit}" not recognized for type timestamp with time zone')
    if pa.types.is_string(v.type):
        v = cast_value(v, TS, ctx.tz)
    if pa.types.is_date32(v.type):
        v = pc.cast(v, TS)
    tz = ctx.tz
    if len(args) > 2:  # date_trunc(unit, timestamptz, zone): wall-clock time in that zone
        zone = _py(args[2])
        if zone is None:
            return pa.scalar(None, TS)
        if pa.types.is_timestamp(v.type) and not v.type.tz:
            raise errors.UndefinedFunction("function date_trunc(unknown, timestamp without time zone, "
                                           "unknown) does not exist")
        tz = zone if tzinfo(zone) is not dt.UTC else "UTC"
    arr = broadcast(v, 1) if isinstance(v, pa.Scalar) else v
    if pa.types.is_timestamp(arr.type) and arr.type.tz and tz.upper() not in ("UTC", "GMT"):
        # truncate local wall-clock time, then map back (ambiguous hours: standard time, as PostgreSQL)
        local = pc.local_timestamp(pc.cast(arr, pa.timestamp("us", tz=tz)))
        fl = pc.floor_temporal(local, unit=unit, week_starts_monday=True)
        out = pc.assume_timezone(fl, tz, ambiguous="latest", nonexistent="latest").cast(TS)
        return out[0] if isinstance(v, pa.Scalar) else out
    out = pc.floor_temporal(arr, unit=unit, week_starts_monday=True)
    if pa.types.is_timestamp(out.type) and out.type.tz:
        out = pc.cast(out, TS)
    return out[0] if isinstance(v, pa.Scalar) else out


def bucket_width_us(iv) -> int:
    if isinstance(iv, pa.Scalar) and pa.types.is_string(iv.type):
        iv = parse_interval(iv.as_py())
    if not isinstance(iv, Interval):
        raise errors.DatatypeMismatch("bucket width must be an interval")
    if iv.months:
        raise errors.FeatureNotSupported("time_bucket/date_bin with months or years")
    w = iv.fixed_us()
    if w <= 0:
        raise errors.InvalidParameterValue("stride must be greater than zero")
    return w


def bin_epoch(v, width_us: int, origin_us: int):
    """floor((t - origin) / width) * width + origin, vectorised over µs."""
    arr = broadcast(v, 1) if isinstance(v, pa.Scalar) else v
    if pa.types.is_date32(arr.type):
        arr = pc.cast(arr, TS)
    us = pc.cast(arr, pa.int64())
    np_us = us.to_numpy(zero_copy_only=False)
    if us.null_count:
        np_us = np.nan_to_num(np_us.astype("f8")).astype(np.int64)
    b = (np_us - origin_us) // width_us * width_us + origin_us
    out = pa.array(b, pa.int64(), mask=us.is_null().to_numpy(zero_copy_only=False) if us.null_count else None)
    out = out.cast(arr.type if pa.types.is_timestamp(arr.type) else TS)
    return out[0] if isinstance(v, pa.Scalar) else out


_TB_ORIGIN = 946857600 * US  # TimescaleDB: buckets align to Monday 2000-01-03


def _time_bucket(args, ctx):
    w = bucket_width_us(args[0])
    v = args[1]
    if pa.types.is_string(v.type):
        v = cast_value(v, TS, ctx.tz)
    origin = 0 if w < 7 * 86400 * US and 86400 * US % w == 0 else _TB_ORIGIN
    if len(args) > 2:
        origin = pc.cast(cast_value(args[2], TS, ctx.tz), pa.int64()).as_py()
    return bin_epoch(v, w, origin)


def _date_bin(args, ctx):
    w = bucket_width_us(args[0])
    v = args[1]
    if pa.types.is_string(v.type):
        v = cast_value(v, TS, ctx.tz)
    origin = pc.cast(cast_value(args[2], TS, ctx.tz), pa.int64()).as_py() if len(args) > 2 else 0
    return bin_epoch(v, w, origin)


def _date_part(args, ctx):
    field = _py(args[0]).lower()
    v = args[1]
    if isinstance(v, Interval):
        if field == "epoch":
            return pa.scalar((v.months * 30 * 86400 * US + v.days * 86400 * US + v.us) / US)
        raise errors.FeatureNotSupported(f"extract {field} from interval")
    if pa.types.is_duration(v.type):
        if field == "epoch":
            return pc.divide(pc.cast(pc.cast(v, pa.int64()), pa.float64()), float(US))
        raise errors.FeatureNotSupported(f"extract {field} from interval")
    if pa.types.is_string(v.type):
        v = cast_value(v, TS, ctx.tz)
    if pa.types.is_date32(v.type):
        v = pc.cast(v, TS)
    if field == "epoch":
        return pc.divide(pc.cast(pc.cast(v, pa.int64()), pa.float64()), float(US))
    if pa.types.is_timestamp(v.type) and v.type.tz and ctx.tz.upper() not in ("UTC", "GMT"):
        # fields of a timestamptz are read in the session's TimeZone (PostgreSQL 9.9.1)
        v = pc.cast(v, pa.timestamp("us", tz=ctx.tz))
    fns = {"year": pc.year, "month": pc.month, "day": pc.day, "hour": pc.hour, "minute": pc.minute,
           "quarter": pc.quarter, "doy": pc.day_of_year, "isoyear": pc.iso_year, "week": pc.iso_week}
    if field in fns:
        return pc.cast(fns[field](v), pa.float64())
    if field == "dow":
        return pc.cast(pc.day_of_week(v, count_from_zero=True, week_start=7), pa.float64())
    if field == "isodow":
        return pc.cast(pc.day_of_week(v, count_from_zero=False, week_start=1), pa.float64())
    if field == "second":
        return pc.add(pc.cast(pc.second(v), pa.float64()),
                      pc.divide(pc.cast(pc.add(pc.multiply(pc.millisecond(v), 1000), pc.microsecond(v)),
                                        pa.float64()), float(US)))
    if field == "milliseconds":
        return pc.add(pc.multiply(pc.cast(pc.second(v), pa.float64()), 1000.0),
                      pc.divide(pc.cast(pc.add(pc.multiply(pc.millisecond(v), 1000), pc.microsecond(v)),
                                        pa.float64()), 1000.0))
    if field == "microseconds":
        return pc.cast(pc.add(pc.multiply(pc.second(v), US), pc.add(pc.multiply(pc.millisecond(v), 1000),
                                                                   pc.microsecond(v))), pa.float64())
    raise errors.InvalidParameterValue(f'unit "{field}" not recognized for type timestamp with time zone')



def _date(args, ctx):
    v = args[0]
    if pa.types.is_string(v.type):
        v = cast_value(v, TS, ctx.tz)
    return pc.cast(pc.floor_temporal(v, unit="day") if not isinstance(v, pa.Scalar) else v, pa.date32())
