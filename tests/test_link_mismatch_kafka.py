"""Link mismatch on the real broker: a pinned link and the anchor's words are compared in
the worker, the grace window holds across unpin/re-pin, and the room's pinned items survive
a worker restart (the rooms table is recovered from its changelog)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from stream.settings import Settings
from stream.topics import create_topics

from .kafka_support import WorkerProcess, collect, produce, run

pytestmark = pytest.mark.kafka
T0 = 1764600000.0
SCARF = {"item_id": "scarf", "title": "秋冬羊毛混纺围巾", "price": 199, "category": "apparel",
         "attributes": {"material": "羊毛30% 聚酯纤维70%", "origin": "江苏"}, "licenses": []}
LIE = "这条围巾只要九十九，家人们冲"  # link says 199


def product(event_id: str, room: str, dt: float, op: str) -> tuple[str, bytes, bytes]:
    item = SCARF if op != "unpin" else {"item_id": SCARF["item_id"]}
    return ("live.product", room.encode(), orjson.dumps(
        {"event_id": event_id, "room_id": room, "merchant_id": "m1", "ts": T0 + dt, "op": op, "item": item}))


def speech(event_id: str, room: str, dt: float, text: str = LIE) -> tuple[str, bytes, bytes]:
    return ("live.transcript", room.encode(), orjson.dumps(
        {"event_id": event_id, "room_id": room, "anchor_id": "a1", "ts": T0 + dt, "text": text}))


async def paced(settings: Settings, messages: list) -> None:
    # Real rooms pin first and speak after, seconds apart; a short pause keeps that order
    # across the product and transcript topics.
    for message in messages:
        await produce(settings, [message])
        await asyncio.sleep(0.3)


def mismatches(records: list[dict]) -> dict[str, set[str]]:
    return {r["event_id"]: {d["category"] for d in r["detections"] if d["detector"] == "link_mismatch"}
            for r in records}


def test_pin_speech_grace_window_and_restart(kafka_settings: Settings, tmp_path: Path) -> None:
    run(create_topics(kafka_settings))
    session = [
        product("p-pin", "L1", 0, "pin"),
        speech("s-pinned", "L1", 3),            # item on screen → price mismatch
        product("p-unpin", "L1", 20, "unpin"),
        speech("s-grace", "L1", 25),            # unpinned 5 s ago: within the 10 s grace
        speech("s-gone", "L1", 40),             # 20 s after unpin: nothing on screen, no finding
        product("p-repin", "L1", 50, "pin"),
        speech("s-repinned", "L1", 52),
        product("p-pin2", "L2", 0, "pin"),      # room L2: pinned before the restart
    ]
    with WorkerProcess(kafka_settings, tmp_path / "first.log"):
        run(paced(kafka_settings, session))
        first = mismatches(run(collect(kafka_settings, "mod.detections", 3, settle=1.0)))
    assert first == {"s-pinned": {"price"}, "s-grace": {"price"}, "s-repinned": {"price"}}

    # A new worker process: room L2's pin is only known from the rooms changelog.
    with WorkerProcess(kafka_settings, tmp_path / "second.log"):
        run(paced(kafka_settings, [speech("s-after-restart", "L2", 5), speech("s-truth", "L2", 6, "这条围巾一百九十九")]))
        after = mismatches(run(collect(kafka_settings, "mod.detections", 4, settle=1.0)))
    assert after.get("s-after-restart") == {"price"}
    assert "s-truth" not in after  # the true price is not a mismatch
