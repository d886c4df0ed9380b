"""One state layer for the stream services: changelog-backed stores and one checkpoint order.

Both stateful services keep their state here — ingest its "seen" marks (duplicate filters per feed
and raw partition), detection its engines (street states and per-partition meta) — instead of each
writing Faust table internals its own way.

**Stores.** A service has one changelog-backed Faust table (:class:`StateTable`); every row key is
``"{store}|{partition}|{row}"``, values are bytes, and each row is written to the changelog
partition of the input partition it belongs to, so a partition's state moves with it on a
rebalance. After an assignment a service rebuilds its in-memory objects from the rows of each
partition it is handed (Faust has recovered the table from the changelog by then).

* keyed rows — :meth:`StateTable.put` / :meth:`StateTable.rows`: the latest value per row
  (detection: one row per street, one ``meta`` row per partition);
* delta rows — :class:`DeltaLog`: numbered rows appended once per checkpoint, replayed in order on
  restore and deleted (a Kafka tombstone, so log compaction drops them) once their expiry has
  passed (ingest: the ids first seen since the last checkpoint, expiring with the dedup horizon).

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
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import orjson

T = TypeVar("T")

#: name → coroutine function awaited at that point (tests only; empty in production)
FAILPOINTS: dict[str, Callable[[], Awaitable[None]]] = {}


async def failpoint(name: str) -> None:
    hook = FAILPOINTS.get(name)
    if hook is not None:
        await hook()


class StateTable:
    """The changelog-backed Faust table of one service; rows keyed ``"{store}|{partition}|{row}"``.

    >>> t = StateTable(FakeTable())
    >>> t.put("meta", 1, "engine", b"x"); t.put("meta", 0, "engine", b"y")
    >>> t.rows("meta", 1)
    {'engine': b'x'}
    >>> t.delete("meta", 1, "engine"); t.rows("meta", 1), t.table.changelog[-1]
    ({}, (1, 'meta|1|engine', None))
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    @classmethod
    def create(cls, app: Any, name: str, partitions: int) -> "StateTable":
        """A new table on a Faust ``app``: string keys, raw bytes values (``None`` is a tombstone)."""
        return cls(app.Table(name, default=None, partitions=partitions, key_type=str, value_type=bytes))

    @staticmethod
    def key(store: str, partition: int, row: str) -> str:
        return f"{store}|{partition}|{row}"

    def rows(self, store: str, partition: int) -> dict[str, bytes]:
        """Every live row of ``store`` for ``partition``: row name → value."""
        prefix = f"{store}|{partition}|"
        n = len(prefix)
        return {k[n:]: v for k, v in list(self.table.data.items())
                if v is not None and isinstance(k, str) and k.startswith(prefix)}

    def put(self, store: str, partition: int, row: str, value: bytes) -> None:
        k = self.key(store, partition, row)
        self.table.data[k] = value
        self.table.send_changelog(partition, k, value)

    def delete(self, store: str, partition: int, row: str) -> None:
        k = self.key(store, partition, row)
        data = self.table.data
        if k in data:
            del data[k]
        self.table.send_changelog(partition, k, None)


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
                     produce: Callable[[], Awaitable[Iterable[Awaitable[Any]]]] | None = None) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if produce is not None:
                self._outputs.extend(await produce())
            while self._outputs:  # 1. outputs delivered (a failed delivery raises: nothing is acked)
                pending, self._outputs = self._outputs, []
                await asyncio.gather(*pending)
            await failpoint(f"{self.name}.between_writes")
            return write_state()  # 2. state to the changelog; 3. the caller acks


class FakeTable:
    """A stand-in for a Faust table in examples and unit tests: ``data`` plus a changelog list."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any) -> None:
        self.changelog.append((partition, key, value))
