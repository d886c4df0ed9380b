"""HeldIngest without a broker: partitions held by event time while a backlog is read, their kept
records handed back in one checkpoint per round and acked on their own feed's stream, a paused
partition resumed before its records go to the agent again, a failed hand-back read again from
the committed offsets. The real brokers' run is ``tests/test_align.py``."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import orjson

from warning.core.timeutil import iso
from warning.streams.contiguous import ContiguousInput
from warning.streams.handback import HeldIngest

from test_align_hold import TP, T0, Consumer, service
from test_align_hold import record as hotline_record

A = TP("warning.raw.hotline", 0)  # committed offset 5 (Consumer)
C = TP("warning.raw.hotline", 1)
B = TP("warning.raw.petition", 0)
FEEDS = {"warning.raw.hotline": "hotline", "warning.raw.petition": "petition"}


def record(tp: TP, offset: int, ts: float) -> Any:
    """A valid record of ``tp``'s feed at event time ``ts``."""
    if FEEDS[tp.topic] == "hotline":
        return hotline_record(tp, offset, ts)
    ev = hotline_record(tp, offset, ts)
    ev.message.value = orjson.dumps({"id": f"XF{offset:06d}", "received_at": iso(ts), "street_code": "110105006",
                                     "form": "来信", "people_count": 1, "category": "劳动社保",
                                     "content": "工资拖欠三个月"})
    return ev


class Stream:
    def __init__(self, name: str, log: list[Any]) -> None:
        self.name, self.log = name, log

    async def ack(self, ev: Any) -> None:
        self.log.append((self.name, ev.message.tp, ev.message.offset))


class BrokerConsumer(Consumer):
    """Every partition has records waiting (high watermark 100)."""

    def __init__(self) -> None:
        super().__init__()
        self.assigned = {A, B, C}

    def highwater(self, tp: Any) -> int:
        return 100


def held_ingest(keep_max: int = 2000) -> tuple[HeldIngest, ContiguousInput, BrokerConsumer, list[Any], dict]:
    svc, _ = service()
    consumer = BrokerConsumer()
    app = SimpleNamespace(consumer=consumer, in_recovery=False)
    c = ContiguousInput(app, keep_max=keep_max)
    log: list[Any] = []

    async def commit_then_ack(taken: list[tuple[Any, list[Any]]]) -> None:
        log.append(("commit", sorted((s.name, ev.message.offset) for s, b in taken for ev in b)))
        for stream, batch in taken:
            for ev in batch:
                await stream.ack(ev)

    hi = HeldIngest(app, svc, c, svc.aligner, FEEDS, batch_size=1000, commit_then_ack=commit_then_ack)
    streams = {"hotline": Stream("hotline", log), "petition": Stream("petition", log)}
    hi.streams.update(streams)
    return hi, c, consumer, log, streams


async def agent(hi: HeldIngest, c: ContiguousInput, feed: str, stream: Stream, recs: list[Any]) -> None:
    """What an ingest agent does with a batch Faust gives it."""
    batch = await c.take(recs)
    if batch:
        await hi.handle([(feed, stream, batch)])
    await hi.release_ready()


def test_two_feeds_held_then_handed_back_in_one_checkpoint_each_acked_on_its_own_stream():
    hi, c, consumer, log, s = held_ingest()

    async def scenario() -> None:
        await agent(hi, c, "hotline", s["hotline"], [record(C, 0, T0)])
        # the petition partition runs ahead of the hotline's (align 600 s): held from B1 on
        await agent(hi, c, "petition", s["petition"], [record(B, 0, T0 + 100), record(B, 1, T0 + 5000),
                                                       record(B, 2, T0 + 5100)])
        assert set(c.held) == {B} and [e.message.offset for e in c.held[B]] == [1, 2]
        await agent(hi, c, "hotline", s["hotline"], [record(A, 5, T0 + 50), record(A, 6, T0 + 4800)])
        assert set(c.held) == {A, B}  # A6 is ahead of C too
        log.clear()
        # C catches up: A and B are let go and handed back together
        await agent(hi, c, "hotline", s["hotline"], [record(C, 1, T0 + 4700)])
        assert log == [
            ("commit", [("hotline", 1)]), ("hotline", C, 1),  # C's own batch
            ("commit", [("hotline", 6), ("petition", 1), ("petition", 2)]),  # one checkpoint for both
            ("hotline", A, 6), ("petition", B, 1), ("petition", B, 2),  # (partitions in sorted order)
        ]
        assert c.held == {} and c.released == set() and hi.aligner.held == {}
        assert consumer.calls == [] and consumer.seeks == []  # fetched on: never paused nor sought
        # their records go to the agent again
        assert [e.message.offset for e in await c.take([record(B, 3, T0 + 5200)])] == [3]

    asyncio.run(scenario())


def test_a_partition_paused_while_handing_back_is_resumed_before_it_reads_on():
    hi, c, consumer, log, s = held_ingest(keep_max=2)

    async def scenario() -> None:
        await agent(hi, c, "hotline", s["hotline"], [record(A, 5, T0)])
        await agent(hi, c, "petition", s["petition"], [record(B, 0, T0 + 100), record(B, 1, T0 + 5000),
                                                       record(B, 2, T0 + 5100)])
        assert B in c.paused and consumer.calls[0] == ("pause", [0])  # it kept keep_max
        assert all(call == ("pause", [0]) for call in consumer.calls)  # (and kept paused: keep_paused)
        hi.aligner.note(A, T0 + 4900, now=time.monotonic())  # the hotline caught up
        await hi._release()
        assert B in c.released and consumer.seeks == [(B, 3)] and consumer.calls[-1] == ("resume", [0])
        # more of it fetched before its kept records are handed back: paused again
        assert await c.take([record(B, 3, T0 + 5150), record(B, 4, T0 + 5160)]) == []
        assert B in c.paused
        log.clear()
        await hi.release_ready()
        assert log[0] == ("commit", [("petition", 1), ("petition", 2), ("petition", 3), ("petition", 4)])
        # resumed from the first record not kept, before it reads on
        assert consumer.seeks[-1] == (B, 5) and consumer.calls[-1] == ("resume", [0])
        assert c.held == {} and c.paused == set()

    asyncio.run(scenario())


def test_a_failed_hand_back_acks_nothing_and_reads_the_partitions_again():
    hi, c, consumer, log, s = held_ingest()

    async def scenario() -> None:
        await agent(hi, c, "hotline", s["hotline"], [record(C, 0, T0)])
        await agent(hi, c, "petition", s["petition"], [record(B, 0, T0 + 100), record(B, 1, T0 + 5000)])
        await agent(hi, c, "hotline", s["hotline"], [record(A, 5, T0 + 50), record(A, 6, T0 + 4800)])
        assert set(c.held) == {A, B}
        process = hi.service.process

        def failing(source: str, batch: list[Any]) -> list[Any]:
            if any(ev.message.tp == B for ev in batch):
                raise RuntimeError("ingest failed")
            return process(source, batch)

        hi.service.process = failing
        log.clear()
        hi.aligner.note(C, T0 + 4700, now=time.monotonic())
        await hi.release_ready()
        assert log == []  # no checkpoint, no ack: Kafka redelivers them
        # both partitions of the failed call are read again from their committed offsets
        assert sorted(consumer.seeks) == [(A, 5), (B, 0)] and c.next[A] == 5 and c.next[B] == 0
        assert c.held == {} and c.released == set()  # nothing kept: they read on from there

    asyncio.run(scenario())
