"""``livemod scan``: the worker's judgement path over a JSONL file, with no Kafka.

Each input line is an event plus ``"type"`` (transcript, danmaku, product, report; and
``ban`` lines that stand in for the ``mod.banlist`` topic); each output line is one verdict,
in input order. A bad line yields ``{"line": N, "error": "..."}`` and the scan goes on.
State (pinned products, histories, recent messages, the breaker) is kept in memory exactly
as the worker keeps it, and enforcement requests go straight to the policy stage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .events import DecodeError, parse_json
from .pipeline import ENFORCE_TOPIC, INPUT_KINDS, Enforcer, Pipeline, Source, Stores, Verdict
from .policy import ban_key, ban_list
from .recent import RecentMessages
from .rules import Rulebook
from .settings import Settings

TOPIC_FOR_TYPE = {kind: topic for topic, kind in INPUT_KINDS.items()}


@dataclass(slots=True)
class Scanner:
    pipeline: Pipeline
    enforcer: Enforcer

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings


def scanner(rules: Callable[[], Rulebook], settings: Settings) -> Scanner:
    stores = Stores(
        rooms={}, reports={}, history={}, bans={},
        recent=RecentMessages(settings.split_window_s, settings.split_window_messages),
        breaker=rules().policy.breaker(),
    )
    return Scanner(Pipeline(rules, settings, stores), Enforcer(rules, stores))


def _apply_ban(scan: Scanner, obj: dict[str, Any]) -> None:
    if obj.get("lifted"):
        scan.pipeline.stores.bans.pop(ban_key(str(obj.get("role")), str(obj.get("subject_id"))), None)
    else:
        scan.pipeline.stores.bans.update(ban_list([obj]))


def scan_verdicts(lines: Iterable[bytes], scan: Scanner) -> Iterator[tuple[int, dict[str, Any], Verdict]]:
    """Yield (line number, input object or {}, verdict) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            obj = parse_json(raw, scan.settings.max_event_bytes)
            if obj.get("type") == "ban":
                try:
                    _apply_ban(scan, obj)
                except ValueError as exc:
                    raise DecodeError("wrong_type", str(exc)) from None
                continue
        except DecodeError as exc:
            yield number, {}, scan.pipeline.dead_letter(exc, raw, Source("scan", 0, number))
            continue
        kind = obj.get("type")
        topic = TOPIC_FOR_TYPE.get(kind) if isinstance(kind, str) else None
        verdict = scan.pipeline.handle_object(kind if topic else "", obj, raw, Source(topic or "scan", 0, number))
        for out in list(verdict.outputs):
            if out.topic == ENFORCE_TOPIC:
                verdict.outputs.extend(scan.enforcer.handle(out.value))
        yield number, obj, verdict


def verdict_line(number: int, verdict: Verdict) -> dict[str, Any]:
    if verdict.error is not None:
        return {"line": number, "error": str(verdict.error)}
    assert verdict.event is not None
    line: dict[str, Any] = {
        "event_id": verdict.event.event_id,
        "detections": [f.to_dict() for f in verdict.findings],
        "actions": [o.value for o in verdict.outputs if o.topic == "mod.actions"],
    }
    for topic, name in (("mod.cutoff", "cutoffs"), ("mod.alerts", "alerts")):
        records = [o.value for o in verdict.outputs if o.topic == topic]
        if records:
            line[name] = records
    return line
