"""The market-ban list (standard 8.2(2), 8.3(3)) as every worker sees it.

``mod.banlist`` is a compacted topic keyed ``role:subject_id``; a value bans, a null value
(tombstone) lifts the ban. Each worker reads it whole — it is small and every room needs
all of it — with a plain consumer outside the consumer group: first to the end before the
worker starts judging, then following it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, MutableMapping

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from .logsafe import mask_id
from .policy import ban_list
from .settings import Settings

log = logging.getLogger(__name__)
TOPIC = "mod.banlist"


def apply_record(bans: MutableMapping[str, Any], key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    name = key.decode("utf-8", "replace")
    if value is None:
        bans.pop(name, None)
        return
    try:
        bans.update(ban_list([orjson.loads(value)]))
    except (orjson.JSONDecodeError, ValueError) as exc:
        role, _, subject = name.partition(":")
        log.error("ignoring malformed ban-list record %s:%s: %s", role, mask_id(subject), exc)


class BanlistFollower:
    def __init__(self, settings: Settings, bans: MutableMapping[str, Any]) -> None:
        self.settings = settings
        self.bans = bans
        self._consumer: AIOKafkaConsumer | None = None
        # Set once the topic has been read to its end: judging must not start before.
        self.ready = asyncio.Event()

    async def catch_up(self) -> int:
        """Read the whole topic up to its current end; returns the number of entries."""
        topic = self.settings.topic(TOPIC)
        # Subscribing without a group assigns every partition of the topic to this consumer.
        consumer = AIOKafkaConsumer(topic, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                    **self.settings.kafka_client_kwargs())
        await consumer.start()
        partitions = sorted(consumer.assignment())
        if not partitions:
            await consumer.stop()
            raise RuntimeError(f"topic {topic} not found: run `livemod topics create`")
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    apply_record(self.bans, record.key, record.value)
        self._consumer = consumer
        return len(self.bans)

    async def run(self) -> None:
        """Catch up, signal ``ready``, then follow the topic until cancelled.

        If the ban list cannot be read, moderation must not stall on it: ``ready`` is set
        anyway (logged as an error) and catching up is retried with backoff.
        """
        delay = 1.0
        while True:
            try:
                count = await self.catch_up()
                break
            except (KafkaError, OSError, RuntimeError) as exc:
                log.error("cannot read the ban list (%s); judging without it, retrying in %.0fs", exc, delay)
                self.ready.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        log.info("ban list loaded: %d entries", count)
        self.ready.set()
        assert self._consumer is not None
        try:
            while True:
                for records in (await self._consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        apply_record(self.bans, record.key, record.value)
        finally:
            await self._consumer.stop()
