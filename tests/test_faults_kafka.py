"""Faults on the real broker: a worker killed mid-session, the broker restarted, the broker
absent at start, an output topic deleted under the worker, a broken lexicon under load.

The expected verdicts come from running the same events through ``stream.scan`` in-process:
whatever the fault, the output topics must carry exactly that set of records. At-least-once
may redeliver, so duplicates are allowed only as identical records (``issued_at`` aside)."""
from __future__ import annotations

import dataclasses
import asyncio
import functools
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.rules import ReloadingRules
from stream.scan import TOPIC_FOR_TYPE, scan_verdicts, scanner
from stream.settings import REPO_ROOT, Settings
from stream.topics import create_topics, topic_configs, TOPICS

from .kafka_support import (LocalBroker, WorkerProcess, collect_until, free_port, ids_present, keys_covering,
                            produce, run, settings_env)

pytestmark = pytest.mark.kafka
T0 = 1764200000.0
SCARF = {"item_id": "i-wool", "title": "秋冬羊毛混纺围巾", "price": 199, "category": "apparel",
         "attributes": {"material": "羊毛30% 聚酯纤维70%", "origin": "江苏"}, "licenses": []}


# --- a scripted multi-room session and what it must yield ----------------------------------

def session(rooms: Iterable[str]) -> tuple[list[dict], list[dict]]:
    """(before, after) the fault. After it, every room needs state from before: the pinned
    scarf (price mismatch) and its viewer's two earlier contact handles (third hit → ban)."""
    before, after = [], []
    for k, room in enumerate(rooms):
        t = T0 + 100 * k  # rooms 100 s apart: one cutoff per minute stays under the breaker cap
        ids = {"room_id": room}
        anchor, viewer = {**ids, "anchor_id": f"a-{room}"}, {**ids, "user_id": f"v-{room}"}
        before += [
            {"type": "product", **ids, "event_id": f"{room}-p", "merchant_id": f"m-{room}", "ts": t, "op": "pin",
             "item": SCARF},
            {"type": "transcript", **anchor, "event_id": f"{room}-t1", "ts": t + 1, "text": "家人们这个是全网最低"},
            {"type": "danmaku", **viewer, "event_id": f"{room}-d1", "ts": t + 2, "text": "QQ 76423868"},
            {"type": "danmaku", **ids, "user_id": f"w-{room}", "event_id": f"{room}-d2", "ts": t + 3, "text": "已拍"},
            {"type": "danmaku", **viewer, "event_id": f"{room}-d3", "ts": t + 4, "text": "加微信abc12345"},
        ]
        after += [
            {"type": "transcript", **anchor, "event_id": f"{room}-t2", "ts": t + 20, "text": "家人们今天只要九十九"},
            {"type": "danmaku", **viewer, "event_id": f"{room}-d4", "ts": t + 21, "text": "QQ 76423868"},
            {"type": "transcript", **anchor, "event_id": f"{room}-t3", "ts": t + 22,
             "text": "仿真枪的话私下问我 我们仓库有"},
        ]
    return before, after


def messages(events: list[dict]) -> list[tuple[str, bytes, bytes]]:
    out = []
    for event in events:
        body = {k: v for k, v in event.items() if k != "type"}
        out.append((TOPIC_FOR_TYPE[event["type"]], event["room_id"].encode(), orjson.dumps(body)))
    return out


@functools.lru_cache(maxsize=None)
def rules_in(lexicon_dir: Path) -> ReloadingRules:
    return ReloadingRules(lexicon_dir)  # loading takes seconds: once per directory


def expected_ids(settings: Settings, events: list[dict]) -> dict[str, set[str]]:
    scan = scanner(rules_in(settings.lexicon_dir), settings)
    found: dict[str, set[str]] = defaultdict(set)
    for _n, _obj, verdict in scan_verdicts((orjson.dumps(e) for e in events), scan):
        for out in verdict.outputs:
            field = {"mod.detections": "detection_id", "mod.actions": "action_id", "mod.cutoff": "cutoff_id"}.get(
                out.topic)
            if field:
                found[out.topic].add(out.value[field])
    return found


ID_FIELD = {"mod.detections": "detection_id", "mod.actions": "action_id", "mod.cutoff": "cutoff_id"}


def outputs_match(settings: Settings, expected: dict[str, set[str]], timeout: float = 90.0) -> dict[str, int]:
    """Every expected record arrives; none unexpected; duplicates are identical. Returns the
    number of redelivered duplicates per topic."""
    doubled = {}
    for topic, field in ID_FIELD.items():
        records = run(collect_until(settings, topic, ids_present(field, expected[topic]), timeout=timeout))
        by_id: dict[str, list[dict]] = defaultdict(list)
        for r in records:
            by_id[r[field]].append({k: v for k, v in r.items() if k != "issued_at"})
        assert set(by_id) == expected[topic], (topic, expected[topic] - set(by_id), set(by_id) - expected[topic])
        for same_id in by_id.values():
            assert all(r == same_id[0] for r in same_id), f"{topic}: records sharing an id differ: {same_id}"
        doubled[topic] = len(records) - len(by_id)
    return doubled


