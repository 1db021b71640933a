"""What every detector receives and returns.

A detector is a small class with a ``name``, the event kinds it ``applies_to`` and one
``detect(ctx)`` entry. It never imports Kafka or prometheus: everything it needs
arrives through the read-only :class:`DetectContext`, and it only *returns* findings.
Turning findings into actions is the policy stage's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Protocol, Sequence

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    category: str
    severity: str
    rule_id: str
    # Half-open [start, end) offsets into the *original* event text, never the normalized one.
    span: tuple[int, int]
    matched: str
    legal_basis: str
    normalized: str = ""
    confidence: float = 1.0
    # Detector-specific evidence, e.g. {"field": "price", "spoken": "99", "link": "199"}.
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Finding":
        return cls(
            detector=d["detector"], category=d["category"], severity=d["severity"], rule_id=d["rule_id"],
            span=(int(d["span"][0]), int(d["span"][1])), matched=d["matched"], legal_basis=d["legal_basis"],
            normalized=d.get("normalized", ""), confidence=float(d.get("confidence", 1.0)),
            details=d.get("details") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "detector": self.detector,
            "category": self.category,
            "severity": self.severity,
            "rule_id": self.rule_id,
            "span": [self.span[0], self.span[1]],
            "matched": self.matched,
            "legal_basis": self.legal_basis,
            "normalized": self.normalized,
            "confidence": round(self.confidence, 3),
        }
        if self.details:
            out["details"] = dict(self.details)
        return out


# PriorMessage and DetectContext are NamedTuples, not frozen dataclasses: one of each is built
# per event, and a frozen dataclass's __init__ costs about four times a tuple's.
class PriorMessage(NamedTuple):
    """An earlier message of the same speaker in the same room, for split-message detection."""

    event_id: str
    ts: float
    text: str


class DetectContext(NamedTuple):
    kind: str  # "transcript" | "danmaku"
    event_id: str
    room_id: str
    subject_id: str  # anchor_id for transcripts, user_id for danmaku
    ts: float  # event time, seconds since the epoch
    text: str
    # Same speaker's recent messages in this room, oldest first (danmaku only; may be empty).
    recent: Sequence[PriorMessage] = ()
    # Items the room had on screen around ``ts`` (see detectors.products), newest pin first.
    items: Sequence[Mapping[str, Any]] = ()


class Detector(Protocol):
    name: str
    applies_to: frozenset[str]

    def detect(self, ctx: DetectContext) -> list[Finding]: ...
