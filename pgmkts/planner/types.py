"""Type mapping between storage dtypes, pyarrow types, SQL type names and PostgreSQL OIDs."""

from __future__ import annotations

import pyarrow as pa

from pgmkts import errors

BOOL, BYTEA, INT8, INT2, INT4, TEXT, OID = 16, 17, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, UNKNOWN, VARCHAR, DATE, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC = (
    700, 701, 705, 1043, 1082, 1114, 1184, 1186, 1700)
NAME, CHAR = 19, 18

TS = pa.timestamp("us", tz="UTC")

# storage numpy dtype → (pyarrow type exposed in SQL, OID). Unsigned types widen to the next
# signed type as SPEC §3 says; u8 maps to int8 (values above 2^63 would wrap — none in practice).
DTYPE_SQL = {
    "i1": (pa.int16(), INT2), "i2": (pa.int16(), INT2), "i4": (pa.int32(), INT4),
    "i8": (pa.int64(), INT8), "u1": (pa.int16(), INT2), "u2": (pa.int32(), INT4),
    "u4": (pa.int64(), INT8), "u8": (pa.int64(), INT8), "f4": (pa.float32(), FLOAT4),
    "f8": (pa.float64(), FLOAT8), "bool": (pa.bool_(), BOOL), "U16": (pa.string(), TEXT),
}

# SQL type name (as sqlglot prints DataType.this, lower case) → (numpy dtype for storage)
SQL_DTYPE = {
    "real": "f4", "float4": "f4", "float": "f8", "double": "f8", "double precision": "f8",
    "float8": "f8", "smallint": "i2", "int2": "i2", "int": "i4", "integer": "i4", "int4": "i4",
    "bigint": "i8", "int8": "i8", "boolean": "bool", "bool": "bool", "text": "U16",
    "varchar": "U16", "char": "U16", "numeric": "f8", "decimal": "f8", "tinyint": "i1",
    "smallserial": "i2", "serial": "i4", "bigserial": "i8",
}

_OID_OF_ARROW = [
    (pa.types.is_boolean, BOOL), (pa.types.is_int8, INT2), (pa.types.is_int16, INT2),
    (pa.types.is_int32, INT4), (pa.types.is_int64, INT8), (pa.types.is_uint8, INT2),
    (pa.types.is_uint16, INT4), (pa.types.is_uint32, INT8), (pa.types.is_uint64, INT8),
    (pa.types.is_float32, FLOAT4), (pa.types.is_float64, FLOAT8), (pa.types.is_string, TEXT),
    (pa.types.is_large_string, TEXT), (pa.types.is_date32, DATE), (pa.types.is_binary, BYTEA),
    (pa.types.is_decimal, NUMERIC), (pa.types.is_interval, INTERVAL), (pa.types.is_null, TEXT),
    (pa.types.is_duration, INTERVAL),
]

ARRAY_OIDS = {BOOL: 1000, INT2: 1005, INT4: 1007, INT8: 1016, TEXT: 1009, FLOAT4: 1021,
              FLOAT8: 1022, TIMESTAMPTZ: 1185, TIMESTAMP: 1115, DATE: 1182, NUMERIC: 1231}


def oid_of(t: pa.DataType, field_meta: dict | None = None) -> int:
    """The PostgreSQL OID for an arrow type (metadata b'pg_oid' overrides, e.g. numeric)."""
    if field_meta and b"pg_oid" in field_meta:
        return int(field_meta[b"pg_oid"])
    if pa.types.is_timestamp(t):
        return TIMESTAMPTZ if t.tz else TIMESTAMP
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return ARRAY_OIDS.get(oid_of(t.value_type), 1009)
    for pred, oid in _OID_OF_ARROW:
        if pred(t):
            return oid
    raise errors.FeatureNotSupported(f"result type {t} has no PostgreSQL equivalent")


# Cast targets: sqlglot DataType.Type name → arrow type (+ pg oid override)
def cast_target(dtype_name: str) -> tuple[pa.DataType, int | None]:
    n = dtype_name.upper()
    table = {
        "INT": (pa.int32(), None), "BIGINT": (pa.int64(), None), "SMALLINT": (pa.int16(), None),
        "TINYINT": (pa.int16(), None), "FLOAT": (pa.float32(), None), "DOUBLE": (pa.float64(), None),
        "DECIMAL": (pa.decimal128(38, 10), None), "BIGDECIMAL": (pa.decimal128(38, 10), None),
        "TEXT": (pa.string(), None), "VARCHAR": (pa.string(), None), "CHAR": (pa.string(), None),
        "NAME": (pa.string(), None), "NCHAR": (pa.string(), None), "NVARCHAR": (pa.string(), None),
        "BOOLEAN": (pa.bool_(), None), "TIMESTAMPTZ": (TS, None),
        "TIMESTAMP": (pa.timestamp("us"), None), "TIMESTAMPLTZ": (TS, None),
        "DATE": (pa.date32(), None), "INTERVAL": (pa.month_day_nano_interval(), None),
        "REGCLASS": (pa.int64(), OID), "OID": (pa.int64(), OID), "REGTYPE": (pa.string(), None),
        "REGPROC": (pa.string(), None), "UBIGINT": (pa.int64(), None), "UINT": (pa.int64(), None),
    }
    if n not in table:
        raise errors.FeatureNotSupported(f"cast to type {dtype_name.lower()} is not supported")
    return table[n]
