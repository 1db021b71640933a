"""``make bench``: the worker on the real local broker (livemod issue 7).

1. offered rate — replay a generated session at a fixed rate (3,000 events/s, ~60 s) while a
   ``livemod worker`` runs; end-to-end latency from Kafka record timestamps, for detections
   and for cutoff signals (two hops: detection stage → mod.enforce → policy stage);
2. max rate — pre-load N events, start a worker, time its consumer group's commits to the
   end of every input partition; CPU time and peak RSS from /proc;
3. baseline — an aiokafka consume → orjson → produce passthrough over the same data;
4. soak (``--soak SECONDS``) — paced load with 1M distinct viewers; RSS every 10 s.

Writes bench/results/<date>.json and <date>-latency.png, prints a markdown table. Every run
uses its own topic prefix and deletes its topics at the end (``--keep-topics`` keeps them).
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # repo root: stream/, tests/

import harness  # noqa: E402
import profiling  # noqa: E402
import report  # noqa: E402
from procstat import ProcSampler  # noqa: E402

from stream.settings import REPO_ROOT, Settings  # noqa: E402
from stream.topics import INPUT_TOPICS  # noqa: E402
from tests.kafka_support import WorkerProcess, settings_env  # noqa: E402

RESULTS = harness.BENCH_DIR / "results"
PASSTHROUGH_TOPIC = "bench.passthrough"
ONE_MILLION = 1_000_000


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_broker(settings: Settings) -> None:
    """Start the local broker of deploy/kafka/kafka.sh when nothing answers on the default
    address; a configured cluster (LIVEMOD_BOOTSTRAP_SERVERS) is used as it is."""
    if settings.bootstrap_servers != "127.0.0.1:9092":
        return
    try:
        socket.create_connection(("127.0.0.1", 9092), timeout=1).close()
        return
    except OSError:
        pass
    subprocess.run(["bash", str(REPO_ROOT / "deploy" / "kafka" / "kafka.sh"), "up"], check=True,
                   stdout=sys.stderr)


def _worker(settings: Settings, name: str) -> WorkerProcess:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return WorkerProcess(settings, settings.data_dir / f"worker-{name}.log")


async def _sampling(sampler: ProcSampler, every_s: float) -> None:
    while True:
        sampler.sample()
        await asyncio.sleep(every_s)


# --- 1. offered rate --------------------------------------------------------------------

def rate_phase(args: argparse.Namespace, settings: Settings, samples: dict[str, list[Any]]) -> dict[str, Any]:
    asyncio.run(harness.create_bench_topics(settings))
    with _worker(settings, "rate") as worker:
        sampler = ProcSampler(worker.proc.pid)
        # Event time follows wall time, as in production (windows, grace periods, breaker).
        load = harness.Load(args.rooms, args.duration, args.rate, args.viewers, base_ts=time.time())
        lines = list(harness.wire_lines(load.events()))  # generated up front: the pacing loop stays light
        log(f"rate: offering {len(lines):,} events at {args.rate:,.0f}/s")

        async def offer() -> tuple[int, float, float, float, bool]:
            task = asyncio.create_task(_sampling(sampler, 0.5))
            t0 = time.monotonic()
            sent, secs = await harness.produce_lines(settings, lines, args.rate)
            ends = await harness.end_offsets(settings, INPUT_TOPICS)
            group = harness.group_id(settings)
            first = await harness.wait_committed(settings, group, ends, timeout=max(30.0, args.duration / 2))
            # Cutoffs leave from the second stage: wait until it has caught up too.
            second = await harness.wait_committed(settings, group,
                                                  await harness.end_offsets(settings, ["mod.enforce"]), timeout=30)
            t1 = time.monotonic()
            task.cancel()
            sampler.sample()
            return sent, secs, t0, t1, first.done_at is not None and second.done_at is not None

        sent, secs, t0, t1, drained = asyncio.run(offer())
        if not drained:
            log("rate: WARNING the worker did not catch up; latencies miss the events it never processed")
    log("rate: reading input and output records")
    produced = asyncio.run(harness.input_timestamps(settings))
    origin = min(produced.values())

    def of(topic: str, **kw: Any) -> list[harness.Sample]:
        return harness.latencies(asyncio.run(harness.read_all(settings, [topic])), produced, origin, **kw)

    samples["detections"] = of("mod.detections")
    samples["cutoffs"] = of("mod.cutoff", keep=lambda v: v.get("op") == "cut")
    samples["actions"] = of("mod.actions")
    return {
        "prefix": settings.topic_prefix, "offered_rate": args.rate, "sent": sent, "drained": drained,
        "achieved_rate": round(sent / secs, 1), "produce_s": round(secs, 2),
        "load": {"rooms": args.rooms, "viewers": args.viewers, "seconds": args.duration},
        "detections": harness.summary(samples["detections"]),
        "cutoffs": harness.summary(samples["cutoffs"]),
        "actions": harness.summary(samples["actions"]),
        "detections_per_second": harness.per_second(samples["detections"]),
        "worker_cpu_percent": sampler.cpu_percent(t0, t1),
        "worker_rss_at_ready_mb": round(sampler.samples[0][2] / 1024, 1),
        "worker_peak_rss_mb": round(sampler.hwm_kib / 1024, 1),
    }


# --- 2 + 3. max rate and baseline -------------------------------------------------------

def _drain(settings: Settings, group: str, pid: int, ends: dict[Any, int], started: float,
           timeout: float) -> dict[str, Any]:
    """Wait for ``group`` to commit every input partition to its end; the process's rate and cost."""
    sampler = ProcSampler(pid)
    progress = asyncio.run(harness.wait_committed(settings, group, ends, timeout, on_sample=sampler.sample))
    if progress.done_at is None:
        raise TimeoutError(f"{group} did not reach the end of the input within {timeout:.0f}s "
                           f"({progress.samples[-1][1] if progress.samples else 0:,}/{progress.total:,} committed)")
    window = progress.window()
    assert window is not None
    (since, c0), (until, c1) = window
    events = c1 - c0
    return {
        "events_per_s": round(progress.sustained_rate(), 1),
        "seconds": round(until - since, 2),
        "ready_to_done_s": round(progress.done_at - started, 2),
        "cpu_percent": sampler.cpu_percent(since, until),
        "cpu_s": round(sampler.cpu_used(since, until), 2),
        "cpu_us_per_event": round(sampler.cpu_used(since, until) * 1e6 / events, 1) if events else None,
        "events_measured": events,
        "peak_rss_mb": round(sampler.hwm_kib / 1024, 1),
        "committed": [(round(t - started, 2), c) for t, c in progress.samples],
    }


