"""Plugin registry: triggers (ondiskagg, stream) and background workers, loaded by the module
names mkts.yml uses — MarketStore's `ondiskagg.so`/`stream.so` as well as bare names."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from pgmkts import errors

log = logging.getLogger("pgmkts.plugins")

TRIGGER_GROUP = "pgmkts.triggers"
BGWORKER_GROUP = "pgmkts.bgworkers"
# MarketStore's own feeders (contrib/*): an existing mkts.yml naming them must still start, so
# they are skipped with a warning unless a package provides one under the same entry-point name.
MARKETSTORE_FEEDERS = frozenset({"alpaca", "alpacabkfeeder", "binancefeeder", "bitmexfeeder", "gdaxfeeder",
                                 "iex", "ice", "polygon", "polyiex", "xignitefeeder"})


@runtime_checkable
class Trigger(Protocol):
    def fire(self, tbk: str, rows: Mapping[str, Any]) -> None: ...


@dataclass
class StreamTrigger:
    """Marker for `stream.so`: the RPC layer's Hub does the work (it subscribes to the engine
    itself); load_triggers returns this so the server knows streaming was configured."""

    on: str = "*/*/*"
    config: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class BgWorker(Protocol):
    """A background feeder: `run(stop)` loops until `stop` is set (MarketStore's Run());
    `start()` runs it in a daemon thread and `stop()` ends it (what server.py calls)."""

    name: str

    def run(self, stop: threading.Event) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class ThreadedWorker:
    """start()/stop() on top of run(stop): base class for built-in workers, and the adapter
    for entry-point workers that only define run()."""

    name = "worker"
    _stop_event: threading.Event | None = None
    _thread: threading.Thread | None = None

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop_event = threading.Event()
        self._thread = start_bgworkers([self], self._stop_event)[0]

    def stop(self, timeout: float = 5.0) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("background worker %s did not stop within %.1fs", self.name, timeout)


class _Adapter(ThreadedWorker):
    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", name))

    def run(self, stop: threading.Event) -> None:
        self.inner.run(stop)


def module_name(module: Any) -> str:
    """'ondiskagg.so', '/opt/plugins/ondiskagg.so', 'OnDiskAgg' → 'ondiskagg'."""
    if not isinstance(module, str) or not module.strip():
        return ""
    base = module.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if base.endswith(".so"):
        base = base[:-3]
    return base.lower()


def _entry_point(group: str, name: str) -> Callable[..., Any] | None:
    for ep in entry_points(group=group):
        if ep.name.lower() == name:
            return ep.load()
    return None


def _builtin_triggers() -> dict[str, Callable[..., Any]]:
    from .ondiskagg import OnDiskAgg

    return {"ondiskagg": OnDiskAgg}


def _builtin_bgworkers() -> dict[str, Callable[..., Any]]:
    from .demo_feeder import DemoFeeder

    return {"demo_feeder": DemoFeeder, "demofeeder": DemoFeeder}


def load_triggers(engine: Any, config_triggers: Sequence[Mapping[str, Any]] | None,
                  timezone: str = "UTC") -> list[Any]:
    """mkts.yml `triggers:` → trigger objects (OnDiskAgg, StreamTrigger markers, or entry points
    of group `pgmkts.triggers`, called as factory(engine, on, config, timezone)).
    Errors name the offending key: ConfigError("triggers[1].module: ...")."""
    out: list[Any] = []
    for i, t in enumerate(config_triggers or []):
        if not isinstance(t, Mapping):
            raise errors.ConfigError(f"triggers[{i}]: expected a mapping with module, on and config")
        mod = module_name(t.get("module"))
        on = t.get("on")
        config = t.get("config") or {}
        if not isinstance(config, Mapping):
            raise errors.ConfigError(f"triggers[{i}].config: expected a mapping, got {type(config).__name__}")
        if mod == "stream":
            out.append(StreamTrigger(str(on or "*/*/*"), dict(config)))
            continue
        factory = _builtin_triggers().get(mod) or (_entry_point(TRIGGER_GROUP, mod) if mod else None)
        if factory is None:
            raise errors.ConfigError(
                f"triggers[{i}].module: unknown trigger module {t.get('module')!r}",
                hint="known: ondiskagg.so, stream.so (or a package exposing a 'pgmkts.triggers' entry point)")
        if not on:
            raise errors.ConfigError(f"triggers[{i}].on: missing, e.g. on: \"*/1Min/OHLCV\"")
        try:
            out.append(factory(engine, str(on), dict(config), timezone))
        except errors.ConfigError as exc:
            raise errors.ConfigError(f"triggers[{i}]: {exc.message}", hint=exc.hint) from exc
    return out


def attach_triggers(engine: Any, triggers: Sequence[Any]) -> list[Callable[[], None]]:
    """Subscribe every real trigger's fire to the engine's commit hook; returns unsubscribers."""
    return [engine.subscribe(t.fire) for t in triggers if not isinstance(t, StreamTrigger)]


def load_bgworkers(engine: Any, config_bgworkers: Sequence[Mapping[str, Any]] | None,
                   timezone: str = "UTC") -> list[BgWorker]:
    """mkts.yml `bgworkers:` ({module, name, config}) → workers. Built in: demo_feeder; others
    come from entry points of group `pgmkts.bgworkers`, called as
    factory(engine, config, name=..., timezone=...)."""
    out: list[BgWorker] = []
    for i, w in enumerate(config_bgworkers or []):
        if not isinstance(w, Mapping):
            raise errors.ConfigError(f"bgworkers[{i}]: expected a mapping with module, name and config")
        mod = module_name(w.get("module"))
        config = w.get("config") or {}
        if not isinstance(config, Mapping):
            raise errors.ConfigError(f"bgworkers[{i}].config: expected a mapping, got {type(config).__name__}")
        factory = _builtin_bgworkers().get(mod) or (_entry_point(BGWORKER_GROUP, mod) if mod else None)
        if factory is None and mod in MARKETSTORE_FEEDERS:
            log.warning("bgworkers[%d].module: MarketStore's %r feeder is not part of pgmkts; skipped "
                        "(install a package providing the 'pgmkts.bgworkers' entry point %r)", i,
                        w.get("module"), mod)
            continue
        if factory is None:
            raise errors.ConfigError(
                f"bgworkers[{i}].module: unknown background worker {w.get('module')!r}",
                hint="built in: demo_feeder; others need a package exposing a 'pgmkts.bgworkers' entry point")
        name = str(w.get("name") or mod)
        try:
            worker = factory(engine, dict(config), name=name, timezone=timezone)
        except errors.ConfigError as exc:
            raise errors.ConfigError(f"bgworkers[{i}]: {exc.message}", hint=exc.hint) from exc
        if not callable(getattr(worker, "run", None)):
            raise errors.ConfigError(f"bgworkers[{i}].module: {mod!r} did not return a worker with run(stop)")
        if not (callable(getattr(worker, "start", None)) and callable(getattr(worker, "stop", None))):
            worker = _Adapter(worker, name)
        out.append(worker)
    return out


def start_bgworkers(workers: Sequence[Any], stop: threading.Event) -> list[threading.Thread]:
    """Run each worker in a daemon thread until `stop` is set; a crash is logged, not raised."""
    threads = []
    for w in workers:
        def body(w: Any = w) -> None:
            try:
                w.run(stop)
            except Exception:
                log.exception("background worker %s stopped with an error", getattr(w, "name", w))
        th = threading.Thread(target=body, name=f"bgworker-{getattr(w, 'name', '?')}", daemon=True)
        th.start()
        threads.append(th)
    return threads
