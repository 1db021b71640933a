"""Hostile input: the normalizer, every detector, the codec and ``scan`` on any Unicode and
any bytes never raise, keep finding offsets in the original text, and stay roughly linear in
the input size; lexicon and policy files load safely. The Kafka part produces garbage to
every input topic and checks each bad message becomes exactly one dead letter."""
from __future__ import annotations

import base64
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from detectors.base import DetectContext, Finding, PriorMessage
from detectors.lexicon import LexiconError, load_lexicon
from detectors.normalize import normalize
from detectors.products import apply_product_event, items_at
from stream.events import DEAD_LETTER_REASONS, DecodeError, decode
from stream.policy import PolicyError, load_policy
from stream.rules import ReloadingRules, Rulebook, RulebookError, load_rulebook
from stream.scan import scan_verdicts, scanner
from stream.settings import REPO_ROOT, Settings
from stream.topics import create_topics

from .kafka_support import WorkerProcess, collect, produce, run

LEXICONS = REPO_ROOT / "lexicons"
ITEM = {"item_id": "i-wool", "title": "秋冬羊毛混纺围巾", "price": 199, "category": "apparel",
        "attributes": {"material": "羊毛30% 聚酯纤维70%", "origin": "江苏"}, "licenses": []}
ITEMS = items_at(apply_product_event(None, {"event_id": "p1", "room_id": "r1", "merchant_id": "m1", "ts": 0.0,
                                            "op": "pin", "item": ITEM}, keep_s=60), 1.0, 10)

# Characters that break naive text code: bidi controls, combining marks, zero-width joiners,
# variation selectors and tag characters, lone surrogates, NUL, BOM, the last code point.
NASTY = ["\u200f", "\u202e", "\u2066", "\u0301", "\u0345", "\u200d", "\ufe0f", "\U000e0041", "\ud800", "\udfff",
         "\x00", "\ufeff", "\U0010ffff", "👨\u200d👩\u200d👧", "🇨🇳", "\n", "\r", "。", "？", "…", "Ｖ", "①"]
# Fragments that make detectors fire, so offsets are exercised, not just the empty path.
TRIGGERS = ["全网最低", "加微信", "abc12345", "QQ 76423868", "微", "v", "加", "今天只要九十九", "纯羊毛的", "仿真枪",
            "私聊转账", "某宝搜同款", "13812345678", "祛斑", "永不反弹", "第一", "百分百中奖", "家人们", "不是"]
hostile_text = st.lists(st.one_of(st.sampled_from(NASTY), st.sampled_from(TRIGGERS), st.text(max_size=6),
                                  st.characters(codec=None)), max_size=60).map("".join)


@pytest.fixture(scope="module")
def rules() -> Rulebook:
    return load_rulebook(LEXICONS)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (not hang) if the block runs longer: detectors are pure Python, so SIGALRM lands."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"over the {seconds}s bound")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_spans(text: str, findings: list[Finding]) -> None:
    for f in findings:
        s, e = f.span
        assert 0 <= s <= e <= len(text), (f.rule_id, f.span, len(text))
        assert text[s:e] == f.matched, (f.rule_id, f.span, f.matched)


def run_all(rules: Rulebook, kind: str, text: str, recent: tuple[PriorMessage, ...] = ()) -> list[Finding]:
    ctx = DetectContext(kind=kind, event_id="e9", room_id="r1", subject_id="s1", ts=1.0, text=text,
                        recent=recent, items=ITEMS)
    out: list[Finding] = []
    for detector in rules.detectors.detectors:
        if kind in detector.applies_to:
            found = detector.detect(ctx)  # a raise here fails the test with the detector's traceback
            check_spans(text, found)
            out += found
    return out


# --- properties on any Unicode --------------------------------------------------------------

@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_text, fold=st.booleans())
def test_normalize_keeps_a_way_back_for_any_text(text: str, fold: bool) -> None:
    norm = normalize(text, fold_digits=fold)
    assert len(norm.offsets) == len(norm.text)
    assert list(norm.offsets) == sorted(norm.offsets)  # order-preserving
    assert all(0 <= i < len(text) for i in norm.offsets)
    if norm.text:
        s, e = norm.span(0, len(norm.text))
        assert 0 <= s < e <= len(text)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=hostile_text, prior=st.lists(hostile_text, max_size=3))
