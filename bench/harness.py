"""Kafka-side pieces of the benchmark: per-run settings and topics, load from
``session_gen``, consumer-group progress, and end-to-end latency from record timestamps.

Latency is measured from Kafka's own timestamps, so no clock lives inside the worker:
input CreateTime (set by our producer when it accepts the event) to output CreateTime
(set by the worker's producer when it accepts the record). Both are on this machine's clock.
"""
from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.kafka_io import replay
from stream.settings import REPO_ROOT, Settings
from stream.topics import INPUT_TOPICS, TOPICS, create_topics

BENCH_DIR = Path(__file__).resolve().parent
# Labels are ground truth for `livemod eval`, not part of an event on the wire.
_LABEL_FIELDS = ("expect", "note")


def _session_gen() -> Any:
    # bench/ is scripts, not a package: load the generator from its file, once.
    if "session_gen" not in sys.modules:
        spec = importlib.util.spec_from_file_location("session_gen", BENCH_DIR / "session_gen.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["session_gen"] = module  # dataclasses look their module up while built
        spec.loader.exec_module(module)
    return sys.modules["session_gen"]


def run_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]


def run_settings(base: Settings, prefix: str) -> Settings:
    """The operator's settings (LIVEMOD_* env) with this run's own topics and state folder,
    and a snapshot of the lexicons: an edit in the work tree during a run would trigger a
    hot reload in the middle of the measurement (the reload *check* still runs, as in production)."""
    data_dir = REPO_ROOT / ".livemod-data" / "bench" / prefix
    lexicons = data_dir / "lexicons"
    shutil.copytree(base.lexicon_dir, lexicons, dirs_exist_ok=True)
    return dataclasses.replace(base, topic_prefix=prefix, data_dir=data_dir, lexicon_dir=lexicons)


def group_id(settings: Settings) -> str:
    return settings.topic_prefix + settings.app_id  # the worker's consumer group


# --- load ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Load:
    """Arguments of one ``session_gen.generate`` call."""

    rooms: int
    seconds: float
    rate: float
    viewers: int
    seed: int = 11
    base_ts: float | None = None  # None: the generator's fixed prime-time evening

    def events(self) -> Iterator[dict[str, Any]]:
        sg = _session_gen()
        return sg.generate(self.rooms, self.seconds, self.rate, self.seed, self.viewers,
                           sg.DEFAULT_BASE_TS if self.base_ts is None else self.base_ts)


def wire_lines(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Corpus lines → the JSONL that ``stream.kafka_io.replay`` routes by ``type``."""
    for event in events:
        for name in _LABEL_FIELDS:
            event.pop(name, None)
        yield orjson.dumps(event)


async def produce_lines(settings: Settings, lines: Iterable[bytes], rate: float = 0.0) -> tuple[int, float]:
    """Replay into the input topics (keyed by room, paced when ``rate`` > 0) with the
    CLI's own producer path; returns (events sent, seconds taken)."""
    started = time.monotonic()
    sent, skipped = await replay(settings, lines, rate)
    assert not skipped, f"{skipped} generated lines did not route"
    return sent, time.monotonic() - started


async def create_bench_topics(settings: Settings, extra: Sequence[str] = ()) -> None:
    """Every livemod topic (as `livemod topics create`), plus bench-only ``extra`` topics."""
    await create_topics(settings)
    if not extra:
        return
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topic(t), settings.partitions, 1) for t in extra])
    finally:
        await admin.close()


async def delete_topics(settings: Settings, extra: Sequence[str] = ()) -> None:
    names = [settings.topic(t.name) for t in TOPICS] + [settings.topic(t) for t in extra]
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # Also anything else created under this run's prefix (older changelog names).
        names += [t for t in existing if t.startswith(settings.topic_prefix) and t not in names]
        await admin.delete_topics([n for n in names if n in existing])
    finally:
        await admin.close()


# --- consumer-group progress ------------------------------------------------------------

async def end_offsets(settings: Settings, topics: Sequence[str]) -> dict[TopicPartition, int]:
    # Every livemod topic has settings.partitions partitions (the range assignor co-partitions them).
    tps = [TopicPartition(settings.topic(t), p) for t in topics for p in range(settings.partitions)]
    consumer = AIOKafkaConsumer(group_id=None, **settings.kafka_client_kwargs())
    await consumer.start()
    try:
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


