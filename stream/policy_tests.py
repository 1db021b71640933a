"""``policy test``: unit tests for the enforcement policy, in the spirit of ``promtool test rules``.

An operator who edits ``lexicons/policy.yaml`` states what the change must do as cases in a
test file, and this harness replays them through the real engine::

    policy: policy.yaml            # optional, relative to this file
    cases:
      - name: 绝对化用语 10分钟内第3次 → 下架 + 限制发布
        subject: {role: anchor, id: a1}          # default anchor a1, room r1
        history: [{at: -300}, {at: -120}]        # prior events, seconds before the input;
                                                 # their findings default to the input's
        findings:                                # the event under test, at t=0
          - {detector: prohibited_claim, category: absolute_term, matched: 全网最低}
        expect:                                  # exactly these decisions, any order
          - {measure: remove_content, alert: medium, cutoff: false}
          - {measure: restrict_publishing}

Other case kinds: ``reports:`` (a room's reports in order; the last is under test) and
``bans:`` + ``event:`` (market-ban check of one live event). ``breaker_recent: N`` pre-loads
the cutoff breaker with N cutoffs just before t=0; ``alerts: [breaker_tripped]`` lists the
breaker alerts expected. An expectation checks ``measure`` (null for an alert-only decision)
and only the other keys it names: rule_id, step, mode, cutoff, alert, review_required,
breaker_tripped, subject_role, reason_contains.

Run: ``python -m stream.policy_tests lexicons/policy_tests.yaml [--policy FILE]``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from detectors.base import Finding

from .policy import CutoffBreaker, Decision, Policy, PolicyError, yaml_line_map, ban_list, load_policy

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: cases speak in seconds relative to it
_CASE_KEYS = {"name", "subject", "room_id", "text", "history", "findings", "reports", "bans",
              "event", "breaker_recent", "expect", "alerts"}
_EXPECT_KEYS = {"measure", "rule_id", "step", "mode", "cutoff", "alert", "review_required",
                "breaker_tripped", "subject_role", "reason_contains"}


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    location: str  # file:line of the case
    failures: tuple[str, ...] = ()
    decisions: tuple[Decision, ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        head = f"{self.location}: case {self.name!r}: {'ok' if self.passed else 'FAILED'}"
        return "\n".join([head, *(f"    {f}" for f in self.failures)])


def run_policy_tests(test_file: str | Path, policy_path: str | Path | None = None) -> list[CaseResult]:
    """Run every case of ``test_file`` against ``policy_path`` (default: the file's ``policy:``
    key, else ``policy.yaml`` beside it). Raises PolicyError for a malformed test file."""
    test_file = Path(test_file)
    try:
        text = test_file.read_text(encoding="utf-8")
        lines = yaml_line_map(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{test_file}:0: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(f"{test_file}:{mark.line + 1 if mark else 1}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise PolicyError(f"{test_file}:1: expected a mapping with a non-empty 'cases' list")
    if policy_path is None:
        policy_path = test_file.parent / str(data.get("policy", "policy.yaml"))
    policy = load_policy(policy_path)
    results = []
    for i, case in enumerate(data["cases"]):
        location = f"{test_file}:{lines.get(('cases', i), 1)}"
        name = str(case.get("name", f"#{i + 1}")) if isinstance(case, dict) else f"#{i + 1}"
        try:
            decisions, alerts = _run_case(policy, case)
        except (ValueError, KeyError, TypeError) as exc:
            # A malformed case is a failing case, reported where it is, not a crash of the run.
            results.append(CaseResult(name, location, (f"invalid case: {exc}",)))
            continue
        failures = _compare(case.get("expect"), decisions) + _compare_alerts(case.get("alerts"), alerts)
        results.append(CaseResult(name, location, tuple(failures), tuple(decisions)))
    return results


def _run_case(policy: Policy, case: Any) -> tuple[list[Decision], list[str]]:
    if not isinstance(case, dict):
        raise ValueError("a case must be a mapping")
    unknown = set(case) - _CASE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(_CASE_KEYS))})")
    if not isinstance(case.get("expect"), list):
        raise ValueError("'expect' must be a list (empty = no decision)")
    kinds = [k for k in ("findings", "reports", "event") if k in case]
    if len(kinds) != 1:
        raise ValueError("a case needs exactly one of findings, reports, event")
    room = str(case.get("room_id", "r1"))
    if kinds == ["findings"]:
        decisions = _run_findings(policy, case, room)
    elif kinds == ["reports"]:
        decisions = _run_reports(policy, case, room)
    else:
        decisions = _run_ban(policy, case, room)
    breaker = _preloaded_breaker(policy, int(case.get("breaker_recent", 0)))
    decisions, alerts = breaker.apply(decisions)
    return decisions, [a.kind for a in alerts]


def _run_findings(policy: Policy, case: Mapping[str, Any], room: str) -> list[Decision]:
    subject = case.get("subject") or {}
    role, sid = str(subject.get("role", "anchor")), str(subject.get("id", "a1"))
    text = str(case.get("text", ""))
    current = [_finding(f) for f in case["findings"]]
    history: dict[str, Any] | None = None
    # Prior events go through the engine itself, so the history has the real shape.
    for j, prior in enumerate(sorted(case.get("history") or [], key=lambda p: float(p["at"]))):
        prior_findings = [_finding(f) for f in prior["findings"]] if "findings" in prior else current
        _, history = policy.decide(role, sid, room, prior_findings, f"h{j}", T0 + float(prior["at"]),
                                   str(prior.get("text", text)), history)
    decisions, _ = policy.decide(role, sid, room, current, "e0", T0, text, history)
    return decisions


def _run_reports(policy: Policy, case: Mapping[str, Any], room: str) -> list[Decision]:
    reports = case["reports"]
    if not isinstance(reports, list) or not reports:
        raise ValueError("'reports' must be a non-empty list; the last one is under test")
    history: dict[str, Any] | None = None
    decisions: list[Decision] = []
    for j, r in enumerate(reports):
        report = {"event_id": f"rep{j}", "room_id": room, "reporter_id": str(r["reporter"]),
                  "ts": T0 + float(r.get("at", 0)), "reason": r.get("reason", "other"), "text": r.get("text", "")}
        decisions, history = policy.decide_report(report, history, anchor_id="a1")
    return decisions


def _run_ban(policy: Policy, case: Mapping[str, Any], room: str) -> list[Decision]:
    entries = []
    for b in case.get("bans") or []:
        expires = b.get("expires_in")
        entries.append({**{k: v for k, v in b.items() if k != "expires_in"},
                        "expires_at": None if expires is None else T0 + float(expires)})
    event = dict(case["event"])
    kind = event.pop("type")
    event = {"event_id": "e0", "room_id": room, "ts": T0, "text": "", **event}
    return policy.decide_ban(ban_list(entries), kind, event)


def _preloaded_breaker(policy: Policy, recent: int) -> CutoffBreaker:
    # N cutoffs of other rooms one second before t=0: inside any breaker window.
    state = {"recent": [[T0 - 1, f"preload\x1f{k}"] for k in range(recent)], "tripped": False}
    return policy.breaker(state)


def _finding(spec: Mapping[str, Any]) -> Finding:
    span = spec.get("span", [0, len(str(spec.get("matched", "")))])
    return Finding(
        detector=spec["detector"], category=spec["category"], severity=spec.get("severity", "medium"),
        rule_id=spec.get("rule_id", "test"), span=(int(span[0]), int(span[1])),
        matched=str(spec.get("matched", "")), legal_basis=str(spec.get("legal_basis", "")),
    )


def _describe(d: Decision) -> str:
    return (f"{d.measure} (rule {d.rule_id} step {d.step}, mode={d.mode}, cutoff={d.cutoff}, "
            f"alert={d.alert}, review_required={d.review_required}, breaker_tripped={d.breaker_tripped})")


def _compare(expect: Sequence[Mapping[str, Any]], decisions: Sequence[Decision]) -> list[str]:
    """Exactly the expected decisions: each expectation claims one unclaimed decision with
    its measure (and rule_id if given); named flags must then agree."""
    failures: list[str] = []
    unclaimed = list(decisions)
    for k, exp in enumerate(expect):
        if not isinstance(exp, dict) or "measure" not in exp or set(exp) - _EXPECT_KEYS:
            failures.append(f"expect[{k}]: needs 'measure' and only keys {', '.join(sorted(_EXPECT_KEYS))}")
            continue
        candidates = [d for d in unclaimed if d.measure == exp["measure"]
                      and exp.get("rule_id", d.rule_id) == d.rule_id]
        if not candidates:
            failures.append(f"expected measure {exp['measure']!r} "
                            f"{'of rule ' + exp['rule_id'] + ' ' if 'rule_id' in exp else ''}"
                            f"but got: {', '.join(_describe(d) for d in decisions) or 'no decision'}")
            continue
        d = candidates[0]
        unclaimed.remove(d)
        for key, want in exp.items():
            if key == "reason_contains":
                if str(want) not in d.reason:
                    failures.append(f"{d.measure}: reason {d.reason!r} does not contain {want!r}")
            elif key not in ("measure", "rule_id") and getattr(d, key) != want:
                failures.append(f"{d.measure}: {key} is {getattr(d, key)!r}, expected {want!r}")
    failures += [f"unexpected decision {_describe(d)}" for d in unclaimed]
    return failures


def _compare_alerts(expect: Sequence[str] | None, kinds: Sequence[str]) -> list[str]:
    if expect is None or sorted(expect) == sorted(kinds):
        return []
    return [f"breaker alerts are {sorted(kinds)}, expected {sorted(expect)}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="policy test", description="Run enforcement-policy test cases.")
    parser.add_argument("test_file", nargs="?", default="lexicons/policy_tests.yaml")
    parser.add_argument("--policy", default=None, help="policy file (default: the test file's 'policy:')")
    args = parser.parse_args(argv)
    try:
        results = run_policy_tests(args.test_file, args.policy)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [r for r in results if not r.passed]
    for r in failed:
        print(r)
    print(f"{len(results)} cases, {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
