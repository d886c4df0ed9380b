"""Settings Faust does not expose, applied to its aiokafka consumer; and fixes of its rebalance.

Faust creates its worker consumer with ``fetch_max_wait_ms=1500`` hard-coded. A broker that
answers a fetch as soon as data arrives (Apache Kafka) makes that harmless; one that holds the
fetch for the full wait adds up to 1.5 s per hop (ingest → detect → deliver), so it is a setting
here: ``kafka.fetch_max_wait_ms`` (default 1500, as Faust; the demo and the tests on the
embedded Tansu broker use 50).

**Rebalances lost records** (seen with three workers and a kill -9, issue 13). After a rebalance
Faust seeks every assigned partition back to its committed offset — but (1) it resumes fetching
the partitions *before* that seek, so records fetched from the old position can be delivered
first; the consumer then takes the offsets it re-reads after the seek as already read and drops
them, and counts the offsets it skipped as a "gap", which it acks and commits; and (2) the seek
skips partitions without a committed offset (``seek_to_committed`` seeks only offsets > 0), which
stay wherever the last fetch left them, past records that were fetched and then discarded by the
rebalance. Here the seek comes before the resume, and a partition without a committed offset is
sought to its beginning (the ``earliest`` reset policy Faust configures), so every record after
the committed offset is delivered again after each rebalance — at least once, as the services
expect. And (3) the consumer never acks a "gap" (offsets it did not deliver: meant for
transaction markers and compacted topics) — it was the step that turned skipped records into
committed ones; the agents take each partition's records in offset order and seek back over any
they were not given, and skip offsets that repeated seeks show are not on the broker (markers of
an outside transactional producer on a raw topic, records deleted by retention)
(:class:`warning.streams.contiguous.ContiguousInput`).

(4) Faust drops a record below the highest offset it has read of its partition (its "read offset"),
which a seek resets; but records fetched before the seek, still being handed over, move it past the
re-fetched ones again — at a high rate after every seek, so a partition sought back never caught
up. The agents drop repeats themselves (:class:`~warning.streams.contiguous.ContiguousInput`), so
Faust's read offset reads as unknown here (:class:`_NoReadOffset`) and hands every record over.

**A rebalance could hang for 20 minutes** (issue 13: a worker stuck "rebalancing", evicted from the
group and never back). aiokafka's producer refreshes metadata only for the topics in its client's
topic list; a topic it already knew from the first (full) metadata fetch is never added to that
list. When another topic is added (a changelog Faust creates), the next refresh asks for the list
only and forgets the rest: batches already queued for the forgotten topics (``warning.events``, the
rekey topic) wait for a leader that no refresh will bring back — until another send to them adds
them (none comes during a rebalance) or the batches expire after Faust's ``producer_request_timeout``
(20 min). The producer's flush in the rebalance waited on them. Here every topic a send waits on is
added to the list (:func:`_wait_on_metadata`).

**A takeover could start from empty state** (issue 13: the three-worker failover test lost a few
counted events about one run in ten under load). The group leader assigns with its own consumer's
metadata, and Faust's assignor skips a subscribed topic that metadata does not know ("Ignoring
missing topic"). A worker whose consumer fetched metadata while another worker was still creating a
table's changelog topic (the broker answers "unknown topic") keeps not knowing it: aiokafka's
leader refreshes metadata before it assigns only when the group subscribes to a topic its client
does not track yet, and it tracks this one — its own subscription — so the next refresh is the
periodic one (``metadata_max_age_ms``, 5 min). While that worker leads the group, no member is
assigned the changelog — no recovery, no standby — so every partition that moves is rebuilt from
an empty table, and the events its old owner had acked are never counted again. Here the leader
first refreshes metadata until it knows every topic the members subscribe to (at most
:data:`LEADER_METADATA_WAIT_S`); a topic still unknown then is logged as an error, not skipped
silently, and asked for every second until it is known, which starts a rebalance that assigns it
(:func:`_perform_assignment`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping, cast

from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.coordinator.protocol import ConsumerProtocol
from faust.tables import recovery as faust_recovery
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

_ORIGINAL = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
_SEEK_TO_COMMITTED = faust_aiokafka.AIOKafkaConsumerThread.seek_to_committed
_WAIT_ON_METADATA = AIOKafkaClient._wait_on_metadata
_PERFORM_ASSIGNMENT = GroupCoordinator._perform_assignment

#: longest a group leader waits for the metadata of a subscribed topic it does not know yet (and at
#: most half the group's session and rebalance timeouts: a leader that does not answer in time is
#: evicted and the rebalance starts over)
LEADER_METADATA_WAIT_S = 10.0
#: after that wait: how often, and how long, the leader keeps asking for the topics still unknown (when
#: they appear, aiokafka's metadata listener sees the group's topics change and starts a rebalance)
LEADER_METADATA_RETRY_S, LEADER_METADATA_RETRY_FOR_S = 1.0, 300.0

log = logging.getLogger(__name__)
_retries: set[asyncio.Task[None]] = set()  # background refreshes (kept referenced until done)


def _unknown(client: Any, topics: set[str]) -> set[str]:
    return {t for t in topics if not client.cluster.partitions_for_topic(t)}


async def _know_topics(client: Any, topics: set[str], wait_s: float, every_s: float = 0.2) -> set[str]:
    """Refresh ``client``'s metadata every ``every_s`` until it has partitions for every topic of
    ``topics`` or ``wait_s`` has passed; returns the topics still unknown (see the module docstring)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    missing = _unknown(client, topics)
    while missing:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:  # the update future is shielded: a timeout leaves the refresh running
            await asyncio.wait_for(client.force_metadata_update(), left)
        except asyncio.TimeoutError:
            break
        missing = _unknown(client, missing)
        if missing:
            await asyncio.sleep(min(every_s, max(0.0, deadline - loop.time())))
    return missing


