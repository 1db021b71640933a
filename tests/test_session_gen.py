"""The session generator behind ``make demo`` and the benchmarks (bench/session_gen.py)."""
from __future__ import annotations

import collections
import importlib.util
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "demo_session.jsonl"
# The exact arguments samples/demo_session.jsonl was made with (see the module docstring).
DEMO_ARGS = ["--rooms", "5", "--seconds", "540", "--rate", "4", "--seed", "7"]

# bench/ is scripts, not a package: load the module from its file.
_spec = importlib.util.spec_from_file_location("session_gen", ROOT / "bench" / "session_gen.py")
assert _spec and _spec.loader
sg = importlib.util.module_from_spec(_spec)
sys.modules["session_gen"] = sg  # dataclasses look their module up while the class is built
_spec.loader.exec_module(sg)

CATEGORIES = {"food", "health_food", "drug", "medical_device", "cosmetics", "apparel", "jewelry",
              "electronics", "home", "publication", "baby", "other"}
LABELS = {
    "prohibited_claim": {"absolute_term", "medical_claim", "false_promotion", "state_symbol",
                         "banned_goods", "vulgar", "fake_transaction"},
    "offline_trade_lure": {"contact_handle", "offline_payment", "platform_redirect"},
    "link_mismatch": {"price", "material", "origin", "spec", "product_name", "missing_license"},
}
SHAPES = {  # required keys of each event type, besides "type"
    "transcript": {"event_id", "room_id", "anchor_id", "ts", "text", "expect"},
    "danmaku": {"event_id", "room_id", "user_id", "ts", "text", "expect"},
    "product": {"event_id", "room_id", "merchant_id", "ts", "op", "item"},
}


def shape_errors(e: dict[str, Any]) -> list[str]:
    """Everything wrong with one corpus line, per the shared event shapes."""
    kind = e.get("type")
    if kind not in SHAPES:
        return [f"bad type {kind!r}"]
    errors = []
    keys = set(e) - {"type", "note"}
    if keys != SHAPES[kind]:
        errors.append(f"keys {sorted(keys)}")
    if not isinstance(e.get("ts"), float):
        errors.append("ts not float")
    if kind == "product":
        item = e.get("item", {})
        if e.get("op") not in {"pin", "unpin", "update"}:
            errors.append(f"op {e.get('op')!r}")
        if set(item) != {"item_id", "title", "price", "category", "attributes", "licenses"}:
            errors.append(f"item keys {sorted(item)}")
        elif not (item["category"] in CATEGORIES and item["price"] > 0 and item["title"]
                  and set(item["attributes"]) == {"material", "origin", "spec", "brand"}
                  and all(isinstance(x, str) for x in item["licenses"])):
            errors.append(f"item {item}")
    else:
        if not (isinstance(e.get("text"), str) and e["text"].strip()):
            errors.append("empty text")
        for label in e.get("expect", ()):
            if label.get("category") not in LABELS.get(label.get("detector"), ()):
                errors.append(f"label {label}")
    return errors


@pytest.fixture(scope="module")
def demo() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def big() -> list[dict[str, Any]]:
    # ~30,000 events: enough for the mix and rate checks to be tight.
    return list(sg.generate(rooms=8, seconds=3000, rate_per_s=10, seed=11, viewers=50_000))


def small(seed: int) -> list[dict[str, Any]]:
    return list(sg.generate(rooms=3, seconds=120, rate_per_s=6, seed=seed, viewers=500))


# --- determinism and the committed sample ---------------------------------------------


def test_same_seed_same_output() -> None:
    assert small(3) == small(3)


def test_other_seed_other_output() -> None:
    assert [e.get("text") for e in small(3)] != [e.get("text") for e in small(4)]


def test_committed_sample_is_the_generator_output(tmp_path: Path) -> None:
    # Fails when the generator changes without `python bench/session_gen.py ... --out samples/...`.
    out = tmp_path / "demo.jsonl"
    assert sg.main([*DEMO_ARGS, "--out", str(out)]) == 0
    assert out.read_bytes() == SAMPLE.read_bytes()


