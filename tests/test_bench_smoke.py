"""The benchmark harness's pieces (bench/) on a tiny load against the real broker: load,
a real worker measured by committed offsets and record timestamps, the passthrough
baseline measured the same way, /proc sampling and the report. Numbers are not judged
here, only that each piece measures something real."""
from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stream.settings import REPO_ROOT, Settings
from stream.topics import INPUT_TOPICS

from .kafka_support import WorkerProcess, settings_env

sys.path.insert(0, str(REPO_ROOT / "bench"))  # bench/ is scripts, not a package
import harness  # noqa: E402
import report  # noqa: E402
from procstat import ProcSampler  # noqa: E402

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),  # no data, no percentile
    ([7.0], 99, 7.0),  # one sample is every percentile
    ([float(v) for v in range(1, 101)], 50, 50.0),  # nearest rank: the 50th of 100
    ([float(v) for v in range(1, 101)], 99, 99.0),
    ([5.0, 1.0, 3.0], 100, 5.0),  # unsorted input, the maximum
])
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float | None) -> None:
    assert harness.percentile(values, q) == expected


@pytest.mark.parametrize("samples, window", [
    # progress from a small first commit: measured from it to the last
    ([(0.0, 0), (1.0, 100), (3.0, 1000)], ((1.0, 100), (3.0, 1000))),
    # the first commit already covers most of the input: from the last idle sample
    ([(0.0, 0), (1.0, 900), (2.0, 1000)], ((0.0, 0), (2.0, 1000))),
    # ... and without an idle sample, from the first one (the rate of what was left)
    ([(1.0, 900), (2.0, 1000)], ((1.0, 900), (2.0, 1000))),
    # one sample: no rate
    ([(1.0, 1000)], None),
])
def test_progress_window(samples: list[tuple[float, int]], window: object) -> None:
    progress = harness.Progress(total=1000, samples=samples, done_at=samples[-1][0])
    assert progress.window() == window


def test_harness_measures_worker_and_baseline_on_a_tiny_load(kafka_settings: Settings, tmp_path: Path) -> None:
    # Small batches and fast polling: a sustained rate needs several commits seen, and the
    # whole tiny load would otherwise fit in one batch (one commit, no rate to measure).
    settings = dataclasses.replace(kafka_settings, batch_max=50)
    asyncio.run(harness.create_bench_topics(settings, extra=["bench.passthrough"]))
    # About 3,600 events: enough that the worker is still busy while it is being sampled
    # (the loop judges a few hundred events within one CPU-clock tick).
    load = harness.Load(rooms=5, seconds=60, rate=60, viewers=500, base_ts=time.time())
    sent, _ = asyncio.run(harness.produce_lines(settings, harness.wire_lines(load.events())))
    assert sent > 400
    ends = asyncio.run(harness.end_offsets(settings, INPUT_TOPICS))
    assert sum(ends.values()) == sent

    with WorkerProcess(settings, tmp_path / "worker.log") as worker:
        sampler = ProcSampler(worker.proc.pid)
        progress = asyncio.run(harness.wait_committed(settings, harness.group_id(settings), ends, timeout=20,
                                                      poll_s=0.02, on_sample=sampler.sample))
    assert progress.done_at is not None and progress.sustained_rate() > 0
    assert sampler.hwm_kib > 10_000 and sampler.cpu_used() > 0  # a live Python process, really sampled

    produced = asyncio.run(harness.input_timestamps(settings))
    assert len(produced) == sent
    detections = harness.latencies(asyncio.run(harness.read_all(settings, ["mod.detections"])), produced,
                                   min(produced.values()))
    # Planted violations are detected, and every output follows its input.
    assert detections and all(s.latency_ms >= 0 for s in detections)

    group = settings.topic_prefix + "passthrough"
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "bench" / "passthrough.py"), group,
                             settings.topic("bench.passthrough"), *(settings.topic(t) for t in INPUT_TOPICS)],
                            cwd=REPO_ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL)
    try:
        baseline = asyncio.run(harness.wait_committed(settings, group, ends, timeout=20))
    finally:
        proc.terminate()
        proc.wait(10)
    assert baseline.done_at is not None
    copied = asyncio.run(harness.end_offsets(settings, ["bench.passthrough"]))
    assert sum(copied.values()) == sent  # the baseline re-produced every event

    summary = harness.summary(detections)
    results = {"rate": {"offered_rate": 60.0, "drained": True, "detections": summary, "cutoffs": harness.summary([]),
                        "actions": harness.summary([]), "detections_per_second": harness.per_second(detections),
                        "worker_cpu_percent": 1.0}}
    table = report.markdown(results)
    assert f"n={summary['n']}" in table and "cutoff latency" in table
    if report.plot(results, {"detections": detections}, tmp_path / "latency.png"):
        assert (tmp_path / "latency.png").stat().st_size > 1000
    asyncio.run(harness.delete_topics(settings, extra=["bench.passthrough"]))
