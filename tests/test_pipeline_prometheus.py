"""The whole path with real parts: raw record on Kafka → ``warning worker`` → our generic webhook,
and → ``/metrics`` → a real Prometheus (the repository's rules) → a real Alertmanager (the
repository's routing) → Alertmanager webhook v4 at the same sink."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import orjson
import pytest
from kafka import KafkaProducer

from prom_helpers import Alertmanager, Prometheus, require_tool
from test_deploy_live import Inbox
from warning.config import load_settings
from warning.core.timeutil import BEIJING
from warning.notify.sink import start_sink
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

STREET, DISTRICT = "110105001", "朝阳区"


async def test_incident_reaches_webhook_and_alertmanager(tansu, tmp_path) -> None:
    require_tool("prometheus")
    require_tool("alertmanager")
    inbox = Inbox()
    generic: list[dict] = []
    runner, sink_url = await start_sink("127.0.0.1", 0, on_alert=generic.append, on_message=inbox.on_message)
    prefix = f"pp{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, tansu.url, prefix=prefix, WARNING_RECEIVERS=orjson.dumps(
        [{"name": "ops", "kind": "generic", "url": sink_url + "generic", "allow_unsigned": True}]).decode())
    ensure_topics(load_settings(None, env=env))
    w = Worker(env, tmp_path / "worker.log").start()
    am = Alertmanager(sink_url + "alertmanager", deploy_config=True, workdir=tmp_path / "am")
    prom = None
    try:
        await asyncio.to_thread(w.metrics, 60)  # the worker serves /metrics
        await asyncio.to_thread(am.start)
        prom = Prometheus([w.web.removeprefix("http://")], alertmanager=am, workdir=tmp_path / "prom")
        await asyncio.to_thread(prom.start)
        await asyncio.to_thread(prom.wait_for_targets_up)

        # A group petition of 60 people: red at once (rule), on arrival.
        rec = {"id": "big-group", "received_at": datetime.now(BEIJING).isoformat(timespec="seconds"),
               "street_code": STREET, "form": "来访", "people_count": 60, "is_repeat": True,
               "category": "住房", "content": "业主们集体上访，联系人王小明，电话13812345678，要求退还购房款"}
        p = KafkaProducer(bootstrap_servers=tansu.bootstrap)
        p.send(f"{prefix}.petition", orjson.dumps(rec), key=STREET.encode())
        p.flush()
        p.close()

        deadline = time.monotonic() + 60
        while not generic and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert generic, w.log_tail()
        a = generic[0]
        assert (a["status"], a["level"], a["signal"], a["street_code"], a["district"]) == ("firing", "red", "group_petition", STREET, DISTRICT)
        assert "13812345678" not in orjson.dumps(a).decode() and "王小明" not in orjson.dumps(a).decode()

        text = await asyncio.to_thread(w.metrics)
        assert metric_value(text, "warning_risk_level", street=STREET) == 4
        assert metric_value(text, "warning_alerts_total", level="red", signal="group_petition") == 1
        assert metric_value(text, "warning_notifications_total", receiver="ops", outcome="ok") >= 1

        got = await inbox.wait(60, alertname="WarningStreetRiskRed", status="firing", street=STREET)
        assert got["labels"]["district"] == DISTRICT and got["payload"]["version"] == "4"

        # The worker exports its configured feeds; WarningFeedAbsent (for: 15m, so pending here)
        # holds exactly the configured feeds that have sent nothing, named by name_zh — not petition.
        assert metric_value(text, "warning_feed_info", source="grid", name_zh="网格员上报", topic=f"{prefix}.grid") == 1
        assert metric_value(text, "warning_feed_info") == 4
        await asyncio.to_thread(prom.wait_for_alert, "WarningFeedAbsent", state="pending",
                                labels={"source": "grid", "name_zh": "网格员上报"})
        absent = {a["labels"]["source"]: a["labels"]["name_zh"] for a in await asyncio.to_thread(prom.alerts)
                  if a["labels"]["alertname"] == "WarningFeedAbsent"}
        assert absent == {"hotline": "12345热线", "public_safety": "110警情", "grid": "网格员上报"}, absent
    finally:
        if prom is not None:
            await asyncio.to_thread(prom.stop)
        await asyncio.to_thread(am.stop)
        w.stop()
        await runner.cleanup()
