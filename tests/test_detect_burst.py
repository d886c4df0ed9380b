"""Bursts: detection holds a bounded number of events, and its lag gauges tell a drained pipeline
(nothing unprocessed, the reorder buffer waiting for the watermark) from a stuck one."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from warning.config import load_settings
from warning.core.events import EVENT_ENCODER
from warning.core.pipeline import Pipeline
from warning.core.timeutil import BEIJING
from warning.streams.detect import DetectService
from warning.streams.state import FakeTable, StateTable

from samples import enc, hotline
from worker_proc import Worker, isolated_env, metric_value

LIMITS = {"WARNING_WINDOWS__MAX_BUFFERED": "200", "WARNING_WINDOWS__MAX_UNACKED": "300"}


class DeliveredAlerts:
    """An alerts topic whose sends are delivered at once."""

    def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def hotline_burst(n: int, start: datetime) -> list[dict[str, Any]]:
    """``n`` hotline calls a second apart: one feed only, so the watermark waits for the others."""
    return [hotline(i, received_at=(start + timedelta(seconds=i)).isoformat(), street_code="110105001",
                    content="小区暖气不热", caller=None) for i in range(n)]


def test_burst_holds_at_most_the_bounds() -> None:
    settings = load_settings(None, env=LIMITS)
    pipe = Pipeline.from_settings(settings)
    svc = DetectService(settings, StateTable(FakeTable()), DeliveredAlerts(), pipe)
    events = [pipe.ingestor.parse("hotline", enc(r)) for r in hotline_burst(2000, datetime(2025, 3, 1, 9, tzinfo=BEIJING))]
    msgs = [SimpleNamespace(partition=0, offset=i, value=EVENT_ENCODER.encode(ev)) for i, ev in enumerate(events)]
    acked: list[Any] = []
    peak_unacked = peak_buffered = 0

    async def agent() -> None:  # the detect agent's loop: batches, and a checkpoint when due or full
        nonlocal peak_unacked, peak_buffered
        for i in range(0, len(msgs), 50):
            svc.process([SimpleNamespace(message=m) for m in msgs[i:i + 50]])
            peak_unacked = max(peak_unacked, svc.unacked())
            peak_buffered = max(peak_buffered, len(svc.engines[0].buffer))
            if svc.full():
                acked.extend(await svc.checkpoint())
                assert svc.unacked() < 300, "a checkpoint acks what is done"

    asyncio.run(agent())
    e = svc.engines[0]
    assert peak_buffered <= 200
    assert peak_unacked <= 300 + 50  # the bound, overshot by at most one batch
    assert e.forced > 0 and e.released + e.late + len(e.buffer) == len(msgs)
    assert len(acked) + svc.unacked() == len(msgs)
    assert all(m.value is None for ms in svc.waiting.values() for m in ms), "held messages keep their value bytes"


@pytest.mark.integration
def test_drained_burst_shows_nothing_unprocessed_while_commit_lag_waits(tansu, tmp_path) -> None:
    """After a burst, ``warning_events_unprocessed`` falls to 0 within seconds while the commit lag
    stays up for the events the reorder buffer holds (bounded by ``windows.max_buffered``)."""
    from kafka import KafkaProducer

    from warning.streams.topics import ensure_topics

    env = isolated_env(tmp_path, tansu.url, **LIMITS)
    prefix = env["WARNING_TOPICS__EVENTS"].rsplit(".", 1)[0]
    ensure_topics(load_settings(None, env=env))
    n = 3000
    burst = hotline_burst(n, datetime.now(BEIJING) - timedelta(hours=2))
    with Worker(env, tmp_path / "w.log", kill_on_exit=True) as w:  # SIGKILL at the end: worker_proc.Worker
        p = KafkaProducer(bootstrap_servers=tansu.bootstrap, linger_ms=10)
        for r in burst:
            p.send(f"{prefix}.hotline", orjson.dumps(r), key=r["street_code"].encode())
        p.flush(60)
        p.close()
        deadline = time.monotonic() + 120
        while metric_value(w.metrics(), "warning_events_total", outcome="accepted") < n:
            assert time.monotonic() < deadline, w.log_tail()
            time.sleep(0.5)
        ingested = time.monotonic()
        while True:
            text = w.metrics()
            unprocessed = metric_value(text, "warning_events_unprocessed")
            if "warning_events_unprocessed{" in text and unprocessed == 0:
                break
            assert time.monotonic() - ingested < 15, f"unprocessed {unprocessed} 15 s after ingest\n{w.log_tail()}"
            time.sleep(0.5)
        time.sleep(6)  # the commit lag gauge is refreshed every 5 s
        text = w.metrics()
    events = env["WARNING_TOPICS__EVENTS"]
    buffered = [metric_value(text, "warning_reorder_buffered", partition=str(i)) for i in range(2)]
    commit_lag = metric_value(text, "warning_consumer_lag", topic=events)
    assert 0 < max(buffered) <= 200, buffered
    assert commit_lag >= sum(buffered), (commit_lag, buffered)  # acks wait for the buffer …
    assert metric_value(text, "warning_events_unprocessed") == 0  # … but nothing waits to be read
    assert metric_value(text, "warning_reorder_forced_total") > 0
    assert metric_value(text, "warning_detect_unacked_events") <= 300 + 1000
