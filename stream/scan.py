"""``livemod scan``: the worker's judgement path over a JSONL file, with no Kafka.

Each input line is an event plus ``"type"``; each output line is one verdict, in input
order. A bad line yields ``{"line": N, "error": "..."}`` and the scan goes on. Per-room
state (pinned products, recent messages) is kept in memory exactly as the worker keeps it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from detectors.registry import DetectorSet

from .pipeline import INPUT_KINDS, Pipeline, Source, Stores, Verdict
from .recent import RecentMessages
from .settings import Settings
from .events import DecodeError, parse_json

TOPIC_FOR_TYPE = {kind: topic for topic, kind in INPUT_KINDS.items()}


def scan_pipeline(detectors: Callable[[], DetectorSet], settings: Settings) -> Pipeline:
    recent = RecentMessages(settings.split_window_s, settings.split_window_messages)
    return Pipeline(detectors, settings, Stores(rooms={}, recent=recent))


def scan_verdicts(lines: Iterable[bytes], pipeline: Pipeline) -> Iterator[tuple[int, dict[str, Any], Verdict]]:
    """Yield (line number, input object or {}, verdict) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            obj = parse_json(raw, pipeline.settings.max_event_bytes)
        except DecodeError as exc:
            yield number, {}, pipeline.dead_letter(exc, raw, Source("scan", 0, number))
            continue
        kind = obj.get("type")
        topic = TOPIC_FOR_TYPE.get(kind) if isinstance(kind, str) else None
        yield number, obj, pipeline.handle_object(kind if topic else "", obj, raw, Source(topic or "scan", 0, number))


def verdict_line(number: int, verdict: Verdict) -> dict[str, Any]:
    if verdict.error is not None:
        return {"line": number, "error": str(verdict.error)}
    assert verdict.event is not None
    return {"event_id": verdict.event.event_id, "detections": [f.to_dict() for f in verdict.findings]}
