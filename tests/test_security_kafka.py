"""livemod against an authenticated, encrypted broker: the SASL_SSL listener (SCRAM-SHA-512
over TLS) that deploy/kafka/kafka.sh adds, configured the way an operator would, with the
password read from a file and the broker's CA from a PEM. Wrong credentials and an
untrusted certificate must stop the worker at once with a message saying so, and the
password must never reach a log."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import orjson
import pytest

from stream.settings import REPO_ROOT, Secret, Settings
from stream.topics import INPUT_TOPICS, TOPICS, create_topics

from .conftest import SaslListener
from .kafka_support import WorkerProcess, collect, produce, run, settings_env
from .test_worker_kafka import FIXTURE, fixture_messages, scan_detections

pytestmark = pytest.mark.kafka


@pytest.fixture
def sasl_settings(kafka_settings: Settings, kafka_sasl: SaslListener) -> Settings:
    """The per-test settings (unique topic prefix, short timeouts) on the SASL_SSL listener."""
    secure = Settings.from_env({
        "LIVEMOD_BOOTSTRAP_SERVERS": kafka_sasl.bootstrap,
        "LIVEMOD_SECURITY_PROTOCOL": "SASL_SSL",
        "LIVEMOD_SASL_MECHANISM": "SCRAM-SHA-512",
        "LIVEMOD_SASL_USERNAME": kafka_sasl.username,
        "LIVEMOD_SASL_PASSWORD_FILE": str(kafka_sasl.password_file),
        "LIVEMOD_SSL_CAFILE": str(kafka_sasl.ca_pem),
    })
    security = ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
                "ssl_cafile")
    return dataclasses.replace(kafka_settings, **{name: getattr(secure, name) for name in security})


@pytest.fixture(scope="session")
def other_ca_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate that did not sign the broker's, made with the JDK's keytool."""
    folder = tmp_path_factory.mktemp("other-ca")
    keytool = ["keytool", "-J-XX:TieredStopAtLevel=1"]
    store = ["-keystore", str(folder / "ca.p12"), "-storetype", "PKCS12", "-storepass", "throwaway", "-alias", "ca"]
    subprocess.run([*keytool, "-genkeypair", *store, "-keyalg", "RSA", "-keysize", "2048",
                    "-dname", "CN=some other CA", "-ext", "bc:c=ca:true", "-validity", "2"],
                   check=True, capture_output=True)
    subprocess.run([*keytool, "-exportcert", "-rfc", *store, "-file", str(folder / "ca.pem")],
                   check=True, capture_output=True)
    return folder / "ca.pem"


def cli_env(settings: Settings, listener: SaslListener) -> dict[str, str]:
    """Environment for a livemod subprocess that reads the password from the file."""
    env = settings_env(settings)
    del env["LIVEMOD_SASL_PASSWORD"]
    env["LIVEMOD_SASL_PASSWORD_FILE"] = str(listener.password_file)
    return env


def livemod(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_create_topics_over_sasl_ssl(sasl_settings: Settings) -> None:
    created = run(create_topics(sasl_settings))
    assert sorted(created) == sorted(sasl_settings.topic(t.name) for t in TOPICS)


def test_worker_judges_events_over_sasl_ssl(sasl_settings: Settings, tmp_path: Path) -> None:
    run(create_topics(sasl_settings))
    expected = scan_detections(sasl_settings)
    with WorkerProcess(sasl_settings, tmp_path / "worker.log") as worker:
        run(produce(sasl_settings, fixture_messages()))
        detections = run(collect(sasl_settings, "mod.detections", len(expected)))
    got = {r["event_id"]: {(d["detector"], d["category"], d["rule_id"]) for d in r["detections"]} for r in detections}
    assert got == expected  # same verdicts as on PLAINTEXT (test_worker_kafka)
    assert len(detections) == len(expected)
    assert sasl_settings.sasl_password.value not in worker.output()


def test_cli_creates_topics_and_produces_over_sasl_ssl(sasl_settings: Settings, kafka_sasl: SaslListener) -> None:
    env = cli_env(sasl_settings, kafka_sasl)
    password = sasl_settings.sasl_password.value

    created = livemod(env, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert f"created {len(TOPICS)} topic(s)" in created.stdout

    produced = livemod(env, "produce", str(FIXTURE))
    assert produced.returncode == 0, produced.stderr
    lines = FIXTURE.read_bytes().splitlines()
    assert f"produced {len(lines)} event(s), skipped 0" in produced.stderr

    # Every event arrived on its input topic.
    per_topic = {t: sum(1 for m in fixture_messages() if m[0] == t) for t in INPUT_TOPICS}
    for topic, count in per_topic.items():
        assert len(run(collect(sasl_settings, topic, count, timeout=20, settle=0.3))) == count, topic

    shown = livemod(env, "settings")
    assert shown.returncode == 0, shown.stderr
    assert "sasl_password = Secret('***')" in shown.stdout
    assert f"ssl_cafile = {kafka_sasl.ca_pem}" in shown.stdout
    for out in (created, produced, shown):
        assert password not in out.stdout + out.stderr


# How the worker must fail: at once (a refusal is final, never retried until the startup
# deadline), exit code 2, and a message naming the cause.
REFUSALS: list[tuple[str, Callable[[Settings, Path], Settings], str]] = [
    # The user exists, the password is wrong.
    ("wrong password", lambda s, _ca: dataclasses.replace(s, sasl_password=Secret("not-the-password")),
     "authentication failed for user 'livemod' with SCRAM-SHA-512"),
    # A user the broker does not know fails the same way (SCRAM does not tell them apart).
    ("unknown user", lambda s, _ca: dataclasses.replace(s, sasl_username="mallory"),
     "authentication failed for user 'mallory'"),
    # The client trusts a CA that did not sign the broker's certificate.
    ("untrusted CA", lambda s, ca: dataclasses.replace(s, ssl_cafile=str(ca)),
     "TLS certificate verification failed"),
]


@pytest.mark.parametrize("case, configure, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_worker_refused_by_broker_exits_at_once_with_the_cause(
    sasl_settings: Settings, other_ca_pem: Path, tmp_path: Path,
    case: str, configure: Callable[[Settings, Path], Settings], message: str,
) -> None:
    run(create_topics(sasl_settings))  # topics exist: the only problem is the refusal
    settings = configure(sasl_settings, other_ca_pem)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="worker exited with 2"):
        worker.start(ready_timeout=settings.startup_deadline_s + 30)
    elapsed = time.monotonic() - started
    worker.log.close()

    output = worker.output()
    assert message in output
    assert elapsed < settings.startup_deadline_s, f"{case}: took {elapsed:.1f}s, retried until the deadline?"
    assert "Traceback" not in output
    assert settings.sasl_password.value not in output
    assert sasl_settings.sasl_password.value not in output


def test_cli_topics_create_names_the_refusal(sasl_settings: Settings, kafka_sasl: SaslListener,
                                             tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    env = {**cli_env(sasl_settings, kafka_sasl), "LIVEMOD_SASL_PASSWORD_FILE": str(wrong)}
    result = livemod(env, "topics", "create")
    assert result.returncode == 2
    assert "livemod topics: Kafka at" in result.stderr and "authentication failed" in result.stderr
    assert "Traceback" not in result.stderr and "not-the-password" not in result.stderr