def fault_settings(settings: Settings, **changes: Any) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, **changes)


# --- 1. kill -9 one of two workers ----------------------------------------------------------

def test_survivor_takes_over_a_killed_worker_with_its_state(kafka_settings: Settings, tmp_path: Path) -> None:
    settings = fault_settings(kafka_settings, partitions=4)
    run(create_topics(settings))
    rooms = keys_covering("room-", settings.partitions, per_partition=2)  # both workers own rooms
    before, after = session(rooms)
    expected = expected_ids(settings, before + after)
    assert all(expected[t] for t in ID_FIELD), expected  # the session must produce actions and cutoffs
    first = WorkerProcess(settings, tmp_path / "w1.log").start()
    second = WorkerProcess(settings, tmp_path / "w2.log").start()
    try:
        run(produce(settings, messages(before)))
        # Kill as soon as the first verdict is out: the rest of the first half is in flight.
        run(collect_until(settings, "mod.actions", lambda records: records, timeout=60, settle=0))
        first.kill()  # SIGKILL: no commit, no leave-group
        run(produce(settings, messages(after)))
        doubled = outputs_match(settings, expected)
        assert second.proc is not None and second.proc.poll() is None
    finally:
        first.stop()
        second.stop()
    print(f"kill -9: {len(before + after)} events; expected {[len(v) for v in expected.values()]}; "
          f"redelivered duplicates {doubled}")


# --- 2. broker stopped and restarted ----------------------------------------------------------

def test_worker_reconnects_after_a_broker_restart(kafka_settings: Settings, tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "kafka").up()
    settings = fault_settings(kafka_settings, bootstrap_servers=broker.bootstrap)
    try:
        run(create_topics(settings))
        rooms = keys_covering("room-", settings.partitions)
        before, after = session(rooms)
        expected = expected_ids(settings, before + after)
        with WorkerProcess(settings, tmp_path / "worker.log") as worker:
            run(produce(settings, messages(before)))
            run(collect_until(settings, "mod.detections",
                              ids_present("detection_id", expected_ids(settings, before)["mod.detections"]),
                              timeout=60, settle=0))
            broker.down()
            time.sleep(5)  # the worker sees the broker gone: connections refused, requests failing
            broker.up()
            run(produce(settings, messages(after)))
            doubled = outputs_match(settings, expected, timeout=120)
            assert worker.proc is not None and worker.proc.poll() is None
    finally:
        broker.down()
    print(f"broker restart: {len(before + after)} events; redelivered duplicates {doubled}")


# --- 3. broker unreachable at start -------------------------------------------------------------

def test_worker_gives_up_with_one_clear_line_when_the_broker_is_absent(kafka_settings: Settings) -> None:
    settings = fault_settings(kafka_settings, bootstrap_servers=f"127.0.0.1:{free_port()}", startup_deadline_s=5.0)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "stream.cli", "worker"], cwd=REPO_ROOT, env=settings_env(settings),
                            capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < settings.startup_deadline_s + 10  # the deadline plus interpreter start-up
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("livemod worker:")]
    assert len(errors) == 1 and "unreachable" in errors[0] and settings.bootstrap_servers in errors[0], output
    retries = [line for line in output.splitlines() if "not reachable" in line]
    assert 1 <= len(retries) <= 6, output  # bounded backoff, not a tight loop


# --- 4. an output topic deleted under a running worker -------------------------------------------

async def _admin(settings: Settings, action: str) -> None:
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        name = settings.topic("mod.detections")
        if action == "delete":
            await admin.delete_topics([name])
        else:
            spec = next(t for t in TOPICS if t.name == "mod.detections")
            await admin.create_topics([NewTopic(name, settings.partitions, 1,
                                                topic_configs=topic_configs(spec, settings))])
    finally:
        await admin.close()


