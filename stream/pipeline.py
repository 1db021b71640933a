"""From one raw input message to the records it causes. Read this with ``stream/topics.py``
and ``stream/worker.py``: together they are the whole path of an event.

Two stages, because state lives with two different keys:

1. :meth:`Pipeline.decode` + :meth:`Pipeline.judge` — per **room** (the input topics' key): decode, product
   state, detectors, user reports, the market-ban check. Emits detections, dead letters,
   room-level decisions, and one *enforcement request* per subject with findings.
2. :meth:`Enforcer.handle` — per **subject** (``role:id``): the subject's history across
   rooms and the policy ladder turn a request into actions, alerts and cutoff signals.

The worker carries requests from stage 1 to stage 2 through the ``mod.enforce`` topic,
keyed by subject; ``livemod scan`` hands them over in-process. Neither stage knows Kafka:
state is whatever MutableMapping the caller provides (changelog tables or dicts).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from collections.abc import Sequence as SequenceABC
from typing import Any, Callable, MutableMapping, NamedTuple, Sequence

from detectors.base import DetectContext, Finding, PriorMessage
from detectors.products import ProductEventError, apply_product_event, items_at
from detectors.registry import DetectorFailure

from .enforcement import decision_outputs
from .events import DecodeError, Event, ProductEvent, Report, decode_object, parse_json
from .policy import CutoffBreaker, Decision, ReportError, subjects_for
from .recent import RecentMessages
from .records import DeadLetter, DetectionRecord, Output
from .rules import Rulebook
from .settings import Settings

log = logging.getLogger(__name__)

# Input topics (logical names) and the event kind each carries.
INPUT_KINDS = {
    "live.transcript": "transcript",
    "live.danmaku": "danmaku",
    "live.product": "product",
    "live.report": "report",
}
ENFORCE_TOPIC = "mod.enforce"


class Source(NamedTuple):
    """Where a raw message came from (for dead letters and logs); a tuple because one is
    built per message."""

    topic: str  # logical name, e.g. "live.danmaku"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


@dataclass(slots=True)
class Verdict:
    event: Event | None
    findings: list[Finding] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    error: DecodeError | None = None
    failures: list[DetectorFailure] = field(default_factory=list)


@dataclass(slots=True)
class Stores:
    """State the stages read and write; any MutableMapping works."""

    rooms: MutableMapping[str, Any]  # room_id → {"products", "anchor_id", "merchant_id"}
    reports: MutableMapping[str, Any]  # room_id → report history (policy)
    history: MutableMapping[str, Any]  # "role:id" → enforcement history (policy)
    bans: MutableMapping[str, Any]  # "role:id" → market-ban entry
    recent: RecentMessages
    breaker: CutoffBreaker


class ItemsOnScreen(SequenceABC):
    """``items_at`` computed on first use: most events never reach a detector that reads
    the items (only a hit does), and copying a room's items per danmaku is wasted work."""

    __slots__ = ("_products", "_ts", "_grace_s", "_items")

    def __init__(self, products: Any, ts: float, grace_s: float) -> None:
        self._products, self._ts, self._grace_s = products, ts, grace_s
        self._items: list[dict[str, Any]] | None = None

    def _get(self) -> list[dict[str, Any]]:
        if self._items is None:
            self._items = items_at(self._products, self._ts, self._grace_s)
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())


def subject_key(role: str, subject_id: str) -> str:
    return f"{role}:{subject_id}"


