"""One readable line per output record, for ``livemod tail``."""
from __future__ import annotations

from typing import Any

_COLORS = {"mod.detections": "33", "mod.deadletter": "35"}


def render(topic: str, record: dict[str, Any], color: bool = False) -> str:
    if topic == "mod.detections":
        parts = [
            f"{d.get('detector')}/{d.get('category')}[{d.get('severity')}] 「{d.get('matched')}」"
            for d in record.get("detections", [])
        ]
        body = f"room={record.get('room_id')} {record.get('source')} {record.get('event_id')}: " + "; ".join(parts)
        body += f"  ← {str(record.get('text', ''))[:60]}"
    elif topic == "mod.deadletter":
        body = (f"{record.get('source_topic')}[{record.get('partition')}]@{record.get('offset')} "
                f"{record.get('reason')}: {record.get('detail')}")
    else:
        body = str(record)
    line = f"{topic:15} {body}"
    code = _COLORS.get(topic)
    return f"\033[{code}m{line}\033[0m" if color and code else line
