"""Detection in the stream: one core :class:`~warning.core.engine.Engine` per partition of
``warning.events``, state checkpointed to a changelog-backed table.

Exactly-once state on an at-least-once transport (the checkpoint order of
:mod:`warning.streams.state`):

* an event is acked only when it has left the reorder buffer (released into its window, or
  counted late) *and* a checkpoint holding its effect is written: every ``checkpoint_s`` (or
  less often when writing takes long, :meth:`DetectService.pace`) the alerts emitted so far are awaited until delivered, then the engines touched write their changed
  streets (store ``street``) and their meta (store ``meta``: watermark, counters, last applied
  offset — not the buffer) to the changelog-backed table, each partition's rows all or nothing
  (:meth:`~warning.streams.state.StateTable.atomic`: a commit row after them), then the done events
  are acked (Faust commits acked offsets after flushing the producer, so the checkpoint is durable
  first; a batch of state that is not delivered makes the worker exit with
  :data:`~warning.streams.state.EXIT_CHECKPOINT_FAILED` before anything it stands for is committed). A checkpoint never holds the effect of an event whose alerts are not yet on
  ``warning.alerts``;
* acks go in offset order per partition: a done event is acked only once no event of a lower
  offset of its partition is still held. (Faust commits the first run of consecutive acked
  offsets and lets it start one past the committed offset, or anywhere when none is committed
  yet; acked out of order, an event held at that offset would be committed past and, after a
  crash, never redelivered — lost from the buffer.)
* after a crash Kafka redelivers from the oldest unacked event; the new owner restores the engine
  from the table, puts back into the buffer the redelivered events that were buffered at the
  checkpoint (offset ≤ checkpoint offset, and event time > checkpoint watermark or listed in the
  meta row as buffered below it), skips the rest of those already applied, and processes newer
  ones normally — so each event counts exactly once. (An event can wait in the buffer *below* the
  watermark: one that arrives after the watermark passed its time, its hour still open, waits for
  the next watermark move; several workers make that common — a lane whose hand-on partition is
  another worker's starts late. The meta row names those few.)
* alerts emitted between the last checkpoint and the crash are emitted again (at-least-once);
  they carry the same ``alert_id`` and status, so receivers deduplicate them.

A rebalance is a crash for the partitions that move, without the crash: the moment it starts the
service is fenced (:meth:`DetectService.fence`, see :mod:`warning.streams.app`) — engines dropped,
no state written, no alert emitted, no record fetched before the next assignment processed — and
each partition's next owner (maybe this worker again) restores it from the table as above. Records
fetched before the assignment carry an older generation id and are skipped; Kafka redelivers them
from the last committed offset.

Memory under a burst is bounded twice: each engine's reorder buffer holds at most
``windows.max_buffered`` events (beyond it the oldest are released by moving the watermark — the
backtest applies the same limit, see :class:`~warning.core.engine.Engine`), and the worker holds
only the Kafka message of an unacked event (its value bytes are dropped once decoded), at most
``windows.max_unacked`` of them: at that bound the agent checkpoints before it takes more input,
which acks every event already done (when events held at lower offsets block those acks, it
takes input again and retries after :data:`FULL_BACKOFF_S` or the paced wait; the reorder
buffer's bound then ends the block).

Lag, three ways (gauges, refreshed every second): ``warning_consumer_lag{topic=<events>}`` is the
*commit* lag (acks wait for the reorder buffer and the next checkpoint, so after a burst it stays
up while the last lateness window waits); ``warning_events_unprocessed{partition}`` is what has not
been read into an engine yet (highwater − next offset to process); ``warning_reorder_buffered``
and ``warning_watermark_delay_seconds`` say what waits for the watermark and how far behind the
wall clock it is. A drained pipeline: unprocessed ≈ 0 while the commit lag waits. The commit lag
can stay far above the buffered count: Kafka commits up to the oldest unacked offset, and the
events that wait longest are the newest in event time, which a backlog (one feed read ahead of
another) may have put at early offsets. A stuck pipeline: unprocessed stays up.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from typing import Any, Callable

import orjson

from warning.config import Settings
from warning.core.detect_config import LEVEL_RANK
from warning.core.events import ALERT_ENCODER, Alert
from warning.core.engine import Engine
from warning.core.events import EVENT_DECODER
from warning.core.pipeline import Pipeline
from warning.streams import metrics as m
from warning.core.dedup import Deduplicator
from warning.streams.contiguous import ContiguousInput
from warning.streams.state import EXIT_CHECKPOINT_FAILED, Checkpoint, CheckpointAbandoned, DeltaLog, Fenced, StateTable

log = logging.getLogger("warning.detect")

#: seconds between checkpoints of the detection state (and so between acks), at least
CHECKPOINT_S = 1.0
#: a checkpoint's state write (pickling the changed streets: every street after an hour closes)
#: takes at most this share of the time: the next one waits ``cost / share`` when that is longer
#: than :data:`CHECKPOINT_S` — a worker catching up on a backlog closes an hour every second or
#: so, and wrote its whole state every second (23 % of its time in ``bench/ingest.py``)
CHECKPOINT_COST_SHARE = 0.1
#: … and at most this many seconds (acks, hence Kafka commits, wait for checkpoints)
CHECKPOINT_MAX_S = 10.0

#: a full worker (:meth:`DetectService.full`) checkpoints at most this often, and when its
#: checkpoints take long, at most as often as :meth:`DetectService.pace` allows
FULL_BACKOFF_S = 0.25


class DetectService(Fenced):
    def __init__(self, settings: Settings, state: StateTable, alerts_topic: Any, pipeline: Pipeline) -> None:
        self.pipe = pipeline
        pipeline.dedup_deltas = True  # its filters' new ids are written to the state table (checkpoint)
        self.state = state
        self.alerts_topic = alerts_topic
        self.idle_s = settings.windows.idle_flush_seconds
        self.source_idle_s = settings.windows.source_idle_seconds
        self.checkpoint_s = CHECKPOINT_S
        self.ckpt = Checkpoint("detect")
        self.engines: dict[int, Engine] = {}
        self.offsets: dict[int, int] = {}
        self.last_wall: dict[int, float] = {}
        self.max_buffered = settings.windows.max_buffered
        self.max_unacked = settings.windows.max_unacked
        # Only what an ack needs: the Kafka message (value bytes dropped once decoded), not the
        # Faust event around it.
        self.waiting: dict[str, list[Any]] = {}  # event id → messages not yet done (unacked)
        self.held = 0  # messages in waiting
        self.ready: list[Any] = []  # done: ack after the next checkpoint
        self.next_offset: dict[int, int] = {}  # partition → offset after the last one read into its engine
        self.ckpt_watermark: dict[int, float] = {}
        self.ckpt_below: dict[int, set[str]] = {}  # ids buffered below the watermark at the restored checkpoint
        self.touched: set[int] = set()
        self.last_checkpoint = time.monotonic()
        self.next_checkpoint = self.last_checkpoint + self.checkpoint_s  # see :meth:`pace`
        self.alerts_sent = 0
        # Event ids already taken into an engine, per partition (ingest is at-least-once: after a
        # crash it may produce an event again); written with the checkpoint as delta rows.
        self.seen: dict[int, Deduplicator] = {}
        self.seen_logs: dict[int, DeltaLog] = {}
        self.rebuffered: dict[int, set[str]] = {}  # ids put back into a restored buffer (≤ its size)
        self.restored_at: dict[int, float] = {}  # partition → wall clock its engine was restored
        self.restored_offset: dict[int, int] = {}  # partition → the offset its restored checkpoint had applied
        self.full_backoff = 0.0  # monotonic time before which full() says no (see pace)
        self.events_topic_name = settings.topics.events
        #: acks the Kafka messages a checkpoint returns (set by :func:`add_detection`)
        self.ack: Callable[[list[Any]], None] | None = None

    # ------------------------------------------------------------------ rebalances
    # fence / assign / current: :class:`~warning.streams.state.Fenced`. Fenced, a batch being
    # processed changes only engines that are then dropped; after ``assign`` engines are restored
    # from the table on their first record, which Faust hands over only once it has recovered it.

    async def final_checkpoint(self) -> None:
        """A checkpoint now, whatever its timer says, and the ack of what it made done (graceful stop)."""
        self.touched.update(self.engines)
        await self.checkpoint_and_ack()

    async def checkpoint_and_ack(self) -> None:
        """A checkpoint, then the ack of the events it made done (:attr:`ack`)."""
        acks = await self.checkpoint()
        if self.ack is not None:
            self.ack(acks)

    def health(self, app: Any) -> dict[str, Any]:
        """For ``/healthz``: ``partitions`` — those whose engine is restored and processing (none
        while a rebalance is on); ``assigned`` — the partitions of ``warning.events`` this worker
        owns; ``standby`` — the standby replicas it keeps of the detection table; per engine its
        counters (events released into windows, counted late, buffered; the last offset applied;
        when it was restored, wall clock, and the offset its restored checkpoint had applied, -1 for
        none)."""
        try:
            topic = self.events_topic_name
            assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
            standby = sorted(tp.partition for tp in app.assignor.assigned_standbys()
                             if tp.topic == self.state.table.changelog_topic.get_topic_name())
        except Exception:  # consumer not started yet
            assigned, standby = [], []
        live = {} if self.fenced else dict(self.engines)
        engines = {str(p): {"released": e.released, "late": e.late, "buffered": len(e.buffer),
                            "offset": self.offsets.get(p, -1), "restored_at": self.restored_at.get(p),
                            "restored_offset": self.restored_offset.get(p, -1)}
                   for p, e in sorted(live.items())}
        return {"partitions": sorted(live), "assigned": assigned, "standby": standby,
                "generation": self.generation, "fenced": self.fenced, "engines": engines}

    # ------------------------------------------------------------------ engines
    def drop_partitions(self) -> None:
        self.forget()
        self.state.forget_pages()

    def forget(self) -> None:
        self.waiting.clear()
        self.held = 0
        self.ready.clear()
        self.next_offset.clear()
        for g in (m.EVENTS_UNPROCESSED, m.REORDER_BUFFERED, m.WATERMARK_DELAY):
            g.clear()
        self.ckpt_watermark.clear()
        self.ckpt_below.clear()
        self.engines.clear()
        self.offsets.clear()
        self.last_wall.clear()
        self.seen.clear()
        self.seen_logs.clear()
        self.rebuffered.clear()
        self.touched.clear()
        self.restored_at.clear()
        self.restored_offset.clear()

    def engine(self, p: int) -> Engine:
        e = self.engines.get(p)
        if e is None:
            e = self.pipe.new_engine(idle_s=self.source_idle_s)
            e.max_buffered = self.max_buffered
            e.track_done = True
            meta = self.state.rows("meta", p).get("engine")
            streets = self.state.rows("street", p)
            offset = -1
            below: list[str] = []
            if meta:
                wrapped = pickle.loads(meta)
                offset = wrapped["offset"]
                below = wrapped.get("below", [])
                e.restore(wrapped["engine"], streets)
            elif streets:
                e.restore(None, streets)
            self.offsets[p] = offset
            self.restored_offset[p] = offset
            self.ckpt_watermark[p] = e.watermark
            self.ckpt_below[p] = set(below)
            self.engines[p] = e
            slog = self.seen_logs[p] = DeltaLog(self.state, "seen", p)
            self.seen[p] = slog.restore_marks(self.pipe.new_dedup())
            self.restored_at[p] = time.time()
            log.info("partition %d: engine restored (offset %d, %d streets)", p, offset, len(streets))
        return e

    # ------------------------------------------------------------------ input
    def process(self, batch: list[Any]) -> None:
        now = time.time()
        for event in batch:
            msg = event.message
            p = msg.partition
            e = self.engine(p)
            self.next_offset[p] = msg.offset + 1
            try:
                ev = EVENT_DECODER.decode(msg.value)
            except Exception as exc:  # not ours: keep going, say so
                log.error("partition %d offset %d: undecodable event (%s)", p, msg.offset, type(exc).__name__)
                self.ready.append(msg)
                continue
            msg.value = None  # decoded: the engine holds the event, the ack needs only the message
            if msg.offset <= self.offsets.get(p, -1):
                if msg.offset > self.restored_offset.get(p, -1):
                    # Read once already by this engine (Kafka delivered it again without a
                    # rebalance): its first copy is held or done; this one must not count again.
                    continue
                # Redelivered after a restart: applied before the checkpoint, unless it was still
                # in the reorder buffer then (its effect is not in the state yet).
                rebuffered = self.rebuffered.setdefault(p, set())
                buffered = ev.ts > self.ckpt_watermark.get(p, float("inf")) or ev.event_id in self.ckpt_below.get(p, ())
                if buffered and ev.event_id not in rebuffered:
                    rebuffered.add(ev.event_id)  # a repeat of it among the redelivered is not put back twice
                    e.rebuffer(ev)
                    self.hold(ev.event_id, msg)
                else:
                    self.ready.append(msg)
                continue
            self.offsets[p] = msg.offset
            self.touched.add(p)
            if self.seen[p].seen(ev.event_id, ev.ts):
                # The same event again (ingest re-sent it after a crash): its effect is already in
                # the engine (or waiting in its buffer) — count it once.
                m.EVENTS_REPEATED.inc()
                self.ready.append(msg)
                continue
            self.hold(ev.event_id, msg)
            before, forced = e.late, e.forced
            self.emit(e.process(ev, wall=now))
            if e.late > before:
                m.LATE.inc(e.late - before)
            if e.forced > forced:
                m.REORDER_FORCED.labels(str(p)).inc(e.forced - forced)
            self.offsets[p] = msg.offset
            self.last_wall[p] = now
            self.touched.add(p)

    def hold(self, event_id: str, msg: Any) -> None:
        self.waiting.setdefault(event_id, []).append(msg)
        self.held += 1

    def unacked(self) -> int:
        """Messages held unacked: waiting for their engine, or done and waiting for a checkpoint."""
        return self.held + len(self.ready)

    def full(self) -> bool:
        """Backpressure: the agent checkpoints before it takes more input, which acks what is done
        (when the worker is still full after a checkpoint — events held in the reorder buffer at
        lower offsets block the acks — it retries after :data:`FULL_BACKOFF_S`, or the paced wait
        when checkpoints take long: in a backlog a checkpoint every 0.25 s that could ack nothing
        rewrote every street each time)."""
        return self.unacked() >= self.max_unacked and time.monotonic() >= self.full_backoff

    def lag_gauges(self, highwater: dict[int, int | None]) -> None:
        """Refresh the "not yet processed" gauges; ``highwater``: partition → end offset (None: unknown)."""
        now = time.time()
        m.DETECT_UNACKED.set(self.unacked())
        for p, hw in highwater.items():
            if hw is not None and p in self.next_offset:
                m.EVENTS_UNPROCESSED.labels(str(p)).set(max(0, hw - self.next_offset[p]))
        for p, e in self.engines.items():
            m.REORDER_BUFFERED.labels(str(p)).set(len(e.buffer))
            if e.watermark != float("-inf"):
                m.WATERMARK_DELAY.labels(str(p)).set(now - e.watermark)

    def emit(self, alerts: list[Alert]) -> None:
        if self.fenced:  # the partition's next owner emits them again from the last checkpoint
            return
        for a in alerts:
            self.ckpt.produced(self.alerts_topic.send_soon(key=a.street_code.encode(), value=ALERT_ENCODER.encode(a)))
            self.alerts_sent += 1
            if a["status"] == "firing":
                m.ALERTS.labels(a["level"], a["signal"], a["district"] or "未定位").inc()
            m.ANOMALY.labels(a["street_code"], a["signal"]).set(a["score"] if a["status"] == "firing" else 0.0)

    def idle_tick(self) -> None:
        """Timer: let quiet partitions' event time run on with the wall clock."""
        if self.fenced:
            return
        now = time.time()
        for p, e in list(self.engines.items()):
            last = self.last_wall.get(p)
            if last is not None and now - last >= self.idle_s:
                out = e.idle(now - last)
                if out or e.dirty:
                    self.emit(out)
                    self.touched.add(p)

    # ------------------------------------------------------------------ state
    def due(self) -> bool:
        return bool(self.ready or self.touched) and time.monotonic() >= self.next_checkpoint

    def pace(self, cost_s: float, still_full: bool = False) -> None:
        """Set when the next checkpoint is due: :data:`CHECKPOINT_S` after this one, or later when
        this one's state write took ``cost_s`` (so writing takes at most :data:`CHECKPOINT_COST_SHARE`
        of the time), but never more than :data:`CHECKPOINT_MAX_S` later. A worker ``still_full``
        after it (:meth:`full`) retries after :data:`FULL_BACKOFF_S`, or the same paced wait.

        >>> class S: checkpoint_s = 1.0; last_checkpoint = 100.0; full_backoff = 0.0
        >>> s = S()
        >>> DetectService.pace(s, 0.02); s.next_checkpoint   # a live worker: a few streets changed
        101.0
        >>> DetectService.pace(s, 0.35); s.next_checkpoint   # catching up: every street, every time
        103.5
        >>> s.full_backoff   # not full: backpressure may checkpoint at once
        0.0
        >>> DetectService.pace(s, 0.35, still_full=True); s.full_backoff
        103.5
        >>> DetectService.pace(s, 5.0); s.next_checkpoint
        110.0
        """
        paced = cost_s / CHECKPOINT_COST_SHARE
        self.next_checkpoint = self.last_checkpoint + min(max(self.checkpoint_s, paced), CHECKPOINT_MAX_S)
        if still_full:
            self.full_backoff = self.last_checkpoint + min(max(FULL_BACKOFF_S, paced), CHECKPOINT_MAX_S)

    async def checkpoint(self) -> list[Any]:
        """Await the alerts emitted so far, then write the changed state of touched partitions
        (handed to the producer before this returns); returns the events that may now be acked."""
        try:
            return await self.ckpt.commit(self.write_state, send=lambda: self.state.send_pending(lambda: not self.fenced))
        except CheckpointAbandoned:  # fenced while its rows were sent: redelivered to the next owner
            log.info("checkpoint abandoned: a rebalance started while it was written")
            return []

    def write_state(self) -> list[Any]:
        if self.fenced:  # a rebalance is on: the partitions may already be another worker's
            return []
        t0 = time.monotonic()
        wrote = bool(self.touched)
        for p in sorted(self.touched):
            e = self.engines.get(p)
            if e is None:  # revoked meanwhile
                continue
            with self.state.atomic(p):  # streets, seen-marks and meta of the partition: all or nothing
                for key, blob in e.take_dirty().items():
                    self.state.put("street", p, key, blob)
                d, slog = self.seen.get(p), self.seen_logs.get(p)
                if d is not None and slog is not None:
                    slog.write_marks(d.take_delta(), d.cutoff)
                wm = e.watermark
                below = [eid for ts, eid, _ in e.buffer if ts <= wm]  # waiting below the watermark (rare)
                meta = pickle.dumps({"offset": self.offsets.get(p, -1), "below": below,
                                     "engine": e.snapshot_meta(include_buffer=False)}, protocol=5)
                self.state.put("meta", p, "engine", meta)
            for eid in e.take_done():
                msgs = self.waiting.pop(eid, ())
                self.held -= len(msgs)
                self.ready.extend(msgs)
        self.touched.clear()
        self.last_checkpoint = time.monotonic()
        acks = self.ackable()
        if wrote:  # (a checkpoint with nothing to write, e.g. queued behind another, keeps the pace)
            self.pace(self.last_checkpoint - t0, still_full=not acks and self.unacked() >= self.max_unacked)
        self.update_gauges()
        return acks

    def ackable(self) -> list[Any]:
        """Take from ``ready`` the messages below the lowest offset still held in their partition
        (acks in offset order, see the module docstring)."""
        if not self.ready:
            return []
        low: dict[int, int] = {}
        for msgs in self.waiting.values():
            for msg in msgs:
                if msg.offset < low.get(msg.partition, msg.offset + 1):
                    low[msg.partition] = msg.offset
        if not low:
            acks, self.ready = self.ready, []
            return acks
        acks, keep = [], []
        for msg in self.ready:
            lo = low.get(msg.partition)
            (acks if lo is None or msg.offset < lo else keep).append(msg)
        self.ready = keep
        return acks

    def update_gauges(self) -> None:
        counts = {lv: 0 for lv in ("blue", "yellow", "orange", "red")}
        for e in self.engines.values():
            for key, (level, _name, district) in e.risk_levels().items():
                m.RISK_LEVEL.labels(key, district or "未定位").set(LEVEL_RANK[level])
                if level != "none":
                    counts[level] += 1
        for lv, n in counts.items():
            m.ALERTS_ACTIVE.labels(lv).set(n)
        for p, e in self.engines.items():
            b = e.ctx.budget
            if b is None:
                continue
            for sig, sp in b.spending(e.det.thresholds_for).items():
                m.BUDGET_SHARE.labels(sig).set(sp["share"])
                if sp["yellow"] is not None:
                    m.SIGNAL_THRESHOLD.labels(sig, str(p)).set(sp["yellow"])
                m.BUDGET_ABOVE.labels(sig, str(p)).set(sp["street_days_above"] / max(sp["street_days"], 1.0) * 30.0)


