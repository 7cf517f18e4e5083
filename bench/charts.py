"""PNG charts: the result table as bars per workload, and latency/throughput against data size."""

from __future__ import annotations

from pathlib import Path

from bench.workloads import WORKLOADS


def _color(runner: str) -> str:
    return {"pgmkts": "tab:red", "postgres": "tab:blue", "hdf5": "tab:green", "arcticdb": "tab:purple",
            "duckdb": "tab:orange"}.get(runner.split("/")[0], "tab:gray")


def _scale(unit: str) -> tuple[float, str]:
    return {"s": (1e3, "ms"), "rows/s": (1e-6, "M rows/s")}.get(unit, (1.0, unit))


def _grid(n: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = 3
    rows = max(1, (n + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    return plt, fig, [a for row in axes for a in row]


def table_chart(size: dict, path: Path) -> Path | None:
    res = size["results"]
    wls = [w for w in WORKLOADS if any((m := ws.get(w.key)) and m.get("value") for ws in res.values())]
    if not wls:
        return None
    plt, fig, axes = _grid(len(wls))
    for ax, wl in zip(axes, wls, strict=False):
        from bench.report import runner_order
        pts = sorted(((r, ws[wl.key]["value"]) for r, ws in res.items() if ws.get(wl.key, {}).get("value")),
                     key=lambda p: runner_order(p[0]))
        names = [p[0] for p in pts]
        scale, unit = _scale(wl.unit)
        vals = [p[1] * scale for p in pts]
        bars = ax.barh(names, vals, color=[_color(n) for n in names])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in vals], fontsize=7, padding=2)
        ax.set_xlim(0, max(vals) * 1.25)
        better = "higher" if wl.higher_better else "lower"
        ax.set_title(f"{wl.title}\n({unit}, {better} is better)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
    for ax in axes[len(wls):]:
        ax.axis("off")
    fig.suptitle(f"pgmkts bench: {size['symbols']} symbols, {size['rows']:,} rows", fontsize=11)
    fig.subplots_adjust(left=0.11, right=0.98, top=0.94, bottom=0.03, wspace=0.55, hspace=0.45)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def scaling_chart(sizes: list[dict], path: Path) -> Path | None:
    """Only meaningful for several data sizes (--scaling / --sizes)."""
    if len(sizes) < 2:
        return None
    wls = [w for w in WORKLOADS if any(ws.get(w.key, {}).get("value") for s in sizes for ws in s["results"].values())]
    if not wls:
        return None
    plt, fig, axes = _grid(len(wls))
    for ax, wl in zip(axes, wls, strict=False):
        runners = sorted({r for s in sizes for r, ws in s["results"].items()
                          if ws.get(wl.key, {}).get("value") and not r.endswith("-floor")})
        for r in runners:
            xs, ys = [], []
            for s in sizes:
                v = s["results"].get(r, {}).get(wl.key, {}).get("value")
                if v:
                    xs.append(s["rows"])
                    ys.append(v * _scale(wl.unit)[0])
            style = "-" if r.startswith("pgmkts") else "--"
            ax.plot(xs, ys, style, marker="o", label=r, color=_color(r), alpha=0.85)
        from matplotlib.ticker import FuncFormatter, NullFormatter
        ax.set_xscale("log")
        ax.set_yscale("log")
        fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 10 else f"{v:g}")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(fmt)
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{wl.title} ({_scale(wl.unit)[1]})", fontsize=9)
        ax.set_xlabel("rows stored", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in axes[len(wls):]:
        ax.axis("off")
    fig.suptitle("cost against data size", fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.94, bottom=0.05, wspace=0.25, hspace=0.5)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
