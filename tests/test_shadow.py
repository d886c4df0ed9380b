"""A partition's checkpoint is all or nothing however many record batches it takes
(warning/streams/shadow.py): cut anywhere, a restore reads the previous checkpoint or the new one,
never a mix; the record batches of a large checkpoint wait for its rows before its commit row."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace
from typing import Any, Optional

import faust
import pytest

from warning.streams.state import CheckpointAbandoned, FakeTable, StateTable

STORES = ("street", "seen", "meta")


def compacted(records: list[tuple[int, str, Optional[bytes]]]) -> FakeTable:
    """A table recovered from ``records`` (what a changelog topic holds, compacted or not)."""
    t = FakeTable()
    for _, k, v in records:
        if v is None:
            t.data.pop(k, None)
        else:
            t.data[k] = v
    return t


def snapshot(st: StateTable, p: int) -> dict[str, dict[str, bytes]]:
    return {s: st.rows(s, p) for s in STORES}


def random_checkpoint(st: StateTable, p: int, rng: random.Random, committed: dict, writes: int,
                      value: Any) -> dict[str, dict[str, bytes]]:
    """Random puts (``value(rng)``) and deletes of a few rows in one checkpoint of ``p``; returns
    the rows expected once it is committed."""
    want = {s: dict(rows) for s, rows in committed.items()}
    with st.atomic(p):
        for _ in range(rng.randint(1, writes)):
            store, row = rng.choice(STORES), f"s{rng.randrange(8)}"
            if rng.random() < 0.3:
                st.delete(store, p, row)
                want[store].pop(row, None)
            else:
                val = value(rng)
                st.put(store, p, row, val)
                want[store][row] = val
    return want


def test_a_checkpoint_cut_at_any_record_restores_the_previous_checkpoint_or_the_new_one():
    """Random checkpoints of puts and deletes (re-puts of deleted rows, rows of the unversioned
    layout an older version wrote, several partitions), each followed by a crash at a random
    record; the next owner restores from the changelog as it stands and goes on. After every
    crash the restored rows equal the last checkpoint whose commit row is in — row for row."""
    rng = random.Random(13)
    p = 2
    records: list[tuple[int, str, Optional[bytes]]] = []
    # an older version's rows (no versions, no commit row), and another partition's
    records += [(p, f"street|{p}|s{i}", b"old%d" % i) for i in range(4)] + [(p, f"meta|{p}|engine", b"old")]
    records += [(3, "street#0|3|s1", b"\x01" + bytes(8) + b"other")]
    committed = {"street": {f"s{i}": b"old%d" % i for i in range(4)}, "seen": {}, "meta": {"engine": b"old"}}
    torn = restores = 0
    for n in range(300):
        owner = StateTable(compacted(records))
        assert snapshot(owner, p) == committed, f"checkpoint {n}: the restore is not the last committed checkpoint"
        restores += 1
        for _ in range(rng.randint(1, 4)):  # this owner's checkpoints until it crashes
            before = len(owner.table.changelog)
            want = random_checkpoint(owner, p, rng, committed, 8, lambda r: b"v%d" % r.randrange(10**6))
            written = owner.table.changelog[before:]
            assert snapshot(owner, p) == want, "the owner's own view after its checkpoint"
            commit_at = next(i for i, (_, k, _) in enumerate(written) if k.startswith("~commit|"))
            if rng.random() < 0.4:  # killed while the checkpoint is written
                cut = rng.randrange(len(written) + 1)
                records += written[:cut]
                if cut > commit_at:
                    committed = want
                else:
                    torn += 1
                break
            records += written
            committed = want
    assert torn > 50 and restores == 300
    assert StateTable(compacted(records)).rows("street", 3) == {"s1": b"other"}, "another partition's rows"


def test_deleted_rows_leave_no_versions_behind():
    """A deleted row's versions are tombstoned once its deletion is committed, so delta rows (a
    new one every checkpoint, deleted past the dedup horizon) do not pile up in the table."""
    st = StateTable(FakeTable())
    for n in range(50):
        with st.atomic(0):
            st.put("seen", 0, str(n), b"ids")
            if n >= 3:
                st.delete("seen", 0, str(n - 3))
    keys = sorted(st.table.data)
    assert len(keys) <= 2 * 4 + 1, keys  # three live rows, a deleted one (two versions at most each) + the commit row
    assert sorted(st.rows("seen", 0), key=int) == ["47", "48", "49"]


def _faust_table(batch_size: int) -> Any:
    app = faust.App(f"shadow-test-{batch_size}", producer_max_batch_size=batch_size)
    return SimpleNamespace(app=app, key_type=str, value_type=bytes, key_serializer=None, value_serializer=None,
                           changelog_topic=SimpleNamespace(get_topic_name=lambda: "t-changelog"), data={},
                           send_changelog=lambda *a: pytest.fail("sent row by row"))


def test_a_small_checkpoint_is_one_batch_and_a_large_one_commits_after_its_rows():
    st = StateTable(_faust_table(16384))
    with st.atomic(3):
        st.put("street", 3, "a", b"x" * 100)
        st.put("meta", 3, "engine", b"m")
    assert [(b.partition, b.n, b.phase) for b in st._pending] == [(3, 3, 0)], "rows and commit row: one batch"
    st._pending.clear()
    with st.atomic(3):
        for i in range(40):
            st.put("street", 3, f"s{i:02d}", b"x" * 60_000)  # 2.4 MB: more than one batch may hold
        st.put("meta", 3, "engine", b"m2")
    parts = [(b.n, b.phase) for b in st._pending]
    assert len(parts) >= 3 and all(ph == 0 for _, ph in parts[:-1]) and parts[-1] == (1, 1), parts
    assert sum(n for n, _ in parts) == 41 + 1 + 0, "40 streets, the meta row, the commit row"
    assert all(b.builder.size() <= 1_000_000 for b in st._pending), "a batch over Kafka's default limit"
    # a broker that needs one record per batch (Tansu): the rows one by one, then the commit row
    st1 = StateTable(_faust_table(1))
    with st1.atomic(0):
        st1.put("meta", 0, "engine", b"m")
        st1.put("street", 0, "a", b"s")
    assert [(b.n, b.phase) for b in st1._pending] == [(1, 0), (1, 0), (1, 1)]


class _Producer:
    """Records the order of send_batch calls; deliveries resolve when the test says so."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []  # (partition, records)
        self.futures: list[asyncio.Future] = []

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.sent.append((partition, builder.record_count()))
        self.futures.append(fut)
        return fut

    def deliver(self) -> None:
        for i, f in enumerate(self.futures):
            if not f.done():
                f.set_result(SimpleNamespace(topic_partition=None, offset=i))


