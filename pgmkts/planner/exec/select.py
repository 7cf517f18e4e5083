"""SELECT execution: source → WHERE → GROUP BY/aggregates → HAVING → windows → projection →
ORDER BY → DISTINCT [ON] → OFFSET/LIMIT, plus set operations and sub-queries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import functions
from pgmkts.planner import plan as P
from pgmkts.planner.exec import scan as S
from pgmkts.planner.exec.agg import eval_agg
from pgmkts.planner.exec.expr import Evaluator, is_aggregate, node_key
from pgmkts.planner.exec.frame import Ctx, Frame, concat_frames
from pgmkts.planner.exec.keys import first_occurrence, group_ids, order_indices
from pgmkts.planner.exec.values import broadcast, cast_value, common_type
from pgmkts.planner.exec.window import eval_window


def run_query(plan, ctx: Ctx) -> Frame:
    saved = ctx.ctes
    if getattr(plan, "ctes", None):
        ctx.ctes = dict(saved)
        for name, p, cols in plan.ctes:
            f = run_query(p, ctx)
            ctx.ctes[name] = f.requalify(name, cols) if cols else f.requalify(name)
    try:
        if isinstance(plan, P.SelectPlan):
            return run_select(plan, ctx)
        if isinstance(plan, P.SetOpPlan):
            return run_setop(plan, ctx)
        if isinstance(plan, P.ValuesPlan):
            return S.run_values(plan.node, Evaluator(ctx), None, None)
        if isinstance(plan, P.RecursivePlan):
            return run_recursive(plan, ctx)
        raise errors.FeatureNotSupported(f"plan {type(plan).__name__}")
    finally:
        ctx.ctes = saved


def run_source(src, ctx: Ctx, ev: Evaluator) -> Frame:
    if isinstance(src, P.Scan):
        return S.run_scan(src, ctx, ev)
    if isinstance(src, P.NoFrom):
        return Frame([], [], 1)
    if isinstance(src, P.SubqueryScan):
        f = run_query(src.plan, ctx)
        return f.requalify(src.alias, src.colnames)
    if isinstance(src, P.CTEScan):
        f = ctx.ctes[src.name]
        return f.requalify(src.alias, src.colnames)
    if isinstance(src, P.ValuesScan):
        return S.run_values(src.node, ev, src.alias, src.colnames)
    if isinstance(src, P.FunctionScan):
        return S.run_function(src, ev)
    if isinstance(src, P.JoinNode):
        left = run_source(src.left, ctx, ev)
        right = run_source(src.right, ctx, ev)
        return S.run_join(left, right, src, ev)
    raise errors.FeatureNotSupported(f"source {type(src).__name__}")


def output_name(e: exp.Expression) -> str:
    """The column name PostgreSQL gives a select-list item."""
    if isinstance(e, exp.Alias):
        return e.alias if e.args["alias"].args.get("quoted") else e.alias.lower()
    if isinstance(e, exp.Column):
        return e.name if e.this.args.get("quoted") else e.name.lower()
    if isinstance(e, exp.Paren):
        return output_name(e.this)
    if isinstance(e, exp.Cast):
        inner = e.this
        while isinstance(inner, exp.Cast):
            inner = inner.this
        if isinstance(e.this, exp.Column | exp.Func | exp.Cast) and not isinstance(inner, exp.Literal):
            return output_name(e.this)  # type: ignore[arg-type]
        return _PG_TYPE_NAMES.get(e.to.this.name, e.to.sql().lower())
    if isinstance(e, exp.Window):
        return output_name(e.this)
    if isinstance(e, exp.Filter | exp.WithinGroup):
        return output_name(e.this)
    if isinstance(e, exp.Subquery):
        sel = e.this
        if isinstance(sel, exp.Select) and sel.expressions:
            return output_name(sel.expressions[0])
        return "?column?"
    if isinstance(e, exp.Exists):
        return "exists"
    if isinstance(e, exp.AtTimeZone):
        return "timezone"
    if isinstance(e, exp.Case | exp.If):
        return "case"
    if isinstance(e, exp.Anonymous):
        return e.name.lower()
    if isinstance(e, exp.Trim):
        pos = (e.args.get("position") or "").upper()
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(pos, "btrim")
    if isinstance(e, exp.Pow):
        return "power"  # sqlglot cannot tell power(a, b) from a ^ b; PostgreSQL names the latter ?column?
    if isinstance(e, exp.Binary | exp.Unary | exp.Not | exp.Connector | exp.Predicate):
        return "?column?"
    if isinstance(e, exp.Func):
        special = {exp.TimestampTrunc: "date_trunc", exp.Extract: "extract", exp.UnixToTime: "to_timestamp",
                   exp.CurrentTimestamp: "now", exp.Substring: "substr", exp.TimeToStr: "to_char",
                   exp.StrToTime: "to_timestamp", exp.Pow: "power", exp.DateBin: "date_bin",
                   exp.CurrentUser: "current_user", exp.SessionUser: "session_user",
                   exp.CurrentVersion: "version", exp.CurrentSchema: "current_schema",
                   exp.CurrentDatabase: "current_database", exp.GroupConcat: "string_agg",
                   exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or", exp.StddevSamp: "stddev_samp",
                   exp.StddevPop: "stddev_pop", exp.VariancePop: "var_pop", exp.ArrayAgg: "array_agg",
                   exp.StrPosition: "strpos", exp.RowNumber: "row_number", exp.FirstValue: "first_value",
                   exp.LastValue: "last_value", exp.Ceil: "ceil", exp.CurrentDate: "current_date",
                   exp.SplitPart: "split_part", exp.Nullif: "nullif", exp.Trim: "btrim",
                   exp.PercentileCont: "percentile_cont", exp.PercentileDisc: "percentile_disc",
                   exp.Rand: "random"}
        if type(e) in special:
            return special[type(e)]
        if isinstance(e, exp.Trim):
            return "btrim"
        try:
            return functions.signature(e)[0]
        except errors.PgmktsError:
            return e.sql_name().lower()
    return "?column?"


_PG_TYPE_NAMES = {"INT": "int4", "BIGINT": "int8", "SMALLINT": "int2", "FLOAT": "float4", "DOUBLE": "float8",
                  "DECIMAL": "numeric", "TEXT": "text", "VARCHAR": "varchar", "BOOLEAN": "bool",
                  "TIMESTAMPTZ": "timestamptz", "TIMESTAMP": "timestamp", "DATE": "date",
                  "INTERVAL": "interval", "REGCLASS": "regclass", "OID": "oid", "NAME": "name"}


def _expand_items(sel: exp.Select, f: Frame) -> list[tuple[exp.Expression | int, str]]:
    """Select list with * expanded: (expression or source column index, output name)."""
    out: list[tuple[exp.Expression | int, str]] = []
    for e in sel.expressions:
        if isinstance(e, exp.Star):
            out.extend((i, nm) for i, (_q, nm) in enumerate(f.names) if not nm.startswith("__"))
            continue
        if isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
            q = e.table
            hits = [(i, nm) for i, (qq, nm) in enumerate(f.names) if qq == q]
            if not hits:
                raise errors.UndefinedTable(f'missing FROM-clause entry for table "{q}"')
            out.extend(hits)
            continue
        out.append((e, output_name(e)))
    return out


def _collect(nodes: list[exp.Expression], pred) -> list[exp.Expression]:
    """Nodes satisfying pred, not descending into sub-queries; aggregates inside windows count."""
    found: dict[str, exp.Expression] = {}

    def visit(n: exp.Expression) -> None:
        if isinstance(n, exp.Subquery | exp.Select) and n is not None:
            return
        if pred(n):
            found.setdefault(node_key(n), n)
            if not isinstance(n, exp.Window):
                return
        for child in n.iter_expressions():
            visit(child)

    for n in nodes:
        visit(n)
    return list(found.values())


def _is_agg_call(n: exp.Expression) -> bool:
    if isinstance(n.parent, exp.Window) and n.parent.this is n:
        return False
    if isinstance(n.parent, exp.Filter) and n.parent.this is n:
        return False
    return is_aggregate(n)


def _resolve_ref(k: exp.Expression, items, f: Frame, allow_alias: bool):
    """GROUP BY / ORDER BY item: ordinal → select item; bare alias → select item."""
    if isinstance(k, exp.Literal) and not k.is_string:
        i = int(k.this) - 1
        if not 0 <= i < len(items):
            raise errors.UndefinedColumn(f"position {k.this} is not in select list")
        return items[i]
    if allow_alias and isinstance(k, exp.Column) and not k.table and not isinstance(k.this, exp.Star):
        nm = k.name if k.this.args.get("quoted") else k.name.lower()
        if f.find(nm, None) is None:
            hits = [it for it in items if it[1] == nm]
            if hits:
                return hits[0]
    return None


def run_select(plan: P.SelectPlan, ctx: Ctx) -> Frame:
    ev = Evaluator(ctx)
    sel = plan.node
    ctx.check_cancel()
    f = run_source(plan.source, ctx, ev)
    ctx.check_cancel()
    if plan.where is not None:
        f = f.filter(ev.eval_bool(plan.where, f))
    items = _expand_items(sel, f)
    order = sel.args.get("order")
    order_nodes = [o.this for o in order.expressions] if order is not None else []
    having = sel.args.get("having")

    if plan.has_agg:
        f = _aggregate(plan, f, items, order_nodes, having, ev)
        # items referencing input columns by index are not allowed in aggregates
        if any(isinstance(e, int) for e, _ in items):
            raise errors.GroupingError("SELECT * is not allowed with GROUP BY unless grouped by every column")

    if plan.has_window:
        wins = _collect([e for e, _ in items if not isinstance(e, int)] + order_nodes,
                        lambda n: isinstance(n, exp.Window))
        subst = dict(f.subst or {})
        for w in wins:
            assert isinstance(w, exp.Window)
            subst[node_key(w)] = eval_window(ev, w, f)
        f.subst = subst

    out_cols, out_names, out_meta = [], [], []
    for e, name in items:
        if isinstance(e, int):
            out_cols.append(f.cols[e])
            out_meta.append(f.meta[e])
        else:
            v = ev.eval(e.this if isinstance(e, exp.Alias) else e, f)
            out_cols.append(broadcast(v, f.n) if not isinstance(v, pa.Array | pa.ChunkedArray) else v)
            out_meta.append(_meta_for(e))
        out_names.append((None, name))
    out = Frame([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in out_cols],
                out_names, f.n, out_meta)

    # ORDER BY keys: output ordinal/alias first, else an expression over the pre-projection rows
    keys = []
    if order is not None:
        for o in order.expressions:
            ref = _resolve_ref(o.this, items, f, allow_alias=True)
            if ref is not None:
                col = out.cols[items.index(ref)]
            else:
                col = _eval_in_output(o.this, items, out, f, ev)
            desc = bool(o.args.get("desc"))
            keys.append((col, desc, _explicit_nulls(o, desc)))
    distinct = sel.args.get("distinct")
    if keys:
        perm = order_indices(keys, out.n)
        if not _is_identity(perm):
            out = out.take(perm)
            if distinct is not None and distinct.args.get("on") is not None:
                f = f.take(perm)
    if distinct is not None:
        on = distinct.args.get("on")
        if on is not None:
            on_exprs = on.expressions if isinstance(on, exp.Tuple) else [on]
            kcols = []
            for k in on_exprs:
                ref = _resolve_ref(k, items, f, allow_alias=True)
                kcols.append(out.cols[items.index(ref)] if ref is not None else
                             _eval_in_output(k, items, out, f, ev))
        else:
            kcols = out.cols
        gid, ng = group_ids(kcols, out.n)
        if ng < out.n:
            out = out.take(first_occurrence(gid, ng))
    off = sel.args.get("offset")
    lim = sel.args.get("limit")
    if off is not None or lim is not None:
        empty = Frame([], [], 1)
        o = (_count(ev.eval(off.expression, empty), "OFFSET") or 0) if off is not None else 0
        n = _count(ev.eval(lim.expression, empty), "LIMIT") if lim is not None else None
        if o < 0 or (n is not None and n < 0):
            raise errors.InvalidParameterValue("LIMIT/OFFSET must not be negative")
        out = out.slice(o, n)
    return out


def _count(v, what: str) -> int | None:
    """LIMIT/OFFSET value: NULL means none; text must be an integer (22P02), as in PostgreSQL."""
    if isinstance(v, pa.Scalar) and not v.is_valid:
        return None if what == "LIMIT" else 0
    py = v.as_py() if isinstance(v, pa.Scalar) else None
    try:
        return int(py) if not isinstance(py, str) else int(py.strip())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise errors.InvalidTextRepresentation(f'invalid input syntax for type bigint: "{py}"') from None


def _explicit_nulls(o: exp.Ordered, desc: bool) -> bool:
    # sqlglot (postgres dialect) fills nulls_first with PostgreSQL's default: NULLS FIRST for DESC
    nf = o.args.get("nulls_first")
    return desc if nf is None else bool(nf)


def _is_identity(perm: np.ndarray) -> bool:
    return len(perm) < 2 or bool(np.all(perm[1:] > perm[:-1]))


def _eval_in_output(node, items, out: Frame, f: Frame, ev):
    v = ev.eval(node, f)
    return broadcast(v, f.n)


def _meta_for(e: exp.Expression) -> dict | None:
    inner = e.this if isinstance(e, exp.Alias) else e
    if isinstance(inner, exp.Func):
        try:
            name = functions.signature(inner)[0] if not isinstance(inner, exp.Anonymous) else inner.name.lower()
        except errors.PgmktsError:
            return None
        oid = functions.RETURN_OIDS.get(name)
        if oid is not None and oid not in (25,):
            return {b"pg_oid": str(oid).encode()}
    if isinstance(inner, exp.Cast) and inner.to.this.name in ("DECIMAL", "BIGDECIMAL"):
        return {b"pg_oid": b"1700"}
    if isinstance(inner, exp.Cast) and inner.to.this.name in ("VARCHAR",):
        return {b"pg_oid": b"1043"}
    return None


def _aggregate(plan: P.SelectPlan, f: Frame, items, order_nodes, having, ev) -> Frame:
    sel = plan.node
    group = sel.args.get("group")
    gkeys: list[exp.Expression] = []
    for k in (group.expressions if group is not None else []):
        ref = _resolve_ref(k, items, f, allow_alias=True)
        if ref is not None:
            e = ref[0]
            if isinstance(e, int):
                gkeys.append(exp.column(f.names[e][1], f.names[e][0]))
            else:
                gkeys.append(e.this if isinstance(e, exp.Alias) else e)
        else:
            gkeys.append(k)
    fast = None
    if plan.downsample is not None and isinstance(plan.source, P.Scan):
        from pgmkts.planner.exec.downsample import sorted_groups
        fast = sorted_groups(plan.downsample, f, ev)
    gid: np.ndarray | None = None
    if fast is not None:
        ng, firsts = fast
        # keys are evaluated on one row per group only
        head = f.take(firsts)
        key_vals = [_undict(broadcast(ev.eval(k, head), head.n)) for k in gkeys]
    else:
        key_vals = [_undict(broadcast(ev.eval(k, f), f.n)) for k in gkeys]
    if fast is not None:
        pass  # ng/firsts from the sorted runs; gid only if an aggregate needs it
    elif gkeys:
        gid, ng = group_ids(key_vals, f.n)
        if f.n == 0:
            ng = 0
        firsts = first_occurrence(gid, ng) if ng else np.zeros(0, np.int64)
        # renumber groups by first appearance so output follows input (time) order
        remap = np.empty(ng, np.int64)
        remap[gid[firsts]] = np.arange(ng)
        gid = remap[gid] if ng else gid
    else:
        gid, ng, firsts = np.zeros(f.n, np.int64), 1, None  # type: ignore[assignment]
    cols, names, subst = [], [], {}
    for k, v in zip(gkeys, key_vals, strict=False):
        kv = v.take(pa.array(firsts)) if firsts is not None and fast is None else v
        subst[node_key(k)] = kv
        if isinstance(k, exp.Column):
            cols.append(kv)
            names.append((k.table or _qual_of(f, k), k.name if k.this.args.get("quoted") else k.name.lower()))
    sources = [e for e, _ in items if not isinstance(e, int)] + order_nodes + ([having.this] if having else [])
    for a in _collect(sources, _is_agg_call):
        v = None
        if fast is not None:
            from pgmkts.planner.exec.downsample import fast_aggregate
            v = fast_aggregate(a, f, ev, firsts, f.n)
        if v is None:
            if gid is None:
                from pgmkts.planner.exec.downsample import run_ids
                gid = run_ids(firsts, f.n)
            v = eval_agg(ev, a, f, gid, ng)
        subst[node_key(a)] = v
    g = Frame(cols, names, ng)
    g.subst = subst
    g.grouping_src = f
    if having is not None:
        m = ev.eval_bool(having.this, g)
        g2 = g.filter(m)
        if isinstance(m, pa.Scalar):
            keep = np.arange(ng) if (m.is_valid and m.as_py()) else np.zeros(0, np.int64)
        else:
            keep = np.flatnonzero(m.fill_null(False).to_numpy(zero_copy_only=False))
        g2.subst = {k: (v.take(pa.array(keep)) if isinstance(v, pa.Array) else v) for k, v in subst.items()}
        g2.grouping_src = f
        g2.n = len(keep)
        g = g2
    return g


def _undict(a):
    return a.cast(a.type.value_type) if pa.types.is_dictionary(a.type) else a


def _qual_of(f: Frame, k: exp.Column):
    i = f.find(k.name if k.this.args.get("quoted") else k.name.lower(), None)
    return f.names[i][0] if i is not None else None


def run_setop(plan: P.SetOpPlan, ctx: Ctx) -> Frame:
    left = run_query(plan.left, ctx)
    right = run_query(plan.right, ctx)
    if len(left.cols) != len(right.cols):
        raise errors.SyntaxError_(f"each {plan.kind.upper()} query must have the same number of columns")
    cols_l, cols_r = [], []
    for a, b in zip(left.cols, right.cols, strict=False):
        t = common_type([a.type, b.type])
        cols_l.append(cast_value(a, t))
        cols_r.append(cast_value(b, t))
    L = Frame(cols_l, list(left.names), left.n, list(left.meta))
    R = Frame(cols_r, [(None, n) for _q, n in left.names], right.n, list(left.meta))
    if plan.kind == "union":
        out = concat_frames([L, R])
        if plan.distinct:
            gid, ng = group_ids(out.cols, out.n)
            out = out.take(first_occurrence(gid, ng))
    else:
        both = concat_frames([L, R])
        gid, ng = group_ids(both.cols, both.n)
        lg, rg = gid[:L.n], gid[L.n:]
        in_r = np.zeros(ng, bool)
        in_r[rg] = True
        keep_mask = in_r[lg] if plan.kind == "intersect" else ~in_r[lg]
        idx = np.flatnonzero(keep_mask)
        if plan.distinct:
            _u, first = np.unique(lg[idx], return_index=True)
            idx = np.sort(idx[first])
        else:
            # INTERSECT/EXCEPT ALL: multiset semantics
            cl = np.bincount(lg, minlength=ng)
            cr = np.bincount(rg, minlength=ng)
            want = np.minimum(cl, cr) if plan.kind == "intersect" else np.maximum(cl - cr, 0)
            perm = np.argsort(lg, kind="stable")
            rank = np.empty(L.n, np.int64)
            sg = lg[perm]
            starts = np.searchsorted(sg, sg)
            rank[perm] = np.arange(L.n) - starts
            idx = np.flatnonzero(rank < want[lg])
        out = L.take(idx)
    out.names = [(None, n) for _q, n in left.names]
    node = plan.node
    order = node.args.get("order")
    ev = Evaluator(ctx)
    if order is not None:
        keys = []
        for o in order.expressions:
            k = o.this
            if isinstance(k, exp.Literal) and not k.is_string:
                col = out.cols[int(k.this) - 1]
            else:
                col = broadcast(ev.eval(k, out), out.n)
            keys.append((col, bool(o.args.get("desc")), _explicit_nulls(o, bool(o.args.get("desc")))))
        out = out.take(order_indices(keys, out.n))
    off, lim = node.args.get("offset"), node.args.get("limit")
    if off is not None or lim is not None:
        empty = Frame([], [], 1)
        o = int(ev.eval(off.expression, empty).as_py()) if off is not None else 0
        n = int(ev.eval(lim.expression, empty).as_py()) if lim is not None else None
        out = out.slice(o, n)
    return out


MAX_RECURSION = 100_000
CORRELATED_MAX_ROWS = 2000


def run_recursive(plan: P.RecursivePlan, ctx: Ctx) -> Frame:
    """PostgreSQL 7.8.2: evaluate the anchor, then the step over the working table until empty."""
    result = run_query(plan.anchor, ctx)
    names = [(plan.name, (plan.cols[i] if plan.cols and i < len(plan.cols) else nm))
             for i, (_q, nm) in enumerate(result.names)]
    result = Frame(result.cols, names, result.n, list(result.meta))
    if plan.distinct:
        gid, ng = group_ids(result.cols, result.n)
        result = result.take(first_occurrence(gid, ng))
    work = result
    parts = [result]
    total = result.n
    saved = ctx.ctes
    try:
        for _ in range(MAX_RECURSION):
            if work.n == 0:
                break
            ctx.ctes = dict(saved)
            ctx.ctes[plan.name] = work
            new = run_query(plan.step, ctx)
            cols = [cast_value(c, common_type([c.type, r.type])) for c, r in zip(new.cols, result.cols,
                                                                              strict=True)]
            new = Frame(cols, names, new.n)
            if plan.distinct and new.n:
                seen = concat_frames(parts + [new])
                gid, ng = group_ids(seen.cols, seen.n)
                first = first_occurrence(gid, ng)
                keep = first[first >= total] - total
                new = new.take(keep)
            work = new
            parts.append(new)
            total += new.n
        else:
            raise errors.ProgramLimitExceeded(f"WITH RECURSIVE did not finish after {MAX_RECURSION} steps")
    finally:
        ctx.ctes = saved
    return concat_frames([p for p in parts if p.n] or [result])


# -------------------------------------------------------------------- sub-queries

def _plan_sub(node: exp.Expression, ctx: Ctx):
    cache = getattr(ctx, "_subplans", None)
    if cache is None:
        cache = {}
        ctx._subplans = cache  # type: ignore[attr-defined]
    key = id(node)
    if key not in cache:
        cache[key] = (node, P.plan_query(node, P.Env(ctx.engine, ctx, set(ctx.ctes))))
    return cache[key][1]


def run_subquery(node: exp.Expression, ctx: Ctx, limit_one: bool = False) -> Frame:
    return run_query(_plan_sub(node, ctx), ctx)


def run_scalar_subquery(node: exp.Expression, ctx: Ctx, outer: Frame):
    try:
        sub = run_subquery(node, ctx)
    except errors.UndefinedColumn:
        if outer is None or outer.n == 0:
            raise
        return _correlated(node, ctx, outer)
    if len(sub.cols) != 1:
        raise errors.SyntaxError_("subquery must return only one column")
    if sub.n > 1:
        raise errors.CardinalityViolation("more than one row returned by a subquery used as an expression")
    if sub.n == 0:
        return pa.scalar(None, sub.cols[0].type)
    return sub.cols[0][0]


def per_outer_row(node, ctx: Ctx, outer: Frame, fn) -> list:
    """A correlated sub-query run once per outer row (bounded): fn(sub-result frame) per row."""
    if outer.n > CORRELATED_MAX_ROWS:
        raise errors.FeatureNotSupported(
            f"correlated sub-queries over more than {CORRELATED_MAX_ROWS} outer rows",
            hint="rewrite as a JOIN or GROUP BY (pgmkts runs correlated sub-queries once per outer row)")
    saved = ctx.outer
    out = []
    try:
        for i in range(outer.n):
            ctx.outer = outer.slice(i, 1)
            out.append(fn(run_subquery(node, ctx)))
    finally:
        ctx.outer = saved
    return out


def _correlated(node, ctx: Ctx, outer: Frame):
    """Correlated scalar sub-query: evaluated once per outer row (bounded)."""
    if outer.n > CORRELATED_MAX_ROWS:
        raise errors.FeatureNotSupported(
            f"correlated sub-queries over more than {CORRELATED_MAX_ROWS} outer rows",
            hint="rewrite as a JOIN or GROUP BY (pgmkts runs correlated sub-queries once per outer row)")
    saved = ctx.outer
    vals = []
    try:
        for i in range(outer.n):
            ctx.outer = outer.slice(i, 1)
            sub = run_subquery(node, ctx)
            if sub.n > 1:
                raise errors.CardinalityViolation(
                    "more than one row returned by a subquery used as an expression")
            vals.append(sub.cols[0][0] if sub.n else pa.scalar(None, sub.cols[0].type))
    finally:
        ctx.outer = saved
    t = common_type([v.type for v in vals]) if vals else pa.null()
    return pa.array([cast_value(v, t).as_py() for v in vals], t)


# ---------------------------------------------------------------------- small-query fast path
@dataclass
class FastScan:
    """A plan that is only "columns of one bucket, ordered by epoch, LIMIT n" (the dashboard /
    pgbench "last 100 bars" shape). Storage already returns such rows in time order, last-n
    reads included, so the whole of run_select reduces to a read, an optional reversal and a
    projection: no Frame, no sort key, no pyarrow compute per execution (those cost tens of µs
    each). Validated once against the general path before use (session.py)."""

    scan: P.Scan
    cols: list                    # relation columns the scan produces, as run_scan picks them
    pick: list[int]               # output column i is cols[pick[i]]
    desc: bool                    # ORDER BY epoch DESC: reverse the (ascending) storage rows
    limit: int | None             # literal LIMIT; None → evaluate scan.limit (a $n parameter)
    # the rows are a function of (text, parameters, TimeZone, bucket contents): no time bound
    # that reads now() or a parameter (plan._push_down memoises exactly the literal-only ones)
    deterministic: bool = False
    fields: list | None = None    # the general path's Fields / schema, set by validation
    schema: pa.Schema | None = None
    ok: bool | None = None        # None: not validated yet
    symbol: str | None = None     # group table with `WHERE symbol = 'X'`: that one bucket

    def tbk(self, engine) -> str | None:
        """The bucket this scan reads; None (general path) when a group's bucket is absent."""
        rel = self.scan.rel
        if self.symbol is None:
            return rel.name
        tbk = f"{self.symbol}/{rel.timeframe}/{rel.attrgroup}"
        try:
            return tbk if engine.info(tbk) is not None else None
        except Exception:   # an odd symbol literal (InvalidName): let the general path answer
            return None


