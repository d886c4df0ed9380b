"""The raw feeds' ingest with partitions held back by event time, and their records handed back.

Each raw feed's ingest agent gives its batches to :meth:`HeldIngest.handle`: the records go through
:meth:`IngestService.process <warning.streams.app.IngestService.process>`, which leaves a
partition from its first record too far ahead in event time (:mod:`warning.streams.align`); the
partition is then *held* — :class:`~warning.streams.contiguous.ContiguousInput` keeps its records
left, and those fetched later, in offset order — and what was taken is acked once its checkpoint
is written. :meth:`HeldIngest.release_ready` (after every ingest batch and on a timer) lets the
held partitions the others have caught up with go on and hands their kept records back through
the same path, a batch of every released partition at a time in one checkpoint, each acked on its
own feed's stream; what that hand-back makes ready is released and handed back in the same call.

The Faust app (:func:`warning.streams.app.create_app`) only wires this to its agents and timer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Collection

from warning.streams.align import EventTimeAligner
from warning.streams.contiguous import ContiguousInput

log = logging.getLogger("warning.ingest")

#: batches of released partitions' kept records handed back per round of release_ready (the rest
#: in its next round, or at its next call: after the next ingest batch, or 0.25 s)
MAX_HAND_BACK_BATCHES = 20
#: rounds of release_ready: hand back, release what that made ready, hand that back, … (the caller,
#: an ingest agent or the timer, reads nothing meanwhile)
MAX_HAND_BACK_ROUNDS = 10

#: (feed, its ingest agent's stream, records of the feed's raw topic)
Part = tuple[str, Any, list[Any]]


class HeldIngest:
    """Ingest batches, hold partitions too far ahead, hand their records back (module docstring).

    Parameters
    ----------
    app
        The Faust app: its consumer (``assignment``, ``highwater``) and ``in_recovery``.
    service
        The :class:`~warning.streams.app.IngestService` (``process``, ``holds``, ``current``,
        ``fenced``); its ``reading`` is set to :meth:`reading`.
    contiguous, aligner
        Where held partitions' records are kept, and which partitions to hold and let go.
    feed_of
        Raw topic name → feed.
    batch_size
        Records of a released partition handed back at a time.
    commit_then_ack
        Writes one checkpoint for what was built, then acks each (stream, records taken) pair.
    """

    def __init__(self, app: Any, service: Any, contiguous: ContiguousInput, aligner: EventTimeAligner,
                 feed_of: dict[str, str], batch_size: int,
                 commit_then_ack: Callable[[list[tuple[Any, list[Any]]]], Awaitable[None]]) -> None:
        self.app = app
        self.service = service
        self.contiguous = contiguous
        self.aligner = aligner
        self.feed_of = feed_of
        self.batch_size = batch_size
        self.commit_then_ack = commit_then_ack
        self.streams: dict[str, Any] = {}  # feed → its ingest agent's stream (acks); set by the agent
        self.handing_back = asyncio.Lock()
        service.reading = self.reading

    def reading(self) -> set[Any]:
        """This worker's raw partitions with records waiting (past the next offset to take), and the
        held ones (also those whose kept records are being handed back)."""
        consumer = self.app.consumer
        c = self.contiguous
        out = set(self.aligner.held) | set(c.held)
        for tp in consumer.assignment():
            if tp.topic in self.feed_of:
                nxt, hw = c.next.get(tp), consumer.highwater(tp)
                if nxt is not None and hw is not None and hw > nxt:
                    out.add(tp)
        return out

    async def handle(self, parts: list[Part]) -> None:
        """Ingest the records of ``parts``; hold partitions too far ahead, keeping their records
        left; ack what was taken once it is delivered (one checkpoint for all)."""
        c, service = self.contiguous, self.service
        epoch = c.epoch
        with c.holding([ev for _, _, batch in parts for ev in batch]):
            taken = []
            for source, stream, batch in parts:
                service.holds = []
                taken.append((stream, service.process(source, batch)))
                for tp, offset, ts in service.holds:
                    left = [ev for ev in batch if ev.message.tp == tp and ev.message.offset >= offset]
                    if c.hold(tp, left, epoch):  # (not if reassigned meanwhile)
                        self.aligner.hold(tp, offset, ts)
            await self.commit_then_ack(taken)

    def may_resume(self) -> bool:
        """Not while a rebalance or a recovery is on (Faust resumes every partition after it, and
        what was kept is read again from the committed offsets)."""
        return not self.service.fenced and not getattr(self.app, "in_recovery", False)

    async def _release(self) -> None:
        now = time.monotonic()
        for tp in self.aligner.ready(self.reading(), now):
            self.aligner.release(tp, now)
            await self.contiguous.release(tp, self.may_resume)

    async def release_ready(self) -> None:
        """Let the held partitions the others have caught up with go on and hand their kept records
        back (see the module docstring); one caller at a time hands back, which keeps each
        partition in order."""
        c = self.contiguous
        if not c.held or not self.may_resume():
            return
        c.keep_paused()
        await self._release()
        if self.handing_back.locked():
            return  # (the caller handing back picks up what this released in its next round)
        async with self.handing_back:
            for _ in range(MAX_HAND_BACK_ROUNDS):
                if not await self._hand_back():
                    return
                if not c.held or not self.may_resume():
                    return
                await self._release()
                if not c.released:
                    return

    async def _hand_back(self) -> bool:
        """A batch of every released partition at a time, in one checkpoint, while it is not held
        again (a hold puts what it leaves first). False: a rebalance began."""
        c = self.contiguous
        for _ in range(MAX_HAND_BACK_BATCHES):
            if not self.may_resume():
                return False  # nothing more is built (Kafka redelivers the rest)
            parts: list[Part] = []  # a part per partition: each is compared with the others,
            tps = []  # also those of its feed (IngestService.process)
            for tp in sorted(c.released):  # (in a fixed order: the same input, the same output)
                feed = self.feed_of.get(tp.topic)
                stream = self.streams.get(feed) if feed is not None else None
                if feed is None or stream is None:
                    continue  # (its agent has not started yet)
                kept = c.unstash(tp, self.batch_size)
                if not kept:
                    await c.resume(tp, self.may_resume)  # (if it was paused keeping too many)
                    c.finish(tp)
                    continue
                parts.append((feed, stream, self.service.current(kept)))
                tps.append(tp)
            if not tps:
                break
            try:
                await self.handle(parts)
            except Exception:
                # as when an agent fails: the partitions are read again from their committed
                # offsets (ContiguousInput.holding); the worker goes on
                log.exception("ingest of held records of %s failed; reading them again", _names(tps))
                for tp in tps:
                    await c.reread(tp)
                break
        return True


def _names(tps: Collection[Any]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in tps)
