"""Extended query protocol (docs §55.2.3): Parse/Bind/Describe/Execute/Close/Sync/Flush over
named and unnamed statements and portals, as a mixin of Connection. Describe never executes
(the planner's Prepared carries parameter types and result fields); after an error the
connection discards messages until Sync. No socket I/O here: it goes through Connection."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Coroutine, Iterator
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
    def _extended_now(self, msg: Message) -> bool | Coroutine[Any, Any, None]:
        """Sync, Bind, Describe, Close, and Execute of a known fast read, without a coroutine
        (pgbench -M prepared: four messages a transaction, each a coroutine chain otherwise).
        Returns True when handled, False when nothing was done (the caller awaits _extended),
        or a coroutine that finishes the message. No flush: the main loop writes when the
        input runs dry or the output grows large."""
        t = msg.type
        if t == b"S":
            self._sync()
            return True
        with self._message_errors():
            if t == b"B":
                self._bind(m.parse_bind(msg.body))
            elif t == b"D":
                self._describe(*m.parse_describe_or_close(msg.body, "Describe"))
            elif t == b"E":
                rest = self._execute_now(*m.parse_execute(msg.body))
                if rest is not True:
                    return rest if rest is False else self._guard(rest)
            elif t == b"C":
                self._close(msg)
            else:
                return False
        return True

    async def _guard(self, step: Coroutine[Any, Any, None]) -> None:
        """Await the rest of an extended-protocol message, its failure handled as _extended does."""
        with self._message_errors():
            await step

    async def _extended(self, msg: Message) -> None:
        t = msg.type
        if t == b"S":
            self._sync()
            await self.flush()
            return
        if t == b"H":
            await self.flush()
            return
        with self._message_errors():
            if t == b"P":
                await self._parse(m.parse_parse(msg.body))
            elif t == b"B":
                self._bind(m.parse_bind(msg.body))
            elif t == b"D":
                self._describe(*m.parse_describe_or_close(msg.body, "Describe"))
            elif t == b"E":
                await self._execute(*m.parse_execute(msg.body))
            elif t == b"C":
                self._close(msg)
        if self._out_size >= FLUSH_BYTES:   # (inline: a coroutine call per message adds up)
            await self.flush()

    @contextlib.contextmanager
    def _message_errors(self) -> Iterator[None]:
        """A failing extended-protocol message: its error to the client, then discard until
        Sync. A closed connection, a FATAL error and a protocol violation go up."""
        try:
            yield
        except (_Closed, Fatal, errors.ProtocolViolation):
            raise
        except Exception as exc:
            self._end_statement()
            self._error(exc)
            self.state = State.EXT_ERROR

    def _sync(self) -> None:
        self._end_statement()
        if self.state is not State.EXT_ERROR:
            self._after_statement()
        if self.session.txn_status == "I":
            self.portals.clear()
        self._ready()

    def _close(self, msg: Message) -> None:
        kind, name = m.parse_describe_or_close(msg.body, "Close")
        (self.statements if kind == b"S" else self.portals).pop(name, None)
        self.send(m.CLOSE_COMPLETE)

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
                                   inline=self.session.runs_on_loop(p.query)
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
            self.send(self._row_description(prep.fields, [0] * len(prep.fields)) if prep.fields else m.NO_DATA)
            return
        portal = self.portals.get(name)
        if portal is None:
            raise errors.InvalidCursorName(f'portal "{name}" does not exist')
        portal.described = True
        # the Fields list is the Prepared's own, so the memo (keyed by its identity) holds
        self.send(self._row_description(portal.fields, portal.formats) if portal.fields else m.NO_DATA)

    def _execute_now(self, name: str, limit: int) -> bool | Coroutine[Any, Any, None]:
        """Execute a portal whose statement runs on the loop (as `runs_inline`: a known fast read,
        or a lazy latest-per-symbol read) with its rows from the wire's cache, or encoded here
        for a fast read. True when done; False, with nothing done, for any other portal; or the
        coroutine that sends what the rows cache does not hold (`_finish_execute`)."""
        portal = self.portals.get(name)
        if portal is None or portal.result is not None or portal.done or limit > 0 or portal.sent \
                or isinstance(portal.bound, Prepared):
            return False
        text = portal.bound.prepared.stmt[1]
        scan = self.session.inline_scan(text)          # a known fast read (Session.is_fast)
        lazy = scan is None and self.session.runs_lazily(text)
        if scan is None and not lazy:
            return False
        fast = scan is not None
        # a repeat whose rows the wire holds is answered without running it
        key = self.session.lazy_fast_key(portal.bound, scan) if scan is not None else None
        self._start_statement()
        self.metric("queries_total")
        t0 = time.perf_counter()
        handed_on = False
        try:
            if key is None or not self._send_held(key, portal):
                self.inline = True
                res = portal.result = self.session.run(portal.bound)
                self.inline = fast      # a lazy result's rows, on a miss, are read in a worker
                if not self._send_cached(res, portal):
                    handed_on = True    # _finish_execute ends the statement
                    return self._finish_execute(portal, "E:" + portal.bound.prepared.sql, 0, t0)
            self._after_statement()
        finally:
            if not handed_on:
                self._end_statement()
                self._observe(t0)
        self.state = State.IDLE
        return True

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
        await self._finish_execute(portal, "E:" + portal.bound.prepared.sql, limit, time.perf_counter())

    async def _finish_execute(self, portal: Portal, key: str, limit: int, t0: float) -> None:
        """Execute after its statement started: run it unless already run, send the rows."""
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
