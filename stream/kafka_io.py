"""Plain aiokafka helpers for the CLI: replay a JSONL file into the input topics and
follow output topics. (The worker has its own loop: stream/worker.py.)"""
from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Iterable, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from .banlist import TOPIC as BANLIST
from .records import Output
from .scan import TOPIC_FOR_TYPE
from .settings import Settings


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(acks="all", linger_ms=5, **settings.kafka_client_kwargs(), **overrides)


async def replay(settings: Settings, lines: Iterable[bytes], rate: float = 0.0) -> tuple[int, int]:
    """Produce each JSONL event to its input topic keyed by room; returns (sent, skipped).

    The ``type`` field only routes the line; it is not part of the event on the topic.
    ``rate`` > 0 paces the replay in events per second.
    """
    sent = skipped = 0
    started = time.monotonic()
    async with producer(settings) as prod:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                obj = orjson.loads(line)
                topic = TOPIC_FOR_TYPE[obj.pop("type")]
                key = str(obj["room_id"]).encode()
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                skipped += 1
                continue
            await prod.send(settings.topic(topic), orjson.dumps(obj), key=key)
            sent += 1
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await prod.flush()
    return sent, skipped


async def publish(settings: Settings, outputs: Sequence[Output]) -> None:
    async with producer(settings) as prod:
        for out in outputs:
            await prod.send(settings.topic(out.topic), orjson.dumps(out.value), key=out.key.encode())
        await prod.flush()


async def publish_ban(settings: Settings, key: str, value: dict[str, Any] | None) -> None:
    """A ban (value) or its lifting (tombstone) on the compacted ban list."""
    async with producer(settings) as prod:
        await prod.send_and_wait(settings.topic(BANLIST), None if value is None else orjson.dumps(value),
                                 key=key.encode())


async def follow(
    settings: Settings,
    topics: Sequence[str],
    from_beginning: bool = False,
    idle_exit_s: float = 0.0,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield (logical topic, record) from output topics; stop after ``idle_exit_s`` of silence."""
    names = {settings.topic(t): t for t in topics}
    consumer = AIOKafkaConsumer(
        *names,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **settings.kafka_client_kwargs(),
    )
    await consumer.start()
    try:
        last = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    last = time.monotonic()
                    try:
                        value = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        value = {"undecodable": record.value[:200].hex()}
                    yield names[tp.topic], value
            if idle_exit_s and time.monotonic() - last > idle_exit_s:
                return
    finally:
        await consumer.stop()
