"""The worker: input topics → :class:`~stream.pipeline.Pipeline` → output topics.

One agent consumes the three input topics (all keyed by room, same partition count) in
batches, hands each raw message to the pipeline and publishes what it returns. Decoding
happens per event inside the loop: a faust agent that raises acks the event (lost) and
restarts, so nothing here may raise for bad input.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

import faust
import orjson
from faust.streams import _current_event

from .app import create_app
from .pipeline import INPUT_KINDS, Pipeline, Source, Stores
from .recent import RecentMessages
from .reload import ReloadingDetectors
from .settings import Settings
from .topics import OUTPUT_TOPICS

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.detectors = ReloadingDetectors(settings.lexicon_dir)
        self.rooms = self.app.Table(
            "rooms", default=None, partitions=settings.partitions, key_serializer="raw", value_serializer="json"
        )
        self.pipeline = Pipeline(
            self.detectors,
            settings,
            Stores(rooms=self.rooms, recent=RecentMessages(settings.split_window_s, settings.split_window_messages)),
        )
        self._logical = {settings.topic(name): name for name in (*INPUT_KINDS, *OUTPUT_TOPICS)}
        inputs = self.app.topic(*(settings.topic(name) for name in INPUT_KINDS))
        self.outputs = {name: self.app.topic(settings.topic(name)) for name in OUTPUT_TOPICS}
        self.app.agent(inputs, name="moderate")(self.moderate)
        if settings.reload_interval > 0:
            self.app.timer(settings.reload_interval)(self.reload_lexicons)

    async def moderate(self, stream: faust.StreamT[Any]) -> None:
        settings = self.settings
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            for event in batch:
                # Table writes go to the changelog partition of the *current* event; in a
                # batch faust's current event is the last buffered one, so set it per event.
                _current_event.set(weakref.ref(event))
                message = event.message
                source = Source(self._logical.get(message.topic, message.topic), message.partition,
                                message.offset, message.key)
                verdict = self.pipeline.handle_raw(message.value, source)
                for out in verdict.outputs:
                    await self.outputs[out.topic].send(key=out.key.encode(), value=orjson.dumps(out.value))

    async def reload_lexicons(self) -> None:
        if self.detectors.changed():
            # Compiling automata takes a moment; keep the event loop (and heartbeats) free.
            await self.app.loop.run_in_executor(None, self.detectors.reload)
