"""Signed domain labels on ``warning.feedback`` update the sentiment model online.

``{"event_id" or "text", "label": "negative"|"neutral"|"positive", "by": source, "at": time, "sig": hex}``

Only labels signed by a source configured under ``feedback.sources`` train the model, each source
at most ``feedback.per_text`` times per text and ``feedback.per_source_per_hour`` times an hour;
unsigned, forged, unknown-source, stale (``at`` too far from the record's Kafka timestamp, so every
worker and every replay judges alike) and replayed labels are counted and never change it (the
rules are :mod:`warning.core.text.feedback_guard`, the signing :mod:`warning.core.signed_records`;
``warning feedback send`` signs and sends one). With no source configured learning from feedback
is off and the worker says so once at start.

Every record, accepted or not, leaves one audit entry on ``topics.feedback_audit`` (default
``<topics.feedback>.audit``), produced by this worker before the offsets that pass it are saved::

    {"time": now, "worker": host, "topic", "partition", "offset", "outcome", "by", "label",
     "text_sha256", "event_id", "at"}

never the text itself (personal data stays out of logs). Each worker decides for its own model, so
each worker writes its own entry (``worker``); after a crash the records since the last save are
decided again and audited again (at least once).

Every worker must score texts with the same model, so every worker reads *all* feedback
partitions (a group-less consumer, not a Faust agent that would split them). The model state, the
feedback offsets and the guard's memory (caps, seen signatures) are saved together in one file,
replaced atomically, under ``worker.data_dir/text/`` every ``save_every`` decisions, every
``save_interval_s`` when something changed, and on shutdown; a restarted worker loads them and
resumes from the saved offsets, so it never retrains from scratch, never applies a label twice
and keeps every source's caps. Labels that name an ``event_id`` need its masked text: the worker
keeps the texts of the events it ingested recently (bounded); a label for an event it does not
know is counted ``unknown_event`` (send ``text`` to be independent of that).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from warning.config import Settings
from warning.core.signed_records import iso_time
from warning.core.text.feedback_guard import Decision, FeedbackGuard
from warning.streams.topics import bootstrap_servers

log = logging.getLogger("warning.feedback")

STATE_FILE = "feedback_state.bin"
MAGIC = b"WARNING-FEEDBACK-STATE/1\n"
# before this file: the model and the offsets in two files (still read, then replaced)
LEGACY_STATE_FILE = "sentiment_state.bin"
LEGACY_OFFSETS_FILE = "feedback_offsets.json"

ENABLE_HINT = ("情感反馈学习已关闭 learning from warning.feedback is OFF: no feedback source is configured. "
               "To enable it, configure a source and its secret, e.g. "
               "WARNING_FEEDBACK__SOURCES__<ID>__SECRET_ENV=<VAR holding a secret of >= 16 characters>, and send "
               "labels signed with it (`warning feedback send`).")


class RecentTexts:
    """event_id → masked text of recently ingested events (bounded, oldest dropped)."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._d: OrderedDict[str, str] = OrderedDict()

    def add(self, event_id: str, text: str) -> None:
        if text:
            self._d[event_id] = text
            if len(self._d) > self.size:
                self._d.popitem(last=False)

    def get(self, event_id: str) -> str | None:
        return self._d.get(event_id)


def state_dir(settings: Settings) -> Path:
    return Path(settings.worker.data_dir) / "text"


# ---------------------------------------------------------------------- state file

def encode_state(model: bytes, meta: dict[str, Any]) -> bytes:
    """One file: magic, 8-byte length of the JSON ``meta`` (offsets, guard), ``meta``, model bytes.

    >>> decode_state(encode_state(b"model", {"offsets": {"0": 7}}))
    (b'model', {'offsets': {'0': 7}})
    """
    head = orjson.dumps(meta)
    return MAGIC + struct.pack(">Q", len(head)) + head + model


