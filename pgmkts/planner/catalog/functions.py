"""PostgreSQL's catalog and session functions (format_type, pg_get_userbyid, current_setting, ...).

Each is a plain Python function of (Env, *sql_args) so both the catalog executor and the planner's
scalar-function registry can call it; `FUNCTIONS` also feeds pg_proc.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgmkts import errors
from pgmkts.planner.catalog import model
from pgmkts.planner.catalog import settings as pgsettings

# type OIDs used below
BOOL, NAME, INT4, INT8, TEXT, OID, VOID, NAME_ARR, TEXT_ARR, REGCLASS, REGTYPE = (
    16, 19, 23, 20, 25, 26, 2278, 1003, 1009, 2205, 2206)
ANY, ANYARRAY, INT2 = 2276, 2277, 21


@dataclass
class Env:
    """What a function may look at: the catalog snapshot and the planner session (may be None)."""

    snap: model.Snapshot
    session: Any = None

    def setting(self, name: str, missing_ok: bool = False) -> str | None:
        get = getattr(self.session, "get_setting", None)
        if get is not None:          # the planner Session owns SET/SHOW state
            return get(name, missing_ok)
        return pgsettings.current_setting(self.snap.settings, name, missing_ok, user=self.snap.user)


# --- types -----------------------------------------------------------------------------------------
_SQL_NAMES = {16: "boolean", 21: "smallint", 23: "integer", 20: "bigint", 700: "real", 701: "double precision",
              1043: "character varying", 1042: "character", 1114: "timestamp without time zone",
              1184: "timestamp with time zone", 1083: "time without time zone", 1266: "time with time zone",
              1700: "numeric", 1560: "bit", 1562: "bit varying", 18: '"char"', 19: "name"}


def format_type_name(oid: int | None, typmod: int | None = None) -> str | None:
    """format_type(): SQL-standard spelling ('timestamp with time zone', 'integer[]'), else typname."""
    if oid is None:
        return None
    oid = int(oid)
    t = model.TYPE_ROWS.get(oid)
    if t is None:
        return "???"
    if t[5] == "A" and t[8]:        # array: element name + []
        return f"{format_type_name(t[8], typmod)}[]"
    name = _SQL_NAMES.get(oid, t[1])
    if typmod is not None and typmod >= 0:
        if oid in (1043, 1042):
            name += f"({typmod - 4})"
        elif oid == 1700:
            name = f"numeric({(typmod - 4) >> 16},{(typmod - 4) & 0xFFFF})"
        elif oid in (1114, 1184, 1083, 1266):
            base, _, rest = name.partition(" ")
            name = f"{base}({typmod}) {rest}"
    return name


def info_schema_data_type(oid: int) -> str:
    t = model.TYPE_ROWS.get(oid)
    if t is not None and t[5] == "A":
        return "ARRAY"
    return _SQL_NAMES.get(oid, t[1] if t else "USER-DEFINED").strip('"')


def regtype_in(env: Env, text: Any) -> int | None:
    """'integer' / 'pg_catalog.int4' / 'timestamptz' / 'int4[]' → the type OID (42704 if unknown)."""
    oid = to_regtype(env, text)
    if oid is None and text is not None:
        raise errors.UndefinedObject(f'type "{text}" does not exist')
    return oid


_ALIASES = {"integer": "int4", "int": "int4", "smallint": "int2", "bigint": "int8", "real": "float4",
            "double precision": "float8", "float": "float8", "boolean": "bool", "decimal": "numeric",
            "character varying": "varchar", "character": "bpchar", "char": "bpchar",
            "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
            "timestamp": "timestamp", "time without time zone": "time", "time with time zone": "timetz",
            '"char"': "char"}


def to_regtype(env: Env | None, text: Any) -> int | None:
    if text is None:
        return None
    if isinstance(text, int):
        return text
    s = str(text).strip().lower()
    if s.isdigit():
        return int(s)
    arr = s.endswith("[]")
    s = s.removesuffix("[]").strip()
    if s.startswith("pg_catalog."):
        s = s[len("pg_catalog."):]
    s = _ALIASES.get(s, s.strip('"'))
    t = model.TYPE_BY_NAME.get(s)
    if t is None:
        return _composite_by_name(env, str(text).strip().removesuffix("[]").strip(), arr)
    return t[9] if arr else t[0]


def _composite_by_name(env: Env | None, text: str, arr: bool) -> int | None:
    """A table's row type: 'ohlcv_1min', '"SYM/1Min/OHLCV"', 'public.ohlcv_1min' (psycopg CompositeInfo)."""
    if env is None:
        return None
    schema, name = _split_qualified(text)
    if schema not in (None, "public"):
        return None
    rel = env.snap.find_relation(name, model.PUBLIC_NS)
    if rel is None or not rel.type_oid:
        return None
    return rel.array_oid if arr else rel.type_oid


