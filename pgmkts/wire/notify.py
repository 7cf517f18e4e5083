"""LISTEN/NOTIFY glue: channel registry for NOTIFY between sessions of this server, and the
NOTIFY statement recogniser (the planner answers LISTEN/UNLISTEN and keeps Session.listens;
the wire layer mirrors that set into app.hub subscriptions after each such statement)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

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
