"""One rate budget per robot receiver for the whole group of deliver workers.

WeCom and DingTalk robots accept about 20 messages a minute and throttle a sender that goes over
for minutes. Every deliver worker reads its share of ``warning.alerts``; if each sent to a robot
under its own limiter (:mod:`warning.notify.ratelimit`), three workers would send up to three
times the robot's limit. So alerts for receivers with a rate limit take a detour:

1. **Hand-on.** The deliver agent (:mod:`warning.streams.deliver`) checks silences and routes
   each alert as before; for every routed receiver with a rate limit it hands
   ``HandOn(receiver, alert)`` on to the internal topic ``Settings.deliver_budget_topic()``
   (``<app_id>-deliver-budget``), keyed by the receiver's name and written to the partition
   Kafka's default partitioner gives that key. The alert is acked on ``warning.alerts`` once the
   hand-on is on the broker (and its other receivers are done): the outbox hands over to the
   next outbox — never lost; a crash before the ack hands it on again (at least once).
2. **One owner per receiver.** Every deliver worker runs :class:`BudgetService`, a consumer of
   that topic in its own group ``<app_id>-deliver-budget``. A partition has one owner in the
   group, so each receiver has exactly one limiter at a time. Per owned partition the service
   runs a :class:`~warning.notify.dispatch.Dispatcher` for the receivers that hash to it — the
   same limiter, digest folding, retries, per-alert order and metrics as the direct path — and
   commits a hand-on's offset only when it is delivered or dead-lettered on
   ``warning.alerts.deadletter`` (the same ``{"alert": …, "outcome": …}`` record as the direct
   path). Idempotency keys are unchanged (``<alert_id>:<status>``).
3. **A new owner knows what the old one spent.** Before each rate-limited message the owner
   appends ``{"receiver", "at", "by"}`` to the ledger topic ``Settings.deliver_spent_topic()``
   (same key, same partition) and waits until the broker has it, then sends. A worker that is
   assigned a partition reads the ledger's last records of that partition back (at most
   :func:`ledger_tail` records: no receiver can have more spends in its window than that) and
   counts every spend still inside the window against the receiver's limiter, each
   :data:`CLOCK_MARGIN_S` later than recorded (clock skew between hosts). A crash between the
   ledger write and the HTTP request over-counts, never under-counts. When the ledger cannot be
   read, the new owner starts with the window full (it waits one window before it sends).
4. **… and what it sent.** After a robot accepts a message, the owner appends
   ``{"receiver", "at", "by", "sent": [<key>, …]}`` to the ledger (a key per alert: a hash of the
   receiver and the alert's bytes) before it marks those hand-ons done. Offsets are committed up
   to the oldest hand-on not done yet, so a new owner reads again hand-ons its predecessor had
   already sent (a digest waits while more severe alerts go alone); the keys read back from the
   ledger let it skip those instead of sending them twice and spending its window on them.

Why not a Faust agent for step 2: on a rebalance Faust waits until every event its agents have
taken is acked (``stream_wait_empty``), and a budget holds events for up to a window (or a
receiver's outage) — the rebalance would stall, and members would be expelled. With its own
group the service decides: on revocation it cancels the partition's dispatcher at once (what
was not delivered is not committed: the new owner delivers it, at least once), commits what is
done, and the rebalance goes on.

Limits of the guarantee: a worker cut off from Kafka but still reaching the robot (a zombie
past its session timeout) keeps sending what it holds until its requests end; a message cancelled
mid-request by a revocation may have arrived and is sent again by the new owner (counted twice in
the ledger, so the limit still holds). An owner skips a hand-on it has already taken (same
receiver, same alert bytes: the deliver side handed it on again after a crash), and what the
ledger's tail says its predecessor sent — not what was sent before that tail, nor a message
whose "sent" record did not reach the broker before the crash. A ledger write that fails is logged and the message sent
anyway (fail open: a takeover in that window may exceed the limit once).

Metrics: ``warning_notifications_total{receiver,outcome}`` and ``warning_notification_seconds`` as
on the direct path (counted by the owner), ``warning_notifications_handed_on_total{receiver}``
(deliver side), ``warning_notification_budget_owned{receiver}`` (1 on the worker holding the
receiver's budget: the sum over workers is 1) and
``warning_notification_budget_restored_total{receiver}`` (spends taken over from the ledger),
``warning_notification_budget_repeats_skipped_total{receiver}`` (hand-ons not sent twice),
``warning_notification_budget_partitions`` (budget partitions this worker owns).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import socket
import time
from collections import OrderedDict, defaultdict
from typing import Any, Callable, Iterable

import msgspec
import orjson

from warning.config import Settings
from warning.core.events import ALERT_ENCODER, Alert
from warning.core.pipeline import partition_for_bytes
from warning.notify.base import DeliveryResult
from warning.notify.dispatch import Delivery, Dispatcher, Outcome, RetryPolicy
from warning.notify.router import Router
from warning.streams import metrics as m
from warning.streams.reconnect import run_forever
from warning.streams.topics import bootstrap_servers

log = logging.getLogger("warning.deliver.budget")

#: a spend read from the ledger counts this much later than recorded (clock skew between hosts)
CLOCK_MARGIN_S = 1.0
#: reading the ledger back on assignment: give up after this long (then: window full)
LEDGER_READ_TIMEOUT_S = 10.0
#: … and stop early when no record came for this long (a broker may report a high end offset)
LEDGER_IDLE_S = 1.0
#: waiting for a ledger write around a message (then it goes on anyway, logged)
LEDGER_WRITE_TIMEOUT_S = 5.0
#: hand-ons held (queued, in flight) per owned partition above which its consumption pauses
MAX_PENDING = 10_000
#: done offsets are committed this soon after a delivery completes (a new owner re-sends what
#: its predecessor delivered but had not committed) …
COMMIT_DELAY_S = 0.05
#: … and at least this often (and on every revocation)
COMMIT_INTERVAL_S = 1.0
#: notifications an owner remembers to skip repeated hand-ons of
SEEN_MAX = 20_000


class HandOn(msgspec.Struct):
    """A record of the budget topic: one alert for one receiver."""

    receiver: str
    alert: Alert
    at: float  # when it was handed on (epoch s)


HANDON_ENCODER = msgspec.json.Encoder()
HANDON_DECODER = msgspec.json.Decoder(HandOn)


def budget_partition(receiver: str, partitions: int) -> int:
    """The budget (and ledger) partition of ``receiver``: Kafka's default partitioner on its name."""
    return partition_for_bytes(receiver.encode(), partitions)


