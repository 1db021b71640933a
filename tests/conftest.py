"""Shared fixtures. Kafka tests run against a real Apache Kafka broker (KRaft), started once
per test session by deploy/kafka/kafka.sh when none answers on 127.0.0.1:9092, and stopped
at the end if this session started it. A broker that cannot be reached fails the tests;
it never skips them (CI=true or not)."""
from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from stream.settings import REPO_ROOT, Settings

KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
BOOTSTRAP = os.environ.get("LIVEMOD_TEST_BOOTSTRAP", "127.0.0.1:9092")


def _answers(hostport: str) -> bool:
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    started = False
    if not _answers(BOOTSTRAP):
        env = {**os.environ, "LIVEMOD_KAFKA_DATA": str(REPO_ROOT / ".livemod-data" / "test-kafka")}
        result = subprocess.run(["bash", str(KAFKA_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not _answers(BOOTSTRAP):
            pytest.fail(f"could not start the test Kafka broker:\n{result.stdout}\n{result.stderr}")
        started = True
    yield BOOTSTRAP
    if started:
        env = {**os.environ, "LIVEMOD_KAFKA_DATA": str(REPO_ROOT / ".livemod-data" / "test-kafka")}
        subprocess.run(["bash", str(KAFKA_SCRIPT), "down"], env=env, capture_output=True, timeout=120)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings isolated per test: a unique topic prefix and app id, short group timeouts."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    return Settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        partitions=3,
        data_dir=tmp_path / "data",
        session_timeout_s=6.0,
        rebalance_timeout_s=6.0,
        heartbeat_interval_s=0.5,
        reload_interval=0.5,
        startup_deadline_s=20.0,
    )
