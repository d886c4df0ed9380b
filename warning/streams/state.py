"""One state layer for the stream services: changelog-backed stores and one checkpoint order.

Both stateful services keep their state here — ingest its "seen" marks (duplicate filters per feed
and raw partition), detection its engines (street states and per-partition meta) — instead of each
writing Faust table internals its own way.

**Stores.** A service has one changelog-backed Faust table (:class:`StateTable`); a row is named by
``(store, partition, row)`` (its key ``"{store}|{partition}|{row}"``, or for rows written in
checkpoints the keys of :mod:`warning.streams.shadow`), values are bytes, and each row is written to the changelog
partition of the input partition it belongs to, so a partition's state moves with it on a
rebalance. After an assignment a service rebuilds its in-memory objects from the rows of each
partition it is handed (Faust has recovered the table from the changelog by then).

* keyed rows — :meth:`StateTable.put` / :meth:`StateTable.rows`: the latest value per row
  (detection: one row per street, one ``meta`` row per partition);
* delta rows — :class:`DeltaLog`: numbered rows appended once per checkpoint, replayed in order on
  restore and deleted (a Kafka tombstone, so log compaction drops them) once their expiry has
  passed (ingest: the ids first seen since the last checkpoint, expiring with the dedup horizon).

A partition's rows of one checkpoint can be written **all or nothing** (:meth:`StateTable.atomic`,
in the layout of :mod:`warning.streams.shadow`: two versions per row, a commit row per partition
written once the rows are delivered): a worker killed in the middle of a checkpoint then leaves
the previous checkpoint, never some rows of the new one (a torn checkpoint — streets newer than
the meta row that says which events they hold — would count the events between the two twice
after a restore), however many record batches the checkpoint takes (at scale 1 a partition's
checkpoint is several MB; Tansu takes one record per batch). Detection writes its checkpoints so.

**Checkpoints.** As in Quix Streams, there is one order, :meth:`Checkpoint.commit`:

1. the outputs produced for the inputs so far (events, alerts) are *delivered* — their producer
   futures have resolved;
2. the state changes those inputs made are written to the changelog;
3. the caller acks the inputs; Faust flushes the producer — so the changelog — before it commits
   their offsets.

So a "seen" or "done" mark is never durable before the record it stands for: a crash before step 2
leaves outputs without marks, and the redelivered inputs produce them again (at-least-once, the
receivers deduplicate by id); it can never leave marks without outputs, which would drop the
redelivered inputs as already handled.

Tests put a hook between steps 1 and 2 (:data:`FAILPOINTS`, by name ``"<checkpoint>.between_writes"``)
to crash there deterministically.

**Rebalances.** A service stops touching every partition the moment a rebalance starts (the
stream services call it *fencing*: :mod:`warning.streams.app`), so the last changelog write of a
partition's old owner comes before its new owner recovers the table, and rebuilds its objects
from the table for the partitions it is then handed. The tables keep their data in
:class:`WarmMemoryStore`: Faust's in-memory store plus the changelog offset each partition's data
reflects (which Faust keeps only in RocksDB), so a worker that keeps a partition over a rebalance,
or promotes its standby replica of it (``worker.standby_replicas``), reads only the changelog tail
written since, not the whole partition.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Iterator, Optional, Set, TypeVar

import orjson
from faust.stores import STORES
from faust.stores import memory as faust_memory
from faust.types import TP

from warning.streams.shadow import Pages, Version
from warning.streams.shadow import value as shadow_value

T = TypeVar("T")

log = logging.getLogger(__name__)

#: largest record batch :meth:`StateTable.atomic` writes (under Kafka's default ``message.max.bytes``,
#: 1 MiB + 12 bytes, which a changelog topic created without overrides keeps); a bigger checkpoint
#: of one partition takes several batches, still all or nothing (:mod:`warning.streams.shadow`)
ATOMIC_BATCH_BYTES = 1_000_000

#: a ``kafka.producer_max_batch_size`` below this asks for one record per batch (Tansu, whose
#: changelog recovery loses the tail of a batch: see tests/kafka_helpers.py); state rows then go
#: one per batch too
ONE_RECORD_BATCHES_BELOW = 1024

#: exit status of a worker whose checkpoint could not be written (its inputs stay unacknowledged)
EXIT_CHECKPOINT_FAILED = 70

#: name → coroutine function awaited at that point (tests only; empty in production)
FAILPOINTS: dict[str, Callable[[], Awaitable[None]]] = {}


async def failpoint(name: str) -> None:
    hook = FAILPOINTS.get(name)
    if hook is not None:
        await hook()


class WarmMemoryStore(faust_memory.Store):
    """Faust's in-memory table store, plus the changelog offset that each partition's data reflects.

    Faust's memory store answers "no offset" (``persisted_offset`` → None), so its recovery reads a
    partition's changelog from the beginning on *every* rebalance — also a partition the worker
    keeps, and a standby it promotes; and at the end of each recovery it drops the rows of every
    partition that is not active, standbys included, so standby replicas were never warm. This
    store does what Faust's RocksDB store does for both:

    * the offset of the last changelog record applied to (read into, or written from) a partition's
      rows is kept, and Faust's recovery starts reading there;
    * after a recovery the rows and offsets of partitions that are neither active nor standby here
      are dropped together, so an offset never outlives the rows it stands for.

    An offset is only taken for a partition whose rows the store holds whole: records read from the
    changelog (always the partition's rows up to that offset), and acknowledged writes of this
    worker to partitions it held at the last recovery. Rows written by the owner come from
    :class:`StateTable`, which tells the store their partition (:meth:`note_partition`).

    Registered as the ``warmmemory://`` store (:data:`STORE_URL`).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._offsets: dict[TP, int] = {}
        #: partitions (numbers) held active or standby at the last completed recovery
        self._held: set[int] = set()

    def note_partition(self, key: Any, partition: int) -> None:
        """Row ``key`` belongs to ``partition`` (an owner's own write)."""
        self._key_partition[key] = partition

    def forget_key(self, key: Any) -> None:
        self.data.pop(key, None)
        self._key_partition.pop(key, None)

    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Callable[[Any], Any],
                              to_value: Callable[[Any], Any]) -> None:
        batch = list(batch)
        super().apply_changelog_batch(batch, to_key, to_value)
        offsets = self._offsets
        for event in batch:
            msg = event.message
            if msg.offset > offsets.get(msg.tp, -1):
                offsets[msg.tp] = msg.offset

    def persisted_offset(self, tp: TP) -> Optional[int]:
        """The offset of the last changelog record this store's rows of ``tp`` reflect (None: none)."""
        return self._offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Called by Faust when a write of this worker to the changelog is acknowledged."""
        if tp.partition in self._held and offset > self._offsets.get(tp, -1):
            self._offsets[tp] = offset

    async def on_recovery_completed(self, active_tps: Set[TP], standby_tps: Set[TP]) -> None:
        keep = {tp.partition for tp in active_tps} | {tp.partition for tp in standby_tps}
        for k in [k for k, p in self._key_partition.items() if p not in keep]:
            self.forget_key(k)
        for tp in [tp for tp in self._offsets if tp.partition not in keep]:
            del self._offsets[tp]
        self._held = keep


STORES.aliases["warmmemory"] = f"{__name__}:WarmMemoryStore"
#: the state tables' store (see :meth:`StateTable.create`)
STORE_URL = "warmmemory://local"


class StateTable:
    """The changelog-backed Faust table of one service; rows named ``(store, partition, row)``.

    Rows written inside :meth:`atomic` blocks (detection's checkpoints) are kept in the layout of
    :mod:`warning.streams.shadow` (two versions per row and a commit row per partition), so a
    partition's checkpoint is all or nothing however many record batches it takes; rows written
    outside (ingest's seen-marks) are written as they are. :meth:`rows` reads both. A store is
    written either always inside :meth:`atomic` blocks or never. Call :meth:`forget_pages` when the
    table's data may have changed under the service (after each assignment).

    Upgrading from the layout before checkpoints were versioned (one key per row): stop every
    worker, then start the new ones — they read the old rows as committed and replace them; an
    old worker beside a new one would read neither the new rows nor their commits.

    >>> t = StateTable(FakeTable())
    >>> t.put("meta", 1, "engine", b"x"); t.put("meta", 0, "engine", b"y")
    >>> t.rows("meta", 1)
    {'engine': b'x'}
    >>> t.delete("meta", 1, "engine"); t.rows("meta", 1), t.table.changelog[-1]
    ({}, (1, 'meta|1|engine', None))
    >>> with t.atomic(2):
    ...     t.put("street", 2, "a", b"A")
    >>> t.rows("street", 2), [k for _, k, _ in t.table.changelog[-2:]]
    ({'a': b'A'}, ['street#0|2|a', '~commit|2'])
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self._writes: list[tuple[str, str, Optional[bytes]]] | None = None  # of the open atomic() block
        self._pending: list[_Batch] = []  # the record batches of the checkpoints written, to send
        self._inflight: list[asyncio.Future] = []  # delivery futures of the last send_pending
        self._pages: dict[int, Pages] | None = None
        #: called with the error when a batch of state is not delivered (None: logged only). A
        #: worker exits (:data:`EXIT_CHECKPOINT_FAILED`): the inputs must not be acked, and Faust
        #: commits acked offsets after a producer flush that does not raise
        self.on_delivery_failure: Callable[[BaseException], None] | None = None

    @classmethod
    def create(cls, app: Any, name: str, partitions: int) -> "StateTable":
        """A new table on a Faust ``app``: string keys, raw bytes values (``None`` is a tombstone),
        kept in a :class:`WarmMemoryStore`."""
        # A host in the URL: Faust takes the table's store URL only when it is truthy, and a yarl URL
        # with neither host nor path is falsy ("warmmemory://" fell back to the app's memory store).
        return cls(app.Table(name, default=None, partitions=partitions, key_type=str, value_type=bytes,
                             store=STORE_URL))

    @staticmethod
    def key(store: str, partition: int, row: str) -> str:
        return f"{store}|{partition}|{row}"

    def forget_pages(self) -> None:
        """Read the rows' versions from the table again at the next use."""
        self._pages = None

    def _pages_of(self, partition: int) -> Pages:
        if self._pages is None:
            self._pages = Pages.load_all(self.table.data)
        pages = self._pages.get(partition)
        if pages is None:
            pages = self._pages[partition] = Pages(partition)
        return pages

    def rows(self, store: str, partition: int) -> dict[str, bytes]:
        """Every live row of ``store`` for ``partition`` (of its last committed checkpoint): row
        name → value."""
        data = self.table.data
        out = {}
        for (s, row), v in self._pages_of(partition).live.items():
            if s == store and not v.deleted:
                blob = data.get(v.key)
                if blob is not None:
                    out[row] = blob if v.slot < 0 else shadow_value(blob)
        return out

    def put(self, store: str, partition: int, row: str, value: bytes) -> None:
        self._write(store, partition, row, value)

    def delete(self, store: str, partition: int, row: str) -> None:
        self._write(store, partition, row, None)

    def _write(self, store: str, partition: int, row: str, value: Optional[bytes]) -> None:
        if self._writes is not None:  # inside atomic(): part of the checkpoint
            self._writes.append((store, row, value))
            return
        k = self.key(store, partition, row)  # an unversioned row (a store written outside checkpoints)
        self._apply(partition, k, value)
        if self._pages is not None:
            live = self._pages_of(partition).live
            if value is None:
                live.pop((store, row), None)
            else:
                live[(store, row)] = Version(k, -1, 0, False)
        self.table.send_changelog(partition, k, value)

    def _apply(self, partition: int, key: str, value: Optional[bytes]) -> None:
        data = self.table.data
        if value is None:
            forget = getattr(data, "forget_key", None)
            if forget is not None:
                forget(key)
            else:
                data.pop(key, None)
            return
        data[key] = value
        note = getattr(data, "note_partition", None)
        if note is not None:
            note(key, partition)

    @contextmanager
    def atomic(self, partition: int) -> Iterator[None]:
        """Rows put or deleted inside the block (all of ``partition``) make one checkpoint of the
        partition (:mod:`warning.streams.shadow`), queued for the changelog — the rows in record
        batches of at most :data:`ATOMIC_BATCH_BYTES`, then the commit row — for
        :meth:`send_pending`, which puts them into the table's data as it hands them over
        (:meth:`rows` shows the checkpoint from then on). A table that is not a Faust table (unit
        tests) gets the records one by one at once, in the same order."""
        if self._writes is not None:
            raise RuntimeError("atomic() blocks do not nest")
        self._writes = []
        try:
            yield
        finally:
            writes, self._writes = self._writes, None
        if not writes:
            return
        rows, (ck, cv) = self._pages_of(partition).plan(writes)
        records = [*rows, (ck, cv)]
        if not hasattr(self.table, "changelog_topic"):
            for k, v in records:
                self._apply(partition, k, v)
                self.table.send_changelog(partition, k, v)
            return
        self._pending.extend(self._batches(partition, records, len(rows)))

    def _batches(self, partition: int, records: list[tuple[str, Optional[bytes]]],
                 commit_at: int) -> list["_Batch"]:
        """Record batches of ``records`` (the commit row at index ``commit_at``), each with its
        phase: the batches before the one holding the commit row are phase 0, it and the rest
        phase 1 — or all phase 0 when the commit row is in the first batch."""
        from aiokafka.producer.message_accumulator import BatchBuilder

        t = self.table
        ser = t.app.serializers
        limit = ATOMIC_BATCH_BYTES
        asked = t.app.conf.producer_max_batch_size
        one_each = asked < ONE_RECORD_BATCHES_BELOW
        if one_each:
            limit = asked
        batches: list[list[Any]] = []  # [builder, number of records]
        commit_batch = 0
        for i, (k, v) in enumerate(records):
            kb = ser.dumps_key(t.key_type, k, serializer=t.key_serializer)
            vb = None if v is None else ser.dumps_value(t.value_type, v, serializer=t.value_serializer)
            if (one_each or not batches or i == commit_at and len(batches) > 1
                    or batches[-1][0].append(key=kb, value=vb, timestamp=None, headers=[]) is None):
                # a new batch: one record each (Tansu), the first, full, or the commit row after
                # more than one batch of rows (it goes first in a batch that waits for them)
                builder = BatchBuilder(limit, 0)
                if builder.append(key=kb, value=vb, timestamp=None, headers=[]) is None:
                    raise ValueError(f"state row {k!r} of {len(vb or b'')} bytes does not fit in a record batch")
                batches.append([builder, 0])
            batches[-1][1] += 1
            if i == commit_at:
                commit_batch = len(batches) - 1
        out, first = [], 0
        for i, (b, n) in enumerate(batches):
            out.append(_Batch(partition, b, n, int(i >= commit_batch > 0), records[first:first + n]))
            first += n
        return out

    async def send_pending(self, go_on: Callable[[], bool] = lambda: True) -> list[asyncio.Future]:
        """Hand the batches queued by :meth:`atomic` to the producer (in order); returns their
        delivery futures. A batch's records go into the table's data as it is handed over (so the
        data never holds what the changelog will not); on delivery the store learns the offset
        its rows now reflect.

        Nothing is handed over before every batch of the previous call is delivered (a checkpoint
        tombstones what the one before superseded: :mod:`warning.streams.shadow`). Batches of
        phase 1 (commit rows after several batches of rows) are handed over only once every batch
        of phase 0 is delivered. Before each phase ``go_on()`` is asked (a rebalance may have
        started meanwhile: see :mod:`warning.streams.app`); if it says no, what is left is dropped
        and :class:`CheckpointAbandoned` raised — those checkpoints are not committed, nothing may
        be acked. A batch not delivered raises here, or calls :attr:`on_delivery_failure` when
        nothing awaits it any more (a cancelled wait does not cancel a delivery).
        """
        pending, self._pending = self._pending, []
        try:
            if self._inflight:
                inflight, self._inflight = self._inflight, []
                await _delivered(inflight)
            if not pending:
                return []
            futs: list[asyncio.Future] = []
            for phase in (0, 1):
                batches = [b for b in pending if b.phase == phase]
                if not batches:
                    continue
                if phase == 1:
                    await _delivered(futs)  # every row of the checkpoints is in (a failure raises)
                if not go_on():
                    raise CheckpointAbandoned("a rebalance started while the checkpoint was written")
                for b in batches:
                    futs.append(await self._send(b))
            self._inflight = list(futs)
            return futs
        except BaseException:
            self._pages = None  # read the versions again: the rows sent are leftovers of uncommitted checkpoints
            raise

    async def _send(self, b: "_Batch") -> asyncio.Future:
        t = self.table
        topic = t.changelog_topic.get_topic_name()
        for k, v in b.records:
            self._apply(b.partition, k, v)
        fut = await t.app.producer._ensure_producer().send_batch(b.builder, topic, partition=b.partition)
        store = t.data

        def delivered(f: asyncio.Future) -> None:
            err = asyncio.CancelledError() if f.cancelled() else f.exception()
            if err is None:
                md = f.result()
                store.set_persisted_offset(md.topic_partition, md.offset + b.n - 1)
                return
            log.critical("state of partition %d not written to %s: %r", b.partition, topic, err)
            if self.on_delivery_failure is not None:
                self.on_delivery_failure(err)

        fut.add_done_callback(delivered)
        return fut


@dataclass
class _Batch:
    """One record batch of a checkpoint: its records (key, value) and phase (see :meth:`StateTable._batches`)."""

    partition: int
    builder: Any
    n: int
    phase: int
    records: list[tuple[str, Optional[bytes]]]


async def _delivered(futs: list[asyncio.Future]) -> None:
    """Wait until every future is done (a cancelled wait leaves them be, unlike gather); raise the first error."""
    if futs:
        await asyncio.wait(futs)
        for f in futs:
            if f.done() and not f.cancelled() and f.exception() is not None:
                raise f.exception()  # type: ignore[misc]


class CheckpointAbandoned(Exception):
    """The commit rows of a checkpoint were not written (its rows are left for the next owner to
    tombstone); nothing it stands for may be acked."""


class DeltaLog:
    """Numbered delta rows of one store and partition: :meth:`replay` (restore), :meth:`append`,
    :meth:`compact`. A row holds a JSON-able payload and its expiry (in the store's own clock,
    e.g. event time); rows whose expiry is before a cutoff are deleted.

    >>> t = StateTable(FakeTable())
    >>> log = DeltaLog(t, "dedup.hotline", 0)
    >>> log.append([["a", 10.0]], expires=10.0); log.append([["b", 20.0]], expires=20.0)
    >>> log.compact(before=15.0)
    1
    >>> again = DeltaLog(t, "dedup.hotline", 0)
    >>> again.replay(), again.seq
    ([[['b', 20.0]]], 2)
    """

    def __init__(self, table: StateTable, store: str, partition: int) -> None:
        self.table = table
        self.store = store
        self.partition = partition
        self.seq = 0
        self._expiry: dict[int, float] = {}

    def replay(self) -> list[Any]:
        """The payloads of the live rows, oldest first (and the next sequence number)."""
        out: list[Any] = []
        for row, blob in sorted(self.table.rows(self.store, self.partition).items(), key=lambda kv: int(kv[0])):
            expires, payload = orjson.loads(blob)
            seq = int(row)
            self._expiry[seq] = expires
            self.seq = max(self.seq, seq)
            out.append(payload)
        return out

    def append(self, payload: Any, expires: float) -> None:
        self.seq += 1
        self._expiry[self.seq] = expires
        self.table.put(self.store, self.partition, str(self.seq), orjson.dumps([expires, payload]))

    def restore_marks(self, dedup: Any) -> Any:
        """Put the ids of the live rows back into ``dedup`` (a :class:`~warning.core.dedup.Deduplicator`);
        returns it. Rows written by :meth:`write_marks`."""
        dedup.restore((rid, ts) for row in self.replay() for rid, ts in row)
        return dedup

    def write_marks(self, delta: list[tuple[str, float]], cutoff: float) -> None:
        """One row with the ids first seen since the last write (``dedup.take_delta()``), expiring
        with the newest; rows of ids older than ``cutoff`` (``dedup.cutoff``) are deleted."""
        if delta:
            self.append([[rid, ts] for rid, ts in delta], expires=max(ts for _, ts in delta))
        self.compact(before=cutoff)

    def compact(self, before: float) -> int:
        """Delete the rows that expire before ``before``; returns how many."""
        dead = [seq for seq, exp in self._expiry.items() if exp < before]
        for seq in dead:
            del self._expiry[seq]
            self.table.delete(self.store, self.partition, str(seq))
        return len(dead)


class Checkpoint:
    """The checkpoint order of one service: outputs delivered → state written → (caller) ack.

    Register each output's producer future with :meth:`produced` (or hand :meth:`commit` a
    ``produce`` coroutine function that sends what is buffered and returns the futures);
    :meth:`commit` awaits them all (also those produced while it waits), then calls
    ``write_state`` — synchronously, so no input is processed between the last delivery and the
    state write — and returns its result (e.g. the inputs that may now be acked). Commits of one
    checkpoint never overlap.

    >>> async def demo():
    ...     ck, log = Checkpoint("demo"), []
    ...     out = asyncio.get_running_loop().create_future()
    ...     ck.produced(out)
    ...     asyncio.get_running_loop().call_soon(lambda: (log.append("delivered"), out.set_result(None)))
    ...     return await ck.commit(lambda: log + ["state"])
    >>> asyncio.run(demo())
    ['delivered', 'state']
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._outputs: list[Awaitable[Any]] = []
        self._lock: asyncio.Lock | None = None

    def produced(self, fut: Awaitable[Any]) -> None:
        self._outputs.append(fut)

    async def commit(self, write_state: Callable[[], T],
                     produce: Callable[[], Awaitable[Iterable[Awaitable[Any]]]] | None = None,
                     send: Callable[[], Awaitable[Any]] | None = None) -> T:
        """``send``: awaited after ``write_state`` (still under the lock), to hand state written as
        record batches (:meth:`StateTable.atomic`) to the producer before the caller acks."""
        async with self.lock:
            if produce is not None:
                self._outputs.extend(await produce())
            while self._outputs:  # 1. outputs delivered (a failed delivery raises: nothing is acked)
                pending, self._outputs = self._outputs, []
                await asyncio.gather(*pending)
            await failpoint(f"{self.name}.between_writes")
            result = write_state()  # 2. state to the changelog; 3. the caller acks
            if send is not None:
                await send()
            return result

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def drain(self) -> None:
        """Wait until no commit is in progress (its state is then with the producer)."""
        async with self.lock:
            pass


class Fenced:
    """What a stateful service does at a rebalance (see :mod:`warning.streams.app`): :meth:`fence`
    the moment it starts — take no record, write no state, emit nothing — and :meth:`assign` once
    partitions are handed out, dropping the in-memory objects (:meth:`drop_partitions`; they are
    rebuilt from the recovered table) and taking only records fetched in the new consumer generation
    (older ones are redelivered by Kafka to their partition's owner).

    ``fence`` is called on aiokafka's consumer thread (Faust's rebalance sensor hook), so it only
    sets a flag; the objects are dropped on the event loop, in ``assign``.

    >>> class S(Fenced):
    ...     def drop_partitions(self): print("dropped")
    >>> class M:
    ...     def __init__(self, g): self.message = type("Msg", (), {"generation_id": g})()
    >>> s = S(); s.fence(); s.current([M(1)])
    []
    >>> s.assign(2)
    dropped
    >>> [m.message.generation_id for m in s.current([M(1), M(2)])]
    [2]
    """

    #: the consumer generation whose records the service takes (None: any — unit tests)
    generation: int | None = None
    #: a rebalance is on: take no record, write no state, emit nothing
    fenced: bool = False

    def drop_partitions(self) -> None:
        raise NotImplementedError

    def fence(self) -> None:
        self.fenced = True

    def assign(self, generation: int) -> None:
        self.drop_partitions()
        self.generation = generation
        self.fenced = False

    def current(self, batch: list[Any]) -> list[Any]:
        """The events of ``batch`` fetched in the current generation (none while fenced)."""
        if self.fenced:
            return []
        g = self.generation
        return batch if g is None else [ev for ev in batch if ev.message.generation_id == g]


class FakeTable:
    """A stand-in for a Faust table in examples and unit tests: ``data`` plus a changelog list."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any) -> None:
        self.changelog.append((partition, key, value))
