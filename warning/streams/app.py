"""The Faust app: ingest agents for the raw feeds.

The agents only move records: bytes from a raw topic go through the core pipeline
(:class:`warning.core.pipeline.Pipeline`: parse, validate, mask, then drop duplicate ids) and out
to ``warning.events`` (keyed by street) or ``warning.deadletter``. Duplicate ids are remembered per
feed and *home* partition of the id (every record is handed on to it through an internal topic,
see :class:`IngestService`); the ids first seen are written to a changelog-backed table as
delta rows (:mod:`warning.streams.state`) *after* the events they stand for are delivered, so a
restarted worker still recognises records it has already passed on, and never one it has not.

**Rebalances and stops.** A worker never waits for its streams to empty before it hands its
partitions over (``stream_wait_empty`` off: detection holds events unacknowledged in its reorder
buffer until the watermark passes them, which only new input brings, so waiting stalled every
rebalance and turned every graceful stop into a SIGKILL). Instead, the moment a rebalance starts
(:class:`RebalanceFence`, before Faust revokes anything) ingest and detection are *fenced*: they
drop their in-memory filters and engines and write no state and emit nothing more until the next
assignment, and they ignore records fetched before it (Faust's generation id), which Kafka
redelivers from the last committed offset to whichever worker owns the partition next — that
worker restores the partition from the table as of the last checkpoint (:mod:`warning.streams.state`).
No checkpoint is written at revocation: aiokafka may report the revocation only after the group
has already evicted this worker (a stall past the session timeout) and handed its partitions on,
and a write then would land on top of the new owner's recovery. On a graceful stop a last
checkpoint is written while the worker is still a member, then the services are fenced.

The web server serves ``/metrics`` and ``/healthz`` only (Faust's own pages are off).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import faust
from prometheus_client import generate_latest

from warning.config import Settings
from warning.core.dedup import Deduplicator
from warning.core.events import EVENT_DECODER, EVENT_ENCODER, DeadLetter, Event
from warning.core.ingest import KAFKA_HEADROOM_BYTES, Rejected
from warning.core.pipeline import Pipeline, partition_for_bytes
from warning.streams import metrics as m
from warning.streams.align import EventTimeAligner
from warning.streams.contiguous import ContiguousInput
from warning.streams.state import EXIT_CHECKPOINT_FAILED, Checkpoint, DeltaLog, Fenced, StateTable

log = logging.getLogger("warning.ingest")

UNKNOWN_DISTRICT = "未定位"

#: longest a graceful stop waits for its last checkpoint (then it stops; the next owner redelivers)
SHUTDOWN_CHECKPOINT_S = 5.0

#: exit status of a worker whose graceful stop did not end within ``worker.stop_timeout_s``
EXIT_STOP_TIMEOUT = 75


def exit_if_stop_hangs(timeout_s: float, exit: Callable[[int], Any] = os._exit) -> threading.Timer:
    """Arm a timer that ends the process with :data:`EXIT_STOP_TIMEOUT` when a stop has not ended
    after ``timeout_s``.

    With the broker gone, Faust's stop waits on the fetcher, the producer's flush and the consumer's
    group leave, each with its own timeout (minutes). Ending the process then is as safe as kill -9,
    which the failover tests exercise: nothing is marked done before the record it stands for, and
    what was not committed is read again by the partitions' next owner. ``exit`` is for tests.

    >>> seen = []
    >>> t = exit_if_stop_hangs(0.01, seen.append); t.join(1); seen
    [75]
    """
    def expire() -> None:
        try:
            log.error("stop did not end within %g s (worker.stop_timeout_s; e.g. the broker is unreachable): exiting "
                      "with status %d; records not committed are read again by the partitions' next owner",
                      timeout_s, EXIT_STOP_TIMEOUT)
            for h in logging.getLogger().handlers:
                h.flush()
        finally:
            exit(EXIT_STOP_TIMEOUT)

    t = threading.Timer(timeout_s, expire)
    t.daemon = True
    t.start()
    return t


class BoundedStopWorker(faust.Worker):
    """Faust's worker whose stop — on SIGTERM/SIGINT, a crash, or during start-up — ends the process
    after ``stop_timeout_s`` at the latest (:func:`exit_if_stop_hangs`). The timer is armed before
    anything is stopped (mode's ``Service.stop`` calls ``on_stop`` before it stops its children, the
    app among them)."""

    stop_timeout_s: float = 15.0
    #: the signal that asked the worker to stop, if one did
    stop_signal: str | None = None

    def _on_sigterm(self) -> None:
        self.stop_signal = self.stop_signal or "SIGTERM"
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.stop_signal = self.stop_signal or "SIGINT"
        super()._on_sigint()

    async def on_stop(self) -> None:
        exit_if_stop_hangs(self.stop_timeout_s)
        log.warning("worker stopping (%s): ends within %g s (worker.stop_timeout_s)", self.stop_reason(),
                    self.stop_timeout_s)
        await super().on_stop()

    def stop_reason(self) -> str:
        """Why the worker stops, for its log: a crash (with its exception's type), a signal (its
        name), or something else (the end of its start-up, e.g. an error there, already logged).

        >>> w = BoundedStopWorker.__new__(BoundedStopWorker); w._crash_reason = None; w.stop_reason()
        'other'
        >>> w.stop_signal = "SIGTERM"; w.stop_reason()
        'SIGTERM'
        >>> w._crash_reason = ConnectionError("gone"); w.stop_reason()
        'crash: ConnectionError'
        """
        if self.crash_reason is not None:
            return f"crash: {type(self.crash_reason).__name__}"
        return self.stop_signal or "other"


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
        # Only our own pages (/metrics, /healthz): Faust's /router/ and /table/ pages would serve record
        # ids and pickled detector state to anyone who can reach the port; its statistics, graph and
        # performance pages are off too.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        processing_guarantee="at_least_once",
        topic_disable_leader=True,
        # Hand partitions over without waiting for acks that only new input brings (see the module
        # docstring): the services are fenced instead, and Kafka redelivers what was not acked.
        stream_wait_empty=False,
        # Standby replicas of the state tables (dedup, detect): kept warm from the changelog by
        # the WarmMemoryStore, so a takeover reads only the changelog tail. Faust assigns none
        # while the group has one worker (a standby is never on its active's worker).
        table_standby_replicas=w.standby_replicas,
        # A partition kept over a rebalance resumes its recovery at this worker's own last write;
        # on Tansu (which reports the end of a partition as the base offset of its last batch) that
        # offset can be past the reported end, which is not an inconsistency here.
        recovery_consistency_check=False,
    )


class RebalanceFence(faust.Sensor):
    """Calls every registered ``fence`` the moment a rebalance starts (Faust's sensor hook runs in
    aiokafka's revocation callback before anything is revoked, paused or awaited), and keeps the
    rebalance times for ``/healthz``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fences: list[Callable[[], None]] = []
        self.rebalances = 0
        self.started_at: float | None = None  # wall clock of the last rebalance start / end
        self.ended_at: float | None = None

    def on_rebalance_start(self, app: Any) -> dict:
        self.rebalances += 1
        self.started_at = time.time()
        for fence in self.fences:
            fence()
        return super().on_rebalance_start(app)

    def on_rebalance_end(self, app: Any, state: dict) -> None:
        self.ended_at = time.time()
        super().on_rebalance_end(app, state)


def _only_own_pages(app: faust.App) -> None:
    """Drop Faust's built-in pages that no setting turns off (its production index at ``/``), so
    the web server answers only the pages this module registers; anything else is a 404."""
    app.web.blueprints._enabled[:] = []


class IngestService(Fenced):
    """Per-worker ingest: the core pipeline's ingestor and duplicate filters, whose seen-marks live
    in the ``dedup`` state table as delta rows.

    **One filter per id.** A record's *home* is the partition its id hashes to (Kafka's default
    partitioner on the id's bytes). The raw agents parse, validate, mask and enrich, and hand every
    record on, as its canonical event, to the internal topic ``Settings.rekey_topic()`` keyed by its
    id — so it lands on its home partition there, owned by the worker that owns that filter (the
    topics are co-partitioned) — where the agent of that topic consults the filter of ``(feed,
    home)`` and produces the new events to ``warning.events``. A resend thus meets the same filter
    whichever partition it was written to (keyless, keyed by street or batch, re-keyed). Every
    event takes the same path, so each watermark lane (feed, raw partition, rekey partition) stays
    in order; a shortcut for records already on their home partition would overtake the others of
    their raw partition and make them late in a fast replay.

    **One checkpoint.** :meth:`commit` — shared by every ingest agent, serialised by one lock —
    takes the seen-marks added so far and the records built so far *at the same instant*, waits
    until those records are delivered, then writes the marks; an agent acks its inputs only after
    its commit returns. So a mark is never durable before the event (or hand-on) it stands for,
    even when two agents feed the same filter.
    """

    def __init__(self, pipeline: Pipeline, state: StateTable, partitions: int) -> None:
        # Its filters are per (feed, home partition), made by deduper(), and keep deltas: their
        # new ids are written to the state table (commit). The backtest's per-feed ones go.
        pipeline.dedup_deltas = True
        pipeline.dedups.clear()
        self.pipe = pipeline
        self.state = state
        self.partitions = partitions
        self.logs: dict[tuple[str, int], DeltaLog] = {}
        self.ckpt = Checkpoint("ingest")
        self.recent: Any = None
        self.sender: Any = None  # BatchSender → warning.events
        self.rekey: Any = None  # BatchSender → the rekey topic
        self.dlq: Any = None  # BatchSender → warning.deadletter
        #: a dead letter's value is the original record, unless that would not fit in a produce request
        self.dlq_max_bytes = 1 << 62
        self.dlq_keep_bytes = 1 << 62
        #: raw partitions read in step by event time (None: off), and the raw partitions with
        #: records waiting (set by :func:`create_app`)
        self.aligner: EventTimeAligner | None = None
        self.reading: Callable[[], set[Any]] = set
        self.holds: list[tuple[Any, int, float]] = []  # (partition, offset, event time) process left, for the agent

    # fence / assign / current: :class:`~warning.streams.state.Fenced`. Fenced, no seen-mark is
    # written; records built but not delivered yet still go out with the next commit (at-least-once)
    # without their marks, so a redelivered record is admitted again, never lost.

    def drop_partitions(self) -> None:
        self.forget_partitions()

    def forget_partitions(self) -> None:
        """Drop the filters; they are rebuilt lazily from the (recovered) table."""
        self.logs.clear()
        self.pipe.dedups.clear()
        self.state.forget_pages()

    def home(self, record_id: str) -> int:
        """The partition whose filter owns ``record_id``."""
        return partition_for_bytes(record_id.encode(), self.partitions)

    def deduper(self, source: str, partition: int) -> Deduplicator:
        """The filter of ``source`` on ``partition``, restored from its delta rows on first use."""
        key = (source, partition)
        d = self.pipe.dedups.get(key)
        if d is None or key not in self.logs:
            log = self.logs[key] = DeltaLog(self.state, f"dedup.{source}", partition)
            d = self.pipe.dedups[key] = log.restore_marks(self.pipe.new_dedup())
        return d

    async def commit(self) -> None:
        """After :meth:`process` / :meth:`process_rekeyed`: deliver what was built, then write the
        seen-marks it stands for (:class:`~warning.streams.state.Checkpoint`); the caller acks after."""
        marks: dict[tuple[str, int], list[tuple[str, float]]] = {}

        async def produce() -> list[Any]:
            # Synchronous up to the first await: the marks taken here are exactly those of the
            # records taken here (every admitted record is built into a sender at once).
            for key, d in self.pipe.dedups.items():
                delta = d.take_delta()
                if delta:
                    marks[key] = delta  # type: ignore[index]
            batches = [(s, s.take()) for s in (self.sender, self.rekey, self.dlq) if s is not None]
            return [f for s, b in batches for f in await s.send(b)]

        await self.ckpt.commit(lambda: self.persist(marks), produce=produce)

    def persist(self, marks: dict[tuple[str, int], list[tuple[str, float]]]) -> None:
        """Write one delta row per filter with new marks; drop rows past the horizon."""
        if self.fenced:  # a rebalance is on: the partitions may already be another worker's
            return
        for key in sorted(marks):
            log, d = self.logs.get(key), self.pipe.dedups.get(key)
            if log is None or d is None:  # revoked meanwhile: its inputs are redelivered elsewhere
                continue
            log.write_marks(marks[key], d.cutoff)

    def process(self, source: str, batch: list[Any]) -> list[Any]:
        """Handle one batch of Faust events from the raw topic of ``source`` (all sends are
        non-blocking; :meth:`commit` delivers them and writes the seen-marks). Returns the events
        taken; a partition too far ahead in event time (:mod:`warning.streams.align`) is left from
        its first such record on, unacked, and named in :attr:`holds` for the agent to hold back.

        Metrics are tallied locally and added once per batch (label look-ups cost more than the
        core's work per record)."""
        t0 = time.perf_counter()
        pipe = self.pipe
        items = []
        for ev in batch:
            msg = ev.message
            value = msg.value if isinstance(msg.value, (bytes, bytearray)) else bytes(msg.value or b"")
            items.append((source, bytes(value), int(msg.timestamp * 1000) if msg.timestamp else None))
        tally = _Tally()
        rekey_add = self.rekey.add
        al = self.aligner
        taken: list[Any] = []
        held: dict[Any, tuple[int, float]] = {}
        others: float | None = None
        now = time.monotonic()
        backlog_before = time.time() - (al.ahead_s if al is not None else 0.0)  # a record older is part of a backlog
        keep: Callable[[int, Event], bool] | None = None
        skip: Callable[[int], bool] | None = None
        if al is not None:
            # the slowest of the other partitions still being read (this batch's move only forward)
            others = al.floor(self.reading() - {ev.message.tp for ev in batch}, now)
            if others is not None:
                ahead_of = others + al.ahead_s

                def ahead(i: int, out: Event) -> bool:
                    """Asked in order before the text work: hold a partition from its first record too
                    far ahead (and part of a backlog) on; what is held is not enriched now."""
                    msg = batch[i].message  # (not of a partition held in this batch: after_held skipped it)
                    if ahead_of < out.ts < backlog_before:
                        held[msg.tp] = (msg.offset, out.ts)
                        return False
                    return True

                def after_held(i: int) -> bool:
                    """A record of a partition held in this batch (one after its record held back,
                    in offset order) is left undecoded: it comes back with the rest."""
                    return bool(held) and batch[i].message.tp in held

                keep, skip = ahead, after_held

        for ev, (_, value, ts_ms), out in zip(batch, items, pipe.ingestor.parse_batch(items, keep=keep, skip=skip)):
            msg = ev.message
            h = held.get(msg.tp) if held else None
            if h is not None and msg.offset >= h[0]:
                continue  # from a record held back on: kept, handed back once released
            if isinstance(out, Rejected):
                if al is not None:
                    al.started(msg.tp)
                taken.append(ev)
                pipe.admit(out, None)
                self._dead_letter(out, source, msg, value)
                tally.count(UNKNOWN_DISTRICT, "deadletter")
                continue
            assert out is not None  # (declined only when held, skipped above)
            if al is not None:
                al.note(msg.tp, out.ts, now)
            taken.append(ev)
            out.raw_partition = msg.partition
            out.via = home = self.home(out.id)
            rekey_add(out.id.encode(), EVENT_ENCODER.encode(out), ts_ms)
            if home != msg.partition:
                tally.rekeyed += 1
        tally.flush(source)
        self.holds.extend((tp, offset, ts) for tp, (offset, ts) in held.items())
        if held:
            m.INGEST_HELD.inc(len(held))
        m.BATCH_SECONDS.observe(time.perf_counter() - t0)
        return taken

    def process_rekeyed(self, batch: list[Any]) -> None:
        """Handle one batch from the rekey topic: canonical events on their home partition.

        Only workers write this topic (restrict it with broker ACLs like the changelogs); a record
        that is not an event of a configured feed is dead-lettered (``invalid_rekeyed``), not trusted."""
        t0 = time.perf_counter()
        by_source: dict[str, _Tally] = {}
        for ev in batch:
            msg = ev.message
            try:
                out = EVENT_DECODER.decode(msg.value)
                if out.source not in self.pipe.feeds:
                    raise ValueError(f"unknown source {out.source[:40]!r}")
            except Exception as exc:  # our own topic: not expected; dead-letter it, keep going
                self._dead_letter(Rejected("invalid_rekeyed", f"{type(exc).__name__}: {exc}"[:300]), "rekey",
                                  msg, bytes(msg.value or b""))
                by_source.setdefault("rekey", _Tally()).count(UNKNOWN_DISTRICT, "deadletter")
                continue
            tally = by_source.get(out.source)
            if tally is None:
                tally = by_source[out.source] = _Tally()
            self._admit(out, msg.partition, tally)
        for source, tally in by_source.items():
            tally.flush(source)
        m.DEDUP_IDS.set(sum(len(d) for d in self.pipe.dedups.values()))
        m.BATCH_SECONDS.observe(time.perf_counter() - t0)

    def _dead_letter(self, out: Rejected, source: str, msg: Any, value: bytes) -> None:
        """The original record to the dead-letter topic, the reason and coordinates as headers;
        delivered by the same checkpoint as the events (its input is acked after)."""
        dl = DeadLetter(
            reason=out.reason,
            detail=out.detail,
            source=source,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            timestamp_ms=int(msg.timestamp * 1000) if msg.timestamp else None,
            dead_lettered_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        )
        body = value
        if len(body) > self.dlq_max_bytes:
            # Bigger than a produce request may be (a broker that accepts more than we send): the
            # dead letter carries the first max_record_bytes; the whole record stays at the
            # topic/partition/offset its headers name.
            body = body[: self.dlq_keep_bytes]
            dl.detail += f"; dead letter carries its first {len(body)} bytes"
        key = msg.key if isinstance(msg.key, (bytes, bytearray)) else None
        self.dlq.add(bytes(key) if key is not None else None, body, dl.timestamp_ms, headers=dl.headers())
        m.DEADLETTER.labels(source, out.reason).inc()

    def _admit(self, out: Any, home: int, tally: "_Tally") -> None:
        """Consult the filter of ``(source, home)``; build the event if it is new."""
        self.deduper(out.source, home)  # restored before the core consults it
        outcome = self.pipe.admit(out, (out.source, home))
        district = out.district or UNKNOWN_DISTRICT
        if outcome == "duplicate":
            tally.count(district, "duplicate")
            return
        self.sender.add(out.key.encode(), EVENT_ENCODER.encode(out), int(out.ts * 1000))
        if self.recent is not None:
            self.recent.add(out.event_id, out.text)
        tally.accepted(out, district)


class _Tally:
    """Ingest metrics of one batch and feed, added to the registry once (see :meth:`IngestService.process`)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.outcomes: dict[tuple[str, str], int] = {}
        self.pii: dict[str, int] = {}
        self.unresolved: dict[str, int] = {}
        self.lags: list[float] = []
        self.rekeyed = 0

    def count(self, district: str, outcome: str) -> None:
        k = (district, outcome)
        self.outcomes[k] = self.outcomes.get(k, 0) + 1

    def accepted(self, out: Any, district: str) -> None:
        self.count(district, "accepted")
        self.lags.append(self.now - out.ts)
        if not out.street_code:
            self.unresolved[out.resolved_by] = self.unresolved.get(out.resolved_by, 0) + 1
        for kind, n in out.pii.items():
            if n:
                self.pii[kind] = self.pii.get(kind, 0) + n

    def flush(self, source: str) -> None:
        for (district, outcome), n in self.outcomes.items():
            m.EVENTS.labels(source, district, outcome).inc(n)
        for how, n in self.unresolved.items():
            m.UNRESOLVED.labels(source, how).inc(n)
        for kind, n in self.pii.items():
            m.PII_MASKED.labels(kind).inc(n)
        if self.rekeyed:
            m.REKEYED.labels(source).inc(self.rekeyed)
        observe = m.EVENT_LAG.observe
        for lag in self.lags:
            observe(lag if lag > 0 else 0.0)


def build_enricher(settings: Settings) -> Any:
    """The text enricher (mask + risk terms + sentiment), or None if the text module is absent."""
    from warning.core.text import TextEnricher

    return TextEnricher.from_config(settings.text)


#: batches of a released partition's kept records handed back per call of release_ready (the rest
#: at the next call: after the next ingest batch, or 0.25 s)
MAX_HAND_BACK_BATCHES = 20


def create_app(settings: Settings, **overrides: Any) -> faust.App:
    """Build the Faust app for ``settings``; ``overrides`` go straight to Faust (tests use this)."""
    conf = faust_settings(settings)
    conf.update(overrides)
    from warning.streams import faust_compat

    faust_compat.install()
    app = faust.App(settings.worker.app_id, **conf)
    _only_own_pages(app)
    app.warning_fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms  # type: ignore[attr-defined]
    m.set_feed_info(settings.feeds)  # warning_feed_info: the alert rules know the configured feeds from it
    t = settings.topics
    n = settings.kafka.partitions
    raw_topics = {src: app.topic(name, value_serializer="raw", key_serializer="raw", partitions=n) for src, name in settings.raw_topics().items()}
    events_topic = app.topic(t.events, value_serializer="raw", key_serializer="raw", partitions=n)
    from warning.streams.feedback import RecentTexts, add_feedback, load_enricher

    enricher, fb_offsets = load_enricher(settings)
    pipeline = Pipeline.from_settings(settings, enricher=enricher)
    service = IngestService(pipeline, StateTable.create(app, "dedup", n), n)
    service.recent = RecentTexts()
    service.dlq_max_bytes = settings.kafka.max_request_size - KAFKA_HEADROOM_BYTES
    service.dlq_keep_bytes = settings.ingest.max_record_bytes
    from warning.streams.batching import BatchSender

    service.sender = BatchSender(app, t.events, n)
    service.dlq = BatchSender(app, t.deadletter, n)
    rekey_topic = app.topic(settings.rekey_topic(), value_serializer="raw", key_serializer="raw", partitions=n)
    service.rekey = BatchSender(app, settings.rekey_topic(), n)
    add_feedback(app, settings, enricher, service.recent, fb_offsets)
    app.warning_ingest = service  # type: ignore[attr-defined]
    batch_size, within = settings.ingest.batch_size, settings.ingest.batch_within_s

    async def commit_then_ack(stream: Any, batch: list[Any]) -> None:
        generation = service.generation
        if service.fenced:
            return  # a rebalance began while the batch was processed: Kafka redelivers it
        try:
            await service.commit()  # events (and hand-ons) delivered, then their seen-marks
        except Exception:
            # Nothing of this batch may be acked now (Faust would commit the offsets and the
            # records would be lost); exit as a kill -9 would: a restart redelivers from the
            # last committed offset and the filters come back from the changelog.
            log.critical("ingest checkpoint failed; exiting without acknowledging the batch", exc_info=True)
            os._exit(EXIT_CHECKPOINT_FAILED)
        if service.fenced or service.generation != generation:
            return  # fenced meanwhile: their marks may not be written; Kafka redelivers them
        for ev in batch:
            await stream.ack(ev)

    contiguous = ContiguousInput(app)  # every agent's records: per partition in offset order, each once
    app.warning_contiguous = contiguous  # type: ignore[attr-defined]
    aligner = EventTimeAligner(settings.windows.align_ahead_seconds)
    service.aligner = aligner if aligner.ahead_s > 0 else None
    raw_names = {topic.get_topic_name() for topic in raw_topics.values()}

    def reading() -> set[Any]:
        """This worker's raw partitions with records waiting (past the next offset to take), and the
        held ones (also those whose kept records are being handed back)."""
        consumer = app.consumer
        out = set(aligner.held) | set(contiguous.held)
        for tp in consumer.assignment():
            if tp.topic in raw_names:
                nxt, hw = contiguous.next.get(tp), consumer.highwater(tp)
                if nxt is not None and hw is not None and hw > nxt:
                    out.add(tp)
                elif nxt is None and tp in aligner.since and (
                        hw is None or hw > (contiguous.committed(tp) or 0)):
                    out.add(tp)  # nothing taken yet, not known to be at its end (EventTimeAligner.assigned)
        return out

    service.reading = reading

    streams: dict[str, Any] = {}  # feed → its ingest agent's stream (acks)
    feed_of = {topic.get_topic_name(): src for src, topic in raw_topics.items()}
    handing_back = asyncio.Lock()

    async def handle(source: str, stream: Any, batch: list[Any]) -> None:
        """Ingest records of the raw topic of ``source``; hold partitions too far ahead, keeping
        their records left; ack what was taken once it is delivered."""
        epoch = contiguous.epoch
        with contiguous.holding(batch):
            service.holds = []
            taken = service.process(source, batch)
            for tp, offset, ts in service.holds:
                left = [ev for ev in batch if ev.message.tp == tp and ev.message.offset >= offset]
                if contiguous.hold(tp, left, epoch):  # (not if reassigned meanwhile)
                    aligner.hold(tp, offset, ts)
            await commit_then_ack(stream, taken)

    async def release_ready() -> None:
        """Resume the held raw partitions the others have caught up with and hand their records
        kept meanwhile back to ingest (after every ingest batch and on a timer; not while a
        rebalance or a recovery is on: Faust resumes every partition after it, and what was kept
        is read again from the committed offsets)."""
        def may_resume() -> bool:
            return not service.fenced and not getattr(app, "in_recovery", False)

        if not contiguous.held or not may_resume():
            return
        contiguous.keep_paused()
        now = time.monotonic()
        for tp in aligner.ready(reading(), now):
            aligner.release(tp, now)
            await contiguous.release(tp, may_resume)
        if handing_back.locked():
            return  # (another caller is handing records back: one at a time keeps each partition in order)
        async with handing_back:
            for tp in list(contiguous.released):
                feed = feed_of.get(tp.topic)
                stream = streams.get(feed) if feed is not None else None
                if feed is None or stream is None:
                    continue  # (its agent has not started yet)
                # a batch at a time, while it is not held again (a hold puts what it leaves first)
                for _ in range(MAX_HAND_BACK_BATCHES):
                    if not may_resume():
                        return  # a rebalance began: nothing more is built (Kafka redelivers the rest)
                    kept = contiguous.unstash(tp, batch_size)
                    if not kept:
                        contiguous.finish(tp)
                        break
                    try:
                        await handle(feed, stream, service.current(kept))
                    except Exception:
                        # as when an agent fails: the partition is read again from its committed
                        # offset (ContiguousInput.holding); the worker goes on
                        log.exception("ingest of %s[%d]'s held records failed; reading them again",
                                      tp.topic, tp.partition)
                        await contiguous.reread(tp)
                        break
                    if tp not in contiguous.released:
                        break  # held again

    def make_agent(source: str, topic: Any) -> None:
        async def ingest(stream: Any) -> None:
            streams[source] = stream
            async for batch in stream.noack_take(batch_size, within=within):
                batch = await contiguous.take(service.current(batch))
                if batch:
                    await handle(source, stream, batch)
                await release_ready()

        ingest.__name__ = ingest.__qualname__ = f"ingest_{source}"
        app.agent(topic, name=f"warning.ingest.{source}")(ingest)

    async def ingest_rekeyed(stream: Any) -> None:
        async for batch in stream.noack_take(batch_size, within=within):
            batch = await contiguous.take(service.current(batch))
            if batch:
                with contiguous.holding(batch):
                    service.process_rekeyed(batch)
                    await commit_then_ack(stream, batch)

    stages = set(settings.worker.agents)
    if "ingest" in stages:
        for src, topic in raw_topics.items():
            make_agent(src, topic)
        app.agent(rekey_topic, name="warning.ingest.rekeyed")(ingest_rekeyed)
    if "detect" in stages:
        from warning.streams.detect import add_detection

        app.warning_detect = add_detection(app, settings, events_topic, pipeline, contiguous)  # type: ignore[attr-defined]
    if "deliver" in stages:
        from warning.streams.deliver import add_delivery

        app.warning_router = add_delivery(app, settings)  # type: ignore[attr-defined]

    fence = RebalanceFence()
    app.sensors.add(fence)
    app.warning_fence = fence  # type: ignore[attr-defined]
    fence.fences.append(service.fence)
    det = getattr(app, "warning_detect", None)
    if det is not None:
        fence.fences.append(det.fence)

    @app.on_partitions_assigned.connect
    async def _on_assigned(sender: Any, assigned: Any, **kw: Any) -> None:  # noqa: ARG001
        # aiokafka sets the generation before Faust's handlers run; records fetched from now on carry it
        contiguous.reset()
        aligner.reset()
        aligner.assigned([tp for tp in assigned if tp.topic in raw_names])
        service.assign(app.consumer_generation_id)
        if det is not None:
            det.assign(app.consumer_generation_id)

    @app.timer(ContiguousInput.RESEEK_S)
    async def _reseek() -> None:
        await contiguous.retry()

    @app.timer(0.25)
    async def _align() -> None:
        await release_ready()

    @app.on_partitions_revoked.connect
    async def _on_revoked(sender: Any, revoked: Any, **kw: Any) -> None:  # noqa: ARG001
        """Before this worker rejoins the group: a detection checkpoint that was under way when
        the fence went up has handed its record batches to the producer; flush them, so nothing
        of this worker reaches a changelog after the partitions' next owners start reading it —
        unless the group evicted this worker before it heard of the rebalance (a stall past the
        session timeout): see :mod:`warning.streams.shadow`, "Not covered"."""
        if det is not None:
            await det.ckpt.drain()
            await app.producer.flush()

    @app.on_before_shutdown.connect
    async def _on_shutdown(sender: Any, **kw: Any) -> None:  # noqa: ARG001
        """Graceful stop: the consumer is paused and still a member of the group. Write what is
        done (detection's last checkpoint, acked — Faust commits it next; ingest's built records
        and their marks), then fence, so nothing is written after the group hands the partitions
        on. Best effort: what is not written is redelivered to the next owner."""
        async def last_checkpoint() -> None:
            if det is not None and not det.fenced:
                await det.final_checkpoint()
            if not service.fenced:
                await service.commit()

        try:
            await asyncio.wait_for(last_checkpoint(), SHUTDOWN_CHECKPOINT_S)
        except Exception:
            log.warning("last checkpoint at shutdown failed; the next owner redelivers", exc_info=True)
        service.fence()
        if det is not None:
            det.fence()

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
                        **det.health(app))
        body.update(rebalances=fence.rebalances, rebalance_started_at=fence.started_at,
                    rebalance_ended_at=fence.ended_at)
        return web.json(body)

    return app