def budget_receivers(router: Router, settings: Settings) -> set[str]:
    """Receivers whose alerts take the shared-budget path: those with a rate limit (none when
    ``delivery.shared_budget`` is off)."""
    if not settings.delivery.shared_budget:
        return set()
    return {name for name, r in router.receivers.items() if r.rate_limit}


def ledger_tail(receivers: Iterable[Any]) -> int:
    """Ledger records to read back for a partition holding ``receivers``: all their spends inside
    the longest window fit in it (a receiver with a shorter window may spend its limit once per
    its own window meanwhile); twice that for the "sent" records, doubled again for spends past the
    limit (cancelled requests resent)."""
    rs = [r for r in receivers if r.rate_limit]
    if not rs:
        return 0
    longest = max(r.rate_limit_window_s for r in rs)
    n = sum(r.rate_limit * math.ceil(longest / r.rate_limit_window_s) for r in rs)
    return min(4 * n + 64, 1_000_000)  # a spend and a "sent" record per message


def notification_key(receiver: str, alert: Alert) -> bytes:
    """What a budget owner remembers of a notification it took or sent: the receiver and the
    alert's bytes (an escalation — same id, other level — is another notification)."""
    return hashlib.blake2b(receiver.encode() + b"\0" + ALERT_ENCODER.encode(alert), digest_size=16).digest()


class Offsets:
    """Offsets of one partition taken and not yet done → the offset to commit.

    >>> o = Offsets(); o.take(5); o.take(6); o.take(7); o.done(6); o.position()
    5
    >>> o.done(5); o.position(), (o.done(7), o.position())[1]
    (7, 8)
    """

    __slots__ = ("pending", "next")

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.next: int | None = None

    def take(self, offset: int) -> None:
        self.pending.add(offset)
        if self.next is None or offset >= self.next:
            self.next = offset + 1

    def done(self, offset: int) -> None:
        self.pending.discard(offset)

    def position(self) -> int | None:
        """Everything below this offset is done (None: nothing taken)."""
        return min(self.pending) if self.pending else self.next


