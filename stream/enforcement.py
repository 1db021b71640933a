"""Policy decisions → the records on ``mod.actions``, ``mod.cutoff`` and ``mod.alerts``.

One action record per measure; one cutoff signal per (room, triggering event); one alert
per decided step that asks for one (shadow steps never alert: they are trials). Every id is
derived from the action ids, which the policy derives from what caused them, so a replay
yields the same records.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from detectors.base import SEVERITIES

from .events import SCHEMA_VERSION
from .policy import Alert, Decision
from .records import Output, stable_id

ACTIONS, CUTOFF, ALERTS = "mod.actions", "mod.cutoff", "mod.alerts"
EXCERPT_CHARS = 80


def excerpt(decision: Decision) -> str:
    """The offending text around the first finding's span, for a one-line alert."""
    current = decision.evidence[-1] if decision.evidence else {}
    text = str(current.get("text") or "")
    findings = current.get("findings") or []
    start = findings[0]["span"][0] if findings else 0
    lo = max(0, start - EXCERPT_CHARS // 4)
    return text[lo:lo + EXCERPT_CHARS]


def action_record(d: Decision, lexicon_version: str) -> dict[str, Any]:
    return {"schema": SCHEMA_VERSION, "kind": "automatic", **d.to_dict(), "lexicon_version": lexicon_version}


def decision_outputs(
    decisions: Sequence[Decision], alerts: Sequence[Alert], lexicon_version: str, issued_at: float
) -> list[Output]:
    out: list[Output] = []
    cutoffs: dict[tuple[str, str], list[Decision]] = defaultdict(list)
    alerted: dict[tuple[str, int, str, str, str], list[Decision]] = defaultdict(list)
    for d in decisions:
        if d.measure is not None:
            out.append(Output(ACTIONS, d.room_id, action_record(d, lexicon_version)))
        if d.cutoff:
            cutoffs[(d.room_id, d.event_id)].append(d)
        if d.alert and d.mode == "enforce":
            alerted[(d.rule_id, d.step, d.subject_role, d.subject_id, d.event_id)].append(d)
    for (room_id, event_id), group in cutoffs.items():
        action_ids = sorted(d.action_id for d in group)
        first = group[0]
        out.append(Output(CUTOFF, room_id, {
            "schema": SCHEMA_VERSION,
            "cutoff_id": stable_id("cut", *action_ids),
            "op": "cut",
            "kind": "automatic",
            "room_id": room_id,
            "subject": {"role": first.subject_role, "id": first.subject_id},
            "reason": first.reason,
            "rule_id": first.rule_id,
            "action_id": action_ids[0],
            "action_ids": action_ids,
            "event_id": event_id,
            "event_ts": first.ts,
            "issued_at": issued_at,
            "review_required": any(d.review_required for d in group),
            "legal_basis": first.legal_basis,
            "policy_version": first.policy_version,
        }))
    for (rule_id, step, role, subject_id, event_id), group in alerted.items():
        first = group[0]
        severity = max((d.alert for d in group if d.alert), key=SEVERITIES.index)
        tripped = any(d.breaker_tripped for d in group)
        out.append(Output(ALERTS, first.room_id, {
            "schema": SCHEMA_VERSION,
            "alert_id": stable_id("alert", rule_id, step, role, subject_id, first.room_id, event_id),
            "kind": "cutoff_review" if tripped else "decision",
            "severity": severity,
            "summary": first.reason + ("（自动切断已熔断，请立即人工复核）" if tripped else ""),
            "room_id": first.room_id,
            "subject": {"role": role, "id": subject_id},
            "rule_id": rule_id,
            "step": step,
            "event_id": event_id,
            "ts": first.ts,
            "excerpt": excerpt(first),
            "action_ids": sorted(d.action_id for d in group),
            "measures": [d.measure for d in group if d.measure],
            "review_required": any(d.review_required for d in group),
            "breaker_tripped": tripped,
        }))
    for alert in alerts:
        out.append(Output(ALERTS, str(alert.details.get("room_id", "")), {
            "schema": SCHEMA_VERSION, **alert.to_dict(), "summary": alert.message,
            "room_id": alert.details.get("room_id", ""),
        }))
    return out


def system_alert(kind: str, severity: str, message: str, key: str, ts: float, **details: Any) -> Output:
    """An alert about livemod itself (lexicon reload rejected, delivery failing)."""
    return Output(ALERTS, "", {
        "schema": SCHEMA_VERSION, "alert_id": stable_id("alert", kind, key), "kind": kind,
        "severity": severity, "ts": ts, "message": message, "summary": message, "room_id": "",
        "details": details,
    })


def manual_signal(op: str, room_id: str, reason: str, operator: str, issued_at: float) -> list[Output]:
    """A moderator's manual cutoff or restore: the signal on ``mod.cutoff`` plus its audit
    record on ``mod.actions``, both attributed to the operator."""
    assert op in ("cut", "restore"), op
    action_id = stable_id("act", "manual", op, room_id, operator, reason, issued_at)
    measure = "manual_cutoff" if op == "cut" else "manual_restore"
    return [
        Output(CUTOFF, room_id, {
            "schema": SCHEMA_VERSION, "cutoff_id": stable_id("cut", action_id), "op": op, "kind": "manual",
            "room_id": room_id, "reason": reason, "operator": operator, "action_id": action_id,
            "action_ids": [action_id], "issued_at": issued_at,
            # A manual cut is lifted only by a manual restore.
            "review_required": op == "cut", "legal_basis": "标准4.4.3",
        }),
        Output(ACTIONS, room_id, {
            "schema": SCHEMA_VERSION, "kind": "manual", "action_id": action_id, "measure": measure,
            "room_id": room_id, "reason": reason, "operator": operator, "ts": issued_at,
            "mode": "enforce", "cutoff": op == "cut", "legal_basis": "标准4.4.3",
        }),
    ]