def decode_state(data: bytes) -> tuple[bytes, dict[str, Any]]:
    if not data.startswith(MAGIC):
        raise ValueError("not a feedback state file")
    (n,) = struct.unpack(">Q", data[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    return data[start + n :], orjson.loads(data[start : start + n])


def read_state(settings: Settings) -> tuple[bytes, dict[str, Any]] | None:
    """(model bytes, meta) saved under the data dir, or None; the two-file layout is read too."""
    d = state_dir(settings)
    if (d / STATE_FILE).is_file():
        return decode_state((d / STATE_FILE).read_bytes())
    if (d / LEGACY_STATE_FILE).is_file():
        offs = d / LEGACY_OFFSETS_FILE
        return (d / LEGACY_STATE_FILE).read_bytes(), {"offsets": orjson.loads(offs.read_bytes()) if offs.is_file() else {}}
    return None


def load_enricher(settings: Settings) -> tuple[Any, dict[str, int]]:
    """The worker's enricher and applied feedback offsets: saved state under the data dir if
    any, else the config/seed model."""
    from warning.core.text import TextEnricher

    saved = read_state(settings)
    if saved is not None:
        model, meta = saved
        enricher = TextEnricher.from_state(model, settings.text)
        offs = {str(k): int(v) for k, v in (meta.get("offsets") or {}).items()}
        log.info("sentiment model resumed from %s (%d feedback partitions applied)", state_dir(settings), len(offs))
        return enricher, offs
    return TextEnricher.from_config(settings.text), {}


def save_state(settings: Settings, enricher: Any, offsets: dict[str, int], guard: dict[str, Any] | None = None) -> None:
    """Model, offsets and guard memory in one file, written aside, synced, then renamed over."""
    d = state_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (STATE_FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(encode_state(enricher.state_bytes(), {"offsets": offsets, "guard": guard or {}}))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, d / STATE_FILE)
    try:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass
    for old in (LEGACY_STATE_FILE, LEGACY_OFFSETS_FILE):
        (d / old).unlink(missing_ok=True)


# ---------------------------------------------------------------------- deciding

def decide(guard: FeedbackGuard, enricher: Any, recent: RecentTexts, value: bytes | None, now: float) -> Decision:
    """The guard's decision on one raw record (learning when it may)."""
    try:
        fb = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return Decision("invalid")
    try:
        return guard.process(fb, now, enricher.learn, recent.get)
    except Exception as e:  # a bug must not stop the consumer; never log the record (personal data)
        log.error("feedback record could not be decided: %s", type(e).__name__)
        return Decision("error")


def audit_entry(d: Decision, topic: str, partition: int, offset: int, now: float, worker: str) -> dict[str, Any]:
    """What the audit trail keeps of one record (no text, only its SHA-256).

    >>> audit_entry(Decision("capped", "ops", "negative", "ab"), "warning.feedback", 1, 42, 1_780_000_000, "w1")["outcome"]
    'capped'
    """
    return {"time": iso_time(now), "worker": worker, "topic": topic, "partition": partition, "offset": offset,
            "outcome": d.outcome, "by": d.by, "label": d.label, "text_sha256": d.text_sha256,
            "event_id": d.event_id, "at": d.at}


async def _emit(producer: Any, topic: str, entries: list[tuple[bytes, bytes]]) -> None:
    """Produce audit entries, retrying until the broker has acknowledged each one."""
    pending = entries
    delay = 0.5
    while pending:
        futs = [await producer.send(topic, value=v, key=k) for k, v in pending]
        results = await asyncio.gather(*futs, return_exceptions=True)
        failed = [e for e, r in zip(pending, results) if isinstance(r, BaseException)]
        if failed:
            log.error("could not write %d feedback audit entries (%s); retrying", len(failed),
                      next(r for r in results if isinstance(r, BaseException)))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        pending = failed


def add_feedback(app: Any, settings: Settings, enricher: Any, recent: RecentTexts, offsets: dict[str, int],
                 save_every: int = 200, save_interval_s: float = 30.0) -> None:
    from warning.streams import metrics as m

    topic = settings.topics.feedback
    audit_topic = settings.feedback_audit_topic()
    guard = FeedbackGuard(settings.feedback)
    saved = read_state(settings)
    if saved is not None:
        guard.load_state(saved[1].get("guard"))
    worker = f"{socket.gethostname()}/{settings.worker.app_id}"

    @app.task
    async def feedback_consumer() -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        if not settings.feedback.enabled:
            log.warning(ENABLE_HINT)
        servers = bootstrap_servers(settings.kafka.broker)
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                    group_id=None, fetch_max_wait_ms=min(settings.kafka.fetch_max_wait_ms, 500))
        producer = AIOKafkaProducer(bootstrap_servers=servers, client_id=f"{settings.kafka.client_id}-feedback-audit",
                                    acks="all", linger_ms=settings.kafka.producer_linger_ms)
        await consumer.start()
        await producer.start()
        changed, last_save = 0, time.monotonic()
        try:
            parts = None
            for _ in range(50):
                parts = consumer.partitions_for_topic(topic)
                if parts:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
            consumer.assign(tps)
            for tp in tps:
                off = offsets.get(str(tp.partition))
                if off is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, off + 1)
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                audit: list[tuple[bytes, bytes]] = []
                done: dict[str, int] = {}
                for tp, recs in batch.items():
                    for r in recs:
                        now = time.time()
                        # Freshness is judged against when the label was written to the topic (the
                        # record's timestamp), not when this worker reads it: every worker — also
                        # one that starts later, or replays from the beginning — decides the same.
                        written = r.timestamp / 1000.0 if r.timestamp and r.timestamp > 0 else now
                        d = decide(guard, enricher, recent, r.value, written)
                        m.FEEDBACK.labels(d.outcome).inc()
                        audit.append((str(tp.partition).encode(), orjson.dumps(audit_entry(d, topic, tp.partition, r.offset, now, worker))))
                        done[str(tp.partition)] = r.offset
                        if d.outcome not in ("disabled", "invalid", "unsigned", "unknown_source", "bad_signature"):
                            changed += 1  # the guard's memory (or the model) changed
                if audit:
                    await _emit(producer, audit_topic, audit)  # the audit trail before the offsets move on
                offsets.update(done)
                if changed >= save_every or (changed and time.monotonic() - last_save >= save_interval_s) \
                        or (done and not changed and time.monotonic() - last_save >= save_interval_s):
                    await asyncio.to_thread(save_state, settings, enricher, dict(offsets), guard.to_state())
                    changed, last_save = 0, time.monotonic()
        except asyncio.CancelledError:
            raise
        finally:
            try:
                save_state(settings, enricher, dict(offsets), guard.to_state())
            except Exception as e:  # pragma: no cover - disk trouble on shutdown
                log.error("could not save the sentiment state: %s", e)
            await producer.stop()
            await consumer.stop()
