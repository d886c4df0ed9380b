"""The dashboard's Kafka side: one group-less consumer over every partition of ``topics.alerts``,
``topics.alerts_feedback`` and ``topics.events`` (positions kept in the history database, so a
restart resumes exactly where the database is), and one producer for the staff's actions.

Each fetched batch becomes :class:`~warning.history.store.Consumed` records, is applied by
``store.apply`` in a thread (one transaction with the positions) and what changed is published to
the live pages. Feedback records are verified (signature and ``at``, not freshness: the verdict of
history must not depend on when the topic is read) and stored with ``trusted``. Events are reduced
to what the street series needs (``street_code``, ``ts``, ``source``) without decoding the rest.

>>> slim_event(b'{"event_id":"x","street_code":"110105001","ts":1740790800.5,"source":"hotline","text":"..."}')
{'street_code': '110105001', 'ts': 1740790800.5, 'source': 'hotline'}
>>> slim_event(b'not json'), slim_event(b'[1]')
({}, {})
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

import msgspec
import orjson

from warning.core.alert_feedback import PURPOSE, SOURCE_FIELD
from warning.core.signed_records import verify
from warning.dashboard.tasks import stop_task

if TYPE_CHECKING:
    from warning.config import Settings

log = logging.getLogger(__name__)


class _SlimEvent(msgspec.Struct):
    street_code: str = ""
    ts: float = 0.0
    source: str = ""


_EVENT = msgspec.json.Decoder(_SlimEvent)


def slim_event(raw: bytes | None) -> dict[str, Any]:
    """``street_code``, ``ts``, ``source`` of an event record ({} when it is not one)."""
    if not raw:
        return {}
    try:
        e = _EVENT.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}
    return {"street_code": e.street_code, "ts": e.ts, "source": e.source}


def _json_object(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return v if isinstance(v, dict) else {}


class Feed:
    """Consume into the store, publish changes, produce actions. ``on_applied(applied)`` is called
    on the event loop after each applied batch."""

    def __init__(self, settings: "Settings", store: Any, on_applied: Callable[[Any], None] | None = None,
                 max_records: int = 2000) -> None:
        from warning.streams.topics import bootstrap_servers

        self.settings = settings
        self.store = store
        self.on_applied = on_applied
        self.max_records = max_records
        self.servers = bootstrap_servers(settings.kafka.broker)
        t = settings.topics
        self.kinds = {t.alerts: "alert", t.alerts_feedback: "feedback", t.events: "event"}
        self.connected = False  # the last fetch (or start) worked
        self.error: str | None = None
        self.positions = 0  # (topic, partition) positions known to the store
        self.applied_batches = 0
        self.applied_records = 0
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._warm: asyncio.Task[None] | None = None
        self._producer_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dashboard-feed")
        self._warm = asyncio.create_task(self._warm_producer(), name="dashboard-producer")

    async def stop(self) -> None:
        await stop_task(self._warm)
        await stop_task(self._task)
        self._task = self._warm = None
        if self._producer is not None:
            try:
                await self._producer.stop()
            except Exception:  # pragma: no cover - broker gone at shutdown
                pass
            self._producer = None

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.connected = False
                self.error = f"{type(e).__name__}: {e}"[:300]
                log.warning("dashboard Kafka consumer stopped (%s); restarting in %.0f s", self.error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:  # pragma: no cover - _consume only returns by exception
                delay = 1.0

    # ------------------------------------------------------------------ consuming
    async def _partitions(self, consumer: Any, tries: int = 25) -> list[Any]:
        from aiokafka import TopicPartition

        tps: list[Any] = []
        for topic in self.kinds:
            parts = None
            for _ in range(tries):
                parts = consumer.partitions_for_topic(topic)
                if parts:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            if not parts and tries > 1:
                log.warning("dashboard: topic %s not found (yet); retrying later", topic)
            tps += [TopicPartition(topic, p) for p in sorted(parts or [])]
        return tps

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer

        k = self.settings.kafka
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.servers, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            client_id=f"{self.settings.dashboard.group_id}", fetch_max_wait_ms=min(k.fetch_max_wait_ms, 500),
            max_partition_fetch_bytes=max(1 << 20, k.max_request_size))
        try:
            await consumer.start()
            positions: dict[tuple[str, int], int] = await asyncio.to_thread(self.store.positions)
            tps = await self._partitions(consumer)
            self._assign(consumer, tps, positions)
            for tp in tps:
                if (tp.topic, tp.partition) not in positions:
                    await consumer.seek_to_beginning(tp)
            self.positions = len(positions)
            self.connected, self.error = True, None
            last_check = last_ping = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=self.max_records)
                if batch:
                    self.connected = True
                records = self._records(batch)
                if records:
                    applied = await self._apply(records)
                    for rec in records:
                        positions[(rec.topic, rec.partition)] = rec.offset + 1
                    self.positions = len(positions)
                    if self.on_applied is not None:
                        try:
                            self.on_applied(applied)
                        except Exception:  # a page push must never stop the consumer
                            log.exception("dashboard: publishing a batch failed")
                now = time.monotonic()
                if now - last_ping > 10:  # fetching returns nothing (not an error) while the broker is away
                    last_ping = now
                    try:
                        self.connected = bool(await asyncio.wait_for(consumer._client.force_metadata_update(), 10))
                    except asyncio.TimeoutError:
                        self.connected = False
                missing = len({tp.topic for tp in tps}) < len(self.kinds)
                if self.connected and now - last_check > (5 if missing else 60):  # new topics / partitions
                    last_check = now
                    new = [tp for tp in await self._partitions(consumer, tries=1) if tp not in set(tps)]
                    if new:
                        tps += new
                        self._assign(consumer, tps, positions)
                        for tp in new:
                            if (tp.topic, tp.partition) not in positions:
                                await consumer.seek_to_beginning(tp)
        finally:
            self.connected = False
            await consumer.stop()

    @staticmethod
    def _assign(consumer: Any, tps: list[Any], positions: dict[tuple[str, int], int]) -> None:
        consumer.assign(tps)
        for tp in tps:
            pos = positions.get((tp.topic, tp.partition))
            if pos is not None:
                consumer.seek(tp, pos)

    def _records(self, batch: dict[Any, list[Any]]) -> list[Any]:
        from warning.history.store import Consumed

        fb = self.settings.alerts_feedback
        out = []
        for tp, recs in batch.items():
            kind = self.kinds.get(tp.topic)
            if kind is None:
                continue
            for r in recs:
                trusted = False
                if kind == "event":
                    value = slim_event(r.value)
                else:
                    value = _json_object(r.value)
                    if kind == "feedback" and value:
                        trusted = verify(value, fb, None, PURPOSE, source_field=SOURCE_FIELD).ok
                out.append(Consumed(kind=kind, topic=tp.topic, partition=tp.partition, offset=r.offset,
                                    value=value, trusted=trusted))
        return out

    async def _apply(self, records: list[Any]) -> Any:
        """``store.apply`` in a thread; on a database error retry the same batch (never skip it)."""
        delay = 0.5
        while True:
            try:
                applied = await asyncio.to_thread(self.store.apply, records)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.error = f"history database: {type(e).__name__}"
                # the driver's message only: SQLAlchemy's own text carries the statement's parameters
                orig = getattr(e, "orig", None)
                detail = (str(orig).splitlines() or [""])[0][:200] if orig is not None else ""
                log.error("dashboard: applying %d records failed (%s %s); retrying in %.1f s",
                          len(records), type(e).__name__, detail, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.error = None
            self.applied_batches += 1
            self.applied_records += len(records)
            return applied

    # ------------------------------------------------------------------ producing
    async def producer(self) -> Any:
        async with self._producer_lock:
            if self._producer is None:
                from aiokafka import AIOKafkaProducer

                p = AIOKafkaProducer(bootstrap_servers=self.servers, acks="all",
                                     client_id=f"{self.settings.dashboard.group_id}-actions",
                                     linger_ms=0, request_timeout_ms=15000)
                try:
                    await p.start()
                except BaseException:
                    await p.stop()
                    raise
                self._producer = p
            return self._producer

    async def _warm_producer(self) -> None:
        """Connect the producer ahead of the first action (a failure here is retried on use)."""
        try:
            await self.producer()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.info("dashboard: Kafka producer not ready yet (%s); connecting on the first action", type(e).__name__)

    async def send(self, record: dict[str, Any], key: str, timeout_s: float = 20.0) -> Any:
        """Produce one (signed) feedback record to ``topics.alerts_feedback`` and wait for the ack;
        returns the record metadata (topic, partition, offset)."""
        p = await self.producer()
        return await asyncio.wait_for(
            p.send_and_wait(self.settings.topics.alerts_feedback, orjson.dumps(record), key=key.encode("utf-8")),
            timeout_s)
