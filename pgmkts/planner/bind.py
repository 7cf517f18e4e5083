"""Name resolution: bucket tables ("AAPL/1Min/OHLCV"), group tables (ohlcv_1min), catalog relations.

Group schemas declared by CREATE TABLE are kept in root/.groups/<name>.json (storage skips dot dirs).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

import pyarrow as pa

from pgmkts import errors
from pgmkts.planner.types import DTYPE_SQL, TEXT, TIMESTAMPTZ, TS


@dataclass
class Column:
    name: str                 # SQL name (lower case)
    type: pa.DataType
    oid: int
    storage: str | None       # the bucket's column name ("Open"), None for symbol


@dataclass
class Relation:
    kind: str                 # 'bucket' | 'group' | 'catalog'
    name: str                 # TBK for buckets, group table name otherwise
    columns: list[Column]
    variable_length: bool = False
    attrgroup: str = ""
    timeframe: str = ""
    tf_seconds: int = 0
    table: pa.Table | None = None
    dtypes: dict[str, str] = field(default_factory=dict)   # storage name → numpy dtype str

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


def columns_from_info(cols: tuple[tuple[str, str], ...] | list, variable: bool) -> list[Column]:
    out = [Column("epoch", TS, TIMESTAMPTZ, "Epoch")]
    for name, dt in cols:
        if name == "Epoch":
            continue
        t, oid = DTYPE_SQL.get(dt, (pa.string(), TEXT))
        out.append(Column(name.lower(), t, oid, name))
    return out


def group_name(attrgroup: str, timeframe: str) -> str:
    return f"{attrgroup.lower()}_{timeframe.lower()}"


def _groups_dir(engine) -> str | None:
    root = getattr(engine, "root", None)
    return os.path.join(root, ".groups") if root else None


def declared_groups(engine) -> dict[str, dict]:
    d = _groups_dir(engine)
    out: dict[str, dict] = {}
    if not d or not os.path.isdir(d):
        return out
    for fn in os.listdir(d):
        if fn.endswith(".json"):
            try:
                with open(os.path.join(d, fn)) as fh:
                    out[fn[:-5]] = json.load(fh)
            except (OSError, ValueError):
                continue
    return out


def save_group(engine, name: str, spec: dict) -> None:
    d = _groups_dir(engine)
    if d is None:
        raise errors.FeatureNotSupported("group tables need an engine with a data directory")
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(spec, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(d, f"{name}.json"))


def drop_group_decl(engine, name: str) -> bool:
    d = _groups_dir(engine)
    p = os.path.join(d, f"{name}.json") if d else None
    if p and os.path.exists(p):
        os.remove(p)
        return True
    return False


_GROUP_RE = re.compile(r"^(.+)_(\d+[a-z]+)$")


def canonical_tf(tf: str) -> str:
    try:
        from pgmkts.storage import canonical_timeframe
        return canonical_timeframe(tf)
    except Exception:
        m = re.fullmatch(r"(\d+)([a-zA-Z]+)", tf)
        if not m:
            raise errors.InvalidName(f"bad timeframe {tf!r}") from None
        unit = {"min": "Min", "t": "Min", "sec": "Sec", "s": "Sec", "h": "H", "d": "D", "w": "W"}.get(
            m.group(2).lower(), m.group(2))
        return m.group(1) + unit


def group_buckets(engine, name: str) -> list:
    """BucketInfos of a group table, sorted by symbol."""
    return [b for b in engine.buckets() if group_name(b.attrgroup, b.timeframe) == name]


def resolve(engine, name: str, quoted: bool, schema: str | None, ctx=None) -> Relation:
    """A FROM-clause table name → Relation; raises UndefinedTable (42P01)."""
    if schema in ("pg_catalog", "information_schema") or (
            schema is None and not quoted and name.lower().startswith("pg_")):
        rel = _catalog(name.lower() if not quoted else name, schema, ctx)
        if rel is not None:
            return rel
        raise errors.UndefinedTable(f'relation "{(schema + ".") if schema else ""}{name}" does not exist')
    if schema not in (None, "public"):
        raise errors.UndefinedTable(f'relation "{schema}.{name}" does not exist')
    if "/" in name:
        info = engine.info(name)
        if info is None:
            raise errors.UndefinedTable(f'relation "{name}" does not exist',
                                        hint="bucket tables are named by their exact TBK, e.g. "
                                             '"AAPL/1Min/OHLCV" (quoted)')
        return Relation("bucket", info.tbk, columns_from_info(info.columns, info.variable_length),
                        info.variable_length, info.attrgroup, info.timeframe, info.tf_seconds,
                        dtypes=dict(info.columns))
    lname = name if quoted else name.lower()
    rel = group_relation(engine, lname)
    if rel is not None:
        return rel
    crel = _catalog(lname, None, ctx)
    if crel is not None:
        return crel
    raise errors.UndefinedTable(f'relation "{name}" does not exist')


def group_relation(engine, lname: str) -> Relation | None:
    decl = declared_groups(engine).get(lname)
    bs = group_buckets(engine, lname)
    if decl is None and not bs:
        return None
    if decl is not None:
        cols = [tuple(c) for c in decl["columns"]]
        variable = bool(decl.get("variable_length", False))
        ag, tf = decl["attrgroup"], decl["timeframe"]
    else:
        b0 = bs[0]
        cols = [c for c in b0.columns if c[0] not in ("Epoch",) and not (b0.variable_length
                                                                         and c[0] == "Nanoseconds")]
        variable = b0.variable_length
        ag, tf = b0.attrgroup, b0.timeframe
    from pgmkts.storage import timeframe_seconds
    columns = [Column("symbol", pa.string(), TEXT, None)] + columns_from_info(
        cols + ([("Nanoseconds", "i4")] if variable else []), variable)
    return Relation("group", lname, columns, variable, ag, tf, timeframe_seconds(tf),
                    dtypes=dict(cols))


def _catalog(name: str, schema: str | None, ctx) -> Relation | None:
    try:
        from pgmkts.planner import catalog as catmod
    except ImportError:
        return None
    get = getattr(catmod, "get_relation", None)
    if get is None:
        return None
    table = get(name, schema, ctx)
    if table is None:
        return None
    from pgmkts.planner.types import oid_of
    cols = [Column(f.name, f.type, oid_of(f.type, f.metadata), None) for f in table.schema]
    return Relation("catalog", name, cols, table=table)
