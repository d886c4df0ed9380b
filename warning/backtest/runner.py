"""Run the pure core over recorded events, in-process, exactly as the workers would.

Records go through the same :class:`~warning.core.ingest.Ingestor` (parse, validate, mask,
text signals), are deduplicated by (source, id), and are routed to one
:class:`~warning.core.engine.Engine` per partition — the partition Kafka's default partitioner
(murmur2 of the street key) would give them on ``warning.events`` with ``kafka.partitions``
partitions — so the backtest's alerts are those the stream workers emit for the same records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from aiokafka.partitioner import murmur2

from warning.config import Settings
from warning.core.dedup import Deduplicator
from warning.core.detect_config import load_alerts, load_detect
from warning.core.engine import Engine
from warning.core.events import Event
from warning.core.ingest import Ingestor, Rejected
from warning.core.registry import Registry


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a string key.

    >>> partition_for("110105001", 4) == partition_for("110105001", 4)
    True
    """
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class RunStats:
    records: int = 0
    accepted: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    out_of_range: int = 0
    late: int = 0
    alerts: int = 0
    seconds: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None


class Pipeline:
    """Ingest + per-partition engines. Feed raw lines or canonical events; collect alerts."""

    def __init__(self, settings: Settings, enricher: Any = None) -> None:
        self.settings = settings
        self.registry = Registry.load(settings.region.code)
        self.det = load_detect(settings.detect)
        self.det.allowed_lateness_minutes = settings.windows.allowed_lateness_minutes
        self.cfg = load_alerts(settings.alerts)
        self.partitions = settings.kafka.partitions
        self.ingestor = Ingestor(settings, enricher=enricher, registry=self.registry)
        self.engines = [Engine(self.det, self.cfg, self.registry) for _ in range(self.partitions)]
        self.dedup = {s: Deduplicator(settings.ingest.dedup_horizon_hours * 3600.0, settings.ingest.dedup_max_ids)
                      for s in ("hotline", "petition", "public_safety")}
        self.stats = RunStats()

    def feed_event(self, ev: Event) -> list[dict[str, Any]]:
        p = partition_for(ev.key, self.partitions)
        out = self.engines[p].process(ev)
        self.stats.alerts += len(out)
        return out

    def feed_lines(self, lines: list[bytes], start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for source, ev in self.ingestor.parse_file_lines(lines):
            out += self._feed_parsed(source, ev, start, end)
        return out

    def feed_line(self, line: bytes, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        source, ev = self.ingestor.parse_file_line(line)
        return self._feed_parsed(source, ev, start, end)

    def _feed_parsed(self, source: str, ev: Any, start: float | None, end: float | None) -> list[dict[str, Any]]:
        self.stats.records += 1
        if isinstance(ev, Rejected):
            self.stats.dead_lettered[ev.reason] = self.stats.dead_lettered.get(ev.reason, 0) + 1
            return []
        if (start is not None and ev.ts < start) or (end is not None and ev.ts >= end):
            self.stats.out_of_range += 1
            return []
        if self.dedup[source].seen(ev.id, ev.ts):
            self.stats.duplicates += 1
            return []
        self.stats.accepted += 1
        st = self.stats
        if st.first_ts is None or ev.ts < st.first_ts:
            st.first_ts = ev.ts
        if st.last_ts is None or ev.ts > st.last_ts:
            st.last_ts = ev.ts
        return self.feed_event(ev)

    def feed_all(self, lines: Iterable[bytes], start: float | None = None, end: float | None = None,
                 progress: Any = None, chunk_size: int = 2000) -> list[dict[str, Any]]:
        """Feed raw JSONL lines in chunks (``progress(n)`` after each); returns the alerts so far."""
        alerts: list[dict[str, Any]] = []
        chunk: list[bytes] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= chunk_size:
                alerts += self.feed_lines(chunk, start, end)
                if progress is not None:
                    progress(len(chunk))
                chunk = []
        if chunk:
            alerts += self.feed_lines(chunk, start, end)
            if progress is not None:
                progress(len(chunk))
        return alerts

    def flush(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for e in self.engines:
            out += e.flush()
        self.stats.alerts += len(out)
        self.stats.late = sum(e.late for e in self.engines)
        return out


def iter_lines(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line:
                yield line


def run(settings: Settings, lines: Iterable[bytes], start: float | None = None, end: float | None = None,
        enricher: Any = None, progress: Any = None) -> tuple[list[dict[str, Any]], RunStats]:
    """Run the pipeline over raw JSONL lines; returns (alerts in emission order, stats)."""
    t0 = time.perf_counter()
    pipe = Pipeline(settings, enricher=enricher)
    alerts = pipe.feed_all(lines, start, end, progress)
    alerts += pipe.flush()
    pipe.stats.seconds = time.perf_counter() - t0
    return alerts, pipe.stats


def write_alerts(path: Path, alerts: list[dict[str, Any]]) -> None:
    with open(path, "wb") as f:
        for a in alerts:
            f.write(orjson.dumps(a) + b"\n")
