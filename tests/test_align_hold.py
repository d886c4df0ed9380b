"""Holding a raw partition back (``windows.align_ahead_seconds``), without a broker: which records
the ingest agent takes, leaves and enriches (:meth:`IngestService.process`), and how the consumer
is paused, sought and resumed around a hold (:class:`ContiguousInput`). The real brokers' run is
``tests/test_align.py``."""

from __future__ import annotations

import asyncio
import time
from collections import namedtuple
from types import SimpleNamespace
from typing import Any

import orjson

from warning.config import load_settings
from warning.core.pipeline import Pipeline
from warning.core.timeutil import iso
from warning.streams.align import EventTimeAligner
from warning.streams.app import IngestService
from warning.streams.contiguous import ContiguousInput
from warning.streams.state import FakeTable, StateTable

TP = namedtuple("TP", "topic partition")
A, B = TP("warning.raw.hotline", 0), TP("warning.raw.petition", 0)
T0 = 1_740_960_000.0  # 2025-03-03: long before the wall clock, so part of a backlog


class Sender:
    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []

    def add(self, *args: Any, **kw: Any) -> None:
        self.records.append(args)


def record(tp: TP, offset: int, ts: float | None, content: str = "小区门口垃圾无人清运") -> Any:
    value = b"{not json" if ts is None else orjson.dumps(
        {"id": f"GD{offset:06d}", "received_at": iso(ts), "street_code": "110105006", "type": "投诉",
         "category": "环境保护", "content": content})
    return SimpleNamespace(message=SimpleNamespace(tp=tp, topic=tp.topic, partition=tp.partition, offset=offset,
                                                   value=value, key=None, timestamp=ts))


def service() -> tuple[IngestService, list[str]]:
    pipe = Pipeline.from_settings(load_settings(None, env={}))
    svc = IngestService(pipe, StateTable(FakeTable()), partitions=1)
    svc.rekey, svc.dlq = Sender(), Sender()
    svc.aligner = EventTimeAligner(ahead_s=600.0)
    svc.reading = lambda: {A, B}
    enriched: list[str] = []
    text_signals = pipe.ingestor._text_signals

    def counting(texts: list[str]) -> Any:
        enriched.extend(texts)
        return text_signals(texts)

    pipe.ingestor._text_signals = counting  # type: ignore[method-assign]
    return svc, enriched


def test_a_partition_is_held_from_its_first_record_too_far_ahead_and_what_is_held_is_not_enriched():
    svc, enriched = service()
    svc.aligner.note(B, T0, now=__import__("time").monotonic())  # the petition partition is at T0
    batch = [record(A, 0, T0 + 100, "第一条"), record(A, 1, T0 + 700, "第二条"), record(A, 2, None),
             record(A, 3, T0 + 50, "第四条")]
    taken = svc.process("hotline", batch)
    assert [ev.message.offset for ev in taken] == [0]
    assert svc.holds == [(A, 1, T0 + 700)]
    assert len(svc.rekey.records) == 1 and svc.dlq.records == []  # the bad record after the hold comes again
    assert enriched == ["第一条"], "records left for later were enriched now"
    # a bad record before the hold is dead-lettered (and taken) as usual
    svc.holds = []
    taken = svc.process("hotline", [record(A, 0, None), record(A, 1, T0 + 900, "第二条")])
    assert [ev.message.offset for ev in taken] == [0] and len(svc.dlq.records) == 1
    assert svc.holds == [(A, 1, T0 + 900)]


def test_live_records_and_a_worker_without_others_are_never_held():
    import time

    svc, enriched = service()
    now = time.time()
    svc.aligner.note(B, now - 7200, now=time.monotonic())  # another partition two hours behind
    taken = svc.process("hotline", [record(A, 0, now - 5, "刚刚发生")])  # live: not part of a backlog
    assert [ev.message.offset for ev in taken] == [0] and svc.holds == [] and enriched == ["刚刚发生"]
    svc2, _ = service()  # nothing known of the other partitions: nothing to be ahead of
    assert len(svc2.process("hotline", [record(A, 0, T0 + 99999)])) == 1 and svc2.holds == []


