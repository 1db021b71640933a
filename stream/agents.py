"""The worker: input topics → :class:`~stream.pipeline.Pipeline` → ``mod.enforce`` →
:class:`~stream.pipeline.Enforcer` → output topics.

Each agent consumes in batches and hands each raw message to its stage, then publishes what
the stage returns. Decoding happens per event inside the loop: a faust agent that raises
acks the event (lost) and restarts, so nothing here may raise for bad input.
"""
from __future__ import annotations

import gc
import logging
import time
import weakref
from collections import Counter
from typing import Any

import faust
import orjson
from faust.streams import _current_event

from . import metrics
from .app import create_app
from .banlist import BanlistFollower
from .delivery import DeliveryGuard
from .enforcement import system_alert
from .pipeline import ENFORCE_TOPIC, INPUT_KINDS, Enforcer, Pipeline, Source, Stores, Verdict
from .recent import RecentMessages
from .records import Output
from .rules import ReloadingRules
from .settings import Settings
from .topics import OUTPUT_TOPICS

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.app.sensors.add(DeliveryGuard())
        self.rules = ReloadingRules(settings.lexicon_dir)
        n = settings.partitions

        def table(name: str) -> Any:
            # JSON keys, not raw: raw keys come back as bytes after changelog recovery.
            return self.app.Table(name, default=None, partitions=n,
                                  schema=faust.Schema(key_serializer="json", value_serializer="json"))

        self.stores = Stores(
            rooms=table("rooms"), reports=table("reports"), history=table("history"), bans={},
            recent=RecentMessages(settings.split_window_s, settings.split_window_messages),
            # One breaker per worker process: the cap is per process (see README).
            breaker=self.rules().policy.breaker(),
        )
        self.pipeline = Pipeline(self.rules, settings, self.stores, on_detector_time=metrics.observe_detector_time,
                                 time_every=metrics.DETECTOR_SAMPLE_EVERY)
        self.enforcer = Enforcer(self.rules, self.stores)
        self.banlist = BanlistFollower(settings, self.stores.bans)
        self._logical = {settings.topic(name): name for name in (*INPUT_KINDS, *OUTPUT_TOPICS)}
        self.outputs = {name: self.app.topic(settings.topic(name)) for name in OUTPUT_TOPICS}
        self.app.agent(self.app.topic(*(settings.topic(name) for name in INPUT_KINDS)), name="moderate")(self.moderate)
        self.app.agent(self.outputs[ENFORCE_TOPIC], name="enforce")(self.enforce)
        self.app.task(self.banlist.run)
        if settings.reload_interval > 0:
            self.app.timer(settings.reload_interval)(self.reload_rules)
        self.app.timer(5.0)(self.update_lag)
        self._set_versions()

    def _set_versions(self) -> None:
        metrics.set_lexicon_version(self.rules().lexicon_version)
        metrics.set_policy_version(self.rules().policy_version)

    async def update_lag(self) -> None:
        metrics.update_consumer_lag(self.app, self._logical)

    def _batches(self, stream: faust.StreamT[Any]) -> Any:
        return stream.take_events(self.settings.batch_max, within=self.settings.batch_within_s)

    @staticmethod
    def _make_current(event: Any) -> None:
        # Table writes go to the changelog partition of the *current* event; in a batch
        # faust's current event is the last buffered one, so set it for each event.
        _current_event.set(weakref.ref(event))

    async def _publish(self, outputs: list[Output], event_ts: float | None = None) -> None:
        for out in outputs:
            fut = await self.outputs[out.topic].send(key=out.key.encode(), value=orjson.dumps(out.value))
            metrics.published(out, fut, event_ts)

    async def moderate(self, stream: faust.StreamT[Any]) -> None:
        ready = self.banlist.ready
        pipeline = self.pipeline
        async for batch in self._batches(stream):
            if not ready.is_set():  # the first events wait until the ban list has been read
                await ready.wait()
            dead, live = [], []
            consumed: Counter[str] = Counter()
            for event in batch:
                message = event.message
                topic = self._logical.get(message.topic, message.topic)
                consumed[topic] += 1
                source = Source(topic, message.partition, message.offset, message.key)
                decoded = pipeline.decode(message.value, source)
                if isinstance(decoded, Verdict):
                    dead.append(decoded)
                else:
                    live.append((pipeline.order_key(decoded), event, decoded, source))
            for topic, count in consumed.items():
                metrics.events_consumed(topic, count)
            live.sort(key=lambda item: item[0])  # stable: equal times keep partition order
            for verdict in dead:
                metrics.record_verdict(verdict)
                await self._publish(verdict.outputs)
            for _key, event, decoded, source in live:
                self._make_current(event)
                verdict = pipeline.judge(decoded, event.message.value, source)
                metrics.record_verdict(verdict)
                await self._publish(verdict.outputs, decoded.ts)

    async def enforce(self, stream: faust.StreamT[Any]) -> None:
        async for batch in self._batches(stream):
            for event in batch:
                self._make_current(event)
                message = event.message
                event_ts = None
                try:
                    request = orjson.loads(message.value)
                    event_ts = request["ts"]
                    outputs = self.enforcer.handle(request)
                except Exception as exc:  # noqa: BLE001 - our own records; a failure here is a bug
                    log.exception("enforcement failed on %s[%d]@%d", message.topic, message.partition, message.offset)
                    outputs = [system_alert("enforcement_error", "critical",
                                            f"enforcement failed: {type(exc).__name__}",
                                            f"{message.topic}:{message.partition}:{message.offset}", time.time(),
                                            partition=message.partition, offset=message.offset)]
                await self._publish(outputs, event_ts)

    async def reload_rules(self) -> None:
        if not self.rules.changed():
            return
        # Compiling automata takes a moment; keep the event loop (and heartbeats) free.
        result = await self.app.loop.run_in_executor(None, self.rules.reload)
        if result.changed:
            self._set_versions()
            # A new policy may change the breaker's cap or window; its recent cutoffs carry over.
            self.stores.breaker = self.rules().policy.breaker(self.stores.breaker.to_dict())
            gc.freeze()  # the new rulebook is long-lived too (see cmd_worker)
        if result.error:
            metrics.LEXICON_RELOAD_FAILURES.inc()
            await self._publish([system_alert(
                "rulebook_reload_rejected", "high",
                f"lexicon/policy reload rejected, still serving {self.rules().lexicon_version}: {result.error}",
                result.error, time.time(), error=result.error)])
