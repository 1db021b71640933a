"""Per-room product state: transitions, grace window, validation, bounds."""
from __future__ import annotations

import copy

import orjson
import pytest

from detectors.products import (
    MAX_PINNED,
    MAX_UNPINNED,
    MAX_VERSIONS,
    ProductEventError,
    apply_product_event,
    items_at,
    validate_item,
)


def item(item_id: str = "A", price: float = 99.0, **extra) -> dict:
    base = {"item_id": item_id, "title": f"商品{item_id}", "price": price,
            "category": "apparel", "attributes": {"材质": "棉"}, "licenses": []}
    return {**base, **extra}


def ev(op: str, ts: float, it: dict) -> dict:
    return {"event_id": f"{op}-{ts}", "room_id": "r1", "merchant_id": "m", "ts": ts,
            "op": op, "item": it}


def replay(*events: dict, keep_s: float = 60.0) -> dict:
    state = None
    for e in events:
        state = apply_product_event(state, e, keep_s=keep_s)
    return state


def ids_at(state: dict, ts: float, grace: float = 10.0) -> list[tuple[str, float]]:
    return [(i["item_id"], i["price"]) for i in items_at(state, ts, grace)]


@pytest.mark.parametrize("events, ts, expected", [
    # pinned before ts and still pinned: on screen
    ([ev("pin", 100, item("A"))], 150, [("A", 99.0)]),
    # pinned 5 s after the utterance started (ASR stamps start): inside forward grace
    ([ev("pin", 105, item("A"))], 100, [("A", 99.0)]),
    # pinned 30 s after: not yet on screen
    ([ev("pin", 130, item("A"))], 100, []),
    # unpinned 5 s before ts: still inside backward grace
    ([ev("pin", 100, item("A")), ev("unpin", 120, {"item_id": "A"})], 125, [("A", 99.0)]),
    # unpinned 20 s before ts: gone
    ([ev("pin", 100, item("A")), ev("unpin", 120, {"item_id": "A"})], 140, []),
    # two items pinned: newest pin first
    ([ev("pin", 100, item("A")), ev("pin", 110, item("B", 5.0))], 115, [("B", 5.0), ("A", 99.0)]),
    # re-pin moves A in front of B again
    ([ev("pin", 100, item("A")), ev("pin", 110, item("B", 5.0)), ev("pin", 120, item("A"))],
     125, [("A", 99.0), ("B", 5.0)]),
    # update 3 s ago: both the old and the new price count around ts, newest first
    ([ev("pin", 100, item("A")), ev("update", 147, item("A", 79.0))], 150,
     [("A", 79.0), ("A", 99.0)]),
    # update long ago: only the current version
    ([ev("pin", 100, item("A")), ev("update", 110, item("A", 79.0))], 150, [("A", 79.0)]),
    # update 5 s *after* ts: the old price was what viewers saw, the new one is imminent
    ([ev("pin", 100, item("A")), ev("update", 155, item("A", 79.0))], 150,
     [("A", 79.0), ("A", 99.0)]),
    # update of an item never pinned is ignored
    ([ev("pin", 100, item("A")), ev("update", 110, item("Z", 1.0))], 115, [("A", 99.0)]),
    # unpin of an unknown item is a no-op
    ([ev("pin", 100, item("A")), ev("unpin", 110, {"item_id": "Z"})], 115, [("A", 99.0)]),
])
def test_items_at(events, ts, expected):
    assert ids_at(replay(*events), ts) == expected


def test_items_carry_on_screen_times():
    state = replay(ev("pin", 100, item("A")), ev("unpin", 120, {"item_id": "A"}))
    (got,) = items_at(state, 118, 10)
    assert (got["pinned_at"], got["unpinned_at"], got["version_ts"]) == (100, 120, 100)