def add_detection(app: Any, settings: Settings, events_topic: Any, pipeline: Pipeline,
                  contiguous: ContiguousInput | None = None) -> DetectService:
    """Register the detection agent, its table and timers on ``app``. ``contiguous``: the app's
    :class:`~warning.streams.contiguous.ContiguousInput` (each partition's records in offset order,
    each once); None only in tests that feed the service directly."""
    n = settings.kafka.partitions
    alerts_topic = app.topic(settings.topics.alerts, value_serializer="raw", key_serializer="raw", partitions=n)
    svc = DetectService(settings, StateTable.create(app, "detect", n), alerts_topic, pipeline)

    def ack(acks: list[Any]) -> None:
        consumer = app.consumer
        for msg in acks:  # what Stream.ack does with the event, from the message alone
            if msg.ack(consumer):
                app.sensors.on_message_out(msg.tp, msg.offset, msg)

    svc.ack = ack

    def not_written(err: BaseException | None = None) -> None:
        # The checkpoint's events must not be acked: exit as a kill -9 would; the next owner
        # restores the last committed checkpoint and Kafka redelivers the rest.
        log.critical("detection checkpoint not written; exiting without acknowledging its events "
                     "(检测状态写入失败，退出，重启后从上次检查点重放)", exc_info=err is None)
        os._exit(EXIT_CHECKPOINT_FAILED)

    svc.state.on_delivery_failure = not_written

    async def checkpoint() -> None:
        try:
            await svc.checkpoint_and_ack()
        except Exception:
            not_written()

    @app.agent(events_topic, name="warning.detect")
    async def detect(stream: Any) -> None:
        async for batch in stream.noack_take(1000, within=0.1):
            batch = svc.current(batch)
            if contiguous is not None:
                batch = await contiguous.take(batch)
                if batch:
                    with contiguous.holding(batch):
                        svc.process(batch)
            elif batch:
                svc.process(batch)
            if svc.due() or svc.full():
                await checkpoint()

    def events_highwater() -> dict[int, int | None]:
        consumer = app.consumer
        return {tp.partition: consumer.highwater(tp) for tp in consumer.assignment() if tp.topic == events_topic.get_topic_name()}

    @app.timer(5.0)
    async def consumer_lag() -> None:
        """warning_consumer_lag{topic,partition}: records behind the end of each assigned partition."""
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is None:
                continue
            pos = committed.get(tp)
            m.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, hw - (pos if pos is not None else 0)))

    @app.timer(1.0)
    async def processing_lag() -> None:
        """warning_events_unprocessed / warning_reorder_buffered / warning_watermark_delay_seconds."""
        svc.lag_gauges(events_highwater())

    @app.timer(0.5)
    async def tick() -> None:
        svc.idle_tick()
        if svc.due():
            await checkpoint()

    # fence/assign: registered by warning.streams.app.create_app with ingest's (one rebalance hook)
    return svc
