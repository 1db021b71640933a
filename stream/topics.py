"""Every topic livemod reads or writes, with partitions, keying and retention, as code.

``livemod topics create`` makes them through the admin client, because the broker has
``auto.create.topics.enable=false``. Every topic has the same partition count: a room's
events on the four input topics, and its state changelog, share one partition number, and
the consumer's range assignor gives all of them to the same worker.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
    for_code,
)

from .settings import Settings

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    key: str
    evidence: bool  # carries evidence → retention of at least 60 days (standard 4.3.2.2(4))
    compacted: bool = False
    retention_days: int = 7
    purpose: str = ""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("live.transcript", "room_id", False, purpose="anchor speech (ASR), one sentence per event"),
    TopicSpec("live.danmaku", "room_id", False, purpose="viewer comments"),
    TopicSpec("live.product", "room_id", False, purpose="product link pin/unpin/update"),
    TopicSpec("live.report", "room_id", False, purpose="user reports about a room (4.3.3.1(2), 4.4.2)"),
    TopicSpec("mod.detections", "room_id", True, purpose="findings of the detectors, with evidence"),
    TopicSpec("mod.enforce", "role:subject_id", True, purpose="internal: findings re-keyed by subject for the policy stage"),
    TopicSpec("mod.actions", "room_id", True, purpose="enforcement measures (4.3.3.2), automatic and manual, audited"),
    TopicSpec("mod.alerts", "room_id", True, purpose="alerts for on-call moderators"),
    TopicSpec("mod.cutoff", "room_id", True, purpose="real-time cutoff/restore signals for the streaming infrastructure (4.4.3)"),
    TopicSpec("mod.deadletter", "source_topic:partition", True, purpose="input that could not be decoded, raw bytes + reason"),
    TopicSpec("mod.banlist", "role:subject_id", True, compacted=True, purpose="market-ban list (8.2(2), 8.3(3)); null value lifts a ban"),
    TopicSpec("state.rooms", "room_id", False, compacted=True, purpose="internal: worker state changelog, products on screen per room"),
    TopicSpec("state.reports", "room_id", False, compacted=True, purpose="internal: worker state changelog, user-report history per room"),
    TopicSpec("state.history", "role:subject_id", False, compacted=True, purpose="internal: worker state changelog, enforcement history per subject"),
)
# Worker tables and their changelogs (stream/state.py); history follows mod.enforce's partitions.
STATE_TOPICS = {"rooms": "state.rooms", "reports": "state.reports", "history": "state.history"}
INPUT_TOPICS = tuple(t.name for t in TOPICS if t.name.startswith("live."))
# What the worker publishes (mod.banlist is written by operators, read by the worker).
OUTPUT_TOPICS = ("mod.detections", "mod.enforce", "mod.actions", "mod.alerts", "mod.cutoff", "mod.deadletter")


def topic_configs(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    if spec.compacted:
        return {"cleanup.policy": "compact"}
    days = max(spec.retention_days, settings.evidence_retention_days) if spec.evidence else spec.retention_days
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


class TopicSetupError(RuntimeError):
    pass


async def create_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; check existing ones have the expected partition count.

    Returns the full names created. Idempotent: a second run creates nothing.
    """
    await check_connection(settings, timeout_s)
    admin = AIOKafkaAdminClient(request_timeout_ms=int(timeout_s * 1000), **settings.kafka_client_kwargs())
    await admin.start()
    try:
        existing = await _partition_counts(admin, settings)
        created: list[str] = []
        for spec in TOPICS:
            name = settings.topic(spec.name)
            if name in existing:
                if existing[name] != settings.partitions:
                    raise TopicSetupError(
                        f"topic {name} has {existing[name]} partitions, expected {settings.partitions}: "
                        "livemod needs every topic to have the same count"
                    )
                continue
            response = await admin.create_topics(
                [NewTopic(name, settings.partitions, 1, topic_configs=topic_configs(spec, settings))]
            )
            # aiokafka returns per-topic error codes instead of raising.
            for topic_error in response.topic_errors:
                error = for_code(topic_error[1])
                if error is TopicAlreadyExistsError:  # another process won the race
                    continue
                if topic_error[1] != 0:
                    raise TopicSetupError(f"cannot create {topic_error[0]}: {error.__name__} {topic_error[2:]}")
                created.append(name)
        return created
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, settings: Settings) -> dict[str, int]:
    names = [settings.topic(spec.name) for spec in TOPICS]
    existing = set(await admin.list_topics())
    wanted = [n for n in names if n in existing]
    if not wanted:
        return {}
    described = await admin.describe_topics(wanted)
    return {d["topic"]: len(d["partitions"]) for d in described}