def _fake_state(batch_size: int = 16384) -> tuple[StateTable, "_Producer"]:
    table = _faust_table(batch_size)
    prod = _Producer()
    table.app.producer = SimpleNamespace(_ensure_producer=lambda: prod)
    table.data = type("Store", (dict,), {"set_persisted_offset": lambda self, *a: None})()
    return StateTable(table), prod


def test_the_commit_row_is_sent_only_once_the_rows_are_delivered_and_not_when_fenced():
    """The fence is looked at after the rows are delivered (a rebalance that starts while they are
    on their way stops the commit row), and an abandoned checkpoint leaves the table's data as the
    changelog has it: the rows sent, not the commit row."""
    async def scenario(fenced_at_delivery: bool) -> tuple[list, Any, StateTable]:
        st, prod = _fake_state(1)
        fenced = False
        with st.atomic(0):
            st.put("street", 0, "a", b"s")
            st.put("meta", 0, "engine", b"m")
        task = asyncio.create_task(st.send_pending(lambda: not fenced))
        for _ in range(10):
            await asyncio.sleep(0)
        sent_before = list(prod.sent)
        fenced = fenced_at_delivery  # the rebalance starts while the rows are on their way
        prod.deliver()
        try:
            await task
            err = None
        except CheckpointAbandoned as e:
            err = e
        prod.deliver()
        return [sent_before, prod.sent], err, st

    (before, after), err, st = asyncio.run(scenario(False))
    assert before == [(0, 1), (0, 1)], "the commit row went out before the rows were delivered"
    assert after == [(0, 1)] * 3 and err is None
    assert st.rows("meta", 0) == {"engine": b"m"}
    (before, after), err, st = asyncio.run(scenario(True))
    assert after == [(0, 1)] * 2 and isinstance(err, CheckpointAbandoned), "a fenced checkpoint committed"
    assert "~commit|0" not in st.table.data and snapshot(st, 0) == {s: {} for s in STORES}, \
        "the abandoned commit row is in the worker's data, not in the changelog"


