"""The composition root of the core: ingest → dedup → one engine per partition.

Every way of running the pipeline gets its core objects here — the backtest runner feeds whole
files through :class:`Pipeline`, the Faust services take the pieces they need (the ingestor,
:meth:`Pipeline.admit`, :meth:`Pipeline.new_engine`, :meth:`Pipeline.new_dedup`,
:func:`partition_for`) — so a backtest builds exactly what a worker builds.

The core is given its settings as typed sections (``ingest``, ``detect``, ``alerts``, ``feeds``);
it imports nothing from ``warning.config``, ``warning.streams``, ``warning.backtest`` or
``warning.notify``. :meth:`Pipeline.from_settings` reads those sections off an application
settings object by attribute.

>>> from warning.core.detect_config import AlertSettings, DetectSettings
>>> from warning.core.ingest import IngestSettings
>>> pipe = Pipeline(ingest=IngestSettings(), detect=DetectSettings(), alerts=AlertSettings(), partitions=2)
>>> line = ('{"source": "hotline", "id": "h1", "received_at": "2025-03-01T09:30:00+08:00", '
...         '"street_code": "110105001", "type": "投诉", "category": "供暖", "content": "家里不热"}').encode()
>>> pipe.feed_lines([line, line])
[]
>>> s = pipe.stats
>>> s.records, s.accepted, s.duplicates
(2, 1, 1)
>>> len(pipe.engines), partition_for("110105001", 2) in (0, 1)
(2, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Hashable, Iterable, Literal, Mapping

from warning.core.dedup import Deduplicator
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.engine import Engine
from warning.core.events import Alert, Event
from warning.core.feeds import Feed, default_feeds
from warning.core.ingest import Enricher, Ingestor, IngestSettings, Rejected
from warning.core.registry import Registry

Outcome = Literal["accepted", "deadletter", "duplicate", "out_of_range"]


# ---------------------------------------------------------------------- partitioning
def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (``org.apache.kafka.common.utils.Utils.murmur2``), as an unsigned int.

    >>> [murmur2(s.encode()) - (1 << 32) for s in ("21", "foobar", "a-little-bit-long-string")]
    [-973932308, -790332482, -985981536]
    """
    m, length = 0x5BD1E995, len(data)
    h = 0x9747B28C ^ length
    n4 = length & ~3
    for i in range(0, n4, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    extra = length - n4
    if extra >= 3:
        h ^= data[n4 + 2] << 16
    if extra >= 2:
        h ^= data[n4 + 1] << 8
    if extra >= 1:
        h = ((h ^ data[n4]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


@lru_cache(maxsize=1 << 16)
def partition_for_bytes(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a non-empty key of bytes."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a string key (e.g. a street code on
    ``warning.events``).

    >>> partition_for("110105001", 4) == partition_for("110105001", 4)
    True
    """
    return partition_for_bytes(key.encode(), partitions)


# ---------------------------------------------------------------------- the pipeline
@dataclass
class RunStats:
    """What a run did with its records: records = accepted + dead-lettered + duplicates + out of range."""

    records: int = 0
    accepted: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    out_of_range: int = 0
    unresolved: int = 0  # accepted at district level or not placed at all
    late: int = 0
    alerts: int = 0
    seconds: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None
    #: how the calibrated signals spend the false-alert budget (see :meth:`Pipeline.budget_spending`)
    budget: dict[str, Any] = field(default_factory=dict)


class Pipeline:
    """The core objects of one run or one worker: registry, ingestor, duplicate filters, engines.

    ``feeds`` defaults to the built-in feeds; ``partitions`` is the partition count of
    ``warning.events`` (the backtest keeps one engine per partition, as the workers do).
    """

    def __init__(self, *, ingest: IngestSettings, detect: DetectSettings, alerts: AlertSettings,
                 feeds: Mapping[str, Feed] | None = None, partitions: int = 1, region_code: str = "110000",
                 registry: Registry | None = None, enricher: Enricher | None = None) -> None:
        self.ingest = ingest
        self.detect = detect
        self.alerts = alerts
        self.feeds: dict[str, Feed] = dict(feeds) if feeds is not None else default_feeds()
        self.partitions = partitions
        self.registry = registry or Registry.load(region_code)
        self.ingestor = Ingestor(ingest, self.registry, self.feeds, enricher=enricher)
        self.dedups: dict[Hashable, Deduplicator] = {name: self.new_dedup() for name in self.feeds}
        self.engines = [self.new_engine() for _ in range(partitions)]
        self.stats = RunStats()

    @classmethod
    def from_settings(cls, settings: Any, enricher: Enricher | None = None, registry: Registry | None = None) -> "Pipeline":
        """Build from an application settings object (read by attribute: ``region.code``,
        ``kafka.partitions``, ``ingest``, ``detect``, ``alerts`` and ``feeds``)."""
        return cls(ingest=settings.ingest, detect=settings.detect, alerts=settings.alerts, feeds=settings.feeds,
                   partitions=settings.kafka.partitions, region_code=settings.region.code, registry=registry,
                   enricher=enricher)

    # ------------------------------------------------------------------ pieces
    def new_engine(self, idle_s: float = 60.0) -> Engine:
        """A fresh detection engine for one partition of ``warning.events``."""
        return Engine(self.detect, self.alerts, self.registry, idle_s=idle_s, feeds=self.feeds)

    def new_dedup(self) -> Deduplicator:
        """A fresh duplicate filter (one per feed, or per feed and raw partition in the stream)."""
        return Deduplicator(self.ingest.dedup_horizon_hours * 3600.0, self.ingest.dedup_max_ids)

    def admit(self, out: Event | Rejected, dedup_key: Hashable, start: float | None = None,
              end: float | None = None) -> Outcome:
        """Count one parsed record, once, and say what becomes of it: ``deadletter`` (rejected),
        ``out_of_range`` (event time outside ``[start, end)``), ``duplicate`` (its id was seen by
        the filter ``dedup_key`` within the horizon) or ``accepted`` (now remembered as seen)."""
        st = self.stats
        st.records += 1
        if isinstance(out, Rejected):
            st.dead_lettered[out.reason] = st.dead_lettered.get(out.reason, 0) + 1
            return "deadletter"
        ts = out.ts
        if (start is not None and ts < start) or (end is not None and ts >= end):
            st.out_of_range += 1
            return "out_of_range"
        dedup = self.dedups.get(dedup_key)
        if dedup is None:
            dedup = self.dedups[dedup_key] = self.new_dedup()
        if dedup.seen(out.id, ts):
            st.duplicates += 1
            return "duplicate"
        st.accepted += 1
        if not out.street_code:
            st.unresolved += 1
        if st.first_ts is None or ts < st.first_ts:
            st.first_ts = ts
        if st.last_ts is None or ts > st.last_ts:
            st.last_ts = ts
        return "accepted"

    # ------------------------------------------------------------------ the backtest loop
    def feed_event(self, ev: Event) -> list[Alert]:
        """Route one accepted event to its partition's engine; returns the alerts it causes."""
        out = self.engines[partition_for(ev.key, self.partitions)].process(ev)
        self.stats.alerts += len(out)
        return out

    def feed_lines(self, lines: list[bytes], start: float | None = None, end: float | None = None) -> list[Alert]:
        """Raw JSONL lines (each names its ``source``): parse, dedup per feed, detect."""
        out: list[Alert] = []
        for source, ev in self.ingestor.parse_file_lines(lines):
            if self.admit(ev, source, start, end) == "accepted":
                out += self.feed_event(ev)  # type: ignore[arg-type]
        return out

    def feed_all(self, lines: Iterable[bytes], start: float | None = None, end: float | None = None,
                 progress: Any = None, chunk_size: int = 2000) -> list[Alert]:
        """Feed raw JSONL lines in chunks (``progress(n)`` after each); returns the alerts so far."""
        alerts: list[Alert] = []
        chunk: list[bytes] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= chunk_size:
                alerts += self._chunk(chunk, start, end, progress)
                chunk = []
        if chunk:
            alerts += self._chunk(chunk, start, end, progress)
        return alerts

    def _chunk(self, chunk: list[bytes], start: float | None, end: float | None, progress: Any) -> list[Alert]:
        out = self.feed_lines(chunk, start, end)
        if progress is not None:
            progress(len(chunk))
        return out

    def flush(self) -> list[Alert]:
        """End of input: close every window of every engine; returns the alerts it causes."""
        out: list[Alert] = []
        for e in self.engines:
            out += e.flush()
        self.stats.alerts += len(out)
        self.stats.late = sum(e.late for e in self.engines)
        self.stats.budget = self.budget_spending()
        return out

    def budget_spending(self) -> dict[str, Any]:
        """Per calibrated signal: its share of ``alerts.false_alert_budget`` and the yellow
        threshold (``-log10 p``) each partition's calibration holds now (min/max over partitions;
        None until calibrated), with the street-days seen and above it."""
        signals: dict[str, dict[str, Any]] = {}
        for e in self.engines:
            b = e.ctx.budget
            if b is None:
                continue
            for sig, sp in b.spending(self.detect.thresholds_for).items():
                s = signals.setdefault(sig, {"share": sp["share"], "yellow": [], "street_days": 0.0, "street_days_above": 0.0})
                s["yellow"].append(sp["yellow"])
                s["street_days"] += sp["street_days"]
                s["street_days_above"] += sp["street_days_above"]
        for s in signals.values():
            ys = [y for y in s.pop("yellow") if y is not None]
            s["yellow_min"], s["yellow_max"] = (min(ys), max(ys)) if ys else (None, None)
            s["street_days"] = round(s["street_days"], 1)
            s["street_days_above"] = round(s["street_days_above"], 2)
        return {"false_alert_budget": self.alerts.false_alert_budget if self.alerts.calibration else None,
                "signals": dict(sorted(signals.items()))}

