"""LISTEN/NOTIFY glue: channel registry for NOTIFY between sessions of this server, and the
NOTIFY statement recogniser (the planner answers LISTEN/UNLISTEN and keeps Session.listens;
the wire layer mirrors that set into app.hub subscriptions after each such statement)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pgmkts import errors

# NOTIFY channel [, 'payload'] — the whole statement; pg_notify() is not intercepted.
_NOTIFY = re.compile(r"""^\s*notify\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*(?:,\s*'((?:[^']|'')*)')?\s*;?\s*$""",
                     re.I | re.S)
MAX_PAYLOAD = 8000   # PostgreSQL's limit on a NOTIFY payload (bytes)


def parse_notify(sql: str) -> tuple[str, str] | None:
    m = _NOTIFY.match(sql)
    if not m:
        return None
    chan = m.group(1)
    chan = chan[1:-1].replace('""', '"') if chan.startswith('"') else chan.lower()
    payload = (m.group(2) or "").replace("''", "'")
    return chan, payload


class Channels:
    """channel name → delivery callbacks of the sessions listening on it (loop thread only)."""

    def __init__(self) -> None:
        self._subs: dict[str, dict[int, Callable[[str, str, int], None]]] = defaultdict(dict)

    def listen(self, chan: str, pid: int, deliver: Callable[[str, str, int], None]) -> None:
        self._subs[chan][pid] = deliver

    def unlisten(self, chan: str, pid: int) -> None:
        subs = self._subs.get(chan)
        if subs is not None:
            subs.pop(pid, None)
            if not subs:
                del self._subs[chan]

    def notify(self, chan: str, payload: str, sender_pid: int) -> int:
        subs = list(self._subs.get(chan, {}).values())
        for deliver in subs:
            deliver(chan, payload, sender_pid)
        return len(subs)


class ListenMixin:
    """LISTEN/UNLISTEN mirror Session.listens into app.hub and the NOTIFY registry; NOTIFY is
    intercepted here (the planner does not run it). Needs from Connection: session, server,
    app, pid, _listen_unsubs, _deliver."""

    if TYPE_CHECKING:   # the attributes above live on Connection
        def __getattr__(self, name: str) -> Any: ...

    # ------------------------------------------------------------------ LISTEN / NOTIFY
    def _sync_listens(self) -> None:
        wanted = set(self.session.listens)
        for chan in list(self._listen_unsubs):
            if chan not in wanted:
                unsub = self._listen_unsubs.pop(chan)
                if unsub:
                    unsub()
                self.server.channels.unlisten(chan, self.pid)
        hub = self.app.hub
        for chan in wanted - set(self._listen_unsubs):
            unsub = None
            sub = getattr(hub, "subscribe_json", None) if hub is not None else None
            if sub is not None and chan.count("/") == 2:
                try:
                    unsub = sub(chan, lambda tbk, payload, chan=chan: self._deliver(chan, payload, 0))
                except ValueError:
                    unsub = None   # not a bucket pattern: only NOTIFY reaches it
            self._listen_unsubs[chan] = unsub
            self.server.channels.listen(chan, self.pid, self._deliver)

    def _notify(self, chan: str, payload: str) -> None:
        if len(payload.encode()) >= MAX_PAYLOAD:
            raise errors.InvalidParameterValue("payload string too long")
        self.server.channels.notify(chan, payload, self.pid)
