"""Helpers for tests on the real broker: run a worker process, produce raw bytes, collect
output records until an expected count or a deadline."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.settings import REPO_ROOT, Settings


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        env["LIVEMOD_" + field.name.upper()] = value.value if hasattr(value, "value") else str(value)
    return env


class WorkerProcess:
    """``livemod worker`` as a real child process; ready once it has its partitions."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 90.0) -> "WorkerProcess":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "worker"],
            cwd=REPO_ROOT, env=settings_env(self.settings), stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            if "livemod worker: ready" in self.output():
                return self
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {ready_timeout}s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def produce(settings: Settings, messages: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    """Send (logical topic, key, raw value) in order and wait until all are acknowledged."""
    producer = AIOKafkaProducer(acks="all", **settings.kafka_client_kwargs())
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(settings.topic(topic), value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def collect(settings: Settings, topic: str, expected: int, timeout: float = 60.0,
                  settle: float = 2.0) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``expected`` records arrived (then ``settle``
    more seconds, to catch extras that should not be there) or ``timeout`` passed."""
    return await collect_until(settings, topic, lambda records: len(records) >= expected, timeout, settle)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- fault injection (tests/test_faults_kafka.py, tests/test_fuzz.py) --------------------------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives ``key``: lets a test pick
    room ids that land on every partition."""
    from aiokafka.partitioner import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def keys_covering(prefix: str, partitions: int, per_partition: int = 1) -> list[str]:
    """``prefix0``, ``prefix1``, … chosen so each partition gets ``per_partition`` keys."""
    chosen: dict[int, list[str]] = {p: [] for p in range(partitions)}
    i = 0
    while any(len(v) < per_partition for v in chosen.values()):
        key = f"{prefix}{i}"
        bucket = chosen[partition_of(key.encode(), partitions)]
        if len(bucket) < per_partition:
            bucket.append(key)
        i += 1
    return [k for p in range(partitions) for k in chosen[p]]


class LocalBroker:
    """A private Kafka broker (own data dir and ports) for tests that stop it; the session
    broker other tests use is never touched."""

    SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "LIVEMOD_KAFKA_DATA": str(data_dir), "LIVEMOD_KAFKA_PORT": str(self.port),
                    "LIVEMOD_KAFKA_CONTROLLER_PORT": str(free_port())}
        if "LIVEMOD_KAFKA_SASL_PORT" in self.SCRIPT.read_text():  # a listener for SASL tests, if configured
            self.env["LIVEMOD_KAFKA_SASL_PORT"] = str(free_port())
        self.bootstrap = f"127.0.0.1:{self.port}"

    def _run(self, action: str) -> None:
        result = subprocess.run(["bash", str(self.SCRIPT), action], env=self.env, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {action} failed:\n{result.stdout}\n{result.stderr}")

    def up(self) -> "LocalBroker":
        self._run("up")
        return self

    def down(self) -> None:
        self._run("down")


async def collect_until(settings: Settings, topic: str, done: Any, timeout: float = 90.0,
                        settle: float = 2.0) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``done(records)`` holds (then ``settle`` more
    seconds, to catch redeliveries) or ``timeout`` passed. Unlike :func:`collect`, duplicates
    cannot end the wait early."""
    consumer = AIOKafkaConsumer(settings.topic(topic), group_id=None, auto_offset_reset="earliest",
                                **settings.kafka_client_kwargs())
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < (settle_until or deadline):
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(orjson.loads(r.value) for r in recs)
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
    finally:
        await consumer.stop()
    return records


def ids_present(field: str, expected: set[str]) -> Any:
    return lambda records: expected <= {r.get(field) for r in records}
