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
from typing import Any, Callable, Hashable, Iterable, Literal, Mapping

import msgspec

from warning.core.dedup import Deduplicator
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.engine import Engine
from warning.core.events import EVENT_DECODER, Alert, Event
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


class _Keyed(msgspec.Struct):
    key: str


_KEY_DECODER = msgspec.json.Decoder(_Keyed)
_INVALID_EVENT = Rejected("invalid_event", "not a warning.events record")


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
    #: per watched street (the runner's ``watch``), per closed hour: (hour start, observed, expected)
    series: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)


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
        #: the duplicate filters keep their deltas (the stream persists them; a backtest does not)
        self.dedup_deltas = False
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
        return Deduplicator(self.ingest.dedup_horizon_hours * 3600.0, self.ingest.dedup_max_ids, deltas=self.dedup_deltas)

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
    def partition_of(self, ev: Event) -> int:
        """The partition (engine) of an event: Kafka's default partitioner on its street key."""
        return partition_for(ev.key, self.partitions)

    def feed_event(self, ev: Event) -> list[Alert]:
        """Route one accepted event to its partition's engine; returns the alerts it causes."""
        out = self.engines[partition_for(ev.key, self.partitions)].process(ev)
        self.stats.alerts += len(out)
        return out

    def feed_lines(self, lines: list[bytes], start: float | None = None, end: float | None = None) -> list[Alert]:
        """Raw JSONL lines (each names its ``source``): parse, dedup per feed, detect."""
        return [a for _, a in self.feed_lines_tagged(lines, start, end)]

    def feed_lines_tagged(self, lines: list[bytes], start: float | None = None, end: float | None = None,
                          keep: Callable[[int], bool] | None = None) -> list[tuple[int, Alert]]:
        """:meth:`feed_lines`, each alert with the index of the line that caused it. Every line is
        parsed, placed and counted (the duplicate filters see every record), but only the
        accepted events whose partition ``keep`` accepts (default: all) get their text enriched
        and go to their engine — text work is the expensive part, and is done only for events
        that count (never for duplicates or records out of range)."""
        placed = self.ingestor.place_file_lines(lines)
        todo: list[tuple[int, Event, str]] = []
        for i, (source, ev, text) in enumerate(placed):
            if self.admit(ev, source, start, end) == "accepted" and (keep is None or keep(self.partition_of(ev))):  # type: ignore[arg-type]
                todo.append((i, ev, text))  # type: ignore[arg-type]
        self.ingestor.enrich_events([(ev, text) for _, ev, text in todo])
        out: list[tuple[int, Alert]] = []
        for i, ev, _ in todo:
            for a in self.feed_event(ev):
                out.append((i, a))
        return out

    def enrich_lines(self, lines: list[bytes], start: float | None = None, end: float | None = None) -> list[Event]:
        """Raw JSONL lines → the accepted, enriched events in input order (what ingest would
        produce to ``warning.events``), without detection."""
        placed = self.ingestor.place_file_lines(lines)
        todo = [(ev, text) for source, ev, text in placed if self.admit(ev, source, start, end) == "accepted"]
        self.ingestor.enrich_events(todo)  # type: ignore[arg-type]
        return [ev for ev, _ in todo]  # type: ignore[misc]

    def feed_events_tagged(self, records: list[bytes], start: float | None = None, end: float | None = None,
                           keep: Callable[[int], bool] | None = None,
                           count_invalid: bool = True) -> list[tuple[int, Alert]]:
        """Enriched events (``warning.events`` records, JSON) straight to their engines, each
        alert with the index of the record that caused it; no text work. An event id already
        taken by its partition within the dedup horizon is a duplicate (ingest is at-least-once;
        the stream's detection agent drops it the same way). Only events whose partition ``keep``
        accepts (default: all) are decoded fully, counted and detected; an undecodable record is
        dead-lettered as ``invalid_event`` (counted only if ``count_invalid``)."""
        out: list[tuple[int, Alert]] = []
        for i, rec in enumerate(records):
            if keep is not None:  # the key first (cheap): other partitions' events are not decoded
                try:
                    key = _KEY_DECODER.decode(rec).key
                except Exception:  # noqa: BLE001 — not an event: counted once (count_invalid)
                    if count_invalid:
                        self.admit(_INVALID_EVENT, None)
                    continue
                if not keep(partition_for(key, self.partitions)):
                    continue
            try:
                ev = EVENT_DECODER.decode(rec)
            except Exception:  # noqa: BLE001 — not an event: say so in the counts, keep going
                self.admit(_INVALID_EVENT, None)
                continue
            if self.admit(ev, (ev.source, self.partition_of(ev)), start, end) == "accepted":
                for a in self.feed_event(ev):
                    out.append((i, a))
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
        return [a for _, a in self.flush_tagged()]

    def flush_tagged(self, keep: Callable[[int], bool] | None = None) -> list[tuple[int, Alert]]:
        """:meth:`flush` of the engines whose partition ``keep`` accepts (default: all), each
        alert with its partition, in partition order."""
        out: list[tuple[int, Alert]] = []
        for p, e in enumerate(self.engines):
            if keep is None or keep(p):
                out += [(p, a) for a in e.flush()]
        self.stats.alerts += len(out)
        self.stats.late = sum(e.late for e in self.engines)
        self.stats.budget = self.budget_spending(keep)
        return out

    def engine_spending(self, p: int) -> dict[str, dict[str, Any]] | None:
        """How partition ``p``'s calibration spends the budget (None: no calibration)."""
        b = self.engines[p].ctx.budget
        return None if b is None else b.spending(self.detect.thresholds_for)

    def budget_spending(self, keep: Callable[[int], bool] | None = None) -> dict[str, Any]:
        """Per calibrated signal: its share of ``alerts.false_alert_budget`` and the yellow
        threshold (``-log10 p``) each partition's calibration holds now (min/max over partitions;
        None until calibrated), with the street-days seen and above it. ``keep``: only these
        partitions (default: all)."""
        return merge_spending(self.alerts, [self.engine_spending(p) for p in range(self.partitions) if keep is None or keep(p)])


def merge_spending(alerts: AlertSettings, per_partition: list[dict[str, dict[str, Any]] | None]) -> dict[str, Any]:
    """:meth:`Pipeline.budget_spending` from :meth:`Pipeline.engine_spending` of each partition, in
    partition order (a parallel backtest merges its jobs' partitions with it)."""
    signals: dict[str, dict[str, Any]] = {}
    for spending in per_partition:
        if spending is None:
            continue
        for sig, sp in spending.items():
            s = signals.setdefault(sig, {"share": sp["share"], "yellow": [], "street_days": 0.0, "street_days_above": 0.0})
            s["yellow"].append(sp["yellow"])
            s["street_days"] += sp["street_days"]
            s["street_days_above"] += sp["street_days_above"]
    for s in signals.values():
        ys = [y for y in s.pop("yellow") if y is not None]
        s["yellow_min"], s["yellow_max"] = (min(ys), max(ys)) if ys else (None, None)
        s["street_days"] = round(s["street_days"], 1)
        s["street_days_above"] = round(s["street_days_above"], 2)
    return {"false_alert_budget": alerts.false_alert_budget if alerts.calibration else None,
            "signals": dict(sorted(signals.items()))}
