"""Each partition's records in offset order, each once, from the committed offset.

Faust does not guarantee it around a rebalance. Records fetched before its seek back to the
committed offsets can still be delivered; the consumer then takes the offsets the seek makes it
fetch again as already read and drops them — and acks them as a "gap" (see
:mod:`warning.streams.faust_compat`, which turns that acking off). An agent that took what it was
given would skip records: ingest would lose them, detection would miss events it believes
redelivered. So the agents (ingest, the rekeyed hand-ons, detection) take their batches through
one :class:`ContiguousInput`:

* per partition (reset at each assignment) the next offset is expected — first the committed
  offset, or the partition's earliest offset when nothing is committed yet;
* a record past the expected offset makes the consumer seek back to it; the record and the rest
  of that partition's batch are dropped unacked (they come again);
* a record before it (a repeat of one already taken) is dropped;
* a partition sought back that still has not delivered its expected offset after
  :attr:`ContiguousInput.RESEEK_S` is sought again (:meth:`ContiguousInput.retry`, on a timer):
  records fetched before the seek can move the consumer's read position past the re-fetched ones,
  and with no newer record coming nothing else would notice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from warning.streams import metrics as m

log = logging.getLogger("warning.contiguous")


class ContiguousInput:
    """Hands agents each partition's records in offset order, each once (see the module docstring).

    ``app`` is the Faust app; its consumer gives the committed offsets (``_committed_offset``, what
    Faust sought to at the assignment), the earliest offsets and ``seek``.
    """

    #: a partition sought back and still not delivering its expected offset is sought again after this
    RESEEK_S = 1.0

    def __init__(self, app: Any) -> None:
        self.app = app
        self.next: dict[Any, int] = {}
        self.sought: dict[Any, float] = {}  # partition → when it was last sought back (monotonic)
        self.seeks = 0  # seeks back, for /healthz and tests
        self.epoch = 0  # assignments seen; a batch that spans one is dropped whole

    def reset(self) -> None:
        """Partitions (re)assigned: expect each one's committed offset again."""
        self.epoch += 1
        self.next.clear()
        self.sought.clear()

    async def _start(self, tp: Any) -> int:
        consumer = self.app.consumer
        start = getattr(consumer, "_committed_offset", {}).get(tp)
        if start is not None and start > 0:
            return int(start)
        # nothing committed (Faust keeps 0 as None too): the partition's first offset still on the broker
        earliest = await consumer.earliest_offsets(tp)
        return int(earliest.get(tp) or 0)

    async def take(self, batch: list[Any]) -> list[Any]:
        """The events of ``batch`` that continue their partitions without a hole, in order."""
        out: list[Any] = []
        back: dict[Any, int] = {}
        nxt = self.next
        epoch = self.epoch
        for ev in batch:
            msg = ev.message
            tp = msg.tp
            if tp in back:
                continue
            want = nxt.get(tp)
            if want is None:
                want = await self._start(tp)
                if self.epoch != epoch:
                    return []  # reassigned meanwhile: these records belong to the old generation
                nxt[tp] = want
            if msg.offset == want:
                out.append(ev)
                nxt[tp] = want + 1
                self.sought.pop(tp, None)
            elif msg.offset > want:
                back[tp] = want
            # msg.offset < want: a repeat of a record already taken
        now = time.monotonic()
        for tp, offset in back.items():
            if now - self.sought.get(tp, -self.RESEEK_S) >= self.RESEEK_S:
                await self._seek(tp, offset, now)
            # else: records fetched before the last seek; the sought ones follow
        return out

    async def retry(self) -> None:
        """Seek again every partition sought back more than :attr:`RESEEK_S` ago that has not
        delivered its expected offset since."""
        now = time.monotonic()
        assigned = self.app.consumer.assignment()
        for tp, when in list(self.sought.items()):
            if tp not in assigned:
                self.sought.pop(tp, None)
            elif now - when >= self.RESEEK_S and tp in self.next:
                await self._seek(tp, self.next[tp], now)

    async def _seek(self, tp: Any, offset: int, now: float) -> None:
        self.sought[tp] = now
        self.seeks += 1
        m.CONSUMER_RESEEKS.labels(tp.topic).inc()
        log.warning("%s[%d]: the consumer skipped offsets from %d; reading again from there",
                    tp.topic, tp.partition, offset)
        await self.app.consumer.seek(tp, offset)