def regtype_out(env: Env, oid: Any) -> str | None:
    if oid is None:
        return None
    if int(oid) == 0:
        return "-"
    return format_type_env(env, int(oid)) or str(oid)


def format_type_env(env: Env | None, oid: Any, typmod: Any = None) -> str | None:
    """format_type() that also knows the tables' row types."""
    if oid is None:
        return None
    if int(oid) in model.TYPE_ROWS or env is None:
        return format_type_name(oid, typmod)
    hit = env.snap.composite_types.get(int(oid))
    if hit is None:
        return "???"
    rel, is_arr = hit
    return _quote_ident(rel.name) + ("[]" if is_arr else "")


# --- relations, namespaces, roles ------------------------------------------------------------------
def _split_qualified(text: str) -> tuple[str | None, str]:
    parts, cur, quoted = [], "", False
    for ch in text.strip():
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch if quoted else ch.lower()
    parts.append(cur)
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


_NS_BY_NAME = {n: o for o, n, _ in model.NAMESPACES}


def to_regclass(env: Env, text: Any) -> int | None:
    if text is None:
        return None
    if isinstance(text, int):
        return text
    s = str(text)
    if s.strip().isdigit():
        return int(s)
    schema, name = _split_qualified(s)
    if schema is not None and schema not in _NS_BY_NAME:
        return None
    rel = env.snap.find_relation(name, _NS_BY_NAME.get(schema) if schema else None)
    return rel.oid if rel else None


def regclass_in(env: Env, text: Any) -> int | None:
    oid = to_regclass(env, text)
    if oid is None and text is not None:
        raise errors.UndefinedTable(f'relation "{text}" does not exist')
    return oid


def _quote_ident(name: str) -> str:
    if name and (name[0].isalpha() or name[0] == "_") and all(c.islower() or c.isdigit() or c == "_" for c in name):
        return name
    return '"' + name.replace('"', '""') + '"'


def regclass_out(env: Env, oid: Any) -> str | None:
    if oid is None:
        return None
    rel = env.snap.relation_by_oid.get(int(oid))
    if rel is None:
        return str(oid)
    name = _quote_ident(rel.name)
    return name if rel.namespace in (model.PG_CATALOG_NS, model.PUBLIC_NS) else f"information_schema.{name}"


def regnamespace_out(env: Env, oid: Any) -> str | None:
    if oid is None:
        return None
    return {o: n for o, n, _ in model.NAMESPACES}.get(int(oid), str(oid))


def regproc_out(env: Env, oid: Any) -> str | None:
    if oid is None:
        return None
    if isinstance(oid, str):
        return oid
    for p in env.snap.pg_proc():
        if p["oid"] == int(oid):
            return p["proname"]
    return "-" if int(oid) == 0 else str(oid)


def table_is_visible(env: Env, oid: Any) -> bool | None:
    if oid is None:
        return None
    rel = env.snap.relation_by_oid.get(int(oid))
    return bool(rel and rel.namespace in (model.PG_CATALOG_NS, model.PUBLIC_NS))


def type_is_visible(env: Env, oid: Any) -> bool | None:
    return None if oid is None else int(oid) in model.TYPE_ROWS


def function_is_visible(env: Env, oid: Any) -> bool | None:
    return None if oid is None else True


