"""Claim extraction: numerals, prices vs other numbers, units, materials, origins."""
from __future__ import annotations

from pathlib import Path

import pytest

from detectors.claims import ClaimExtractor, parse_chinese_number
from detectors.lexicon import load_lexicon
from detectors.link_mismatch import _EXTRA_KEYS, LEXICON_FILE

LEXICONS = Path(__file__).resolve().parent.parent / "lexicons"


@pytest.fixture(scope="module")
def extractor() -> ClaimExtractor:
    return ClaimExtractor(load_lexicon(LEXICONS / LEXICON_FILE, extra_keys=_EXTRA_KEYS))


@pytest.mark.parametrize("text, value", [
    ("九十九", 99), ("一百二", 120), ("两百", 200), ("三百八十八", 388),
    ("七百六", 760),  # elision after 百
    ("一万二千八", 12800), ("一万二", 12000), ("一百零八", 108),  # 零 blocks elision
    ("十五", 15), ("一九九", 199),  # digit-by-digit reading
    ("九点九", 9.9),
])
def test_chinese_numbers(text, value):
    assert parse_chinese_number(text) == pytest.approx(value)


def prices(extractor, text):
    return [(c.kind, round(c.value, 2), c.count) for c in extractor.extract(text).of("price")]


@pytest.mark.parametrize("text, expected", [
    # each numeral form
    ("到手价只要九十九", [("final", 99, 1)]),
    ("只要一百二", [("final", 120, 1)]),
    ("直播间价两百", [("final", 200, 1)]),
    ("今天三百八十八", [("final", 388, 1)]),
    ("一块九毛九", [("final", 1.99, 1)]),
    ("九块九包邮", [("final", 9.9, 1)]),
    ("99块9", [("final", 99.9, 1)]),
    ("¥88", [("final", 88, 1)]),
    ("只要99米", [("final", 99, 1)]),  # 米 = 元 in a price context
    ("3号链接19.9元", [("final", 19.9, 1)]),  # decimal point restored
    ("19．9元", [("final", 19.9, 1)]),  # full-width point
    ("…，一百二，家人们", [("final", 120, 1)]),  # an amount that is a clause of its own
    ("一百二一件", [("final", 120, 1)]),  # the 一 belongs to 一件
    # kinds
    ("原价199，现价99元", [("reference", 199, 1), ("final", 99, 1)]),
    ("四十九，外面专柜卖八十八", [("final", 49, 1), ("reference", 88, 1)]),
    ("券后只要79", [("coupon", 79, 1)]),
    ("领券减20，到手79元", [("discount", 20, 1), ("final", 79, 1)]),
    ("领10块的券", [("discount", 10, 1)]),
    ("拍两件149", [("multi", 149, 2)]),
    ("拍三盒五十九块七", [("multi", 59.7, 3)]),
    ("六十九两瓶", [("multi", 69, 2)]),
    ("第二件只要49", [("other", 49, 1)]),  # prices the second item only
    ("一包才一块九毛九", [("other", 1.99, 1)]),  # per-unit estimate
    ("满99包邮", [("other", 99, 1)]),
])
def test_price_forms(extractor, text, expected):
    assert prices(extractor, text) == expected


@pytest.mark.parametrize("text", [
    "165码的穿M", "500克", "11月27号", "二零二四年", "手机号13812345678", "10支装", "3号链接",
    "一米六五", "九十的白鸭绒", "316不锈钢", "两件", "一箱十二盒，送两包",
    "拍一发二，两支",  # 二 is a count here
])
def test_numbers_that_are_not_prices(extractor, text):
    assert prices(extractor, text) == []


def test_pack_count_in_previous_clause_is_not_a_multi_buy(extractor):
    # 一箱十二盒，四十九块九: 12 describes the pack, 49.9 is the price of the pack
    assert prices(extractor, "一箱十二盒，四十九块九") == [("final", 49.9, 1)]


def specs(extractor, text, assert_only=True):
    return [(c.kind, round(c.value, 3), c.unit) for c in extractor.extract(text, assert_only).of("spec")]


