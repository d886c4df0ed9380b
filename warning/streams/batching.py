"""Produce many records with one aiokafka record batch per partition, on Faust's own producer.

Faust's ``send_soon`` costs tens of microseconds per record (a future, a buffer hop and an aiokafka
``send`` each); the ingest agent emits one record per input record, so it builds record batches
itself (:meth:`aiokafka.AIOKafkaProducer.create_batch` / ``send_batch``) — a few microseconds per
record. Partitions follow Kafka's default partitioner (murmur2 of the key), as ``send`` would.
:meth:`BatchSender.take` takes the batches built so far (synchronously, so the ingest checkpoint
takes the seen-marks they stand for at the same instant) and :meth:`BatchSender.send` returns their
delivery futures: the checkpoint awaits them before it writes the marks (:mod:`warning.streams.state`),
and a failed batch stops the worker instead of letting its offsets be committed.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from warning.core.pipeline import partition_for_bytes

_NO_HEADERS: list[tuple[str, bytes]] = []  # aiokafka wants a list; never mutated


class BatchSender:
    def __init__(self, app: Any, topic: str, partitions: int) -> None:
        self.app = app
        self.topic = topic
        self.partitions = partitions
        self._builders: dict[int, Any] = {}
        self._full: list[tuple[int, Any]] = []
        self._rr = itertools.count()

    def _producer(self) -> Any:
        return self.app.producer._ensure_producer()

    def partition(self, key: bytes | None) -> int:
        if key is None:
            return next(self._rr) % self.partitions
        return partition_for_bytes(key, self.partitions)

    def add(self, key: bytes | None, value: bytes, timestamp_ms: int | None = None,
            headers: list[tuple[str, bytes]] | None = None) -> None:
        p = self.partition(key)
        hdrs = headers or _NO_HEADERS
        b = self._builders.get(p)
        if b is None:
            b = self._builders[p] = self._producer().create_batch()
        if b.append(timestamp=timestamp_ms, key=key, value=value, headers=hdrs) is None:
            self._full.append((p, b))
            b = self._builders[p] = self._producer().create_batch()
            if b.append(timestamp=timestamp_ms, key=key, value=value, headers=hdrs) is None:
                raise ValueError(f"record of {len(value)} bytes does not fit in a batch for {self.topic}")

    def take(self) -> list[tuple[int, Any]]:
        """The record batches built so far, taken out (synchronously: nothing added after this call
        is in them). Hand them to :meth:`send`."""
        batches = self._full + list(self._builders.items())
        self._full, self._builders = [], {}
        return batches

    async def send(self, batches: list[tuple[int, Any]]) -> list[asyncio.Future]:
        """Hand ``batches`` (from :meth:`take`) to the producer; returns their delivery futures (each
        resolves when the broker has the batch, or raises)."""
        producer = self._producer()
        return [await producer.send_batch(b, self.topic, partition=p) for p, b in batches]