def max_phase(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    asyncio.run(harness.create_bench_topics(settings, extra=[PASSTHROUGH_TOPIC]))
    load = harness.Load(args.rooms, args.events / args.rate, args.rate, args.viewers)
    log(f"max: pre-loading ~{args.events:,} events")
    sent, secs = asyncio.run(harness.produce_lines(settings, harness.wire_lines(load.events())))
    ends = asyncio.run(harness.end_offsets(settings, INPUT_TOPICS))
    timeout = max(120.0, sent / 500)
    result: dict[str, Any] = {"prefix": settings.topic_prefix, "events": sent,
                              "preload_events_per_s": round(sent / secs, 1)}

    log("max: worker")
    started = time.monotonic()
    with _worker(settings, "max") as worker:
        spy = profiling.attach(worker.proc.pid, settings.data_dir / "worker.pyspy.txt") if args.profile else None
        try:
            result["worker"] = _drain(settings, harness.group_id(settings), worker.proc.pid, ends, started, timeout)
        finally:
            if spy:
                profiling.detach(spy)
    if spy:
        result["profile"] = profiling.summarize(settings.data_dir / "worker.pyspy.txt",
                                                result["worker"]["events_measured"], result["worker"]["cpu_s"])

    log("max: baseline passthrough")
    group = settings.topic_prefix + "passthrough"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(harness.BENCH_DIR / "passthrough.py"), group, settings.topic(PASSTHROUGH_TOPIC),
         *(settings.topic(t) for t in INPUT_TOPICS)],
        cwd=REPO_ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL)
    try:
        result["baseline"] = _drain(settings, group, proc.pid, ends, started, timeout)
    finally:
        proc.terminate()
        proc.wait(30)
    w, b = result["worker"]["events_per_s"], result["baseline"]["events_per_s"]
    result["ratio"] = round(w / b, 3) if b else None
    return result


# --- 4. soak ----------------------------------------------------------------------------

