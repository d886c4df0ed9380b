"""Each partition's records in offset order, each once, from the committed offset; acks in that order.

Faust does not guarantee it around a rebalance. Records fetched before its seek back to the
committed offsets can still be delivered; the consumer then takes the offsets the seek makes it
fetch again as already read and drops them — and acks them as a "gap" (see
:mod:`warning.streams.faust_compat`, which turns that acking off). An agent that took what it was
given would skip records: ingest would lose them, detection would miss events it believes
redelivered, delivery would never send an alert. So the agents (ingest, the rekeyed hand-ons,
detection, delivery) take their batches through one :class:`ContiguousInput`:

* only records fetched in the consumer's current generation (older ones were fetched before a
  rebalance; Kafka redelivers them to their partition's owner);
* per partition (reset at each assignment) the next offset is expected — first the committed
  offset, or the partition's earliest offset when nothing is committed or the committed offset is
  gone (retention);
* a record past the expected offset makes the consumer seek back to it unless a later record of
  the same batch fills the hole; records past a hole are dropped unacked (they come again);
* a record before it (a repeat of one already taken) is dropped;
* a partition sought back that still has not delivered its expected offset after
  :attr:`ContiguousInput.RESEEK_S` is sought again (:meth:`ContiguousInput.retry`, on a timer);
  the seek runs on the consumer's thread (aiokafka's fetcher is not thread-safe: a seek from the
  event loop crashed a worker with a ``KeyError`` in ``fetched_records``), and Faust's own drop of
  records below its "read offset" is turned off (:mod:`warning.streams.faust_compat`): at a high
  rate, records fetched before a seek moved that offset past the re-fetched ones every time, so a
  partition was sought back every second and never caught up;
* a partition its agent holds back (:meth:`ContiguousInput.hold`: read too far ahead in event time,
  :mod:`warning.streams.align`) is paused: the records the agent left, and those of it still on
  their way, are kept in order (:attr:`ContiguousInput.held`) instead of handed over; once
  :meth:`ContiguousInput.release` seeks it to the first record not kept and resumes it,
  :meth:`ContiguousInput.unstash` hands them back until none is left
  (:meth:`ContiguousInput.finish`), and its records reach the agent again. (Seeking back to the
  first record left, and dropping what was on its way, made Faust deliver again every record it
  had fetched ahead: ten times the records of the rare feeds in ``bench/ingest.py``, half of the
  ingest's time);
* offsets that do not exist (a transaction marker of an outside producer, records deleted by
  retention meanwhile) would be sought forever: when :attr:`ContiguousInput.HOLE_SEEKS` seeks in
  a row bring the same first offset past the expected one, the offsets between are skipped, logged
  as an error and counted (``warning_consumer_offsets_skipped_total``).

An agent that finishes records out of order (delivery waits for receivers) acks them through
:class:`OrderedAcks`: Faust commits the first run of acked offsets and lets it start one past the
committed offset, so an ack of a later record could commit past one still being delivered.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from typing import Any, Awaitable, Callable, Iterator

from warning.streams import metrics as m
from warning.streams.faust_compat import ack_skipped

log = logging.getLogger("warning.contiguous")


class ContiguousInput:
    """Hands agents each partition's records in offset order, each once (see the module docstring).

    ``app`` is the Faust app: its ``consumer_generation_id``, and its consumer's committed offsets
    (``_committed_offset``: filled by Faust's seek to the committed offsets, before a partition of
    the new generation delivers anything; updated by commits), earliest offsets, assignment and
    ``seek``.
    """

    #: a partition sought back and still not delivering its expected offset is sought again after this
    RESEEK_S = 1.0
    #: seeks in a row that bring the same first offset past the expected one: those offsets do not exist
    HOLE_SEEKS = 3

    def __init__(self, app: Any) -> None:
        self.app = app
        self.next: dict[Any, int] = {}
        self.sought: dict[Any, float] = {}  # partition → when it was last sought back (monotonic)
        self.first: dict[Any, int] = {}  # partition → first offset past the expected one since the last seek
        self.last_first: dict[Any, int] = {}  # partition → that offset after the seek before
        self.same_first: dict[Any, int] = {}  # partition → seeks in a row that brought the same first offset
        self.seeks = 0  # seeks back (for tests and the log)
        self.epoch = 0  # assignments seen; a batch that spans one is dropped whole
        self.acks: dict[str, OrderedAcks] = {}  # per agent, reset with this
        #: partitions held back by their agent (:meth:`hold`) → their records taken from the consumer
        #: and left for later, in offset order; a partition stays here until its records are handed
        #: back after :meth:`release` (:meth:`unstash`, :meth:`finish`)
        self.held: dict[Any, list[Any]] = {}
        self.released: set[Any] = set()  # held partitions resumed, their records being handed back

    def ordered_acks(self, name: str, ack: Callable[[Any], Awaitable[Any]]) -> OrderedAcks:
        """An :class:`OrderedAcks` for agent ``name`` taking its records from here, reset with it
        (a restarted agent's replaces the one before)."""
        acks = self.acks[name] = OrderedAcks(ack)
        return acks

    def reset(self) -> None:
        """Partitions (re)assigned: expect each one's committed offset again."""
        self.epoch += 1
        for d in (self.next, self.sought, self.first, self.last_first, self.same_first, self.held):
            d.clear()  # (Faust pauses every assigned partition and resumes them after recovery)
        self.released.clear()  # (their records left unacked: Kafka redelivers them)
        for acks in self.acks.values():
            acks.reset()

    def committed(self, tp: Any) -> int | None:
        """Faust's committed offset of ``tp`` (filled by its seek to the committed offsets, before
        the partition's first records are delivered; None or 0: nothing committed)."""
        return getattr(self.app.consumer, "_committed_offset", {}).get(tp)

    async def _start(self, tp: Any) -> int:
        consumer = self.app.consumer
        committed = self.committed(tp)
        # nothing committed (Faust keeps 0 as None too), or the committed offset deleted since:
        # the partition's first offset still on the broker
        earliest = int((await consumer.earliest_offsets(tp)).get(tp) or 0)
        if committed is None or committed <= 0:
            return earliest
        if earliest > committed:  # deleted by retention since the commit
            await ack_skipped(consumer, tp, int(committed), earliest - 1)
        return max(int(committed), earliest)

    async def take(self, batch: list[Any]) -> list[Any]:
        """The events of ``batch`` that continue their partitions without a hole, in order (those of a
        held partition kept for later instead)."""
        out: list[Any] = []
        hole: dict[Any, int] = {}  # partition → the expected offset when a later one came
        went_on: set[Any] = set()  # held partitions whose records continued (kept)
        nxt = self.next
        epoch = self.epoch
        generation = getattr(self.app, "consumer_generation_id", None)
        for ev in batch:
            msg = ev.message
            if generation is not None and getattr(msg, "generation_id", generation) != generation:
                continue  # fetched before a rebalance
            tp = msg.tp
            want = nxt.get(tp)
            if want is None:
                want = await self._start(tp)
                if self.epoch != epoch:
                    return []  # reassigned meanwhile: these records belong to the old generation
                nxt[tp] = want
            if msg.offset == want:
                kept = self.held.get(tp)
                if kept is None:
                    out.append(ev)
                else:
                    kept.append(ev)
                    went_on.add(tp)
                nxt[tp] = want + 1
            elif msg.offset > want:
                if tp not in hole:
                    hole[tp] = want
                    if tp in self.sought and tp not in self.first:
                        self.first[tp] = msg.offset  # the first record since the last seek
            # msg.offset < want: a repeat of a record already taken
        for tp in {ev.message.tp for ev in out} | went_on:
            if nxt[tp] > hole.get(tp, -1):
                self._progress(tp)
        now = time.monotonic()
        for tp, want in hole.items():
            if self.epoch != epoch:
                return []  # reassigned during a seek: these records belong to the old generation
            if nxt.get(tp) != want:
                continue  # filled later in the batch
            if now - self.sought.get(tp, -self.RESEEK_S) >= self.RESEEK_S:
                await self._seek(tp, want, now)
            # else: records fetched before the last seek; the sought ones follow
        return [] if self.epoch != epoch else out

    @contextlib.contextmanager
    def holding(self, batch: list[Any]) -> Iterator[None]:
        """Around an agent's work on records it took: if the work fails, its partitions are
        forgotten, so their next record makes the consumer seek back to the committed offset and
        the failed records are read again (Faust restarts the agent; without this the restarted
        agent would drop them as repeats and never ack them)."""
        try:
            yield
        except BaseException:
            for ev in batch:
                tp = ev.message.tp
                self.next.pop(tp, None)
                self._progress(tp)
                kept = self.held.get(tp)
                if kept:  # read again from the committed offset too (a held partition is resumed by its release)
                    kept.clear()
            raise

    def hold(self, tp: Any, left: list[Any], epoch: int) -> bool:
        """The agent took ``tp``'s records before ``left`` and leaves ``left`` (the rest of ``tp``'s
        records it was given, in offset order) unacked for now (:mod:`warning.streams.align`): pause
        the partition and keep ``left`` and every record of ``tp`` still on its way, in order, until
        :meth:`release`. Nothing is done (False) when partitions were assigned again since the agent
        took them (``epoch``)."""
        if epoch != self.epoch:
            return False
        self.held[tp] = left + self.held.get(tp, [])  # (held again while its records were handed back)
        self.released.discard(tp)
        self.app.consumer.pause_partitions([_faust_tp(tp)])
        return True

    def keep_paused(self) -> None:
        """Pause the held partitions again: Faust puts a partition it set aside for a full stream
        buffer back among the fetched ones when the buffer drains, paused or not."""
        paused = [_faust_tp(tp) for tp in self.held if tp not in self.released]
        if paused:
            self.app.consumer.pause_partitions(paused)

    async def release(self, tp: Any, may_resume: Callable[[], bool]) -> None:
        """Let a held partition go on: seek it to the first record not kept (Faust drops, unseen,
        what the consumer fetched of a paused partition, so the consumer's position is past them)
        and resume it — unless partitions were assigned again meanwhile or ``may_resume()`` says no
        after the seek (a rebalance or a recovery began: Faust resumes every partition after it);
        its records kept meanwhile are handed back by :meth:`unstash`. A partition no longer
        assigned is forgotten."""
        if tp not in self.held or tp in self.released:
            return
        consumer = self.app.consumer
        if tp not in consumer.assignment():
            del self.held[tp]
            return
        self.released.add(tp)
        epoch = self.epoch
        nxt = self.next.get(tp)
        if nxt is not None:
            await self._do_seek(tp, nxt)
        # resumed also when the seek failed but it is still assigned: the first record it then
        # delivers past the expected offset makes take() seek back (left paused, nothing would ever
        # show the hole — until the next rebalance)
        if epoch == self.epoch and may_resume() and tp in consumer.assignment():
            consumer.resume_partitions([_faust_tp(tp)])

    def unstash(self, tp: Any, limit: int | None = None) -> list[Any]:
        """The first ``limit`` (default: all) records a released partition kept so far, in offset
        order (the rest, and its later ones, stay kept until handed back: a hold meanwhile puts the
        records it leaves before them)."""
        if tp not in self.released:
            return []
        kept = self.held[tp]
        n = len(kept) if limit is None else limit
        self.held[tp] = kept[n:]
        return kept[:n]

    async def reread(self, tp: Any) -> None:
        """Read ``tp`` again from its committed offset (after work on its records failed and
        :meth:`holding` forgot them): without it, they would come again only once a later record
        showed the hole — never, on a partition already read to its end."""
        if tp not in self.app.consumer.assignment():
            return
        epoch = self.epoch
        offset = await self._start(tp)
        if epoch == self.epoch and tp not in self.next:
            self.next[tp] = offset
            await self._do_seek(tp, offset)

    def finish(self, tp: Any) -> bool:
        """A released partition whose kept records have all been handed back: its records go to the
        agent again. False (nothing done) while some are kept."""
        if tp not in self.released or self.held.get(tp):
            return False
        self.released.discard(tp)
        self.held.pop(tp, None)
        return True

    def _progress(self, tp: Any) -> None:
        for d in (self.sought, self.first, self.last_first, self.same_first):
            d.pop(tp, None)

    async def retry(self) -> None:
        """Seek again every partition sought back more than :attr:`RESEEK_S` ago that has not
        delivered its expected offset since."""
        now = time.monotonic()
        for tp, when in list(self.sought.items()):
            if now - when >= self.RESEEK_S and tp in self.next and (tp not in self.held or tp in self.released):
                await self._seek(tp, self.next[tp], now)

    async def _seek(self, tp: Any, offset: int, now: float) -> None:
        consumer = self.app.consumer
        if tp not in consumer.assignment():
            self._progress(tp)
            return
        first = self.first.pop(tp, None)
        if first is not None and first > offset:
            same = self.same_first.get(tp, 0) + 1 if first == self.last_first.get(tp) else 1
            self.same_first[tp], self.last_first[tp] = same, first
            if same >= self.HOLE_SEEKS:
                log.error("%s[%d]: offsets %d..%d are not on the broker (%d seeks brought %d first): skipped",
                          tp.topic, tp.partition, offset, first - 1, same, first)
                m.CONSUMER_OFFSETS_SKIPPED.labels(tp.topic).inc(first - offset)
                self.next[tp] = first
                self._progress(tp)
                await ack_skipped(consumer, tp, offset, first - 1)
                await self._do_seek(tp, first)
                return
        self.sought[tp] = now
        self.seeks += 1
        m.CONSUMER_RESEEKS.labels(tp.topic).inc()
        log.warning("%s[%d]: the consumer skipped offsets from %d; reading again from there",
                    tp.topic, tp.partition, offset)
        await self._do_seek(tp, offset)

    async def _do_seek(self, tp: Any, offset: int) -> None:
        consumer = self.app.consumer
        try:
            thread = getattr(consumer, "_thread", None)
            if thread is None:
                await consumer.seek(tp, offset)
            else:  # on the consumer's own thread: aiokafka's fetcher is not thread-safe
                await thread.call_thread(_seek_on_thread, thread._ensure_consumer(), tp, offset)
        except Exception as e:  # revoked meanwhile (aiokafka: IllegalStateError / assertion)
            log.warning("%s[%d]: seek to %d failed (%s); its next record past it seeks back, or its "
                        "next owner reads it", tp.topic, tp.partition, offset, e)
            self._progress(tp)


def _faust_tp(tp: Any) -> Any:
    """Faust's own ``TP`` for a message's partition (its pause and resume accept no other type)."""
    from faust.types import TP

    return TP(tp.topic, tp.partition)


async def _seek_on_thread(aiokafka_consumer: Any, tp: Any, offset: int) -> None:
    aiokafka_consumer.seek(tp, offset)


class OrderedAcks:
    """Acks each partition's records in offset order, whatever order they finish in.

    :meth:`add` every record when it is taken (in offset order, as :class:`ContiguousInput` hands
    them over), :meth:`done` when it is finished; ``ack`` (e.g. ``stream.ack``) is called for the
    leading run of finished records of each partition. :meth:`reset` at each assignment (what was
    not acked is redelivered to the partition's owner).

    >>> import asyncio
    >>> from types import SimpleNamespace as NS
    >>> acked = []
    >>> async def ack(ev): acked.append(ev.message.offset)
    >>> a = OrderedAcks(ack)
    >>> evs = [NS(message=NS(tp="t0", offset=o)) for o in (5, 6, 7)]
    >>> async def run():
    ...     for ev in evs: a.add(ev)
    ...     await a.done(evs[1]); await a.done(evs[2])   # 5 still out
    ...     first = list(acked)
    ...     await a.done(evs[0])
    ...     return first, acked
    >>> asyncio.run(run())
    ([], [5, 6, 7])
    """

    def __init__(self, ack: Callable[[Any], Awaitable[Any]]) -> None:
        self.ack = ack
        self.pending: dict[Any, deque[list[Any]]] = {}  # partition → [[event, finished], …] in offset order
        self.slot: dict[int, list[Any]] = {}  # id(event) → its entry

    def reset(self) -> None:
        self.pending.clear()
        self.slot.clear()

    def add(self, ev: Any) -> None:
        entry = [ev, False]
        self.pending.setdefault(ev.message.tp, deque()).append(entry)
        self.slot[id(ev)] = entry

    async def done(self, ev: Any) -> None:
        entry = self.slot.pop(id(ev), None)
        if entry is None:
            return  # taken before a reset: redelivered to the partition's owner
        entry[1] = True
        q = self.pending.get(ev.message.tp)
        while q and q[0][1]:
            await self.ack(q.popleft()[0])
