"""ProhibitedClaimDetector over the shipped lexicon: obfuscations hit, benign look-alikes do not,
and every finding's evidence points into the original text."""
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import DetectContext, Finding
from detectors.lexicon import LexiconError
from detectors.prohibited_claim import ProhibitedClaimDetector

LEXICONS = Path(__file__).resolve().parent.parent / "lexicons"


@pytest.fixture(scope="module")
def detector() -> ProhibitedClaimDetector:
    return ProhibitedClaimDetector.load(LEXICONS)


def detect(detector: ProhibitedClaimDetector, text: str, kind: str = "transcript",
           items: Sequence[Mapping[str, Any]] = ()) -> list[Finding]:
    ctx = DetectContext(kind=kind, event_id="e1", room_id="r1", subject_id="a1", ts=0.0,
                        text=text, items=items)
    return detector.detect(ctx)


POSITIVES = [
    # (text, rule_id, category, matched)
    ("今天全网最低价，赶紧拍", "abs.quanwang_zuidi", "absolute_term", "全网最低"),  # plain
    ("全 网 最 低 价", "abs.quanwang_zuidi", "absolute_term", "全 网 最 低"),  # spaced out
    ("全網最低價", "abs.quanwang_zuidi", "absolute_term", "全網最低"),  # traditional script
    ("全🔥网💥最低 冲", "abs.quanwang_zuidi", "absolute_term", "全🔥网💥最低"),  # emoji between
    ("全\u200b网\u200b最\u200b低", "abs.quanwang_zuidi", "absolute_term", "全\u200b网\u200b最\u200b低"),  # zero-width
    ("ＮＯ．１的品质", "abs.no1", "absolute_term", "ＮＯ．１"),  # full width
    ("这款面霜效果第一", "abs.diyi", "absolute_term", "第一"),  # ranking claim
    ("这款是行业第一", "abs.hangye_diyi", "absolute_term", "行业第一"),
    ("国家级的品质", "abs.guojiaji", "absolute_term", "国家级"),
    ("不要错过，今天全网最低", "abs.quanwang_zuidi", "absolute_term", "全网最低"),  # 不 negates nothing here
    ("不要犹豫全网最低", "abs.quanwang_zuidi", "absolute_term", "全网最低"),  # nor without punctuation (ASR)
    ("喝了能降血压", "med.jiang_xueya", "medical_claim", "降血压"),  # on unknown item
    ("三天根治，药到病除", "med.genzhi", "medical_claim", "根治"),
    ("孕妇吃了宝宝更聪明", "med.yunfu_chile_baobao", "medical_claim", "孕妇吃了宝宝更聪明"),
    ("百分百有效，无效退款", "promo.baifenbai_youxiao", "false_promotion", "百分百有效"),
    ("领导人同款茶叶", "state.lingdaoren_tongkuan", "state_symbol", "领导人同款"),
    ("有仿真枪要的私我", "goods.fangzhenqiang", "banned_goods", "仿真枪"),
    ("发票代开", "goods.fapiao_daikai", "banned_goods", "发票代开"),
    ("好评返现五元", "fake.haoping_fanxian", "fake_transaction", "好评返现"),
    ("拍A发B", "fake.paia_fab", "fake_transaction", "拍A发B"),
    ("主播是个 S B", "vulgar.sb", "vulgar", "S B"),
]


@pytest.mark.parametrize(("text", "rule_id", "category", "matched"), POSITIVES)
def test_claims_are_found(detector: ProhibitedClaimDetector, text: str, rule_id: str,
                          category: str, matched: str) -> None:
    findings = detect(detector, text)
    assert [(f.rule_id, f.category, f.matched) for f in findings][:1] == [(rule_id, category, matched)]
    finding = findings[0]
    assert text[finding.span[0]:finding.span[1]] == finding.matched
    assert finding.legal_basis and finding.detector == "prohibited_claim"
    assert finding.details["lexicon_version"] == detector.version


