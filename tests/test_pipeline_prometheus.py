"""The whole path with real parts: raw record on Kafka → ``warning worker`` → our generic webhook,
and → ``/metrics`` → a real Prometheus (the repository's rules) → a real Alertmanager (the
repository's routing) → Alertmanager webhook v4 at the same sink.

Then the same worker and Prometheus check the Grafana dashboard (deploy/grafana/warning-dashboard.json):
the simulator feeds three hours across a Beijing midnight (a day close: the false-alert budget's
series), with malformed records (dead letters), a record without a street (unresolved), a late
record, and a webhook receiver that fails once (retry) — and every panel's PromQL, run as Grafana
runs it (tests/grafana_queries.py), must return data — all but the row "反馈与准确率 Feedback &
precision", whose queries tests/test_dashboard_prometheus.py runs against a live dashboard and worker.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from kafka import KafkaProducer

from grafana_queries import (default_variables, metric_names, panel_queries, poll_until_data, variable_filters,
                             without_zero_fallback)
from prom_helpers import REPO, Alertmanager, Prometheus, require_tool
from test_deploy_live import Inbox
from test_dashboard_prometheus import feedback_row_queries
from warning.config import load_settings
from warning.core.timeutil import BEIJING, DAY, HOUR, iso
from warning.core.window import window_start
from warning.notify.sink import start_sink
from warning.sim.generator import SimParams, Simulator
from warning.sim.sinks import KafkaSink, raw_topics, run as run_sim
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

STREET, DISTRICT = "110105001", "朝阳区"
DASHBOARD = REPO / "deploy" / "grafana" / "warning-dashboard.json"
#: The only panels not checked here: the row "反馈与准确率 Feedback & precision" (the `warning
#: dashboard` app's /metrics and the worker's alert-feedback counters, which need signed staff
#: feedback) — every query of that row is checked against a live dashboard and worker by
#: tests/test_dashboard_prometheus.py; every other panel's query is checked here.
#: the time picker's "Last 1 hour" (the dashboard's default 6 h only makes steps and rate windows
#: longer: the same series, but up to a minute's wait for the first aligned step)
RANGE_S = 3600.0


async def start_flaky_receiver(fail_first: int = 1) -> tuple[web.AppRunner, str, list[int]]:
    """A webhook answering 503 to its first ``fail_first`` requests, then 200 (statuses logged)."""
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        status = 503 if len(statuses) < fail_first else 200
        statuses.append(status)
        return web.json_response({"errcode": 0 if status == 200 else -1}, status=status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/flaky", statuses


async def test_incident_reaches_webhook_and_alertmanager(tansu, tmp_path) -> None:
    require_tool("prometheus")
    require_tool("alertmanager")
    inbox = Inbox()
    generic: list[dict] = []
    runner, sink_url = await start_sink("127.0.0.1", 0, on_alert=generic.append, on_message=inbox.on_message)
    flaky_runner, flaky_url, flaky_statuses = await start_flaky_receiver()
    prefix = f"pp{int(time.time() * 1000) % 10**8}"
    env = isolated_env(
        tmp_path, tansu.url, prefix=prefix,
        WARNING_RECEIVERS=orjson.dumps([
            {"name": "ops", "kind": "generic", "url": sink_url + "generic", "allow_unsigned": True},
            {"name": "flaky", "kind": "generic", "url": flaky_url, "allow_unsigned": True},
        ]).decode(),
        # The dashboard part: streets scan after 1 h learned, the budget calibrates from the first
        # day close, a feed silent for 2 s stops holding the watermark and a partition quiet for
        # 3 s lets event time run on (instead of 24 h, 200 street-days, 5 min, 60 s) — so three
        # simulated hours across a midnight give every series, the budget's included.
        WARNING_DETECT__WARMUP_HOURS="1",
        WARNING_ALERTS__CALIBRATION_MIN_STREET_DAYS="1",
        WARNING_WINDOWS__SOURCE_IDLE_SECONDS="2",
        WARNING_WINDOWS__IDLE_FLUSH_SECONDS="3",
    )
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

        # ---- the Grafana dashboard against the same worker and Prometheus ----
        t_dash = time.monotonic()
        await asyncio.to_thread(feed_for_dashboard, tansu.bootstrap, env, prom)
        checked = await asyncio.to_thread(check_every_panel, prom, 60.0)
        text = await asyncio.to_thread(w.metrics)
        assert metric_value(text, "warning_late_events_total") >= 1
        assert metric_value(text, "warning_deadletter_total", reason="invalid_json") >= 1
        assert metric_value(text, "warning_unresolved_events_total") >= 1
        assert metric_value(text, "warning_notifications_total", receiver="flaky", outcome="retry") >= 1
        assert flaky_statuses[:2] == [503, 200], flaky_statuses
        print(f"\ndashboard: {checked} queries with data after {time.monotonic() - t_dash:.1f} s")
    finally:
        if prom is not None:
            await asyncio.to_thread(prom.stop)
        await asyncio.to_thread(am.stop)
        w.stop(graceful=False)  # SIGKILL at the end: worker_proc.Worker
        await runner.cleanup()
        await flaky_runner.cleanup()


def feed_for_dashboard(bootstrap: str, env: dict[str, str], prom: Prometheus) -> None:
    """The simulator's three hours around yesterday's Beijing midnight (all four feeds, 2 % malformed),
    a non-JSON record, a record without a street, then — once both detection partitions have a
    watermark — records five hours older than the simulated period, in both partitions (late)."""
    now = time.time()
    midnight = window_start(now, int(DAY)) - DAY  # at least a day ago: nothing is in the future
    sim = Simulator(SimParams(start=int(midnight - 2 * HOUR), days=3 / 24, seed=12, scale=0.5, incidents_per_week=0,
                              bad_fraction=0.02, weather=False))
    topics = raw_topics(load_settings(None, env=env))
    summary = run_sim(sim, kafka=KafkaSink([bootstrap], topics), speed=0)
    assert summary["bad_records"] > 0 and all(n > 0 for n in summary["by_source"].values()), summary

    def hotline(rec_id: str, ts: float, **fields: Any) -> bytes:
        return orjson.dumps({"id": rec_id, "received_at": iso(ts), "type": "投诉", "category": "供暖",
                             "content": "家里暖气不热，联系电话13812345678", **fields})

    p = KafkaProducer(bootstrap_servers=bootstrap)
    p.send(topics["hotline"], b'{"id": "broken", "received_at": ', key=b"broken")              # invalid_json
    p.send(topics["hotline"], hotline("no-street", midnight), key=b"no-street")                   # unresolved
    p.flush()
    prom.wait_for("count(warning_watermark_delay_seconds)", lambda r: bool(r) and float(r[0]["value"][1]) >= 2, timeout=60)
    for code in (STREET, "110101001", "110102001", "110108001"):  # in both detection partitions
        p.send(topics["hotline"], hotline(f"late-{code}", midnight - 7 * HOUR, street_code=code), key=code.encode())
    p.flush()
    p.close()


def check_every_panel(prom: Prometheus, timeout: float) -> int:
    """Poll until every panel query (and the dashboard variables' queries) returns data, as Grafana
    would run it now; the number of queries checked. On timeout: which ones have none."""
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = default_variables(d)
    queries = panel_queries(d)
    exempt = feedback_row_queries(d)  # checked by tests/test_dashboard_prometheus.py
    assert exempt and set(exempt) <= set(queries) and len(exempt) < len(queries) // 4, [q.name for q in exempt]
    row_metrics = set().union(*(metric_names(q.expr) for q in exempt))
    pending: dict[str, Any] = {}
    for q in queries:
        if q in exempt:
            continue
        pending[q.name] = q
        left = without_zero_fallback(q.expr)
        if left is not None:  # "… or vector(0)" always has data: its left side must too
            pending[q.name + " (without `or vector(0)`)"] = type(q)(q.panel_id, q.title, q.ref, left, q.instant, q.width_px)
        for metric, label, _var in variable_filters(q.expr):
            if metric not in row_metrics:  # the variable's label is on the metric (that row's: checked there)
                pending[f"{metric} has label {label}"] = f'count({metric}{{{label}!=""}})'
    for v in d["templating"]["list"]:
        if v["type"] == "query":  # label_values(metric, label): what Grafana lists in the drop-down
            metric, label = v["definition"].removeprefix("label_values(").removesuffix(")").split(", ")
            pending[f"variable ${v['name']}"] = ("label", label, metric)
    return poll_until_data(prom, pending, variables=variables, range_s=RANGE_S, timeout=timeout, every=1.0,
                           what="dashboard queries")