def test_a_checkpoint_waits_for_the_previous_one_and_a_lost_batch_is_reported():
    """A checkpoint tombstones what the previous one superseded, so none of its records leaves
    before every batch of the previous one is delivered; a batch that is not delivered raises in
    the next checkpoint and calls ``on_delivery_failure`` (the worker exits: nothing acked)."""
    async def scenario() -> None:
        st, prod = _fake_state()
        failures: list[BaseException] = []
        st.on_delivery_failure = failures.append
        with st.atomic(0):
            st.put("street", 0, "a", b"1")
        await st.send_pending()
        with st.atomic(0):
            st.put("street", 0, "a", b"2")
        second = asyncio.create_task(st.send_pending())
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(prod.sent) == 1, "the next checkpoint went out before the previous one was delivered"
        prod.futures[0].set_exception(RuntimeError("broker gone"))
        with pytest.raises(RuntimeError, match="broker gone"):
            await second
        assert len(prod.sent) == 1 and [str(e) for e in failures] == ["broker gone"]
        # a wait cancelled (a graceful stop's timeout) does not cancel the delivery it waited for
        st2, prod2 = _fake_state()
        st2.on_delivery_failure = failures.append
        with st2.atomic(0):
            st2.put("street", 0, "a", b"1")
        await st2.send_pending()
        with st2.atomic(0):
            st2.put("street", 0, "a", b"2")
        waiting = asyncio.create_task(st2.send_pending())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not prod2.futures[0].cancelled()
        prod2.futures[0].set_exception(RuntimeError("later"))
        await asyncio.sleep(0)
        assert [str(e) for e in failures] == ["broker gone", "later"], "a lost batch went unnoticed"

    asyncio.run(scenario())


def test_a_worker_exits_when_its_detection_state_is_not_delivered(monkeypatch):
    """Wiring: the worker's detection table calls ``os._exit(EXIT_CHECKPOINT_FAILED)`` (no ack,
    no offset commit; the next owner restores the last committed checkpoint)."""
    from warning.config import load_settings
    from warning.streams import detect
    from warning.streams.app import create_app
    from warning.streams.state import EXIT_CHECKPOINT_FAILED

    exits: list[int] = []
    monkeypatch.setattr(detect.os, "_exit", exits.append)
    app = create_app(load_settings(None, env={}))
    state = app.warning_detect.state
    assert state.on_delivery_failure is not None
    state.on_delivery_failure(RuntimeError("x"))
    assert exits == [EXIT_CHECKPOINT_FAILED]


