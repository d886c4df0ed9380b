"""The stream state layer (warning/streams/state.py) and the ingest checkpoint order, without a broker:
a seen-mark is written only after the event it stands for is delivered."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.events import EVENT_DECODER
from warning.core.pipeline import Pipeline
from warning.streams import state
from warning.streams.app import IngestService
from warning.streams.state import Checkpoint, DeltaLog, FakeTable, StateTable

from samples import enc, hotline


def test_delta_log_restore_and_compaction():
    t = StateTable(FakeTable())
    log = DeltaLog(t, "dedup.hotline", 1)
    log.append([["a", 100.0]], expires=100.0)
    log.append([["b", 200.0], ["c", 300.0]], expires=300.0)
    DeltaLog(t, "dedup.petition", 1).append([["x", 1.0]], expires=1.0)  # another store: untouched
    assert log.compact(before=150.0) == 1
    assert t.table.changelog[-1] == (1, "dedup.hotline|1|1", None)  # a tombstone, on the row's partition
    again = DeltaLog(t, "dedup.hotline", 1)
    assert again.replay() == [[["b", 200.0], ["c", 300.0]]]
    again.append([["d", 400.0]], expires=400.0)
    assert sorted(t.rows("dedup.hotline", 1)) == ["2", "3"]  # numbering continues after a restore
    assert DeltaLog(t, "dedup.hotline", 0).replay() == []


def test_checkpoint_writes_state_only_after_every_output_is_delivered():
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        ck, log = Checkpoint("t"), []
        first, late = loop.create_future(), loop.create_future()
        ck.produced(first)

        def deliver_first() -> None:
            log.append("first delivered")
            ck.produced(late)  # produced while the checkpoint waits: awaited too
            first.set_result(None)
            loop.call_later(0.01, lambda: (log.append("late delivered"), late.set_result(None)))

        loop.call_soon(deliver_first)
        return await ck.commit(lambda: log + ["state written"])

    assert asyncio.run(scenario()) == ["first delivered", "late delivered", "state written"]


def test_checkpoint_failed_delivery_writes_no_state():
    async def scenario() -> None:
        ck = Checkpoint("t")
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("broker said no"))
        ck.produced(fut)
        await ck.commit(lambda: pytest.fail("state written although the output failed"))

    with pytest.raises(RuntimeError, match="broker said no"):
        asyncio.run(scenario())


# ---------------------------------------------------------------------- the ingest service
class FakeSender:
    """Collects records; ``take``/``send`` hand them over as undelivered futures the test resolves."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.inflight: list[tuple[asyncio.Future, list[bytes]]] = []
        self.delivered: list[bytes] = []

    def add(self, key: bytes | None, value: bytes, timestamp_ms: int | None = None, headers: list | None = None) -> None:
        self.pending.append(value)

    def take(self) -> list[bytes]:
        b, self.pending = self.pending, []
        return b

    async def send(self, batch: list[bytes]) -> list[asyncio.Future]:
        if not batch:
            return []
        fut = asyncio.get_running_loop().create_future()
        self.inflight.append((fut, batch))
        return [fut]

    def deliver(self) -> None:
        for fut, values in self.inflight:
            self.delivered += values
            fut.set_result(None)
        self.inflight = []


def raw_batch(ids: range, values: list[bytes] | None = None) -> list:
    """Records keyed by id, each on its id's home partition (of 2), as a Java producer writes them."""
    from warning.core.pipeline import partition_for_bytes

    return [SimpleNamespace(message=SimpleNamespace(value=values[n] if values else enc(hotline(i)), timestamp=None,
                                                    partition=partition_for_bytes(f"h{i}".encode(), 2),
                                                    topic="raw.hotline", offset=i, key=f"h{i}".encode()))
            for n, i in enumerate(ids)]


def ingest_service(table: FakeTable) -> tuple[IngestService, FakeSender]:
    from warning.config import load_settings

    settings = load_settings(None, env={})
    pipe = Pipeline(ingest=settings.ingest, detect=DetectSettings(), alerts=AlertSettings(), partitions=2)
    svc = IngestService(pipe, StateTable(table), partitions=2)
    svc.sender, svc.rekey, svc.dlq = FakeSender(), FakeSender(), FakeSender()
    return svc, svc.sender


def ingest(svc: IngestService, batch: list) -> None:
    """A raw batch through both ingest stages: the raw agent hands every event on to its home
    partition of the rekey topic; the rekey agent (here at once) dedups them into events."""
    from warning.core.pipeline import partition_for_bytes

    svc.process("hotline", batch)
    handed = svc.rekey.take()
    svc.rekey.delivered += handed
    msgs = []
    for off, value in enumerate(handed):
        rid = EVENT_DECODER.decode(value).id
        msgs.append(SimpleNamespace(message=SimpleNamespace(value=value, timestamp=None, topic="rekey", offset=off,
                                                            partition=partition_for_bytes(rid.encode(), 2), key=rid.encode())))
    svc.process_rekeyed(msgs)


def test_ingest_marks_ids_seen_only_after_their_events_are_delivered():
    table = FakeTable()
    svc, sender = ingest_service(table)

    async def scenario() -> None:
        ingest(svc, raw_batch(range(5)))
        commit = asyncio.create_task(svc.commit())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not commit.done() and sender.inflight
        assert table.changelog == [], "seen-marks written before the events were delivered"
        sender.deliver()
        await commit

    asyncio.run(scenario())
    assert len(sender.delivered) == 5
    rows = {p: StateTable(table).rows("dedup.hotline", p) for p in (0, 1)}
    assert sum(len(r) for r in rows.values()) == len(table.changelog) == len([r for r in rows.values() if r])
    s = svc.pipe.stats
    assert (s.records, s.accepted, s.duplicates) == (5, 5, 0)


