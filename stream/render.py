"""One readable line per output record, and the filters of ``livemod tail``."""
from __future__ import annotations

from typing import Any

from detectors.base import SEVERITIES

_COLORS = {"low": "36", "medium": "33", "high": "31", "critical": "1;41"}
_TOPIC_COLORS = {"mod.detections": "33", "mod.actions": "34", "mod.cutoff": "1;31", "mod.deadletter": "35"}


def _subject(record: dict[str, Any]) -> str:
    subject = record.get("subject") or {}
    return f"{subject.get('role', '?')}:{subject.get('id', '?')}" if subject else "-"


def matches(record: dict[str, Any], room: str | None = None, severity: str | None = None,
            detector: str | None = None, measure: str | None = None) -> bool:
    if room and record.get("room_id") != room:
        return False
    if severity:
        level = record.get("severity") or record.get("alert")
        if level not in SEVERITIES or SEVERITIES.index(level) < SEVERITIES.index(severity):
            return False
    if detector:
        found = {d.get("detector") for d in record.get("detections", [])}
        for e in record.get("evidence", []):
            found |= {f.get("detector") for f in e.get("findings", [])}
        if detector not in found:
            return False
    if measure and measure not in {record.get("measure"), *record.get("measures", [])}:
        return False
    return True


def render(topic: str, record: dict[str, Any], color: bool = False) -> str:
    room = f"room={record.get('room_id') or '-'}"
    code = _TOPIC_COLORS.get(topic)
    if topic == "mod.detections":
        parts = [f"{d.get('detector')}/{d.get('category')}[{d.get('severity')}]「{d.get('matched')}」"
                 for d in record.get("detections", [])]
        body = f"{room} {record.get('source')} {record.get('event_id')}: {'; '.join(parts)}  ← {str(record.get('text', ''))[:60]}"
    elif topic == "mod.actions":
        who = f"by {record['operator']}" if record.get("operator") else _subject(record)
        body = (f"{room} {record.get('measure')} [{record.get('mode')}] {who}: {record.get('reason')}  "
                f"{record.get('action_id')}")
    elif topic == "mod.cutoff":
        review = " review-required" if record.get("review_required") else ""
        body = f"{room} {str(record.get('op', '')).upper()} ({record.get('kind')}{review}): {record.get('reason')}  {record.get('cutoff_id')}"
    elif topic == "mod.alerts":
        code = _COLORS.get(str(record.get("severity")), code)
        body = f"{room} [{record.get('severity')}] {record.get('kind')}: {record.get('summary')}"
        if record.get("excerpt"):
            body += f"  「{record['excerpt']}」"
    elif topic == "mod.deadletter":
        body = (f"{record.get('source_topic')}[{record.get('partition')}]@{record.get('offset')} "
                f"{record.get('reason')}: {record.get('detail')}")
    else:
        body = str(record)
    line = f"{topic:15} {body}"
    return f"\033[{code}m{line}\033[0m" if color and code else line