def fast_spec(plan) -> FastScan | None:
    """The FastScan for `plan`, or None when any clause needs the general executor."""
    if not isinstance(plan, P.SelectPlan) or plan.ctes or plan.downsample is not None:
        return None
    if plan.where is not None or plan.has_agg or plan.has_window:
        return None
    scan = plan.source
    if not isinstance(scan, P.Scan) or scan.rel.kind not in ("bucket", "group") or scan.rel.variable_length:
        return None
    symbol = None
    if scan.rel.kind == "group":
        # `FROM ohlcv_1min WHERE symbol = 'X'` (how dashboards and pgbench scripts ask): one bucket
        syms = scan.symbols
        if not syms or len(syms) != 1 or not (isinstance(syms[0], exp.Literal) and syms[0].is_string):
            return None
        symbol = syms[0].this
    elif scan.symbols is not None:
        return None
    if scan.limit is None or scan.latest_per_bucket or scan.dict_symbol:
        return None
    sel = plan.node
    for arg in ("distinct", "offset", "group", "having", "qualify", "windows", "joins", "laterals",
                "into", "locks", "sample", "kind", "with_"):
        if sel.args.get(arg):
            return None
    order, lim = sel.args.get("order"), sel.args.get("limit")
    if order is None or len(order.expressions) != 1 or lim is None or lim.expression is not scan.limit:
        return None
    rel = scan.rel
    cols = [c for c in rel.columns if scan.columns is None or c.storage in (None, "Epoch")
            or c.storage in scan.columns or c.storage == "Nanoseconds"]
    if any(c.storage is None and not (symbol is not None and c.name == "symbol") for c in cols):
        return None   # other computed columns take the general path
    by_name = {c.name: i for i, c in enumerate(cols)}
    o = order.expressions[0]
    key = o.this
    if not isinstance(key, exp.Column) or key.table not in ("", scan.alias, rel.name):
        return None
    ki = by_name.get(output_name(key))
    desc = bool(o.args.get("desc"))
    if ki is None or cols[ki].storage != "Epoch" or desc != scan.from_end:
        return None
    pick: list[int] = []
    for e in sel.expressions:
        if isinstance(e, exp.Star):
            pick.extend(range(len(cols)))
        elif isinstance(e, exp.Column) and not isinstance(e.this, exp.Star) and \
                e.table in ("", scan.alias, rel.name) and output_name(e) in by_name:
            pick.append(by_name[output_name(e)])
        else:
            return None
    limit = None
    if isinstance(scan.limit, exp.Literal) and scan.limit.is_int:
        limit = int(scan.limit.this)
    return FastScan(scan, cols, pick, desc, limit, deterministic=not scan.time or scan.memo is not None,
                    symbol=symbol)
