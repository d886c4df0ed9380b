"""Domain labels on ``warning.feedback`` update the sentiment model online.

``{"event_id" or "text", "label": "negative"|"neutral"|"positive", "by": str}``

Every worker must score texts with the same model, so every worker reads *all* feedback
partitions (a group-less consumer, not a Faust agent that would split them). The model state and
the feedback offsets it includes are saved together, atomically, under
``worker.data_dir/text/`` every ``save_every`` labels and on shutdown; a restarted worker loads
them and resumes from the saved offsets, so it never retrains from scratch and never applies a
label twice. Labels that name an ``event_id`` need its masked text: the worker keeps the texts of
the events it ingested recently (bounded); a label for an event it does not know is logged and
skipped (send ``text`` to be independent of that).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from warning.config import Settings
from warning.streams.topics import bootstrap_servers

log = logging.getLogger("warning.feedback")

STATE_FILE = "sentiment_state.bin"
OFFSETS_FILE = "feedback_offsets.json"


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


def load_enricher(settings: Settings) -> tuple[Any, dict[str, int]]:
    """The worker's enricher: saved state under the data dir if any, else the config/seed model."""
    from warning.core.text import TextEnricher

    d = state_dir(settings)
    state, offsets = d / STATE_FILE, d / OFFSETS_FILE
    if state.is_file():
        enricher = TextEnricher.load(state, settings.text)
        offs = orjson.loads(offsets.read_bytes()) if offsets.is_file() else {}
        log.info("sentiment model resumed from %s (%d feedback partitions applied)", state, len(offs))
        return enricher, {str(k): int(v) for k, v in offs.items()}
    return TextEnricher.from_config(settings.text), {}


def save_state(settings: Settings, enricher: Any, offsets: dict[str, int]) -> None:
    d = state_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (STATE_FILE + ".tmp")
    tmp.write_bytes(enricher.state_bytes())
    otmp = d / (OFFSETS_FILE + ".tmp")
    otmp.write_bytes(orjson.dumps(offsets))
    os.replace(tmp, d / STATE_FILE)
    os.replace(otmp, d / OFFSETS_FILE)


def add_feedback(app: Any, settings: Settings, enricher: Any, recent: RecentTexts, offsets: dict[str, int],
                 save_every: int = 200) -> None:
    from warning.streams import metrics as m

    topic = settings.topics.feedback

    @app.task
    async def feedback_consumer() -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), enable_auto_commit=False,
                                    group_id=None, fetch_max_wait_ms=min(settings.kafka.fetch_max_wait_ms, 500))
        await consumer.start()
        applied = 0
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
                for tp, recs in batch.items():
                    for r in recs:
                        offsets[str(tp.partition)] = r.offset
                        outcome = _apply(enricher, recent, r.value)
                        m.FEEDBACK.labels(outcome).inc()
                        if outcome == "learned":
                            applied += 1
                if applied >= save_every:
                    await asyncio.to_thread(save_state, settings, enricher, dict(offsets))
                    applied = 0
        except asyncio.CancelledError:
            raise
        finally:
            try:
                save_state(settings, enricher, dict(offsets))
            except Exception as e:  # pragma: no cover - disk trouble on shutdown
                log.error("could not save the sentiment state: %s", e)
            await consumer.stop()


def _apply(enricher: Any, recent: RecentTexts, value: bytes | None) -> str:
    try:
        fb = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return "invalid"
    if not isinstance(fb, dict) or fb.get("label") not in ("negative", "neutral", "positive"):
        return "invalid"
    text = fb.get("text")
    if not isinstance(text, str) or not text:
        eid = fb.get("event_id")
        text = recent.get(eid) if isinstance(eid, str) else None
        if text is None:
            return "unknown_event"
    return "learned" if enricher.learn(text, fb["label"]) else "ignored"
