"""ondiskagg: keeps coarser timeframes of a bucket on disk (`SYM/1Min/OHLCV` → `SYM/5Min/OHLCV`, …)
up to date after every committed write, as MarketStore's contrib/ondiskagg trigger does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from pgmkts import errors
from pgmkts.storage import canonical_timeframe, timeframe_seconds
from pgmkts.uda.kernels import resample_ohlcv
from pgmkts.uda.windows import Window, window_ends, window_from_seconds, window_starts

log = logging.getLogger("pgmkts.ondiskagg")

NS = 1_000_000_000
# Beyond this many separate affected ranges one read over their whole span is cheaper.
MAX_RANGE_READS = 32
# rebuild() reads the base this many seconds at a time (edge windows are recomputed whole).
CHUNK = 365 * 86400


@dataclass(frozen=True)
class Destination:
    timeframe: str          # canonical, e.g. "5Min"
    seconds: int
    window: Window


def _floor_like_storage(e: np.ndarray, tf: int) -> np.ndarray:
    """Fixed buckets floor epochs to the timeframe counted from each UTC year start."""
    ys = e.astype("datetime64[s]").astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    return ys + (e - ys) // tf * tf


def _merge_ranges(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Union of half-open [start, end) ranges, vectorised."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], s.size) - 1
    return list(zip(s[first].tolist(), reach[last].tolist(), strict=True))


class OnDiskAgg:
    """Trigger `{module: ondiskagg.so, on: "*/1Min/OHLCV", config: {destinations: [5Min, 1H, 1D]}}`.

    `fire(tbk, rows)` runs after each committed write: it re-reads the base bucket over the
    windows the written rows fall in and rewrites exactly those windows of every destination
    (Open first, High max, Low min, Close last, Volume sum) — idempotent, so out-of-order and
    repeated writes converge to a from-scratch recomputation. Trades (`*/1Sec/TRADE` with
    Price/Size) become OHLCV bars in `SYM/<dest>/OHLCV`. Daily and weekly windows follow
    `timezone`.
    """

    def __init__(self, engine: Any, on: str, config: Mapping[str, Any] | None, timezone: str = "UTC") -> None:
        self.engine = engine
        self.timezone = timezone
        config = dict(config or {})
        parts = str(on or "").strip().split("/")
        if len(parts) == 4:  # MarketStore matches "SYM/TF/AG/YYYY.bin"; the year part adds nothing
            parts = parts[:3]
        if len(parts) != 3 or not all(parts):
            raise errors.ConfigError(f"ondiskagg: 'on' must look like '*/1Min/OHLCV', got {on!r}")
        self.on = tuple(parts)
        try:
            self._on_tf = canonical_timeframe(parts[1]) if not any(c in parts[1] for c in "*?[") else None
        except errors.PgmktsError as exc:
            raise errors.ConfigError(f"ondiskagg: bad timeframe in 'on': {on!r}: {exc}") from exc
        dests = config.get("destinations")
        if isinstance(dests, str):
            dests = [d.strip() for d in dests.split(",") if d.strip()]
        if not dests:
            raise errors.ConfigError("ondiskagg: no destinations are configured",
                                     hint="config: {destinations: [5Min, 15Min, 1H, 1D]}")
        self.destinations: list[Destination] = []
        for d in dests:
            try:
                sec = timeframe_seconds(str(d))
                self.destinations.append(Destination(canonical_timeframe(str(d)), sec, window_from_seconds(sec)))
            except errors.PgmktsError as exc:
                raise errors.ConfigError(
                    f"ondiskagg: please specify a valid timeframe in 'destinations', got {d!r}") from exc
        self.filter = config.get("filter")
        if self.filter:
            # MarketStore's NASDAQ-hours filter needs a market calendar that pgmkts does not ship.
            log.warning("ondiskagg: filter %r is not supported; aggregating all bars", self.filter)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._local = threading.local()
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ matching
    def matches(self, tbk: str) -> bool:
        parts = tbk.split("/")
        if len(parts) != 3:
            return False
        sym, tf, ag = parts
        if not (fnmatchcase(sym, self.on[0]) and fnmatchcase(ag, self.on[2])):
            return False
        if self._on_tf is not None:
            try:
                return canonical_timeframe(tf) == self._on_tf
            except errors.PgmktsError:
                return False
        return fnmatchcase(tf, self.on[1])

    def _lock(self, tbk: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(tbk, threading.Lock())

    # ------------------------------------------------------------------ what to compute
    def _plan(self, tbk: str) -> tuple[list[tuple[str, str, str]], str, list[Destination]] | None:
        """(resample spec, destination attribute group, destinations) for a base bucket, or None."""
        info = self.engine.info(tbk)
        if info is None:
            return None
        names = {c.lower(): c for c, _ in info.columns}
        src_tf = info.tf_seconds
        dests = [d for d in self.destinations if d.seconds > src_tf]
        if all(k in names for k in ("open", "high", "low", "close")):
            spec = [("Open", "first", names["open"]), ("High", "max", names["high"]),
                    ("Low", "min", names["low"]), ("Close", "last", names["close"])]
            if "volume" in names:
                spec.append(("Volume", "sum", names["volume"]))
            group = info.attrgroup
        elif "price" in names:
            p = names["price"]
            spec = [("Open", "first", p), ("High", "max", p), ("Low", "min", p), ("Close", "last", p)]
            if "size" in names:
                spec.append(("Volume", "sum", names["size"]))
            group = "OHLCV" if info.attrgroup.upper() == "TRADE" else info.attrgroup
        else:
            if tbk not in self._warned:
                self._warned.add(tbk)
                log.warning("ondiskagg: %s has neither Open/High/Low/Close nor Price; not aggregated", tbk)
            return None
        return spec, group, dests

    def _dest_schema(self, tbk: str, spec: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
        """Destination columns keep the source types (Volume keeps its type, as MarketStore)."""
        types = dict(self.engine.info(tbk).columns)
        return [(out, types[src]) for out, _, src in spec]

    # ------------------------------------------------------------------ trigger entry points
    def fire(self, tbk: str, rows: Mapping[str, np.ndarray]) -> None:
        """Commit hook: recompute the destination windows touched by `rows` of `tbk`."""
        if getattr(self._local, "busy", False):
            return  # our own destination writes re-enter through the same commit hook
        if not self.matches(tbk):
            return
        e = np.asarray(rows.get("Epoch", ()), dtype=np.int64)
        if e.size == 0:
            return
        self._local.busy = True
        try:
            with self._lock(tbk):
                self._recompute(tbk, e)
        except Exception:
            log.exception("ondiskagg: failed to aggregate %s", tbk)
        finally:
            self._local.busy = False

    __call__ = fire  # so the instance can be passed to engine.subscribe directly

    def _recompute(self, tbk: str, epochs: np.ndarray) -> int:
        plan = self._plan(tbk)
        if plan is None:
            return 0
        spec, group, dests = plan
        if not dests:
            return 0
        uniq = np.unique(epochs)
        affected: dict[str, np.ndarray] = {}
        r_starts, r_ends = [], []
        for d in dests:
            s = np.unique(window_starts(uniq, d.window, timezone=self.timezone))
            affected[d.timeframe] = s
            r_starts.append(s)
            r_ends.append(window_ends(s, d.window, timezone=self.timezone))
        ranges = _merge_ranges(np.concatenate(r_starts), np.concatenate(r_ends))
        cols = list(dict.fromkeys(src for _, _, src in spec))
        if len(ranges) > MAX_RANGE_READS:
            ranges = [(ranges[0][0], ranges[-1][1])]
        parts = [self.engine.read(tbk, a * NS, b * NS - 1, columns=cols) for a, b in ranges]
        data = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return self._write(tbk, data, spec, group, dests, affected)

    def _write(self, tbk: str, data: Mapping[str, np.ndarray], spec: list[tuple[str, str, str]],
               group: str, dests: Sequence[Destination], only: Mapping[str, np.ndarray] | None) -> int:
        sym = tbk.split("/")[0]
        schema = self._dest_schema(tbk, spec)
        batches = []
        for d in dests:
            out = resample_ohlcv(data, d.window, spec, timezone=self.timezone)
            if only is not None:
                keep = np.isin(out["Epoch"], only[d.timeframe])
                out = {k: v[keep] for k, v in out.items()}
            if out["Epoch"].size == 0:
                continue
            dest = f"{sym}/{d.timeframe}/{group}"
            if self.engine.info(dest) is None:
                try:
                    self.engine.create(dest, schema)
                except errors.DuplicateTable:
                    pass  # created concurrently, or exists with its own schema: write coerces
            batches.append((dest, out, False))
        if not batches:
            return 0
        self._local.busy = True
        try:
            return self.engine.write_many(batches)
        finally:
            self._local.busy = False

    # ------------------------------------------------------------------ rebuilding
    def rebuild(self, tbk: str) -> int:
        """Recompute every destination of one base bucket from scratch (after WAL replay, deletes,
        or enabling the trigger on existing data) and delete destination rows with no base data.
        Reads the base one year at a time. Returns destination rows written."""
        plan = self._plan(tbk)
        if plan is None or not plan[2]:
            return 0
        spec, group, dests = plan
        with self._lock(tbk):
            first = self.engine.read(tbk, None, None, columns=["Epoch"], limit=1)["Epoch"]
            last = self.engine.last_epoch(tbk)
            sym = tbk.split("/")[0]
            if first.size == 0 or last is None:
                self._delete_stale(sym, group, dests, {d.timeframe: np.empty(0, np.int64) for d in dests})
                return 0
            cols = list(dict.fromkeys(src for _, _, src in spec))
            lo, hi = int(first[0]), int(last) + 1
            edges = [lo, *range((lo // CHUNK + 1) * CHUNK, hi, CHUNK), hi]
            labels: dict[str, list[np.ndarray]] = {d.timeframe: [] for d in dests}
            written = 0
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                data = self.engine.read(tbk, a * NS, b * NS - 1, columns=cols)
                if data["Epoch"].size == 0:
                    continue
                written += self._write(tbk, data, spec, group, dests, None)
                for d in dests:
                    lab = window_starts(np.unique(data["Epoch"]), d.window, timezone=self.timezone)
                    labels[d.timeframe].append(np.unique(lab))
            # windows straddling a chunk edge were computed from half their rows: redo them whole
            inner = np.array(edges[1:-1], dtype=np.int64)
            if inner.size:
                written += self._recompute(tbk, np.concatenate([inner - 1, inner]))
            self._delete_stale(sym, group, dests,
                               {k: np.unique(np.concatenate(v)) if v else np.empty(0, np.int64)
                                for k, v in labels.items()})
            return written

    def _delete_stale(self, sym: str, group: str, dests: Sequence[Destination],
                      labels: Mapping[str, np.ndarray]) -> None:
        for d in dests:
            dest = f"{sym}/{d.timeframe}/{group}"
            if self.engine.info(dest) is None:
                continue
            have = self.engine.read(dest, None, None, columns=["Epoch"])["Epoch"]
            want = _floor_like_storage(np.asarray(labels[d.timeframe], dtype=np.int64), d.seconds)
            stale = have[~np.isin(have, want)]
            # rare (only after deletes in the base): one inclusive single-slot delete each
            for s in stale.tolist():
                self.engine.delete(dest, s * NS, s * NS)

    def rebuild_all(self) -> int:
        """rebuild() every base bucket this trigger watches; returns destination rows written."""
        return sum(self.rebuild(b.tbk) for b in self.engine.buckets() if self.matches(b.tbk))

    def catch_up(self) -> int:
        """Cheap start-up repair for appends: recompute each watched bucket from the newest window
        its destinations already hold (a missing destination means a full rebuild). Out-of-order
        writes whose trigger a crash pre-empted need rebuild_all()."""
        written = 0
        for b in self.engine.buckets():
            plan = self._plan(b.tbk) if self.matches(b.tbk) else None
            if plan is None or not plan[2] or self.engine.last_epoch(b.tbk) is None:
                continue
            sym, group = b.tbk.split("/")[0], plan[1]
            lasts = [self.engine.last_epoch(f"{sym}/{d.timeframe}/{group}")
                     if self.engine.info(f"{sym}/{d.timeframe}/{group}") is not None else None
                     for d in plan[2]]
            if any(v is None for v in lasts):
                written += self.rebuild(b.tbk)
                continue
            since = min(int(v) for v in lasts if v is not None)
            base = self.engine.read(b.tbk, since * NS, None, columns=["Epoch"])["Epoch"]
            if base.size:
                with self._lock(b.tbk):
                    written += self._recompute(b.tbk, base)
        return written
