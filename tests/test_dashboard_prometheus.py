"""The Grafana row "反馈与准确率 Feedback & precision" against live data: every query of its panels,
run as Grafana runs it (tests/grafana_queries.py), returns data from a real Prometheus scraping a
live ``warning dashboard`` (job ``warning-dashboard``, as deploy/prometheus/ configures it) and a
live ``warning worker`` (job ``warning``) on the session's Tansu broker.

The worker runs only its delivery agent, with a generic webhook receiver (a local sink). Both
processes share the ``alerts_feedback`` source key ``dashboard`` through an environment variable.
The test writes signed feedback as the dashboard would (``sign_record(..., source_field="source")``):
a silence of one street+signal — then, once the worker has judged it, contract alerts for three
streets (one on the silenced street+signal: not delivered, counted in
``warning_notifications_silenced_total``), and a 确认 and a 误报 verdict (precision 50 %).

tests/test_pipeline_prometheus.py checks every other panel of the dashboard (the simulator-fed
worker); the queries of this row are left to this test (:func:`feedback_row_queries`), so no panel
goes unchecked.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Mapping

import orjson
import pytest

from grafana_queries import PanelQuery, default_variables, panel_queries, poll_until_data, variable_filters
from grafana_queries import without_zero_fallback
from kafka_helpers import produce
from prom_helpers import REPO, Prometheus, require_tool
from warning.brokers.base import free_port
from warning.config import load_settings
from warning.core.alert_feedback import PURPOSE, SOURCE_FIELD
from warning.core.events import ALERT_ENCODER, Alert
from warning.core.signed_records import sign_record
from warning.notify.sink import start_sink
from warning.streams.topics import ensure_topics
from worker_proc import ROOT, Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DASHBOARD = REPO / "deploy" / "grafana" / "warning-dashboard.json"
#: the row whose panels this test checks (its title starts with this)
FEEDBACK_ROW = "反馈与准确率"
#: the time picker's "Last 1 hour", as in test_pipeline_prometheus.py
RANGE_S = 3600.0
BUDGET_S = 60.0

# (street, street name, district, signal): A is confirmed, B a false alarm, S silenced
A = ("110105001", "建外街道", "朝阳区", "hotline_volume")
B = ("110108001", "万寿路街道", "海淀区", "petition_volume")
S = ("110101001", "东华门街道", "东城区", "hotline_volume")


def row_queries(dashboard: Mapping[str, Any], row_title: str) -> list[PanelQuery]:
    """The queries of the panels in the row whose title starts with ``row_title``: an expanded row's
    panels follow it up to the next row, a collapsed row holds them in ``panels``.

    >>> d = {"panels": [{"type": "row", "id": 1, "title": "a"},
    ...                 {"type": "stat", "id": 2, "title": "x", "gridPos": {"w": 6}, "targets": [{"expr": "up"}]},
    ...                 {"type": "row", "id": 3, "title": "b", "collapsed": True, "panels": [
    ...                     {"type": "stat", "id": 4, "title": "y", "gridPos": {"w": 6}, "targets": [{"expr": "m"}]}]}]}
    >>> [q.expr for q in row_queries(d, "a")], [q.expr for q in row_queries(d, "b")]
    (['up'], ['m'])
    """
    ids: set[int] = set()
    inside = False
    for p in dashboard["panels"]:
        if p.get("type") == "row":
            inside = p.get("title", "").startswith(row_title)
            if inside:
                ids.update(c["id"] for c in p.get("panels", []))
        elif inside:
            ids.add(p["id"])
    return [q for q in panel_queries(dashboard) if q.panel_id in ids]


def feedback_row_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    """The queries this test checks (tests/test_pipeline_prometheus.py checks all the others)."""
    return row_queries(dashboard, FEEDBACK_ROW)


def contract_alert(alert_id: str, who: tuple[str, str, str, str], level: str) -> Alert:
    """A firing alert following the contract (DESIGN.md), in the current hour."""
    street, name, district, signal = who
    start = (time.time() // 3600 - 1) * 3600

    def iso(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(t + 8 * 3600))

    return Alert(alert_id=alert_id, status="firing", level=level, signal=signal, street_code=street, street_name=name,
                 district=district, window_start=iso(start), window_end=iso(start + 3600), starts_at=iso(start + 600),
                 observed=12.0, expected=2.0, score=6.0, summary_zh=f"【预警】{district}{name}：诉求量异常升高。",
                 evidence={"window": "1h"}, sample_texts=["小区门口噪音扰民，电话1**********"])


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def wait_until(fn, timeout: float, what: str, logs) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = fn()
        except OSError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        time.sleep(0.3)


def pending_checks(queries: list[PanelQuery]) -> dict[str, Any]:
    """name → what must return data: each query, its left side when it ends in ``or vector(0)``,
    and ``count(metric{label!=""})`` for every ``label=~"$variable"`` filter (the label exists)."""
    pending: dict[str, Any] = {}
    for q in queries:
        pending[q.name] = q
        left = without_zero_fallback(q.expr)
        if left is not None:
            pending[q.name + " (without `or vector(0)`)"] = PanelQuery(q.panel_id, q.title, q.ref, left, q.instant, q.width_px)
        for metric, label, _var in variable_filters(q.expr):
            pending[f"{metric} has label {label}"] = f'count({metric}{{{label}!=""}})'
    return pending


def check_queries(prom: Prometheus, queries: list[PanelQuery], variables: Mapping[str, str], timeout: float) -> int:
    """Poll until every check of :func:`pending_checks` has data, as Grafana would run it now;
    the number of checks. On timeout: which ones have none."""
    return poll_until_data(prom, pending_checks(queries), variables=variables, range_s=RANGE_S, timeout=timeout,
                           every=0.5, what="feedback-row queries")


def test_feedback_row_has_data_from_live_dashboard_and_worker(tansu, tmp_path: Path) -> None:
    require_tool("prometheus")
    t0 = time.monotonic()
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = feedback_row_queries(d)
    assert len({q.panel_id for q in queries}) >= 7, [q.name for q in queries]

    delivered: list[str] = []
    loop = asyncio.new_event_loop()
    sink_runner, sink_url = loop.run_until_complete(start_sink("127.0.0.1", 0, on_alert=lambda a: delivered.append(a["alert_id"])))
    # the sink's aiohttp server must keep answering while this (synchronous) test waits: run the loop
    # in a thread
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()

    key_var = "DASH_PROM_TEST_FEEDBACK_KEY"
    prefix = f"dp{secrets.token_hex(4)}"
    env = isolated_env(
        tmp_path, tansu.url, prefix=prefix,
        WARNING_TOPICS__ALERTS_FEEDBACK=f"{prefix}.alerts.feedback",
        WARNING_WORKER__AGENTS='["deliver"]',  # only delivery: silences and the feedback counter
        **{key_var: secrets.token_hex(16)},
        WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_ENV=key_var,
        WARNING_RECEIVERS=orjson.dumps([{"name": "ops", "kind": "generic", "url": sink_url + "generic",
                                         "allow_unsigned": True}]).decode(),
    )
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    key = settings.alerts_feedback.secret_of("dashboard")
    worker = Worker(env, tmp_path / "worker.log").start()

    dash_port = free_port()
    (tmp_path / "dashboard").mkdir()
    dash_env = {**os.environ, **env,
                "WARNING_WORKER__DATA_DIR": str(tmp_path / "dashboard"),
                "WARNING_HISTORY__URL": f"sqlite:///{tmp_path / 'dashboard' / 'history.sqlite3'}",
                "WARNING_DASHBOARD__WORKER_METRICS": f"[{worker.web}/metrics]"}
    dash_log = open(tmp_path / "dashboard.log", "ab")
    dash = subprocess.Popen([sys.executable, "-m", "warning", "dashboard", "--host", "127.0.0.1", "--port", str(dash_port)],
                            env=dash_env, cwd=ROOT, stdout=dash_log, stderr=subprocess.STDOUT, start_new_session=True)
    dash_url = f"http://127.0.0.1:{dash_port}"
    prom: Prometheus | None = None

    def logs() -> str:
        dl = (tmp_path / "dashboard.log").read_text(errors="replace").splitlines()[-30:]
        return (f"--- worker\n{worker.log_tail(30)}\n--- dashboard\n" + "\n".join(dl)
                + (f"\n{prom.log_tail(10)}" if prom is not None else ""))

    def feedback(alert_id: str, action: str, **extra: Any) -> bytes:
        rec = {"alert_id": alert_id, "action": action, "by": "值班员", SOURCE_FIELD: "dashboard", **extra}
        return orjson.dumps(sign_record(rec, key, time.time(), PURPOSE, source_field=SOURCE_FIELD))

    def worker_metric(name: str, **labels: str) -> float:
        return metric_value(worker.metrics(10), name, **labels)

    try:
        # a silence of S's street+signal (named explicitly: the worker need not have seen the alert)
        produce(tansu.bootstrap, settings.topics.alerts_feedback,
                [feedback("s-1", "silence", silence_hours=4, street_code=S[0], signal=S[3])], keys=[S[0].encode()])
        worker.metrics(60)
        dash_health = wait_until(lambda: dash.poll() is None and http_json(dash_url + "/healthz"), 30,
                                 "the dashboard's /healthz", logs)
        assert dash_health["ok"], dash_health
        prom = Prometheus([worker.web.removeprefix("http://")], workdir=tmp_path / "prom",
                          extra_scrape_configs=[{"job_name": "warning-dashboard", "metrics_path": "/metrics",
                                                 "static_configs": [{"targets": [f"127.0.0.1:{dash_port}"]}]}])
        prom.start()
        prom.wait_for_targets_up()
        prom.wait_for_targets_up(job="warning-dashboard")

        # the worker obeys the silence before the alerts arrive
        wait_until(lambda: worker_metric("warning_alert_feedback_total", outcome="silenced") >= 1, 30,
                   "the worker to judge the silence", logs)
        alerts = [contract_alert("a-1", A, "red"), contract_alert("b-1", B, "yellow"), contract_alert("s-1", S, "orange")]
        produce(tansu.bootstrap, settings.topics.alerts, [ALERT_ENCODER.encode(a) for a in alerts],
                keys=[a.street_code.encode() for a in alerts])
        produce(tansu.bootstrap, settings.topics.alerts_feedback,
                [feedback("a-1", "confirmed"), feedback("b-1", "false_alarm")], keys=[A[0].encode(), B[0].encode()])
        wait_until(lambda: worker_metric("warning_notifications_silenced_total", signal=S[3]) >= 1
                   and set(delivered) >= {"a-1", "b-1"}, 30, f"s-1 silenced, a-1 and b-1 delivered (got {delivered})", logs)
        assert "s-1" not in delivered

        checked = check_queries(prom, queries, default_variables(d), timeout=25)

        # and the values are the ones the feedback implies (the silenced alert is still on the screen)
        def by(label: str, expr: str, want: dict[str, float]) -> None:
            def got() -> dict[str, float]:
                return {r["metric"].get(label, ""): float(r["value"][1]) for r in prom.query(expr)}
            try:
                prom.wait_for(expr, lambda _: {k: v for k, v in got().items() if k in want} == want, timeout=15)
            except TimeoutError:
                pytest.fail(f"{expr}: {got()}, expected {want}\n{logs()}")

        by("", 'max(warning_alert_precision{signal="",district=""})', {"": 0.5})
        by("signal", 'max by (signal) (warning_alert_precision{signal!="",district=""})', {A[3]: 1.0, B[3]: 0.0})
        by("district", 'max by (district) (warning_alert_precision{signal="",district!=""})', {A[2]: 1.0, B[2]: 0.0})
        by("verdict", 'max by (verdict) (warning_alert_verdicts{signal="",district=""})', {"confirmed": 1.0, "false_alarm": 1.0})
        by("level", "max by (level) (warning_dashboard_alerts_active)", {"red": 1.0, "yellow": 1.0, "orange": 1.0})
        assert worker_metric("warning_alert_feedback_total", outcome="silenced") >= 1
        elapsed = time.monotonic() - t0
        print(f"\nfeedback row: {len(queries)} queries, {checked} checks with data after {elapsed:.1f} s")
        if elapsed > BUDGET_S:  # a slow CI box is not a failure; the pytest timeout is the hard bound
            print(f"note: over the {BUDGET_S:.0f} s budget ({elapsed:.1f} s)")
    finally:
        if prom is not None:
            prom.stop()
        if dash.poll() is None:
            os.killpg(dash.pid, 15)
            try:
                dash.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(dash.pid, 9)
                dash.wait(5)
        dash_log.close()
        worker.stop()
        asyncio.run_coroutine_threadsafe(sink_runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(5)
        loop.close()