@pytest.mark.parametrize("absent_s, producer_timeout", [
    # back within the producer's retry time (LIVEMOD_PRODUCER_REQUEST_TIMEOUT_S, 120 s by default): retried
    (5, None),
    # gone longer than the retry time (shortened to 4 s): the records cannot be delivered, and
    # that must not pass silently: an alert, or the worker exits before committing past them
    (15, "4"),
])
def test_detections_survive_their_topic_being_deleted_and_recreated(
        kafka_settings: Settings, tmp_path: Path,
        absent_s: float, producer_timeout: str | None) -> None:
    settings = kafka_settings
    if producer_timeout:
        settings = dataclasses.replace(settings, producer_request_timeout_s=float(producer_timeout))
    run(create_topics(settings))
    rooms = keys_covering("room-", settings.partitions)
    before, after = session(rooms)
    expected_before = expected_ids(settings, before)["mod.detections"]
    expected_after = expected_ids(settings, before + after)["mod.detections"] - expected_before
    with WorkerProcess(settings, tmp_path / "worker.log") as worker:
        run(produce(settings, messages(before)))
        run(collect_until(settings, "mod.detections", ids_present("detection_id", expected_before),
                          timeout=60, settle=0))
        run(_admin(settings, "delete"))
        time.sleep(2)
        run(produce(settings, messages(after)))  # judged while mod.detections does not exist
        time.sleep(absent_s)
        run(_admin(settings, "create"))
        records = run(collect_until(settings, "mod.detections", ids_present("detection_id", expected_after),
                                    timeout=15 if producer_timeout else 30))
        alerts = run(collect_until(settings, "mod.alerts", lambda r: False, timeout=3))
        exit_code = worker.proc.poll() if worker.proc else None
        log = worker.output()
    lost = expected_after - {r["detection_id"] for r in records}
    if lost and exit_code not in (None, 0):
        # The worker stopped rather than commit past what it could not deliver: a restarted
        # worker must reprocess those events and deliver every record.
        assert "delivery to" in log and "exiting without committing" in log
        with WorkerProcess(settings, tmp_path / "restarted.log"):
            records = run(collect_until(settings, "mod.detections", ids_present("detection_id", expected_after),
                                        timeout=60))
        lost = expected_after - {r["detection_id"] for r in records}
    told = [a for a in alerts if a.get("kind") == "delivery_failed"]
    assert not lost or told, (
        f"{len(lost)} of {len(expected_after)} detections lost without an alert:\n"
        + "\n".join(line for line in log.splitlines() if "_on_published" in line)[-2000:])


# --- 5. a broken lexicon under load ---------------------------------------------------------------

NEW_ENTRY = """
  - id: abs.fuzz_reload_probe
    pattern: 宇宙超级无敌款
    category: absolute_term
    severity: high
    legal_basis: "《广告法》第九条第(三)项"
"""


async def _reload_under_load(settings: Settings, lexicon: Path) -> dict[str, Any]:
    """Produce a claim every 50 ms while breaking, then fixing, the lexicon; watch the outputs."""
    producer = AIOKafkaProducer(acks="all", **settings.kafka_client_kwargs())
    consumer = AIOKafkaConsumer(settings.topic("mod.detections"), settings.topic("mod.alerts"), group_id=None,
                                auto_offset_reset="earliest", **settings.kafka_client_kwargs())
    await producer.start()
    await consumer.start()
    seen: dict[str, Any] = {"versions": [], "alerts": [], "probe": None}
    stop = asyncio.Event()

    async def feed() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            text = "这个宇宙超级无敌款全网最低" if i % 2 else "家人们全网最低"
            event = {"event_id": f"load-{i}", "room_id": "r-load", "anchor_id": "a-load", "ts": T0 + i, "text": text}
            await producer.send(settings.topic("live.transcript"), orjson.dumps(event), key=b"r-load")
            await asyncio.sleep(0.05)

    async def until(predicate: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; seen {seen}"
            for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                for r in recs:
                    value = orjson.loads(r.value)
                    if tp.topic.endswith("mod.alerts"):
                        seen["alerts"].append(value)
                    else:
                        seen["versions"].append(value["lexicon_version"])
                        if any(d["rule_id"] == "abs.fuzz_reload_probe" for d in value["detections"]):
                            seen["probe"] = value["lexicon_version"]

    feeding = asyncio.create_task(feed())
    try:
        await until(lambda: seen["versions"], 30)
        seen["old"] = seen["versions"][0]
        original = lexicon.read_text(encoding="utf-8")
        lexicon.write_text(original + "\n  - id: [unclosed\n", encoding="utf-8")  # invalid YAML
        await until(lambda: any(a.get("kind") == "rulebook_reload_rejected" for a in seen["alerts"]), 30)
        mark = len(seen["versions"])
        await until(lambda: len(seen["versions"]) >= mark + 20, 30)  # still serving after the alert
        seen["while_broken"] = set(seen["versions"][mark:])
        lexicon.write_text(original + NEW_ENTRY, encoding="utf-8")
        await until(lambda: seen["probe"] is not None, 30)
    finally:
        stop.set()
        await feeding
        await producer.stop()
        await consumer.stop()
    return seen


def test_broken_lexicon_under_load_keeps_the_old_rules_then_a_fixed_one_goes_live(kafka_settings: Settings,
                                                                                  tmp_path: Path) -> None:
    directory = tmp_path / "lexicons"
    shutil.copytree(REPO_ROOT / "lexicons", directory)
    settings = fault_settings(kafka_settings, lexicon_dir=directory, reload_interval=0.5)
    run(create_topics(settings))
    with WorkerProcess(settings, tmp_path / "worker.log") as worker:
        seen = run(_reload_under_load(settings, directory / "prohibited_claim.yaml"))
        assert worker.proc is not None and worker.proc.poll() is None
    rejected = [a for a in seen["alerts"] if a.get("kind") == "rulebook_reload_rejected"]
    assert len(rejected) == 1  # reported once, not on every poll
    assert "prohibited_claim.yaml" in rejected[0]["details"]["error"]
    assert seen["while_broken"] == {seen["old"]}  # detections kept coming, judged by the old rules
    assert seen["probe"] != seen["old"] and "prohibited_claim@" in seen["probe"]
