"""Read the raw feeds in step by event time when they wait as a backlog.

A worker that starts behind (after an outage, or on topics a replay filled) reads each raw
partition as fast as Faust hands it over, record by record in turn. A rare feed (petitions: a few
records an hour per partition) then runs hours ahead in event time of a busy one (the hotline),
the detection's reorder buffer fills with the rare feeds' records, its bound
(``windows.max_buffered``) moves the watermark past the busy feed's, and those come late —
half of the events in ``bench/ingest.py``'s backlog of 56 hours, with alerts it should not have
raised. Kafka Streams solves this by picking, among a task's partitions, the record with the
lowest timestamp; here each raw partition of this worker that gets more than
``windows.align_ahead_seconds`` of event time ahead of the slowest one still being read is
*held*: the ingest agent stops at its first record that far ahead, leaves it and the rest unacked,
and the partition is paused, its records already fetched kept in order
(:class:`~warning.streams.contiguous.ContiguousInput`); when the slowest one has caught up, it is
resumed and the kept records are handed back before the rest.

"Still being read" means records are waiting in it (its high watermark is past the next offset to
take) and it delivered some in the last :data:`STALE_S` seconds: a partition at its end, or one
that stopped delivering, never holds the others back. A partition is compared with the others
only, never with itself, so of the held partitions the one whose first record left is the oldest
is always let go: a hold always ends. Only a record that is itself part of a backlog (older than
the wall clock by more than the allowed distance) is ever held: live records never wait, even
while an old replay is read from another topic. Only this worker's raw partitions are aligned:
several workers catching up each keep their own in step, not with each other.

>>> al = EventTimeAligner(ahead_s=600.0)
>>> al.note("hotline-0", 1000.0, now=0.0); al.note("petition-0", 1100.0, now=0.0)
>>> reading = {"hotline-0", "petition-0"}
>>> al.ahead("petition-0", 9000.0, reading, now=0.1)   # 8000 s past the slowest being read
True
>>> al.hold("petition-0", offset=42, ts=9000.0)
>>> al.ready(reading, now=0.2)
[]
>>> al.note("hotline-0", 8500.0, now=0.3)   # the hotline caught up to within 600 s
>>> al.ready(reading, now=0.3)
['petition-0']
>>> al.release("petition-0", now=0.3); al.held
{}
>>> al.floor({"petition-0"}, now=0.3 + STALE_S - 0.1)   # at its first record left, for STALE_S
9000.0
>>> al.floor({"petition-0"}, now=0.3 + STALE_S + 0.1) is None   # from its release on: silent, stale
True
"""

from __future__ import annotations

from typing import Any, Collection

#: a partition that delivered nothing for this long (wall clock) no longer holds the others back
STALE_S = 5.0
#: a partition assigned with records waiting that has delivered none yet holds the others back
#: for at most this long (wall clock) from the first time it is asked about (once reading starts)
START_S = 10.0


class EventTimeAligner:
    """Which raw partitions to hold back, and when to let them go (see the module docstring).

    Parameters
    ----------
    ahead_s
        How far (event time, seconds) a partition may run ahead of the slowest partition still
        being read before it is held.
    """

    def __init__(self, ahead_s: float) -> None:
        self.ahead_s = ahead_s
        self.last_ts: dict[Any, float] = {}  # partition → event time of the newest record taken
        self.last_wall: dict[Any, float] = {}  # partition → when it last delivered a record (monotonic)
        self.held: dict[Any, tuple[int, float]] = {}  # partition → (offset, event time) of its first record left
        #: partition assigned, nothing taken yet → since when it is waited for (monotonic; None
        #: until first asked about: the clock starts with reading, after the tables' recovery)
        self.since: dict[Any, float | None] = {}
        self.holds = 0

    def reset(self) -> None:
        """Partitions (re)assigned: nothing known, nothing held (Faust resumes what it paused)."""
        self.last_ts.clear()
        self.last_wall.clear()
        self.held.clear()
        self.since.clear()

    def assigned(self, tps: Collection[Any]) -> None:
        """``tps`` were assigned (after :meth:`reset`): until one delivers its first record, for at
        most :data:`START_S` from the first time it is asked about (reading starts after the
        tables' recovery), its event time is unknown and, if it is being read, counts as the
        slowest — at the start of a backlog, a partition whose first fetch comes seconds after the
        others' would otherwise find them hours ahead (the late events of ``bench/ingest.py``'s
        backlog were the first of lanes that started late)."""
        for tp in tps:
            self.since.setdefault(tp, None)

    def started(self, tp: Any) -> None:
        """``tp`` delivered a record (one :meth:`note` does not see: a dead-lettered one)."""
        self.since.pop(tp, None)

    def note(self, tp: Any, ts: float, now: float) -> None:
        """A record of ``tp`` at event time ``ts`` was taken."""
        if ts > self.last_ts.get(tp, float("-inf")):
            self.last_ts[tp] = ts
        self.last_wall[tp] = now
        self.since.pop(tp, None)

    def floor(self, reading: Collection[Any], now: float) -> float | None:
        """The event time of the slowest partition still being read (None: none known)."""
        low: float | None = None
        for tp in reading:
            h = self.held.get(tp)
            if h is not None:
                t = h[1]
            else:
                t = self.last_ts.get(tp)
                if t is None:
                    if tp in self.since:
                        start = self.since[tp]
                        if start is None:
                            start = self.since[tp] = now
                        if now - start <= START_S:
                            return float("-inf")  # not started yet: nothing may run ahead of it
                    continue
                if now - self.last_wall.get(tp, now) > STALE_S:
                    continue
            if low is None or t < low:
                low = t
        return low

    def ahead(self, tp: Any, ts: float, reading: Collection[Any], now: float) -> bool:
        """Whether a record of ``tp`` at ``ts`` is too far ahead of the slowest other partition
        being read to be taken now."""
        if self.ahead_s <= 0:
            return False
        low = self.floor(set(reading) - {tp}, now)
        return low is not None and ts > low + self.ahead_s

    def hold(self, tp: Any, offset: int, ts: float) -> None:
        self.held[tp] = (offset, ts)
        self.holds += 1

    def ready(self, reading: Collection[Any], now: float) -> list[Any]:
        """The held partitions that may be read again: the first record left is within reach of
        the slowest *other* partition being read (a partition is never held back by itself — a
        quiet night between two of its own records is no reason to wait)."""
        if not self.held:
            return []
        pending = set(reading) | set(self.held)
        out = []
        for tp, (_, ts) in self.held.items():
            low = self.floor(pending - {tp}, now)
            if low is None or ts <= low + self.ahead_s:
                out.append(tp)
        return out

    def release(self, tp: Any, now: float | None = None) -> None:
        """Let ``tp`` go on. Until it delivers again it stands at its first record left (not at the
        last one taken before it, further back): released at once with another, it would otherwise
        seem behind, and the other, handed back its records, would be held again at once — the
        kill -9 restart test's backlog was held 302 times, 202 times with this (session 9's
        measurement)."""
        h = self.held.pop(tp, None)
        if h is not None and now is not None:
            if h[1] > self.last_ts.get(tp, float("-inf")):
                self.last_ts[tp] = h[1]
            self.last_wall[tp] = now