class _Owner:
    """One owned partition of the budget topic."""

    def __init__(self, partition: int, dispatcher: Dispatcher) -> None:
        self.partition = partition
        self.dispatcher = dispatcher
        self.offsets = Offsets()
        self.waiting: dict[int, int] = {}  # id(Delivery) → offset
        self.committed: int | None = None
        self.paused = False
        #: notifications (receiver + alert bytes) this owner took, most recent last: a second copy
        #: of one (the deliver side handed it on again after a crash) is not sent again
        self.seen: OrderedDict[bytes, None] = OrderedDict()

    def remember(self, key: bytes) -> None:
        self.seen[key] = None
        self.seen.move_to_end(key)
        if len(self.seen) > SEEN_MAX:
            self.seen.popitem(last=False)

    def first_time(self, receiver: str, alert: Alert) -> bool:
        key = notification_key(receiver, alert)
        if key in self.seen:
            self.seen.move_to_end(key)
            return False
        self.remember(key)
        return True


class BudgetService:
    """Hands alerts on (deliver side) and, in every deliver worker, owns the budgets of the
    partitions the group assigns to it (see the module doc)."""

    def __init__(self, app: Any, settings: Settings, router: Router, retry: RetryPolicy,
                 on_done: Callable[..., Any] | None = None, on_attempt: Callable[..., Any] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.router = router
        self.retry = retry
        self.on_done = on_done
        self.on_attempt = on_attempt
        self.topic = settings.deliver_budget_topic()
        self.ledger = settings.deliver_spent_topic()
        self.group = f"{settings.worker.app_id}-deliver-budget"
        self.partitions = settings.kafka.partitions
        self.names = budget_receivers(router, settings)
        # Every configured receiver is served on its partition: a hand-on written under another
        # configuration (a rolling change of limits) is still delivered.
        self.by_partition: dict[int, list[str]] = defaultdict(list)
        for name in router.receivers:
            self.by_partition[budget_partition(name, self.partitions)].append(name)
        self.owners: dict[int, _Owner] = {}
        self._live: Any = None  # the group consumer of the running session
        self._commit_task: asyncio.Task | None = None
        self.owner_id = f"{socket.gethostname()}:{os.getpid()}"
        self.ledger_tails = {p: ledger_tail(router.receivers[n] for n in names) for p, names in self.by_partition.items()}

    # ------------------------------------------------------------------ deliver side
    def _producer(self) -> Any:
        return self.app.producer

    async def hand_on(self, items: list[tuple[str, Alert]]) -> None:
        """Put each ``(receiver, alert)`` on the budget topic and wait until the broker has them all;
        retried (with backoff) until it does — the caller acks the alerts after."""
        now = time.time()
        recs = [(name, HANDON_ENCODER.encode(HandOn(name, alert, now))) for name, alert in items]
        delay = 0.5
        while recs:
            producer = self._producer()
            futs: list[Any] = []
            for name, value in recs:
                try:
                    futs.append(await producer.send(self.topic, name.encode(), value,
                                                    budget_partition(name, self.partitions), None, None))
                except Exception as e:  # noqa: BLE001 - retried below
                    futs.append(e)
            failed: list[tuple[str, bytes]] = []
            error: BaseException | None = None
            for rec, fut in zip(recs, futs):
                if isinstance(fut, BaseException):
                    failed.append(rec)
                    error = fut
                    continue
                try:
                    await fut
                except Exception as e:  # noqa: BLE001
                    failed.append(rec)
                    error = e
                    continue
                m.HANDED_ON.labels(rec[0]).inc()
            if failed:
                log.error("移交失败 hand-on of %d alert(s) to %s failed (%s: %s); retrying in %.1f s",
                          len(failed), self.topic, type(error).__name__, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            recs = failed

    # ------------------------------------------------------------------ owner side
    async def run(self) -> None:
        """Consume the budget topic for the life of the worker, reconnecting after errors."""
        if not self.names:
            return
        await self._declare()
        await run_forever(self._session, f"budget consumer of {self.topic}", log)

    async def _declare(self) -> None:
        """Create the two internal topics if the worker's ``ensure_topics`` did not."""
        n = self.partitions
        for name, retention in ((self.topic, None), (self.ledger, 24 * 3600.0)):
            kw: dict[str, Any] = {"retention": retention} if retention else {}
            try:
                await self.app.topic(name, value_serializer="raw", key_serializer="raw", partitions=n, **kw).maybe_declare()
            except Exception as e:  # noqa: BLE001 - usually created already by ensure_topics
                log.debug("declaring %s: %s", name, e)

    def _consumer(self, **kw: Any) -> Any:
        from aiokafka import AIOKafkaConsumer

        k = self.settings.kafka
        return AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(k.broker), enable_auto_commit=False,
                                fetch_max_wait_ms=k.fetch_max_wait_ms, **kw)

    async def _session(self) -> None:
        from aiokafka.abc import ConsumerRebalanceListener

        k = self.settings.kafka
        service = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await service._revoked(consumer, revoked)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await service._assigned(assigned)

        consumer = self._consumer(
            group_id=self.group, client_id=f"{k.client_id}-budget", auto_offset_reset="earliest",
            session_timeout_ms=int(k.session_timeout_s * 1000), heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000), max_partition_fetch_bytes=max(k.max_request_size, 1 << 20))
        consumer.subscribe([self.topic], listener=Listener())
        await consumer.start()
        self._live = consumer
        try:
            last_commit = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                for tp, records in batch.items():
                    owner = self.owners.get(tp.partition)
                    for r in records:
                        if owner is None:
                            # Not ours yet: the assignment callback is still reading the ledger.
                            # Read from here again once the partition has its owner (no-op when
                            # it is no longer assigned).
                            self._seek(consumer, tp, r.offset)
                            break
                        if self.owners.get(tp.partition) is not owner:
                            # A rebalance ran beside this loop (revoked, perhaps assigned back with
                            # a new owner): drop the rest of this batch without seeking — the new
                            # assignment reads from the committed offset; a seek to this stale
                            # record would skip the hand-ons between the two.
                            break
                        await self._handle(owner, r)
                self._flow(consumer)
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    await self._commit(consumer, list(self.owners.values()))
                    last_commit = time.monotonic()
        finally:
            self._live = None
            if self._commit_task is not None:
                self._commit_task.cancel()
            owners = list(self.owners.values())
            self.owners.clear()
            for o in owners:
                await o.dispatcher.close()
            try:
                await asyncio.shield(self._commit(consumer, owners))
            except Exception as e:  # noqa: BLE001
                log.warning("budget: final commit failed (%s); undelivered hand-ons are read again", e)
            self._publish()
            await consumer.stop()

    @staticmethod
    def _seek(consumer: Any, tp: Any, offset: int) -> None:
        try:
            consumer.seek(tp, offset)
        except Exception:  # noqa: BLE001 - not assigned any more: its new owner reads it
            pass

    def _flow(self, consumer: Any) -> None:
        """Pause a partition whose dispatcher holds too much; resume it when it has caught up."""
        from aiokafka import TopicPartition

        for o in self.owners.values():
            held = len(o.offsets.pending)
            if not o.paused and held >= MAX_PENDING:
                consumer.pause(TopicPartition(self.topic, o.partition))
                o.paused = True
            elif o.paused and held < MAX_PENDING // 2:
                consumer.resume(TopicPartition(self.topic, o.partition))
                o.paused = False

    def _commit_soon(self) -> None:
        """Commit shortly (deliveries complete one by one; one commit covers those close together)."""
        consumer = self._live
        if consumer is None or (self._commit_task is not None and not self._commit_task.done()):
            return

        async def later() -> None:
            await asyncio.sleep(COMMIT_DELAY_S)
            await self._commit(consumer, list(self.owners.values()))

        self._commit_task = asyncio.get_running_loop().create_task(later())

    async def _commit(self, consumer: Any, owners: list[_Owner]) -> None:
        from aiokafka import TopicPartition

        offsets = {}
        for o in owners:
            pos = o.offsets.position()
            if pos is not None and pos != o.committed:
                offsets[TopicPartition(self.topic, o.partition)] = pos
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as e:  # noqa: BLE001 - a rebalance in progress: committed later, or read again
            log.warning("budget: commit of %s failed (%s: %s)", offsets, type(e).__name__, e)
            return
        for o in owners:
            tp = TopicPartition(self.topic, o.partition)
            if tp in offsets:
                o.committed = offsets[tp]

    async def _revoked(self, consumer: Any, revoked: Any) -> None:
        """Stop sending for the revoked partitions at once; commit what they finished."""
        owners = [self.owners.pop(tp.partition) for tp in revoked if tp.topic == self.topic and tp.partition in self.owners]
        for o in owners:
            await o.dispatcher.close()  # not delivered → not committed → the new owner delivers it
        await self._commit(consumer, owners)
        if owners:
            log.info("budget partitions %s revoked", sorted(o.partition for o in owners))
        self._publish()

    async def _assigned(self, assigned: Any) -> None:
        """Take over the budgets of the assigned partitions: read their spends back first."""
        parts = sorted(tp.partition for tp in assigned if tp.topic == self.topic and tp.partition not in self.owners)
        if not parts:
            self._publish()
            return
        ledger = await self._read_ledger(parts)
        for p in parts:
            self.owners[p] = await self._open(p, ledger)
        log.info("budget partitions %s assigned (receivers: %s)", parts,
                 ", ".join(n for p in parts for n in self.by_partition.get(p, [])) or "none")
        self._publish()

    def _publish(self) -> None:
        m.BUDGET_PARTITIONS.set(len(self.owners))
        for name in self.names:
            p = budget_partition(name, self.partitions)
            m.BUDGET_OWNED.labels(name).set(1 if p in self.owners else 0)

    async def _open(self, partition: int, ledger: tuple[dict[str, list[float]], dict[str, list[bytes]]] | None) -> _Owner:
        names = self.by_partition.get(partition, [])
        owner: _Owner

        async def on_complete(dl: Delivery) -> None:
            off = owner.waiting.pop(id(dl), None)
            for o in dl.failures():
                await self._dead_letter(dl.alert.street_code.encode(), {"alert": dl.alert.to_dict(), "outcome": o.to_dict()})
                m.NOTIFICATIONS.labels(o.receiver, "deadletter").inc()
            if off is not None:
                owner.offsets.done(off)
                self._commit_soon()

        d = Dispatcher(self.router, receivers=names, retry=self.retry, on_done=self.on_done, on_attempt=self.on_attempt,
                       on_complete=on_complete, on_spend=self._record_spend, on_sent=self._record_sent)
        owner = _Owner(partition, d)
        spent, sent = ledger if ledger is not None else (None, None)
        await d.start()
        mono, wall = d.clock(), time.time()
        for name in names:
            rcv = self.router.receivers[name]
            if not rcv.rate_limit:
                continue
            for key in (sent or {}).get(name, []):
                owner.remember(key)
            if spent is None:  # ledger unreadable: assume the whole window was spent just now
                times = [wall] * rcv.rate_limit
                log.warning("限额账本不可读 budget ledger of %s unreadable: %s waits one window (%.0f s) before sending",
                            self.ledger, name, rcv.rate_limit_window_s)
            else:
                times = spent.get(name, [])
            n = d.restore_spent(name, [mono - (wall - t) + CLOCK_MARGIN_S for t in times])
            if n:
                m.BUDGET_RESTORED.labels(name).inc(n)
                log.info("budget of %s taken over with %d message(s) of the last %.0f s counted", name, n, rcv.rate_limit_window_s)
        return owner

    async def _read_ledger(self, partitions: list[int]) -> tuple[dict[str, list[float]], dict[str, list[bytes]]] | None:
        """Spend times (epoch s) and keys of sent notifications, per receiver, from the last records
        of the ledger's ``partitions``; None when it cannot be read in time."""
        from aiokafka import TopicPartition

        k = self.settings.kafka
        reader = self._consumer(group_id=None, client_id=f"{k.client_id}-budget-ledger")
        out: dict[str, list[float]] = defaultdict(list)
        sent: dict[str, list[bytes]] = defaultdict(list)
        try:
            await reader.start()
            tps = [TopicPartition(self.ledger, p) for p in partitions]
            reader.assign(tps)
            ends = await reader.end_offsets(tps)
            begins = await reader.beginning_offsets(tps)
            remaining = set()
            for tp in tps:
                start = max(begins.get(tp, 0), ends.get(tp, 0) - self.ledger_tails.get(tp.partition, 0))
                reader.seek(tp, start)
                if start < ends.get(tp, 0):
                    remaining.add(tp)
            deadline = time.monotonic() + LEDGER_READ_TIMEOUT_S
            idle_since = time.monotonic()
            while remaining:
                if time.monotonic() > deadline:
                    log.warning("budget ledger %s: read-back timed out", self.ledger)
                    return None
                batch = await reader.getmany(*remaining, timeout_ms=200, max_records=1000)
                for _tp, records in batch.items():
                    for r in records:
                        try:
                            rec = orjson.loads(r.value or b"")
                            if "sent" in rec:
                                sent[str(rec["receiver"])].extend(bytes.fromhex(k) for k in rec["sent"])
                            else:
                                out[str(rec["receiver"])].append(float(rec["at"]))
                        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                            log.warning("budget ledger %s: unreadable record at %d/%d", self.ledger, r.partition, r.offset)
                    if records:
                        idle_since = time.monotonic()
                for tp in list(remaining):
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
                if remaining and time.monotonic() - idle_since > LEDGER_IDLE_S:
                    break  # the reported end offset may lie past the last record (Tansu)
            return out, sent
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the caller falls back to a full window
            log.warning("budget ledger %s unreadable (%s: %s)", self.ledger, type(e).__name__, e)
            return None
        finally:
            try:
                await reader.stop()
            except Exception:  # noqa: BLE001
                pass

    async def _record_spend(self, receiver: str) -> None:
        """Dispatcher hook, awaited before each rate-limited message: the spend on the ledger."""
        await self._ledger_write(receiver, {"receiver": receiver, "at": time.time(), "by": self.owner_id})

    async def _record_sent(self, receiver: str, alerts: list[Alert]) -> None:
        """Dispatcher hook, awaited after a message was accepted: its alerts' keys on the ledger."""
        await self._ledger_write(receiver, {"receiver": receiver, "at": time.time(), "by": self.owner_id,
                                            "sent": [notification_key(receiver, a).hex() for a in alerts]})

    async def _ledger_write(self, receiver: str, record: dict[str, Any]) -> None:
        """Append ``record`` to the receiver's ledger partition and wait (bounded) until the broker
        has it. A failure is logged, never raised: the message goes out anyway (see the module doc)."""
        try:
            fut = await self._producer().send(self.ledger, receiver.encode(), orjson.dumps(record),
                                              budget_partition(receiver, self.partitions), None, None)
            await asyncio.wait_for(asyncio.shield(fut), LEDGER_WRITE_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            log.warning("限额账本写入失败 budget ledger write (%s) for %s failed (%s: %s)",
                        "sent" if "sent" in record else "spend", receiver, type(e).__name__, e)

    async def _dead_letter(self, key: bytes, body: dict[str, Any]) -> None:
        """A record on ``warning.alerts.deadletter``, on the broker before the offset is done."""
        value = orjson.dumps(body)
        delay = 0.5
        while True:
            try:
                fut = await self._producer().send(self.settings.topics.alerts_deadletter, key, value, None, None, None)
                await fut
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Kafka down: hold the offset, retry
                log.error("dead letter to %s failed (%s: %s); retrying in %.1f s",
                          self.settings.topics.alerts_deadletter, type(e).__name__, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _handle(self, owner: _Owner, r: Any) -> None:
        """One hand-on record: submit it to its receiver's queue (or dead-letter it)."""
        owner.offsets.take(r.offset)
        try:
            h = HANDON_DECODER.decode(r.value or b"")
        except msgspec.DecodeError as e:  # our own topic: not expected; never stops the budget
            log.error("invalid hand-on at %s partition %d offset %d: %s", self.topic, r.partition, r.offset, e)
            await self._dead_letter(r.key or b"", {"alert": None, "record": bytes(r.value or b"").decode("utf-8", "replace"),
                                                   "outcome": {"receiver": None, "status": "invalid", "error": str(e)[:500],
                                                               "partition": r.partition, "offset": r.offset}})
            m.NOTIFICATIONS.labels("(none)", "deadletter").inc()
            owner.offsets.done(r.offset)
            return
        if h.receiver not in owner.dispatcher.notifiers:
            # Written under another configuration (receiver renamed or removed meanwhile).
            o = Outcome(h.receiver, "permanent", DeliveryResult("permanent", error="receiver not configured in this worker"), 0, 0.0)
            log.error("hand-on of alert %s for unknown receiver %s dead-lettered", h.alert.alert_id, h.receiver)
            await self._dead_letter(h.alert.street_code.encode(), {"alert": h.alert.to_dict(), "outcome": o.to_dict()})
            m.NOTIFICATIONS.labels(h.receiver, "deadletter").inc()
            owner.offsets.done(r.offset)
            return
        if not owner.first_time(h.receiver, h.alert):
            log.info("repeated hand-on of alert %s (%s) for %s skipped", h.alert.alert_id, h.alert.status, h.receiver)
            m.BUDGET_REPEATS.labels(h.receiver).inc()
            owner.offsets.done(r.offset)
            return
        dl = owner.dispatcher.submit(h.alert, [h.receiver])
        if dl.done():
            owner.offsets.done(r.offset)
        else:
            owner.waiting[id(dl)] = r.offset