def test_a_partition_assigned_that_has_delivered_nothing_yet_holds_the_others_for_a_while():
    """At the start of a backlog, the partition whose first fetch comes later: its event time is
    unknown, so nothing else of the backlog is taken (for at most START_S) until it delivers."""
    from warning.streams.align import START_S

    svc, enriched = service()
    al = svc.aligner
    t = time.monotonic()
    al.assigned([A, B])
    al.note(A, T0, now=t)  # the hotline partition delivered one record
    taken = svc.process("hotline", [record(A, 1, T0 + 60, "第二条")])  # the petition one: nothing yet
    assert taken == [] and svc.holds == [(A, 1, T0 + 60)] and enriched == []
    al.hold(A, 1, T0 + 60)
    assert al.ready({A, B}, now=t + 1) == [], "released before the other partition delivered"
    al.note(B, T0 + 30, now=t + 2)  # it delivers: the other goes on
    assert al.ready({A, B}, now=t + 2) == [A]
    al.release(A)
    # one that never delivers stops holding the others after START_S
    al2 = EventTimeAligner(ahead_s=600.0)
    al2.assigned([A, B])
    al2.note(A, T0, now=t)
    assert al2.ahead(A, T0 + 60, {A, B}, now=t + 1)  # the clock starts here, with reading
    assert al2.ahead(A, T0 + 60, {A, B}, now=t + START_S)
    assert not al2.ahead(A, T0 + 60, {A, B}, now=t + 1 + START_S + 0.1)
    al2.started(B)  # a record of it was taken (dead-lettered): its wait is over
    assert not al2.ahead(A, T0 + 60, {A, B}, now=t + 2)
    assert not al2.ahead(A, T0 + 60, {A}, now=t + 1), "a partition not being read (known empty) holds nothing"


def ev(offset: int, tp: TP = A) -> Any:
    """A Faust event of ``tp`` at ``offset`` (all ContiguousInput looks at)."""
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


def offs(evs: list[Any]) -> list[int]:
    return [e.message.offset for e in evs]


class Consumer:
    """The part of Faust's consumer ContiguousInput uses, recording pauses, resumes and seeks (a
    seek fails for an offset in ``fail_at``, or for a partition no longer assigned)."""

    def __init__(self) -> None:
        self._committed_offset = {A: 5}
        self.calls: list[tuple[str, Any]] = []
        self.seeks: list[tuple[Any, int]] = []
        self.assigned = {A, B}
        self.fail_at: set[int] = set()

    async def earliest_offsets(self, *tps: Any) -> dict:
        return {tp: 0 for tp in tps}

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))
        if tp not in self.assigned or offset in self.fail_at:
            raise RuntimeError("seek failed")

    def pause_partitions(self, tps: list[Any]) -> None:
        self.calls.append(("pause", [tp.partition for tp in tps]))

    def resume_partitions(self, tps: list[Any]) -> None:
        self.calls.append(("resume", [tp.partition for tp in tps]))

    def assignment(self) -> set:
        return self.assigned


