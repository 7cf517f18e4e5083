"""The issue's goals as data, evaluated against one run's results (pass/fail beside the ratio)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.workloads import BY_KEY

Results = dict[str, dict[str, "object"]]      # runner → workload → Measurement


@dataclass(frozen=True)
class Goal:
    text: str
    workload: str
    lhs: str                    # runner; "pgmkts/*" = the best pgmkts client (decode-only excluded)
    rhs: str | float            # runner, or an absolute bound
    factor: float = 1.0         # lhs ≤ factor × rhs (latency) or lhs ≥ factor × rhs (throughput)
    rhs_workload: str | None = None

    @property
    def higher_better(self) -> bool:
        return BY_KEY[self.workload].higher_better


def _goals() -> list[Goal]:
    g = [
        Goal("load via pymarketstore ≥ ArcticDB", "load", "pgmkts/pymarketstore", "arcticdb"),
        Goal("load via COPY ≥ 10× PostgreSQL", "load", "pgmkts/psycopg", "postgres/psycopg", 10),
        Goal("load via COPY ≥ DuckDB", "load", "pgmkts/psycopg", "duckdb"),
    ]
    for w in ("month", "year"):
        g += [
            Goal(f"{w} via ADBC ≤ 1.5× ArcticDB", w, "pgmkts/adbc", "arcticdb", 1.5),
            Goal(f"{w} via ADBC ≤ 0.1× PostgreSQL/ADBC", w, "pgmkts/adbc", "postgres/adbc", 0.1),
            Goal(f"{w} via pymarketstore ≤ 1.2× its decode", w, "pgmkts/pymarketstore",
                 "pgmkts/pymarketstore-decode", 1.2),
            Goal(f"{w} via pymarketstore ≤ 0.3× HDF5", w, "pgmkts/pymarketstore", "hdf5", 0.3),
            Goal(f"{w} via asyncpg ≤ 0.5× PostgreSQL/asyncpg", w, "pgmkts/asyncpg", "postgres/asyncpg", 0.5),
            Goal(f"{w} via psycopg ≤ 0.5× PostgreSQL/psycopg", w, "pgmkts/psycopg", "postgres/psycopg", 0.5),
        ]
    g += [
        Goal("last 100 bars ≤ ArcticDB", "last100", "pgmkts/*", "arcticdb"),
        Goal("last 100 bars via asyncpg ≤ PostgreSQL/asyncpg", "last100", "pgmkts/asyncpg", "postgres/asyncpg"),
        Goal("latest bar per symbol ≤ PostgreSQL LATERAL (asyncpg)", "latest_all", "pgmkts/asyncpg",
             "postgres/asyncpg", rhs_workload="latest_lateral"),
        Goal("hourly candles, 1 symbol ≤ ArcticDB", "candles_1", "pgmkts/*", "arcticdb"),
        Goal("hourly candles, all symbols ≤ ArcticDB", "candles_all", "pgmkts/*", "arcticdb"),
        Goal("durable one-row append ≤ PostgreSQL (psycopg)", "append", "pgmkts/psycopg", "postgres/psycopg"),
        Goal("durable append via pymarketstore ≤ PostgreSQL (psycopg)", "append", "pgmkts/pymarketstore",
             "postgres/psycopg"),
        Goal("pgbench -M simple tps ≥ PostgreSQL", "pgbench_simple", "pgmkts/pgbench", "postgres/pgbench"),
        Goal("pgbench -M prepared tps ≥ PostgreSQL", "pgbench_prepared", "pgmkts/pgbench", "postgres/pgbench"),
        Goal("bytes on disk per row ≤ 32", "bytes", "pgmkts", 32.0),
        Goal("compressed bytes per row ≤ DuckDB", "bytes", "pgmkts-zstd", "duckdb"),
    ]
    return g


GOALS = _goals()
NOT_CLIENTS = ("-decode", "-floor")    # measurements of the client alone, never "the best pgmkts client"


def _value(results: Results, runner: str, workload: str, higher_better: bool):
    """(value, runner) of a runner, or of the best pgmkts client for 'pgmkts/*'."""
    if runner.endswith("/*"):
        prefix = runner[:-1]
        cands = [(m.value, r) for r, ws in results.items() if r.startswith(prefix) and not r.endswith(NOT_CLIENTS)
                 for w, m in ws.items() if w == workload and m.value is not None]
        if not cands:
            return None, runner
        return (max if higher_better else min)(cands)
    m = results.get(runner, {}).get(workload)
    return (m.value if m is not None and m.value is not None else None), runner


def evaluate(results: Results) -> list[dict]:
    out = []
    for g in GOALS:
        hb = g.higher_better
        lhs_val, lhs_name = _value(results, g.lhs, g.workload, hb)
        if isinstance(g.rhs, float):
            rhs_val, rhs_name = g.rhs, None
        else:
            rhs_val, rhs_name = _value(results, g.rhs, g.rhs_workload or g.workload, hb)
        row = {"goal": g.text, "workload": g.workload, "lhs": lhs_name, "rhs": rhs_name, "lhs_value": lhs_val,
               "rhs_value": rhs_val, "target": g.factor if rhs_name else rhs_val, "ratio": None, "pass": None,
               "floor_value": None, "floor_ratio": None}
        # the same client answered by a replay proxy (bench/replay.py): what no server could beat
        floor, _ = _value(results, f"{lhs_name}-floor", g.workload, hb)
        if floor is not None:
            row["floor_value"] = floor
            row["floor_ratio"] = floor / rhs_val if rhs_name and rhs_val else None
        if lhs_val is not None and rhs_val:
            if rhs_name is None:
                row["ratio"] = lhs_val
                row["pass"] = lhs_val <= rhs_val
            else:
                row["ratio"] = lhs_val / rhs_val
                row["pass"] = row["ratio"] >= g.factor if hb else row["ratio"] <= g.factor
        out.append(row)
    return out
