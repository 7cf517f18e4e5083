"""Decoding Bind parameters (text or binary) to Python values for `Session.bind`.

Parameters are few per statement, so these are per-value. Bad input raises 22P02 (text) or
08P01-like 22P03 semantics via InvalidTextRepresentation with the type named.
"""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal, InvalidOperation

from pgmkts.errors import InvalidBinaryRepresentation, InvalidTextRepresentation
from pgmkts.wire.types import scalar

_UTC = dt.UTC
_PG_EPOCH_NAIVE = dt.datetime(2000, 1, 1)
_TYPE_NAMES = {16: "boolean", 17: "bytea", 20: "bigint", 21: "smallint", 23: "integer", 26: "oid",
               700: "real", 701: "double precision", 1700: "numeric", 1082: "date",
               1114: "timestamp without time zone", 1184: "timestamp with time zone", 1186: "interval"}


def _bad(oid: int, raw) -> InvalidTextRepresentation:
    name = _TYPE_NAMES.get(oid, f"type {oid}")
    return InvalidTextRepresentation(f'invalid input syntax for type {name}: "{raw}"')


def _float_text(s: str) -> float:
    low = s.strip().lower()
    if low in ("infinity", "+infinity", "inf", "+inf"):
        return float("inf")
    if low in ("-infinity", "-inf"):
        return float("-inf")
    return float(s)


def _ts_text(s: str, tz: bool) -> dt.datetime:
    s = s.strip()
    low = s.lower()
    if low in ("infinity", "-infinity"):
        return dt.datetime.max.replace(tzinfo=_UTC) if low[0] == "i" else dt.datetime.min.replace(tzinfo=_UTC)
    v = dt.datetime.fromisoformat(s.replace(" ", "T", 1) if " " in s else s)
    if tz and v.tzinfo is None:
        v = v.replace(tzinfo=_UTC)
    return v


def _bytea_escape(s: str) -> bytes:
    """bytea 'escape' input: a doubled backslash is a backslash, backslash+3 octal digits a byte."""
    out = bytearray()
    i = 0
    raw = s.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:
            if raw[i + 1:i + 2] == b"\\":
                out.append(0x5C)
                i += 2
                continue
            octal = raw[i + 1:i + 4]
            if len(octal) == 3 and all(0x30 <= b <= 0x37 for b in octal):
                out.append(int(octal, 8))
                i += 4
                continue
            raise ValueError(s)
        out.append(c)
        i += 1
    return bytes(out)


def decode_text(oid: int, raw: bytes):
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        from pgmkts.errors import CharacterNotInRepertoire

        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None
    try:
        if oid in (20, 21, 23, 26):
            return int(s)
        if oid in (700, 701):
            return _float_text(s)
        if oid == 1700:
            return Decimal(s)
        if oid == 16:
            low = s.strip().lower()
            if low in ("t", "true", "y", "yes", "on", "1"):
                return True
            if low in ("f", "false", "n", "no", "off", "0"):
                return False
            raise ValueError(s)
        if oid == 1184:
            return _ts_text(s, True)
        if oid == 1114:
            return _ts_text(s, False)
        if oid == 1082:
            return dt.date.fromisoformat(s.strip())
        if oid == 17:
            return bytes.fromhex(s[2:]) if s.startswith("\\x") else _bytea_escape(s)
    except (ValueError, InvalidOperation):
        raise _bad(oid, s) from None
    return s    # text, varchar, unknown (0), interval, ...: the planner casts strings itself


def _need(raw: bytes, n: int, oid: int) -> None:
    if len(raw) != n:
        raise InvalidBinaryRepresentation(
            f"incorrect binary data format in bind parameter: {_TYPE_NAMES.get(oid, oid)} needs {n} bytes, "
            f"got {len(raw)}")


def decode_binary(oid: int, raw: bytes):
    if oid in (21, 23, 20, 26, 700, 701, 16, 1184, 1114, 1082):
        fmt = {21: "!h", 23: "!i", 20: "!q", 26: "!I", 700: "!f", 701: "!d", 16: "!?",
               1184: "!q", 1114: "!q", 1082: "!i"}[oid]
        _need(raw, struct.calcsize(fmt), oid)
        (v,) = struct.unpack(fmt, raw)
        if oid in (1184, 1114):
            naive = _PG_EPOCH_NAIVE + dt.timedelta(microseconds=v)
            return naive.replace(tzinfo=_UTC) if oid == 1184 else naive
        if oid == 1082:
            return scalar.PG_EPOCH_DATE + dt.timedelta(days=v)
        return v
    if oid == 1700:
        try:
            return scalar.numeric_from_binary(raw)
        except struct.error:
            raise InvalidBinaryRepresentation("incorrect binary data format in bind parameter: numeric") from None
    if oid == 1186:
        _need(raw, 16, oid)
        us, days, months = struct.unpack("!qii", raw)
        if months:
            return f"{months} mons {days} days {us} microseconds"
        return dt.timedelta(days=days, microseconds=us)
    if oid == 17:
        return bytes(raw)
    if oid in scalar.ARRAY_ELEM:
        return _array_binary(raw)
    try:
        return raw.decode("utf-8")      # text, varchar, name, unknown
    except UnicodeDecodeError:
        from pgmkts.errors import CharacterNotInRepertoire

        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None


def _array_binary(raw: bytes) -> list:
    try:
        ndim, _flags, elem = struct.unpack_from("!iiI", raw)
        if ndim == 0:
            return []
        if ndim != 1:
            raise InvalidBinaryRepresentation("only one-dimensional array parameters are supported")
        n, _lb = struct.unpack_from("!ii", raw, 12)
        pos = 20
        out: list = []
        for _ in range(n):
            (ln,) = struct.unpack_from("!i", raw, pos)
            pos += 4
            if ln == -1:
                out.append(None)
                continue
            out.append(decode_binary(elem, raw[pos:pos + ln]))
            pos += ln
        return out
    except struct.error:
        raise InvalidBinaryRepresentation("incorrect binary data format in array parameter") from None


def decode_param(oid: int, fmt: int, raw: bytes | None):
    if raw is None:
        return None
    return decode_binary(oid, raw) if fmt == 1 else decode_text(oid, raw)
