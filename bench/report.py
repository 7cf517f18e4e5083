"""Render one run: the text table of medians and ratios, the goals, results JSON, RESULTS.md, PNG charts."""

from __future__ import annotations

import json
from pathlib import Path

from bench.goals import NOT_CLIENTS
from bench.workloads import BY_KEY, WORKLOADS


def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        if v < 1e-3:
            return f"{v * 1e6:.0f} µs"
        if v < 1:
            return f"{v * 1e3:.3g} ms"
        return f"{v:.3g} s"
    if unit == "rows/s":
        return f"{v / 1e6:.3g}M rows/s" if v >= 1e5 else f"{v:,.0f} rows/s"
    if unit == "tps":
        return f"{v:,.0f} tps"
    if unit == "B/row":
        return f"{v:.1f} B/row"
    if unit == "MB":
        return f"{v:,.0f} MB"
    return f"{v:.4g} {unit}"


SYSTEMS = ["pgmkts", "postgres", "arcticdb", "duckdb", "hdf5"]


def advantage(v: float | None, ref: float | None, higher_better: bool) -> float | None:
    """> 1 means pgmkts (its best client) is better than this runner by that factor."""
    if v is None or ref is None or v == 0 or ref == 0:
        return None
    return ref / v if higher_better else v / ref


def pgmkts_best(results: dict, key: str) -> tuple[float | None, str | None]:
    wl = BY_KEY[key]
    cands = [(m["value"], r) for r, ws in results.items() if r.split("/")[0] == "pgmkts"
             and not r.endswith(NOT_CLIENTS) and (m := ws.get(key)) and m.get("value") is not None]
    if not cands:
        return None, None
    return (max if wl.higher_better else min)(cands)


CLIENTS = ["pymarketstore", "pymarketstore-decode", "pymarketstore-floor", "psycopg", "psycopg-floor",
           "psycopg-csv", "asyncpg", "asyncpg-floor", "adbc", "adbc-floor", "pgbench"]


def runner_order(name: str) -> tuple[int, int]:
    system, _, client = name.partition("/")
    return (SYSTEMS.index(system) if system in SYSTEMS else len(SYSTEMS),
            CLIENTS.index(client) if client in CLIENTS else -1)


def table_rows(results: dict) -> list[list[str]]:
    """results: runner → workload → measurement dict. One row per (workload, runner)."""
    rows = []
    for wl in WORKLOADS:
        entries = sorted(((r, ws[wl.key]) for r, ws in results.items() if wl.key in ws),
                         key=lambda e: runner_order(e[0]))
        if not entries:
            continue
        ref, _ = pgmkts_best(results, wl.key)
        for r, m in entries:
            if m.get("error"):
                val, ratio = "error: " + m["error"], ""
            else:
                val = fmt_value(m["value"], wl.unit)
                a = advantage(m["value"], ref, wl.higher_better)
                ratio = "" if a is None else f"{a:.2f}×"
            samples = m.get("samples") or []
            n = len(samples)
            best = fmt_value((max if wl.higher_better else min)(samples), wl.unit) if n > 1 else ""
            nrows = "" if m.get("rows") is None else f"{m['rows']:,}"
            rows.append([wl.key, r, val, best, str(n) if n else "", ratio, nrows, m.get("note") or ""])
    return rows


def matrix_rows(results: dict) -> list[list[str]]:
    """Compact view: one row per workload, each system's best client (named when there are several)."""
    rows = []
    for wl in WORKLOADS:
        cells, any_value = [], False
        for system in SYSTEMS:
            cands = [(m["value"], r) for r, ws in results.items() if r.split("/")[0] == system
                     and not r.endswith(NOT_CLIENTS) and (m := ws.get(wl.key)) and m.get("value") is not None]
            errs = [m["error"] for r, ws in results.items() if r.split("/")[0] == system
                    and (m := ws.get(wl.key)) and m.get("error")]
            if cands:
                v, r = (max if wl.higher_better else min)(cands)
                client = r.split("/", 1)[1] if "/" in r else ""
                cells.append(fmt_value(v, wl.unit) + (f" ({client})" if client else ""))
                any_value = True
            elif errs:
                cells.append("error")
            else:
                cells.append("")
        if any_value or any(cells):
            rows.append([wl.title, *cells])
    return rows