class Pipeline:
    """Stage 1, keyed by room."""

    def __init__(self, rules: Callable[[], Rulebook], settings: Settings, stores: Stores,
                 clock: Callable[[], float] = time.time,
                 on_detector_time: Callable[[str, float], None] | None = None, time_every: int = 16) -> None:
        # A callable, not a Rulebook: hot reload swaps what it returns between events.
        self._rules = rules
        self.settings = settings
        self.stores = stores
        self._clock = clock
        # Detector timing on one speech event in ``time_every``: timing every event costs.
        self._on_detector_time = on_detector_time
        self._time_every = time_every
        self._speech_count = 0

    def decode(self, raw: bytes | None, source: Source) -> Event | Verdict:
        """The typed event, or a dead-letter verdict for input that cannot be decoded."""
        raw = raw if raw is not None else b""  # a tombstone is bad input too
        try:
            return decode_object(INPUT_KINDS.get(source.topic, ""), parse_json(raw, self.settings.max_event_bytes))
        except DecodeError as exc:
            return self.dead_letter(exc, raw, source)

    def handle_object(self, kind: str, obj: dict[str, Any], raw: bytes, source: Source) -> Verdict:
        try:
            event = decode_object(kind, obj)
        except DecodeError as exc:
            return self.dead_letter(exc, raw, source)
        return self.judge(event, raw, source)

    def judge(self, event: Event, raw: bytes, source: Source) -> Verdict:
        """Judge a decoded event; an event refused by state or hitting a bug is dead-lettered."""
        try:
            return self.handle(event)
        except DecodeError as exc:
            return self.dead_letter(exc, raw, source)
        except Exception as exc:  # noqa: BLE001 - a bug must not drop the event: dead-letter it
            log.exception("processing error on %s[%d]@%d", source.topic, source.partition, source.offset)
            return self.dead_letter(DecodeError("processing_error", f"{type(exc).__name__}: {exc}"[:300]), raw, source)

    def order_key(self, event: Event) -> float:
        """Event-time order for a batch drawn from several topics: Kafka orders each
        partition, not the topics of a room against each other. A product event sorts
        ``product_grace_s`` early, so a pin made just after speech is on screen for it."""
        return event.ts - self.settings.product_grace_s if event.kind == "product" else event.ts

    def dead_letter(self, exc: DecodeError, raw: bytes, source: Source) -> Verdict:
        record = DeadLetter(
            source_topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            reason=exc.reason,
            detail=exc.detail,
            raw=raw,
            key=source.key,
            received_at=round(self._clock(), 3),
        )
        return Verdict(event=None, outputs=[record.output()], error=exc)

    def handle(self, event: Event) -> Verdict:
        if isinstance(event, ProductEvent):
            return self._product(event)
        if isinstance(event, Report):
            return self._report(event)
        return self._speech(event)

    def _room(self, room_id: str) -> dict[str, Any]:
        return self.stores.rooms.get(room_id) or {"products": None, "anchor_id": None, "merchant_id": None}

    def _decided(self, decisions: Sequence[Decision], rules: Rulebook) -> list[Output]:
        decisions, alerts = self.stores.breaker.apply(decisions)
        return decision_outputs(decisions, alerts, rules.lexicon_version, round(self._clock(), 3))

    def _product(self, event: ProductEvent) -> Verdict:
        room = self._room(event.room_id)
        try:
            products = apply_product_event(room["products"], event.to_dict(), keep_s=self.settings.product_grace_s * 6)
        except ProductEventError as exc:
            # The codec validated the item already; this is a state-level refusal. Either
            # way the room keeps its previous state.
            raise DecodeError("invalid_item", exc.reason) from exc
        self.stores.rooms[event.room_id] = {**room, "products": products, "merchant_id": event.merchant_id}
        rules = self._rules()
        bans = rules.policy.decide_ban(self.stores.bans, "product", event.to_dict())
        return Verdict(event=event, outputs=self._decided(bans, rules) if bans else [])

    def _report(self, event: Report) -> Verdict:
        rules = self._rules()
        room = self._room(event.room_id)
        try:
            decisions, history = rules.policy.decide_report(
                event.to_dict(), self.stores.reports.get(event.room_id), room["anchor_id"])
        except ReportError as exc:
            raise DecodeError("wrong_type", str(exc)) from exc
        self.stores.reports[event.room_id] = history
        return Verdict(event=event, outputs=self._decided(decisions, rules) if decisions else [])

    def _speech(self, event: Event) -> Verdict:
        rules = self._rules()
        room = self._room(event.room_id)
        outputs: list[Output] = []
        recent: Sequence[PriorMessage] = ()
        if event.kind == "transcript":
            if room["anchor_id"] != event.subject_id:  # written only on change: tables cost a changelog write
                room = {**room, "anchor_id": event.subject_id}
                self.stores.rooms[event.room_id] = room
            bans = rules.policy.decide_ban(self.stores.bans, "transcript",
                                           {"event_id": event.event_id, "room_id": event.room_id,
                                            "anchor_id": event.subject_id, "ts": event.ts})
            if bans:
                outputs += self._decided(bans, rules)
        else:
            recent = self.stores.recent.recent(event.room_id, event.subject_id, event.ts)
        ctx = DetectContext(
            kind=event.kind,
            event_id=event.event_id,
            room_id=event.room_id,
            subject_id=event.subject_id,
            ts=event.ts,
            text=event.text,
            recent=recent,
            items=ItemsOnScreen(room["products"], event.ts, self.settings.product_grace_s),
        )
        self._speech_count += 1
        timed = self._on_detector_time if self._speech_count % self._time_every == 0 else None
        findings, failures = rules.detectors.run(ctx, timed)
        for failure in failures:
            log.error("detector %s failed on event %s: %s", failure.detector, event.event_id, failure.error)
        if event.kind == "danmaku":
            self.stores.recent.add(event.room_id, event.subject_id, PriorMessage(event.event_id, event.ts, event.text))
        if findings:
            outputs.append(DetectionRecord(
                source=event.kind, event_id=event.event_id, room_id=event.room_id,
                subject_id=event.subject_id, ts=event.ts, text=event.text, findings=findings,
                lexicon_version=rules.lexicon_version,
            ).output())
            for role, subject_id, subject_findings in subjects_for(event.kind, event.subject_id, findings,
                                                                    room["merchant_id"]):
                outputs.append(Output(ENFORCE_TOPIC, subject_key(role, subject_id), {
                    "role": role, "subject_id": subject_id, "room_id": event.room_id,
                    "event_id": event.event_id, "ts": event.ts, "text": event.text,
                    "findings": [f.to_dict() for f in subject_findings],
                    "lexicon_version": rules.lexicon_version,
                }))
        return Verdict(event=event, findings=findings, outputs=outputs, failures=failures)


class Enforcer:
    """Stage 2, keyed by subject: history + policy ladder → actions, alerts, cutoffs."""

    def __init__(self, rules: Callable[[], Rulebook], stores: Stores, clock: Callable[[], float] = time.time) -> None:
        self._rules = rules
        self.stores = stores
        self._clock = clock

    def handle(self, request: dict[str, Any]) -> list[Output]:
        rules = self._rules()
        key = subject_key(request["role"], request["subject_id"])
        history = self.stores.history.get(key)
        decisions, new_history = rules.policy.decide(
            request["role"], request["subject_id"], request["room_id"],
            [Finding.from_dict(f) for f in request["findings"]],
            request["event_id"], float(request["ts"]), request["text"], history,
        )
        if not new_history.get("hits"):
            self.stores.history.pop(key, None)  # nothing in any window: keep state bounded
        elif new_history != history:
            self.stores.history[key] = new_history
        decisions, alerts = self.stores.breaker.apply(decisions)
        return decision_outputs(decisions, alerts, request.get("lexicon_version", rules.lexicon_version),
                                round(self._clock(), 3))

