"""The Faust app: ingest agents for the three raw feeds.

The agents only move records: bytes from a raw topic go through :class:`warning.core.ingest.Ingestor`
(the pure core) and out to ``warning.events`` (keyed by street) or ``warning.deadletter``. Duplicate
ids are remembered per raw partition in a changelog-backed table, written once per batch as a delta
row, so a restarted worker still recognises records it has already passed on.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import faust
from prometheus_client import generate_latest

from warning.config import Settings
from warning.core.dedup import Deduplicator
from warning.core.events import EVENT_ENCODER, DeadLetter, Event
from warning.core.ingest import Ingestor, Rejected
from warning.streams import metrics as m

log = logging.getLogger("warning.ingest")

UNKNOWN_DISTRICT = "未定位"


def faust_settings(settings: Settings) -> dict[str, Any]:
    k = settings.kafka
    w = settings.worker
    return dict(
        broker=k.broker,
        store="memory://",
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        broker_client_id=k.client_id,
        broker_session_timeout=k.session_timeout_s,
        broker_heartbeat_interval=k.heartbeat_interval_s,
        broker_rebalance_timeout=k.rebalance_timeout_s,
        producer_max_batch_size=k.producer_max_batch_size,
        producer_linger=k.producer_linger_ms / 1000.0,
        producer_max_request_size=k.max_request_size,
        consumer_max_fetch_size=max(k.max_request_size, 1024 * 1024),
        datadir=w.data_dir,
        web_host=w.web_host,
        web_port=w.web_port,
        web_bind=w.web_host,
        web_enabled=True,
        processing_guarantee="at_least_once",
        topic_disable_leader=True,
    )


class IngestService:
    """Per-worker ingest state: the core ingestor plus per-partition duplicate filters."""

    def __init__(self, settings: Settings, dedup_table: Any, ingestor: Ingestor) -> None:
        self.settings = settings
        self.table = dedup_table
        self.ingestor = ingestor
        self.horizon_s = settings.ingest.dedup_horizon_hours * 3600.0
        self.max_ids = settings.ingest.dedup_max_ids
        self._dedup: dict[tuple[str, int], Deduplicator] = {}
        self._seq: dict[tuple[str, int], int] = {}
        self.recent: Any = None
        self.sender: Any = None

    def forget_partitions(self) -> None:
        """After a rebalance: rebuild filters lazily from the (recovered) table."""
        self._dedup.clear()
        self._seq.clear()

    def _deduper(self, source: str, partition: int) -> Deduplicator:
        key = (source, partition)
        d = self._dedup.get(key)
        if d is None:
            d = Deduplicator(self.horizon_s, self.max_ids)
            prefix = f"{source}|{partition}|"
            entries: list[tuple[str, float]] = []
            seq = 0
            for k, v in list(self.table.data.items()):
                if isinstance(k, str) and k.startswith(prefix) and v:
                    seq = max(seq, int(k.rsplit("|", 1)[1]))
                    entries.extend((rid, ts) for rid, ts in v)
            d.restore(entries)
            self._dedup[key] = d
            self._seq[key] = seq
        return d

    def _persist(self, source: str, partition: int) -> None:
        key = (source, partition)
        d = self._dedup[key]
        delta = d.take_delta()
        if not delta:
            return
        self._seq[key] += 1
        tkey = f"{source}|{partition}|{self._seq[key]}"
        value = [[rid, ts] for rid, ts in delta]
        self.table.data[tkey] = value
        self.table.send_changelog(partition, tkey, value)
        # Drop delta rows whose every id is past the horizon.
        cutoff = d.cutoff
        prefix = f"{source}|{partition}|"
        for k, v in list(self.table.data.items()):
            if isinstance(k, str) and k.startswith(prefix) and v and max(ts for _, ts in v) < cutoff:
                del self.table.data[k]
                self.table.send_changelog(partition, k, None)

    def process(self, source: str, batch: list[Any], events_topic: Any, dlq_topic: Any) -> None:
        """Handle one batch of Faust events from a raw topic (all sends are non-blocking).

        Metrics are tallied locally and added once per batch (label look-ups cost more than the
        core's work per record)."""
        t0 = time.perf_counter()
        now = time.time()
        touched: set[int] = set()
        ing = self.ingestor
        tally: dict[tuple[str, str], int] = {}
        pii: dict[str, int] = {}
        unresolved: dict[str, int] = {}
        lags: list[float] = []
        items = []
        for ev in batch:
            msg = ev.message
            value = msg.value if isinstance(msg.value, (bytes, bytearray)) else bytes(msg.value or b"")
            items.append((source, bytes(value), int(msg.timestamp * 1000) if msg.timestamp else None))
        add_event = self.sender.add
        recent_add = self.recent.add if self.recent is not None else None
        for ev, (_, value, ts_ms), out in zip(batch, items, ing.parse_batch(items)):
            msg = ev.message
            if isinstance(out, Rejected):
                dl = DeadLetter(
                    reason=out.reason,
                    detail=out.detail,
                    source=source,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    timestamp_ms=ts_ms,
                    dead_lettered_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                )
                dlq_topic.send_soon(
                    key=(msg.key if isinstance(msg.key, (bytes, bytearray)) else None),
                    value=bytes(value),
                    headers=dl.headers(),
                )
                k = (UNKNOWN_DISTRICT, "deadletter")
                tally[k] = tally.get(k, 0) + 1
                m.DEADLETTER.labels(source, out.reason).inc()
                continue
            dedup = self._deduper(source, msg.partition)
            district = out.district or UNKNOWN_DISTRICT
            if dedup.seen(out.id, out.ts):
                ing.stats.accepted -= 1
                ing.stats.duplicates += 1
                if not out.street_code:
                    ing.stats.unresolved -= 1
                k = (district, "duplicate")
                tally[k] = tally.get(k, 0) + 1
                continue
            touched.add(msg.partition)
            out.raw_partition = msg.partition
            add_event(out.key.encode(), EVENT_ENCODER.encode(out), int(out.ts * 1000))
            if recent_add is not None:
                recent_add(out.event_id, out.text)
            k = (district, "accepted")
            tally[k] = tally.get(k, 0) + 1
            lags.append(now - out.ts)
            if not out.street_code:
                unresolved[out.resolved_by] = unresolved.get(out.resolved_by, 0) + 1
            for kind, n in out.pii.items():
                if n:
                    pii[kind] = pii.get(kind, 0) + n
        for p in touched:
            self._persist(source, p)
        for (district, outcome), n in tally.items():
            m.EVENTS.labels(source, district, outcome).inc(n)
        for how, n in unresolved.items():
            m.UNRESOLVED.labels(source, how).inc(n)
        for kind, n in pii.items():
            m.PII_MASKED.labels(kind).inc(n)
        observe = m.EVENT_LAG.observe
        for lag in lags:
            observe(lag if lag > 0 else 0.0)
        m.DEDUP_IDS.set(sum(len(d) for d in self._dedup.values()))
        m.BATCH_SECONDS.observe(time.perf_counter() - t0)


def build_enricher(settings: Settings) -> Any:
    """The text enricher (mask + risk terms + sentiment), or None if the text module is absent."""
    from warning.core.text import TextEnricher

    return TextEnricher.from_config(settings.text)


def create_app(settings: Settings, **overrides: Any) -> faust.App:
    """Build the Faust app for ``settings``; ``overrides`` go straight to Faust (tests use this)."""
    conf = faust_settings(settings)
    conf.update(overrides)
    from warning.streams import faust_compat

    faust_compat.install()
    app = faust.App(settings.worker.app_id, **conf)
    app.warning_fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms  # type: ignore[attr-defined]
    t = settings.topics
    n = settings.kafka.partitions
    raw_topics = {src: app.topic(name, value_serializer="raw", key_serializer="raw", partitions=n) for src, name in t.raw().items()}
    events_topic = app.topic(t.events, value_serializer="raw", key_serializer="raw", partitions=n)
    dlq_topic = app.topic(t.deadletter, value_serializer="raw", key_serializer="raw", partitions=n)
    dedup_table = app.Table("dedup", default=None, partitions=n, key_type=str)
    from warning.streams.feedback import RecentTexts, add_feedback, load_enricher

    enricher, fb_offsets = load_enricher(settings)
    ingestor = Ingestor(settings, enricher=enricher)
    service = IngestService(settings, dedup_table, ingestor)
    service.recent = RecentTexts()
    from warning.streams.batching import BatchSender

    service.sender = BatchSender(app, t.events, n)
    add_feedback(app, settings, enricher, service.recent, fb_offsets)
    app.warning_ingest = service  # type: ignore[attr-defined]
    batch_size, within = settings.ingest.batch_size, settings.ingest.batch_within_s

    def make_agent(source: str, topic: Any) -> None:
        async def ingest(stream: Any) -> None:
            async for batch in stream.take_events(batch_size, within=within):
                service.process(source, batch, events_topic, dlq_topic)
                await service.sender.flush()

        ingest.__name__ = ingest.__qualname__ = f"ingest_{source}"
        app.agent(topic, name=f"warning.ingest.{source}")(ingest)

    stages = set(settings.worker.agents)
    if "ingest" in stages:
        for src, topic in raw_topics.items():
            make_agent(src, topic)
    if "detect" in stages:
        from warning.streams.detect import add_detection

        app.warning_detect = add_detection(app, settings, events_topic)  # type: ignore[attr-defined]
    if "deliver" in stages:
        from warning.streams.deliver import add_delivery

        app.warning_router = add_delivery(app, settings)  # type: ignore[attr-defined]

    @app.on_partitions_assigned.connect
    async def _on_assigned(sender: Any, assigned: Any, **kw: Any) -> None:  # noqa: ARG001
        service.forget_partitions()

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(m.REGISTRY), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        s = service.ingestor.stats
        det = getattr(app, "warning_detect", None)
        body = {"status": "ok", "accepted": s.accepted, "dead_lettered": s.dead_lettered, "duplicates": s.duplicates}
        if det is not None:
            body.update(late_events=sum(e.late for e in det.engines.values()), alerts_emitted=det.alerts_sent,
                        partitions=sorted(det.engines))
        return web.json(body)

    return app
