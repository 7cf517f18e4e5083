"""Execute a translated catalog query in an in-memory SQLite database and return pyarrow results.

Only the catalog relations the query names are materialised (they are small); arrays travel as
JSON text inside SQLite and come back as pyarrow lists.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from pgmkts import errors
from pgmkts.planner.catalog import functions as F
from pgmkts.planner.catalog import model
from pgmkts.planner.catalog.sqlnodes import BOOL, INTLIKE, REG_TYPES, UNKNOWN, elem_of, is_array
from pgmkts.planner.catalog.translate import Translator

_FLOATS = {700, 701, 1700}


def sqlite_affinity(oid: int) -> str:
    if oid in INTLIKE or oid == BOOL:
        return "INTEGER"
    if oid in _FLOATS:
        return "REAL"
    return "TEXT"


def _to_sqlite(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (list, tuple)):
        return json.dumps([_plain(x) for x in v])
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v


def _from_json(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str) and v.startswith("["):
        return json.loads(v)
    if isinstance(v, str) and v.startswith("{"):      # an array literal that reached output: '{}'
        return parse_array_literal(v)
    return [v]


def parse_array_literal(text: str | None) -> list | None:
    """'{a,b,"c d"}' → ['a', 'b', 'c d'] (one dimension, as catalog queries use them)."""
    if text is None:
        return None
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise errors.InvalidTextRepresentation(f'malformed array literal: "{text}"',
                                               detail='Array value must start with "{" or dimension information.')
    body, out, cur, quoted, had = s[1:-1], [], "", False, False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"':
            quoted, had = not quoted, True
        elif ch == "\\" and i + 1 < len(body):
            i += 1
            cur += body[i]
        elif ch == "," and not quoted:
            out.append(None if (cur.strip().upper() == "NULL" and not had) else cur if had else cur.strip())
            cur, had = "", False
        else:
            cur += ch
        i += 1
    if body.strip() or had:
        out.append(None if (cur.strip().upper() == "NULL" and not had) else cur if had else cur.strip())
    return [int(x) if isinstance(x, str) and re.fullmatch(r"-?\d+", x) else x for x in out]


class _OrderedAgg:
    """array_agg/string_agg(... ORDER BY keys): collect, sort (NULLs last ascending, as PostgreSQL)."""

    def __init__(self) -> None:
        self.kind, self.dirs, self.sep = "array", "", ","
        self.items: list[tuple[tuple, Any]] = []

    def step(self, kind, dirs, value, *rest):
        self.kind, self.dirs = kind, dirs
        if kind == "string":
            self.sep, rest = rest[0], rest[1:]
            if value is None:
                return
        self.items.append((rest, value))

    def finalize(self):
        if not self.items:
            return None
        items = self.items
        for i in reversed(range(len(self.dirs))):
            desc = self.dirs[i] == "d"
            items = sorted(items, key=lambda kv, i=i: (kv[0][i] is None, kv[0][i] if kv[0][i] is not None else 0),
                           reverse=desc)
        values = [v for _, v in items]
        if self.kind == "string":
            return str(self.sep).join(str(v) for v in values)
        return json.dumps(values)


class _Errors:
    """Python exceptions inside SQLite callbacks lose their type; keep the first to re-raise it."""

    def __init__(self) -> None:
        self.first: BaseException | None = None

    def wrap(self, fn):
        def call(*args):
            try:
                return fn(*args)
            except Exception as e:
                if self.first is None:
                    self.first = e
                raise
        return call


# PostgreSQL ARE spellings Python's re lacks: POSIX classes inside brackets and word-boundary escapes
_POSIX_CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
                  "space": r"\s", "xdigit": "0-9a-fA-F", "word": r"\w", "punct": r"!-/:-@\[-`{-~"}
_ARE = re.compile(r"\[:(\w+):\]|\\[mMy]")


def pg_regex(pattern: str) -> str:
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok.startswith("[:"):
            return _POSIX_CLASSES.get(m.group(1), tok)
        return {r"\m": r"\b(?=\w)", r"\M": r"\b(?<=\w)", r"\y": r"\b"}[tok]
    return _ARE.sub(sub, pattern)


def _regex(s: Any, pattern: Any, flags: str) -> int | None:
    if s is None or pattern is None:
        return None
    try:
        return int(re.search(pg_regex(str(pattern)), str(s), re.I if "i" in flags else 0) is not None)
    except re.error as e:
        raise errors.InvalidRegularExpression(f"invalid regular expression: {e}") from None


def _series(start, stop, step=1):
    if start is None or stop is None:
        return "[]"
    return json.dumps(list(range(int(start), int(stop) + (1 if step > 0 else -1), int(step))))


def _bool_in(v: Any) -> int | None:
    if v is None or isinstance(v, int):
        return v
    s = str(v).strip().lower()
    if s in ("t", "true", "y", "yes", "on", "1"):
        return 1
    if s in ("f", "false", "n", "no", "off", "0"):
        return 0
    raise errors.InvalidTextRepresentation(f'invalid input syntax for type boolean: "{v}"')


def _subscript(arr, idx, base):
    items = _from_json(arr)
    if items is None or idx is None:
        return None
    i = int(idx) + int(base)
    return items[i] if 0 <= i < len(items) else None


_STATIC = {("pg_catalog", "pg_range"), ("pg_catalog", "pg_am"),
           ("pg_catalog", "pg_collation"), ("pg_catalog", "pg_tablespace"), ("pg_catalog", "pg_language")}
_STATIC_CACHE: dict[tuple[str, str, str, str], list[tuple]] = {}


def tuples(cols: list[tuple[str, int]], rows: list[dict]) -> list[tuple]:
    defaults = {c: (0 if sqlite_affinity(t) == "INTEGER" else None) for c, t in cols}
    return [tuple(_to_sqlite(r.get(c, defaults[c])) for c, _ in cols) for r in rows]


def _static_tuples(env: F.Env, schema: str, name: str) -> list[tuple]:
    """Rows that do not depend on the buckets (built-in types, system relations and their columns)."""
    key = (schema, name, env.snap.database, env.snap.user)
    if key not in _STATIC_CACHE:
        snap = model.Snapshot(database=env.snap.database, user=env.snap.user)
        cols = model.columns_of(schema, name) or []
        rows = (snap.split_rows(schema, name, True) if (schema, name) in model.Snapshot.SPLIT
                else snap.rows(schema, name))
        if len(_STATIC_CACHE) > 64:
            _STATIC_CACHE.clear()
        _STATIC_CACHE[key] = tuples(cols, rows or [])
    return _STATIC_CACHE[key]


_USER_CACHE: OrderedDict[tuple, list[tuple]] = OrderedDict()


def _user_tuples(env: F.Env, schema: str, name: str, cols: list[tuple[str, int]]) -> list[tuple]:
    """Rows of the user relations for a split table, reused while the bucket list is unchanged."""
    key = (env.snap.fingerprint, schema, name)
    with _TEMPLATE_LOCK:
        hit = _USER_CACHE.get(key)
        if hit is not None:
            _USER_CACHE.move_to_end(key)
            return hit
    data = tuples(cols, env.snap.split_rows(schema, name, False))
    with _TEMPLATE_LOCK:
        _USER_CACHE[key] = data
        if len(_USER_CACHE) > 32:
            _USER_CACHE.popitem(last=False)
    return data


_TEMPLATES: dict[tuple[str, str], sqlite3.Connection] = {}
_TEMPLATE_LOCK = threading.Lock()


def _copy_template(env: F.Env, db: sqlite3.Connection) -> None:
    """Copy a prebuilt database holding the fixed part of every catalog table into `db` (SQLite's
    backup API copies pages: far cheaper than re-inserting ~4000 rows per query)."""
    key = (env.snap.database, env.snap.user)
    with _TEMPLATE_LOCK:
        tmpl = _TEMPLATES.get(key)
        if tmpl is None:
            if len(_TEMPLATES) > 16:
                _TEMPLATES.clear()
            tmpl = sqlite3.connect(":memory:", check_same_thread=False)
            for schema, name in sorted(_STATIC | set(model.Snapshot.SPLIT)):
                cols = model.columns_of(schema, name) or []
                ddl = ", ".join(f'"{c}" {sqlite_affinity(t)}' for c, t in cols)
                tmpl.execute(f'CREATE TABLE "{schema}.{name}" ({ddl})')
                data = _static_tuples(env, schema, name)
                if data:
                    tmpl.executemany(f'INSERT INTO "{schema}.{name}" VALUES ({", ".join("?" * len(cols))})',
                                     data)
            tmpl.commit()
            _TEMPLATES[key] = tmpl
        tmpl.backup(db)


def connect(env: F.Env, tables: set[tuple[str, str]]) -> tuple[sqlite3.Connection, _Errors]:
    db = sqlite3.connect(":memory:")
    _copy_template(env, db)       # the fixed rows (built-in types, system relations), page-copied
    db.execute("PRAGMA case_sensitive_like = ON")   # PostgreSQL's LIKE is case-sensitive
    errs = _Errors()
    for schema, name in tables:
        cols = model.columns_of(schema, name) or []
        if (schema, name) in _STATIC:
            continue
        if (schema, name) in model.Snapshot.SPLIT:      # add the user relations' rows to the fixed ones
            data = _user_tuples(env, schema, name, cols)
        else:
            ddl = ", ".join(f'"{c}" {sqlite_affinity(t)}' for c, t in cols)
            db.execute(f'CREATE TABLE "{schema}.{name}" ({ddl})')
            data = tuples(cols, env.snap.rows(schema, name) or [])
        if data:
            db.executemany(f'INSERT INTO "{schema}.{name}" VALUES ({", ".join("?" * len(cols))})', data)
    for fname, (impl, _ret, _args) in F.FUNCTIONS.items():
        def call(*args, _impl=impl, _name=fname):
            if _name in ("array_to_string", "array_upper", "array_lower", "array_length", "cardinality"):
                args = (_from_json(args[0]),) + args[1:]
            return _to_sqlite(_impl(env, *args))
        # stable within one query (one snapshot): lets SQLite hoist constant calls out of row loops
        db.create_function(f"_pg_{fname}", -1, errs.wrap(call), deterministic=fname != "set_config")
    reg_in = {"regclass": F.regclass_in, "regtype": F.regtype_in,
              "regnamespace": lambda e, v: {n: o for o, n, _ in model.NAMESPACES}.get(v),
              "regproc": lambda e, v: v, "regrole": lambda e, v: model.OWNER_OID}
    for kind, fn in reg_in.items():
        db.create_function(f"_pg_{kind}_in", 1, errs.wrap(lambda v, _fn=fn: _fn(env, v)))
    db.create_function("_pg_reg_out", 2, errs.wrap(lambda v, t: reg_out(env, v, t)))
    db.create_function("_pg_regex", 3, errs.wrap(_regex), deterministic=True)
    db.create_function("_pg_series", -1, errs.wrap(_series), deterministic=True)
    db.create_function("_pg_bool_in", 1, errs.wrap(_bool_in), deterministic=True)
    db.create_function("_pg_array_in", 1, errs.wrap(lambda s: _to_sqlite(parse_array_literal(s))))
    db.create_function("_pg_array_out", 1, errs.wrap(lambda a: array_text(_from_json(a))))
    db.create_function("_pg_array_cat", 2, errs.wrap(
        lambda a, b: None if a is None and b is None else _to_sqlite((_from_json(a) or []) + (_from_json(b) or []))))
    db.create_function("_pg_subscript", 3, errs.wrap(_subscript))
    db.create_aggregate("_pg_agg_ordered", -1, _OrderedAgg)  # type: ignore[arg-type]
    db.create_function("_pg_one_row", 1, errs.wrap(lambda v: json.dumps([_from_json(v) if isinstance(v, str)
                                                                         and v.startswith("[") else v])))
    return db, errs


def reg_out(env: F.Env, v: Any, t: int) -> str | None:
    kind = REG_TYPES.get(int(t))
    if v is None:
        return None
    if isinstance(v, str) and not v.isdigit():
        return v
    if kind == "regclass":
        return F.regclass_out(env, v)
    if kind == "regtype":
        return F.regtype_out(env, v)
    if kind == "regnamespace":
        return F.regnamespace_out(env, v)
    if kind == "regrole":
        return F.get_userbyid(env, v)
    return F.regproc_out(env, v)


def array_text(items: list | None) -> str | None:
    if items is None:
        return None

    def one(x):
        if x is None:
            return "NULL"
        s = str(x).lower() if isinstance(x, bool) else str(x)
        return f'"{s}"' if (not s or any(c in s for c in ' ,{}"\\')) else s
    return "{" + ",".join(one(x) for x in items) + "}"


# --- results ---------------------------------------------------------------------------------------
def arrow_type(oid: int) -> pa.DataType:
    if is_array(oid):
        return pa.list_(arrow_type(elem_of(oid)))
    return {BOOL: pa.bool_(), 21: pa.int16(), 23: pa.int32(), 20: pa.int64(), 26: pa.int64(), 28: pa.int64(),
            29: pa.int64(), 700: pa.float32(), 701: pa.float64(), 1700: pa.float64(), 17: pa.binary(),
            1184: pa.timestamp("us", tz="UTC"), 1114: pa.timestamp("us"),
            1186: pa.month_day_nano_interval()}.get(oid, pa.string())


def out_oid(oid: int) -> int:
    return 25 if oid == UNKNOWN else oid


def convert(env: F.Env, values: list, oid: int) -> pa.Array:
    t = arrow_type(oid)
    if is_array(oid):
        et = elem_of(oid)
        conv = []
        for v in values:
            items = _from_json(v)
            conv.append(None if items is None else [_scalar(env, x, et) for x in items])
        return pa.array(conv, type=t)
    return pa.array([_scalar(env, v, oid) for v in values], type=t)


def _scalar(env: F.Env, v: Any, oid: int) -> Any:
    if v is None:
        return None
    if oid == BOOL:
        return bool(_bool_in(v)) if isinstance(v, str) else bool(v)
    if oid in REG_TYPES:
        return reg_out(env, v, oid)
    if oid in INTLIKE:
        return int(v)
    if oid in _FLOATS:
        return float(v)
    if oid in (1184, 1114):
        return dt.datetime.fromisoformat(v) if isinstance(v, str) else v
    if oid == 1186:
        return None
    if oid == 17:
        return v if isinstance(v, bytes) else str(v).encode()
    return str(v)


def field_for(name: str, oid: int) -> pa.Field:
    oid = out_oid(oid)
    return pa.field(name, arrow_type(oid), metadata={b"pg_oid": str(oid).encode()})


@dataclass(frozen=True)
class Translated:
    tree: exp.Expression            # kept so the cache key (its id) cannot be reused while cached
    sql: str
    cols: list[tuple[str, int]]
    tables: frozenset[tuple[str, str]]
    param_types: list[int]


_TR_CACHE: OrderedDict[tuple[int, tuple[int, ...]], Translated] = OrderedDict()
_TR_LOCK = threading.Lock()


def translate(tree: exp.Expression, param_types: list[int] | None = None) -> Translated:
    """The SQLite text and output types of a catalog query; cached per parsed tree, because clients
    repeat the same introspection statements (compat.catalog_tree hands out one tree per text)."""
    key = (id(tree), tuple(param_types or ()))
    with _TR_LOCK:
        hit = _TR_CACHE.get(key)
        if hit is not None and hit.tree is tree:
            _TR_CACHE.move_to_end(key)
            return hit
    tr = Translator(param_types)
    new, cols = tr.query(fold(tree), [], {})
    out = Translated(tree, new.sql(dialect="sqlite"), cols, frozenset(tr.tables), list(tr.param_types))
    with _TR_LOCK:
        _TR_CACHE[key] = out
        if len(_TR_CACHE) > 256:
            _TR_CACHE.popitem(last=False)
    return out


def run(tree: exp.Expression, env: F.Env, params: list | None = None,
        param_types: list[int] | None = None) -> pa.Table:
    """Translate and execute; the Table's fields carry `pg_oid` metadata with the PostgreSQL type."""
    t = translate(tree, param_types)
    db, errs = connect(env, set(t.tables))
    try:
        args = [_param(v, t.param_types[i] if i < len(t.param_types) else 0)
                for i, v in enumerate(params or [])]
        try:
            rows = db.execute(t.sql, args).fetchall()
        except sqlite3.Error as e:
            if errs.first is not None:
                raise errs.first from None
            raise errors.FeatureNotSupported(f"catalog query could not be run: {e}") from None
    finally:
        db.close()
    arrays = [convert(env, [r[i] for r in rows], oid) for i, (_, oid) in enumerate(t.cols)]
    schema = pa.schema([field_for(n, oid) for n, oid in t.cols])
    return pa.Table.from_arrays(arrays, schema=schema)


def describe(tree: exp.Expression, param_types: list[int] | None = None) -> tuple[list[pa.Field], list[int]]:
    """Output fields and parameter types without executing (for Parse/Describe)."""
    t = translate(tree, param_types)
    return [field_for(n, oid) for n, oid in t.cols], [p if p not in (0, UNKNOWN) else 25 for p in t.param_types]


def fold(tree: exp.Expression) -> exp.Expression:
    """A copy with unquoted identifiers folded to lower case, as PostgreSQL does (pgjdbc's AS TABLE_SCHEM)."""
    return normalize_identifiers(tree.copy(), dialect="postgres")


def _param(v: Any, oid: int) -> Any:
    if isinstance(v, str) and is_array(oid):        # a text-format array parameter: '{1007}'
        v = parse_array_literal(v)
    return _to_sqlite(v)