def get_userbyid(env: Env, oid: Any) -> str | None:
    if oid is None:
        return None
    return env.snap.user if int(oid) == model.OWNER_OID else f"unknown (OID={int(oid)})"


def obj_description(env: Env, oid: Any, catalog: Any = None) -> str | None:
    if oid is None:
        return None
    classoid = {"pg_class": 1259, "pg_namespace": 2615, "pg_type": 1247, "pg_proc": 1255}.get(catalog)
    for d in env.snap.pg_description():
        if d["objoid"] == int(oid) and d["objsubid"] == 0 and (classoid is None or d["classoid"] == classoid):
            return d["description"]
    return None


def col_description(env: Env, oid: Any, attnum: Any) -> str | None:
    return None


def encoding_to_char(env: Env, enc: Any) -> str | None:
    return None if enc is None else {0: "SQL_ASCII", 6: "UTF8"}.get(int(enc), "")


def function_result(env: Env, oid: Any) -> str | None:
    for p in env.snap.pg_proc():
        if oid is not None and p["oid"] == int(oid):
            res = format_type_name(p["prorettype"])
            return f"SETOF {res}" if p["proretset"] else res
    return None


def function_arguments(env: Env, oid: Any) -> str | None:
    for p in env.snap.pg_proc():
        if oid is not None and p["oid"] == int(oid):
            return ", ".join(format_type_name(a) or "" for a in p["proargtypes"])
    return None


def relation_size(env: Env, rel: Any, *_fork: Any) -> int | None:
    r"""Bytes on disk of a bucket (its directory under root_directory) or of every bucket of a group
    table; \dt+ shows it as Size. Other relations have none."""
    if rel is None:
        return None
    oid = to_regclass(env, rel) if isinstance(rel, str) else int(rel)
    r = env.snap.relation_by_oid.get(oid) if oid is not None else None
    root = getattr(getattr(env.session, "engine", None), "root", None)
    if r is None or root is None or r.namespace != model.PUBLIC_NS:
        return 0
    total = 0
    for b in env.snap.buckets:
        if b.tbk == r.name or f"{b.attrgroup.lower()}_{b.timeframe.lower()}" == r.name:
            d = os.path.join(root, b.symbol, b.timeframe, b.attrgroup)
            try:
                total += sum(e.stat().st_blocks * 512 for e in os.scandir(d) if e.is_file())  # sparse files: real use
            except OSError:
                continue
    return total


def size_pretty(env: Env, n: Any) -> str | None:
    """PostgreSQL's pg_size_pretty: bytes below 10 kB, then kB/MB/GB/TB rounded half up."""
    if n is None:
        return None
    n = int(n)
    if abs(n) < 10 * 1024:
        return f"{n} bytes"
    n >>= 9                      # half-units, so the last step can round
    for unit in ("kB", "MB", "GB", "TB"):
        if abs(n) < 20 * 1024 - 1:
            return f"{(n + 1) // 2} {unit}"
        n >>= 10
    return f"{(n + 1) // 2} PB"


def current_schemas(env: Env, implicit: Any) -> list[str]:
    return ["pg_catalog", "public"] if implicit else ["public"]


def set_config(env: Env, name: str, value: str, is_local: Any = False) -> str | None:
    """set_config(): changes the session setting (asyncpg turns jit off this way at connect)."""
    setter = getattr(env.session, "set_setting", None)
    if setter is not None:       # validates, normalises and queues ParameterStatus like SET does
        setter(name, value, local=bool(is_local))
        return env.setting(name)
    if env.session is not None and getattr(env.session, "settings", None) is not None:
        env.session.settings[pgsettings.canonical(name)] = value
    env.snap.settings[pgsettings.canonical(name)] = value
    return value


def backend_pid(env: Env) -> int:
    pid = getattr(env.session, "backend_pid", None) if env.session is not None else None
    return int(pid) if pid else os.getpid()