MATRIX_HEADER = ["workload (best client per system)", *SYSTEMS]


def goal_rows(goals: list[dict]) -> list[list[str]]:
    out = []
    for g in goals:
        unit = BY_KEY[g["workload"]].unit
        if g["rhs"] is None:
            target = f"≤ {g['target']:g}"
            ratio = "" if g["ratio"] is None else f"{g['ratio']:.1f}"
        else:
            op = "≥" if BY_KEY[g["workload"]].higher_better else "≤"
            target = f"{op} {g['target']:g}×"
            ratio = "" if g["ratio"] is None else f"{g['ratio']:.3g}×"
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[g["pass"]]
        floor = ""
        if g.get("floor_value") is not None:
            floor = fmt_value(g["floor_value"], unit)
            if g.get("floor_ratio") is not None:
                floor += f" ({g['floor_ratio']:.3g}×)"
        out.append([g["goal"], g["lhs"] or "", fmt_value(g["lhs_value"], unit),
                    g["rhs"] or "", fmt_value(g["rhs_value"], unit) if g["rhs"] else "", ratio, target, verdict,
                    floor])
    return out


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda c: c.replace("|", "\\|")  # noqa: E731
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(esc(c) for c in r) + " |" for r in rows)])


RESULT_HEADER = ["workload", "system/client", "median", "best", "n", "pgmkts ×better", "rows out", "note"]
GOAL_HEADER = ["goal", "pgmkts", "value", "baseline", "value", "ratio", "target", "verdict",
               "client floor (ratio)"]


def print_run(size: dict) -> str:
    txt = (f"\n=== {size['symbols']} symbols × {size['rows_per_symbol']:,} bars = {size['rows']:,} rows ===\n"
           + text_table(RESULT_HEADER, table_rows(size["results"])) + "\n\nBest client per system\n"
           + text_table(MATRIX_HEADER, matrix_rows(size["results"])) + "\n\nGoals\n"
           + text_table(GOAL_HEADER, goal_rows(size["goals"])))
    print(txt, flush=True)
    return txt


def write_json(run: dict, out_dir: Path, stamp: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    path.write_text(json.dumps(run, indent=1, default=str))
    (out_dir / "latest.json").write_text(path.read_text())
    return path


def write_markdown(run: dict, path: Path, charts: list[Path]) -> None:
    meta = run["meta"]
    parts = ["# pgmkts benchmark results", "",
             f"Generated by `python -m bench.run {meta['argv']}` on {meta['date']} "
             f"({meta['machine']}). Medians of repeated runs; all systems on the same synthetic data, "
             "same machine, one run. \"pgmkts ×better\" is how many times better pgmkts' best client is "
             "than that row (> 1: pgmkts wins). Full per-sample data: `bench/results/*.json`.", "",
             "Systems: pgmkts (pymarketstore RPC; psycopg binary, asyncpg, ADBC over the PostgreSQL protocol); "
             "PostgreSQL 15 (same three clients; PRIMARY KEY (symbol, epoch), binary COPY, shared_buffers=1GB, "
             "fsync and synchronous_commit on); pandas HDF5 (PyTables, format=table); ArcticDB (LMDB); "
             "DuckDB (file). `pymarketstore-decode` is pymarketstore's own decode of the reply bytes, "
             "without the round trip. `*-floor` is the same client answered by a replay proxy with the bytes "
             "pgmkts sent (bench/replay.py; for pymarketstore, bench/replay_http.py: its HTTP work included): "
             "the client's own cost, which no server can go below; the goals "
             "table shows it and its ratio to the baseline.", ""]
    if meta.get("notes"):
        parts += [f"Note: {meta['notes']}", ""]
    for size in run["sizes"]:
        parts += [f"## {size['symbols']} symbols × {size['rows_per_symbol']:,} bars ({size['rows']:,} rows)", "",
                  md_table(MATRIX_HEADER, matrix_rows(size["results"])), "", "### Goals", "",
                  md_table(GOAL_HEADER, goal_rows(size["goals"])), "", "### Every system and client", "",
                  md_table(RESULT_HEADER, table_rows(size["results"])), ""]
    if charts:
        parts += ["Charts (not committed): " + ", ".join(f"`{c.name}`" for c in charts) + " in `bench/results/`.", ""]
    path.write_text("\n".join(parts))
