"""PostgreSQL's text forms of timestamps (ISO DateStyle, vectorised) and intervals (IntervalStyle
postgres); shared by the wire encoder and the planner's `::text` casts so both print alike."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STR = pa.string()


def _fraction(us: pa.Array) -> pa.Array:
    """'.123456' with trailing zeros dropped, or '' — as PostgreSQL prints fractional seconds."""
    us = pc.cast(us, pa.int64())
    frac = pc.utf8_slice_codeunits(pc.cast(pc.add(us, 1_000_000), STR), 1)
    frac = pc.utf8_rtrim(frac, characters="0")
    return pc.if_else(pc.equal(pc.utf8_length(frac), 0), "", pc.binary_join_element_wise(".", frac, ""))


def _offset_text(seconds: np.ndarray) -> pa.Array:
    """UTC offsets as PostgreSQL prints them ('+05:30', '-05'); a zone has few distinct offsets,
    so format the unique ones and take()."""
    uniq, inv = np.unique(seconds, return_inverse=True)
    names = []
    for off in uniq.tolist():
        sign = "-" if off < 0 else "+"
        h, rem = divmod(abs(int(off)), 3600)
        m, sec = divmod(rem, 60)
        names.append(f"{sign}{h:02d}" + (f":{m:02d}" if m or sec else "") + (f":{sec:02d}" if sec else ""))
    return pa.array(names, STR).take(pa.array(inv.astype(np.int32)))


def timestamp_text(arr: pa.Array, tz: str | None) -> pa.Array:
    """timestamp: 'YYYY-MM-DD HH:MM:SS[.ffffff]'; timestamptz adds the session zone offset
    as '+HH' or '+HH:MM' (ISO DateStyle). Casts, not strftime (which is ~15x slower)."""
    if arr.type.unit != "us":
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz))
    utc_us = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
    if tz is None or tz in ("UTC", "Etc/UTC", "GMT", "UTC0", "Z", "Etc/GMT"):
        wall_us, offset = utc_us, None
    else:
        local = pc.local_timestamp(pc.cast(arr, pa.timestamp("us", tz=tz)))
        wall_us = pc.fill_null(pc.cast(local, pa.int64()), 0).to_numpy(zero_copy_only=False)
        offset = _offset_text((wall_us - utc_us) // 1_000_000)
    secs = np.floor_divide(wall_us, 1_000_000)
    frac = wall_us - secs * 1_000_000                   # floor-mod: pre-1970 fractions stay positive
    valid = None if arr.null_count == 0 else arr.is_valid()
    base = pc.cast(pa.array(secs, pa.int64()).cast(pa.timestamp("s")), STR)
    parts = [base]
    if frac.any():
        parts.append(_fraction(pa.array(frac)))
    if tz is not None:
        parts.append(offset if offset is not None else pa.scalar("+00"))
    out = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else base
    return out if valid is None else pc.if_else(valid, out, pa.scalar(None, STR))


def interval_text(months: int, days: int, us: int) -> str:
    """IntervalStyle postgres: '1 year 2 mons 3 days 04:05:06.5'."""
    parts = []
    y, m = divmod(abs(months), 12)
    sign = "-" if months < 0 else ""
    if y:
        parts.append(f"{sign}{y} year{'s' if y != 1 else ''}")
    if m:
        parts.append(f"{sign}{m} mon{'s' if m != 1 else ''}")
    if days:
        parts.append(f"{days} day{'s' if abs(days) != 1 else ''}")
    if us or not parts:
        s, frac = divmod(abs(us), 1_000_000)
        h, rem = divmod(s, 3600)
        mi, s = divmod(rem, 60)
        t = f"{'-' if us < 0 else ''}{h:02d}:{mi:02d}:{s:02d}"
        if frac:
            t += f".{frac:06d}".rstrip("0")
        parts.append(t)
    return " ".join(parts)
