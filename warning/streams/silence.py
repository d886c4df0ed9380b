"""Silences for delivery: every deliver worker folds ``warning.alerts.feedback`` into a
:class:`~warning.core.silences.Silences` that the deliver agent asks before routing an alert.

**Where the state lives, and why.** Silences are few (people click them) and every deliver worker
needs all of them: the feedback topic is not partitioned like ``warning.alerts`` (a record may name
only the alert), so a partitioned Faust table would put a silence on another worker than the
street's alerts. So, as for the sentiment labels (:mod:`warning.streams.feedback`), every worker
reads *all* partitions of the topic with a group-less consumer — and the topic itself is the
durable state: at start (and after a lost connection) the worker reads the topic from the
beginning (from where it was) up to the end offsets it found, then keeps following it. Nothing is
kept on local disk, so a worker on a fresh volume (``emptyDir`` in ``deploy/k8s``) knows every
silence as well as one that ran all along, and every worker holds the same set. A Faust
``GlobalTable`` would do the same through a changelog, but Faust warns it can loop in recovery
with several instances; the topic is the log already, and the history store rebuilds from it too.

**Time.** A record read as it arrives is judged at wall time (freshness counts: a silence signed
long ago never starts to count now). A record that was on the topic before this worker read it
(the catch-up) is judged as of when it was written — its Kafka timestamp, never later than now —
so a silence set while the worker was down is honoured when it comes up; an expired one is not.
The catch-up is applied in the order of the records' signed times, and for each street+signal
the latest ``at`` wins (:mod:`warning.core.silences`), so the partition order of the reads
does not matter, and a replayed copy of an old record cannot undo a newer decision. Keep the
topic's retention above the longest silence (``MAX_SILENCE_HOURS``, 30 days) so a restart still
sees every silence in force and the unsilences that ended them.

**Delivery waits for the catch-up** (at most :data:`READY_TIMEOUT_S`, then it delivers without —
failing open, an alert is never held back for a silence list that cannot be read; with no
``alerts_feedback.sources`` nothing can be silenced and it does not wait).

Metric ``warning_alert_feedback_total{outcome}`` counts every record each worker judged;
nothing of a person (``by``) reaches the logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from warning.config import Settings
from warning.core.signed_records import iso_time, parse_time
from warning.core.silences import Silences
from warning.streams import metrics as m
from warning.streams.reconnect import run_forever
from warning.streams.topics import bootstrap_servers

log = logging.getLogger("warning.silence")

#: how long the deliver agent waits at start for the silences to be read (then it delivers anyway)
READY_TIMEOUT_S = 30.0
#: a catch-up that gets no record for this long stops (the end offset a broker reports may be high)
CATCH_UP_IDLE_S = 5.0

DISABLED_HINT = ("告警静默未启用 silences are OFF: no alerts_feedback source is configured, so silences on %s "
                 "are not obeyed. Configure the sources that sign them, e.g. "
                 "WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_ENV=<VAR holding the dashboard's key>.")


def _short(v: Any) -> str:
    return v[:64] if isinstance(v, str) else "-"


class SilenceService:
    """The silences of one worker and the consumer that keeps them (see the module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topics.alerts_feedback
        self.silences = Silences(settings.alerts_feedback)
        self.positions: dict[int, int] = {}  # partition → next offset to read
        self.loaded = False
        self._ready: asyncio.Event | None = None

    @property
    def ready(self) -> asyncio.Event:
        if self._ready is None:
            self._ready = asyncio.Event()
        return self._ready

    async def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """True once the catch-up is done; False after ``timeout`` seconds (logged)."""
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            log.warning("静默列表未就绪 silences not read from %s within %.0f s; delivering without them until they are",
                        self.topic, timeout)
            return False

    def silenced(self, alert: Any, now: float | None = None) -> float | None:
        """Until when ``alert``'s street+signal is silenced (epoch s), or None."""
        return self.silences.silenced(alert, time.time() if now is None else now)

    def judge(self, value: bytes | None, now: float) -> str:
        """Decode and feed one record; count and (without personal data) log the outcome."""
        try:
            rec = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            outcome = "invalid"
            rec = None
        else:
            try:
                outcome = self.silences.feed(rec, now)
            except Exception as e:  # a bug must not stop the consumer; never log the record
                log.error("alert feedback record could not be judged: %s", type(e).__name__)
                outcome = "error"
        m.ALERT_FEEDBACK.labels(outcome).inc()
        if outcome in ("silenced", "unsilenced", "unknown_alert") and isinstance(rec, dict):
            key = self.silences.last_key if outcome != "unknown_alert" else None
            d = self.silences.decisions.get(key) if key is not None else None
            log.info("告警静默 alert feedback %s: alert %s street %s signal %s%s", outcome, _short(rec.get("alert_id")),
                     _short(key[0] if key else None), _short(key[1] if key else None),
                     f" until {iso_time(d.until)}" if d is not None and d.until else "")
        return outcome

    # ------------------------------------------------------------------ consumer
    async def run(self) -> None:
        """Follow the topic for the life of the worker, reconnecting after errors."""
        if not self.silences.enabled:  # nothing can be silenced: delivery need not wait (records are still counted)
            log.warning(DISABLED_HINT, self.topic)
            self.ready.set()
        await run_forever(self._session, f"alert feedback consumer of {self.topic}", log)

    async def _session(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        k = self.settings.kafka
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(k.broker), enable_auto_commit=False,
                                    group_id=None, client_id=f"{k.client_id}-silences",
                                    fetch_max_wait_ms=min(k.fetch_max_wait_ms, 500))
        await consumer.start()
        try:
            parts = None
            for _ in range(50):
                parts = consumer.partitions_for_topic(self.topic)
                if parts:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            if not parts:
                raise RuntimeError(f"topic {self.topic} has no partitions (not created?)")
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            for tp in tps:
                if tp.partition in self.positions:
                    consumer.seek(tp, self.positions[tp.partition])
                else:
                    await consumer.seek_to_beginning(tp)
            await self._catch_up(consumer, tps)
            if not self.loaded:
                self.loaded = True
                self.ready.set()
                log.info("静默已加载 %d silences in force (from %s)", len(self.silences.active(time.time())), self.topic)
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                for tp, recs in batch.items():
                    for r in recs:
                        self.judge(r.value, time.time())
                        self.positions[tp.partition] = r.offset + 1
        finally:
            await consumer.stop()

    async def _catch_up(self, consumer: Any, tps: list[Any]) -> None:
        """Read up to the end offsets found now; apply in the order of the signed times, each
        judged as of its Kafka timestamp (never later than now)."""
        ends = await consumer.end_offsets(tps)
        remaining = set()
        for tp in tps:
            if await consumer.position(tp) < ends.get(tp, 0):
                remaining.add(tp)
        got: list[Any] = []
        live: list[Any] = []  # read in the same fetches, past the end offsets: judged as they come
        idle_since = time.monotonic()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=1000)
            for tp, recs in batch.items():
                for r in recs:
                    (got if r.offset < ends[tp] else live).append(r)
                    self.positions[tp.partition] = r.offset + 1
                if recs:
                    idle_since = time.monotonic()
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if remaining and time.monotonic() - idle_since > CATCH_UP_IDLE_S:
                log.warning("catch-up of %s stopped short of the end offsets (%s); the rest is read as it comes",
                            self.topic, ", ".join(str(tp.partition) for tp in sorted(remaining, key=lambda t: t.partition)))
                break
        wall = time.time()
        items = []
        for r in got:
            at = None
            try:
                rec = orjson.loads(r.value or b"")
                if isinstance(rec, dict):
                    at = parse_time(rec.get("at"))
            except orjson.JSONDecodeError:
                pass
            written = r.timestamp / 1000.0 if r.timestamp and r.timestamp > 0 else wall
            items.append((at if at is not None else float("-inf"), written, r.partition, r.offset, r.value))
        items.sort(key=lambda x: x[:4])
        for _, written, _, _, value in items:
            self.judge(value, min(written, wall))
        for r in live:
            self.judge(r.value, time.time())


def add_silences(app: Any, settings: Settings) -> SilenceService:
    """Register the consumer task on a Faust ``app``; returns the service the deliver agent asks."""
    service = SilenceService(settings)

    @app.task
    async def alert_silences() -> None:
        await service.run()

    return service