def version(env: Env) -> str:
    try:    # one version string for the whole server: the planner's
        from pgmkts.planner.functions import VERSION
        return VERSION
    except ImportError:
        v = env.setting("server_version", True) or pgsettings.SERVER_VERSION
        return f"PostgreSQL {v} (pgmkts) on x86_64-pc-linux-gnu, compiled by Python, 64-bit"


def array_to_string(env: Env, arr: Any, sep: Any, null: Any = None) -> str | None:
    if arr is None or sep is None:
        return None
    items = [null if v is None else v for v in arr]
    return str(sep).join(str(v).lower() if isinstance(v, bool) else str(v) for v in items if v is not None)


def array_upper(env: Env, arr: Any, dim: Any) -> int | None:
    return len(arr) if arr and dim == 1 else None


def array_lower(env: Env, arr: Any, dim: Any) -> int | None:
    return 1 if arr and dim == 1 else None


def quote_ident(env: Env, s: Any) -> str | None:
    return None if s is None else _quote_ident(str(s))


def json_build_object(env: Env, *args: Any) -> str:
    import json

    return json.dumps({str(args[i]): args[i + 1] for i in range(0, len(args) - 1, 2)})


def parse_ident(env: Env, text: Any) -> list[str] | None:
    """parse_ident('"SYM/1Min/OHLCV"') → ['SYM/1Min/OHLCV']; unquoted parts fold to lower case."""
    if text is None:
        return None
    parts, cur, quoted, was_quoted = [], "", False, False
    s = str(text).strip()
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == '"':
            if quoted and i + 1 < len(s) and s[i + 1] == '"':
                cur += '"'
                i += 1
            else:
                quoted, was_quoted = not quoted, True
        elif ch == "." and not quoted:
            parts.append(cur if was_quoted else cur.strip().lower())
            cur, was_quoted = "", False
        else:
            cur += ch
        i += 1
    if quoted:
        raise errors.InvalidParameterValue(f'string is not a valid identifier: "{text}"')
    parts.append(cur if was_quoted else cur.strip().lower())
    if any(p == "" for p in parts):
        raise errors.InvalidParameterValue(f'string is not a valid identifier: "{text}"')
    return parts


def _true(env: Env, *args: Any) -> bool:
    return True


def _null(env: Env, *args: Any) -> None:
    return None


def _false(env: Env, *args: Any) -> bool:
    return False


def _zero(env: Env, *args: Any) -> int:
    return 0