def test_every_detector_survives_any_text_with_offsets_into_the_original(rules: Rulebook, text: str,
                                                                         prior: list[str]) -> None:
    run_all(rules, "transcript", text)
    # Danmaku with earlier messages: the split-handle path joins texts and maps spans back.
    recent = tuple(PriorMessage(f"d{i}", 0.5 + i / 10, p) for i, p in enumerate(prior))
    run_all(rules, "danmaku", text, recent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
# Numbers and shapes orjson may refuse or map oddly (infinity, 2**64, deep nesting).
TRICKY_JSON = [
    b'{"event_id":"e","room_id":"r","anchor_id":"a","ts":1e400,"text":"t"}',
    b'{"event_id":"e","room_id":"r","anchor_id":"a","ts":123456789012345678901234567890,"text":"t"}',
    b'{"event_id":"e","room_id":"r","anchor_id":"a","ts":NaN,"text":"t"}',
    rb'{"event_id":"e","room_id":"r","anchor_id":"a","ts":-0.0,"text":"\u0000"}',
    b'{"event_id":18446744073709551616,"room_id":"r","anchor_id":"a","ts":1,"text":"t"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"\xef\xbb\xbf{}",
]
field_names = st.sampled_from(["event_id", "room_id", "anchor_id", "user_id", "merchant_id", "reporter_id", "ts",
                               "text", "op", "item", "reason"])


@settings(deadline=None, max_examples=200)
@given(kind=st.sampled_from(["transcript", "danmaku", "product", "report", "bogus"]),
       raw=st.one_of(st.binary(max_size=200),
                     st.dictionaries(field_names, json_values, max_size=9).map(orjson.dumps),
                     json_values.map(orjson.dumps), st.sampled_from(TRICKY_JSON)))
def test_codec_decodes_or_names_a_reason_for_any_bytes(kind: str, raw: bytes) -> None:
    try:
        decode(kind, raw)
    except DecodeError as exc:
        assert exc.reason in DEAD_LETTER_REASONS


# Lone surrogates can only arrive as JSON escapes; a Python str holding one cannot be
# serialised again, so the codec must refuse them rather than let them reach the publisher.
@pytest.mark.parametrize("escaped", [
    rb"\ud800",  # high surrogate without its low half
    rb"\udc00x",  # low surrogate first
    rb"ok\ud83d",  # high surrogate at the end
])
def test_lone_surrogate_escapes_are_invalid_json(escaped: bytes) -> None:
    raw = b'{"event_id":"d1","room_id":"r1","user_id":"u1","ts":1.0,"text":"' + escaped + b'"}'
    with pytest.raises(DecodeError) as info:
        decode("danmaku", raw)
    assert info.value.reason == "invalid_json"


def jsonl(obj: dict) -> bytes:
    return orjson.dumps(obj)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(texts=st.lists(hostile_text, min_size=1, max_size=12), garbage=st.lists(st.binary(max_size=80), max_size=4))
def test_scan_judges_hostile_sessions_without_errors(rules: Rulebook, texts: list[str], garbage: list[bytes]) -> None:
    scan = scanner(lambda: rules, Settings())
    lines = [jsonl({"type": "product", "event_id": "p1", "room_id": "r1", "merchant_id": "m1", "ts": 1.0,
                    "op": "pin", "item": ITEM})]
    for i, text in enumerate(texts):
        kind, subject = (("transcript", "anchor_id"), ("danmaku", "user_id"))[i % 2]
        try:
            lines.append(jsonl({"type": kind, "event_id": f"e{i}", "room_id": "r1", subject: "s1", "ts": 2.0 + i,
                                "text": text}))
        except orjson.JSONEncodeError:  # a lone surrogate: not encodable, so send its escape
            lines.append(b'{"type":"danmaku","event_id":"x","room_id":"r1","user_id":"u","ts":1,"text":"\\ud800"}')
    lines += [g.replace(b"\n", b" ") for g in garbage]
    verdicts = list(scan_verdicts(lines, scan))
    assert len(verdicts) == len([ln for ln in lines if ln.strip()])
    for _n, obj, verdict in verdicts:
        assert not verdict.failures  # no detector raised
        assert verdict.error is None or verdict.error.reason != "processing_error", verdict.error
        if verdict.findings:
            check_spans(obj["text"], verdict.findings)
        for out in verdict.outputs:  # every record is publishable JSON
            orjson.dumps(out.value)


# --- size: a coarse guard against super-linear behaviour -------------------------------------

MB = 1024 * 1024
MAX_EVENT = Settings().max_event_bytes  # the largest text any detector meets in production
# Linear code costs ~10 µs per byte even when every few characters is a finding; quadratic
# code costs minutes here. A coarse guard, not a speed target.
US_PER_BYTE = 20


def blown_up(fragment: str, n_bytes: int) -> str:
    return fragment * (n_bytes // len(fragment.encode()))


@pytest.mark.parametrize("text", [
    pytest.param(blown_up("😀", 400_000), id="100k-emoji"),
    pytest.param(blown_up("微", MAX_EVENT), id="one-char-contact-word-repeated"),
    pytest.param(blown_up("加微信abc12345 ", MAX_EVENT), id="handles-repeated"),
    pytest.param(blown_up("全\u200f网\u0301最\x00低", MAX_EVENT), id="claims-under-bidi-combining-NUL"),
    pytest.param(blown_up("\u202e\u0301\ufe0f\U000e0041", MAX_EVENT), id="invisibles-only"),
])
def test_detectors_stay_linear_on_hostile_text(rules: Rulebook, text: str) -> None:
    bound = len(text.encode("utf-8", "surrogatepass")) * US_PER_BYTE / 1e6
    for kind in ("transcript", "danmaku"):
        started = time.monotonic()
        with time_limit(bound):
            run_all(rules, kind, text)
        assert time.monotonic() - started < bound, kind


def test_a_megabyte_transcript_is_judged_within_five_seconds(rules: Rulebook) -> None:
    text = blown_up("家人们这条围巾是纯羊毛的，今天只要九十九。全网最低！", MB)
    started = time.monotonic()
    with time_limit(5.0):
        findings = run_all(rules, "transcript", text)
    assert findings and time.monotonic() - started < 5.0


def test_scan_turns_a_megabyte_line_into_an_oversize_verdict_fast(rules: Rulebook) -> None:
    line = jsonl({"type": "transcript", "event_id": "t1", "room_id": "r1", "anchor_id": "a1", "ts": 1.0,
                  "text": blown_up("全网最低", MB)})
    started = time.monotonic()
    [(_n, _obj, verdict)] = list(scan_verdicts([line], scanner(lambda: rules, Settings())))
    assert verdict.error is not None and verdict.error.reason == "oversize"
    assert time.monotonic() - started < 1.0


# --- lexicon and policy files: safe YAML, bounded size ----------------------------------------

EXPLOIT = '!!python/object/apply:os.system ["touch {marker}"]'


@pytest.mark.parametrize("name, loader, error", [
    ("prohibited_claim.yaml", lambda p: load_lexicon(p), LexiconError),  # a lexicon file
    ("policy.yaml", load_policy, PolicyError),  # the enforcement policy
])
def test_python_object_tags_are_refused_with_file_and_line(tmp_path: Path, name: str, loader, error) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_text(f"version: '1'\nextra: {EXPLOIT.format(marker=marker)}\n", encoding="utf-8")
    with pytest.raises(error) as info:
        loader(path)
    assert f"{path}:2:" in str(info.value)  # names the file and the tagged line
    assert "python/object" in str(info.value)
    assert not marker.exists()  # nothing was constructed, let alone run


def test_oversized_policy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"# padding\n" * (110 * 1024))  # > 1 MB
    with pytest.raises(PolicyError, match="over the .* limit"):
        load_policy(path)


def test_hot_reload_rejects_an_unsafe_policy_and_keeps_serving(tmp_path: Path) -> None:
    file, body = "policy.yaml", "breaker: " + EXPLOIT.format(marker=tmp_path / "pwned") + "\n"
    directory = tmp_path / "lexicons"
    shutil.copytree(LEXICONS, directory)
    rules = ReloadingRules(directory)
    before = rules().lexicon_version, rules().policy_version
    (directory / file).write_text(body, encoding="utf-8")
    result = rules.reload()
    assert result.error and str(directory / file) in result.error
    assert (rules().lexicon_version, rules().policy_version) == before
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(RulebookError):
        load_rulebook(directory)  # the same file refused at start-up too


# --- garbage on every input topic of the real broker -------------------------------------------

GOOD = {
    "live.transcript": {"event_id": "t-{i}", "room_id": "r{r}", "anchor_id": "a{r}", "ts": 1764200000.0,
                        "text": "家人们这是全网最低价"},
    "live.danmaku": {"event_id": "d-{i}", "room_id": "r{r}", "user_id": "u{i}", "ts": 1764200001.0,
                     "text": "加微信abc12345便宜"},
    "live.product": {"event_id": "p-{i}", "room_id": "r{r}", "merchant_id": "m{r}", "ts": 1764200000.0,
                     "op": "pin", "item": ITEM},
    "live.report": {"event_id": "rep-{i}", "room_id": "r{r}", "reporter_id": "x{i}", "ts": 1764200002.0,
                    "reason": "other", "text": "看看"},
}
# One per class of bad input; each must become exactly one dead letter with this reason.
BAD: list[tuple[bytes | None, str]] = [
    (b"\xff\xfe\x00\x80garbage", "invalid_utf8"),
    (b'{"event_id": "x", "room_id": "r1"', "invalid_json"),
    (b'{"text": "\\ud800"}', "invalid_json"),  # lone surrogate escape
    (b"", "invalid_json"),  # empty value
    (None, "invalid_json"),  # tombstone
    (b'["a list"]', "not_an_object"),
    (b"12", "not_an_object"),
    (b'{"room_id": "r1"}', "missing_field"),
    # every field every kind needs, but event_id is a boolean
    (b'{"event_id": true, "room_id": "r1", "anchor_id": "a", "user_id": "u", "merchant_id": "m", "reporter_id": "x",'
     b' "ts": 1, "text": "t", "op": "pin", "reason": "other", "item": {}}', "wrong_type"),
    (b"x" * (300 * 1024), "oversize"),
]


@pytest.mark.kafka
def test_garbage_on_every_input_topic_becomes_one_dead_letter_each(kafka_settings: Settings, tmp_path: Path) -> None:
    run(create_topics(kafka_settings))
    messages: list[tuple[str, bytes | None, bytes | None]] = []
    expected_dead: list[tuple[str, str, bytes]] = []
    good_count = 0
    for i in range(3):  # three rounds: good, bad, good, bad … on every topic
        for topic, template in GOOD.items():
            for j, (raw, reason) in enumerate(BAD):
                good = orjson.loads(orjson.dumps(template).decode().replace("{i}", f"{i}-{j}").replace(
                    "{r}", str(j % 4)))
                messages.append((topic, f"r{j % 4}".encode(), orjson.dumps(good)))
                good_count += 1
                # Keys: none, or not UTF-8 (a tombstone needs one: Kafka refuses key and value both null).
                messages.append((topic, None if j % 3 and raw is not None else b"\xff", raw))
                expected_dead.append((topic, reason, raw or b""))
    with WorkerProcess(kafka_settings, tmp_path / "worker.log") as worker:
        run(produce(kafka_settings, messages))
        dead = run(collect(kafka_settings, "mod.deadletter", len(expected_dead), timeout=90))
        detections = run(collect(kafka_settings, "mod.detections", 1, settle=0.5))
        assert "Traceback" not in worker.output()
    positions = [(d["source_topic"], d["partition"], d["offset"]) for d in dead]
    assert len(set(positions)) == len(positions) == len(expected_dead)  # n bad in → n dead letters, none twice
    got = sorted((d["source_topic"], d["reason"], base64.b64decode(d["raw_b64"])) for d in dead)
    assert got == sorted(expected_dead)
    assert all(d["detail"] for d in dead)
    # The good events in between were judged: every good transcript and danmaku has findings.
    judged = {r["event_id"] for r in detections}
    assert {f"t-{i}-{j}" for i in range(3) for j in range(len(BAD))} <= judged
    assert {f"d-{i}-{j}" for i in range(3) for j in range(len(BAD))} <= judged
