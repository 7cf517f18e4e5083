"""Extended query protocol (docs §55.2.3): Parse/Bind/Describe/Execute/Close/Sync/Flush over
named and unnamed statements and portals, as a mixin of Connection. Describe never executes
(the planner's Prepared carries parameter types and result fields); after an error the
connection discards messages until Sync. No socket I/O here: it goes through Connection."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pgmkts import errors
from pgmkts.planner import fastinsert
from pgmkts.planner.result import Prepared
from pgmkts.storage.asyncwrite import NOT_INLINE, run_deferred
from pgmkts.wire import messages as m
from pgmkts.wire.framing import FLUSH_BYTES, Message
from pgmkts.wire.notify import parse_notify
from pgmkts.wire.portal import Portal
from pgmkts.wire.state import Fatal, State, _Closed
from pgmkts.wire.types import decode_param


class ExtendedMixin:
    """Needs from Connection: session, statements, portals, state, send, flush, maybe_flush, call,
    metric, _start_statement, _end_statement, _after_statement, _ready, _error, _observe,
    _send_result, _notify."""

    state: State

    if TYPE_CHECKING:   # the attributes above live on Connection
        def __getattr__(self, name: str) -> Any: ...

    # ------------------------------------------------------------------ extended protocol
    async def _extended(self, msg: Message) -> None:
        t = msg.type
        if t == b"S":
            self._end_statement()
            if self.state is not State.EXT_ERROR:
                self._after_statement()
            if self.session.txn_status == "I":
                self.portals.clear()
            self._ready()
            await self.flush()
            return
        if t == b"H":
            await self.flush()
            return
        try:
            if t == b"P":
                await self._parse(m.parse_parse(msg.body))
            elif t == b"B":
                self._bind(m.parse_bind(msg.body))
            elif t == b"D":
                self._describe(*m.parse_describe_or_close(msg.body, "Describe"))
            elif t == b"E":
                await self._execute(*m.parse_execute(msg.body))
            elif t == b"C":
                kind, name = m.parse_describe_or_close(msg.body, "Close")
                (self.statements if kind == b"S" else self.portals).pop(name, None)
                self.send(m.CLOSE_COMPLETE)
        except (_Closed, Fatal):
            raise
        except errors.ProtocolViolation:
            raise
        except Exception as exc:
            self._end_statement()
            self._error(exc)
            self.state = State.EXT_ERROR
        if self._out_size >= FLUSH_BYTES:   # (inline: a coroutine call per message adds up)
            await self.flush()

    async def _parse(self, p) -> None:
        if p.name and p.name in self.statements:
            e = errors.PgmktsError(f'prepared statement "{p.name}" already exists')
            e.sqlstate = "42P05"
            raise e
        note = parse_notify(p.query)
        if note is not None:
            prep = Prepared(p.query, [], None, stmt=("notify", note))
        else:
            # a cached INSERT's Parse is a dict look-up: no thread hand-off (ADBC Parses per execution)
            prep = await self.call(lambda: self.session.prepare(p.query, p.param_oids), "P:" + p.query,
                                   inline=self.session.is_fast(p.query)
                                   or self.session.insert_prepared(p.query, p.param_oids))
        prep.name = p.name
        self.statements[p.name] = prep
        self.send(m.PARSE_COMPLETE)

    def _statement(self, name: str) -> Prepared:
        prep = self.statements.get(name)
        if prep is None:
            raise errors.InvalidPreparedStatement(f'prepared statement "{name}" does not exist')
        return prep

    def _bind(self, b) -> None:
        prep = self._statement(b.statement)
        if b.portal and b.portal in self.portals:
            e = errors.PgmktsError(f'portal "{b.portal}" already exists')
            e.sqlstate = "42P03"
            raise e
        oids = prep.param_oids
        if len(b.params) != len(oids):
            raise errors.ProtocolViolation(
                f"bind message supplies {len(b.params)} parameters, but prepared statement "
                f'"{prep.name}" requires {len(oids)}')
        fmts = b.param_formats * len(b.params) if len(b.param_formats) == 1 else b.param_formats
        values = [decode_param(oids[i], fmts[i] if fmts else 0, raw) for i, raw in enumerate(b.params)]
        bound = prep if isinstance(prep.stmt, tuple) and prep.stmt[0] == "notify" else \
            self.session.bind(prep, values)
        fields = prep.fields
        formats = m.per_column(b.result_formats, len(fields)) if fields else []
        self.portals[b.portal] = Portal(bound, formats, fields)
        self.send(m.BIND_COMPLETE)

    def _describe(self, kind: bytes, name: str) -> None:
        if kind == b"S":
            prep = self._statement(name)
            self.send(m.parameter_description(prep.param_oids))
            self.send(m.row_description(prep.fields, [0] * len(prep.fields)) if prep.fields else m.NO_DATA)
            return
        portal = self.portals.get(name)
        if portal is None:
            raise errors.InvalidCursorName(f'portal "{name}" does not exist')
        portal.described = True
        # the Fields list is the Prepared's own, so the memo (keyed by its identity) holds
        self.send(self._row_description(portal.fields, portal.formats) if portal.fields else m.NO_DATA)

    async def _execute(self, name: str, limit: int) -> None:
        portal = self.portals.get(name)
        if portal is None:
            raise errors.InvalidCursorName(f'portal "{name}" does not exist')
        if isinstance(portal.bound, Prepared):      # intercepted NOTIFY
            self._notify(*portal.bound.stmt[1])
            self.send(m.command_complete("NOTIFY"))
            return
        if portal.done:
            self.send(m.command_complete(portal.result.tag if portal.result and not portal.result.fields
                                         else "SELECT 0"))
            return
        self._start_statement()
        self.metric("queries_total")
        t0 = time.perf_counter()
        key = "E:" + portal.bound.prepared.sql
        try:
            if portal.result is None:
                text = portal.bound.prepared.stmt[1]
                res = NOT_INLINE
                if fastinsert.runs_inline(self.session.engine, text):
                    # a durable one-row append: run here and await the fsync (no worker hops)
                    self.inline = True
                    res = await run_deferred(self.session.engine, lambda: self.session.run(portal.bound))
                if res is NOT_INLINE:
                    res = await self.call_statement(lambda: self.session.run(portal.bound), text, key)
                portal.result = res
            finished = await self._send_result(portal.result, portal, key=key, limit=max(limit, 0))
            if finished:
                portal.done = True
            self._after_statement()
        finally:
            self._end_statement()
            self._observe(t0)
        self.state = State.IDLE
