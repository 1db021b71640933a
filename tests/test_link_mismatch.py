"""link_mismatch: spoken claims vs the items on screen."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from detectors.base import DetectContext
from detectors.lexicon import LexiconError
from detectors.link_mismatch import LEXICON_FILE, LinkMismatchDetector
from detectors.products import apply_product_event, items_at

LEXICONS = Path(__file__).resolve().parent.parent / "lexicons"


@pytest.fixture(scope="module")
def detector() -> LinkMismatchDetector:
    return LinkMismatchDetector.load(LEXICONS)


def on_screen(**overrides) -> dict:
    item = {"item_id": "i1", "title": "商品", "price": 99.0, "category": "apparel", "attributes": {},
            "licenses": [], "pinned_at": 0.0, "unpinned_at": None, "version_ts": 0.0}
    return {**item, **overrides}


def ctx(text: str, *items: dict, ts: float = 5.0) -> DetectContext:
    return DetectContext("transcript", "e1", "r1", "a1", ts, text, items=items)


def found(detector, text, *items, ts=5.0) -> list[tuple[str, str]]:
    return [(f.category, f.details["rule"]) for f in detector.detect(ctx(text, *items, ts=ts))]


@pytest.mark.parametrize("text, price, expected", [
    # spoken equals link, in each numeral form
    ("到手价只要九十九", 99, []),
    ("一块九毛九", 1.99, []),
    ("只要一百二", 120, []),
    # spoken lower, nothing stated
    ("到手价只要79", 99, [("price", "price_differs")]),
    # coupon with matching arithmetic, and with wrong arithmetic
    ("领券减20，到手79元", 99, []),
    ("原价199，领券减50，到手99", 199, [("price", "coupon_arithmetic")]),
    # a bare 券后 price below the link with no named amount
    ("券后只要79", 99, [("price", "coupon_arithmetic")]),
    # multi-buy: N × price, 第二件半价, wrong total
    ("两件198", 99, []),
    ("第二件半价，两件148.5", 99, []),
    ("拍三盒五十九块七", 19.9, []),
    ("拍两件149", 99, [("price", "multi_buy_arithmetic")]),
    # reference prices and other amounts are not checked
    ("原价199，现价99元", 99, []),
    ("满99包邮", 49, []),
    # within tolerance
    ("九十九块", 99.3, []),
])
def test_price(detector, text, price, expected):
    assert found(detector, text, on_screen(price=price)) == expected


@pytest.mark.parametrize("text, material, expected", [
    ("这件纯棉T恤", "100%棉", []),
    ("这件纯棉T恤", "棉95% 氨纶5%", [("material", "purity")]),  # 纯X vs a blend
    ("这件纯棉T恤", "棉", []),  # no percentage given: not contradicted
    ("真皮的包包", "PU", [("material", "conflict")]),
    ("真皮的包包", "头层牛皮", []),  # 头层牛皮 is 真皮
    ("18K金的项链", "合金镀金", [("material", "conflict")]),
    ("足金的", "18K金", [("material", "conflict")]),  # sibling kinds of gold
    ("纯银的", "S925银", []),  # trade usage allows 纯银 for 925
    ("足银的", "S925银", [("material", "conflict")]),
    ("含绒量90%的白鸭绒", "白鸭绒50%", [("material", "content")]),
    ("含绒量90%的白鸭绒", "白鸭绒90%", []),
    ("实木餐桌", "密度板贴木皮", [("material", "conflict")]),
    ("百分之十的烟酰胺", "烟酰胺2%、甘油", [("material", "content")]),
    ("玻尿酸精华", "烟酰胺2%、甘油", []),  # actives: absence is not a contradiction
    ("这件纯棉T恤", "", []),  # link says nothing
])
def test_material(detector, text, material, expected):
    attributes = {"material": material} if material else {}
    assert found(detector, text, on_screen(attributes=attributes)) == expected


@pytest.mark.parametrize("text, origin, expected", [
    ("新疆阿克苏产的苹果", "山东烟台", [("origin", "origin_differs")]),
    ("新疆产的苹果", "新疆阿克苏", []),  # containment
    ("正宗阳澄湖大闸蟹", "江苏苏州阳澄湖", []),
    ("正宗阳澄湖大闸蟹", "江苏宿迁", [("origin", "origin_differs")]),  # 宿迁 is not 阳澄湖
    ("日本原装进口", "中国上海", [("origin", "origin_differs")]),
    ("日本原装进口", "日本", []),
    ("产地云南", "中国", []),  # link only says 中国
])
def test_origin(detector, text, origin, expected):
    assert found(detector, text, on_screen(attributes={"origin": origin})) == expected


@pytest.mark.parametrize("text, attributes, expected", [
    ("这款一斤装", {"net_weight": "500g"}, []),  # 斤 → g
    ("两斤装的", {"net_weight": "500g"}, [("spec", "quantity_differs")]),
    ("这瓶一升装", {"volume": "1000ml"}, []),  # 升 → ml
    ("一箱24瓶", {"count": "12瓶"}, [("spec", "quantity_differs")]),
    ("一箱24瓶", {"volume": "500ml", "count": "24瓶"}, []),
    ("一袋二十五克", {"net_weight": "750g", "count": "30袋"}, []),  # per-unit derived from the total
    ("一共七百五十克", {"net_weight": "25g", "count": "30袋"}, []),  # total derived from the unit
    ("一米八的床", {"spec": "1.5m床"}, [("spec", "quantity_differs")]),
    ("两万毫安", {"capacity": "10000mAh"}, [("spec", "quantity_differs")]),
])
def test_spec(detector, text, attributes, expected):
    assert found(detector, text, on_screen(attributes=attributes)) == expected


@pytest.mark.parametrize("text, title, brand, expected", [
    ("这款保温杯", "美的电饭煲 家用4L", "美的", [("product_name", "product_type_differs")]),
    ("这款保温杯", "不锈钢保温杯 男女", "", []),
    ("这个杯子", "不锈钢保温杯 男女", "", []),  # same kind of product
    ("兰蔻的精华", "雪肌 烟酰胺精华", "雪肌", [("product_name", "brand_differs")]),
    ("我们雪肌的精华不输兰蔻", "雪肌 烟酰胺精华", "雪肌", []),  # own brand named: comparison
    ("耐克的鞋", "奈克斯运动鞋", "奈克斯", [("product_name", "brand_differs")]),
    ("耐克的鞋", "Nike耐克 运动鞋", "耐克", []),
    ("这个宝贝点点关注", "雪肌 烟酰胺精华", "雪肌", []),  # generic talk
])
def test_product_name(detector, text, title, brand, expected):
    attributes = {"brand": brand} if brand else {}
    assert found(detector, text, on_screen(title=title, attributes=attributes)) == expected


def test_other_product_mentioned_suppresses_its_field_checks(detector):
    # 保温杯 spoken over a pinned 电饭煲: one product_name finding, not a price one as well
    item = on_screen(title="苏泊尔 电饭煲 4L", price=299.0, attributes={"brand": "苏泊尔"})
    assert found(detector, "这款保温杯三一六不锈钢，八十九，直接拍", item) == [("product_name", "product_type_differs")]


@pytest.mark.parametrize("category, licenses, expected", [
    ("food", [], [("missing_license", "missing_food_license")]),
    ("food", ["SC11233012345678"], []),
    ("food", ["SC1123"], [("missing_license", "missing_food_license")]),  # too short to be a licence
    ("health_food", ["国食健注G20200123"], []),
    ("health_food", ["食健备G202032000123"], []),
    ("drug", ["国药准字H10900089"], []),
    ("drug", ["国药准字"], [("missing_license", "missing_drug_license")]),
    ("medical_device", ["苏械注准20172070123"], []),
    ("publication", ["ISBN 978-7-5366-9293-0"], []),
    ("publication", [], [("missing_license", "missing_publication_license")]),
    ("cosmetics", [], []),  # not a special category
    ("apparel", [], []),
])
def test_missing_license(detector, category, licenses, expected):
    assert found(detector, "家人们看这个", on_screen(category=category, licenses=licenses)) == expected


def test_missing_license_once_per_item_and_whole_span(detector):
    text = "家人们看这个"
    versions = [on_screen(category="food", version_ts=4.0), on_screen(category="food", version_ts=0.0)]
    (finding,) = detector.detect(ctx(text, *versions))
    assert finding.span == (0, len(text)) and finding.legal_basis == "标准4.1.2; 4.3.2.1(3); 5.3.1(2)"


def test_finding_shape(detector):
    (f,) = detector.detect(ctx("家人们，到手价只要79元！", on_screen()))
    assert (f.detector, f.category, f.rule_id, f.matched, f.span) == ("link_mismatch", "price", "rule.price", "79元", (9, 12))
    assert f.details == {"field": "price", "spoken": "79元", "link": "99", "item_id": "i1", "rule": "price_differs"}
    assert f.legal_basis == "标准6.4.3(2); 5.3.1(4)(5)" and 0 < f.confidence <= 1


def test_no_item_on_screen_no_finding(detector):
    assert detector.detect(ctx("到手价只要79", )) == []


def test_any_version_on_screen_satisfies(detector):
    # the price changed 3 s ago: the anchor quoting either version is consistent
    old, new = on_screen(price=129.0, version_ts=0.0), on_screen(price=99.0, version_ts=2.0)
    assert found(detector, "只要一百二十九", new, old) == []
    assert found(detector, "只要九十九", new, old) == []
    assert found(detector, "只要七十九", new, old) == [("price", "price_differs")]


def test_replay_through_products(detector):
    # pin at 100, transcript at 103 with the pin processed first: compared; a pin 30 s later is not on screen
    state = apply_product_event(None, {"op": "pin", "ts": 100.0, "item": {
        "item_id": "x", "title": "纯棉T恤", "price": 59.0, "category": "apparel",
        "attributes": {"material": "棉60% 聚酯纤维40%"}, "licenses": []}})
    assert found(detector, "纯棉的，只要五十九", *items_at(state, 103.0, detector.grace_s), ts=103.0) == \
        [("material", "purity")]
    assert found(detector, "纯棉的，只要五十九", *items_at(state, 60.0, detector.grace_s), ts=60.0) == []


def test_upcoming_item_is_not_compared_with_the_current_one(detector):
    item = on_screen(title="不锈钢保温杯 500ml", price=89.0)
    assert found(detector, "苏泊尔电饭煲四升两百九十九，马上给大家上链接", item) == []


@pytest.mark.parametrize("mutate, message", [
    # a rule without its threshold
    (lambda s: s.replace("    fuzzy_threshold: 80", "", 1), "fuzzy_threshold"),
    # a unit of an unknown dimension
    (lambda s: s.replace("dimension: mass, factor: 1000}", "dimension: weight, factor: 1000}", 1), "dimension"),
    # a licence for a category outside the vocabulary
    (lambda s: s.replace("item_category: drug,", "item_category: drugs,", 1), "item_category"),
    # a place whose parent no entry defines
    (lambda s: s.replace("place: 阿克苏\n    parent: 新疆", "place: 阿克苏\n    parent: 新彊省", 1), "parent"),
])
def test_lexicon_errors_name_file_and_line(tmp_path, mutate, message):
    text = (LEXICONS / LEXICON_FILE).read_text(encoding="utf-8")
    broken = mutate(text)
    assert broken != text
    (tmp_path / LEXICON_FILE).write_text(broken, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        LinkMismatchDetector.load(tmp_path)
    assert message in str(err.value) and f"{LEXICON_FILE}:" in str(err.value)
    assert str(err.value).split(f"{LEXICON_FILE}:")[1].split(":")[0].isdigit()


def test_loads_from_a_copy(tmp_path):
    shutil.copy(LEXICONS / LEXICON_FILE, tmp_path / LEXICON_FILE)
    assert LinkMismatchDetector.load(tmp_path).grace_s == 10


_ALPHABET = st.sampled_from(list("纯棉真皮金银元块米一二两三十百千万九点毛¥%，。 ！1234567890.新疆日本进口产地这款保温杯兰蔻斤克ml装箱瓶券减后到手价原只要拍件第半")
                            + ["\u200b", "🔥", "A", "ｇ", "１", "兩", "塊"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join),
       st.sampled_from(["food", "apparel", "jewelry", "drug"]),
       st.floats(min_value=0.01, max_value=1e5, allow_nan=False))
def test_detect_never_raises_and_spans_point_into_text(detector, text, category, price):
    item = on_screen(category=category, price=price, title="纯棉T恤 保温杯",
                     attributes={"material": "棉60% 涤纶40%", "origin": "山东", "net_weight": "500g", "brand": "雪肌"})
    for f in detector.detect(ctx(text, item)):
        s, e = f.span
        assert 0 <= s <= e <= len(text)
        assert f.matched == text[s:e]
