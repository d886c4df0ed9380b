"""Produce many records with one aiokafka record batch per partition, on Faust's own producer.

Faust's ``send_soon`` costs tens of microseconds per record (a future, a buffer hop and an aiokafka
``send`` each); the ingest agent emits one record per input record, so it builds record batches
itself (:meth:`aiokafka.AIOKafkaProducer.create_batch` / ``send_batch``) — a few microseconds per
record. Partitions follow Kafka's default partitioner (murmur2 of the key), as ``send`` would.
:meth:`BatchSender.flush` returns the batches' delivery futures: the ingest checkpoint awaits them
before it writes the seen-marks (:mod:`warning.streams.state`), and a failed batch fails the agent
instead of letting its offsets be committed.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from warning.core.pipeline import partition_for_bytes


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

    def add(self, key: bytes | None, value: bytes, timestamp_ms: int | None = None) -> None:
        p = self.partition(key)
        b = self._builders.get(p)
        if b is None:
            b = self._builders[p] = self._producer().create_batch()
        if b.append(timestamp=timestamp_ms, key=key, value=value) is None:
            self._full.append((p, b))
            b = self._builders[p] = self._producer().create_batch()
            if b.append(timestamp=timestamp_ms, key=key, value=value) is None:
                raise ValueError(f"record of {len(value)} bytes does not fit in a batch for {self.topic}")

    async def flush(self) -> list[asyncio.Future]:
        """Hand the records added so far to the producer; returns their delivery futures (each
        resolves when the broker has the batch, or raises)."""
        batches = self._full + list(self._builders.items())
        self._full, self._builders = [], {}
        producer = self._producer()
        return [await producer.send_batch(b, self.topic, partition=p) for p, b in batches]
