"""The input codec: good events decode to typed records; every kind of bad input raises a
DecodeError with a reason from the fixed set (those reasons label dead letters)."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from stream.events import DEAD_LETTER_REASONS, Danmaku, DecodeError, ProductEvent, Transcript, decode

ITEM = {"item_id": "i1", "title": "新疆长绒棉四件套", "price": 199, "category": "home",
        "attributes": {"material": "棉100%"}, "licenses": []}


def j(obj: object) -> bytes:
    return orjson.dumps(obj)


@pytest.mark.parametrize("kind, raw, expected", [
    # transcript with an integer ts (seconds) and an integer anchor id
    ("transcript", j({"event_id": "t1", "room_id": "r1", "anchor_id": 7, "ts": 1764200000, "text": "家人们"}),
     Transcript("t1", "r1", "7", 1764200000.0, "家人们")),
    # danmaku with emoji and extra fields (ignored)
    ("danmaku", j({"event_id": "d1", "room_id": "r1", "user_id": "u1", "ts": 1.5, "text": "已拍🎉", "x": 1}),
     Danmaku("d1", "r1", "u1", 1.5, "已拍🎉")),
])
def test_decodes_good_events(kind: str, raw: bytes, expected: object) -> None:
    assert decode(kind, raw) == expected


def test_decodes_product_pin_and_unpin() -> None:
    pin = decode("product", j({"event_id": "p1", "room_id": "r1", "merchant_id": "m1", "ts": 2.0, "op": "pin", "item": ITEM}))
    assert isinstance(pin, ProductEvent) and pin.item["price"] == 199 and pin.op == "pin"
    unpin = decode("product", j({"event_id": "p2", "room_id": "r1", "merchant_id": "m1", "ts": 3.0, "op": "unpin",
                                 "item": {"item_id": "i1"}}))
    assert unpin.item["item_id"] == "i1"


DANMAKU = {"event_id": "d1", "room_id": "r1", "user_id": "u1", "ts": 1.0, "text": "hi"}


@pytest.mark.parametrize("kind, raw, reason", [
    ("danmaku", b"\xff\xfe not utf-8", "invalid_utf8"),
    ("danmaku", b'{"event_id": "d1",', "invalid_json"),
    # a lone surrogate escaped in JSON is not a Unicode string
    ("danmaku", b'{"event_id":"d1","room_id":"r1","user_id":"u","ts":1,"text":"\\ud800"}', "invalid_json"),
    ("danmaku", b"[1, 2]", "not_an_object"),
    ("danmaku", j({k: v for k, v in DANMAKU.items() if k != "text"}), "missing_field"),
    ("danmaku", j({**DANMAKU, "ts": "yesterday"}), "wrong_type"),
    ("danmaku", j({**DANMAKU, "ts": True}), "wrong_type"),  # bool is not a number here
    ("danmaku", j({**DANMAKU, "ts": 1764200000000}), "wrong_type"),  # milliseconds by mistake
    ("danmaku", j({**DANMAKU, "room_id": ""}), "wrong_type"),
    ("danmaku", b"{" + b'"pad":"' + b"x" * 300_000 + b'"}', "oversize"),
    ("product", j({"event_id": "p", "room_id": "r", "merchant_id": "m", "ts": 1, "op": "delete", "item": ITEM}), "unknown_op"),
    ("product", j({"event_id": "p", "room_id": "r", "merchant_id": "m", "ts": 1, "op": "pin"}), "invalid_item"),
    ("product", j({"event_id": "p", "room_id": "r", "merchant_id": "m", "ts": 1, "op": "pin",
                   "item": {**ITEM, "price": "9.9"}}), "invalid_item"),
    ("product", j({"event_id": "p", "room_id": "r", "merchant_id": "m", "ts": 1, "op": "update",
                   "item": {"item_id": "i1"}}), "invalid_item"),  # an update needs the full item
    ("review", j(DANMAKU), "unknown_type"),
])
def test_bad_input_has_a_reason(kind: str, raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(kind, raw)
    assert info.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["transcript", "danmaku", "product"]), raw=st.binary(max_size=2000))
def test_random_bytes_decode_or_raise_decode_error(kind: str, raw: bytes) -> None:
    try:
        decode(kind, raw)
    except DecodeError as exc:
        assert exc.reason in DEAD_LETTER_REASONS