# name → (implementation, return type OID, argument type OIDs for pg_proc / \df)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, list[int]]] = {
    "version": (version, TEXT, []),
    "current_schema": (lambda env: "public", NAME, []),
    "current_schemas": (current_schemas, NAME_ARR, [BOOL]),
    "current_database": (lambda env: env.snap.database, NAME, []),
    "current_catalog": (lambda env: env.snap.database, NAME, []),
    "current_user": (lambda env: env.snap.user, NAME, []),
    "session_user": (lambda env: env.snap.user, NAME, []),
    "current_role": (lambda env: env.snap.user, NAME, []),
    "user": (lambda env: env.snap.user, NAME, []),
    "current_setting": (lambda env, n, ok=False: env.setting(n, bool(ok)), TEXT, [TEXT]),
    "set_config": (set_config, TEXT, [TEXT, TEXT, BOOL]),
    "pg_backend_pid": (backend_pid, INT4, []),
    "pg_table_is_visible": (table_is_visible, BOOL, [OID]),
    "pg_type_is_visible": (type_is_visible, BOOL, [OID]),
    "pg_function_is_visible": (function_is_visible, BOOL, [OID]),
    "pg_get_userbyid": (get_userbyid, NAME, [OID]),
    "format_type": (format_type_env, TEXT, [OID, INT4]),
    "pg_get_expr": (_null, TEXT, [194, OID]),
    "pg_get_indexdef": (_null, TEXT, [OID]),
    "pg_get_constraintdef": (_null, TEXT, [OID]),
    "pg_get_viewdef": (_null, TEXT, [OID]),
    "pg_get_triggerdef": (_null, TEXT, [OID]),
    "pg_get_partkeydef": (_null, TEXT, [OID]),
    "pg_get_serial_sequence": (_null, TEXT, [TEXT, TEXT]),
    "pg_get_statisticsobjdef_columns": (_null, TEXT, [OID]),
    "pg_get_function_result": (function_result, TEXT, [OID]),
    "pg_get_function_arguments": (function_arguments, TEXT, [OID]),
    "pg_get_function_identity_arguments": (function_arguments, TEXT, [OID]),
    "pg_encoding_to_char": (encoding_to_char, NAME, [INT4]),
    "obj_description": (obj_description, TEXT, [OID, NAME]),
    "col_description": (col_description, TEXT, [OID, INT4]),
    "shobj_description": (_null, TEXT, [OID, NAME]),
    "has_table_privilege": (_true, BOOL, [TEXT, TEXT]),
    "has_schema_privilege": (_true, BOOL, [TEXT, TEXT]),
    "has_database_privilege": (_true, BOOL, [TEXT, TEXT]),
    "has_column_privilege": (_true, BOOL, [TEXT, TEXT, TEXT]),
    "has_function_privilege": (_true, BOOL, [TEXT, TEXT]),
    "has_sequence_privilege": (_true, BOOL, [TEXT, TEXT]),
    "has_any_column_privilege": (_true, BOOL, [TEXT, TEXT]),
    "pg_has_role": (_true, BOOL, [NAME, TEXT]),
    "pg_relation_is_publishable": (_false, BOOL, [REGCLASS]),
    "pg_is_in_recovery": (_false, BOOL, []),
    "pg_relation_size": (relation_size, INT8, [REGCLASS]),
    "pg_total_relation_size": (relation_size, INT8, [REGCLASS]),
    "pg_table_size": (relation_size, INT8, [REGCLASS]),
    "pg_indexes_size": (_zero, INT8, [REGCLASS]),
    "pg_database_size": (_zero, INT8, [NAME]),
    "to_regtype": (to_regtype, REGTYPE, [TEXT]),
    "to_regclass": (to_regclass, REGCLASS, [TEXT]),
    "quote_ident": (quote_ident, TEXT, [TEXT]),
    "array_to_string": (array_to_string, TEXT, [ANYARRAY, TEXT]),
    "array_upper": (array_upper, INT4, [ANYARRAY, INT4]),
    "array_lower": (array_lower, INT4, [ANYARRAY, INT4]),
    "array_length": (array_upper, INT4, [ANYARRAY, INT4]),
    "cardinality": (lambda env, a: None if a is None else len(a), INT4, [ANYARRAY]),
    "pg_advisory_unlock_all": (_null, VOID, []),
    "pg_try_advisory_lock": (_true, BOOL, [INT8]),
    "pg_advisory_unlock": (_true, BOOL, [INT8]),
    "pg_advisory_lock": (_null, VOID, [INT8]),
    "txid_current": (lambda env: 1, INT8, []),
    "json_build_object": (json_build_object, 114, [ANY]),
    "parse_ident": (parse_ident, TEXT_ARR, [TEXT]),
    "string_to_array": (lambda env, s, sep, null=None: None if s is None else (
        [s] if sep is None else [None if x == null else x for x in (str(s).split(sep) if sep else list(s))]),
        TEXT_ARR, [TEXT, TEXT]),
    "pg_collation_is_visible": (_true, BOOL, [OID]),
    "pg_conversion_is_visible": (_true, BOOL, [OID]),
    "pg_opclass_is_visible": (_true, BOOL, [OID]),
    "pg_opfamily_is_visible": (_true, BOOL, [OID]),
    "pg_operator_is_visible": (_true, BOOL, [OID]),
    "pg_ts_config_is_visible": (_true, BOOL, [OID]),
    "pg_statistics_obj_is_visible": (_true, BOOL, [OID]),
    "pg_postmaster_start_time": (lambda env: None, 1184, []),
    "pg_size_pretty": (size_pretty, TEXT, [INT8]),
    "inet_server_addr": (_null, 869, []),
    "inet_server_port": (_null, INT4, []),
}
