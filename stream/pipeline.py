"""From one raw input message to the records it causes: decode → state → detect → outputs.

This is the whole judgement path and it knows nothing of Kafka: the faust agent
(``stream.agents``) and ``livemod scan`` both drive it, so the worker and the offline scan
give the same verdicts for the same events. State lives in mappings the caller provides
(faust tables in the worker, dicts in scan).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, MutableMapping, Sequence

from detectors.base import DetectContext, Finding, PriorMessage
from detectors.products import ProductEventError, apply_product_event, items_at
from detectors.registry import DetectorFailure, DetectorSet

from .events import DecodeError, Event, ProductEvent, decode_object, parse_json
from .recent import RecentMessages
from .records import DeadLetter, DetectionRecord, Output
from .settings import Settings

log = logging.getLogger(__name__)

# Input topics (logical names) and the event kind each carries.
INPUT_KINDS = {
    "live.transcript": "transcript",
    "live.danmaku": "danmaku",
    "live.product": "product",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a raw message came from (for dead letters and logs)."""

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
    """Per-room state the pipeline reads and writes; any MutableMapping works."""

    rooms: MutableMapping[str, Any]
    recent: RecentMessages


class Pipeline:
    def __init__(self, detectors: Callable[[], DetectorSet], settings: Settings, stores: Stores) -> None:
        # A callable, not a DetectorSet: hot reload swaps what it returns between events.
        self._detectors = detectors
        self.settings = settings
        self.stores = stores

    def handle_raw(self, raw: bytes, source: Source) -> Verdict:
        """Decode and judge one message from an input topic; bad input becomes a dead letter."""
        raw = raw if raw is not None else b""  # a tombstone is bad input too
        try:
            obj = parse_json(raw, self.settings.max_event_bytes)
        except DecodeError as exc:
            return self.dead_letter(exc, raw, source)
        return self.handle_object(INPUT_KINDS.get(source.topic, ""), obj, raw, source)

    def handle_object(self, kind: str, obj: dict[str, Any], raw: bytes, source: Source) -> Verdict:
        try:
            return self.handle(decode_object(kind, obj))
        except DecodeError as exc:
            return self.dead_letter(exc, raw, source)
        except Exception as exc:  # noqa: BLE001 - a bug must not drop the event: dead-letter it
            log.exception("processing error on %s[%d]@%d", source.topic, source.partition, source.offset)
            return self.dead_letter(DecodeError("processing_error", f"{type(exc).__name__}: {exc}"[:300]), raw, source)

    def dead_letter(self, exc: DecodeError, raw: bytes, source: Source) -> Verdict:
        record = DeadLetter(
            source_topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            reason=exc.reason,
            detail=exc.detail,
            raw=raw,
            key=source.key,
            received_at=round(time.time(), 3),
        )
        return Verdict(event=None, outputs=[record.output()], error=exc)

    def handle(self, event: Event) -> Verdict:
        if isinstance(event, ProductEvent):
            return self._product(event)
        return self._speech(event)

    def _product(self, event: ProductEvent) -> Verdict:
        rooms = self.stores.rooms
        try:
            state = apply_product_event(rooms.get(event.room_id), event.to_dict(), keep_s=self.settings.product_grace_s * 6)
        except ProductEventError as exc:
            # The codec validated the item already; this is a state-level refusal. Either
            # way the room keeps its previous state.
            raise DecodeError("invalid_item", exc.reason) from exc
        rooms[event.room_id] = state
        return Verdict(event=event)

    def _speech(self, event: Event) -> Verdict:
        recent: Sequence[PriorMessage] = ()
        if event.kind == "danmaku":
            recent = self.stores.recent.recent(event.room_id, event.subject_id, event.ts)
        ctx = DetectContext(
            kind=event.kind,
            event_id=event.event_id,
            room_id=event.room_id,
            subject_id=event.subject_id,
            ts=event.ts,
            text=event.text,
            recent=recent,
            items=items_at(self.stores.rooms.get(event.room_id), event.ts, self.settings.product_grace_s),
        )
        detectors = self._detectors()
        findings, failures = detectors.run(ctx)
        for failure in failures:
            log.error("detector %s failed on event %s: %s", failure.detector, event.event_id, failure.error)
        if event.kind == "danmaku":
            self.stores.recent.add(event.room_id, event.subject_id, PriorMessage(event.event_id, event.ts, event.text))
        verdict = Verdict(event=event, findings=findings, failures=failures)
        if findings:
            record = DetectionRecord(
                source=event.kind,
                event_id=event.event_id,
                room_id=event.room_id,
                subject_id=event.subject_id,
                ts=event.ts,
                text=event.text,
                findings=findings,
                lexicon_version=detectors.version,
            )
            verdict.outputs.append(record.output())
        return verdict