@pytest.mark.parametrize("text, expected", [
    ("一斤装", [("mass", 500, "")]),
    ("两斤装", [("mass", 1000, "")]),
    ("半斤", [("mass", 250, "")]),
    ("2公斤", [("mass", 2000, "")]),
    ("1千克", [("mass", 1000, "")]),
    ("净含量500g", [("mass", 500, "")]),
    ("1.5L", [("volume", 1500, "")]),
    ("半升", [("volume", 500, "")]),
    ("五百五十毫升", [("volume", 550, "")]),
    ("10支装", [("count", 10, "支")]),
    ("一箱24瓶", [("count", 24, "瓶")]),
    ("拍一发二", [("count", 2, "")]),
    ("一米八的床", [("length", 180, "")]),
    ("两万毫安", [("charge", 20000, "")]),
    # not claims about the product
    ("我100斤穿M码", []),  # body weight
    ("5G手机", []),  # network generation
    ("两瓶", []),  # a count without 装 / a pack cue
    ("足金九九九，一克", [("mass", 1, "")]),  # the clause break splits 九九九 from 一
])
def test_spec_units(extractor, text, expected):
    assert specs(extractor, text) == expected


def test_link_side_dimensions(extractor):
    # link text taken at face value: 180x30cm gives both sides, 3.5两 uses the 两 unit
    assert sorted(specs(extractor, "180x30cm", assert_only=False)) == [("length", 30, ""), ("length", 180, "")]
    assert specs(extractor, "公3.5两", assert_only=False) == [("mass", 175, "")]


def materials(extractor, text):
    return [(c.value, c.pure, c.pct) for c in extractor.extract(text).of("material")]


@pytest.mark.parametrize("text, expected", [
    ("这件纯棉T恤", [("棉", True, None)]),
    ("100%羊毛", [("羊毛", True, 100)]),
    ("百分之百山羊绒", [("羊绒", True, 100)]),
    ("18K金的", [("18k金", False, 75)]),  # implied purity
    ("含绒量90%", [("羽绒", False, 90)]),
    ("百分之十高浓度烟酰胺", [("烟酰胺", False, 10)]),
    ("桑蚕丝", [("真丝", False, None)]),  # 桑蚕丝 = 真丝
    # not assertions
    ("不是真皮", []),
    ("媲美真皮的手感", []),
    ("仿真皮", [("pu", False, None)]),  # the longer alias wins
    ("这件棉服", []),  # 棉服 is a product, not a fibre claim
    ("TPU材质", []),  # pu inside an ASCII word
])
def test_materials(extractor, text, expected):
    assert materials(extractor, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("新疆阿克苏产的苹果", ["新疆", "阿克苏"]),
    ("日本原装进口", ["日本", "境外"]),
    ("产地是云南", ["云南"]),
    ("正宗阳澄湖大闸蟹", ["阳澄湖"]),
    ("内蒙古的牛肉", ["内蒙古"]),  # place + product word
    ("新疆长绒棉", ["新疆"]),  # place + material
    # a place without an origin cue is not a claim
    ("新疆偏远地区不包邮", []),
    ("不是进口的", []),
])
def test_origins(extractor, text, expected):
    assert [c.value for c in extractor.extract(text).of("origin")] == expected


@pytest.mark.parametrize("text, expected", [
    ("这款保温杯", [("noun", "drinkware")]),
    ("保温杯", [("noun", "drinkware")]),  # a product word opening the transcript names the item
    ("今天给大家讲讲这个颜色，还有配套的保温杯", []),  # far from the start, no 这款 cue
    ("兰蔻的精华", [("brand", "兰蔻"), ("noun", "skincare")]),
    ("不输兰蔻", []),  # comparison
    ("兰蔻平替", []),
])
def test_mentions(extractor, text, expected):
    got = [(c.field, c.value) for c in extractor.extract(text).claims if c.field in ("noun", "brand")]
    assert got == expected


def test_spans_point_at_original_text(extractor):
    text = "家人們，這件純棉T恤只要九十九塊！"
    for claim in extractor.extract(text).claims:
        assert text[claim.span[0]:claim.span[1]] == claim.text
    assert [c.text for c in extractor.extract(text).of("price")] == ["九十九塊"]
