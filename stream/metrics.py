"""Every Prometheus metric of the worker, in one dedicated registry, with the few helpers
that feed them.

Rules: names start with ``livemod_``; label values come from fixed vocabularies only
(logical topic names, detector/category, measure/mode, dead-letter reasons, severities),
never room, user or event ids, so the series count stays bounded whatever the traffic.
Every labelled counter is created at import for its whole vocabulary, so a dashboard or
an alert sees 0 (not "no data") for things that have not happened yet.

The registry is not prometheus_client's global one: tests can import this module in a
process that builds several workers without "duplicated timeseries" errors, and the
endpoint exposes exactly these metrics (no process/platform collectors of the test host).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterable

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               start_http_server)

from detectors.base import SEVERITIES
from detectors.lexicon import CATEGORIES

from .enforcement import ACTIONS as ACTIONS_TOPIC
from .enforcement import ALERTS as ALERTS_TOPIC
from .enforcement import CUTOFF as CUTOFF_TOPIC
from .events import DEAD_LETTER_REASONS
from .policy import MEASURES, MODES, VIEWER_MEASURES
from .records import DeadLetter
from .topics import INPUT_TOPICS, OUTPUT_TOPICS

if TYPE_CHECKING:
    import asyncio

    from .pipeline import Verdict
    from .records import Output

REGISTRY = CollectorRegistry(auto_describe=True)
# The *_created series double the series count for nothing PromQL's rate() needs.
disable_created_metrics()

# Event time → output acknowledged by the broker. The SLO is 100 ms at normal load, so the
# buckets are dense around it; 10 s and beyond is "backlog", the bucket shape no longer matters.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# One detector on one event: tens of microseconds normally, milliseconds when a rule is slow.
DETECTOR_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
# Timing every detector on every event costs more than the metric is worth; the worker
# times one event in this many.
DETECTOR_SAMPLE_EVERY = 16
CUTOFF_KINDS = ("automatic", "manual")

EVENTS_CONSUMED = Counter(
    "livemod_events_consumed", "Input messages taken from Kafka, by logical input topic (bad ones included).",
    ["topic"], registry=REGISTRY)
LAST_EVENT_TIMESTAMP = Gauge(
    "livemod_last_event_timestamp_seconds",
    "Wall-clock time the worker last consumed a message from the topic (worker start until the first).",
    ["topic"], registry=REGISTRY)
DETECTIONS = Counter(
    "livemod_detections", "Findings of the detectors, by detector and category.",
    ["detector", "category"], registry=REGISTRY)
DETECTOR_ERRORS = Counter(
    "livemod_detector_errors", "Events a detector raised on (the others still judged the event).",
    ["detector"], registry=REGISTRY)
DETECTOR_SECONDS = Histogram(
    "livemod_detector_seconds",
    f"Time one detector spends on one event; sampled, 1 event in {DETECTOR_SAMPLE_EVERY} is timed.",
    ["detector"], buckets=DETECTOR_BUCKETS, registry=REGISTRY)
ACTIONS = Counter(
    "livemod_actions", "Measures decided by the policy, by measure and mode (enforce|shadow).",
    ["measure", "mode"], registry=REGISTRY)
CUTOFFS = Counter(
    "livemod_cutoffs", "Real-time cutoff signals (standard 4.4.3), automatic (policy) or manual (moderator).",
    ["kind"], registry=REGISTRY)
BREAKER_TRIPS = Counter(
    "livemod_breaker_trips", "Times the cutoff breaker tripped: automatic cutoffs over the cap became reviews.",
    registry=REGISTRY)
ALERTS = Counter(
    "livemod_alerts", "Moderator alerts raised, by severity.", ["severity"], registry=REGISTRY)
DEAD_LETTERS = Counter(
    "livemod_dead_letters", "Input messages sent to the dead-letter topic, by reason.",
    ["reason"], registry=REGISTRY)
OUTPUT_RECORDS = Counter(
    "livemod_output_records", "Output records acknowledged by the broker, by logical output topic.",
    ["topic"], registry=REGISTRY)
DELIVERY_FAILURES = Counter(
    "livemod_delivery_failures", "Output records the broker did not acknowledge, by logical output topic.",
    ["topic"], registry=REGISTRY)
END_TO_END_LATENCY = Histogram(
    "livemod_end_to_end_latency_seconds",
    "Input event time (ts) to an output record it caused acknowledged by the broker, by logical output topic.",
    ["topic"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
CONSUMER_LAG = Gauge(
    "livemod_consumer_lag", "Committed-offset lag (highwater - committed) of the partitions this worker owns.",
    ["topic", "partition"], registry=REGISTRY)
LEXICON_INFO = Gauge(
    "livemod_lexicon_info", "Lexicon version in force (value 1; one series).", ["version"], registry=REGISTRY)
POLICY_INFO = Gauge(
    "livemod_policy_info", "Policy version in force (value 1; one series).", ["version"], registry=REGISTRY)
LEXICON_RELOAD_FAILURES = Counter(
    "livemod_lexicon_reload_failures", "Lexicon reloads rejected (the previous version keeps serving).",
    registry=REGISTRY)
WORKER_START_TIME = Gauge(
    "livemod_worker_start_time_seconds", "Unix time the worker started.", registry=REGISTRY)


def _init_vocabularies() -> None:
    for topic in INPUT_TOPICS:
        EVENTS_CONSUMED.labels(topic)
    for topic in OUTPUT_TOPICS:
        OUTPUT_RECORDS.labels(topic)
        DELIVERY_FAILURES.labels(topic)
        if topic != DeadLetter.TOPIC:  # no event time, never observed
            END_TO_END_LATENCY.labels(topic)
    for detector, categories in CATEGORIES.items():
        DETECTOR_ERRORS.labels(detector)
        DETECTOR_SECONDS.labels(detector)
        for category in sorted(categories):
            DETECTIONS.labels(detector, category)
    for measure in (*MEASURES, *VIEWER_MEASURES):
        for mode in MODES:
            ACTIONS.labels(measure, mode)
    for kind in CUTOFF_KINDS:
        CUTOFFS.labels(kind)
    for severity in SEVERITIES:
        ALERTS.labels(severity)
    for reason in DEAD_LETTER_REASONS:
        DEAD_LETTERS.labels(reason)


_init_vocabularies()

# Hot path: resolve the per-topic children once instead of on every event.
_CONSUMED = {t: (EVENTS_CONSUMED.labels(t), LAST_EVENT_TIMESTAMP.labels(t)) for t in INPUT_TOPICS}


def start_metrics_server(port: int, host: str = "127.0.0.1") -> Any:
    """Serve REGISTRY (read-only, metrics only) on ``host:port``; marks the worker started.

    Returns prometheus_client's (server, thread) so a test can shut it down.
    """
    now = time.time()
    WORKER_START_TIME.set(now)
    # "Silent input topic" counts from the worker's start until the topic's first event.
    for _counter, last in _CONSUMED.values():
        last.set(now)
    return start_http_server(port, addr=host, registry=REGISTRY)


def events_consumed(topic: str, count: int) -> None:
    """``count`` messages taken from the logical input ``topic`` (called once per batch:
    two metric updates per message would be paid on the hottest path)."""
    counter, last = _CONSUMED[topic]
    counter.inc(count)
    last.set(time.time())


def record_verdict(verdict: "Verdict") -> None:
    """Count what the pipeline found in one message: findings, detector errors, dead letter."""
    for finding in verdict.findings:
        DETECTIONS.labels(finding.detector, finding.category).inc()
    for failure in verdict.failures:
        DETECTOR_ERRORS.labels(failure.detector).inc()
    if verdict.error is not None:
        DEAD_LETTERS.labels(verdict.error.reason).inc()


def observe_detector_time(detector: str, seconds: float) -> None:
    """Time one detector took on one (sampled) event."""
    DETECTOR_SECONDS.labels(detector).observe(seconds)


def published(out: "Output", future: "asyncio.Future[Any]", event_ts: float | None) -> None:
    """One output record handed to the producer (call for every record, both stages).

    Counts what the record *is* now (an action, a cutoff signal, an alert), and once the
    broker answers, the delivery and the end-to-end latency. ``future`` is what
    ``await producer.send(...)`` returns; ``event_ts`` is the ``ts`` of the input event that
    caused the record (None for dead letters: an undecodable message has no event time).
    """
    value = out.value
    if out.topic == ACTIONS_TOPIC:
        ACTIONS.labels(value["measure"], value["mode"]).inc()
    elif out.topic == CUTOFF_TOPIC:
        if value["op"] == "cut":
            CUTOFFS.labels(value["kind"]).inc()
    elif out.topic == ALERTS_TOPIC:
        ALERTS.labels(value["severity"]).inc()
        if value["kind"] == "breaker_tripped":
            BREAKER_TRIPS.inc()
    topic = out.topic

    def done(fut: "asyncio.Future[Any]") -> None:
        if fut.cancelled() or fut.exception() is not None:
            DELIVERY_FAILURES.labels(topic).inc()
            return
        OUTPUT_RECORDS.labels(topic).inc()
        if event_ts is not None:
            # Producers' clocks may run ahead of ours; a negative latency is clock skew, not speed.
            END_TO_END_LATENCY.labels(topic).observe(max(0.0, time.time() - event_ts))

    future.add_done_callback(done)


def _set_info(gauge: Gauge, version: str) -> None:
    # One series per info metric: drop the old version's, or dashboards show both as "in force".
    gauge.clear()
    gauge.labels(version).set(1)


def set_lexicon_version(version: str) -> None:
    _set_info(LEXICON_INFO, version)


def set_policy_version(version: str) -> None:
    _set_info(POLICY_INFO, version)


_lag_labels: set[tuple[str, str]] = set()


def update_consumer_lag(partitions: Iterable[tuple[str, int, int | None, int]]) -> None:
    """Set CONSUMER_LAG from (logical topic, partition, highwater, committed offset) for every
    partition this worker owns; series of partitions no longer listed (lost in a rebalance)
    are dropped, and a partition without a highwater yet (no fetch answered) is skipped.

    Lag is highwater minus the committed offset, as ``kafka-consumer-groups`` reports it:
    what a restart would have to read again.
    """
    seen = set()
    for topic, partition, highwater, committed in partitions:
        if highwater is None:
            continue
        labels = (topic, str(partition))
        CONSUMER_LAG.labels(*labels).set(max(0, highwater - committed))
        seen.add(labels)
    for labels in _lag_labels - seen:
        CONSUMER_LAG.remove(*labels)
    _lag_labels.clear()
    _lag_labels.update(seen)
