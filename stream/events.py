"""Typed input events and their JSON codec.

Input topics carry raw JSON bytes; the worker decodes them here, per event, so that a
bad message becomes a :class:`DecodeError` with a reason from a small fixed set (used as
a metric label and in the dead-letter record) instead of crashing the agent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson

from detectors.products import validate_item

SCHEMA_VERSION = 1

# Bounded set: these are dead-letter reasons and Prometheus label values.
DEAD_LETTER_REASONS = (
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "unknown_op",
    "unknown_type",
    "invalid_item",
    "processing_error",  # not the input's fault: a bug met this event; kept for replay
)


class DecodeError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        assert reason in DEAD_LETTER_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Transcript:
    event_id: str
    room_id: str
    anchor_id: str
    ts: float
    text: str
    kind = "transcript"

    @property
    def subject_id(self) -> str:
        return self.anchor_id


@dataclass(frozen=True, slots=True)
class Danmaku:
    event_id: str
    room_id: str
    user_id: str
    ts: float
    text: str
    kind = "danmaku"

    @property
    def subject_id(self) -> str:
        return self.user_id


PRODUCT_OPS = ("pin", "unpin", "update")


@dataclass(frozen=True, slots=True)
class ProductEvent:
    event_id: str
    room_id: str
    merchant_id: str
    ts: float
    op: str
    # Validated by detectors.products.validate_item (the one schema for items), kept as a
    # plain dict because the room state stores items as JSON.
    item: Mapping[str, Any]
    kind = "product"

    @property
    def subject_id(self) -> str:
        return self.merchant_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "room_id": self.room_id,
            "merchant_id": self.merchant_id,
            "ts": self.ts,
            "op": self.op,
            "item": dict(self.item),
        }


# User report reasons (standard 4.3.3.1(2), 4.4.2); the first three must be handled in real time.
REPORT_REASONS = ("banned_goods", "pornography", "vulgar", "fraud", "offline_trade", "other")


@dataclass(frozen=True, slots=True)
class Report:
    event_id: str
    room_id: str
    reporter_id: str
    ts: float
    reason: str
    text: str = ""
    kind = "report"

    @property
    def subject_id(self) -> str:
        return self.reporter_id

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "room_id": self.room_id, "reporter_id": self.reporter_id,
                "ts": self.ts, "reason": self.reason, "text": self.text}


Event = Transcript | Danmaku | ProductEvent | Report


def _field(obj: Mapping[str, Any], name: str, types: type | tuple[type, ...], kind: str) -> Any:
    if name not in obj or obj[name] is None:
        raise DecodeError("missing_field", f"{kind} event has no '{name}'")
    value = obj[name]
    # bool is an int subclass; a boolean ts or price is a producer bug, not a number.
    if not isinstance(value, types) or isinstance(value, bool):
        raise DecodeError("wrong_type", f"{kind}.{name} must be {_type_names(types)}, got {type(value).__name__}")
    return value


def _type_names(types: type | tuple[type, ...]) -> str:
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in seq)


def _id(obj: Mapping[str, Any], name: str, kind: str) -> str:
    value = _field(obj, name, (str, int), kind)
    text = str(value)
    if not text or len(text) > 128:
        raise DecodeError("wrong_type", f"{kind}.{name} must be 1-128 characters")
    return text


def _ts(obj: Mapping[str, Any], kind: str) -> float:
    value = float(_field(obj, "ts", (int, float), kind))
    if not 0 <= value < 1e11:  # seconds since the epoch; rejects milliseconds by mistake
        raise DecodeError("wrong_type", f"{kind}.ts must be epoch seconds, got {value!r}")
    return value


def _text_event(cls: type, subject_field: str) -> Callable[[Mapping[str, Any]], Event]:
    kind = cls.kind

    def build(obj: Mapping[str, Any]) -> Event:
        # Positional, in field order: one per event, and keyword unpacking costs a dict.
        return cls(_id(obj, "event_id", kind), _id(obj, "room_id", kind), _id(obj, subject_field, kind),
                   _ts(obj, kind), _field(obj, "text", str, kind))

    return build


def _item(obj: Mapping[str, Any], op: str) -> Mapping[str, Any]:
    item = obj.get("item")
    problems = validate_item(item, op)
    if problems:
        raise DecodeError("invalid_item", "; ".join(problems)[:300])
    return item  # type: ignore[return-value]


def _product(obj: Mapping[str, Any]) -> ProductEvent:
    op = _field(obj, "op", str, "product")
    if op not in PRODUCT_OPS:
        raise DecodeError("unknown_op", f"product.op must be one of {', '.join(PRODUCT_OPS)}, got {op[:32]!r}")
    return ProductEvent(
        event_id=_id(obj, "event_id", "product"),
        room_id=_id(obj, "room_id", "product"),
        merchant_id=_id(obj, "merchant_id", "product"),
        ts=_ts(obj, "product"),
        op=op,
        item=_item(obj, op),
    )


def _report(obj: Mapping[str, Any]) -> Report:
    reason = _field(obj, "reason", str, "report")
    if reason not in REPORT_REASONS:
        raise DecodeError("wrong_type", f"report.reason must be one of {', '.join(REPORT_REASONS)}, got {reason[:32]!r}")
    text = obj.get("text") or ""
    if not isinstance(text, str):
        raise DecodeError("wrong_type", "report.text must be a string")
    return Report(
        event_id=_id(obj, "event_id", "report"),
        room_id=_id(obj, "room_id", "report"),
        reporter_id=_id(obj, "reporter_id", "report"),
        ts=_ts(obj, "report"),
        reason=reason,
        text=text,
    )


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "transcript": _text_event(Transcript, "anchor_id"),
    "danmaku": _text_event(Danmaku, "user_id"),
    "product": _product,
    "report": _report,
}


def parse_json(raw: bytes, max_bytes: int) -> dict[str, Any]:
    if len(raw) > max_bytes:
        raise DecodeError("oversize", f"{len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("invalid_utf8", f"byte {exc.start}: {exc.reason}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise DecodeError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def decode_object(kind: str, obj: Mapping[str, Any]) -> Event:
    build = BUILDERS.get(kind)
    if build is None:
        raise DecodeError("unknown_type", f"unknown event type {str(kind)[:32]!r}")
    return build(obj)


def decode(kind: str, raw: bytes, max_bytes: int = 256 * 1024) -> Event:
    """Decode one input message of the given kind, or raise :class:`DecodeError`."""
    return decode_object(kind, parse_json(raw, max_bytes))
