"""Typed output records and their deterministic ids.

Every output record carries an id derived only from what caused it (never from time or
randomness), so an at-least-once replay produces byte-identical records that consumers
de-duplicate by id.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from detectors.base import Finding

from .events import SCHEMA_VERSION


def stable_id(prefix: str, *parts: object) -> str:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass"), digest_size=12)
    return f"{prefix}-{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Output:
    """One record to publish: logical topic name (without prefix), key, JSON-able value."""

    topic: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    TOPIC: ClassVar[str] = "mod.detections"
    source: str  # transcript | danmaku
    event_id: str
    room_id: str
    subject_id: str
    ts: float
    text: str
    findings: Sequence[Finding]
    lexicon_version: str

    @property
    def detection_id(self) -> str:
        return stable_id("det", self.source, self.event_id)

    def output(self) -> Output:
        return Output(
            self.TOPIC,
            self.room_id,
            {
                "schema": SCHEMA_VERSION,
                "detection_id": self.detection_id,
                "source": self.source,
                "event_id": self.event_id,
                "room_id": self.room_id,
                "subject_id": self.subject_id,
                "ts": self.ts,
                "text": self.text,
                "lexicon_version": self.lexicon_version,
                "detections": [f.to_dict() for f in self.findings],
            },
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    TOPIC: ClassVar[str] = "mod.deadletter"
    source_topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    raw: bytes = field(repr=False)
    key: bytes | None = field(default=None, repr=False)
    received_at: float = 0.0

    @property
    def dead_letter_id(self) -> str:
        return stable_id("dlq", self.source_topic, self.partition, self.offset)

    def output(self) -> Output:
        return Output(
            self.TOPIC,
            # Keyed by source position: the raw key may itself be garbage.
            f"{self.source_topic}:{self.partition}",
            {
                "schema": SCHEMA_VERSION,
                "dead_letter_id": self.dead_letter_id,
                "source_topic": self.source_topic,
                "partition": self.partition,
                "offset": self.offset,
                "reason": self.reason,
                "detail": self.detail,
                "raw_b64": base64.b64encode(self.raw).decode("ascii"),
                "key_b64": None if self.key is None else base64.b64encode(self.key).decode("ascii"),
                "received_at": self.received_at,
            },
        )
