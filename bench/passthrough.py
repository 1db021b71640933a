"""The baseline the worker is compared with: consume the input topics, decode each value
with orjson, re-encode and produce it — aiokafka alone, one process, no detectors, no state.

Commits like the worker (every second, consumed positions) so both are measured the same
way: by their consumer group's committed offsets. Settings come from LIVEMOD_* variables.

    python bench/passthrough.py GROUP OUT_TOPIC IN_TOPIC...
"""
from __future__ import annotations

import asyncio
import signal
import sys

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.settings import Settings


async def passthrough(settings: Settings, group: str, out_topic: str, in_topics: list[str]) -> None:
    consumer = AIOKafkaConsumer(*in_topics, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=True, auto_commit_interval_ms=1000,
                                **settings.kafka_client_kwargs())
    # The worker's producer settings (stream/worker.py): acks=all, 5 ms linger.
    producer = AIOKafkaProducer(acks="all", linger_ms=5, **settings.kafka_client_kwargs())
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("passthrough: ready", flush=True)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=settings.batch_max)  # as the worker
            for records in batch.values():
                for record in records:
                    event = orjson.loads(record.value)
                    await producer.send(out_topic, orjson.dumps(event), key=record.key)
    finally:
        await producer.stop()
        await consumer.stop()


def main(argv: list[str]) -> int:
    group, out_topic, *in_topics = argv
    asyncio.run(passthrough(Settings.from_env(), group, out_topic, in_topics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
