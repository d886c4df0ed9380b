"""The deliver agent decodes ``warning.alerts`` into typed alerts: a record that is not the alert
contract goes to ``warning.alerts.deadletter`` with the reason (and is acked), never stops the
agent; the valid alerts behind it are delivered, their webhook body the contract JSON."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from kafka_helpers import consume_all, produce
from warning.config import load_settings
from warning.core.events import ALERT_DECODER, ALERT_ENCODER, Alert
from warning.notify.sink import start_sink
from warning.streams.topics import ensure_topics
from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

GOOD = Alert(alert_id="ok-1", status="firing", level="orange", signal="hotline_category", street_code="110105001",
             street_name="建外街道", district="朝阳区", window_start="2025-03-01T09:00:00+08:00",
             window_end="2025-03-01T10:00:00+08:00", starts_at="2025-03-01T09:12:00+08:00", observed=9.0,
             expected=2.0, score=6.5, summary_zh="【橙色预警】朝阳区建外街道：同类诉求集中激增。", evidence={"top": {"供暖": 7}},
             sample_texts=["暖气不热"])


async def test_invalid_alert_records_are_dead_lettered(broker, tmp_path) -> None:
    got: list[dict] = []
    runner, url = await start_sink("127.0.0.1", 0, on_alert=got.append, secret="dlv-signing-secret")  # verifies
    prefix = f"dlv{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_WORKER__AGENTS='["deliver"]',
                       WARNING_OPS_SECRET="dlv-signing-secret",
                       WARNING_RECEIVERS=orjson.dumps([{"name": "ops", "kind": "generic", "url": url + "generic",
                                                        "secret_env": "WARNING_OPS_SECRET"}]).decode())
    ensure_topics(load_settings(None, env=env))
    bad = [b"\xff\xfe not json", orjson.dumps({"alert_id": "half", "status": "firing"}),
           orjson.dumps({**GOOD.to_dict(), "alert_id": "lvl", "level": "purple"})]
    produce(broker.bootstrap, f"{prefix}.alerts", [*bad, ALERT_ENCODER.encode(GOOD)],
            keys=[b"k0", b"k1", b"k2", GOOD.street_code.encode()], partition=0)
    try:
        with Worker(env, tmp_path / "w.log") as w:
            deadline = time.monotonic() + 90
            while not got and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
            dead = await asyncio.to_thread(consume_all, broker.bootstrap, f"{prefix}.alerts_deadletter", 3, 30.0)
            text = await asyncio.to_thread(w.metrics)
            log = w.log_tail()
    finally:
        await runner.cleanup()
    assert [a["alert_id"] for a in got] == ["ok-1"], log
    assert ALERT_DECODER.decode(orjson.dumps(got[0])) == GOOD  # the contract body, field for field
    assert len(dead) == 3, log
    bodies = [orjson.loads(r.value) for r in dead]
    assert [r.key for r in dead] == [b"k0", b"k1", b"k2"]
    assert all(b["alert"] is None and b["outcome"]["status"] == "invalid" and b["outcome"]["error"] for b in bodies)
    assert "half" in bodies[1]["record"] and "purple" in bodies[2]["record"]
    assert "level" in bodies[2]["outcome"]["error"]
    assert metric_value(text, "warning_notifications_total", receiver="(none)", outcome="deadletter") == 3
