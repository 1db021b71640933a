"""The benchmark's results as a markdown table (stdout) and a PNG (latency over time)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

# Targets of livemod issue 7: reported next to the measurements, never asserted.
TARGETS = {
    "throughput": 15_000,  # events/s sustained
    "e2e_p99_ms": 100,  # at 3,000 events/s offered
    "cutoff_p99_ms": 250,
    "soak_rss_mb": 600,  # after 1M distinct viewers
}


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "**miss**")


def markdown(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    rate, mx, soak = results.get("rate"), results.get("max"), results.get("soak")
    if mx:
        w, b = mx["worker"]["events_per_s"], mx["baseline"]["events_per_s"]
        rows += [
            ("worker max throughput (events/s)", _num(w), f"≥ {TARGETS['throughput']:,}",
             _verdict(w >= TARGETS["throughput"] if w else None)),
            ("baseline aiokafka passthrough (events/s)", _num(b), "", ""),
            ("ratio worker / baseline", _num(mx["ratio"], "{:.2f}"), "", ""),
        ]
    if rate:
        d, c = rate["detections"], rate["cutoffs"]
        rows += [
            (f"e2e detection latency p50 / p95 / p99 at {rate['offered_rate']:,.0f}/s (ms, n={d['n']})",
             " / ".join(_num(d[k]) for k in ("p50_ms", "p95_ms", "p99_ms")), f"p99 ≤ {TARGETS['e2e_p99_ms']}",
             _verdict(d["p99_ms"] <= TARGETS["e2e_p99_ms"] if d["p99_ms"] is not None else None)),
            (f"cutoff latency p50 / p99 (ms, n={c['n']})", " / ".join(_num(c[k]) for k in ("p50_ms", "p99_ms")),
             f"p99 ≤ {TARGETS['cutoff_p99_ms']}",
             _verdict(c["p99_ms"] <= TARGETS["cutoff_p99_ms"] if c["p99_ms"] is not None else None)),
            (f"enforcement-path latency p50 / p99, mod.actions (ms, n={rate['actions']['n']})",
             " / ".join(_num(rate["actions"][k]) for k in ("p50_ms", "p99_ms")), "", ""),
            ("worker CPU at the offered rate (% of one core)", _num(rate["worker_cpu_percent"]), "", ""),
            ("worker RSS at ready / peak, offered-rate run (MB)",
             f"{_num(rate.get('worker_rss_at_ready_mb'))} / {_num(rate.get('worker_peak_rss_mb'))}", "", ""),
        ]
    if mx:
        rows += [
            ("worker CPU at max rate (% of one core)", _num(mx["worker"]["cpu_percent"]), "", ""),
            ("CPU µs per event, worker / baseline (1e6 ÷ µs = events/s on one free core)",
             f"{_num(mx['worker']['cpu_us_per_event'])} / {_num(mx['baseline']['cpu_us_per_event'])}", "", ""),
            ("worker peak RSS, max-rate run (VmHWM, MB)", _num(mx["worker"]["peak_rss_mb"]), "", ""),
        ]
    if soak:
        after = soak.get("rss_after_1m_viewers_mb")
        rows += [
            (f"soak RSS at start / after {soak['distinct_viewers']:,} distinct viewers (MB)",
             f"{_num(soak['rss_start_mb'])} / {_num(after)}",
             f"≤ {TARGETS['soak_rss_mb']}", _verdict(after <= TARGETS["soak_rss_mb"] if after is not None else None)),
            ("soak RSS slope after them (MB/min)", _num(soak.get("slope_after_1m_mb_per_min"), "{:+.2f}"),
             "≈ 0", ""),
        ]
    if rate and not rate["drained"]:
        rows.append(("offered-rate run drained", "**no**: latencies miss the slowest events", "", ""))
    loads = [f"{name} {results[name]['loadavg_1min']['before']:.1f}→{results[name]['loadavg_1min']['after']:.1f}"
             for name in ("rate", "max", "soak") if results.get(name, {}).get("loadavg_1min")]
    if loads:
        rows.append((f"load average (1 min) before→after, {results.get('machine', {}).get('cpus', '?')} CPUs",
                     ", ".join(loads), "", ""))
    lines = ["| metric | measured | target | |", "|---|---:|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def plot(results: dict[str, Any], samples: dict[str, list[Any]], out: Path) -> bool:
    """Latency over time (and, when present, consumer progress and soak RSS); False when
    matplotlib is not installed or no phase has results."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [p for p in ("rate", "max", "soak") if results.get(p)]
    if not panels:
        return False
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.8 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        if panel == "rate":
            _latency_panel(ax, results["rate"], samples)
        elif panel == "max":
            _progress_panel(ax, results["max"])
        else:
            _soak_panel(ax, results["soak"])
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _latency_panel(ax: Any, rate: dict[str, Any], samples: dict[str, list[Any]]) -> None:
    det = samples.get("detections", [])
    ax.scatter([s.at_s for s in det], [s.latency_ms for s in det], s=3, alpha=0.35, label="detection (per event)")
    per_s = rate["detections_per_second"]
    ax.plot([r["t"] + 0.5 for r in per_s], [r["p99_ms"] for r in per_s], color="C1", lw=1.2, label="detection p99 per second")
    for name, style in (("actions", dict(marker=".", color="C2", s=10)), ("cutoffs", dict(marker="x", color="C3", s=40))):
        pts = samples.get(name, [])
        ax.scatter([s.at_s for s in pts], [s.latency_ms for s in pts], label=f"{name} (two hops)", **style)
    ax.axhline(100, color="C1", ls="--", lw=0.8)
    ax.axhline(250, color="C3", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("input time (s since the first event)")
    ax.set_ylabel("end-to-end latency (ms)")
    ax.set_title(f"latency at {rate['offered_rate']:,.0f} events/s offered (targets: p99 100 ms, cutoff p99 250 ms)")
    ax.legend(loc="upper right", fontsize=8)


def _progress_panel(ax: Any, mx: dict[str, Any]) -> None:
    for name in ("worker", "baseline"):
        series = mx[name]["committed"]
        ax.plot([t for t, _ in series], [c for _, c in series],
                label=f"{name}: {mx[name]['events_per_s']:,.0f} events/s")
    ax.set_xlabel("seconds since the process started")
    ax.set_ylabel("input events committed")
    ax.set_title(f"max rate: {mx['events']:,} pre-loaded events")
    ax.legend(loc="lower right", fontsize=8)


def _soak_panel(ax: Any, soak: dict[str, Any]) -> None:
    ax.plot([t for t, _ in soak["rss_mb"]], [m for _, m in soak["rss_mb"]], marker=".", label="worker RSS")
    if soak.get("one_million_at_s") is not None:
        ax.axvline(soak["one_million_at_s"], color="C3", ls="--", lw=0.8, label="all distinct viewers processed")
    ax.axhline(600, color="C1", ls="--", lw=0.8)
    ax.set_xlabel("seconds since the soak started")
    ax.set_ylabel("RSS (MB)")
    ax.set_title("soak: worker RSS")
    ax.legend(loc="lower right", fontsize=8)
