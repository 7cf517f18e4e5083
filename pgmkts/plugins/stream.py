"""The stream trigger: a pub/sub hub fed by the engine's commit hook, fanned out on the asyncio
loop to `/ws` clients (MarketStore's stream plugin) and to PostgreSQL LISTEN sessions."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pyarrow as pa

log = logging.getLogger("pgmkts.stream")

MAX_JSON_ROWS = 10_000
RowsCallback = Callable[[str, dict[str, np.ndarray]], None]
JsonCallback = Callable[[str, str], None]


def parse_pattern(pattern: str) -> tuple[str, str, str]:
    """Split "SYM/TF/AG" (each part may hold `*`/`?` wildcards) or raise ValueError.

    Go's stream plugin accepts a stream iff it glob-matches `*/*/*` with '/' as separator:
    exactly three non-empty parts.
    """
    if not isinstance(pattern, str):
        raise ValueError(f"{pattern!r} is an invalid stream")
    parts = pattern.split("/")
    if len(parts) != 3 or any(p == "" for p in parts):
        raise ValueError(f"{pattern} is an invalid stream")
    return parts[0], parts[1], parts[2]


def pattern_matches(parts: tuple[str, str, str], tbk: str) -> bool:
    key = tbk.split("/")
    if len(key) != 3:
        return False
    # per-part matching: a `*` never crosses a '/', as Go's filepath.Match
    return all(fnmatchcase(k, p) for k, p in zip(key, parts, strict=True))


def _arrow_column(arr: np.ndarray) -> pa.Array:
    # from_pandas=True turns NaN into null, so the JSON stays valid (json has no NaN)
    if arr.dtype.kind == "f":
        return pa.array(arr, from_pandas=True)
    return pa.array(arr)


def rows_to_json(tbk: str, rows: Mapping[str, np.ndarray], max_rows: int | None = None) -> str:
    """JSON array of row objects (`[{"Epoch": 1700000000, "Open": 1.5, ...}, ...]`).

    Columns are converted once each through Arrow; `tbk` is accepted for symmetry with the
    callbacks and so a future payload format can name the bucket. This runs on the event loop
    (~4 µs a row), so a bulk write contributes only its newest `max_rows` rows (default
    MAX_JSON_ROWS) — a notification is for following new data, not for copying a bulk load.
    """
    del tbk
    if not rows:
        return "[]"
    cap = MAX_JSON_ROWS if max_rows is None else max_rows
    table = pa.table({name: _arrow_column(np.asarray(arr)[-cap:] if cap else np.asarray(arr)[:0])
                      for name, arr in rows.items()})
    return json.dumps(table.to_pylist(), separators=(",", ":"))


def last_row(rows: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """{column: Python scalar of the last row} — the `/ws` push payload."""
    out: dict[str, Any] = {}
    for name, arr in rows.items():
        if len(arr):
            out[name] = np.asarray(arr)[-1].item()
    return out


class _Sub:
    __slots__ = ("parts", "callback", "as_json", "pattern")

    def __init__(self, pattern: str, callback: Callable, as_json: bool) -> None:
        self.pattern = pattern
        self.parts = parse_pattern(pattern)
        self.callback = callback
        self.as_json = as_json


class Hub:
    """Fan-out of committed writes. `attach` wires it to an engine and a loop; subscribers'
    callbacks always run on that loop's thread, never on the writer's."""

    def __init__(self) -> None:
        self._subs: list[_Sub] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe_engine: Callable[[], None] | None = None
        self.events = 0  # committed row sets seen (tests, metrics)

    # --- wiring
    def attach(self, engine: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.detach()
        self._loop = loop
        # light: _on_commit only hands the rows to the loop, so deferred commits stay possible
        self._unsubscribe_engine = engine.subscribe(self._on_commit, light=True)

    def detach(self) -> None:
        if self._unsubscribe_engine is not None:
            try:
                self._unsubscribe_engine()
            finally:
                self._unsubscribe_engine = None

    def _on_commit(self, tbk: str, rows: dict[str, np.ndarray]) -> None:
        """Engine commit hook; runs in the writer thread, so it only hands over to the loop."""
        # no subscriber: don't even wake the loop (the hot write path pays one list check)
        if not self._subs or self._loop is None or self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(self.publish, str(tbk), rows)
        except RuntimeError:  # loop closed between the check and the call (shutdown)
            pass

    # --- subscribing
    def subscribe(self, pattern: str, callback: RowsCallback) -> Callable[[], None]:
        """callback(tbk, rows) for each committed write to a bucket matching `pattern`."""
        return self._add(_Sub(pattern, callback, as_json=False))

    def subscribe_json(self, pattern: str, callback: JsonCallback) -> Callable[[], None]:
        """As `subscribe`, but callback(tbk, payload_json) with `rows_to_json` computed once per
        event however many JSON subscribers there are (LISTEN sessions)."""
        return self._add(_Sub(pattern, callback, as_json=True))

    def _add(self, sub: _Sub) -> Callable[[], None]:
        # copy-on-write: publish iterates a snapshot while callbacks may (un)subscribe
        self._subs = [*self._subs, sub]

        def unsubscribe() -> None:
            self._subs = [s for s in self._subs if s is not sub]

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    # --- delivery (loop thread)
    def publish(self, tbk: str, rows: dict[str, np.ndarray]) -> None:
        self.events += 1
        payload: str | None = None
        for sub in self._subs:
            if not pattern_matches(sub.parts, tbk):
                continue
            try:
                if sub.as_json:
                    if payload is None:
                        payload = rows_to_json(tbk, rows)
                    sub.callback(tbk, payload)
                else:
                    sub.callback(tbk, rows)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("stream subscriber %s failed", sub.pattern)
