"""Text → Arrow column parsing for COPY FROM STDIN (text/csv), vectorised with pyarrow.compute.

Input columns arrive as Arrow string arrays (from pyarrow's CSV reader); each is cast to the
Arrow type of its target PostgreSQL OID. Bad values raise 22P02 naming the column and value.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pgmkts.errors import InvalidTextRepresentation

STR = pa.string()

# target OID → Arrow type handed to CopySpec.consume (planner stores numeric as float64)
ARROW_OF_OID = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(),
                700: pa.float32(), 701: pa.float64(), 1700: pa.float64(), 25: STR, 1043: STR, 19: STR,
                18: STR, 1082: pa.date32(), 1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"),
                17: pa.binary()}

_TRUE = ["t", "true", "y", "yes", "on", "1"]
_FALSE = ["f", "false", "n", "no", "off", "0"]


def arrow_type(oid: int) -> pa.DataType:
    return ARROW_OF_OID.get(oid, STR)


def _first_bad(col: pa.Array, ok: pa.Array) -> str:
    bad = pc.filter(col, pc.invert(pc.fill_null(ok, True)))
    return bad[0].as_py() if len(bad) else "?"


def _timestamps(col: pa.Array, tz_aware: bool, session_tz: str) -> pa.Array:
    # Arrow's cast reads PostgreSQL's own output ('+00', '+05:30', fractions) directly: try it
    # first (one C++ pass); only input it refuses goes through the regex fix-ups below.
    try:
        return pc.cast(col, pa.timestamp("us", tz="UTC") if tz_aware else pa.timestamp("us"))
    except pa.ArrowInvalid:
        pass
    s = pc.utf8_trim_whitespace(col)
    s = pc.replace_substring_regex(s, r"([+-]\d\d)$", r"\1:00")
    if not tz_aware:
        return pc.cast(s, pa.timestamp("us"))
    has_off = pc.match_substring_regex(s, r"(Z|[+-]\d\d:?\d\d)$")
    if pc.all(pc.fill_null(has_off, True)).as_py():
        return pc.cast(s, pa.timestamp("us", tz="UTC"))
    # rows without an offset are in the session's TimeZone, as PostgreSQL reads them
    naive = pc.cast(pc.if_else(has_off, pa.scalar(None, STR), s), pa.timestamp("us"))
    local = pc.cast(pc.assume_timezone(naive, timezone=session_tz), pa.timestamp("us", tz="UTC"))
    with_off = pc.cast(pc.if_else(has_off, s, pa.scalar(None, STR)), pa.timestamp("us", tz="UTC"))
    return pc.if_else(has_off, with_off, local)


def parse_column(col: pa.Array, oid: int, name: str, session_tz: str = "UTC") -> pa.Array:
    """String column → Arrow column of the type for `oid`; NULLs stay NULL."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_string(col.type):
        col = pc.cast(col, STR)
    target = arrow_type(oid)
    try:
        if target == STR:
            return col
        if oid == 16:
            low = pc.utf8_lower(pc.utf8_trim_whitespace(col))
            is_t, is_f = pc.is_in(low, pa.array(_TRUE)), pc.is_in(low, pa.array(_FALSE))
            ok = pc.or_(pc.or_(is_t, is_f), pc.is_null(col))
            if not pc.all(pc.fill_null(ok, True)).as_py():
                raise InvalidTextRepresentation(
                    f'invalid input syntax for type boolean: "{_first_bad(col, ok)}" (column {name})')
            return pc.if_else(pc.is_null(col), pa.scalar(None, pa.bool_()), is_t)
        if oid in (700, 701, 1700):
            try:   # Arrow reads Infinity/-Infinity/NaN as PostgreSQL writes them
                return pc.cast(col, target)
            except pa.ArrowInvalid:
                return pc.cast(pc.utf8_trim_whitespace(col), target)
        if oid in (1184, 1114):
            return _timestamps(col, oid == 1184, session_tz)
        if oid == 17:
            body = pc.utf8_slice_codeunits(col, 2)
            return pa.array([None if v is None else bytes.fromhex(v) for v in body.to_pylist()], pa.binary())
        try:
            return pc.cast(col, target)
        except pa.ArrowInvalid:
            return pc.cast(pc.utf8_trim_whitespace(col), target)
    except (pa.ArrowInvalid, ValueError) as e:
        raise InvalidTextRepresentation(f"invalid input for column {name}: {str(e).splitlines()[0]}") from None