class _Log:
    """A fake producer in front of a fake changelog: a batch is appended whole when handed over,
    delivered at once; ``records`` is the changelog."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.records: list[tuple[int, str, Optional[bytes]]] = []
        self.batches: list[tuple[int, int]] = []  # (first record, records) of each batch handed over

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future:
        from aiokafka.record.memory_records import MemoryRecords

        batch = MemoryRecords(bytes(builder._build())).next_batch()
        self.batches.append((len(self.records), builder.record_count()))
        for r in batch:
            self.records.append((partition, self.app.serializers.loads_key(str, r.key, serializer=None), r.value))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(SimpleNamespace(topic_partition=None, offset=len(self.records) - 1))
        return fut


@pytest.mark.parametrize("batch_size", [1, 700, 16384])
def test_checkpoints_in_record_batches_cut_abandoned_or_whole_restore_the_last_committed_one(batch_size):
    """As above, through the producer's record batches (one record each, as on Tansu; tiny ones, so
    a checkpoint takes several; Faust's default): a worker is killed after a random batch, or its
    checkpoint is abandoned (a rebalance started while the rows were sent) and it goes on with the
    data it has in memory. The changelog always restores the last committed checkpoint, and a
    worker that goes on sees exactly what it committed."""
    rng = random.Random(batch_size)
    p = 1
    app = faust.App(f"shadow-batches-{batch_size}", producer_max_batch_size=batch_size)
    log = _Log(app)
    committed: dict[str, dict[str, bytes]] = {s: {} for s in STORES}
    torn = abandoned = 0

    def owner(records: list) -> StateTable:
        data = type("Store", (dict,), {"set_persisted_offset": lambda self, *a: None})()
        data.update(compacted(records).data)
        table = SimpleNamespace(app=app, key_type=str, value_type=bytes, key_serializer=None, value_serializer=None,
                                changelog_topic=SimpleNamespace(get_topic_name=lambda: "t"), data=data,
                                send_changelog=lambda *a: pytest.fail("sent row by row"))
        app.producer = SimpleNamespace(_ensure_producer=lambda: log)
        return StateTable(table)

    async def run() -> None:
        nonlocal committed, torn, abandoned
        st = owner(log.records)
        for n in range(400):
            assert snapshot(st, p) == committed, f"checkpoint {n}: the worker's own view"
            want = random_checkpoint(st, p, rng, committed, 6, lambda r: r.randbytes(r.choice((10, 300))))
            first, start = len(log.batches), len(log.records)
            fate = rng.random()
            try:
                await st.send_pending(lambda: fate >= 0.15)
            except CheckpointAbandoned:
                abandoned += 1  # the worker keeps the partition and goes on
                continue
            commit_at = next(i for i in range(start, len(log.records)) if log.records[i][1] == f"~commit|{p}")
            if fate > 0.8:  # killed after a random batch of this checkpoint
                cut = rng.randrange(first, len(log.batches) + 1)
                if cut < len(log.batches):
                    end = log.batches[cut][0]
                    del log.records[end:]
                    del log.batches[cut:]
                    torn += end <= commit_at
                    if end > commit_at:
                        committed = want
                else:
                    committed = want
                st = owner(log.records)
            else:
                committed = want
            assert snapshot(owner(log.records), p) == committed, f"checkpoint {n}: the restore"

    asyncio.run(run())
    assert torn > 20 and (abandoned > 20 or batch_size == 16384), (torn, abandoned)


@pytest.mark.integration
def test_a_checkpoint_larger_than_a_record_batch_is_written_and_restored_on_a_real_broker(broker):
    """Three checkpoints of about 2.5 MB each (more than Kafka's default 1 MiB per batch; one
    record per batch on Tansu, as its workers write) go to a compacted topic through the real
    producer; read back, the topic holds the last one, and cut just before any commit row it
    holds the one before — so on the broker every row of a checkpoint precedes its commit row."""
    from aiokafka import AIOKafkaProducer

    from kafka_helpers import consume_all, create_topics, unique_topic

    topic = unique_topic("shadow-changelog")
    create_topics(broker.bootstrap, [topic], partitions=2, configs={"cleanup.policy": "compact"})
    app = faust.App("shadow-it", producer_max_batch_size=1 if broker.kind == "tansu" else 16384)
    states: list[dict[str, dict[str, bytes]]] = []

    async def write() -> None:
        prod = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=2 * 1024 * 1024, linger_ms=5)
        await prod.start()
        try:
            table = SimpleNamespace(
                app=SimpleNamespace(serializers=app.serializers, conf=app.conf,
                                    producer=SimpleNamespace(_ensure_producer=lambda: prod)),
                key_type=str, value_type=bytes, key_serializer="json", value_serializer="raw",
                changelog_topic=SimpleNamespace(get_topic_name=lambda: topic),
                data=type("Store", (dict,), {"set_persisted_offset": lambda self, *a: None})())
            st = StateTable(table)
            rng = random.Random(5)
            for n in range(3):
                with st.atomic(1):
                    for i in range(40):
                        if n == 0 or i % (n + 1) == 0:
                            st.put("street", 1, f"s{i:02d}", rng.randbytes(60_000))
                    st.put("meta", 1, "engine", b"meta%d" % n)
                futs = await st.send_pending()
                await asyncio.gather(*futs)
                states.append(snapshot(st, 1))
        finally:
            await prod.stop()

    asyncio.run(write())
    recs = consume_all(broker.bootstrap, topic, timeout=60.0, idle=3.0)
    assert all(r.partition == 1 for r in recs)
    rows = [(1, app.serializers.loads_key(str, r.key, serializer="json"), r.value) for r in recs]
    assert snapshot(StateTable(compacted(rows)), 1) == states[-1], "the last checkpoint, read back"
    commits = [i for i, (_, k, _) in enumerate(rows) if k.startswith("~commit|")]
    # 40 streets + meta + commit; 20 + 2; 14 + 2 and 13 tombstones of streets the second superseded
    # (the third wrote 7 of those 20 again, into the slots it would have tombstoned)
    assert len(rows) == 42 + 22 + 16 + 13 and len(commits) == 3 and commits[-1] == len(rows) - 1
    for n, at in enumerate(commits):
        before = StateTable(compacted(rows[:at]))
        assert snapshot(before, 1) == (states[n - 1] if n else {s: {} for s in STORES}), f"cut before commit {n + 1}"