async def check_topics(settings: Settings, settle_s: float = 10.0) -> None:
    """Fail with a clear message when an input/output topic is missing or mis-partitioned.

    Topics created a moment ago may not be in every broker's metadata yet, so missing ones
    are looked for again for ``settle_s`` before giving up.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + settle_s
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        while True:
            counts = await _partition_counts(admin, settings)
            missing = [settings.topic(s.name) for s in TOPICS if settings.topic(s.name) not in counts]
            if not missing or loop.time() >= give_up:
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    if missing:
        raise TopicSetupError(f"missing topics {', '.join(missing)}: run `livemod topics create` first")
    wrong = {n: c for n, c in counts.items() if c != settings.partitions}
    if wrong:
        raise TopicSetupError(f"partition counts {wrong} differ from LIVEMOD_PARTITIONS={settings.partitions}")


class BrokerRefusedError(TopicSetupError):
    """The broker answered and refused our credentials or certificate: retrying cannot help."""


def _refusal(exc: BaseException, settings: Settings) -> str | None:
    """A clear message when ``exc`` means wrong credentials or TLS trust, else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS certificate verification failed: {exc.verify_message}; the broker's certificate is not "
                f"signed by a CA in {settings.ssl_cafile or 'the system CA store'} (LIVEMOD_SSL_CAFILE)")
    # An EOF mid-handshake is the connection dropping (e.g. a broker restarting), not a refusal.
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        return f"TLS handshake failed ({exc}): does the broker speak {settings.security_protocol} on this port?"
    if isinstance(exc, (SaslAuthenticationFailed, AuthenticationFailedError, IllegalSaslStateError)):
        return (f"authentication failed for user {settings.sasl_username!r} with {settings.sasl_mechanism} "
                f"({exc}): check LIVEMOD_SASL_USERNAME and LIVEMOD_SASL_PASSWORD(_FILE)")
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"{exc} (LIVEMOD_SASL_MECHANISM={settings.sasl_mechanism})"
    return None


async def check_connection(settings: Settings, timeout_s: float = 5.0) -> None:
    """Open one connection, with the configured security, to the first bootstrap server that
    answers. aiokafka's clients reduce every bootstrap failure to "Unable to bootstrap" and
    only log the cause; connecting directly lets a refusal surface as itself.

    Raises BrokerRefusedError for wrong credentials or an untrusted certificate, the
    connection error otherwise.
    """
    kwargs = settings.kafka_client_kwargs()
    kwargs.pop("bootstrap_servers")
    last: BaseException | None = None
    for host, port, _family in collect_hosts(settings.bootstrap_servers, randomize=False):
        try:
            conn = await create_conn(host, port, request_timeout_ms=int(timeout_s * 1000), **kwargs)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            refusal = _refusal(exc, settings)
            if refusal:
                raise BrokerRefusedError(f"Kafka at {host}:{port}: {refusal}") from None
            last = exc
            continue
        conn.close()
        return
    assert last is not None  # collect_hosts yields at least one host
    raise last


async def wait_for_broker(settings: Settings, deadline_s: float) -> None:
    """Retry connecting with exponential backoff until ``deadline_s``; raise a clear error then.
    A refusal (wrong credentials, untrusted certificate) is final and raised at once."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    delay = 0.5
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(request_timeout_ms=5000, **settings.kafka_client_kwargs())
        try:
            await check_connection(settings)
            await admin.start()
            await admin.list_topics()
            return
        except BrokerRefusedError:
            raise
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            left = give_up - loop.time()
            if left <= 0:
                raise TopicSetupError(
                    f"Kafka at {settings.bootstrap_servers} unreachable after {attempt} attempts "
                    f"in {deadline_s:.0f}s: {type(exc).__name__}: {exc}"
                ) from None
            log.warning("Kafka at %s not reachable (%s); retry %d in %.1fs", settings.bootstrap_servers,
                        type(exc).__name__, attempt, min(delay, left))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 10.0)
        finally:
            await admin.close()