def test_contiguous_input_keeps_a_held_partitions_records_and_hands_them_back_in_order():
    """A hold pauses the partition and keeps the records left and those still on their way, in
    offset order (a seek back made Faust deliver every record fetched ahead again); the release
    seeks it past them and resumes it, they are handed back until none is left, then the agent
    gets its records."""
    consumer = Consumer()
    c = ContiguousInput(SimpleNamespace(consumer=consumer))

    async def scenario() -> None:
        batch = await c.take([ev(5), ev(6), ev(7), ev(8)])
        assert offs(batch) == [5, 6, 7, 8]
        epoch = c.epoch
        assert c.hold(A, batch[2:], epoch)  # the agent took 5, 6 and left 7, 8
        assert consumer.seeks == []
        assert consumer.calls == [("pause", [0])]  # paused, not sought back
        # records on their way: kept in order (a repeat dropped), not handed to the agent
        assert offs(await c.take([ev(9), ev(8), ev(10)])) == []
        assert offs(c.held[A]) == [7, 8, 9, 10]
        n = len(consumer.calls)
        c.keep_paused()  # Faust may have put it back among the fetched ones
        assert consumer.calls[n:] == [("pause", [0])]
        assert c.unstash(A) == [] and not c.finish(A)  # not released yet
        # a rebalance or recovery began: released without a resume (Faust resumes it afterwards)
        await c.release(A, lambda: False)
        assert ("resume", [0]) not in consumer.calls
        assert offs(c.unstash(A, 2)) == [7, 8]  # a batch at a time; held again at 8: 8 goes first
        assert c.hold(A, [ev(8)], epoch) and offs(c.held[A]) == [8, 9, 10]
        await c.release(A, lambda: False)
        assert offs(c.unstash(A)) == [8, 9, 10]
        assert offs(await c.take([ev(11)])) == [] and offs(c.held[A]) == [11]  # still kept until finished
        assert not c.finish(A)
        # handed back 11, then held again at 11: kept first, before what comes after
        got = c.unstash(A)
        assert offs(got) == [11]
        n = len(consumer.calls)
        c.keep_paused()  # a released partition is not paused again
        assert len(consumer.calls) == n
        assert offs(await c.take([ev(12)])) == [] and c.hold(A, got, epoch)
        assert offs(c.held[A]) == [11, 12] and consumer.calls[n:] == [("pause", [0])]
        await c.release(A, lambda: True)
        assert consumer.calls[-1] == ("resume", [0])
        assert offs(c.unstash(A)) == [11, 12] and c.finish(A) and c.held == {}
        assert offs(await c.take([ev(13), ev(14)])) == [13, 14]  # to the agent again
        # sought only to the first record not kept, at each release (Faust dropped what the
        # consumer fetched of it while paused)
        assert consumer.seeks == [(A, 11), (A, 11), (A, 13)]
        # reassigned since the agent took its batch: no hold, nothing paused
        n = len(consumer.calls)
        assert not c.hold(A, [ev(15)], epoch - 1)
        assert len(consumer.calls) == n and c.held == {}
        # a held partition revoked before its release: forgotten, not resumed
        assert c.hold(A, [ev(15)], c.epoch)
        consumer.assigned = {B}
        n = len(consumer.calls)
        await c.release(A, lambda: True)
        assert len(consumer.calls) == n and c.held == {} and c.released == set()
        # a new assignment forgets what was kept (unacked: Kafka redelivers it)
        consumer.assigned = {A, B}
        assert c.hold(A, [ev(15)], c.epoch)
        await c.release(A, lambda: True)
        assert c.released == {A}
        c.reset()
        assert c.held == {} and c.released == set()
        # a released partition's records that continue count as progress: no reseek by the timer
        c.next[A] = 20
        assert c.hold(A, [], c.epoch)
        await c.release(A, lambda: True)
        c.sought[A] = time.monotonic() - 10 * c.RESEEK_S  # sought back long ago
        assert offs(await c.take([ev(20), ev(21)])) == [] and offs(c.held[A]) == [20, 21]
        n = len(consumer.seeks)
        await c.retry()
        assert len(consumer.seeks) == n and A not in c.sought
        # work on held records that fails (ContiguousInput.holding): what is kept is dropped, and
        # the partition is read again from its committed offset (reread), even at its end
        kept = c.unstash(A, 1)
        try:
            with c.holding(kept):
                raise RuntimeError("ingest failed")
        except RuntimeError:
            pass
        assert A not in c.next and c.held[A] == []
        await c.reread(A)
        assert c.next[A] == 5 and consumer.seeks[-1] == (A, 5)

    asyncio.run(scenario())


def test_a_held_partition_is_resumed_when_its_seek_fails_but_not_once_revoked():
    """A release whose seek fails (left paused, nothing would ever show the hole) still resumes
    a partition that is still assigned: its first record past the expected offset makes take()
    seek back. A partition revoked meanwhile is not resumed."""
    consumer = Consumer()
    consumer.fail_at = {7}
    c = ContiguousInput(SimpleNamespace(consumer=consumer))

    async def scenario() -> None:
        batch = await c.take([ev(5), ev(6)])
        assert c.hold(A, batch[1:], c.epoch)
        await c.release(A, lambda: True)  # sought to 7: fails
        assert consumer.seeks == [(A, 7)] and consumer.calls == [("pause", [0]), ("resume", [0])]
        assert offs(c.unstash(A)) == [6] and c.finish(A)
        # revoked while its seek was under way: not resumed (its next owner reads it)
        assert await c.take([ev(7)]) and c.hold(A, [], c.epoch)
        n = len(consumer.calls)

        async def revoked_seek(tp: Any, offset: int) -> None:
            consumer.assigned = {B}
            raise RuntimeError("revoked")

        consumer.seek = revoked_seek  # type: ignore[method-assign]
        await c.release(A, lambda: True)
        assert consumer.calls[n:] == []

    asyncio.run(scenario())
