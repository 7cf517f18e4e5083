"""Parameter type inference for Parse without types (OID 0): from the context of each $n."""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from pgmkts.planner.exec.values import Interval
from pgmkts.planner.types import (
    ARRAY_OIDS,
    BOOL,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    INTERVAL,
    TEXT,
    TIMESTAMPTZ,
    TS,
)

_OID_ARROW = {BOOL: pa.bool_(), INT2: pa.int16(), INT4: pa.int32(), INT8: pa.int64(), FLOAT4: pa.float32(),
              FLOAT8: pa.float64(), TEXT: pa.string(), TIMESTAMPTZ: TS, 1114: pa.timestamp("us"),
              1082: pa.date32(), 1043: pa.string(), 19: pa.string(), 1700: pa.float64(), 26: pa.int64()}


def null_param(oid: int):
    """A typed NULL standing in for a parameter while describing a statement."""
    if oid == INTERVAL:
        return Interval()
    elem = {v: k for k, v in ARRAY_OIDS.items()}.get(oid)
    if elem is not None:
        return pa.scalar(None, pa.list_(_OID_ARROW.get(elem, pa.string())))
    return pa.scalar(None, _OID_ARROW.get(oid, pa.string()))


def _num(n: exp.Expression) -> int:
    return int(n.this.this if isinstance(n, exp.Parameter) else n.name)


def infer_param_oids(tree: exp.Expression, given: list[int], engine, ctx) -> list[int]:
    params = [n for n in tree.walk() if isinstance(n, exp.Parameter | exp.Placeholder)]
    count = max([_num(p) for p in params] + [len(given)]) if params or given else 0
    oids = list(given) + [0] * (count - len(given))
    col_types = _column_oids(tree, engine, ctx)
    target_order = _insert_columns(tree, engine, ctx)
    for p in params:
        i = _num(p) - 1
        if i < 0 or oids[i]:
            continue
        oids[i] = _from_context(p, col_types, target_order) or 0
    return [o or TEXT for o in oids]


def _column_oids(tree, engine, ctx) -> dict[str, int]:
    """Column name → OID over the statement's storage tables (for `col = $1`)."""
    from pgmkts.planner import bind
    out: dict[str, int] = {"epoch": TIMESTAMPTZ, "symbol": TEXT}
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue
        try:
            rel = bind.resolve(engine, t.name, bool(t.this.args.get("quoted")),
                               t.db.lower() if t.db else None, ctx)
        except Exception:
            continue
        for c in rel.columns:
            out.setdefault(c.name, c.oid)
    return out


def _insert_columns(tree, engine, ctx) -> list[int] | None:
    """OIDs of an INSERT's target columns, in the order VALUES fills them."""
    if not isinstance(tree, exp.Insert):
        return None
    from pgmkts.planner import bind
    target = tree.this
    names = None
    if isinstance(target, exp.Schema):
        names = [c.name if c.args.get("quoted") else c.name.lower() for c in target.expressions]
        target = target.this
    try:
        rel = bind.resolve(engine, target.name, bool(target.this.args.get("quoted")),
                           target.db.lower() if target.db else None, ctx)
    except Exception:
        return None
    if names is None:
        return [c.oid for c in rel.columns]
    by = {c.name: c.oid for c in rel.columns}
    return [by.get(n, 0) for n in names]


def _from_context(p: exp.Expression, cols: dict[str, int], target_order: list[int] | None = None) -> int | None:
    parent = p.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
        return INT8
    if isinstance(parent, exp.Any | exp.All) or (isinstance(parent, exp.Anonymous)
                                                 and parent.name.lower() == "all"):
        # col = ANY($1): the parameter is an array of the column's type
        cmp_ = parent.parent
        if isinstance(cmp_, exp.Binary) and isinstance(cmp_.this, exp.Column):
            c = cmp_.this
            base = cols.get(c.name if c.this.args.get("quoted") else c.name.lower())
            if base:
                return ARRAY_OIDS.get(base, 1009)
        return 1009
    if isinstance(parent, exp.Cast):
        # $1::int → int4, as PostgreSQL infers from the cast
        from pgmkts.planner.types import cast_target, oid_of
        try:
            t, oid = cast_target(parent.to.this.name)
        except Exception:
            return None
        if pa.types.is_interval(t):
            return INTERVAL
        return oid or oid_of(t)
    if isinstance(parent, exp.Binary | exp.Between | exp.In):
        others = [c for c in parent.iter_expressions() if c is not p]
        if isinstance(parent, exp.In):
            others = [parent.this]
        for o in others:
            if isinstance(o, exp.Column):
                nm = o.name if o.this.args.get("quoted") else o.name.lower()
                if nm in cols:
                    return cols[nm]
            if isinstance(o, exp.Interval):
                return None
    if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values) and target_order:
        idx = next((i for i, e in enumerate(parent.expressions) if e is p), -1)
        if 0 <= idx < len(target_order):
            return target_order[idx] or None
    return None
