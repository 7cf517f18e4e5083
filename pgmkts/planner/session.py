"""Session: one per client connection. Runs statements (simple and extended protocol), keeps
settings and transaction state, buffers writes until COMMIT. See docs/INTERFACES.md."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from pgmkts import errors
from pgmkts.planner import compat, fastinsert, fastvalues
from pgmkts.planner import parse as parsemod
from pgmkts.planner import plan as P
from pgmkts.planner import settings as S
from pgmkts.planner import write as W
from pgmkts.planner.copy import parse_copy
from pgmkts.planner.copyspec import CopySpec
from pgmkts.planner.exec import overlay
from pgmkts.planner.exec.expr import Evaluator, param_scalar
from pgmkts.planner.exec.frame import Ctx, Frame
from pgmkts.planner.exec.scan import fast_bucket_columns, run_values
from pgmkts.planner.exec.select import FastScan, fast_spec, run_query
from pgmkts.planner.gucs import SettingsMixin, _show_name, current_setting_query
from pgmkts.planner.output import BATCH_ROWS, frame_fields, frame_result
from pgmkts.planner.result import Bound, Field, Prepared, Result
from pgmkts.planner.typing_ import infer_param_oids, null_param

__all__ = ["Session", "Field", "Result", "Prepared", "Bound", "CopySpec", "FastResult"]


@dataclass
class FastResult(Result):
    """A FastScan's result. `cache_key` names its rows exactly — the statement, its parameters
    and the bucket's data version read before the rows — so the wire may reuse the encoded
    DataRows of an identical earlier result instead of formatting them again."""

    cache_key: tuple | None = None
    # lazy form (Session.lazy_fast, set by the wire): `tag` is empty and `rows()` reads the rows
    # only if the wire has no encoded copy of them under `cache_key`
    rows: Callable[[], pa.RecordBatch] | None = None


_VERSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_VERSIONS_LOCK = threading.Lock()
_ENGINE_SERIAL = iter(range(1, 1 << 62))


def data_versions(engine) -> tuple[int, dict[str, int]]:
    """(serial of `engine`, its per-bucket change counters), the counters bumped by its change
    hook after every committed create/write/delete/destroy (the hook runs after the rows are
    visible and before write() returns). A reader that takes the counter *before* reading can
    only label rows with a version that is current or already retired, never a newer one.
    The serial tells engines apart (an id() may be reused after one is closed)."""
    with _VERSIONS_LOCK:
        got = _VERSIONS.get(engine)
        if got is None:
            versions: dict[str, int] = {}
            got = _VERSIONS[engine] = (next(_ENGINE_SERIAL), versions)

            def bump(_lsn, _kind, tbk, _payload) -> None:
                versions[tbk] = versions.get(tbk, 0) + 1
                versions[ANY_CHANGE] = versions.get(ANY_CHANGE, 0) + 1
            engine.subscribe_changes(bump)
        return got

ANY_CHANGE = ""   # the key (never a bucket name) counting every change of the engine: new buckets too

_PLAN_CACHE: OrderedDict[tuple, object] = OrderedDict()
_PLAN_LOCK = threading.Lock()
_PLAN_CACHE_SIZE = 512
# FastScan per cached plan (id → (plan, spec)); the plan is kept so an id is never reused
_FAST: dict[int, tuple[object, FastScan | None]] = {}
_DESCRIBED: dict[tuple[int, tuple[int, ...]], tuple[object, list[Field]]] = {}   # same keeping rule
# Session.prepare of a plain (non-catalog) query: (text, param oids, engine, catalog version)
# → (parameter oids, fields)
_PREPARED: OrderedDict[tuple, tuple[list[int], list[Field]]] = OrderedDict()
_CLEAN: dict[str, str] = {}   # _clean_text: statement text → comment-stripped text
_COPY_SPEC: dict[str, dict] = {}   # _copy_spec: COPY text (comment-stripped) → parse_copy's answer
_CONSTANT: dict[int, tuple[object, bool]] = {}   # Session.is_constant per cached plan, kept as in _FAST
_UTILITY: dict[str, str | None] = {}   # Session.cheap_utility: statement text → its utility kind
# statements that read and write no data (COMMIT only when nothing is buffered): see cheap_utility
_CHEAP_KINDS = frozenset({"begin", "start", "rollback", "abort", "savepoint", "release", "set", "reset",
                          "show", "discard", "deallocate", "close", "listen", "unlisten"})
# latest-row-per-symbol plans seen once (id → (plan, fields, schema)); the plan is kept as in _FAST
_LATEST: dict[int, tuple[object, list[Field], pa.Schema]] = {}


def _remember(memo: dict, key: Any, value: Any, limit: int = _PLAN_CACHE_SIZE) -> None:
    """Store in a bounded memo, emptied whole when full: its entries are cheap to work out
    again, and a clear is cheaper than LRU bookkeeping on every hit."""
    if len(memo) > limit:
        memo.clear()
    memo[key] = value


def _clean_text(text: str) -> str:
    """`text` without comments and a trailing ';', as plans are cached under it; asked per
    Execute, so the answer for recent statements is remembered."""
    clean = _CLEAN.get(text)
    if clean is None:
        clean = parsemod.strip_comments(text.strip().rstrip(";"))
        _remember(_CLEAN, text, clean)
    return clean


def _copy_spec(clean: str) -> dict:
    """parse_copy of a COPY statement, remembered (ADBC sends the same text per fetch, and the
    wire asks about it before it runs). A bad COPY raises each time and is not remembered."""
    spec = _COPY_SPEC.get(clean)
    if spec is None:
        spec = parse_copy(clean)
        _remember(_COPY_SPEC, clean, spec)
    return spec

FAST_INLINE_ROWS = 1000   # FastScans with a literal LIMIT up to this may run on the event loop
_KW = re.compile(r"^\s*([A-Za-z]+)")
_TXN_START = re.compile(r"^(begin|start\s+transaction)\b(.*)$", re.I | re.S)


class Session(SettingsMixin):
    def __init__(self, engine, *, user: str = "pgmkts", database: str = "pgmkts",
                 settings: dict[str, str] | None = None, read_only: bool = False) -> None:
        self.engine = engine
        self.user = user
        self.database = database
        self.read_only = read_only
        self.settings: dict[str, str] = dict(S.DEFAULTS)
        self.settings["session_authorization"] = user
        self._session_defaults: dict[str, str] = {}
        for k, v in (settings or {}).items():
            name = S.canonical(k)
            try:
                self.settings[name] = S.normalise(name, v)
            except errors.PgmktsError:
                continue
            self._session_defaults[name] = self.settings[name]
        if read_only:
            self.settings["default_transaction_read_only"] = "on"
            self.settings["transaction_read_only"] = "on"
        self.txn_status = "I"
        self.parameter_changes: list[tuple[str, str]] = []
        self.backend_pid = os.getpid()
        self.cancel_event = threading.Event()
        self.listens: set[str] = set()
        self._pending: list[tuple[str, object]] = []   # buffered writes of the open transaction
        self._txn_read_only = False
        self._saved_settings: dict[str, str] | None = None
        self._local_settings: dict[str, str] = {}
        self.lazy_fast = False   # the wire reads FastResult.rows() itself (see FastResult)

    # ------------------------------------------------------------------ settings
    # ------------------------------------------------------------------ entry points
    def execute(self, sql: str) -> Iterator[Result]:
        pieces = parsemod.split_statements(sql)
        real = [(t, off) for t, off in pieces if parsemod.strip_comments(t)]
        if not real:
            yield Result(tag="", fields=None, empty=True)
            return
        for text, off in real:
            yield self._guarded(text, [], off)

    def prepare(self, sql: str, param_oids: list[int]) -> Prepared:
        text = sql.strip().rstrip(";")
        kind = self._utility_kind(text)
        if kind is not None or not parsemod.strip_comments(text):
            return Prepared(sql, list(param_oids), self._utility_fields(kind, text), stmt=("utility", text))
        # drivers that Parse per query (asyncpg's prepare(), pgbench -M extended) repeat the
        # same text: reuse the parameter types and fields, keyed like the plan cache
        pkey = (text, tuple(param_oids), id(self.engine), W.catalog_version())
        phit = _PREPARED.get(pkey)
        if phit is not None:   # the fields list itself: the wire memoises its RowDescription by identity
            return Prepared(sql, list(phit[0]), phit[1], stmt=("sql", text))
        insert = text[:6].lower() == "insert"
        if insert:   # ADBC and psycopg (before its prepare threshold) Parse every execution
            known = fastinsert.prepared_oids(self.engine, text, list(param_oids))
            if known is not None:
                return Prepared(sql, known, None, stmt=("sql", text))
        cat = compat.catalog_tree(text)   # catalog compat (planner/compat.py): psql/driver introspection
        if cat is not None:
            fields, oids = compat.catalog_describe(cat, list(param_oids))
            return Prepared(sql, oids, fields, stmt=("sql", text))
        try:
            tree = parsemod.parse(text)
        except errors.PgmktsError:
            self._fail()
            raise
        oids = infer_param_oids(tree, list(param_oids), self.engine, self._ctx([]))
        fields = None
        if insert and isinstance(tree, exp.Insert):
            fastinsert.remember_oids(self.engine, text, list(param_oids), oids)
        if isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except | exp.Values):
            plan = self._plan(text, tree)
            # a cached plan's result columns depend only on the parameter types: drivers that
            # Parse an unnamed statement per query (pgbench -M extended, JDBC) reuse them
            dkey = (id(plan), tuple(oids))
            hit = _DESCRIBED.get(dkey)
            if hit is not None and hit[0] is plan:
                fields = list(hit[1])
            else:
                fields = self._describe(plan, oids)
                if not _has_catalog(plan):   # catalog plans are never cached: nothing to reuse
                    with _PLAN_LOCK:
                        _remember(_DESCRIBED, dkey, (plan, list(fields)), 4 * _PLAN_CACHE_SIZE)
            if not _has_catalog(plan):
                with _PLAN_LOCK:
                    _PREPARED[pkey] = (list(oids), list(fields))
                    if len(_PREPARED) > _PLAN_CACHE_SIZE:
                        _PREPARED.popitem(last=False)
        return Prepared(sql, oids, fields, stmt=("sql", text))

    def bind(self, prep: Prepared, params: list[object | None]) -> Bound:
        if len(params) != len(prep.param_oids) and prep.param_oids:
            raise errors.ProtocolViolation(
                f"bind message supplies {len(params)} parameters, but prepared statement requires "
                f"{len(prep.param_oids)}")
        return Bound(prep, list(params))

    def run(self, bound: Bound) -> Result:
        _kind, text = bound.prepared.stmt
        return self._guarded(text, bound.params, 0)

    # ------------------------------------------------------------------ dispatch
    def _guarded(self, text: str, params: list, offset: int) -> Result:
        self.cancel_event.clear()
        try:
            res = self._one(text, params)
        except errors.PgmktsError as exc:
            if exc.position is not None and offset:
                exc.position += offset
            self._fail()
            raise
        except Exception:
            self._fail()
            raise
        return res

    def _fail(self) -> None:
        if self.txn_status == "T":
            self.txn_status = "E"

    def _utility_kind(self, text: str) -> str | None:
        m = _KW.match(parsemod.strip_comments(text))
        if not m:
            return None
        kw = m.group(1).lower()
        if kw in ("begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "set",
                  "reset", "show", "discard", "deallocate", "close", "listen", "unlisten", "notify",
                  "explain", "copy", "prepare", "execute", "vacuum", "analyze", "checkpoint", "lock",
                  "truncate", "update", "grant", "revoke", "comment", "alter"):
            return kw
        return None

    def _utility_fields(self, kind: str | None, text: str) -> list[Field] | None:
        if kind == "show":
            name = parsemod.strip_comments(text).split(None, 1)[1].strip().strip('"') if len(
                text.split()) > 1 else ""
            if name.lower() == "all":
                return [Field("name", 25), Field("setting", 25), Field("description", 25)]
            return [Field(_show_name(name), 25)]
        if kind == "explain":
            return [Field("QUERY PLAN", 25)]
        return None

    def _one(self, text: str, params: list) -> Result:
        clean = parsemod.strip_comments(text)
        if not clean:
            return Result(tag="", fields=None, empty=True)
        kind = self._utility_kind(clean)
        if self.txn_status == "E" and not (kind in ("rollback", "abort", "commit", "end") or (
                kind == "rollback" and "to" in clean.lower())):
            raise errors.InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block")
        if kind in ("begin", "start"):
            return self._begin(clean)
        if kind in ("commit", "end"):
            return self._commit(clean)
        if kind in ("rollback", "abort"):
            return self._rollback(clean)
        if kind in ("savepoint", "release"):
            if self.txn_status == "I":
                e = errors.PgmktsError(f"{kind.upper()} can only be used in transaction blocks")
                e.sqlstate = "25P01"
                raise e
            return Result(tag=kind.upper(), fields=None)
        if kind == "set":
            return self._set(clean)
        if kind == "reset":
            return self._reset(clean)
        if kind == "show":
            return self._show(clean)
        if kind == "discard":
            if clean.lower().split()[1:2] == ["all"]:
                if self.txn_status != "I":
                    e = errors.PgmktsError("DISCARD ALL cannot run inside a transaction block")
                    e.sqlstate = "25001"
                    raise e
                self._reset_all()
            return Result(tag=" ".join(w.upper() for w in clean.split()[:2]), fields=None)
        if kind == "deallocate":
            return Result(tag="DEALLOCATE ALL" if "all" in clean.lower().split() else "DEALLOCATE", fields=None)
        if kind == "close":
            return Result(tag="CLOSE CURSOR ALL" if "all" in clean.lower().split() else "CLOSE CURSOR",
                          fields=None)
        if kind in ("listen", "unlisten"):
            chan = clean.split(None, 1)[1].strip() if len(clean.split()) > 1 else "*"
            chan = chan[1:-1] if chan.startswith('"') else chan.lower()
            if kind == "listen":
                self.listens.add(chan)
            elif chan == "*":
                self.listens.clear()
            else:
                self.listens.discard(chan)
            return Result(tag=kind.upper(), fields=None)
        if kind == "explain":
            return self._explain(clean, params)
        if kind == "copy":
            return self._copy(clean)
        if kind in ("vacuum", "analyze", "checkpoint"):
            if kind == "checkpoint" and hasattr(self.engine, "checkpoint"):
                self.engine.checkpoint()
            return Result(tag=kind.upper(), fields=None)
        if kind is not None:
            raise errors.FeatureNotSupported(f"{kind.upper()} is not supported by pgmkts",
                                             hint="time-series buckets are written with INSERT/COPY, "
                                                  "removed with DELETE ... WHERE epoch range")
        if params and clean[:6].lower() == "insert":
            res = self._insert_fast(clean, params)
            if res is not None:
                return res
        # bulk INSERT first: the catalog router's text scan costs ~50 ms per MB of VALUES
        if clean[:6].lower() == "insert" and len(clean) > 2000:
            fast = fastvalues.parse_insert(clean, params)
            if fast is not None:
                return self._insert_frame(*fast)
        # a cached plan means this text was parsed, routed past the catalog and planned before
        # (catalog plans are never cached): reuse it without parsing or routing again
        with _PLAN_LOCK:
            plan = _PLAN_CACHE.get((clean, id(self.engine), W.catalog_version()))
        if plan is not None:
            return self._select(clean, plan, params)
        setting = current_setting_query(clean) if not params else None
        if setting is not None:
            return self._current_setting(*setting)
        cat = compat.catalog_tree(clean)  # catalog compat (planner/compat.py): pg_catalog/information_schema
        if cat is not None:
            return compat.catalog_result(cat, self, params)
        tree = parsemod.parse(clean)
        return self._statement(clean, tree, params)

    def _statement(self, text: str, tree: exp.Expression, params: list) -> Result:
        if isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except | exp.Values):
            return self._select(text, self._plan(text, tree), params)
        if isinstance(tree, exp.Insert):
            return self._insert(tree, params)
        if isinstance(tree, exp.Delete):
            return self._delete(tree, params)
        if isinstance(tree, exp.Create):
            self._check_writable()
            return Result(tag=W.create_table(self.engine, tree), fields=None)
        if isinstance(tree, exp.Drop):
            self._check_writable()
            return Result(tag=W.drop_table(self.engine, tree), fields=None)
        if isinstance(tree, exp.Transaction):
            return self._begin("begin")
        if isinstance(tree, exp.Commit):
            return self._commit("commit")
        if isinstance(tree, exp.Rollback):
            return self._rollback("rollback")
        if isinstance(tree, exp.Update):
            raise errors.FeatureNotSupported("UPDATE (MarketStore buckets are rewritten by INSERT: last write "
                                             "wins per slot)")
        raise errors.FeatureNotSupported(f"statement {tree.key.upper()}")

    # ------------------------------------------------------------------ queries
    def _ctx(self, params: list) -> Ctx:
        ctx = Ctx(now_us=time.time_ns() // 1000, params=[param_scalar(p) for p in params],
                  settings=self.settings, session=self, engine=self.engine)
        ms = _timeout_ms(self.settings.get("statement_timeout", "0"))
        if ms > 0:
            ctx.deadline = time.monotonic() + ms / 1000.0
        return ctx

    def _plan(self, text: str, tree: exp.Expression):
        key = (text, id(self.engine), W.catalog_version())
        with _PLAN_LOCK:
            hit = _PLAN_CACHE.get(key)
            if hit is not None:
                _PLAN_CACHE.move_to_end(key)
                return hit
        plan = P.plan_query(tree, P.Env(self.engine, self._ctx([])))
        if not _has_catalog(plan):
            with _PLAN_LOCK:
                _PLAN_CACHE[key] = plan
                if len(_PLAN_CACHE) > _PLAN_CACHE_SIZE:
                    _PLAN_CACHE.popitem(last=False)
        return plan

    def _select(self, text: str, plan, params: list) -> Result:
        spec = self.fast_spec(plan)
        if spec is not None and spec.ok is not False:
            res = self._fast(text, plan, spec, params)
            if res is not None:
                return res
        res = self._latest_per_symbol(text, plan, params)
        if res is not None:
            return res
        frame = self._run_plan(plan, params)
        return frame_result(frame, f"SELECT {frame.n}")

    def _latest_per_symbol(self, text: str, plan, params: list) -> Result | None:
        """`SELECT DISTINCT ON (symbol) … FROM <group> ORDER BY symbol, epoch DESC` with no WHERE:
        its rows change only when the engine changes, so (lazy form, for the wire) it is a
        FastResult keyed by the engine's change counter, read before the rows — any write,
        delete, new bucket or destroy anywhere retires the key, and the wire reuses the encoded
        rows of an identical earlier result without running the plan. The first run goes through
        the general executor and records the fields and schema that later runs reuse."""
        if not self.lazy_fast or self._pending or not isinstance(plan, P.SelectPlan) or plan.where is not None \
                or plan.ctes or not isinstance(plan.source, P.Scan) or not plan.source.latest_per_bucket:
            return None
        serial, versions = data_versions(self.engine)
        key = (serial, W.catalog_version(), text, tuple(map(_param_key, params)), "latest",
               versions.get(ANY_CHANGE, 0))
        hit = _LATEST.get(id(plan))

        def batch(res: Result) -> pa.RecordBatch | None:
            got = list(res.batches or ())
            if not got:
                return None
            return got[0] if len(got) == 1 else pa.Table.from_batches(got).combine_chunks().to_batches()[0]

        if hit is None or hit[0] is not plan:
            general = frame_result(self._run_plan(plan, params), "")
            first = batch(general)
            if first is None:
                return None    # no rows to learn the schema from: the general path answers
            with _PLAN_LOCK:
                _remember(_LATEST, id(plan), (plan, general.fields or [], first.schema))
            return Result(tag=f"SELECT {first.num_rows}", fields=general.fields, batches=iter([first]))
        _plan, fields, schema = hit

        def rows() -> pa.RecordBatch:
            try:
                got = batch(frame_result(self._run_plan(plan, params), ""))
            except Exception:
                self._fail()
                raise
            if got is None:
                return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
            if got.schema != schema:   # e.g. a column's type changed with the catalog: keep PostgreSQL's
                raise errors.InternalError("latest-row result changed shape; run the statement again")
            return got
        return FastResult(tag="", fields=fields, cache_key=key, rows=rows)

    def fast_spec(self, plan) -> FastScan | None:
        hit = _FAST.get(id(plan))
        if hit is not None and hit[0] is plan:
            return hit[1]
        spec = fast_spec(plan)
        with _PLAN_LOCK:
            _remember(_FAST, id(plan), (plan, spec), 4 * _PLAN_CACHE_SIZE)
        return spec

    def runs_lazily(self, text: str) -> bool:
        """True when running `text` only builds a lazy FastResult (a latest-row-per-symbol plan
        seen before, `_latest_per_symbol`): the run itself is cheap enough for the event loop;
        reading its rows, needed only on a cache miss, is not."""
        if not self.lazy_fast or self._pending:
            return False
        _clean, plan = self._cached_plan(text)
        hit = _LATEST.get(id(plan)) if plan is not None else None
        return hit is not None and hit[0] is plan

    def _cached_plan(self, text: str) -> tuple[str, Any]:
        """(the cleaned text plans are cached under, the cached plan of `text` or None)."""
        clean = _clean_text(text)
        with _PLAN_LOCK:
            return clean, _PLAN_CACHE.get((clean, id(self.engine), W.catalog_version()))

    def inline_scan(self, text: str) -> tuple[str, FastScan] | None:
        """(cleaned text, FastScan) of `text`'s cached plan when the scan is validated and reads
        at most FAST_INLINE_ROWS rows (a literal LIMIT)."""
        clean, plan = self._cached_plan(text)
        spec = _inline_spec(plan)
        return None if spec is None else (clean, spec)

    def is_fast(self, text: str) -> bool:
        """True when `text` has a cached, validated FastScan plan: the wire may run it inline
        on the event loop (a read of at most LIMIT rows, no thread hop needed)."""
        return self.inline_scan(text) is not None

    def runs_on_loop(self, text: str) -> bool:
        """True when running `text` is cheap enough for the wire's event loop, no worker hand-off:
        a known small fast read (is_fast), a SELECT of literals (is_constant), one statement that
        touches no data (cheap_utility), or a COPY (q) TO STDOUT of a fast read q (ADBC's fetch).
        One plan look-up: only SELECTs have plans, only the others need the rest."""
        _clean, plan = self._cached_plan(text)
        if plan is not None:
            return _inline_spec(plan) is not None or _constant(plan)
        if self.cheap_utility(text):
            return True
        query = self.copy_query(text)
        return query is not None and self.is_fast(query)

    def copy_query(self, text: str) -> str | None:
        """The query of `COPY (query) TO STDOUT …`, None for any other statement."""
        clean = _clean_text(text)
        if clean[:4].lower() != "copy":
            return None
        try:
            spec = _copy_spec(clean)
        except errors.PgmktsError:
            return None   # reported when the statement runs
        return spec["query"].strip() if spec["direction"] == "out" and spec["query"] is not None else None

    def cheap_utility(self, text: str) -> bool:
        """True when `text` is one transaction-control or settings statement (BEGIN, SET, SHOW,
        ROLLBACK, …; COMMIT when this transaction buffered no writes): it reads and writes no
        data, so the wire runs it on the event loop rather than handing it to a worker thread
        (a simple Query took two hand-offs: ~0.5 ms for a BEGIN). Drivers send these around
        every statement (ADBC: BEGIN, SET TIME ZONE twice and COMMIT around a parametrised INSERT)."""
        kind = _UTILITY.get(text, False)
        if kind is False:
            clean = parsemod.strip_comments(text.strip().rstrip(";").strip())
            # one statement only (a ';' inside a string literal just means "not cheap")
            kind = None if ";" in clean else self._utility_kind(clean)
            if kind is None and current_setting_query(clean) is not None:
                kind = "show"   # a lone current_setting(): answered from the session's settings
            _remember(_UTILITY, text, kind)
        if kind in ("commit", "end"):
            return not self._pending
        return kind in _CHEAP_KINDS

    def is_constant(self, text: str) -> bool:
        """True when `text` has a cached plan that is a SELECT of literals and operators only
        (`SELECT 1`, the liveness probe of pools, JDBC and Grafana; see _constant)."""
        plan = self._cached_plan(text)[1]
        return plan is not None and _constant(plan)

    def _fast_key(self, text: str, spec: FastScan, params: list) -> tuple[str, tuple] | None:
        """(bucket, the result's rows-cache key) of a FastScan run now, or None when the general
        path must answer (no such bucket; this transaction's buffered writes to it)."""
        tbk = spec.tbk(self.engine)
        if tbk is None or overlay.pending_for(self, tbk):
            return None
        serial, versions = data_versions(self.engine)
        version = versions.get(tbk, 0)   # taken before the read: see data_versions
        return tbk, (serial, W.catalog_version(), text, tuple(map(_param_key, params)), tbk, version)

    def lazy_fast_key(self, bound: Bound, scan: tuple[str, FastScan]) -> tuple | None:
        """The rows-cache key that run(bound) would give its result, without running it, when
        that result would be a lazy FastResult (`scan`: inline_scan of its text; no now()
        bound, nothing buffered for its bucket, the transaction not failed): the wire answers
        a repeat whose rows it holds from them alone. None when run must decide."""
        if self.txn_status == "E" or not self.lazy_fast or not scan[1].deterministic:
            return None
        # the text the plan is cached under is the one _one hands to _fast
        got = self._fast_key(scan[0], scan[1], bound.params)
        return None if got is None else got[1]

    def _fast(self, text: str, plan, spec: FastScan, params: list) -> Result | None:
        ctx = self._ctx(params)
        got = self._fast_key(text, spec, params)
        if got is None or getattr(ctx, "schema_only", False):
            return None   # the general path reads this transaction's buffered writes too
        tbk, key = got
        small = _small(spec)
        if spec.ok and self.lazy_fast and small:
            def rows() -> pa.RecordBatch:
                try:
                    cols = fast_bucket_columns(spec, ctx, Evaluator(ctx), tbk)
                    assert cols is not None and spec.schema is not None
                    return pa.RecordBatch.from_arrays(cols, schema=spec.schema)
                except Exception:
                    self._fail()
                    raise
            return FastResult(tag="", fields=spec.fields, cache_key=key, rows=rows)
        cols = fast_bucket_columns(spec, ctx, Evaluator(ctx), tbk)
        if cols is None:
            return None
        if spec.ok is None:
            # first use: the general executor decides the fields and must agree on the rows
            general = frame_result(self._run_plan(plan, params), "")
            batch = next(general.batches, None)
            schema = batch.schema if batch is not None else None
            same = schema is not None and len(cols) == len(schema) and pa.RecordBatch.from_arrays(
                cols, schema=schema).equals(batch) and next(general.batches, None) is None
            spec.fields, spec.schema, spec.ok = general.fields, schema, same
            if not same:
                return None
        assert spec.schema is not None
        batch = pa.RecordBatch.from_arrays(cols, schema=spec.schema)
        if not small:   # large, $n LIMIT or now() bound: streamed in batches like any result, not cached
            return Result(tag=f"SELECT {batch.num_rows}", fields=spec.fields, batches=iter(
                [batch.slice(i, BATCH_ROWS) for i in range(0, batch.num_rows, BATCH_ROWS)]))
        return FastResult(tag=f"SELECT {batch.num_rows}", fields=spec.fields, batches=iter([batch]),
                          cache_key=key)

    def _run_plan(self, plan, params: list) -> Frame:
        ctx = self._ctx(params)
        return run_query(plan, ctx)

    def _describe(self, plan, oids: list[int]) -> list[Field]:
        """Result columns without reading data: run the plan over empty scans."""
        ctx = self._ctx([])
        ctx.params = [null_param(o) for o in oids]
        ctx.schema_only = True  # type: ignore[attr-defined]
        try:
            f = run_query(plan, ctx)
        except errors.PgmktsError:
            raise
        return frame_fields(f)

    # ------------------------------------------------------------------ transactions
    def _begin(self, clean: str) -> Result:
        if self.txn_status == "T":
            return Result(tag="BEGIN", fields=None,
                          notices=["there is already a transaction in progress"])
        self.txn_status = "T"
        self._pending = []
        low = clean.lower()
        self._txn_read_only = "read only" in low
        self._local_settings = {}
        if self._txn_read_only:
            self.settings["transaction_read_only"] = "on"
        return Result(tag="BEGIN" if not low.startswith("start") else "START TRANSACTION", fields=None)

    def _commit(self, clean: str) -> Result:
        if self.txn_status == "I":
            return Result(tag="COMMIT", fields=None, notices=["there is no transaction in progress"])
        if self.txn_status == "E":
            self._end_txn()
            return Result(tag="ROLLBACK", fields=None)
        pending = self._pending
        self._end_txn()
        self._apply(pending)
        return Result(tag="COMMIT", fields=None)

    def _rollback(self, clean: str) -> Result:
        low = clean.lower().split()
        if "to" in low:  # ROLLBACK TO SAVEPOINT: back to a usable transaction, writes kept
            if self.txn_status == "I":
                e = errors.PgmktsError("ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
                e.sqlstate = "25P01"
                raise e
            self.txn_status = "T"
            return Result(tag="ROLLBACK", fields=None)
        if self.txn_status == "I":
            return Result(tag="ROLLBACK", fields=None, notices=["there is no transaction in progress"])
        self._end_txn()
        return Result(tag="ROLLBACK", fields=None)

    def _end_txn(self) -> None:
        self.txn_status = "I"
        self._pending = []
        self._txn_read_only = False
        self.settings["transaction_read_only"] = self.settings.get("default_transaction_read_only", "off")
        for k, v in self._local_settings.items():
            self.set_setting(k, v)
        self._local_settings = {}

    def _apply(self, ops: list[tuple[str, object]]) -> None:
        """Writes of a committed transaction: one atomic write_many per run of writes."""
        batch: list = []
        for kind, arg in ops:
            if kind == "write":
                batch.extend(arg)  # type: ignore[arg-type]
                continue
            if batch:
                self.engine.write_many(batch)
                batch = []
            tbk, start, end = arg  # type: ignore[misc]
            self.engine.delete(tbk, start, end)  # type: ignore[has-type]
        if batch:
            self.engine.write_many(batch)

    def _check_writable(self) -> None:
        if self.read_only or self._txn_read_only or self.settings.get("default_transaction_read_only") == "on" \
                or self.settings.get("transaction_read_only") == "on":
            raise errors.ReadOnlyTransaction("cannot execute this statement in a read-only transaction")

    def _write(self, batches: list) -> int:
        n = sum(len(d["Epoch"]) for _t, d, _v in batches)
        if not batches:
            return 0
        if self.txn_status == "T":
            self._pending.append(("write", batches))
        else:
            self.engine.write_many(batches)
        return n

    # ------------------------------------------------------------------ DML
    def _insert(self, tree: exp.Insert, params: list) -> Result:
        self._check_writable()
        target = tree.this
        cols = None
        if isinstance(target, exp.Schema):
            cols = [c.name if c.args.get("quoted") else c.name.lower() for c in target.expressions]
            target = target.this
        if tree.args.get("returning") is not None or tree.args.get("conflict") is not None:
            raise errors.FeatureNotSupported("INSERT ... RETURNING / ON CONFLICT")
        ctx = self._ctx(params)
        rel = W.target_relation(self.engine, target, ctx)
        names = cols or [c.name for c in rel.columns]
        src = tree.expression
        if isinstance(src, exp.Values):
            frame = run_values(src, Evaluator(ctx), None, None)
        else:
            plan = P.plan_query(src, P.Env(self.engine, ctx))
            frame = run_query(plan, ctx)
        if len(frame.cols) > len(names):
            raise errors.SyntaxError_("INSERT has more expressions than target columns")
        names = names[:len(frame.cols)]
        batches = W.to_batches(rel, frame, names, self.settings.get("TimeZone", "UTC"))
        n = self._write(batches)
        return Result(tag=f"INSERT 0 {n}", fields=None)

    def insert_prepared(self, sql: str, param_oids: list[int]) -> bool:
        """True when prepare(sql, param_oids) is an INSERT answered from fastinsert's cache
        (no parsing): the wire may run it on the event loop."""
        text = sql.strip().rstrip(";")
        return text[:6].lower() == "insert" and \
            fastinsert.prepared_oids(self.engine, text, list(param_oids)) is not None

    def _insert_fast(self, text: str, params: list) -> Result | None:
        """INSERT ... VALUES ($1, ...) by planner/fastinsert.py; None: take the general path."""
        spec = fastinsert.spec_for(self.engine, text)
        if spec is None:
            return None
        self._check_writable()
        batches = fastinsert.build(spec, params)
        if batches is None:
            return None
        return Result(tag=f"INSERT 0 {self._write(batches)}", fields=None)

    def _insert_frame(self, target: str, cols: list[str] | None, frame: Frame) -> Result:
        """INSERT ... VALUES read by the fast tokenizer (planner/fastvalues.py)."""
        self._check_writable()
        table = parsemod.parse(f"SELECT 1 FROM {target}").args["from_"].this
        rel = W.target_relation(self.engine, table, self._ctx([]))
        names = cols or [c.name for c in rel.columns]
        if len(frame.cols) > len(names):
            raise errors.SyntaxError_("INSERT has more expressions than target columns")
        names = names[:len(frame.cols)]
        n = self._write(W.to_batches(rel, frame, names, self.settings.get("TimeZone", "UTC")))
        return Result(tag=f"INSERT 0 {n}", fields=None)

    def _delete(self, tree: exp.Delete, params: list) -> Result:
        self._check_writable()
        ctx = self._ctx(params)
        target = tree.this
        rel = W.target_relation(self.engine, target, ctx)
        where = tree.args.get("where")
        sel = exp.select("*").from_(target.copy())
        if where is not None:
            sel.set("where", where.copy())
        plan = P.plan_query(sel, P.Env(self.engine, ctx))
        if plan.where is not None:
            raise errors.FeatureNotSupported(
                "DELETE supports only epoch ranges (and symbol for group tables) in WHERE",
                hint="e.g. DELETE FROM \"AAPL/1Min/OHLCV\" WHERE epoch >= '2024-01-01' AND epoch < '2024-02-01'")
        from pgmkts.planner.bind import group_buckets
        from pgmkts.planner.exec.scan import time_bounds
        ev = Evaluator(ctx)
        start, end, none = time_bounds(plan.source, ev, Frame([], [], 1))
        if none:
            return Result(tag="DELETE 0", fields=None)
        if rel.kind == "bucket":
            tbks = [rel.name]
        else:
            infos = group_buckets(self.engine, rel.name)
            if plan.source.symbols is not None:
                want: set[str] = set()
                for e in plan.source.symbols:
                    py = ev.eval(e.this if isinstance(e, exp.Any) else e, Frame([], [], 1)).as_py()
                    want.update(map(str, py)) if isinstance(py, list) else want.add(str(py))
                infos = [b for b in infos if b.symbol in want]
            tbks = [b.tbk for b in infos]
        total = 0
        for tbk in tbks:
            if self.txn_status == "T":
                # count what this transaction sees (its own buffered writes included)
                from pgmkts.planner.exec import overlay
                ops = overlay.pending_for(self, tbk)
                base = self.engine.read(tbk, None if ops else start, None if ops else end, columns=[]) \
                    if self.engine.info(tbk) else None
                if ops:
                    base = overlay.merge(base, ops, tf_seconds=rel.tf_seconds, variable=rel.variable_length,
                                         start_ns=start, end_ns=end, limit=None, from_end=False)
                total += len(base["Epoch"]) if base else 0
                self._pending.append(("delete", (tbk, start, end)))
            else:
                total += self.engine.delete(tbk, start, end)
        return Result(tag=f"DELETE {total}", fields=None)

    # ------------------------------------------------------------------ EXPLAIN / COPY
    def _explain(self, clean: str, params: list) -> Result:
        body = clean[7:].strip()
        analyze = False
        m = re.match(r"^\(([^)]*)\)\s*(.*)$", body, re.S)
        if m:
            opts = m.group(1).lower()
            analyze = "analyze" in opts and "analyze false" not in opts
            body = m.group(2)
        else:
            while True:
                w = body.split(None, 1)
                if w and w[0].lower() in ("analyze", "verbose"):
                    analyze = analyze or w[0].lower() == "analyze"
                    body = w[1] if len(w) > 1 else ""
                    continue
                break
        tree = parsemod.parse(body)
        if not isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except | exp.Values):
            raise errors.FeatureNotSupported("EXPLAIN of statements other than queries")
        plan = self._plan(body, tree)
        lines = P.explain_lines(plan)
        if analyze:
            t0 = time.perf_counter()
            f = self._run_plan(plan, params)
            lines.append(f"Rows: {f.n}")
            lines.append(f"Execution Time: {(time.perf_counter() - t0) * 1000:.3f} ms")
        return frame_result(Frame([pa.array(lines, pa.string())], [(None, "QUERY PLAN")]), "EXPLAIN")

    def _copy_out(self, query: str, spec: dict) -> Result:
        """COPY … TO STDOUT: its query runs as that SELECT would, through the plan cache and the
        fast paths (ADBC reads every result this way: parsed and planned once, not per fetch)."""
        clean, plan = self._cached_plan(query)
        if plan is None:
            plan = self._plan(clean, parsemod.parse(clean))
        res = self._select(clean, plan, [])
        fields, fmt, options = res.fields or [], spec["format"], spec["options"]
        rows = getattr(res, "rows", None)
        if rows is not None:   # lazy: read by the wire unless it holds these rows' COPY bytes
            cs = CopySpec("out", fmt, fields, options, cache_key=getattr(res, "cache_key", None), rows=rows)
            return Result(tag="COPY", fields=None, copy=cs)
        cs = CopySpec("out", fmt, fields, options, batches=res.batches)
        return Result(tag="COPY " + res.tag.split()[-1] if res.tag.startswith("SELECT ") else "COPY",
                      fields=None, copy=cs)

    def _copy(self, clean: str) -> Result:
        spec = _copy_spec(clean)
        ctx = self._ctx([])
        if spec["direction"] == "out":
            if spec["query"] is not None:
                query = spec["query"].strip()
            else:
                cols = ", ".join(f'"{c}"' for c in spec["columns"]) if spec["columns"] else "*"
                query = f"SELECT {cols} FROM {spec['table']}"
            return self._copy_out(query, spec)
        self._check_writable()
        table = parsemod.parse(f"SELECT * FROM {spec['table']}").args["from_"].this
        rel = W.target_relation(self.engine, table, ctx)
        names = spec["columns"] or [c.name for c in rel.columns]
        fields = []
        for nm in names:
            c = rel.column(nm)
            if c is None:
                raise errors.UndefinedColumn(f'column "{nm}" of relation "{rel.name}" does not exist')
            fields.append(Field(c.name, c.oid))
        tz = self.settings.get("TimeZone", "UTC")

        def consume(table: pa.Table) -> int:
            # one chunk (what the COPY parsers build) as is: combine_chunks would copy it
            cols = [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in table.columns]
            frame = Frame(cols, [(None, n) for n in names], table.num_rows)
            return self._write(W.to_batches(rel, frame, names, tz))

        cs = CopySpec("in", spec["format"], fields, spec["options"], consume=consume)
        return Result(tag="COPY", fields=None, copy=cs)


def _inline_spec(plan) -> FastScan | None:
    """The FastScan of a cached plan when it is validated and reads at most FAST_INLINE_ROWS
    rows (a literal LIMIT): small enough to run on the event loop."""
    hit = _FAST.get(id(plan)) if plan is not None else None
    spec = hit[1] if hit is not None and hit[0] is plan else None
    if spec is None or spec.ok is not True or spec.limit is None or spec.limit > FAST_INLINE_ROWS:
        return None
    return spec


def _constant(plan) -> bool:
    """A SELECT of literals and operators only: no FROM, no function call but casts, no
    subquery. Stricter than rules.common.is_constant ("evaluable before the scan"), which admits
    any function — generate_series or repeat may take seconds, and this runs on the event loop."""
    hit = _CONSTANT.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    const = isinstance(plan, P.SelectPlan) and isinstance(plan.source, P.NoFrom) and not plan.ctes \
        and plan.where is None and not any(
            (isinstance(n, exp.Func) and not isinstance(n, exp.Cast)) or isinstance(n, exp.Subquery)
            or (isinstance(n, exp.Select) and n is not plan.node) for n in plan.node.walk())
    with _PLAN_LOCK:
        _remember(_CONSTANT, id(plan), (plan, const), 4 * _PLAN_CACHE_SIZE)
    return const


def _small(spec: FastScan) -> bool:
    """A FastScan whose result is cached by the wire: a literal LIMIT of at most
    FAST_INLINE_ROWS and no now()-relative bound."""
    return spec.limit is not None and spec.limit <= FAST_INLINE_ROWS and spec.deterministic


def _param_key(p: object) -> object:
    """A parameter as part of a result cache key: its type too (1 and 1.0 and True differ)."""
    return (type(p).__name__, p if isinstance(p, str | int | float | bool | bytes | None) else repr(p))


@functools.lru_cache(maxsize=64)   # parsed per statement otherwise; the setting rarely changes
def _timeout_ms(v: str) -> float:
    """statement_timeout as PostgreSQL reads it: plain number = ms, or with a unit (ms, s, min)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*", str(v))
    if not m:
        return 0.0
    return float(m.group(1)) * {None: 1, "ms": 1, "s": 1000, "min": 60000, "h": 3600000}[m.group(2)]


def _has_catalog(plan) -> bool:
    src = getattr(plan, "source", None)
    stack = [src] if src is not None else []
    while stack:
        s = stack.pop()
        if isinstance(s, P.Scan) and s.rel.kind == "catalog":
            return True
        if isinstance(s, P.JoinNode):
            stack += [s.left, s.right]
        if isinstance(s, P.SubqueryScan):
            if _has_catalog(s.plan):
                return True
    for side in ("left", "right"):
        p = getattr(plan, side, None)
        if p is not None and _has_catalog(p):
            return True
    return any(_has_catalog(p) for _n, p, _c in getattr(plan, "ctes", []))
