"""Logical plans for queries: sources (scans, joins, sub-queries) plus the SELECT's clauses.

`plan_query` binds names and applies the rules in pgmkts.planner.rules; `explain` prints the
result (what is pushed down to storage). Plans hold expressions, not values: `now()` and
parameters are evaluated at execution, so a plan is cached and reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import bind
from pgmkts.planner.exec.expr import contains_aggregate, is_aggregate
from pgmkts.planner.rules.common import conjoin, conjuncts, is_constant
from pgmkts.planner.rules.distinct_on import latest_per_symbol
from pgmkts.planner.rules.downsample import Downsample, detect_downsample
from pgmkts.planner.rules.fold import fold_constants
from pgmkts.planner.rules.lastn import last_n
from pgmkts.planner.rules.projection import referenced_columns
from pgmkts.planner.rules.symbols import extract_symbols
from pgmkts.planner.rules.timerange import TimeRange, extract_time_range


@dataclass
class Scan:
    rel: bind.Relation
    alias: str | None
    time: TimeRange = field(default_factory=TimeRange)
    symbols: list[exp.Expression] | None = None
    columns: list[str] | None = None          # storage column names (None: all)
    limit: exp.Expression | None = None
    from_end: bool = False
    latest_per_bucket: bool = False
    memo: dict | None = None                  # literal-only time bounds, per TimeZone (see scan.py)
    dict_symbol: bool = False                 # symbol as a dictionary column (down-sampling only)

    def explain(self, depth: int) -> list[str]:
        pad = "  " * depth
        kind = "Bucket Scan" if self.rel.kind == "bucket" else (
            "Group Scan" if self.rel.kind == "group" else "Catalog Scan")
        cols = "epoch only" if self.columns == [] else (", ".join(self.columns) if self.columns else "all")
        out = [f"{pad}{kind} on {self.rel.name}" + (f" {self.alias}" if self.alias and
                                                     self.alias != self.rel.name else "")]
        if self.rel.kind == "group":
            syms = "all" if self.symbols is None else ", ".join(s.sql(dialect="postgres") for s in self.symbols)
            out.append(f"{pad}  Buckets: {syms}")
        if self.time:
            out.append(f"{pad}  Time Range: {self.time.text()}")
        if self.rel.kind != "catalog":
            out.append(f"{pad}  Columns: {cols}")
        if self.limit is not None:
            out.append(f"{pad}  Limit: {self.limit.sql(dialect='postgres')} "
                       f"{'from end (then reversed)' if self.from_end else 'from start'}")
        if self.latest_per_bucket:
            out.append(f"{pad}  Latest Row Per Bucket")
        return out


@dataclass
class SubqueryScan:
    plan: Any
    alias: str | None
    colnames: list[str] | None

    def explain(self, depth: int) -> list[str]:
        return [f"{'  ' * depth}Subquery Scan {self.alias or ''}".rstrip()] + explain_lines(self.plan, depth + 1)


@dataclass
class CTEScan:
    name: str
    alias: str | None
    colnames: list[str] | None

    def explain(self, depth: int) -> list[str]:
        return [f"{'  ' * depth}CTE Scan on {self.name}"]


@dataclass
class ValuesScan:
    node: exp.Values
    alias: str | None
    colnames: list[str] | None

    def explain(self, depth: int) -> list[str]:
        return [f"{'  ' * depth}Values Scan ({len(self.node.expressions)} rows)"]


@dataclass
class FunctionScan:
    node: exp.Expression
    alias: str | None
    colnames: list[str] | None

    def explain(self, depth: int) -> list[str]:
        return [f"{'  ' * depth}Function Scan {self.node.sql(dialect='postgres')}"]


@dataclass
class JoinNode:
    left: Any
    right: Any
    kind: str                 # inner | left | right | full | cross
    on: exp.Expression | None
    using: list[str] | None

    def explain(self, depth: int) -> list[str]:
        cond = self.on.sql(dialect="postgres") if self.on is not None else (
            f"USING ({', '.join(self.using)})" if self.using else "")
        return ([f"{'  ' * depth}{self.kind.title()} Join {cond}".rstrip()] + self.left.explain(depth + 1)
                + self.right.explain(depth + 1))


@dataclass
class NoFrom:
    def explain(self, depth: int) -> list[str]:
        return [f"{'  ' * depth}Result"]


@dataclass
class SelectPlan:
    node: exp.Select
    source: Any
    where: exp.Expression | None
    has_agg: bool
    has_window: bool
    downsample: Downsample | None = None
    ctes: list[tuple[str, Any, list[str] | None]] = field(default_factory=list)


@dataclass
class SetOpPlan:
    node: exp.Expression       # Union / Intersect / Except (for ORDER BY / LIMIT)
    kind: str
    distinct: bool
    left: Any
    right: Any
    ctes: list[tuple[str, Any, list[str] | None]] = field(default_factory=list)


@dataclass
class RecursivePlan:
    """WITH RECURSIVE name AS (anchor UNION [ALL] step): iterate step over the last new rows."""

    anchor: Any
    step: Any
    name: str
    cols: list[str] | None
    distinct: bool


def _refers_to(node: exp.Expression, name: str) -> bool:
    return any(isinstance(t.this, exp.Identifier) and t.name.lower() == name
               for t in node.find_all(exp.Table))


@dataclass
class ValuesPlan:
    node: exp.Values


class Env:
    """What planning needs: the engine, catalog context, CTE names in scope."""

    def __init__(self, engine, ctx=None, ctes: set[str] | None = None) -> None:
        self.engine = engine
        self.ctx = ctx
        self.ctes = set(ctes or ())

    def child(self, extra: set[str]) -> Env:
        return Env(self.engine, self.ctx, self.ctes | extra)


def plan_query(node: exp.Expression, env: Env) -> Any:
    p: Any
    ctes: list[tuple[str, Any, list[str] | None]] = []
    w = node.args.get("with_") or node.args.get("with")
    if w is not None:
        recursive = bool(w.args.get("recursive"))
        for cte in w.expressions:
            name = cte.alias_or_name.lower() if not _quoted_alias(cte) else cte.alias_or_name
            cols = _alias_columns(cte.args.get("alias"))
            body = cte.this
            if recursive and isinstance(body, exp.Union) and _refers_to(body.expression, name):
                anchor = plan_query(body.this, env)
                env = env.child({name})
                step = plan_query(body.expression, env)
                ctes.append((name, RecursivePlan(anchor, step, name, cols, bool(body.args.get("distinct"))),
                             cols))
                continue
            ctes.append((name, plan_query(body, env), cols))
            env = env.child({name})
    if isinstance(node, exp.Select):
        p = plan_select(node, env)
    elif isinstance(node, exp.Union | exp.Intersect | exp.Except):
        kind = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(node)]
        p = SetOpPlan(node, kind, bool(node.args.get("distinct")), plan_query(node.this, env),
                      plan_query(node.expression, env))
    elif isinstance(node, exp.Values):
        p = ValuesPlan(node)
    elif isinstance(node, exp.Subquery):
        p = plan_query(node.this, env)
        if node.args.get("order") or node.args.get("limit"):
            raise errors.FeatureNotSupported("ORDER BY/LIMIT after a parenthesised query")
    else:
        raise errors.FeatureNotSupported(f"statement {node.key}")
    if ctes:
        p.ctes = ctes
    return p


def _quoted_alias(cte) -> bool:
    a = cte.args.get("alias")
    return bool(a is not None and isinstance(a.this, exp.Identifier) and a.this.args.get("quoted"))


def _alias_columns(alias) -> list[str] | None:
    if alias is None or not alias.columns:
        return None
    return [c.name if c.args.get("quoted") else c.name.lower() for c in alias.columns]


def _alias_name(node) -> str | None:
    a = node.args.get("alias")
    if a is None or a.this is None:
        return None
    ident = a.this
    return ident.name if getattr(ident, "args", {}).get("quoted") else ident.name.lower()


def plan_source(src: exp.Expression, env: Env):
    if isinstance(src, exp.Table):
        fn = src.this
        if isinstance(fn, exp.Expression) and isinstance(fn, exp.Func | exp.ExplodingGenerateSeries) \
                and not isinstance(fn, exp.Identifier):
            return FunctionScan(fn, _alias_name(src) or _fn_name(fn), _alias_columns(src.args.get("alias")))
        ident = src.this
        name = ident.name
        quoted = bool(ident.args.get("quoted"))
        schema = src.db or None
        lname = name if quoted else name.lower()
        alias = _alias_name(src) or lname
        if schema is None and lname in env.ctes:
            return CTEScan(lname, alias, _alias_columns(src.args.get("alias")))
        rel = bind.resolve(env.engine, name, quoted, schema.lower() if schema else None, env.ctx)
        return Scan(rel, alias)
    if isinstance(src, exp.Subquery):
        inner = src.this
        if isinstance(inner, exp.Values):
            return ValuesScan(inner, _alias_name(src), _alias_columns(src.args.get("alias")))
        return SubqueryScan(plan_query(inner, env), _alias_name(src), _alias_columns(src.args.get("alias")))
    if isinstance(src, exp.Values):
        return ValuesScan(src, _alias_name(src), _alias_columns(src.args.get("alias")))
    if isinstance(src, exp.Unnest):
        return FunctionScan(src, _alias_name(src) or "unnest", _alias_columns(src.args.get("alias")))
    if isinstance(src, exp.Lateral):
        raise errors.FeatureNotSupported("LATERAL")
    raise errors.FeatureNotSupported(f"FROM item {src.key}")


def _fn_name(fn) -> str:
    if isinstance(fn, exp.ExplodingGenerateSeries | exp.GenerateSeries):
        return "generate_series"
    return fn.name.lower() if isinstance(fn, exp.Anonymous) else fn.sql_name().lower()


def plan_select(sel: exp.Select, env: Env) -> SelectPlan:
    frm = sel.args.get("from_") or sel.args.get("from")
    joins = sel.args.get("joins") or []
    if frm is None:
        source: Any = NoFrom()
        if joins:
            raise errors.SyntaxError_("JOIN without FROM")
    else:
        source = plan_source(frm.this, env)
        for j in joins:
            right = plan_source(j.this, env)
            side = (j.args.get("side") or "").lower()
            kind = (j.args.get("kind") or "").lower()
            if kind == "cross" or (not side and j.args.get("on") is None and not j.args.get("using")):
                jk = "cross"
            elif side in ("left", "right", "full"):
                jk = side
            else:
                jk = "inner"
            using = [u.name.lower() for u in j.args.get("using") or []] or None
            if kind in ("semi", "anti") or j.args.get("method"):
                raise errors.FeatureNotSupported(f"{kind or j.args.get('method')} join")
            source = JoinNode(source, right, jk, j.args.get("on"), using)

    has_agg = bool(sel.args.get("group")) or bool(sel.args.get("having")) or any(
        contains_aggregate(e) for e in sel.expressions)
    has_window = any(isinstance(n, exp.Window) for e in sel.expressions for n in e.walk()) or (
        sel.args.get("order") is not None and any(isinstance(n, exp.Window)
                                                  for n in sel.args["order"].walk()))
    where_node = sel.args.get("where")
    where = where_node.this if where_node is not None else None
    if where is not None and any(is_aggregate(n) for n in where.walk() if not _in_subquery(n, where)):
        raise errors.GroupingError("aggregate functions are not allowed in WHERE")
    if where is not None:
        where = fold_constants(where, _const_eval)
    _check_distinct_order(sel)
    plan = SelectPlan(sel, source, where, has_agg, has_window)
    if isinstance(source, Scan) and source.rel.kind in ("bucket", "group"):
        _push_down(plan, source)
    if isinstance(source, FunctionScan):  # table functions: see tablefuncs.py
        from pgmkts.planner import tablefuncs
        tablefuncs.push_down(plan, source)
    return plan


def _check_distinct_order(sel: exp.Select) -> None:
    """PostgreSQL's rules tying ORDER BY to DISTINCT / DISTINCT ON (else a wrong-looking answer)."""
    d, order = sel.args.get("distinct"), sel.args.get("order")
    if d is None or order is None:
        return
    items = sel.expressions
    if any(isinstance(i, exp.Star) or (isinstance(i, exp.Column) and isinstance(i.this, exp.Star))
           for i in items):
        return

    def key(e: exp.Expression) -> str:
        if isinstance(e, exp.Literal) and not e.is_string and e.this.isdigit():
            i = int(e.this) - 1
            if 0 <= i < len(items):
                e = items[i]
        if isinstance(e, exp.Column) and not e.table:
            for it in items:
                if isinstance(it, exp.Alias) and it.alias.lower() == e.name.lower():
                    e = it
        if isinstance(e, exp.Alias):
            e = e.this
        return e.sql(dialect="postgres").lower()

    on = d.args.get("on")
    obs = [key(o.this) for o in order.expressions]
    if on is not None:
        ons = [key(e) for e in (on.expressions if isinstance(on, exp.Tuple) else [on])]
        lead = obs[:len(ons)]
        if len(lead) < len(ons) and set(lead) <= set(ons) or set(lead) == set(ons):
            return
        raise errors.InvalidColumnReference(
            "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
    sel_keys = {key(i) for i in items}
    for k in obs:
        if k not in sel_keys:
            raise errors.InvalidColumnReference(
                "for SELECT DISTINCT, ORDER BY expressions must appear in select list")


def _const_eval(node: exp.Expression):
    from pgmkts.planner.exec.expr import Evaluator
    from pgmkts.planner.exec.frame import Ctx, Frame
    return Evaluator(Ctx(now_us=0)).eval(node, Frame([], [], 1))


def _in_subquery(n, root) -> bool:
    p = n.parent
    while p is not None and p is not root:
        if isinstance(p, exp.Select | exp.Subquery):
            return True
        p = p.parent
    return False


def _push_down(plan: SelectPlan, scan: Scan) -> None:
    sel = plan.node
    quals = {None, scan.alias, scan.rel.name}
    conds = [c for c in conjuncts(plan.where)]
    tr, residual = extract_time_range(conds, quals)
    scan.time = tr
    if tr and all(is_constant(e, allow_params=False, allow_now=False)
                  for e, _inc in tr.lower + tr.upper):
        scan.memo = {}
    if scan.rel.kind == "group":
        scan.symbols, residual = extract_symbols(residual, quals)
    plan.where = conjoin(residual)
    refs = referenced_columns(sel)
    if refs is not None:
        scan.columns = [c.storage for c in scan.rel.columns
                        if c.storage and c.name in refs and c.storage not in ("Epoch", "Nanoseconds")]
    ln = last_n(sel, residual, quals, plan.has_agg, plan.has_window)
    if ln is not None:
        scan.limit, scan.from_end = ln
    elif scan.rel.kind == "group" and latest_per_symbol(sel, residual, quals, plan.has_agg, plan.has_window):
        scan.latest_per_bucket = True
        scan.limit, scan.from_end = exp.Literal.number(1), True
    if plan.has_agg and not residual:
        group = sel.args.get("group")
        keys = _resolve_group_keys(sel, group.expressions if group else [])
        aggs = [n for e in sel.expressions for n in e.walk() if is_aggregate(n)]
        if keys and sel.args.get("having") is None:
            plan.downsample = detect_downsample(sel, keys, aggs, quals)
            # symbol is only a group key there: skip materialising one string per row
            scan.dict_symbol = plan.downsample is not None and not any(
                isinstance(a, exp.First | exp.Last | exp.Min | exp.Max) and a.this.name.lower() == "symbol"
                for a in aggs)


def _resolve_group_keys(sel: exp.Select, keys: list[exp.Expression]) -> list[exp.Expression]:
    out = []
    items = sel.expressions
    for k in keys:
        if isinstance(k, exp.Literal) and not k.is_string:
            i = int(k.this) - 1
            if 0 <= i < len(items):
                it = items[i]
                out.append(it.this if isinstance(it, exp.Alias) else it)
                continue
        if isinstance(k, exp.Column) and not k.table:
            hit = [it.this for it in items if isinstance(it, exp.Alias) and it.alias.lower() == k.name.lower()]
            if hit:
                out.append(hit[0])
                continue
        out.append(k)
    return out


def explain_lines(plan: Any, depth: int = 0) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    for name, p, _cols in getattr(plan, "ctes", []):
        out.append(f"{pad}CTE {name}")
        out.extend(explain_lines(p, depth + 1))
    if isinstance(plan, SetOpPlan):
        out.append(f"{pad}{plan.kind.title()}{'' if plan.distinct else ' All'}")
        out.extend(explain_lines(plan.left, depth + 1))
        out.extend(explain_lines(plan.right, depth + 1))
        return out
    if isinstance(plan, ValuesPlan):
        return out + [f"{pad}Values ({len(plan.node.expressions)} rows)"]
    sel = plan.node
    d = 0
    lines: list[str] = []
    if sel.args.get("limit") is not None or sel.args.get("offset") is not None:
        lines.append(f"{pad}Limit")
        d += 1
    if sel.args.get("order") is not None:
        keys = ", ".join(o.sql(dialect="postgres") for o in sel.args["order"].expressions)
        lines.append(f"{'  ' * (depth + d)}Sort: {keys}")
        d += 1
    if sel.args.get("distinct") is not None:
        lines.append(f"{'  ' * (depth + d)}{sel.args['distinct'].sql(dialect='postgres')}")
        d += 1
    if plan.has_window:
        lines.append(f"{'  ' * (depth + d)}WindowAgg")
        d += 1
    if plan.has_agg:
        if plan.downsample is not None:
            lines.append(f"{'  ' * (depth + d)}Downsample (sorted, per bucket): {plan.downsample.text()}")
        else:
            g = sel.args.get("group")
            keys = ", ".join(k.sql(dialect="postgres") for k in g.expressions) if g else ""
            lines.append(f"{'  ' * (depth + d)}HashAggregate{': ' + keys if keys else ''}")
        d += 1
    if plan.where is not None:
        lines.append(f"{'  ' * (depth + d)}Filter: {plan.where.sql(dialect='postgres')}")
        d += 1
    lines.extend(plan.source.explain(depth + d))
    return out + lines
