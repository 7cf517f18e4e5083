"""Prometheus metrics for one server instance (private registry, so several servers in one
process — tests, benchmarks — never clash on metric names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _EngineCollector:
    """Reads the storage engine's counters at scrape time (WAL bytes, fsyncs, ...).

    The engine is optional and `stats()` is optional on it: what it exposes is exported as
    `pgmkts_engine_<name>_total`, nothing more, so the metric set follows the engine.
    """

    def __init__(self, get_stats: Callable[[], dict[str, Any]]) -> None:
        self._get_stats = get_stats

    def describe(self):
        # names depend on what the engine reports; don't call stats() at registration
        return []

    def collect(self):
        try:
            stats = self._get_stats() or {}
        except Exception:  # a scrape must never fail because the engine is closing
            stats = {}
        for name, value in sorted(stats.items()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            fam = CounterMetricFamily(f"pgmkts_engine_{name}", f"storage engine counter {name}")
            fam.add_metric([], float(value))
            yield fam


class Metrics:
    """Counters the wire (pg) and RPC (rpc) layers update; rendered by `/metrics`."""

    def __init__(self, engine: Any = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections_total = Counter("pgmkts_connections", "connections accepted", ["proto"], registry=r)
        self.connections_open = Gauge("pgmkts_connections_open", "connections currently open", ["proto"],
                                      registry=r)
        self.queries_total = Counter("pgmkts_queries", "queries answered", ["proto"], registry=r)
        self.rows_out_total = Counter("pgmkts_rows_out", "rows returned to clients", ["proto"], registry=r)
        self.rows_in_total = Counter("pgmkts_rows_in", "rows written by clients", ["proto"], registry=r)
        self.errors_total = Counter("pgmkts_errors", "requests answered with an error", ["proto"], registry=r)
        self.query_seconds = Histogram("pgmkts_query_duration_seconds", "query latency", ["proto"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self._engine_collector: _EngineCollector | None = None
        if engine is not None:
            self.attach_engine(engine)

    def attach_engine(self, engine: Any) -> None:
        """Export `engine.stats()` counters, if the engine has that method."""
        stats = getattr(engine, "stats", None)
        if stats is None or self._engine_collector is not None:
            return
        self._engine_collector = _EngineCollector(stats)
        self.registry.register(self._engine_collector)

    def conn_opened(self, proto: str) -> None:
        self.connections_total.labels(proto).inc()
        self.connections_open.labels(proto).inc()

    def conn_closed(self, proto: str) -> None:
        self.connections_open.labels(proto).dec()

    def query(self, proto: str, seconds: float, rows: int) -> None:
        self.queries_total.labels(proto).inc()
        self.query_seconds.labels(proto).observe(seconds)
        if rows:
            self.rows_out_total.labels(proto).inc(rows)

    def rows_in(self, proto: str, n: int) -> None:
        if n:
            self.rows_in_total.labels(proto).inc(n)

    def error(self, proto: str) -> None:
        self.errors_total.labels(proto).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)
