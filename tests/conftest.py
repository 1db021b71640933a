"""Shared fixtures. Kafka tests run against a real Apache Kafka broker (KRaft), started once
per test session by deploy/kafka/kafka.sh when none answers on 127.0.0.1:9092, and stopped
at the end if this session started it. A broker that cannot be reached fails the tests;
it never skips them (CI=true or not)."""
from __future__ import annotations

import os
import socket
import subprocess
import uuid
from dataclasses import dataclass
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


# ---------------------------------------------------------------- SASL_SSL listener
TEST_KAFKA_DATA = REPO_ROOT / ".livemod-data" / "test-kafka"
SASL_PORT = int(os.environ.get("LIVEMOD_KAFKA_SASL_PORT", "9094"))


@dataclass(frozen=True)
class SaslListener:
    """The broker's SASL_SSL listener and the client files kafka.sh made for it."""
    bootstrap: str
    ca_pem: Path
    password_file: Path
    username: str = "livemod"


def _kafka_sh_data_dir(bootstrap: str) -> Path | None:
    """The data folder of the kafka.sh broker serving ``bootstrap``: its pid file names a live
    broker started with that folder's config, and the config listens on ``bootstrap``."""
    candidates = [Path(os.environ["LIVEMOD_KAFKA_DATA"])] if os.environ.get("LIVEMOD_KAFKA_DATA") else []
    candidates += [TEST_KAFKA_DATA, KAFKA_SCRIPT.parent / "data"]
    for data in candidates:
        config = data.resolve() / "server.properties"
        try:
            pid = int((data / "kafka.pid").read_text())
            running = f"kafka.Kafka\0{config}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
            serves = f"PLAINTEXT://{bootstrap}" in config.read_text()
        except (OSError, ValueError):
            continue
        if running and serves:
            return data
    return None


@pytest.fixture(scope="session")
def kafka_sasl(kafka_bootstrap: str) -> SaslListener:
    data = _kafka_sh_data_dir(kafka_bootstrap)
    if data is None:
        pytest.fail(f"the Kafka broker on {kafka_bootstrap} was not started by {KAFKA_SCRIPT}, so its SASL_SSL "
                    "listener and client certificates are unknown: stop it and let the tests start their own")
    tls = data / "tls"
    listener = SaslListener(f"127.0.0.1:{SASL_PORT}", tls / "ca.pem", tls / "livemod.password")
    if not (_answers(listener.bootstrap) and listener.ca_pem.exists() and listener.password_file.exists()):
        # Started before kafka.sh had the SASL_SSL listener: `up` restarts it on the current
        # configuration and adds the SCRAM user; data and topics are kept.
        env = {**os.environ, "LIVEMOD_KAFKA_DATA": str(data)}
        result = subprocess.run(["bash", str(KAFKA_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not _answers(listener.bootstrap):
            pytest.fail(f"no SASL_SSL listener on {listener.bootstrap} after `kafka.sh up`:\n{result.stdout}\n{result.stderr}")
    return listener
