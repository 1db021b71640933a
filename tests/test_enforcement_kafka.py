"""Enforcement on the real broker: the scripted session gives exactly the actions, alerts
and cutoffs that scan gives (same ids, same per-subject order), a worker killed with
SIGKILL and restarted mid-session loses and doubles nothing, and moderators' manual
cutoff/restore commands are published and audited."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from stream.kafka_io import publish_ban
from stream.settings import REPO_ROOT, Settings
from stream.topics import create_topics

from .kafka_support import WorkerProcess, collect, produce, run, settings_env
from .test_scan_enforcement import SESSION, run_scan

pytestmark = pytest.mark.kafka
TOPIC_OF = {"transcript": "live.transcript", "danmaku": "live.danmaku", "product": "live.product",
            "report": "live.report"}
OUT = ("mod.actions", "mod.cutoff", "mod.alerts")


def session_messages() -> tuple[list[dict], list[tuple[str, bytes, bytes]]]:
    bans, messages = [], []
    for line in SESSION.read_bytes().splitlines():
        obj = orjson.loads(line)
        kind = obj.pop("type")
        if kind == "ban":
            bans.append(obj)
        else:
            messages.append((TOPIC_OF[kind], obj["room_id"].encode(), orjson.dumps(obj)))
    return bans, messages


def expected() -> dict[str, list[dict]]:
    by_topic: dict[str, list[dict]] = defaultdict(list)
    for outputs in run_scan().values():
        for topic in OUT:
            by_topic[topic].extend(outputs[topic])
    return by_topic


ID = {"mod.actions": "action_id", "mod.cutoff": "cutoff_id", "mod.alerts": "alert_id"}


def strip_time(record: dict) -> dict:
    # issued_at is wall-clock information about *this* delivery; identity is the id.
    return {k: v for k, v in record.items() if k not in ("issued_at", "received_at")}


def assert_same_records(got: list[dict], want: list[dict], topic: str) -> None:
    key = ID[topic]
    by_id: dict[str, dict] = {}
    for record in got:  # at-least-once may redeliver: a repeat must be the same record
        previous = by_id.setdefault(record[key], strip_time(record))
        assert previous == strip_time(record), f"{topic}: two different records share {record[key]}"
    assert set(by_id) == {r[key] for r in want}, topic
    for record in want:
        assert by_id[record[key]] == strip_time(record), f"{topic}: {record[key]} differs from scan"


def per_subject_order(records: list[dict]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = defaultdict(list)
    for r in records:
        subject = f"{r['subject']['role']}:{r['subject']['id']}"
        if r["action_id"] not in order[subject]:
            order[subject].append(r["action_id"])
    return order


@pytest.fixture
def one_partition(kafka_settings: Settings) -> Settings:
    # One partition: the breaker (per process) sees the cutoffs in input order, as scan does.
    return dataclasses.replace(kafka_settings, partitions=1)


def start_session(settings: Settings) -> list[tuple[str, bytes, bytes]]:
    run(create_topics(settings))
    bans, messages = session_messages()
    for ban in bans:
        run(publish_ban(settings, f"{ban['role']}:{ban['subject_id']}", ban))
    return messages


def test_worker_enforces_exactly_like_scan(one_partition: Settings, tmp_path: Path) -> None:
    messages = start_session(one_partition)
    want = expected()
    with WorkerProcess(one_partition, tmp_path / "worker.log"):
        run(produce(one_partition, messages))
        got = {t: run(collect(one_partition, t, len(want[t]), settle=1.0)) for t in OUT}
    for topic in OUT:
        assert_same_records(got[topic], want[topic], topic)
    assert per_subject_order(got["mod.actions"]) == per_subject_order(want["mod.actions"])


def test_kill_and_restart_loses_and_doubles_nothing(one_partition: Settings, tmp_path: Path) -> None:
    messages = start_session(one_partition)
    want = expected()
    # Kill after room e1's second offence and e3's first lure: their escalations in the
    # second half need the history the first worker wrote to the changelog.
    cut = next(i for i, m in enumerate(messages) if b'"e3-d3"' in m[2])
    worker = WorkerProcess(one_partition, tmp_path / "first.log").start()
    run(produce(one_partition, messages[:cut]))
    run(collect(one_partition, "mod.actions", 5, settle=0.5))
    worker.kill()
    worker.stop()
    with WorkerProcess(one_partition, tmp_path / "second.log"):
        run(produce(one_partition, messages[cut:]))
        got = {t: run(collect(one_partition, t, len(want[t]), settle=1.0)) for t in OUT}
    for topic in OUT:
        assert_same_records(got[topic], want[topic], topic)


def livemod(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=REPO_ROOT, env=settings_env(settings),
                          capture_output=True, text=True, timeout=60)


def test_manual_cutoff_and_restore_are_published_and_audited(kafka_settings: Settings) -> None:
    run(create_topics(kafka_settings))
    for command in ("cutoff", "restore"):
        result = livemod(kafka_settings, command, "room-9", "--reason", "直播间出现违禁品", "--operator", "mod-alice")
        assert result.returncode == 0, result.stderr
    cutoffs = run(collect(kafka_settings, "mod.cutoff", 2, settle=0.2))
    actions = run(collect(kafka_settings, "mod.actions", 2, settle=0.2))
    assert [(c["op"], c["kind"], c["operator"], c["room_id"]) for c in cutoffs] == [
        ("cut", "manual", "mod-alice", "room-9"), ("restore", "manual", "mod-alice", "room-9")]
    assert [a["measure"] for a in actions] == ["manual_cutoff", "manual_restore"]
    assert {c["action_id"] for c in cutoffs} == {a["action_id"] for a in actions}
    tail = livemod(kafka_settings, "tail", "--from-beginning", "--idle-exit", "2", "--room", "room-9",
                   "--topics", "mod.cutoff")
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.strip().splitlines()
    assert len(lines) == 2 and "CUT (manual review-required)" in lines[0] and "RESTORE (manual)" in lines[1]
    # --limit ends the tail after that many matching records, without waiting to go idle.
    first = livemod(kafka_settings, "tail", "--from-beginning", "--limit", "1", "--room", "room-9",
                    "--topics", "mod.cutoff")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines() == lines[:1]
