"""The graded-enforcement engine (stream.policy) and its test harness (stream.policy_tests)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import Finding
from stream.policy import (
    CutoffBreaker, Policy, PolicyError, ReportError, ban_list, load_policy, subjects_for,
)
from stream.policy_tests import main as policy_test_main
from stream.policy_tests import run_policy_tests

LEXICONS = Path(__file__).resolve().parents[1] / "lexicons"
T0 = 1_767_225_600.0


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(LEXICONS / "policy.yaml")


def finding(detector: str, category: str, matched: str = "词", severity: str = "medium") -> Finding:
    return Finding(detector, category, severity, f"lx.{category}", (0, len(matched)), matched, "标准6.4.5")


def run(policy: Policy, role: str, f: Finding, prior_offsets: list[float], subject: str = "s1"):
    """Decisions for an event at T0 after prior events with the same finding at T0+offset."""
    history = None
    for j, off in enumerate(sorted(prior_offsets)):
        _, history = policy.decide(role, subject, "r1", [f], f"h{j}", T0 + off, "…", history)
    return policy.decide(role, subject, "r1", [f], "e0", T0, "…", history)


# --- ladders of the shipped policy ---------------------------------------------------------

PC, OTL, LM = "prohibited_claim", "offline_trade_lure", "link_mismatch"
LADDER = [
    # (role, detector, category, prior offsets, expected measures, any cutoff)
    # first absolute term: a reminder only
    ("anchor", PC, "absolute_term", [], {"notify_correction"}, False),
    # third inside 10 minutes: take down and restrict
    ("anchor", PC, "absolute_term", [-500, -100], {"remove_content", "restrict_publishing"}, False),
    # two earlier hits outside the 10-minute window do not count
    ("anchor", PC, "absolute_term", [-900, -601], {"notify_correction"}, False),
    # exactly 600 s old is outside a 600 s window (half-open)
    ("anchor", PC, "absolute_term", [-600, -300], {"notify_correction"}, False),
    # banned goods: cut off at the first hit
    ("anchor", PC, "banned_goods", [], {"remove_content", "suspend_live", "report_to_authority"}, True),
    # second state-symbol misuse within the hour: suspend and cut off
    ("anchor", PC, "state_symbol", [-3000], {"suspend_live"}, True),
    # anchor's third offline lure within 30 min: suspend and cut off
    ("anchor", OTL, "platform_redirect", [-1200, -600], {"suspend_live"}, True),
    # merchant's price mismatch: a notice first
    ("merchant", LM, "price", [], {"notify_correction"}, False),
    # viewer: delete, then mute on the second lure
    ("viewer", OTL, "contact_handle", [], {"delete_comment"}, False),
    ("viewer", OTL, "contact_handle", [-30], {"delete_comment", "mute_user"}, False),
    # a viewer saying 最好 violates nothing: no rule
    ("viewer", PC, "absolute_term", [], set(), False),
    # link mismatch never concerns a viewer
    ("viewer", LM, "price", [], set(), False),
]


@pytest.mark.parametrize("role, detector, category, prior, measures, cutoff", LADDER)
def test_ladder(policy, role, detector, category, prior, measures, cutoff):
    decisions, _ = run(policy, role, finding(detector, category), prior)
    assert {d.measure for d in decisions if d.mode == "enforce"} == measures
    assert any(d.cutoff for d in decisions) is cutoff


def test_decision_carries_reason_evidence_and_version(policy):
    f = Finding(PC, "absolute_term", "medium", "abs.qwzd", (3, 7), "全网最低", "《广告法》第九条")
    decisions, _ = run(policy, "anchor", f, [-300, -200])
    d = decisions[0]
    assert d.reason == "主播在直播中使用绝对化用语「全网最低」（10分钟内第3次）"
    assert [e["event_id"] for e in d.evidence] == ["h0", "h1", "e0"]
    assert d.evidence[-1]["findings"][0]["span"] == [3, 7]
    assert d.legal_basis.endswith("《广告法》第九条")  # rule basis first, then the finding's
    assert d.policy_version == f"{policy.version}+{policy.digest}"
    assert orjson.loads(orjson.dumps(d.to_dict()))["subject"] == {"role": "anchor", "id": "s1"}


def test_shadow_rung_is_recorded_not_enforced(policy):
    decisions, _ = run(policy, "anchor", finding(PC, "absolute_term"), [-50, -40, -30, -20])
    shadow = [d for d in decisions if d.mode == "shadow"]
    assert [d.measure for d in shadow] == ["suspend_live"]
    assert not any(d.cutoff for d in decisions)  # the shadow rung wants a cutoff: never sent
    assert {d.measure for d in decisions if d.mode == "enforce"} == {"remove_content", "restrict_publishing"}


# --- determinism -----------------------------------------------------------------------

def test_action_id_is_deterministic(policy):
    f = finding(PC, "absolute_term")
    first, history = run(policy, "anchor", f, [-100])
    again, _ = run(policy, "anchor", f, [-100])
    assert [d.action_id for d in first] == [d.action_id for d in again]
    # Replaying the event against the history that already holds it: same ids, same history.
    replay, history2 = policy.decide("anchor", "s1", "r1", [f], "e0", T0, "…", history)
    assert [d.action_id for d in replay] == [d.action_id for d in first]
    assert history2 == history


@pytest.mark.parametrize("change", [
    {"event_id": "e1"},    # another event
    {"subject": "s2"},     # another subject
])
def test_action_id_differs_for_different_cause(policy, change):
    f = finding(PC, "absolute_term")
    base, _ = policy.decide("anchor", "s1", "r1", [f], "e0", T0, "…", None)
    other, _ = policy.decide("anchor", change.get("subject", "s1"), "r1", [f], change.get("event_id", "e0"), T0, "…", None)
    assert base[0].action_id != other[0].action_id


# --- history stays bounded and JSON-serialisable ---------------------------------------

def test_history_bounded_by_cap_under_spam(policy):
    f, history = finding(OTL, "contact_handle"), None
    for i in range(500):  # 500 lures in 50 s: all inside the window
        _, history = policy.decide("viewer", "u1", "r1", [f], f"e{i}", T0 + i / 10, "…", history)
    assert len(history["hits"]["viewer.offline_trade"]) == policy.history_cap


def test_history_pruned_past_window_and_unknown_rules_dropped(policy):
    f = finding(PC, "absolute_term")
    _, history = policy.decide("anchor", "s1", "r1", [f], "e0", T0, "…", None)
    history["hits"]["rule.removed.from.policy"] = [[T0, "x", []]]
    history = orjson.loads(orjson.dumps(history))  # as the worker's changelog table stores it
    _, later = policy.decide("anchor", "s1", "r1", [finding(PC, "vulgar")], "e1", T0 + 3600, "…", history)
    assert set(later["hits"]) == {"anchor.vulgar"}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 7200), st.sampled_from(["absolute_term", "vulgar", "medical_claim"])),
                max_size=80))
def test_history_never_exceeds_cap_or_window(policy, gaps):
    history, ts = None, T0
    for i, (gap, cat) in enumerate(gaps):
        ts += gap
        _, history = policy.decide("anchor", "s1", "r1", [finding(PC, cat)], f"e{i}", ts, "…", history)
        windows = {r.id: r.window_s for r in policy.rules}
        for rule_id, entries in history["hits"].items():
            assert len(entries) <= policy.history_cap
            assert all(ts - windows[rule_id] < e[0] <= ts for e in entries)


# --- routing ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind, merchant, expected", [
    # transcript with a spoken claim and a link mismatch: anchor gets both, merchant the mismatch
    ("transcript", "m1", [("anchor", "a1", 2), ("merchant", "m1", 1)]),
    # merchant unknown: only the anchor
    ("transcript", None, [("anchor", "a1", 2)]),
    # danmaku: the viewer who typed it
    ("danmaku", "m1", [("viewer", "a1", 2)]),
])
def test_subjects_for(kind, merchant, expected):
    fs = [finding(PC, "absolute_term"), finding(LM, "price")]
    got = subjects_for(kind, "a1", fs, merchant)
    assert [(r, s, len(f)) for r, s, f in got] == expected


# --- cutoff breaker --------------------------------------------------------------------

def cutoff_decisions(policy: Policy, n: int, start: float = T0, step: float = 1.0):
    f = finding(PC, "banned_goods", severity="critical")
    return [policy.decide("anchor", f"a{i}", f"r{i}", [f], f"e{i}", start + i * step, "…", None)[0]
            for i in range(n)]


@pytest.mark.parametrize("n, passed, tripped, alerts", [
    (5, 5, 0, 0),   # at the cap: all go through
    (6, 5, 1, 1),   # one over: downgraded, one alert
    (9, 5, 4, 1),   # several over: still a single alert for the episode
])
def test_breaker_caps_cutoffs(policy, n, passed, tripped, alerts):
    breaker, got_alerts, outcome = policy.breaker(), [], []
    for decisions in cutoff_decisions(policy, n):
        out, al = breaker.apply(decisions)
        got_alerts += al
        outcome.append(out)
    assert sum(all(d.cutoff for d in out) for out in outcome) == passed
    downgraded = [out for out in outcome if all(d.breaker_tripped for d in out)]
    assert len(downgraded) == tripped
    assert all(d.alert == "critical" and d.review_required for out in downgraded for d in out)
    assert [a.kind for a in got_alerts] == ["breaker_tripped"] * alerts


def test_breaker_resets_after_window_and_state_round_trips(policy):
    breaker = policy.breaker()
    for decisions in cutoff_decisions(policy, 6):
        breaker.apply(decisions)
    state = orjson.loads(orjson.dumps(breaker.to_dict()))
    restored = policy.breaker(state)
    assert restored.tripped and len(restored.recent) == policy.breaker_cap
    # A replay of a cutoff already let through is let through again, uncounted.
    replayed, _ = restored.apply(cutoff_decisions(policy, 1)[0])
    assert all(d.cutoff for d in replayed)
    # Past the window the cap is free again, and a new trip raises a new alert.
    later = cutoff_decisions(policy, 7, start=T0 + policy.breaker_window_s + 10, step=0.1)
    alerts = [a for decisions in later for a in restored.apply(decisions)[1]]
    assert len(alerts) == 1


def test_breaker_leaves_non_cutoff_decisions_alone():
    breaker = CutoffBreaker(cap=0, window_s=60)
    decisions, _ = load_policy(LEXICONS / "policy.yaml").decide(
        "anchor", "a1", "r1", [finding(PC, "absolute_term")], "e0", T0, "…", None)
    assert breaker.apply(decisions) == (decisions, [])


# --- user reports ----------------------------------------------------------------------

def report_run(policy: Policy, reports: list[tuple[str, float, str]]):
    history, decisions = None, []
    for j, (reporter, at, reason) in enumerate(reports):
        r = {"event_id": f"rep{j}", "room_id": "r1", "reporter_id": reporter, "ts": T0 + at, "reason": reason}
        decisions, history = policy.decide_report(r, history, anchor_id="a1")
    return decisions, history


@pytest.mark.parametrize("reports, rules, cutoff", [
    # one ordinary report: nothing
    ([("u1", 0, "other")], [], False),
    # vulgar: immediate alert (4.4.2(4))
    ([("u1", 0, "vulgar")], ["report.immediate"], False),
    # third distinct reporter: escalates once
    ([("u1", -20, "other"), ("u2", -10, "fraud"), ("u3", 0, "other")], ["report.distinct_reporters"], False),
    # a fourth reporter does not re-fire the 3-reporter step
    ([("u1", -30, "other"), ("u2", -20, "other"), ("u3", -10, "other"), ("u4", 0, "other")], [], False),
    # one reporter three times is one voice
    ([("u1", -20, "other"), ("u1", -10, "other"), ("u1", 0, "other")], [], False),
    # reporters outside the 600 s window do not add up
    ([("u1", -700, "other"), ("u2", -650, "other"), ("u3", 0, "other")], [], False),
    # tenth distinct reporter: cutoff pending review
    ([(f"u{i}", i - 9, "other") for i in range(10)], ["report.distinct_reporters"], True),
])
def test_reports(policy, reports, rules, cutoff):
    decisions, _ = report_run(policy, reports)
    assert sorted({d.rule_id for d in decisions}) == rules
    assert any(d.cutoff for d in decisions) is cutoff
    assert all(d.review_required for d in decisions)


def test_report_history_bounded_and_replay_stable(policy):
    decisions, history = report_run(policy, [(f"u{i}", i * 0.5 - 300, "other") for i in range(500)])
    assert len(history["reports"]) == policy.reports.max_kept
    third, h3 = report_run(policy, [("u1", -2, "other"), ("u2", -1, "other"), ("u3", 0, "other")])
    replay, _ = policy.decide_report(
        {"event_id": "rep2", "room_id": "r1", "reporter_id": "u3", "ts": T0, "reason": "other"}, h3, "a1")
    assert [d.action_id for d in replay] == [d.action_id for d in third] != []


@pytest.mark.parametrize("bad", [
    {"reason": "spam"},          # reason outside the vocabulary
    {"reporter_id": ""},         # no reporter
    {"ts": "yesterday"},         # ts not a number
])
def test_malformed_report_rejected(policy, bad):
    report = {"event_id": "rep0", "room_id": "r1", "reporter_id": "u1", "ts": T0, "reason": "other", **bad}
    with pytest.raises(ReportError):
        policy.decide_report(report, None)


# --- market-ban list -------------------------------------------------------------------

BANS = ban_list([
    {"subject_id": "a9", "role": "anchor", "reason": "严重违规", "expires_at": T0 + 3600},
    {"subject_id": "a_old", "role": "anchor", "reason": "严重违规", "expires_at": T0 - 1},
    {"subject_id": "m9", "role": "merchant", "reason": "售假", "expires_at": None},
])


@pytest.mark.parametrize("kind, event, banned", [
    # banned anchor going live
    ("transcript", {"anchor_id": "a9"}, True),
    # expired ban
    ("transcript", {"anchor_id": "a_old"}, False),
    # someone else
    ("transcript", {"anchor_id": "a1"}, False),
    # permanently banned merchant pins a product
    ("product", {"merchant_id": "m9", "op": "pin"}, True),
    # unpinning is leaving, not selling
    ("product", {"merchant_id": "m9", "op": "unpin"}, False),
    # a viewer named like a banned anchor: danmaku is never checked
    ("danmaku", {"user_id": "a9"}, False),
])
def test_market_ban(policy, kind, event, banned):
    decisions = policy.decide_ban(BANS, kind, {"event_id": "e0", "room_id": "r1", "ts": T0, **event})
    assert (decisions != [] and all(d.cutoff and d.rule_id == "market_ban" for d in decisions)) is banned


def test_market_ban_id_is_per_subject_room_and_entry(policy):
    def ids(event_id: str, room: str) -> list[str]:
        ev = {"event_id": event_id, "room_id": room, "ts": T0, "anchor_id": "a9"}
        return [d.action_id for d in policy.decide_ban(BANS, "transcript", ev)]
    assert ids("e0", "r1") == ids("e1", "r1")  # every line of the same banned live: one action
    assert ids("e0", "r1") != ids("e0", "r2")


def test_ban_list_rejects_viewer_bans():
    with pytest.raises(ValueError, match="role"):
        ban_list([{"subject_id": "u1", "role": "viewer", "reason": "x", "expires_at": None}])


# --- loader errors name file and line --------------------------------------------------

BASE = textwrap.dedent("""\
    version: "t1"
    breaker: {cap: 2, window_s: 60}
    reports:
      window_s: 600
      legal_basis: "4.4.2(4)"
      immediate: {reasons: [pornography], alert: high}
      ladder:
        - {at: 3, alert: high}
    market_ban:
      legal_basis: "8.3(3)"
      measures: [suspend_live]
      cutoff: true
    rules:
      - id: anchor.abs
        match: {detector: prohibited_claim, category: absolute_term}
        roles: [anchor]
        window_s: 600
        reason: "{role}用语"
        legal_basis: "6.4.5(3)"
        steps:
          - at: 1
            measures: [notify_correction]
          - at: 3
            measures: [remove_content]
      - id: viewer.lure
        match: {detector: offline_trade_lure}
        roles: [viewer]
        window_s: 600
        reason: "{role}引流"
        legal_basis: "4.4.4"
        steps:
          - at: 1
            measures: [delete_comment]
    """)

LOADER_ERRORS = [
    # (old, new, marker starting the expected line (last occurrence), message fragment)
    # broken YAML: unclosed flow sequence (the parser notices on the next line)
    ("roles: [anchor]\n", "roles: [anchor\n", "window_s: 600\n    reason: \"{role}用语", "invalid YAML"),
    # unknown measure
    ("[notify_correction]", "[notify_correction, fine_user]", "fine_user", "unknown measure 'fine_user'"),
    # a viewer cannot be suspended
    ("[delete_comment]", "[delete_comment, suspend_live]", "[delete_comment, suspend_live]", "not allowed for role 'viewer'"),
    # an anchor measure list cannot hold a viewer measure
    ("[remove_content]", "[mute_user]", "[mute_user]", "not allowed for role 'anchor'"),
    # cutoff on a viewer step
    ("measures: [delete_comment]", "measures: [delete_comment]\n        cutoff: true", "cutoff: true\n", "only for anchors and merchants"),
    # cutoff as a viewer rule default
    ("roles: [viewer]", "roles: [viewer]\n    cutoff: true", "cutoff: true\n", "only for anchors and merchants"),
    # a typo in a key never silently does nothing
    ("window_s: 600\n    reason: \"{role}引流\"", "windw_s: 600\n    reason: \"{role}引流\"", "windw_s", "unknown key 'windw_s'"),
    # steps must climb
    ("- at: 3\n", "- at: 1\n", "at: 1\n        measures: [remove_content]", "must increase"),
    # duplicate rule id
    ("id: viewer.lure", "id: anchor.abs", "id: anchor.abs\n    match: {detector: offline", "duplicate id"),
    # category outside the detector's vocabulary
    ("category: absolute_term", "category: absolut_term", "absolut_term", "unknown prohibited_claim category"),
    # link mismatches are never about viewers
    ("match: {detector: offline_trade_lure}", "match: {detector: link_mismatch}", "roles: [viewer]", "never concern role 'viewer'"),
    # unknown alert severity in the report ladder
    ("- {at: 3, alert: high}", "- {at: 3, alert: urgent}", "alert: urgent", "alert must be one of"),
    # reason templates may only use {role}
    ('reason: "{role}引流"', 'reason: "{user}引流"', "{user}", "may only use {role}"),
]


@pytest.mark.parametrize("old, new, marker, message", LOADER_ERRORS)
def test_loader_errors_name_file_and_line(tmp_path, old, new, marker, message):
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    line = text[: text.rindex(marker)].count("\n") + 1  # last occurrence: the edited line
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert message in str(err.value)


def test_base_policy_loads(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(BASE, encoding="utf-8")
    p = load_policy(path)
    assert (p.version, [r.id for r in p.rules], p.history_cap) == ("t1", ["anchor.abs", "viewer.lure"], 50)


@pytest.mark.parametrize("hits, expected", [
    # one hit: the first rung only
    (1, [("notify_correction", "enforce")]),
    # two: the enforced first rung stays, the shadow rung above it is recorded beside it
    (2, [("notify_correction", "enforce"), ("restrict_publishing", "shadow")]),
    # three: an enforced rung above the shadow one supersedes it
    (3, [("remove_content", "enforce")]),
])
def test_shadow_rung_between_enforced_rungs(tmp_path, hits, expected):
    path = tmp_path / "policy.yaml"
    path.write_text(BASE.replace("      - at: 3\n", (
        "      - at: 2\n        measures: [restrict_publishing]\n        mode: shadow\n      - at: 3\n")), encoding="utf-8")
    decisions, _ = run(load_policy(path), "anchor", finding(PC, "absolute_term"), [-(k + 1) for k in range(hits - 1)])
    assert [(d.measure, d.mode) for d in decisions] == expected


# --- the shipped policy passes its own tests; the harness can fail ---------------------

def test_shipped_policy_passes_its_tests():
    results = run_policy_tests(LEXICONS / "policy_tests.yaml")
    assert len(results) >= 20
    assert [str(r) for r in results if not r.passed] == []


def test_harness_reports_case_and_difference(tmp_path):
    tests = tmp_path / "t.yaml"
    tests.write_text(textwrap.dedent("""\
        cases:
          - name: wrong expectation
            findings: [{detector: prohibited_claim, category: absolute_term}]
            expect: [{measure: notify_correction, alert: high}]
        """), encoding="utf-8")
    [result] = run_policy_tests(tests, LEXICONS / "policy.yaml")
    assert not result.passed
    assert result.location == f"{tests}:2"
    assert result.failures == ("notify_correction: alert is None, expected 'high'",)
    assert policy_test_main([str(tests), "--policy", str(LEXICONS / "policy.yaml")]) == 1
