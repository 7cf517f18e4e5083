"""pgmkts.metrics: private registries, the wire/RPC counters, engine counters at scrape time."""

from __future__ import annotations

from pgmkts.metrics import Metrics


def sample(text: str, name: str) -> float:
    """The value of the sample whose full name (with labels) is `name`."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    raise AssertionError(f"{name} not in metrics:\n{text}")


def test_two_instances_do_not_clash():
    a, b = Metrics(), Metrics()
    a.conn_opened("pg")
    a.conn_opened("pg")
    a.conn_closed("pg")
    b.conn_opened("rpc")
    ta, tb = a.render().decode(), b.render().decode()
    assert sample(ta, 'pgmkts_connections_total{proto="pg"}') == 2
    assert sample(ta, 'pgmkts_connections_open{proto="pg"}') == 1
    assert 'proto="rpc"' not in ta
    assert sample(tb, 'pgmkts_connections_total{proto="rpc"}') == 1


def test_query_rows_and_latency():
    m = Metrics()
    m.query("pg", 0.003, 10)
    m.query("pg", 2.0, 5)
    m.rows_in("rpc", 7)
    m.rows_in("rpc", 0)
    t = m.render().decode()
    assert sample(t, 'pgmkts_queries_total{proto="pg"}') == 2
    assert sample(t, 'pgmkts_rows_out_total{proto="pg"}') == 15
    assert sample(t, 'pgmkts_rows_in_total{proto="rpc"}') == 7
    assert sample(t, 'pgmkts_query_duration_seconds_bucket{le="0.005",proto="pg"}') == 1
    assert sample(t, 'pgmkts_query_duration_seconds_count{proto="pg"}') == 2


class _EngineWithStats:
    def __init__(self):
        self.n = 0

    def stats(self):
        self.n += 1
        return {"wal_bytes": 1000 * self.n, "wal_fsyncs": 3, "name": "ignored-not-a-number"}


def test_engine_counters_read_at_scrape_time():
    eng = _EngineWithStats()
    m = Metrics()
    m.attach_engine(eng)
    m.attach_engine(eng)   # idempotent
    assert sample(m.render().decode(), "pgmkts_engine_wal_bytes_total") == 1000
    t = m.render().decode()
    assert sample(t, "pgmkts_engine_wal_bytes_total") == 2000
    assert sample(t, "pgmkts_engine_wal_fsyncs_total") == 3
    assert "ignored" not in t


def test_engine_without_stats_is_fine():
    m = Metrics(engine=object())
    m.conn_opened("pg")
    t = m.render().decode()
    assert "pgmkts_engine_" not in t
    assert sample(t, 'pgmkts_connections_total{proto="pg"}') == 1