def test_dead_letters_are_delivered_before_the_batch_is_acked():
    """A rejected record's dead letter is part of the checkpoint: commit (after which the agent
    acks) does not return before it is on the broker."""
    table = FakeTable()
    svc, _sender = ingest_service(table)

    async def scenario() -> None:
        ingest(svc, raw_batch(range(2), values=[b"{not json", enc(hotline(1))]))
        commit = asyncio.create_task(svc.commit())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not commit.done(), "the batch could be acked before its dead letter was delivered"
        svc.dlq.deliver()
        svc.sender.deliver()
        await commit

    asyncio.run(scenario())
    assert svc.dlq.delivered == [b"{not json"]


def test_crash_between_events_and_marks_loses_nothing():
    """The fault hook of the checkpoint fires after the events are delivered and before the marks
    are written; a restarted service (same table) must pass the redelivered records on again."""
    table = FakeTable()
    svc, sender = ingest_service(table)

    class Crash(Exception):
        pass

    async def crash() -> None:
        raise Crash

    async def first_run() -> None:
        ingest(svc, raw_batch(range(5)))
        loop = asyncio.get_running_loop()
        loop.call_soon(sender.deliver)
        await svc.commit()

    state.FAILPOINTS["ingest.between_writes"] = crash
    try:
        with pytest.raises(Crash):
            asyncio.run(first_run())
    finally:
        state.FAILPOINTS.clear()
    first = {EVENT_DECODER.decode(v).id for v in sender.delivered}

    svc2, sender2 = ingest_service(table)  # restart: the table is what the changelog holds

    async def second_run() -> None:
        ingest(svc2, raw_batch(range(5)))  # Kafka redelivers the unacked batch
        asyncio.get_running_loop().call_soon(sender2.deliver)
        await svc2.commit()
        ingest(svc2, raw_batch(range(5)))  # now they are duplicates
        await svc2.commit()

    asyncio.run(second_run())
    again = {EVENT_DECODER.decode(v).id for v in sender2.delivered}
    assert first == again == {f"h{i}" for i in range(5)}
    s = svc2.pipe.stats
    assert (s.records, s.accepted, s.duplicates) == (10, 5, 5)


# ---------------------------------------------------------------------- the detect service
class FakeAlertsTopic:
    def __init__(self) -> None:
        self.inflight: list[asyncio.Future] = []

    def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.inflight.append(fut)
        return fut

    def deliver(self) -> None:
        for fut in self.inflight:
            fut.set_result(None)
        self.inflight = []


def test_detect_checkpoint_writes_state_only_after_its_alerts_are_delivered():
    """The meta row says "applied up to offset N": durable before an alert of those events, a
    crash would lose the alert (the restarted engine skips the events as applied)."""
    from warning.config import load_settings
    from warning.core.events import EVENT_ENCODER
    from warning.streams.detect import DetectService

    from samples import petition

    settings = load_settings(None, env={})
    pipe = Pipeline.from_settings(settings)
    table, topic = FakeTable(), FakeAlertsTopic()
    svc = DetectService(settings, StateTable(table), topic, pipe)
    ev = pipe.ingestor.parse("petition", enc(petition(1, people_count=60)))
    batch = [SimpleNamespace(message=SimpleNamespace(partition=0, offset=0, value=EVENT_ENCODER.encode(ev)))]

    async def scenario() -> None:
        svc.process(batch)
        assert topic.inflight, "a group petition alerts on arrival"
        ck = asyncio.create_task(svc.checkpoint())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not ck.done() and table.changelog == [], "state written before the alert was delivered"
        topic.deliver()
        await ck

    asyncio.run(scenario())
    st = StateTable(table)
    assert "engine" in st.rows("meta", 0) and ev.key in st.rows("street", 0)


def test_detect_counts_an_event_produced_twice_once():
    """Ingest is at-least-once: after a crash the same event can be on warning.events twice. The
    detection state counts it once — also across a restart — and two copies redelivered into a
    restored reorder buffer do not crash it (once: TypeError comparing two Events in the heap)."""
    from warning.config import load_settings
    from warning.core.events import EVENT_ENCODER
    from warning.core.pipeline import Pipeline
    from warning.streams.detect import DetectService

    settings = load_settings(None, env={})
    pipe = Pipeline.from_settings(settings)
    table = FakeTable()
    evs = [pipe.ingestor.parse("hotline", enc(hotline(i))) for i in range(3)]
    copies = [evs[0], evs[1], evs[0], evs[2], evs[1]]  # two repeats, later offsets

    def batch(items, start=0):
        return [SimpleNamespace(message=SimpleNamespace(partition=0, offset=start + i, value=EVENT_ENCODER.encode(e)))
                for i, e in enumerate(items)]

    def run(svc, b) -> None:
        async def go():
            svc.process(b)
            FakeAlertsTopic.deliver(svc.alerts_topic)
            await svc.checkpoint()
        asyncio.run(go())

    svc = DetectService(settings, StateTable(table), FakeAlertsTopic(), pipe)
    run(svc, batch(copies))
    e = svc.engines[0]
    assert len(e.buffer) == 3, "a repeated event entered the reorder buffer"
    # restart: everything is redelivered (nothing released yet, so nothing was acked)
    svc2 = DetectService(settings, StateTable(table), FakeAlertsTopic(), Pipeline.from_settings(settings))
    run(svc2, batch(copies))
    assert sorted(x[1] for x in svc2.engines[0].buffer) == sorted(ev.event_id for ev in evs)
    run(svc2, batch([evs[2]], start=5))  # and once more, after the restart
    assert len(svc2.engines[0].buffer) == 3