def soak_phase(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    asyncio.run(harness.create_bench_topics(settings))
    target = args.soak_viewers
    load = harness.Load(args.rooms, args.soak, args.rate, target, base_ts=time.time())
    crossed: dict[str, int] = {}

    def distinct_viewers(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        # The generator's viewers are skewed (regulars post a lot), so 1M generated viewers are
        # not 1M distinct posters in minutes: give the first 1M messages 1M distinct viewers.
        danmaku = itertools.count()
        for n_event, event in enumerate(events, 1):
            if event["type"] == "danmaku":
                n = next(danmaku)
                event["user_id"] = f"soak{n % target:07d}"
                if n == target - 1:
                    crossed["events"] = n_event  # the worker has seen them all once it committed this many
            yield event

    group = harness.group_id(settings)
    points: list[tuple[float, float, int]] = []  # (s since start, RSS MB, input events committed)
    with _worker(settings, "soak") as worker:
        sampler = ProcSampler(worker.proc.pid)
        started = time.monotonic()
        log(f"soak: {args.soak:.0f} s at {args.rate:,.0f}/s, {target:,} distinct viewers, RSS every 10 s")

        async def watch() -> None:
            while True:
                sampler.sample()
                committed = await harness.committed_total(settings, group, INPUT_TOPICS)
                points.append((round(time.monotonic() - started, 1), round(sampler.samples[-1][2] / 1024, 1),
                               committed))
                await asyncio.sleep(10.0)

        async def run() -> int:
            task = asyncio.create_task(watch())
            sent, _ = await harness.produce_lines(settings, harness.wire_lines(distinct_viewers(load.events())),
                                                  args.rate)
            # Let the worker catch up (bounded), so "after 1M viewers" means processed, not sent.
            deadline = time.monotonic() + max(60.0, args.soak / 2)
            while time.monotonic() < deadline and (not points or points[-1][2] < sent):
                await asyncio.sleep(1.0)
            task.cancel()
            return sent

        sent = asyncio.run(run())
    at = crossed.get("events")
    after = [(t, mb) for t, mb, committed in points if at is not None and committed >= at]
    rss = [(t, mb) for t, mb, _ in points]
    return {
        "prefix": settings.topic_prefix, "seconds": args.soak, "rate": args.rate, "sent": sent,
        "distinct_viewers": target, "viewers_reached": at is not None,
        "rss_mb": rss, "committed": [(t, c) for t, _, c in points],
        "rss_start_mb": rss[0][1] if rss else None,
        "one_million_at_s": after[0][0] if after else None,
        "rss_after_1m_viewers_mb": after[0][1] if after else None,
        "slope_after_1m_mb_per_min": _slope(after),
        "slope_mb_per_min": _slope(rss),
        "peak_rss_mb": round(sampler.hwm_kib / 1024, 1),
    }


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares MB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mm = sum(m for _, m in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return round(60 * sum((t - mt) * (m - mm) for t, m in points) / var, 3) if var else None


# --- main -------------------------------------------------------------------------------

def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small numbers for a smoke run (~1 minute)")
    p.add_argument("--rate", type=float, help="offered events/s (default 3000; quick 500)")
    p.add_argument("--duration", type=float, help="seconds of the offered-rate run (default 60; quick 10)")
    p.add_argument("--events", type=int, help="events pre-loaded for the max-rate run (default 150000; quick 20000)")
    p.add_argument("--rooms", type=int, help="live rooms (default 200; quick 20)")
    p.add_argument("--viewers", type=int, default=200_000, help="viewer population of the generator")
    p.add_argument("--soak", type=float, default=0.0, metavar="SECONDS", help="also run the 1M-viewer soak")
    p.add_argument("--soak-viewers", type=int, default=ONE_MILLION, help="distinct viewers in the soak")
    p.add_argument("--phases", default="rate,max", help="comma-separated subset of rate,max")
    p.add_argument("--profile", action="store_true", help="py-spy the worker during the max-rate run")
    p.add_argument("--keep-topics", action="store_true")
    args = p.parse_args(argv)
    defaults = dict(rate=500.0, duration=10.0, events=20_000, rooms=20) if args.quick else \
        dict(rate=3000.0, duration=60.0, events=150_000, rooms=200)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    base = Settings.from_env()
    ensure_broker(base)
    rid = harness.run_id()
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    results: dict[str, Any] = {
        "run": rid, "date": stamp, "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
    }
    samples: dict[str, list[Any]] = {}
    runs = [(name, harness.run_settings(base, f"bench{rid}{name[0]}.")) for name in ("rate", "max", "soak")
            if name in phases or (name == "soak" and args.soak > 0)]
    try:
        for name, settings in runs:
            load_before = os.getloadavg()[0]
            if load_before > 0.5 * (os.cpu_count() or 1):
                log(f"{name}: WARNING load average {load_before:.1f} on {os.cpu_count()} CPUs: "
                    "other work competes with the benchmark")
            try:
                if name == "rate":
                    results["rate"] = rate_phase(args, settings, samples)
                elif name == "max":
                    results["max"] = max_phase(args, settings)
                else:
                    results["soak"] = soak_phase(args, settings)
            except (RuntimeError, TimeoutError) as exc:  # a worker that died or stalled: keep the other phases
                log(f"{name}: FAILED {exc}")
                results.setdefault("errors", {})[name] = str(exc)[-3000:]
                continue
            results[name]["loadavg_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    finally:
        if not args.keep_topics:
            for _, settings in runs:
                asyncio.run(harness.delete_topics(settings, extra=[PASSTHROUGH_TOPIC]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    png = RESULTS / f"{stamp}-latency.png"
    drawn = report.plot(results, samples, png)
    print(report.markdown(results))
    if "profile" in results.get("max", {}):
        print()
        print(profiling.format_summary(results["max"]["profile"]))
    print(f"\nresults: {out}" + (f"\nplot: {png}" if drawn else "\nplot: skipped (pip install matplotlib)"))
    for name in results.get("errors", {}):
        print(f"phase {name} FAILED (see {out})")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
