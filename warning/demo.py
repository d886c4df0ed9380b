"""``warning demo``: the whole path on one machine.

1. the embedded broker (Tansu, memory storage) on a free loopback port;
2. a local webhook sink that prints each alert as Chinese text (a ``generic`` receiver);
3. a real ``warning worker`` subprocess (ingest → detection → delivery) and the ops-centre dashboard
   (``warning dashboard``: 大屏, inbox, 确认/误报/已处置/静默) with a one-off operator account;
4. two days of simulated history of all four feeds (hotline, petitions, 110, grid-member reports)
   replayed fast (so the street models have a baseline); once the worker has taken it (its
   ``/healthz``), a live simulated feed in real time;
5. a few minutes in, an incident at one street: a grid member's 群体性苗头 report (网格员上报), an
   extreme threat on the hotline and a group petition (集体访) — the alerts reach the sink within
   a second or so.

Ctrl-C (or ``--duration``) stops everything and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from warning.config import Settings
from warning.core.timeutil import BEIJING

INCIDENT_STREET = ("110105001", "建外街道", "朝阳区")


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def _incident_records(now: datetime) -> list[tuple[str, dict]]:
    code, name, district = INCIDENT_STREET
    t = now.isoformat(timespec="seconds")
    return [
        ("grid", {"id": f"demo-grid-{int(now.timestamp())}", "reported_at": t, "street_code": code,
                  "grid_id": f"{code}003", "issue_type": "群体性苗头", "category": "讨薪苗头", "people_count": 23,
                  "urgency": 3,
                  "content": f"走访中了解到，{name}某工地拖欠农民工工资半年，部分工友在微信群里商量明天一起到信访办"
                             "集体反映，有人提议拉横幅。已向社区和街道综治中心报告，建议提前做好沟通化解。"
                             "上报人：网格员王丽华，联系电话13698765432。",
                  "reporter": {"name": "王丽华", "phone": "13698765432"}}),
        ("hotline", {"id": f"demo-threat-{int(now.timestamp())}", "received_at": t, "street_code": code, "type": "投诉",
                     "category": "劳动和社会保障", "title": "讨薪",
                     "content": "我叫张建国，电话13912345678，工地拖欠我们工资半年了，再不给钱我就从楼顶跳下去，跟他们同归于尽！",
                     "caller": {"name": "张建国", "phone": "13912345678"}}),
        ("petition", {"id": f"demo-group-{int(now.timestamp())}", "received_at": t, "street_code": code, "form": "来访",
                      "people_count": 23, "is_repeat": True, "category": "劳动和社会保障",
                      "content": f"{name}某工地工友们集体上访讨要欠薪，联系人李强，身份证110101199003071234"}),
    ]


async def _demo(settings: Settings, port: int, config_path: str | None, duration: float | None,
                incident_after: float) -> int:
    from kafka import KafkaProducer

    from warning.brokers.tansu import EmbeddedBroker
    from warning.notify.sink import print_alert, start_sink
    from warning.streams.topics import ensure_topics

    work = Path(tempfile.mkdtemp(prefix="warning-demo-"))
    procs: list[subprocess.Popen] = []
    broker = EmbeddedBroker(port=port or None, log_path=work / "tansu.log")
    runner = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        broker.start()
        _say(f"内嵌 broker (Tansu) 已启动 embedded broker: {broker.bootstrap}")
        received: list[dict] = []
        first_webhook: dict[str, float] = {}  # street → monotonic time of its first firing webhook

        def on_alert(alert: dict) -> None:
            received.append(alert)
            if alert.get("status") == "firing":
                first_webhook.setdefault(str(alert.get("street_code")), time.monotonic())
            print_alert(alert)

        runner, sink_url = await start_sink("127.0.0.1", 0, on_alert)
        _say(f"webhook 接收端 sink: {sink_url}")
        web_port = _port_or_free(settings.worker.web_port)
        dash_port = _port_or_free(settings.dashboard.port)
        dash_password = secrets.token_urlsafe(9)
        from argon2 import PasswordHasher

        env = {
            **os.environ,
            # actions on the dashboard are signed with a key shared by the dashboard and the worker
            # (silences are obeyed only when signed); a random one for this run only
            "WARNING_DEMO_SIGNING_SECRET": secrets.token_hex(16),
            "WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_ENV": "WARNING_DEMO_SIGNING_SECRET",
            "WARNING_DASHBOARD__USERS__DEMO__PASSWORD_HASH": PasswordHasher().hash(dash_password),
            "WARNING_DASHBOARD__USERS__DEMO__ROLE": "operator",
            "WARNING_DASHBOARD__USERS__DEMO__DISPLAY_NAME": "演示值班员",
            "WARNING_KAFKA__BROKER": broker.url,
            # Tansu joins a consumer group after session_timeout/2: keep the demo snappy.
            "WARNING_KAFKA__SESSION_TIMEOUT_S": "3", "WARNING_KAFKA__HEARTBEAT_INTERVAL_S": "0.5",
            "WARNING_KAFKA__REBALANCE_TIMEOUT_S": "3", "WARNING_KAFKA__FETCH_MAX_WAIT_MS": "50",
            "WARNING_WORKER__DATA_DIR": str(work / "data"), "WARNING_WORKER__WEB_PORT": str(web_port),
            # the dashboard's history in this run's directory, whatever --config names (a production
            # database must not get the demo's alerts, nor offsets of this throwaway broker)
            "WARNING_DEMO_HISTORY_URL": f"sqlite:///{work / 'data' / 'history.sqlite3'}",
            "WARNING_HISTORY__URL_ENV": "WARNING_DEMO_HISTORY_URL",
            "WARNING_WORKER__LOG_LEVEL": "warning",
            # signed like a real receiver (the secret lives only in the worker's environment)
            "WARNING_DEMO_SINK_SECRET": os.urandom(16).hex(),
            "WARNING_RECEIVERS": orjson.dumps([{"name": "demo-sink", "kind": "generic", "url": sink_url + "generic",
                                                "secret_env": "WARNING_DEMO_SINK_SECRET", "send_resolved": True}]).decode(),
        }
        demo_settings = settings.model_copy(deep=True)
        demo_settings.kafka.broker = broker.url
        await asyncio.to_thread(ensure_topics, demo_settings)
        cfg = ["--config", config_path] if config_path else []
        worker_log = open(work / "worker.log", "ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "warning", "worker", *cfg], env=env,
                                      stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True))
        _say(f"worker 已启动 started: 指标 metrics http://127.0.0.1:{web_port}/metrics · 健康 http://127.0.0.1:{web_port}/healthz")
        dash_log = open(work / "dashboard.log", "ab")
        env["WARNING_DASHBOARD__WORKER_METRICS"] = f"[http://127.0.0.1:{web_port}/metrics]"
        procs.append(subprocess.Popen([sys.executable, "-m", "warning", "dashboard", "--port", str(dash_port), *cfg],
                                      env=env, stdout=dash_log, stderr=subprocess.STDOUT, start_new_session=True))
        dash_url = f"http://127.0.0.1:{dash_port}/"
        _say(f"值班台 dashboard: {dash_url} · 收件箱 inbox {dash_url}inbox · 登录 sign in: demo / {dash_password}")
        _say(f"日志 logs: {work}")
        now = datetime.now(BEIJING)
        hist_start = (now - timedelta(days=2)).isoformat(timespec="seconds")
        sim = [sys.executable, "-m", "warning", "simulate", "--to-kafka", "--broker", broker.url, "--scale", "0.05",
               "--seed", "1", "--incidents-per-week", "0", "--quiet", *cfg]
        _say("回放两天的模拟历史数据 replaying two days of simulated history (baseline) …")
        hist = await asyncio.to_thread(subprocess.run, [*sim, "--start", hist_start, "--days", "2", "--speed", "0"],
                                       env=env, capture_output=True, text=True)
        if hist.returncode != 0:
            _say(f"simulator failed: {hist.stderr[-2000:]}")
            return 1
        _say("等待 worker 读完历史 waiting for the worker to take the history …")
        caught = await _caught_up(broker.bootstrap, list(settings.raw_topics().values()), web_port, stop, procs[0])
        _say(f"历史已读完 history taken ({caught})" if caught else
             f"历史尚未读完，继续 the worker has not taken all the history within {CATCH_UP_S:.0f} s; going on")
        sim_log = open(work / "simulate.log", "ab")
        procs.append(subprocess.Popen([*sim, "--start", "now", "--days", "1", "--speed", "1"], env=env,
                                      stdout=sim_log, stderr=subprocess.STDOUT, start_new_session=True))
        _say(f"实时模拟数据流已开始 live feed started; 约 {incident_after:.0f} 秒后在{INCIDENT_STREET[2]}{INCIDENT_STREET[1]}注入事件 "
             f"(incident in ~{incident_after:.0f} s). Ctrl-C 停止 stops everything.")
        t0 = time.monotonic()
        injected = False
        watch: asyncio.Task | None = None
        while not stop.is_set():
            if duration is not None and time.monotonic() - t0 >= duration:
                break
            if not injected and time.monotonic() - t0 >= incident_after:
                injected_at = time.monotonic()
                p = KafkaProducer(bootstrap_servers=broker.bootstrap)
                for src, rec in _incident_records(datetime.now(BEIJING)):
                    p.send(settings.raw_topics()[src], value=orjson.dumps(rec), key=rec["street_code"].encode())
                p.flush()
                p.close()
                injected = True
                watch = asyncio.create_task(_watch_dashboard(dash_url, INCIDENT_STREET[0], first_webhook, injected_at))
                _say("已注入事件 incident injected: 网格群体性苗头 + 极端言论 + 集体访 "
                     "(grid report + extreme threat + group petition)")
            for pr in procs:
                if pr.poll() is not None and pr is procs[0]:
                    _say(f"worker exited with {pr.returncode}; see {work / 'worker.log'}")
                    return 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
        _say(f"收到预警 alerts received: {len(received)}")
        if watch is not None and not watch.done():
            watch.cancel()
        return 0
    finally:
        for pr in reversed(procs):
            if pr.poll() is None:
                os.killpg(pr.pid, signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(pr.pid, signal.SIGKILL)
                pr.wait(5)
        if runner is not None:
            await runner.cleanup()
        broker.stop()
        _say("已全部停止 everything stopped")


#: how long the demo waits for the worker to take the replayed history before the live feed
CATCH_UP_S = 150.0


async def _caught_up(bootstrap: str, topics: list[str], web_port: int, stop: asyncio.Event,
                     worker: subprocess.Popen) -> str | None:
    """Wait until the worker's ingest has taken every record now on the raw ``topics`` and its
    detection every accepted event (its ``/healthz``), for at most :data:`CATCH_UP_S`, while
    the worker runs and no stop is asked: the live incident then comes after the history, not
    behind it. Returns what was taken, or None."""
    import urllib.request

    from kafka import KafkaConsumer, TopicPartition

    from warning.streams.healthz import detected, ingested

    def records() -> int:
        c = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            tps = [TopicPartition(t, p) for t in topics for p in (c.partitions_for_topic(t) or ())]
            return sum(c.end_offsets(tps).values())
        finally:
            c.close()

    def health() -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=2) as r:
                return orjson.loads(r.read())
        except Exception:  # noqa: BLE001 — not up yet
            return {}

    n = await asyncio.to_thread(records)
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline and not stop.is_set() and worker.poll() is None:
        h = await asyncio.to_thread(health)
        if ingested(h) >= n and detected(h) >= h.get("accepted", 0):
            return f"{n:,} records"
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except asyncio.TimeoutError:
            pass
    return None


def _port_or_free(port: int) -> int:
    """``port`` if it is free on loopback, else any free port (the demo runs beside other things)."""
    import socket

    from warning.brokers.base import free_port

    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
        return port
    except OSError:
        return free_port()


async def _watch_dashboard(url: str, street_code: str, first_webhook: dict[str, float], injected_at: float) -> None:
    """Say when the incident street's alert shows on the dashboard, how long after the sink
    received its first webhook (the issue's bar: within 10 s), and that webhook after the injection."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        while True:
            await asyncio.sleep(0.25)
            t_alert = first_webhook.get(street_code)
            if t_alert is None:
                continue
            try:
                async with http.get(f"{url}api/alerts", params={"street": street_code, "status": "firing"}) as r:
                    body = await r.json() if r.status == 200 else {}
            except (aiohttp.ClientError, ValueError):
                continue
            if body.get("total"):
                _say(f"大屏已显示该事件预警 the incident is on the dashboard "
                     f"{time.monotonic() - t_alert:.1f} s after its first webhook: {url}inbox "
                     f"(首条预警在注入后 {t_alert - injected_at:.1f} 秒 first webhook {t_alert - injected_at:.1f} s after the injection)")
                return


def run_demo(settings: Settings, port: int = 0, config_path: str | None = None, duration: float | None = None,
             incident_after: float = 120.0) -> int:
    return asyncio.run(_demo(settings, port, config_path, duration, incident_after))