# --- shapes, ids, time ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["demo", "big"])
def test_every_line_has_a_valid_shape(which: str, request: pytest.FixtureRequest) -> None:
    events = request.getfixturevalue(which)
    bad = [(e.get("event_id"), err) for e in events for err in shape_errors(e)]
    assert bad == []


@pytest.mark.parametrize(
    "line, fragment",
    [
        # a danmaku without its user
        ({"type": "danmaku", "event_id": "1", "room_id": "r", "ts": 1.0, "text": "x", "expect": []}, "keys"),
        # an unknown label
        ({"type": "transcript", "event_id": "1", "room_id": "r", "anchor_id": "a", "ts": 1.0, "text": "x",
          "expect": [{"detector": "prohibited_claim", "category": "price"}]}, "label"),
        # integer ts
        ({"type": "danmaku", "event_id": "1", "room_id": "r", "user_id": "u", "ts": 1, "text": "x",
          "expect": []}, "ts not float"),
    ],
)
def test_shape_check_rejects_bad_lines(line: dict[str, Any], fragment: str) -> None:
    assert any(fragment in err for err in shape_errors(line))


@pytest.mark.parametrize("which", ["demo", "big"])
def test_event_ids_unique_and_seeded(which: str, request: pytest.FixtureRequest) -> None:
    events = request.getfixturevalue(which)
    ids = [e["event_id"] for e in events]
    seed = ids[0].split("-")[0]
    assert len(set(ids)) == len(ids)
    assert ids == [f"{seed}-{n}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("which", ["demo", "big"])
def test_ts_sorted_and_within_session(which: str, request: pytest.FixtureRequest) -> None:
    events = request.getfixturevalue(which)
    ts = [e["ts"] for e in events]
    assert ts == sorted(ts)  # sorted overall, hence per room too
    assert ts[0] == sg.DEFAULT_BASE_TS
    assert ts[-1] - ts[0] < (540 if which == "demo" else 3000)


def test_ts_starts_at_the_given_base() -> None:
    first = next(sg.generate(rooms=1, seconds=10, rate_per_s=1, seed=1, viewers=10, base_ts=1000.5))
    assert first["ts"] == 1000.5


# --- mix and violation rates ------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, share, tolerance",
    [
        ("danmaku", 0.90, 0.01),
        ("transcript", 0.08, 0.01),
        ("product", 0.02, 0.005),
    ],
)
def test_mix(big: list[dict[str, Any]], kind: str, share: float, tolerance: float) -> None:
    got = sum(e["type"] == kind for e in big) / len(big)
    assert abs(got - share) <= tolerance, got


def test_rate_is_events_per_second_for_all_rooms(big: list[dict[str, Any]]) -> None:
    assert 0.95 * 30_000 <= len(big) <= 1.05 * 30_000


def test_violations_are_a_few_percent(big: list[dict[str, Any]]) -> None:
    share = sum(bool(e.get("expect")) for e in big) / len(big)
    assert 0.02 <= share <= 0.07, share


# --- what the demo must show ------------------------------------------------------------


@pytest.mark.parametrize(
    "detector, category",
    [
        ("prohibited_claim", "absolute_term"),
        ("prohibited_claim", "medical_claim"),
        ("prohibited_claim", "false_promotion"),
        ("prohibited_claim", "banned_goods"),
        ("link_mismatch", "price"),
        ("link_mismatch", "material"),
        ("link_mismatch", "missing_license"),
        ("offline_trade_lure", "contact_handle"),
        ("offline_trade_lure", "offline_payment"),
        ("offline_trade_lure", "platform_redirect"),
    ],
)
def test_demo_plants_each_kind(demo: list[dict[str, Any]], detector: str, category: str) -> None:
    assert any({"detector": detector, "category": category} in e.get("expect", ()) for e in demo)


def test_demo_banned_goods_only_in_one_room(demo: list[dict[str, Any]]) -> None:
    rooms = {e["room_id"] for e in demo
             if {"detector": "prohibited_claim", "category": "banned_goods"} in e.get("expect", ())}
    assert len(rooms) == 1