@dataclass(slots=True)
class Progress:
    """A consumer group's committed offsets over time, until it reached the ends."""

    total: int
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic s, events committed)
    done_at: float | None = None

    def window(self) -> tuple[tuple[float, int], tuple[float, int]] | None:
        """((time, committed), (time, committed)) the sustained rate is measured over.

        From the first commit that showed progress, so process start-up and group join
        (paid once by a long-running worker) are left out, to the last. Commits come about
        once per batch; when the first one already covers most of the input, the window
        starts at the last sample with nothing committed instead (a lower bound on the rate),
        or, without such a sample, at the first one (the rate of what was left).
        """
        if self.done_at is None:
            return None
        changes = [s for i, s in enumerate(self.samples) if s[1] > 0 and (i == 0 or s[1] != self.samples[i - 1][1])]
        first, last = changes[0], changes[-1]
        if first[1] <= self.total / 2 and last[0] > first[0]:
            return first, last
        idle = [t for t, c in self.samples if c == 0]
        if idle:
            return (idle[-1], 0), last
        return (first, last) if last[0] > first[0] else None

    def sustained_rate(self) -> float:
        window = self.window()
        if window is None:
            return 0.0
        (t0, c0), (t1, c1) = window
        return (c1 - c0) / (t1 - t0)


async def wait_committed(settings: Settings, group: str, ends: dict[TopicPartition, int], timeout: float,
                         poll_s: float = 0.25, on_sample: Callable[[], None] | None = None) -> Progress:
    """Poll ``group``'s committed offsets until every partition in ``ends`` is committed to its end."""
    progress = Progress(total=sum(ends.values()))
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(group, partitions=list(ends))
            offsets = {tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                       for tp in ends}
            now = time.monotonic()
            progress.samples.append((now, sum(offsets.values())))
            if on_sample:
                on_sample()
            if all(offsets[tp] >= end for tp, end in ends.items()):
                progress.done_at = now
                return progress
            await asyncio.sleep(poll_s)
        return progress
    finally:
        await admin.close()


async def committed_total(settings: Settings, group: str, topics: Sequence[str]) -> int:
    """Events ``group`` has committed over every partition of ``topics``."""
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        wanted = {settings.topic(t) for t in topics}
        committed = await admin.list_consumer_group_offsets(group)
        return sum(o.offset for tp, o in committed.items() if tp.topic in wanted and o.offset > 0)
    finally:
        await admin.close()


# --- records and latency ----------------------------------------------------------------

async def read_all(settings: Settings, topics: Sequence[str]) -> list[Any]:
    """Every record of ``topics`` from the beginning up to their current ends."""
    ends = {tp: end for tp, end in (await end_offsets(settings, topics)).items() if end > 0}
    if not ends:
        return []
    consumer = AIOKafkaConsumer(group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024, **settings.kafka_client_kwargs())
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        pending = set(ends)
        while pending:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, recs in batch.items():
                records.extend(recs)
                if recs and recs[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return records


async def input_timestamps(settings: Settings) -> dict[str, int]:
    """event_id → CreateTime (ms) of the input record carrying it."""
    return {orjson.loads(r.value)["event_id"]: r.timestamp for r in await read_all(settings, INPUT_TOPICS)}


@dataclass(frozen=True, slots=True)
class Sample:
    at_s: float  # input time, seconds since the run's first input
    latency_ms: float


def latencies(records: Iterable[Any], produced_ms: dict[str, int], origin_ms: int,
              keep: Callable[[dict[str, Any]], bool] = lambda v: True) -> list[Sample]:
    """Output CreateTime minus input CreateTime, for each output record that names an input
    ``event_id`` (replays of the same output after a restart count once: the first)."""
    out: dict[str, Sample] = {}
    for r in records:
        value = orjson.loads(r.value)
        event_id = value.get("event_id")
        if event_id in produced_ms and event_id not in out and keep(value):
            t_in = produced_ms[event_id]
            out[event_id] = Sample((t_in - origin_ms) / 1000, float(r.timestamp - t_in))
    return sorted(out.values(), key=lambda s: s.at_s)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


def summary(samples: Sequence[Sample]) -> dict[str, Any]:
    values = [s.latency_ms for s in samples]
    return {"n": len(values), **{f"p{q}_ms": percentile(values, q) for q in (50, 95, 99)},
            "max_ms": max(values) if values else None}


def per_second(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """p50/p99 per second of input time, for the JSON (the PNG plots every sample)."""
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int(s.at_s), []).append(s.latency_ms)
    return [{"t": t, "n": len(v), "p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)}
            for t, v in sorted(buckets.items())]
