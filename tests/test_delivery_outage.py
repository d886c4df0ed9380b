"""``warning.alerts`` is the outbox: with the webhook receiver down for a while, then back, every
alert is delivered — duplicates only as at-least-once allows, deduplicable by Idempotency-Key."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import orjson
import pytest
from kafka import KafkaProducer

from warning.brokers.base import free_port
from warning.config import load_settings
from warning.core.registry import Registry
from warning.core.timeutil import BEIJING
from warning.notify.sink import SINK_STATS, start_sink
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

N = 12


async def test_receiver_outage_then_back(broker, tmp_path) -> None:
    port = free_port()
    prefix = f"out{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix,
                       WARNING_RECEIVERS=orjson.dumps([{"name": "ops", "kind": "generic", "allow_unsigned": True,
                                                        "url": f"http://127.0.0.1:{port}/generic"}]).decode(),
                       WARNING_DELIVERY__RETRY_BASE_S="0.2", WARNING_DELIVERY__RETRY_CAP_S="1.5")
    ensure_topics(load_settings(None, env=env))
    streets = sorted(Registry.load("110000").streets)[:N]
    got: list[dict] = []
    with Worker(env, tmp_path / "w.log", kill_on_exit=True) as w:  # SIGKILL at the end: worker_proc.Worker
        p = KafkaProducer(bootstrap_servers=broker.bootstrap)
        for i, code in enumerate(streets):
            rec = {"id": f"o{i}", "received_at": datetime.now(BEIJING).isoformat(timespec="seconds"), "street_code": code,
                   "type": "投诉", "category": "劳动和社会保障", "content": "拖欠工资半年，再不给钱我就跳楼"}
            p.send(f"{prefix}.hotline", orjson.dumps(rec), key=code.encode())
        p.flush()
        p.close()
        # receiver down: deliveries fail and are retried
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = await asyncio.to_thread(w.metrics)
            if metric_value(text, "warning_notifications_total", receiver="ops", outcome="retry") >= N:
                break
            await asyncio.sleep(0.5)
        assert metric_value(text, "warning_notifications_total", receiver="ops", outcome="retry") >= N, w.log_tail()
        assert metric_value(text, "warning_notifications_total", receiver="ops", outcome="ok") == 0
        # receiver back on the same port
        runner, _ = await start_sink("127.0.0.1", port, on_alert=got.append)
        try:
            deadline = time.monotonic() + 60
            while len({a["street_code"] for a in got}) < N and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            stats = runner.app[SINK_STATS]
        finally:
            await runner.cleanup()
        log = w.log_tail()
    assert {a["street_code"] for a in got} == set(streets), log
    assert all(a["level"] in ("orange", "red") and a["signal"] == "risk_terms" for a in got)
    keys = [k for k in stats.keys]
    assert len(set(keys)) == len(keys) == N  # the sink shows each alert once; any repeat shared its key
