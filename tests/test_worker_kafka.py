"""The foundation on the real broker: topics as code, events through the worker to
the output topics, malformed input to the dead-letter topic, and the offline scan giving
the same detections as the worker for the same events."""
from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream.rules import ReloadingRules
from stream.scan import scan_verdicts, scanner
from stream.settings import Settings
from stream.topics import TOPICS, create_topics

from .kafka_support import WorkerProcess, collect, produce, run

pytestmark = pytest.mark.kafka
FIXTURE = Path(__file__).parent / "fixtures" / "session_small.jsonl"
TOPIC_OF = {"transcript": "live.transcript", "danmaku": "live.danmaku", "product": "live.product"}


def fixture_messages() -> list[tuple[str, bytes, bytes]]:
    out = []
    for line in FIXTURE.read_bytes().splitlines():
        obj = orjson.loads(line)
        out.append((TOPIC_OF[obj.pop("type")], obj["room_id"].encode(), orjson.dumps(obj)))
    return out


def scan_detections(settings: Settings) -> dict[str, set[tuple[str, str, str]]]:
    scan = scanner(ReloadingRules(settings.lexicon_dir), settings)
    found: dict[str, set[tuple[str, str, str]]] = {}
    for _n, _obj, verdict in scan_verdicts(FIXTURE.read_bytes().splitlines(), scan):
        if verdict.findings:
            found[verdict.event.event_id] = {(f.detector, f.category, f.rule_id) for f in verdict.findings}
    return found


def test_topics_create_is_idempotent_with_partitions_and_retention(kafka_settings: Settings) -> None:
    created = run(create_topics(kafka_settings))
    assert sorted(created) == sorted(kafka_settings.topic(t.name) for t in TOPICS)
    assert run(create_topics(kafka_settings)) == []

    async def describe() -> tuple[list, list]:
        admin = AIOKafkaAdminClient(**kafka_settings.kafka_client_kwargs())
        await admin.start()
        try:
            topics = await admin.describe_topics([kafka_settings.topic("mod.detections")])
            configs = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, kafka_settings.topic("mod.detections"))])
            return topics, configs
        finally:
            await admin.close()

    topics, configs = run(describe())
    assert len(topics[0]["partitions"]) == kafka_settings.partitions
    entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
    assert int(entries["retention.ms"]) >= 60 * 24 * 3600 * 1000  # evidence kept ≥ 60 days (4.3.2.2(4))


def test_worker_judges_events_and_dead_letters_bad_input(kafka_settings: Settings, tmp_path: Path) -> None:
    run(create_topics(kafka_settings))
    good = fixture_messages()
    bad = [
        ("live.danmaku", b"r1", b"\xff\xfe\x00garbage"),
        ("live.danmaku", b"r1", b'{"event_id": "x1", "room_id": "r1"'),
        ("live.transcript", b"r2", b'{"event_id": "x2", "room_id": "r2", "anchor_id": "a", "ts": "now", "text": "hi"}'),
        ("live.product", b"r1", b'{"event_id": "x3", "room_id": "r1", "merchant_id": "m", "ts": 1, "op": "pin"}'),
        ("live.product", b"r2", b'{"event_id": "x4", "room_id": "r2", "merchant_id": "m", "ts": 1, "op": "explode", "item": {}}'),
        ("live.danmaku", None, b"[]"),
    ]
    # Bad messages interleaved with good ones: the good ones around them must still be judged.
    mixed = [m for pair in zip(good, bad + [None] * (len(good) - len(bad))) for m in pair if m is not None]
    expected = scan_detections(kafka_settings)
    assert expected, "the fixture must produce detections"

    with WorkerProcess(kafka_settings, tmp_path / "worker.log") as worker:
        run(produce(kafka_settings, mixed))
        detections = run(collect(kafka_settings, "mod.detections", len(expected)))
        dead = run(collect(kafka_settings, "mod.deadletter", len(bad), settle=0.5))
    log = worker.output()
    # Bad input is data, not an error of the worker: no traceback, no broken log record,
    # and the contact handles in the events never reach the log.
    assert "Traceback" not in log and "Logging error" not in log
    assert "abc12345" not in log and "123456789" not in log

    got = {r["event_id"]: {(d["detector"], d["category"], d["rule_id"]) for d in r["detections"]} for r in detections}
    assert got == expected  # the worker and scan agree, event by event
    assert len(detections) == len(expected)  # one record per event with findings, none doubled
    assert all(r["detection_id"].startswith("det-") and r["room_id"] for r in detections)

    assert sorted(base64.b64decode(r["raw_b64"]) for r in dead) == sorted(m[2] for m in bad)
    reasons = sorted(r["reason"] for r in dead)
    assert reasons == sorted(["invalid_utf8", "invalid_json", "wrong_type", "invalid_item", "unknown_op", "not_an_object"])
    assert all(r["source_topic"].startswith("live.") and r["offset"] >= 0 for r in dead)