def test_demo_has_one_unlicensed_food_item(demo: list[dict[str, Any]]) -> None:
    unlicensed = {e["item"]["item_id"] for e in demo
                  if e["type"] == "product" and e["item"]["category"] == "food" and not e["item"]["licenses"]}
    assert len(unlicensed) == 1


def test_demo_has_a_repeat_contact_offender(demo: list[dict[str, Any]]) -> None:
    # Escalation needs one viewer posting handles again and again in one room.
    posts = collections.Counter(
        (e["room_id"], e["user_id"]) for e in demo
        if {"detector": "offline_trade_lure", "category": "contact_handle"} in e.get("expect", ()))
    assert posts.most_common(1)[0][1] >= 5


def test_split_handles_are_completed_by_the_same_viewer(demo: list[dict[str, Any]]) -> None:
    open_parts: dict[tuple[str, str], int] = collections.Counter()
    completed = 0
    for e in demo:
        note = e.get("note", "")
        if "split 1/2" in note:
            open_parts[(e["room_id"], e["user_id"])] += 1
        elif "split 2/2" in note:
            assert open_parts[(e["room_id"], e["user_id"])] > 0, e
            open_parts[(e["room_id"], e["user_id"])] -= 1
            completed += 1
    assert completed > 0 and sum(open_parts.values()) == 0


def test_anchor_mostly_states_the_link_price(demo: list[dict[str, Any]]) -> None:
    # Benign lines quoting "到手价N" quote the price of the item pinned at that moment.
    price: dict[str, float] = {}
    quoted = agree = 0
    for e in demo:
        if e["type"] == "product" and e["op"] != "unpin":
            price[e["room_id"]] = e["item"]["price"]
        elif e["type"] == "transcript" and "到手价" in e["text"]:
            digits = "".join(itertools.takewhile(lambda c: c.isdigit() or c == ".",
                                                 e["text"].split("到手价", 1)[1]))
            if digits:
                quoted += 1
                agree += float(digits) == price[e["room_id"]]
    assert quoted >= 5 and agree / quoted >= 0.7


# --- scale: lazy, bounded, a million viewers ---------------------------------------------


def test_generator_is_lazy_for_a_huge_request() -> None:
    started = time.perf_counter()
    events = sg.generate(rooms=1000, seconds=10**9, rate_per_s=10**6, seed=1, viewers=10**7)
    first_thousand = list(itertools.islice(events, 1000))
    assert time.perf_counter() - started < 1.0
    assert len(first_thousand) == 1000


def test_a_million_viewer_ids() -> None:
    events = sg.generate(rooms=50, seconds=10**6, rate_per_s=1000, seed=2, viewers=1_000_000)
    users = {e["user_id"] for e in itertools.islice(events, 40_000) if e["type"] == "danmaku"}
    assert len(users) > 10_000  # a long tail, not a small fixed crowd
    assert all(len(u) == 7 and "u000000" <= u <= "u999999" for u in users)


@pytest.mark.parametrize(
    "n, spoken",
    [
        (0, "零"),
        (15, "十五"),  # no leading 一 before 十
        (99, "九十九"),
        (109, "一百零九"),  # inner zero spoken once
        (199, "一百九十九"),
        (1005, "一千零五"),
        (2010, "二千零一十"),
    ],
)
def test_spoken_numerals(n: int, spoken: str) -> None:
    assert sg._cn_int(n) == spoken


@pytest.mark.parametrize(
    "x, nice",
    [
        (54.4, 49.0),  # retail prices end in 9
        (199.0, 199.0),  # already nice
        (230.0, 229.0),
        (12.3, 12.9),  # under 20: ends in .9
        (3.0, 3.9),
    ],
)
def test_nice_price(x: float, nice: float) -> None:
    assert sg._nice_price(x) == nice


@pytest.mark.parametrize("kwargs", [{"rooms": 0}, {"seconds": 0}, {"rate_per_s": -1}, {"viewers": 0}])
def test_rejects_empty_requests(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        next(sg.generate(**kwargs))
