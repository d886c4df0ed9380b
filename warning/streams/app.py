"""The Faust app: ingest agents for the raw feeds.

The agents only move records: bytes from a raw topic go through the core pipeline
(:class:`warning.core.pipeline.Pipeline`: parse, validate, mask, then drop duplicate ids) and out
to ``warning.events`` (keyed by street) or ``warning.deadletter``. Duplicate ids are remembered per
feed and raw partition; the ids first seen in a batch are written to a changelog-backed table as
one delta row (:mod:`warning.streams.state`) *after* the batch's events are delivered, so a
restarted worker still recognises records it has already passed on, and never one it has not.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

import faust
from prometheus_client import generate_latest

from warning.config import Settings
from warning.core.dedup import Deduplicator
from warning.core.events import EVENT_ENCODER, DeadLetter
from warning.core.ingest import Rejected
from warning.core.pipeline import Pipeline
from warning.streams import metrics as m
from warning.streams.state import Checkpoint, DeltaLog, StateTable

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
    """Per-worker ingest: the core pipeline's ingestor and duplicate filters (one per feed and raw
    partition), whose seen-marks live in the ``dedup`` state table as delta rows."""

    def __init__(self, pipeline: Pipeline, state: StateTable) -> None:
        self.pipe = pipeline
        self.state = state
        self.logs: dict[tuple[str, int], DeltaLog] = {}
        self.touched: dict[str, set[int]] = {}
        self.checkpoints: dict[str, Checkpoint] = {}
        self.recent: Any = None
        self.sender: Any = None

    def forget_partitions(self) -> None:
        """After a rebalance: rebuild filters lazily from the (recovered) table."""
        self.logs.clear()
        self.pipe.dedups.clear()

    def deduper(self, source: str, partition: int) -> Deduplicator:
        """The filter of ``source`` on raw ``partition``, restored from its delta rows on first use."""
        key = (source, partition)
        d = self.pipe.dedups.get(key)
        if d is None or key not in self.logs:
            log = self.logs[key] = DeltaLog(self.state, f"dedup.{source}", partition)
            d = self.pipe.dedups[key] = self.pipe.new_dedup()
            d.restore((rid, ts) for row in log.replay() for rid, ts in row)
        return d

    async def commit(self, source: str) -> None:
        """After :meth:`process`: hand the batch's events to the producer, and write the ids they
        mark as seen only once they are delivered (:class:`~warning.streams.state.Checkpoint`)."""
        ckpt = self.checkpoints.get(source)
        if ckpt is None:
            ckpt = self.checkpoints[source] = Checkpoint("ingest")
        await ckpt.commit(lambda: self.persist(source), produce=self.sender.flush)

    def persist(self, source: str) -> None:
        """Write one delta row per touched partition of ``source``; drop rows past the horizon."""
        for p in sorted(self.touched.pop(source, ())):
            key = (source, p)
            log, d = self.logs.get(key), self.pipe.dedups.get(key)
            if log is None or d is None:  # revoked meanwhile: its inputs are redelivered elsewhere
                continue
            delta = d.take_delta()
            if delta:
                log.append([[rid, ts] for rid, ts in delta], expires=max(ts for _, ts in delta))
            log.compact(before=d.cutoff)

    def process(self, source: str, batch: list[Any], dlq_topic: Any) -> None:
        """Handle one batch of Faust events from a raw topic (all sends are non-blocking; the
        events are produced and their seen-marks written by :meth:`commit`).

        Metrics are tallied locally and added once per batch (label look-ups cost more than the
        core's work per record)."""
        t0 = time.perf_counter()
        now = time.time()
        touched = self.touched.setdefault(source, set())
        pipe = self.pipe
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
        for ev, (_, value, ts_ms), out in zip(batch, items, pipe.ingestor.parse_batch(items)):
            msg = ev.message
            if not isinstance(out, Rejected):
                self.deduper(source, msg.partition)  # restored before the core consults it
            outcome = pipe.admit(out, (source, msg.partition))
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
            district = out.district or UNKNOWN_DISTRICT
            if outcome == "duplicate":
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
        for (district, outcome), n in tally.items():
            m.EVENTS.labels(source, district, outcome).inc(n)
        for how, n in unresolved.items():
            m.UNRESOLVED.labels(source, how).inc(n)
        for kind, n in pii.items():
            m.PII_MASKED.labels(kind).inc(n)
        observe = m.EVENT_LAG.observe
        for lag in lags:
            observe(lag if lag > 0 else 0.0)
        m.DEDUP_IDS.set(sum(len(d) for d in pipe.dedups.values()))
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
    m.set_feed_info(settings.feeds)  # warning_feed_info: the alert rules know the configured feeds from it
    t = settings.topics
    n = settings.kafka.partitions
    raw_topics = {src: app.topic(name, value_serializer="raw", key_serializer="raw", partitions=n) for src, name in settings.raw_topics().items()}
    events_topic = app.topic(t.events, value_serializer="raw", key_serializer="raw", partitions=n)
    dlq_topic = app.topic(t.deadletter, value_serializer="raw", key_serializer="raw", partitions=n)
    from warning.streams.feedback import RecentTexts, add_feedback, load_enricher

    enricher, fb_offsets = load_enricher(settings)
    pipeline = Pipeline.from_settings(settings, enricher=enricher)
    service = IngestService(pipeline, StateTable.create(app, "dedup", n))
    service.recent = RecentTexts()
    from warning.streams.batching import BatchSender

    service.sender = BatchSender(app, t.events, n)
    add_feedback(app, settings, enricher, service.recent, fb_offsets)
    app.warning_ingest = service  # type: ignore[attr-defined]
    batch_size, within = settings.ingest.batch_size, settings.ingest.batch_within_s

    def make_agent(source: str, topic: Any) -> None:
        async def ingest(stream: Any) -> None:
            async for batch in stream.take_events(batch_size, within=within):
                service.process(source, batch, dlq_topic)
                await service.commit(source)  # events delivered, then seen-marks; acked after this

        ingest.__name__ = ingest.__qualname__ = f"ingest_{source}"
        app.agent(topic, name=f"warning.ingest.{source}")(ingest)

    stages = set(settings.worker.agents)
    if "ingest" in stages:
        for src, topic in raw_topics.items():
            make_agent(src, topic)
    if "detect" in stages:
        from warning.streams.detect import add_detection

        app.warning_detect = add_detection(app, settings, events_topic, pipeline)  # type: ignore[attr-defined]
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
        s = pipeline.stats
        det = getattr(app, "warning_detect", None)
        body = {"status": "ok", "accepted": s.accepted, "dead_lettered": sum(s.dead_lettered.values()),
                "duplicates": s.duplicates}
        if det is not None:
            body.update(late_events=sum(e.late for e in det.engines.values()), alerts_emitted=det.alerts_sent,
                        partitions=sorted(det.engines))
        return web.json(body)

    return app
