"""The ingest checkpoint takes seen-marks and records at one instant (issue 11, defect 1).

Two ingest agents can feed the same duplicate filter (a raw partition and the rekey topic both
deliver ids whose home is partition 0). A commit must write only the marks whose events it has
delivered: a mark added by the other agent while this commit waits for the broker stands for an
event still in the sender's buffer, and writing it would make a crash lose that event.
"""

from __future__ import annotations

import asyncio
from typing import Any

from warning.core.dedup import Deduplicator
from warning.streams.app import IngestService
from warning.streams.state import FakeTable, StateTable


class Pipe:
    def __init__(self) -> None:
        self.dedups: dict[Any, Deduplicator] = {}

    def new_dedup(self) -> Deduplicator:
        return Deduplicator(horizon_s=3600.0, deltas=True)


class Sender:
    """Buffers record ids; :meth:`send` returns one future per batch that the test resolves."""

    def __init__(self) -> None:
        self.buffer: list[str] = []
        self.pending: list[tuple[list[str], asyncio.Future]] = []
        self.delivered: list[str] = []

    def add(self, rid: str) -> None:
        self.buffer.append(rid)

    def take(self) -> list[str]:
        b, self.buffer = self.buffer, []
        return b

    async def send(self, batch: list[str]) -> list[asyncio.Future]:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((batch, fut))
        return [fut]

    def deliver_all(self) -> None:
        for batch, fut in self.pending:
            if not fut.done():
                self.delivered += batch
                fut.set_result(None)
        self.pending = []


def admit(svc: IngestService, rid: str, ts: float) -> None:
    d = svc.deduper("hotline", 0)
    assert not d.seen(rid, ts)
    svc.sender.add(rid)


def written_marks(table: FakeTable) -> set[str]:
    import orjson
    out = set()
    for _p, _key, value in table.changelog:
        if value is not None:
            _expires, rows = orjson.loads(value)
            out |= {rid for rid, _ts in rows}
    return out


def test_marks_written_are_those_of_delivered_records():
    async def run() -> tuple[set[str], list[str]]:
        table = FakeTable()
        svc = IngestService(Pipe(), StateTable(table), partitions=2)  # type: ignore[arg-type]
        svc.sender = Sender()
        admit(svc, "a1", 100.0)  # agent A's batch
        commit_a = asyncio.ensure_future(svc.commit())
        await asyncio.sleep(0)  # A has taken its marks and records and waits for the broker
        admit(svc, "b1", 101.0)  # agent B's batch meanwhile, same filter
        await asyncio.sleep(0)
        svc.sender.deliver_all()  # only a1 is on the broker
        await commit_a
        marks = written_marks(table)
        commit_b = asyncio.ensure_future(svc.commit())
        await asyncio.sleep(0)
        svc.sender.deliver_all()
        await commit_b
        return marks, svc.sender.delivered

    marks_after_a, delivered = asyncio.run(run())
    assert marks_after_a == {"a1"}, "a mark was written before its event was delivered"
    assert delivered == ["a1", "b1"]
