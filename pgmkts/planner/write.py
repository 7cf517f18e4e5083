"""DDL and DML: CREATE/DROP TABLE, INSERT (VALUES/SELECT), DELETE, and the rows→storage conversion
shared with COPY FROM. Rows become numpy columns once per statement (never one engine call per row)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import bind
from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.exec.keys import group_ids
from pgmkts.planner.exec.values import US, cast_value
from pgmkts.planner.types import TS

_DTYPE_OF = {"FLOAT": "f4", "DOUBLE": "f8", "SMALLINT": "i2", "INT": "i4", "BIGINT": "i8",
             "BOOLEAN": "bool", "TEXT": "U16", "VARCHAR": "U16", "CHAR": "U16", "NCHAR": "U16",
             "DECIMAL": "f8", "TINYINT": "i1", "UTINYINT": "u1", "USMALLINT": "u2", "UINT": "u4",
             "UBIGINT": "u8", "SERIAL": "i4", "BIGSERIAL": "i8", "SMALLSERIAL": "i2"}
_TIME_TYPES = {"TIMESTAMPTZ", "TIMESTAMP", "TIMESTAMPLTZ"}

_catalog_version = [0]


def catalog_version() -> int:
    return _catalog_version[0]


def bump_catalog() -> None:
    _catalog_version[0] += 1


# ------------------------------------------------------------------ CREATE / DROP

def create_table(engine, node: exp.Create) -> str:
    kind = (node.args.get("kind") or "").upper()
    if kind != "TABLE":
        raise errors.FeatureNotSupported(f"CREATE {kind}")
    schema = node.this
    if not isinstance(schema, exp.Schema):
        raise errors.FeatureNotSupported("CREATE TABLE AS")
    table = schema.this
    name = table.name
    quoted = bool(table.this.args.get("quoted"))
    if table.db and table.db.lower() != "public":
        raise errors.FeatureNotSupported(f"CREATE TABLE in schema {table.db}")
    props = {}
    props_node = node.args.get("properties")
    for p in (props_node.expressions if props_node else []):
        if isinstance(p, exp.Property):
            key = p.this.name.lower() if hasattr(p.this, "name") else str(p.this).lower()
            val = p.args.get("value")
            props[key] = val.this if isinstance(val, exp.Boolean) else (val.name if val is not None else None)
        elif isinstance(p, exp.TemporaryProperty):
            raise errors.FeatureNotSupported("temporary tables")
    variable = str(props.pop("variable_length", False)).lower() in ("true", "1", "on", "t")
    if props:
        raise errors.FeatureNotSupported(f"table option {', '.join(props)}")
    cols: list[tuple[str, str]] = []
    has_epoch = has_symbol = False
    for cd in schema.expressions:
        if not isinstance(cd, exp.ColumnDef):
            raise errors.FeatureNotSupported(f"table constraint {cd.sql()[:40]}")
        cname = cd.this.name
        kind_t = cd.args.get("kind")
        tname = kind_t.this.name if kind_t is not None else ""
        if cname.lower() == "epoch":
            if tname not in _TIME_TYPES and tname not in ("BIGINT",):
                raise errors.DatatypeMismatch("column epoch must be timestamptz")
            has_epoch = True
            continue
        if cname.lower() == "symbol" and "/" not in name:
            if tname not in ("TEXT", "VARCHAR", "CHAR"):
                raise errors.DatatypeMismatch("column symbol must be text")
            has_symbol = True
            continue
        if cname.lower() == "nanoseconds" and variable:
            continue
        dt = _DTYPE_OF.get(tname)
        if dt is None:
            shown = kind_t.sql(dialect="postgres") if kind_t is not None else "(none)"
            raise errors.FeatureNotSupported(f"column type {shown} (column {cname})")
        cols.append((cname, dt))
    if not has_epoch:
        raise errors.InvalidParameterValue("a time-series table needs an epoch timestamptz column")
    exists_ok = bool(node.args.get("exists"))
    if "/" in name:
        existing = engine.info(name)
        if existing is not None:
            if exists_ok:
                return "CREATE TABLE"
            raise errors.DuplicateTable(f'relation "{name}" already exists')
        engine.create(name, cols, variable_length=variable)
        bump_catalog()
        return "CREATE TABLE"
    if not has_symbol:
        raise errors.InvalidParameterValue(
            f'group table "{name}" needs a symbol text column (bucket tables are named "SYM/1Min/GROUP")')
    lname = name if quoted else name.lower()
    m = bind._GROUP_RE.match(lname)
    if not m:
        raise errors.InvalidName(f'group table name "{lname}" must be <attrgroup>_<timeframe>, e.g. ohlcv_1min')
    ag, tf = m.group(1), bind.canonical_tf(m.group(2))
    from pgmkts.storage import timeframe_seconds
    timeframe_seconds(tf)
    existing = bind.group_relation(engine, lname)
    if existing is not None:
        declared = lname in bind.declared_groups(engine)
        same = [(c.lower(), d) for c, d in cols] == [(c.lower(), d) for c, d in existing.dtypes.items()]
        if exists_ok and (declared or not same):
            return "CREATE TABLE"
        if declared or not same:
            raise errors.DuplicateTable(f'relation "{lname}" already exists',
                                        detail=None if same else "its buckets have other columns")
    bind.save_group(engine, lname, {"attrgroup": ag.upper(), "timeframe": tf, "columns": cols,
                                    "variable_length": variable})
    bump_catalog()
    return "CREATE TABLE"


def drop_table(engine, node: exp.Drop) -> str:
    kind = (node.args.get("kind") or "").upper()
    if kind != "TABLE":
        raise errors.FeatureNotSupported(f"DROP {kind}")
    tables = node.args.get("tables") or [node.this]
    rels = []
    for t in tables:
        name = t.name
        quoted = bool(t.this.args.get("quoted"))
        if "/" in name:
            info = engine.info(name)
            if info is None:
                if node.args.get("exists"):
                    continue
                raise errors.UndefinedTable(f'table "{name}" does not exist')
            rels.append(("bucket", info.tbk))
        else:
            lname = name if quoted else name.lower()
            if bind.group_relation(engine, lname) is None:
                if node.args.get("exists"):
                    continue
                raise errors.UndefinedTable(f'table "{lname}" does not exist')
            rels.append(("group", lname))
    for kind_, nm in rels:
        if kind_ == "bucket":
            engine.destroy(nm)
        else:
            for b in bind.group_buckets(engine, nm):
                engine.destroy(b.tbk)
            bind.drop_group_decl(engine, nm)
    bump_catalog()
    return "DROP TABLE"


# ------------------------------------------------------------------ rows → storage batches

def target_relation(engine, table: exp.Table, ctx) -> bind.Relation:
    rel = bind.resolve(engine, table.name, bool(table.this.args.get("quoted")),
                       table.db.lower() if table.db else None, ctx)
    if rel.kind == "catalog":
        raise errors.InsufficientPrivilege(f"cannot write to catalog relation {rel.name}")
    return rel


def to_batches(rel: bind.Relation, frame: Frame, colnames: list[str], tz: str = "UTC"
               ) -> list[tuple[str, dict[str, np.ndarray], bool | None]]:
    """Typed rows for `colnames` of rel → [(tbk, {Storage: ndarray}, variable_length)]."""
    if len(set(colnames)) != len(colnames):
        raise errors.SyntaxError_("column specified more than once")
    by_name = {}
    for i, cn in enumerate(colnames):
        col = rel.column(cn)
        if col is None:
            raise errors.UndefinedColumn(f'column "{cn}" of relation "{rel.name}" does not exist')
        by_name[cn] = frame.cols[i]
    if "epoch" not in by_name:
        raise errors.NotNullViolation(f'null value in column "epoch" of relation "{rel.name}"')
    n = frame.n
    if n == 0:
        return []
    ep = by_name["epoch"]
    if not pa.types.is_timestamp(ep.type):
        if pa.types.is_integer(ep.type):
            ep = pc.cast(pc.multiply(pc.cast(ep, pa.int64()), US), TS)  # Unix seconds, as MarketStore
        else:
            ep = cast_value(ep, TS, tz)
    if ep.null_count:
        raise errors.NotNullViolation(f'null value in column "epoch" of relation "{rel.name}"')
    us = pc.cast(ep, pa.int64()).to_numpy(zero_copy_only=False)
    secs = np.floor_divide(us, US)
    data: dict[str, np.ndarray] = {"Epoch": secs.astype(np.int64, copy=False)}
    if rel.variable_length:
        if "nanoseconds" in by_name:
            data["Nanoseconds"] = _np(by_name["nanoseconds"], "i4", "nanoseconds")
        else:
            data["Nanoseconds"] = ((us - secs * US) * 1000).astype(np.int32)
    for c in rel.columns:
        if c.storage in (None, "Epoch", "Nanoseconds"):
            continue
        dt = rel.dtypes.get(c.storage, "f8")
        if c.name in by_name:
            data[c.storage] = _np(by_name[c.name], dt, c.name)
        else:
            # MarketStore has no NULLs: an omitted column is zero, as a sparse slot reads back
            data[c.storage] = np.zeros(n, dtype=np.dtype("<U16") if dt == "U16" else np.dtype(dt))
    variable = rel.variable_length
    if rel.kind == "bucket":
        return [(rel.name, data, variable)]
    if "symbol" not in by_name:
        raise errors.NotNullViolation(f'null value in column "symbol" of relation "{rel.name}"')
    sym = by_name["symbol"]
    if not pa.types.is_string(sym.type):
        sym = cast_value(sym, pa.string(), tz)
    if sym.null_count:
        raise errors.NotNullViolation(f'null value in column "symbol" of relation "{rel.name}"')
    out: list[tuple[str, dict[str, np.ndarray], bool | None]] = []
    runs = _symbol_runs(sym, n)
    if runs is not None:
        # each symbol's rows are contiguous (clients COPY a symbol at a time): slices, without
        # the sort and the per-column gathers
        for a, b, s in runs:
            out.append((f"{s}/{rel.timeframe}/{rel.attrgroup}", {k: v[a:b] for k, v in data.items()},
                        variable))
        return out
    gid, ng = group_ids([sym], n)
    order = np.argsort(gid, kind="stable")
    bounds = np.flatnonzero(np.diff(gid[order])) + 1
    for idx in np.split(order, bounds):
        s = sym[int(idx[0])].as_py()
        tbk = f"{s}/{rel.timeframe}/{rel.attrgroup}"
        out.append((tbk, {k: v[idx] for k, v in data.items()}, variable))
    return out


_MAX_RUNS = 4096  # more symbol runs than this: sorting the symbols costs no more than the runs


def _symbol_runs(sym, n: int) -> list[tuple[int, int, str]] | None:
    """[(first row, end row, symbol)] when every symbol's rows are contiguous, found by comparing
    neighbours (one vectorised pass; group_ids sorts every value); None otherwise."""
    if isinstance(sym, pa.ChunkedArray):
        sym = sym.combine_chunks()
    change = np.flatnonzero(pc.not_equal(sym.slice(1), sym.slice(0, n - 1)).to_numpy(
        zero_copy_only=False)) + 1 if n > 1 else np.zeros(0, np.int64)
    if len(change) >= _MAX_RUNS:
        return None
    edges = [0, *change.tolist(), n]
    names = sym.take(pa.array(edges[:-1], pa.int64())).to_pylist()
    if len(set(names)) != len(names):
        return None
    return list(zip(edges[:-1], edges[1:], names, strict=True))


def _np(arr, dt: str, name: str) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise errors.NotNullViolation(f'null value in column "{name}" violates not-null constraint',
                                      detail="MarketStore buckets cannot store NULL")
    if dt == "U16":
        if not pa.types.is_string(arr.type):
            arr = cast_value(arr, pa.string())
        a = np.array(arr.to_pylist(), dtype="<U16") if len(arr) else np.zeros(0, "<U16")
        return a
    if dt == "bool":
        if not pa.types.is_boolean(arr.type):
            arr = cast_value(arr, pa.bool_())
        return arr.to_numpy(zero_copy_only=False).astype(bool)
    if pa.types.is_string(arr.type):
        arr = cast_value(arr, pa.float64() if dt.startswith("f") else pa.int64())
    if pa.types.is_timestamp(arr.type):
        arr = pc.cast(arr, pa.int64())
    npv = arr.to_numpy(zero_copy_only=False)
    target = np.dtype(dt)
    if target.kind in "iu" and npv.dtype.kind == "f":
        npv = np.round(npv)
    if target.kind in "iu":
        info = np.iinfo(target)
        if npv.size and (npv.min() < info.min or npv.max() > info.max):
            raise errors.NumericValueOutOfRange(f'value out of range for column "{name}"')
    return npv.astype(target, copy=False)  # Arrow's buffer as is when the type matches