HARD_NEGATIVES = [
    "第一次来直播间",  # 第一 inside the word 第一次
    "第一，面料很舒服；第二，版型好",  # enumeration opens the clause
    "第一时间给大家发货",  # listed exception
    "安全第一",  # slogan, not a ranking
    "全国第一次巡回演出",  # 全国第一 cut across 第一次
    "最佳赏味期是三天",  # consumer tip (SAMR 2023)
    "这台空调一级能效",  # grade defined by a national standard
    "我们家最便宜的一款",  # comparison inside one's own range
    "我们家最好的一款",
    "我们争做行业第一",  # a goal
    "今年力争做到华东地区销量第一",  # a goal governs its whole clause
    "不能代替药物治疗",  # negated medical wording
    "我们不说全网最低",  # negated
    "这个价格不是最低的吗?",  # negated question
    "是全网最低价吗",  # question
    "这款能治愈吗？",  # viewer question
    "看完整个人都被治愈了",  # 治愈 as a mood
    "买万能胶送胶枪",  # product type 万能胶
    "usb充电很方便",  # sb inside a Latin word
    "国家级非遗传承人手作",  # an objectively true grade
    "大麻哈鱼罐头",  # fish, not the drug
    "象牙白的颜色很显白",  # a colour
    "我们不刷单不刷好评",  # negation
    "全网最低价保护，买贵退差",  # platform price protection
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_benign_look_alikes_are_not_found(detector: ProhibitedClaimDetector, text: str) -> None:
    assert detect(detector, text) == []


@pytest.mark.parametrize(("category", "found"), [
    (None, True),  # no item on screen: a claim like any other
    ("food", True),  # a food may not claim to lower blood pressure
    ("health_food", True),  # nor a health food (only "辅助降血压" as approved function)
    ("drug", False),  # a drug may state its approved indication
    ("medical_device", False),
])
def test_indication_depends_on_pinned_item(detector: ProhibitedClaimDetector, category: str | None,
                                           found: bool) -> None:
    items = [] if category is None else [{"item_id": "i1", "category": category}]
    assert bool(detect(detector, "这个降血压效果很好", items=items)) is found


def test_guarantee_is_never_exempt(detector: ProhibitedClaimDetector) -> None:
    # 《广告法》第十六条: even a drug may not promise a cure.
    assert detect(detector, "吃了就能根治", items=[{"category": "drug"}])


def test_overlapping_hits_are_one_claim(detector: ProhibitedClaimDetector) -> None:
    # 全网最低, 最低价 and 最低 all hit; one finding is the evidence.
    assert [f.rule_id for f in detect(detector, "全网最低价")] == ["abs.quanwang_zuidi"]


def test_other_event_kinds_are_ignored(detector: ProhibitedClaimDetector) -> None:
    assert detect(detector, "全网最低价", kind="product") == []


@given(st.lists(st.sampled_from(["全", "网", "最", "低", "价", " ", "🔥", "\u200b", "第一", "次",
                                 "不是", "吗", "？", "網", "價", "降血压", "刷单", "Ｓ", "B", "\ud800"]),
                max_size=30).map("".join) | st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_evidence_always_points_into_the_original(detector: ProhibitedClaimDetector, text: str) -> None:
    for finding in detect(detector, text):
        start, end = finding.span
        assert 0 <= start < end <= len(text)
        assert text[start:end] == finding.matched


def test_duplicate_normalized_pattern_is_refused(tmp_path: Path) -> None:
    source = (LEXICONS / "prohibited_claim.yaml").read_text(encoding="utf-8")
    duplicate = ("  - {id: abs.dup, pattern: 全網最低, category: absolute_term, severity: high,"
                 " legal_basis: x}\n")
    (tmp_path / "prohibited_claim.yaml").write_text(source + duplicate, encoding="utf-8")
    with pytest.raises(LexiconError, match=r"prohibited_claim.yaml:\d+: entry 'abs.dup': pattern normalizes"):
        ProhibitedClaimDetector.load(tmp_path)