async def _keep_asking(client: Any, topics: set[str]) -> None:
    try:
        await _know_topics(client, topics, LEADER_METADATA_RETRY_FOR_S, LEADER_METADATA_RETRY_S)
    except Exception as exc:  # the consumer closed meanwhile: nothing left to assign
        log.debug("metadata refresh for %s ended: %r", sorted(topics), exc)


async def _perform_assignment(self: Any, response: Any) -> Any:
    """aiokafka's leader assignment, after the leader's metadata knows every topic a member
    subscribes to (see the module docstring)."""
    topics: set[str] = set()
    for member in response.members:  # (member_id, [group_instance_id,] metadata bytes)
        topics.update(ConsumerProtocol.METADATA.decode(member[-1]).subscription)
    client = self._client
    if _unknown(client, topics):
        if not self._subscription.subscribed_pattern:
            client.set_topics(topics)  # what aiokafka sets next; refreshes then ask for these topics
        wait_s = min(LEADER_METADATA_WAIT_S, min(self._session_timeout_ms, self._rebalance_timeout_ms) / 2000)
        missing = await _know_topics(client, topics, wait_s)
        if missing:
            log.error("group %s: the leader has no metadata for subscribed topics %s after %.1f s; their partitions "
                      "are not assigned until it has (a table whose changelog is among them is not recovered "
                      "meanwhile)", self.group_id, sorted(missing), wait_s)
            task = asyncio.ensure_future(_keep_asking(client, missing))
            _retries.add(task)
            task.add_done_callback(_retries.discard)
    return await _PERFORM_ASSIGNMENT(self, response)


async def _wait_on_metadata(self: Any, topic: str) -> Any:
    """aiokafka's ``_wait_on_metadata``, which also keeps ``topic`` in the client's topic list when
    its partitions are already known, so no later refresh forgets it (see the module docstring)."""
    if topic not in self._topics:
        # Known partitions: no refresh needed now, only kept in the next ones. (An empty list means
        # "every topic"; from the first topic on, it is the list — which every sent topic joins here.)
        self._topics.add(topic)
    return await _WAIT_ON_METADATA(self, topic)


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _ORIGINAL(self, transport)
    wait = getattr(self.app, "warning_fetch_max_wait_ms", None)
    if wait is not None:
        consumer._fetch_max_wait_ms = int(wait)
    return consumer


async def _seek_to_committed(self: Any) -> Mapping[Any, int]:
    """Seek every assigned partition to its committed offset; an input partition without one (None
    or 0) to its beginning. (Changelog partitions have none: Faust's recovery positions them.)"""
    committed = await _SEEK_TO_COMMITTED(self)
    changelogs = self.app.tables.changelog_topics
    fresh = [tp for tp, offset in committed.items() if (not offset or offset <= 0) and tp.topic not in changelogs]
    if fresh:
        await self.call_thread(self._ensure_consumer().seek_to_beginning, *fresh)
    return committed


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Faust's ``Recovery.on_recovery_completed`` with the seek to committed offsets *before* the
    stream partitions are resumed (see the module docstring)."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table]))
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(f"Recovery rebalancing again app id {self.app.consumer_generation_id} param {generation_id}")
        return
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    self.completed.set()
    self.app.flow_control.resume()
    consumer.resume_flow()
    await cast(Any, self.app)._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


class _NoReadOffset(dict):
    """Faust's per-partition read offsets, written as before and read as unknown (None)."""

    def __getitem__(self, tp: Any) -> None:
        return None


_CONSUMER_INIT = faust_consumer.Consumer.__init__


def _consumer_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _CONSUMER_INIT(self, *args, **kwargs)
    self._read_offset = _NoReadOffset()


_FAUST_ADD_GAP = faust_consumer.Consumer._add_gap


async def ack_skipped(consumer: Any, tp: Any, first: int, last: int) -> None:
    """Tell Faust's consumer that offsets ``first..last`` of ``tp`` are done (they are not on the
    broker): Faust commits only a run of acked offsets that starts at the committed one, so without
    this the partition's commits would stop at the hole. (Faust's own "gap" acking, which this
    module turns off for offsets the agents did not take.)"""
    if last >= first and hasattr(consumer, "_gap"):
        await _FAUST_ADD_GAP(consumer, tp, first, last)


async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Faust's consumer acks offsets it skipped over ("gaps"); not here (see the module docstring)."""


def install() -> None:
    faust_consumer.Consumer._add_gap = _add_gap  # type: ignore[method-assign]
    faust_consumer.Consumer.__init__ = _consumer_init  # type: ignore[method-assign]
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    faust_aiokafka.AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed  # type: ignore[method-assign]
    faust_recovery.Recovery.on_recovery_completed = _on_recovery_completed  # type: ignore[method-assign]
    AIOKafkaClient._wait_on_metadata = _wait_on_metadata  # type: ignore[method-assign]
    GroupCoordinator._perform_assignment = _perform_assignment  # type: ignore[method-assign]