@pytest.mark.parametrize("bad, reason_part", [
    # no item id
    ({k: v for k, v in item().items() if k != "item_id"}, "item_id"),
    # empty item id
    (item(item_id=" "), "item_id"),
    # price zero, negative, string, bool, NaN
    (item(price=0), "price"),
    (item(price=-5), "price"),
    (item(price="99"), "price"),
    (item(price=True), "price"),
    (item(price=float("nan")), "price"),
    # category outside the vocabulary
    (item(category="weapons"), "category"),
    # title missing
    ({k: v for k, v in item().items() if k != "title"}, "title"),
    # licenses not a list of strings
    (item(licenses="SC123"), "licenses"),
    # attribute value that orjson could serialise but is not a scalar (nested object)
    (item(attributes={"材质": {"x": 1}}), "attribute"),
    # not an object at all
    ("A", "not an object"),
])
def test_malformed_pin_raises_and_leaves_state(bad, reason_part):
    before = replay(ev("pin", 100, item("A")))
    snapshot = copy.deepcopy(before)
    with pytest.raises(ProductEventError) as err:
        apply_product_event(before, ev("pin", 110, bad))
    assert reason_part in err.value.reason
    assert before == snapshot


@pytest.mark.parametrize("event, reason_part", [
    # unknown op
    ({**ev("pin", 1, item()), "op": "delete"}, "op"),
    # ts not a number
    ({**ev("pin", 1, item()), "ts": "now"}, "ts"),
    # unpin needs only an id, but does need one
    (ev("unpin", 1, {}), "item_id"),
])
def test_malformed_event(event, reason_part):
    with pytest.raises(ProductEventError) as err:
        apply_product_event(None, event)
    assert reason_part in err.value.reason


def test_unpin_with_only_id_is_valid():
    assert validate_item({"item_id": "A"}, "unpin") == []
    assert validate_item({"item_id": "A"}, "pin") != []


def test_apply_is_pure():
    before = replay(ev("pin", 100, item("A")))
    snapshot = copy.deepcopy(before)
    after = apply_product_event(before, ev("update", 105, item("A", 10.0)))
    assert before == snapshot and after != before


def test_state_does_not_share_event_objects():
    it = item("A")
    state = replay(ev("pin", 100, it))
    it["attributes"]["材质"] = "涤纶"
    assert items_at(state, 100, 10)[0]["attributes"]["材质"] == "棉"


def test_state_is_orjson_serialisable_roundtrip():
    state = replay(ev("pin", 100, item("A")), ev("update", 101, item("A", 1.5)),
                   ev("unpin", 102, {"item_id": "A"}))
    assert orjson.loads(orjson.dumps(state)) == state


def test_bounded_pinned_and_unpinned():
    # A room that pins many items and never unpins keeps only MAX_PINNED on screen
    state = replay(*[ev("pin", 100 + i, item(f"I{i}")) for i in range(MAX_PINNED + 15)])
    assert len(state["pinned"]) == MAX_PINNED
    assert len(state["unpinned"]) <= MAX_UNPINNED
    # ... and churn of pin/unpin keeps unpinned bounded by count
    events = []
    for i in range(3 * MAX_UNPINNED):
        events += [ev("pin", 200 + i, item(f"J{i}")), ev("unpin", 200.5 + i, {"item_id": f"J{i}"})]
    state = replay(*events, keep_s=1e9)
    assert len(state["unpinned"]) == MAX_UNPINNED


def test_unpinned_dropped_after_keep_window():
    state = replay(ev("pin", 100, item("A")), ev("unpin", 110, {"item_id": "A"}),
                   ev("pin", 500, item("B")), keep_s=60)
    assert [e["item_id"] for e in state["unpinned"]] == []


def test_versions_bounded():
    # many updates within the window still keep at most MAX_VERSIONS
    events = [ev("pin", 100, item("A"))] + [
        ev("update", 100 + i * 0.1, item("A", 10.0 + i)) for i in range(1, 30)]
    state = replay(*events)
    assert len(state["pinned"][0]["versions"]) == MAX_VERSIONS
    # a superseded version stays while it was valid within keep_s of the clock ...
    state = replay(ev("pin", 100, item("A")), ev("update", 200, item("A", 5.0)),
                   ev("update", 400, item("A", 6.0)), keep_s=60)
    assert [v["item"]["price"] for v in state["pinned"][0]["versions"]] == [6.0, 5.0]
    # ... and goes once the clock moves past that (here via another room event)
    state = apply_product_event(state, ev("pin", 500, item("B")), keep_s=60)
    assert [v["item"]["price"] for v in state["pinned"][1]["versions"]] == [6.0]
