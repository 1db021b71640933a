"""The worker: input topics → :class:`~stream.pipeline.Pipeline` → ``mod.enforce`` →
:class:`~stream.pipeline.Enforcer` → output topics, as one aiokafka batch loop.

Each turn of the loop takes what the consumer has fetched (up to ``batch_max`` records),
runs both stages over it and sends the outputs and the changed state. The input offsets are
committed only once the broker has acknowledged all of them: at-least-once, with
deterministic ids on every record so a replay repeats records instead of inventing new ones.
That wait overlaps the next batch's processing (at most one batch in flight), so a round
trip to the broker is not added to every event's latency.

Why not a faust agent: faust's per-event machinery (stream iteration, acks, sensors, the
consumer thread hand-off) costs ≈100 µs per event before any detector runs, which caps a
process below the 15k events/s target (issue #7; ``bench/run.py --profile``). State that
faust kept in tables lives in :class:`~stream.state.ChangelogTable` here, recovered from its
compacted changelog whenever partitions are assigned.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from typing import Any, Iterable, NoReturn, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from . import metrics
from .banlist import BanlistFollower
from .enforcement import system_alert
from .pipeline import ENFORCE_TOPIC, INPUT_KINDS, Enforcer, Pipeline, Source, Stores, Verdict
from .recent import RecentMessages
from .records import Output
from .rules import ReloadingRules
from .settings import Settings
from .state import ChangelogTable
from .topics import STATE_TOPICS

log = logging.getLogger(__name__)

EXIT_DELIVERY_FAILED = 70  # EX_SOFTWARE: the supervisor restarts the worker


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules = ReloadingRules(settings.lexicon_dir)
        self.tables = {name: ChangelogTable(settings.topic(topic)) for name, topic in STATE_TOPICS.items()}
        self.stores = Stores(
            rooms=self.tables["rooms"], reports=self.tables["reports"], history=self.tables["history"], bans={},
            recent=RecentMessages(settings.split_window_s, settings.split_window_messages),
            # One breaker per worker process: the cap is per process (see README).
            breaker=self.rules().policy.breaker(),
        )
        self.pipeline = Pipeline(self.rules, settings, self.stores, on_detector_time=metrics.observe_detector_time,
                                 time_every=metrics.DETECTOR_SAMPLE_EVERY)
        self.enforcer = Enforcer(self.rules, self.stores)
        self.banlist = BanlistFollower(settings, self.stores.bans)
        self._logical = {settings.topic(name): name for name in (*INPUT_KINDS, ENFORCE_TOPIC)}
        self._committed: dict[TopicPartition, int] = {}  # last committed offset per owned partition
        self._in_flight: asyncio.Task[None] | None = None  # acks + commit of the previous batch
        self._next_sweep = time.monotonic() + settings.state_sweep_interval_s
        self._set_versions()

    def _set_versions(self) -> None:
        metrics.set_lexicon_version(self.rules().lexicon_version)
        metrics.set_policy_version(self.rules().policy_version)

    # -- lifecycle --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Consume until SIGTERM/SIGINT; then finish the batch in hand, commit, leave the group."""
        s = self.settings
        self._stopping = asyncio.Event()
        self._batch_lock = asyncio.Lock()  # a rebalance waits for the batch in hand (see _Rebalance)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        self.producer = AIOKafkaProducer(acks="all", linger_ms=5,
                                         request_timeout_ms=int(s.producer_request_timeout_s * 1000),
                                         **s.kafka_client_kwargs())
        self.consumer = AIOKafkaConsumer(
            group_id=s.topic_prefix + s.app_id, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=s.batch_max, session_timeout_ms=int(s.session_timeout_s * 1000),
            rebalance_timeout_ms=int(s.rebalance_timeout_s * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000), **s.kafka_client_kwargs())
        self.assigned = asyncio.Event()
        self.consumer.subscribe(list(self._logical), listener=_Rebalance(self))
        await self.producer.start()
        await self.consumer.start()
        jobs = [self.banlist.run(), self._announce_ready(), self._every(5.0, self._update_lag)]
        tasks = [asyncio.create_task(job) for job in jobs]
        if s.reload_interval > 0:
            tasks.append(asyncio.create_task(self._every(s.reload_interval, self.reload_rules)))
        try:
            while not self._stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=200)
                if not batch:
                    continue
                if not self.banlist.ready.is_set():  # the first events wait until the ban list is read
                    await self.banlist.ready.wait()
                async with self._batch_lock:
                    await self._process(batch)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.settle()
            await self.consumer.stop()
            await self.producer.stop()
        log.info("worker stopped")

    async def _announce_ready(self) -> None:
        await self.assigned.wait()
        await self.banlist.ready.wait()
        print(f"livemod worker: ready; lexicons {self.rules().lexicon_version}; policy {self.rules().policy_version}; "
              f"partitions {sorted({tp.partition for tp in self.consumer.assignment()})}", file=sys.stderr, flush=True)

    @staticmethod
    async def _every(seconds: float, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:  # noqa: BLE001 - a timer job must not take the worker down
                log.exception("periodic job %s failed", job.__name__)

    # -- one batch --------------------------------------------------------------------------------
    async def _process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        pipeline = self.pipeline
        rooms, reports, history = self.tables["rooms"], self.tables["reports"], self.tables["history"]
        dead: list[Verdict] = []
        live: list[tuple[float, int, Any, tuple[bytes, Source]]] = []  # (order key, index, event, raw+source)
        requests: list[Any] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, records in batch.items():
            offsets[tp] = records[-1].offset + 1
            topic = self._logical[tp.topic]
            if topic == ENFORCE_TOPIC:
                requests += records
                continue
            metrics.events_consumed(topic, len(records))
            for record in records:
                source = Source(topic, tp.partition, record.offset, record.key)
                decoded = pipeline.decode(record.value, source)
                if isinstance(decoded, Verdict):
                    dead.append(decoded)
                else:
                    live.append((pipeline.order_key(decoded), len(live), decoded, (record.value, source)))
        # Event-time order across the room's topics; the unique index keeps equal times in
        # partition order (and stops tuple comparison before it reaches the event).
        live.sort()
        sends: list[tuple[str, asyncio.Future[Any]]] = []
        for verdict in dead:
            metrics.record_verdict(verdict)
            await self._send_outputs(verdict.outputs, None, sends)
        for _key, _index, decoded, (raw, source) in live:
            rooms.partition = reports.partition = source.partition
            verdict = pipeline.judge(decoded, raw, source)
            metrics.record_verdict(verdict)
            await self._send_outputs(verdict.outputs, decoded.ts, sends)
        for record in requests:
            history.partition = record.partition
            outputs, event_ts = self._enforce(record)
            await self._send_outputs(outputs, event_ts, sends)
        if time.monotonic() >= self._next_sweep:
            self._sweep()
        for table in self.tables.values():
            for partition, key, value in table.drain():
                sends.append((table.topic, await self.producer.send(table.topic, value, key=key, partition=partition)))
        await self.settle()
        self._in_flight = asyncio.create_task(self._finish(sends, offsets))

    async def settle(self) -> None:
        """Wait until the batch in flight is acknowledged and committed."""
        if self._in_flight is not None:
            await self._in_flight
            self._in_flight = None

    async def _finish(self, sends: list[tuple[str, asyncio.Future[Any]]], offsets: dict[TopicPartition, int]) -> None:
        await self._delivered(sends)
        await self._commit(offsets)

    def _enforce(self, record: Any) -> tuple[list[Output], float | None]:
        try:
            request = orjson.loads(record.value)
            return self.enforcer.handle(request), request["ts"]
        except Exception as exc:  # noqa: BLE001 - our own records; a failure here is a bug
            log.exception("enforcement failed on %s[%d]@%d", record.topic, record.partition, record.offset)
            return [system_alert("enforcement_error", "critical", f"enforcement failed: {type(exc).__name__}",
                                 f"{record.topic}:{record.partition}:{record.offset}", time.time(),
                                 partition=record.partition, offset=record.offset)], None

    async def _send_outputs(self, outputs: Sequence[Output], event_ts: float | None,
                            sends: list[tuple[str, asyncio.Future[Any]]]) -> None:
        for out in outputs:
            topic = self.settings.topic(out.topic)
            try:
                future = await self.producer.send(topic, orjson.dumps(out.value), key=out.key.encode())
            except KafkaError as exc:
                self._delivery_failed(topic, exc)
            metrics.published(out, future, event_ts)
            sends.append((topic, future))

    async def _delivered(self, sends: Iterable[tuple[str, asyncio.Future[Any]]]) -> None:
        """Wait for every acknowledgement of the batch; a record the producer gave up on ends
        the process before the commit, so a restarted worker reprocesses it."""
        sends = list(sends)
        results = await asyncio.gather(*(f for _, f in sends), return_exceptions=True)
        for (topic, _), result in zip(sends, results):
            if isinstance(result, BaseException):
                self._delivery_failed(topic, result)

    @staticmethod
    def _delivery_failed(topic: str, exc: BaseException) -> NoReturn:
        log.critical("delivery to %s failed after retries (%s: %s); exiting without committing so the "
                     "events are reprocessed after restart", topic, type(exc).__name__, exc)
        logging.shutdown()
        os._exit(EXIT_DELIVERY_FAILED)  # no graceful stop: that could still commit

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            # The records are delivered; the events will be seen again (same ids) by whoever owns
            # the partition next. Nothing is lost, so keep going.
            log.warning("offset commit failed (%s: %s); those events will be replayed", type(exc).__name__, exc)
            return
        self._committed.update(offsets)

    def _sweep(self) -> None:
        """Drop subject histories with nothing left in any window, even for subjects never seen
        again: without this, memory grows with every violator ever seen."""
        self._next_sweep = time.monotonic() + self.settings.state_sweep_interval_s
        policy, now = self.rules().policy, time.time()
        swept = self.tables["history"].sweep(lambda history: policy.history_expired(history, now))
        if swept:
            log.info("swept %d expired subject histories", swept)

    # -- partitions -------------------------------------------------------------------------------
    async def restore(self, assigned: set[TopicPartition]) -> None:
        """Rebuild the tables for the partitions now owned from their changelogs. Every
        assignment reloads from scratch: a partition kept across a rebalance may have been
        someone else's in between (after a session timeout), so memory cannot be trusted."""
        enforce = {tp.partition for tp in assigned if self._logical[tp.topic] == ENFORCE_TOPIC}
        rooms = {tp.partition for tp in assigned if self._logical[tp.topic] != ENFORCE_TOPIC}
        wanted = [(table, p) for name, table in self.tables.items()
                  for p in sorted(enforce if name == "history" else rooms)]
        for table in self.tables.values():
            table.forget()
        started = time.monotonic()
        count = await read_changelogs(self.settings, wanted) if wanted else 0
        self._committed = {tp: await self.consumer.committed(tp) or 0 for tp in assigned}
        log.info("assigned %d partitions; restored %d state records in %.2fs", len(assigned), count,
                 time.monotonic() - started)

    # -- timers -----------------------------------------------------------------------------------
    async def _update_lag(self) -> None:
        owned = self.consumer.assignment()
        metrics.update_consumer_lag(
            (self._logical[tp.topic], tp.partition, self.consumer.highwater(tp), committed)
            for tp, committed in list(self._committed.items()) if tp in owned)

    async def reload_rules(self) -> None:
        if not self.rules.changed():
            return
        # Compiling automata takes a moment; keep the event loop (and heartbeats) free.
        result = await asyncio.get_running_loop().run_in_executor(None, self.rules.reload)
        if result.changed:
            self._set_versions()
            # A new policy may change the breaker's cap or window; its recent cutoffs carry over.
            self.stores.breaker = self.rules().policy.breaker(self.stores.breaker.to_dict())
            gc.freeze()  # the new rulebook is long-lived too (see cmd_worker)
        if result.error:
            metrics.LEXICON_RELOAD_FAILURES.inc()
            sends: list[tuple[str, asyncio.Future[Any]]] = []
            await self._send_outputs([system_alert(
                "rulebook_reload_rejected", "high",
                f"lexicon/policy reload rejected, still serving {self.rules().lexicon_version}: {result.error}",
                result.error, time.time(), error=result.error)], None, sends)
            await self._delivered(sends)


class _Rebalance(ConsumerRebalanceListener):
    """Revocation waits for the batch in hand and the one in flight, so their offsets are
    committed by the time another worker takes the partitions over; assignment restores
    the tables."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.worker._batch_lock:  # noqa: SLF001 - the listener is part of the worker
            await self.worker.settle()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self.worker._batch_lock:  # noqa: SLF001
            await self.worker.restore(set(assigned))
        self.worker.assigned.set()


async def read_changelogs(settings: Settings, wanted: Sequence[tuple[ChangelogTable, int]]) -> int:
    """Read each (table, partition) changelog from its start to its current end into the table."""
    tables = {table.topic: table for table, _ in wanted}
    tps = [TopicPartition(table.topic, partition) for table, partition in wanted]
    reader = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **settings.kafka_client_kwargs())
    await reader.start()
    count = 0
    try:
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        pending = [tp for tp in tps if ends[tp] > await reader.position(tp)]
        while pending:
            for tp, records in (await reader.getmany(*pending, timeout_ms=500)).items():
                table = tables[tp.topic]
                for record in records:
                    table.restore(tp.partition, record.key, record.value)
                count += len(records)
            pending = [tp for tp in pending if await reader.position(tp) < ends[tp]]
    finally:
        await reader.stop()
    return count
