"""One PostgreSQL client connection: the only module here doing asyncio socket I/O.

An explicit `State` drives it: STARTUP → (TLS) → AUTH → IDLE ⇄ BUSY, with EXT_ERROR (discard
until Sync, docs §55.2.3) and COPY_IN sub-states. Protocol logic lives in the sans-I/O modules;
this file reads bytes, calls the planner Session (in a worker thread unless the statement is
known to be cheap), and writes with back-pressure.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from typing import Any

from pgmkts import errors
from pgmkts.planner.result import Prepared
from pgmkts.wire import auth
from pgmkts.wire import messages as m
from pgmkts.wire.copy import CopyInDecoder, CopyOutEncoder
from pgmkts.wire.extended import ExtendedMixin
from pgmkts.wire.framing import (
    CANCEL_REQUEST,
    FLUSH_BYTES,
    GSSENC_REQUEST,
    PROTOCOL_3_0,
    SSL_REQUEST,
    Framer,
    Message,
    parse_startup_params,
)
from pgmkts.wire.notify import ListenMixin, parse_notify
from pgmkts.wire.portal import Portal, parse_duration_ms, take_rows
from pgmkts.wire.state import Fatal, State, _Closed
from pgmkts.wire.types import encode_datarows

log = logging.getLogger("pgmkts.wire")

# Statements whose measured CPU time is below this run inline on the event loop instead of in a
# worker thread. Measured with pgbench "last 100 bars", 8 clients, on the shared 2-core box:
# always-thread was as fast or faster (numpy/pyarrow and the socket overlap across threads),
# so inline execution is off unless PGMKTS_WIRE_CHEAP_MS is set (e.g. 2) to re-measure.
CHEAP_SECONDS = float(os.environ.get("PGMKTS_WIRE_CHEAP_MS", "0")) / 1000
INLINE_ROWS = 2048             # batches up to this size are encoded inline after a cheap statement
CACHED_INLINE_ROWS = 256       # a FastResult this small is encoded on the loop (~1 ms text) before caching


_NOW = (b"B", b"D", b"E", b"C", b"S")   # extended-protocol messages that may need no coroutine


def _rows_key(cache_key: tuple, oids, formats, tz: str) -> tuple:
    """The wire's rows-cache key: a result's key, and how its DataRows are encoded."""
    return cache_key, tuple(oids), tuple(formats), tz


class Connection(ExtendedMixin, ListenMixin):
    def __init__(self, server: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.app = server.app
        self.cfg = server.app.config
        self.reader = reader
        self.writer = writer
        self.framer = Framer(self.cfg.limits.max_message_bytes)
        self.state = State.STARTUP
        self.session: Any = None
        self.pid = 0
        self.secret = 0
        self.user = ""
        self.tls = False
        self._out: list[bytes] = []
        self._out_size = 0
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.cancel_reason: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._idle = False
        self._pending_notifies: list[bytes] = []
        self._listen_unsubs: dict[str, Any] = {}
        self._registered = False
        self.inline = False

    # ------------------------------------------------------------------ output
    def send(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self._out_size += len(data)

    async def flush(self) -> None:
        if not self._out:
            return
        out = b"".join(self._out) if len(self._out) > 1 else self._out[0]
        self._out.clear()
        self._out_size = 0
        self.writer.write(out)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise _Closed() from e

    async def maybe_flush(self) -> None:
        if self._out_size >= FLUSH_BYTES:
            await self.flush()

    def metric(self, name: str, n: float = 1) -> None:
        c = self.server.metric_child(name)
        if c is not None:
            try:
                c.inc(n)
            except Exception:  # metrics must never break a query
                pass

    # ------------------------------------------------------------------ input
    async def _read_raw(self, size: int) -> bytes:
        """One read of up to `size` bytes (COPY IN): raises _Closed at EOF or on an error."""
        try:
            data = await self.reader.read(size)
        except (ConnectionError, OSError) as e:
            raise _Closed() from e
        if not data:
            raise _Closed()
        return data

    async def _read(self, timeout: float | None) -> None:
        try:
            if timeout:
                data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            else:
                data = await self.reader.read(1 << 16)
        except TimeoutError:
            raise   # (a subclass of OSError) the caller turns it into the right FATAL error
        except (ConnectionError, OSError) as e:
            raise _Closed() from e
        if not data:
            raise _Closed()
        self.framer.feed(data)

    async def read_message(self, timeout: float | None = None) -> Message:
        while True:
            msg = self.framer.next_message()
            if msg is not None:
                return msg
            await self._read(timeout)

    # ------------------------------------------------------------------ lifecycle
    async def run(self, first: bytes) -> None:
        try:
            self.framer.feed(first)
            try:
                await asyncio.wait_for(self._startup(), self.cfg.limits.startup_timeout_s or None)
            except TimeoutError:
                raise Fatal(errors.ProtocolViolation(
                    "canceling authentication due to timeout (limits.startup_timeout_s)")) from None
            if self.state is State.CLOSED:
                return
            await self._main_loop()
        except (Fatal, errors.PgmktsError) as f:
            # framing errors (bad lengths, oversized messages) cost only this connection
            exc = f.exc if isinstance(f, Fatal) else f
            self._out.clear()
            self.send(m.error_from_exception(exc, "FATAL"))
            try:
                await self.flush()
            except _Closed:
                pass
        except (_Closed, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connection %s failed", self.pid)
        finally:
            self.state = State.CLOSED
            self._cleanup()
            try:
                self.writer.close()
            except Exception:
                pass

    def _cleanup(self) -> None:
        if self._timer:
            self._timer.cancel()
        for chan, unsub in list(self._listen_unsubs.items()):
            if unsub:
                unsub()
            self.server.channels.unlisten(chan, self.pid)
        self._listen_unsubs.clear()
        if self._registered:
            self.server.unregister(self)
            self._registered = False
        if self.session is not None:
            self.session.cancel_event.set()   # a statement still running in a thread stops early

    # ------------------------------------------------------------------ startup & auth
    async def _startup(self) -> None:
        while True:
            pkt = self.framer.next_startup()
            if pkt is None:
                await self._read(None)
                continue
            if pkt.code == SSL_REQUEST:
                await self._ssl_request()
                continue
            if pkt.code == GSSENC_REQUEST:
                self.writer.write(b"N")
                continue
            if pkt.code == CANCEL_REQUEST:
                pid, secret = m.parse_cancel(pkt.body)
                self.server.cancel(pid, secret)
                self.state = State.CLOSED
                return
            if pkt.code >> 16 != 3:
                raise Fatal(errors.FeatureNotSupported(
                    f"unsupported frontend protocol {pkt.code >> 16}.{pkt.code & 0xFFFF}: "
                    "server supports 3.0"))
            if pkt.code != PROTOCOL_3_0:
                # 3.x with x > 0: NegotiateProtocolVersion would be polite; 3.0 is what we speak
                self.send(m.msg(b"v", (PROTOCOL_3_0).to_bytes(4, "big") + (0).to_bytes(4, "big")))
            params = parse_startup_params(pkt.body)
            break
        self.framer.startup = False
        if self.cfg.tls.required and not self.tls:
            raise Fatal(errors.InvalidAuthorization(
                "this server requires TLS (tls.required in mkts.yml); connect with sslmode=require"))
        self.user = params.get("user", "")
        if not self.user:
            raise Fatal(errors.InvalidAuthorization("no PostgreSQL user name specified in startup packet"))
        if not self.server.register(self):
            raise Fatal(errors.TooManyConnections(
                f"sorry, too many clients already (limits.max_connections = {self.cfg.limits.max_connections})"))
        self._registered = True
        self.state = State.AUTH
        role = await self._authenticate()
        self._make_session(params, role)
        self.send(m.AUTH_OK)
        for name in ("server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle",
                     "TimeZone", "integer_datetimes", "standard_conforming_strings", "application_name",
                     "is_superuser", "session_authorization", "default_transaction_read_only",
                     "in_hot_standby"):
            value = self.session.settings.get(name)
            if value is not None:
                self.send(m.parameter_status(name, value))
        self.session.parameter_changes.clear()
        self.send(m.backend_key_data(self.pid, self.secret))
        self.send(m.ready_for_query(self.session.txn_status))
        self.state = State.IDLE
        await self.flush()
        self.metric("connections_total")

    async def _ssl_request(self) -> None:
        ctx = self.server.ssl_context
        if ctx is None or self.tls:
            self.writer.write(b"N")
            return
        if self.framer.buffered:
            # bytes after SSLRequest before the handshake could be injected (CVE-2021-23214)
            raise Fatal(errors.ProtocolViolation("received unencrypted data after SSL request"))
        self.writer.write(b"S")
        await self.writer.drain()
        await self.writer.start_tls(ctx)
        self.tls = True

    def _user(self):
        for u in self.cfg.auth.users:
            if u.name == self.user:
                return u
        return None

    async def _password_message(self) -> bytes:
        self.framer.max_message_bytes = min(self.framer.max_message_bytes, 65536)
        msg = await self.read_message()
        if msg.type != b"p":
            raise Fatal(errors.ProtocolViolation(
                f"expected password response, got message type {msg.type!r}"))
        return msg.body

    async def _authenticate(self) -> str:
        method = self.cfg.auth.method
        user = self._user()
        role = user.role if user is not None else "readwrite"
        if method == "trust":
            return role
        limit = self.framer.max_message_bytes
        try:
            stored = user.password if user is not None else None
            if method == "password":
                self.send(m.AUTH_CLEARTEXT)
                await self.flush()
                given = m.parse_password(await self._password_message())
                if not auth.check_cleartext(stored, given):
                    raise Fatal(auth.failed(self.user, "cleartext"))
            elif method == "md5":
                salt = os.urandom(4)
                self.send(m.auth_md5(salt))
                await self.flush()
                given = m.parse_password(await self._password_message())
                if not auth.check_md5(self.user, stored, salt, given):
                    raise Fatal(auth.failed(self.user, "MD5"))
            else:
                self.send(m.auth_sasl(["SCRAM-SHA-256"]))
                await self.flush()
                mech, first = m.parse_sasl_initial(await self._password_message())
                if mech != "SCRAM-SHA-256":
                    raise Fatal(errors.ProtocolViolation(
                        f"client selected an invalid SASL authentication mechanism {mech!r}"))
                ex = auth.ScramExchange(self.user, auth.verifier_for(stored))
                self.send(m.auth_sasl_continue(ex.server_first(first)))
                await self.flush()
                final = await self._password_message()
                self.send(m.auth_sasl_final(ex.server_final(final)))
        except errors.PgmktsError as e:
            raise Fatal(e) from None
        finally:
            self.framer.max_message_bytes = limit
        return role

    def _make_session(self, params: dict[str, str], role: str) -> None:
        from pgmkts.planner.session import Session

        settings = {"TimeZone": self.cfg.timezone}
        for key in ("application_name", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle",
                    "search_path", "extra_float_digits", "statement_timeout"):
            if key in params:
                settings[key] = params[key]
            elif key.lower() in {k.lower() for k in params}:
                settings[key] = next(v for k, v in params.items() if k.lower() == key.lower())
        if self.cfg.limits.statement_timeout_ms and "statement_timeout" not in settings:
            settings["statement_timeout"] = str(self.cfg.limits.statement_timeout_ms)
        # asyncpg sends client_encoding='utf-8' quoted, as a GUC string literal
        enc = settings.get("client_encoding", "UTF8").strip("'\" ").upper().replace("-", "").replace("_", "")
        if enc not in ("UTF8", "UNICODE"):
            raise Fatal(errors.FeatureNotSupported(
                f'client_encoding "{settings["client_encoding"]}" is not supported: only UTF8'))
        settings["client_encoding"] = "UTF8"
        self.session = Session(self.app.engine, user=self.user, database=params.get("database") or self.user,
                               settings=settings, read_only=role == "readonly")
        self.session.lazy_fast = True   # _send_cached reads FastResult rows only on a cache miss
        self.session.backend_pid = self.pid

    # ------------------------------------------------------------------ main loop
    async def _main_loop(self) -> None:
        idle_timeout = self.cfg.limits.idle_timeout_s or None
        while True:
            msg = self.framer.next_message()
            if msg is None:
                await self.flush()
                waiting_idle = self.state is State.IDLE and self.session.txn_status == "I"
                self._idle = waiting_idle
                if waiting_idle and self._pending_notifies:
                    self._deliver_pending()
                    await self.flush()
                try:
                    await self._read(idle_timeout if waiting_idle else None)
                except TimeoutError:
                    e = errors.PgmktsError("terminating connection due to idle-session timeout "
                                           "(limits.idle_timeout_s)")
                    e.sqlstate = "57P05"
                    raise Fatal(e) from None
                finally:
                    self._idle = False
                continue
            if msg.type == b"X":
                return
            if msg.type in _NOW and (self.state is not State.EXT_ERROR or msg.type == b"S"):
                try:
                    got = self._extended_now(msg)
                    if got is not True and got is not False:
                        await got
                except errors.ProtocolViolation as e:
                    raise Fatal(e) from None
                if got is not False:
                    if self._out_size >= FLUSH_BYTES:
                        await self.flush()
                    continue
            await self._dispatch(msg)

    async def _dispatch(self, msg: Message) -> None:
        t = msg.type
        if self.state is State.EXT_ERROR and t != b"S":
            return   # docs §55.2.3: after an error, discard messages until Sync
        try:
            if t == b"Q":
                await self._simple_query(m.parse_query(msg.body))
            elif t in b"PBDECHS" and len(t) == 1:
                await self._extended(msg)
            elif t in (b"d", b"c", b"f"):
                return   # CopyData/CopyDone/CopyFail outside COPY are ignored, as PostgreSQL does
            else:
                raise Fatal(errors.ProtocolViolation(f"invalid frontend message type {t!r}"))
        except errors.ProtocolViolation as e:
            raise Fatal(e) from None

    # ------------------------------------------------------------------ running statements
    async def call(self, fn, key: str | None = None, inline: bool = False):
        """Run a planner step: inline when the planner says the statement is a known-small
        read (`inline`: a cached, validated FastScan with a small literal LIMIT — measured
        ~0.1-0.2 ms, less than the thread hand-off) or this text was measured cheap before,
        otherwise in a worker thread so a heavy scan does not stall other connections.
        Cheapness is judged on the step's own CPU time (thread_time), not wall time, so a
        busy machine or a queue in the executor does not hide a cheap statement."""
        if inline:
            self.inline = True
            return fn()
        cheap = self.server.cheap
        if key is not None and cheap.get(key):
            self.inline = True
            t0 = time.thread_time()
            out = fn()
            if time.thread_time() - t0 > CHEAP_SECONDS:
                cheap.pop(key, None)
            return out
        self.inline = False

        def timed():
            t0 = time.thread_time()
            return fn(), time.thread_time() - t0

        out, cpu = await asyncio.get_running_loop().run_in_executor(None, timed)
        if key is not None and cpu < CHEAP_SECONDS:
            self.server.mark_cheap(key)
        return out

    async def call_statement(self, fn, text: str, key: str):
        """`call` for running statement `text`: inline when it is a known fast read; inline
        with its rows left to a worker when its run only builds a lazy result
        (`Session.runs_lazily`: the rows are read only on a cache miss)."""
        fast, lazy = self.runs_inline(text)
        out = await self.call(fn, key, inline=fast or lazy)
        if lazy:
            self.inline = False
        return out

    def runs_inline(self, text: str) -> tuple[bool, bool]:
        """(fast, lazy): `text` is cheap to run on the loop (Session.runs_on_loop: run it and
        encode its rows here), or running it only builds a lazy result (run it on the loop, its
        rows on a cache miss in a worker)."""
        fast = self.session.runs_on_loop(text)
        return fast, not fast and self.session.runs_lazily(text)

    async def call_batch(self, pull, encode):
        """Pull the next batch and encode it: a statement that ran inline produced its rows
        cheaply, so pull inline too and encode inline when the batch is small."""
        if self.inline:
            got = pull()
            if got[0] is None or got[0].num_rows <= INLINE_ROWS:
                return encode(got)
            return await asyncio.get_running_loop().run_in_executor(None, encode, got)
        return await asyncio.get_running_loop().run_in_executor(None, lambda: encode(pull()))

    def _check_cancel(self) -> None:
        if self.cancel_reason is not None:
            reason = self.cancel_reason
            self.cancel_reason = None
            raise errors.QueryCanceled(f"canceling statement due to {reason}")

    def cancel(self, reason: str = "user request") -> None:
        if self.state in (State.BUSY, State.COPY_IN):
            self.cancel_reason = reason
            if self.session is not None:
                self.session.cancel_event.set()

    def _start_statement(self) -> None:
        self.cancel_reason = None
        self.state = State.BUSY
        ms = parse_duration_ms(self.session.settings.get("statement_timeout"))
        if ms > 0:
            self._timer = asyncio.get_running_loop().call_later(ms / 1000, self.cancel, "statement timeout")

    def _end_statement(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _error(self, exc: BaseException) -> None:
        if isinstance(exc, errors.QueryCanceled) and self.cancel_reason == "statement timeout":
            exc = errors.QueryCanceled("canceling statement due to statement timeout")
        if isinstance(exc, errors.PgmktsError) and exc.severity == "FATAL":
            raise Fatal(exc)
        if not isinstance(exc, errors.PgmktsError):
            log.exception("internal error in connection %s", self.pid, exc_info=exc)
        self.cancel_reason = None
        self.metric("errors_total")
        self.send(m.error_from_exception(exc))

    def _after_statement(self) -> None:
        s = self.session
        for name, value in s.parameter_changes:
            self.send(m.parameter_status(name, value))
        s.parameter_changes.clear()

    def _ready(self) -> None:
        self._end_statement()
        if self.session.txn_status == "I":
            self._deliver_pending()
        self.send(m.ready_for_query(self.session.txn_status))
        self.state = State.IDLE

    async def _simple_query(self, sql: str) -> None:
        self._start_statement()
        self.metric("queries_total")
        t0 = time.perf_counter()
        try:
            note = parse_notify(sql)
            if note is not None:
                self._notify(*note)
                self.send(m.command_complete("NOTIFY"))
            else:
                it = self.session.execute(sql)
                while True:
                    res = await self.call_statement(lambda: next(it, None), sql, sql)
                    if res is None:
                        break
                    await self._send_result(res, None, key=sql)
                    self._after_statement()
        except (_Closed, Fatal):
            raise
        except Exception as exc:  # every statement error goes to this client only
            self._after_statement()
            self._error(exc)
        self._observe(t0)
        self._ready()
        await self.flush()

    def _observe(self, t0: float) -> None:
        h = self.server.metric_child("query_seconds")
        if h is not None:
            try:
                h.observe(time.perf_counter() - t0)
            except Exception:
                pass

    async def _send_result(self, res, portal: Portal | None, key: str | None = None, limit: int = 0) -> bool:
        """Send one Result. Returns False when a row-limited portal was suspended."""
        for n in res.notices or ():
            self.send(m.notice_response(n))
        if res.empty:
            self.send(m.EMPTY_QUERY)
            return True
        if res.copy is not None:
            if res.copy.direction == "out":
                await self._copy_out(res.copy)
            else:
                await self._copy_in(res.copy)
            return True
        if res.tag in ("LISTEN", "UNLISTEN"):
            self._sync_listens()
        if res.fields is None:
            self.send(m.command_complete(res.tag))
            return True
        fields, formats, oids, tz = self._result_shape(res, portal)
        pending, batches = (None if portal is None else portal.pending), res.batches
        sent = 0
        done = False
        cache_key = getattr(res, "cache_key", None)
        data = b""
        if cache_key is not None and limit <= 0 and pending is None and (portal is None or portal.sent == 0):
            # rows first: a lazy FastResult's error must come before any RowDescription
            sent, data = await self._fast_rows(res, cache_key, oids, formats, tz)
            done = True
        elif getattr(res, "rows", None) is not None:   # lazy FastResult under a row-limited Execute
            batch = res.rows() if self.inline else await asyncio.get_running_loop().run_in_executor(None, res.rows)
            res.rows = None
            res.batches = batches = iter([batch])
            res.tag = f"SELECT {batch.num_rows}"
        if portal is None:
            self.send(self._row_description(fields, formats) if cache_key is not None
                      else m.row_description(fields, formats))
        self.send(data)
        def encode(got):
            chunk, rest, done = got
            data = encode_datarows(chunk, oids, formats, tz) if chunk is not None else b""
            return (chunk.num_rows if chunk is not None else 0), data, rest, done

        if not done and limit <= 0 and not self.inline and pending is None:
            sent = await self._stream_prefetch(batches, encode)
            done = True
        while not done:
            left = limit - sent if limit > 0 else 0
            n, data, pending, done = await self.call_batch(
                lambda pending=pending, left=left: take_rows(pending, batches, left), encode)
            self._check_cancel()
            if done:
                break
            sent += n
            self.send(data)
            await self.maybe_flush()
            if limit > 0 and sent >= limit:
                if pending is None:
                    # peek: PostgreSQL suspends only if another row exists
                    pending, _, done = take_rows(None, batches, 0)
                    if done:
                        break
                if portal is not None:
                    portal.pending = pending
                    portal.sent += sent
                self.send(m.PORTAL_SUSPENDED)
                return False
        self._result_done(res.tag, portal, sent, limit)
        return True

    def _result_shape(self, res, portal: Portal | None) -> tuple[list, list[int], list[int], str]:
        """The fields, per-column formats, type OIDs and TimeZone a result is sent with."""
        if portal is None:
            fields = res.fields
            formats = [0] * len(fields)
        else:
            fields = portal.fields if portal.fields and len(portal.fields) == len(res.fields) else res.fields
            formats = portal.formats if len(portal.formats) == len(fields) else [0] * len(fields)
        return fields, formats, [f.type_oid for f in fields], self.session.settings.get("TimeZone", "UTC")

    def _result_done(self, tag: str, portal: Portal | None, sent: int, limit: int) -> None:
        """The end of a fully sent result (its tag): counters and CommandComplete."""
        self.metric("rows_out_total", sent)
        if portal is not None:
            portal.sent += sent
            portal.done = True
            if limit > 0 or portal.sent != sent:
                tag = f"SELECT {sent}"
        self.send(m.command_complete(tag))

    def _send_held(self, cache_key: tuple, portal: Portal) -> bool:
        """The rows-cache entry under a result key the planner gave without running the
        statement (Session.lazy_fast_key), sent as that result would be; False (nothing sent)
        when the cache does not hold it or the portal announced no row description."""
        fields = portal.fields
        if not fields or len(portal.formats) != len(fields):
            return False
        hit = self.server.rows_cache.get(_rows_key(cache_key, [f.type_oid for f in fields], portal.formats,
                                                   self.session.settings.get("TimeZone", "UTC")))
        if hit is None:
            return False
        self.send(hit[1])
        self._result_done(f"SELECT {hit[0]}", portal, hit[0], 0)
        return True

    def _send_cached(self, res, portal: Portal) -> bool:
        """A FastResult for a portal not yet read from, sent without a coroutine: its DataRows
        from the rows cache, or read and encoded here (the caller ran a small read inline).
        False, with nothing sent, for any other result."""
        cache_key = getattr(res, "cache_key", None)
        if cache_key is None or res.notices or portal.pending is not None or portal.sent:
            return False
        _fields, formats, oids, tz = self._result_shape(res, portal)
        hit = self._fast_rows_now(res, cache_key, oids, formats, tz, INLINE_ROWS)
        if hit is None:
            return False
        self.send(hit[1])
        self._result_done(res.tag, portal, hit[0], 0)
        return True

    def _row_description(self, fields, formats: list[int]) -> bytes:
        """RowDescription bytes, memoised for the planner's long-lived Field lists (a cached
        FastScan's), keyed by list identity; the entry keeps the list alive so ids stay unique."""
        memo = self.server.rowdesc
        key = (id(fields), *formats)
        hit = memo.get(key)
        if hit is not None and hit[0] is fields:
            return hit[1]
        data = m.row_description(fields, formats)
        if len(memo) > 1024:
            memo.clear()
        memo[key] = (fields, data)
        return data

    async def _fast_rows(self, res, cache_key: tuple, oids: list[int], formats: list[int], tz: str
                         ) -> tuple[int, bytes]:
        """A FastResult (planner/session.py): its DataRows depend only on the rows its key names
        and on the output formats/TimeZone, so an identical earlier result's bytes are reused —
        formatting 100 rows as text is most of a small query's cost, reading them the rest (a
        lazy FastResult is not read at all on a hit). Small results only."""
        hit = self._fast_rows_now(res, cache_key, oids, formats, tz, CACHED_INLINE_ROWS)
        if hit is not None:
            return hit
        loop = asyncio.get_running_loop()
        batch = next(res.batches, None) if res.rows is None else await loop.run_in_executor(None, res.rows)
        if batch is None:
            hit = (0, b"")
        else:
            if batch.num_rows <= CACHED_INLINE_ROWS:
                data = encode_datarows(batch, oids, formats, tz)
            else:
                data = await loop.run_in_executor(None, encode_datarows, batch, oids, formats, tz)
            self._check_cancel()
            hit = (batch.num_rows, data)
        self.server.rows_cache.put(_rows_key(cache_key, oids, formats, tz), *hit)
        if not res.tag:
            res.tag = f"SELECT {hit[0]}"
        return hit

    def _fast_rows_now(self, res, cache_key: tuple, oids: list[int], formats: list[int], tz: str,
                       inline_rows: int) -> tuple[int, bytes] | None:
        """_fast_rows on the loop: a cache hit, or the rows read (a lazy result only when the
        statement ran inline) and encoded here when there are at most `inline_rows`. None when
        a worker is needed; rows already read are left in `res.batches` for it."""
        cache = self.server.rows_cache
        key = _rows_key(cache_key, oids, formats, tz)
        hit = cache.get(key)
        if hit is None:
            if res.rows is not None and not self.inline:
                return None
            batch = next(res.batches, None) if res.rows is None else res.rows()
            if batch is not None and batch.num_rows > inline_rows:
                res.rows, res.batches = None, iter([batch])
                return None
            hit = (0, b"") if batch is None else (batch.num_rows, encode_datarows(batch, oids, formats, tz))
            cache.put(key, *hit)
        if not res.tag:
            res.tag = f"SELECT {hit[0]}"
        return hit

    async def _stream_prefetch(self, batches, encode) -> int:
        """Unlimited result: a worker encodes batch k+1 while batch k drains to the client, so
        encoding and the socket overlap (one batch ahead keeps memory bounded). Each step also
        pulls the following batch, so a one-batch result costs a single worker hand-off."""
        loop = asyncio.get_running_loop()

        def step(batch):
            if batch is None:
                batch = next(batches, None)
                while batch is not None and batch.num_rows == 0:
                    batch = next(batches, None)
                if batch is None:
                    return 0, b"", None, True
            n, data, _rest, _done = encode((batch, None, False))
            following = next(batches, None)
            while following is not None and following.num_rows == 0:
                following = next(batches, None)
            return n, data, following, following is None

        fut: asyncio.Future | None = loop.run_in_executor(None, step, None)
        sent = 0
        try:
            while True:
                assert fut is not None
                n, data, following, last = await fut
                fut = None
                self._check_cancel()
                if not last:
                    fut = loop.run_in_executor(None, step, following)
                sent += n
                self.send(data)
                if last:
                    return sent
                await self.maybe_flush()
        finally:
            if fut is not None:   # an error/cancel: let the worker finish before the session moves on
                await asyncio.wait([fut])

    # ------------------------------------------------------------------ COPY
    async def _copy_out(self, spec) -> None:
        tz = self.session.settings.get("TimeZone", "UTC")
        enc = CopyOutEncoder(spec, tz)
        held = await self._copy_held(spec, enc, tz) if spec.rows is not None else None
        self.send(enc.response())   # after a lazy COPY's rows: their error precedes CopyOut
        self.send(enc.header())
        if held is not None:
            self.send(held)
        else:
            batches = spec.batches or iter(())

            def encode(got):
                return None if got[0] is None else enc.encode(got[0])

            while True:
                data = await self.call_batch(lambda: (next(batches, None),), encode)
                self._check_cancel()
                if data is None:
                    break
                self.send(data)
                await self.maybe_flush()
        self.send(enc.trailer())
        self.send(m.COPY_DONE)
        self.metric("rows_out_total", enc.rows)
        self.send(m.command_complete(f"COPY {enc.rows}"))

    async def _copy_held(self, spec, enc: CopyOutEncoder, tz: str) -> bytes:
        """The CopyData bytes of a lazy COPY out: an identical earlier COPY's from the rows cache
        (its key names the rows exactly, as for a SELECT's DataRows; format and options stand
        where the DataRows' column formats do), else the rows read and encoded — on the loop
        when the statement ran inline — and remembered."""
        key = _rows_key(spec.cache_key, [f.type_oid for f in spec.fields],
                        ("copy", spec.format, repr(sorted(spec.options.items()))), tz)
        cache = self.server.rows_cache
        hit = cache.get(key) if spec.cache_key is not None else None
        if hit is not None:
            enc.replayed(*hit)
            return hit[1]
        loop = asyncio.get_running_loop()
        batch = spec.rows() if self.inline else await loop.run_in_executor(None, spec.rows)
        self._check_cancel()
        if batch.num_rows <= INLINE_ROWS:
            data = enc.encode(batch)
        else:
            data = await loop.run_in_executor(None, enc.encode, batch)
        if spec.cache_key is not None:
            cache.put(key, enc.rows, data)
        return data

    async def _copy_in(self, spec) -> None:
        dec = CopyInDecoder(spec, self.session.settings.get("TimeZone", "UTC"))
        t_start = time.perf_counter()
        self.send(dec.response())
        await self.flush()
        prev = self.state
        self.state = State.COPY_IN
        failure: errors.PgmktsError | None = None
        framer = self.framer
        discard = bytearray()   # CopyData after a cancel is read and dropped until CopyDone
        try:
            while True:
                # CopyData bodies go straight into dec.sink; other messages come back here
                sink = dec.sink if failure is None else discard
                msg = framer.copy_into(sink)
                if msg is None:
                    framer.feed_copy(await self._read_raw(1 << 20), sink)
                    discard.clear()
                    if failure is None and self.cancel_reason is not None:
                        failure = errors.QueryCanceled(f"canceling statement due to {self.cancel_reason}")
                        dec.sink = bytearray()
                    continue
                if msg.type == b"c":
                    break
                elif msg.type == b"f":
                    text = msg.body.rstrip(b"\x00").decode("utf-8", "replace")
                    raise errors.QueryCanceled(f"COPY from stdin failed: {text}")
                elif msg.type in (b"H", b"S"):
                    continue   # Flush/Sync during COPY IN are ignored (docs §55.2.6)
                elif msg.type == b"X":
                    raise _Closed()
                else:
                    failure = errors.ProtocolViolation(
                        f"unexpected message type {msg.type!r} during COPY from stdin")
                    break
                if failure is None and self.cancel_reason is not None:
                    failure = errors.QueryCanceled(f"canceling statement due to {self.cancel_reason}")
                    dec.sink = bytearray()
        finally:
            self.state = prev
            framer.copy_owed = 0   # only non-zero when the connection is going away
        if failure is not None:
            raise failure
        t_received = time.perf_counter()
        table = await self.call(dec.table)
        t_parsed = time.perf_counter()
        self._check_cancel()
        n = await self.call(lambda: spec.consume(table))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("COPY %d rows: received %.3f s, parsed %.3f s later, written %.3f s later", n,
                      t_received - t_start, t_parsed - t_received, time.perf_counter() - t_parsed)
        self.metric("rows_in_total", n)
        self.send(m.command_complete(f"COPY {n}"))

    def _deliver(self, chan: str, payload: str, sender: int) -> None:
        """Called on the loop thread by the hub / NOTIFY. Written at once while the client
        waits idle; otherwise queued until the next ReadyForQuery outside a transaction."""
        data = m.notification(sender or self.pid, chan, payload)
        if self.state is State.CLOSED:
            return
        if self._idle:
            transport = self.writer.transport
            if transport is not None and transport.get_write_buffer_size() > 64 * 1024 * 1024:
                return   # a client that never reads must not exhaust memory: drop, as a slow consumer
            self.writer.write(data)
        else:
            self._pending_notifies.append(data)

    def _deliver_pending(self) -> None:
        if self._pending_notifies:
            for d in self._pending_notifies:
                self.send(d)
            self._pending_notifies.clear()


def secret_matches(a: int, b: int) -> bool:
    return hmac.compare_digest(a.to_bytes(4, "big", signed=True), b.to_bytes(4, "big", signed=True))
