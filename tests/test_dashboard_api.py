"""``warning dashboard`` backend against a real broker: alerts, events and feedback produced to
Kafka show up in the API, the stream and /metrics; actions need a signed-in operator with the
session's CSRF token, land signed on the feedback topic and come back as precision."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kafka_helpers import consume_all, produce
from worker_proc import isolated_env
from warning.config import load_settings
from warning.core.alert_feedback import PURPOSE, SOURCE_FIELD
from warning.core.events import EVENT_ENCODER, example_event
from warning.core.signed_records import sign_record, verify
from warning.dashboard.app import make_app
from warning.dashboard.auth import hash_password
from warning.history.store import HistoryStore
from warning.streams.topics import ensure_topics

pytestmark = pytest.mark.integration

SECRET = "dashboard-test-secret-0123456789"
PASSWORDS = {"viewer1": "viewer-pass-1", "op1": "operator-pass-1"}
_HASHES: dict[str, str] = {}


def _hash(user: str) -> str:
    if user not in _HASHES:
        _HASHES[user] = hash_password(PASSWORDS[user])
    return _HASHES[user]


def setup_settings(tmp_path: Path, broker_url: str, metrics_url: str | None = None, **dash: Any):
    prefix = f"db{uuid.uuid4().hex[:8]}"
    cfg = {"dashboard": {
        "users": {"viewer1": {"password_hash": _hash("viewer1"), "role": "viewer"},
                  "op1": {"password_hash": _hash("op1"), "role": "operator", "display_name": "值班员甲"}},
        "proxy_auth": {"header": "X-Forwarded-User", "role_header": "X-Forwarded-Role",
                       "trusted_proxies": ["10.9.9.9"]},
        "worker_metrics": [metrics_url] if metrics_url else [],
        **dash,
    }}
    path = tmp_path / "dashboard.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = isolated_env(tmp_path, broker_url, prefix=prefix,
                       WARNING_TOPICS__ALERTS_FEEDBACK=f"{prefix}.alerts.feedback",
                       WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET=SECRET)
    settings = load_settings(path, env=env)
    ensure_topics(settings)
    return settings


def alert(alert_id: str, level: str, *, street: str = "110105001", name: str = "建外街道", district: str = "朝阳区",
          signal: str = "hotline_volume", status: str = "firing", score: float = 5.0, hour: float | None = None) -> dict:
    start = hour if hour is not None else (time.time() // 3600 - 1) * 3600
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(t + 8 * 3600))  # noqa: E731
    return {"alert_id": alert_id, "status": status, "level": level, "signal": signal, "street_code": street,
            "street_name": name, "district": district, "window_start": iso(start), "window_end": iso(start + 3600),
            "starts_at": iso(start + 600), "ends_at": iso(start + 3600) if status == "resolved" else None,
            "observed": 12.0, "expected": 2.0, "score": score, "summary_zh": f"{name} 12345热线诉求量异常升高",
            "evidence": {"window": "1h"}, "sample_texts": ["小区门口噪音扰民，电话1**********"]}


async def to_kafka(bootstrap: str, topic: str, values: list[Any], keys: list[str]) -> None:
    await asyncio.to_thread(produce, bootstrap, topic, [orjson.dumps(v) if not isinstance(v, bytes) else v for v in values],
                            [k.encode() for k in keys])


async def wait_for(fn, timeout: float = 15.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met in {timeout}s; last: {last!r}")


async def fake_worker_metrics() -> tuple[web.AppRunner, str]:
    """A worker /metrics whose accepted-event counter grows by 10 per scrape."""
    n = {"scrapes": 0}

    async def metrics(request: web.Request) -> web.Response:
        n["scrapes"] += 1
        text = (
            "# TYPE warning_events_total counter\n"
            f'warning_events_total{{source="hotline",district="朝阳区",outcome="accepted"}} {10.0 * n["scrapes"]}\n'
            "# TYPE warning_deadletter_total counter\n"
            'warning_deadletter_total{source="hotline",reason="bad_json"} 3.0\n'
        )
        return web.Response(text=text, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/metrics"


async def read_sse(resp, want: str, alert_id: str, timeout: float = 15.0) -> dict:
    """The first ``event: want`` whose data has ``alert_id``."""
    event = None
    async with asyncio.timeout(timeout):
        while True:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == want:
                data = orjson.loads(line[6:])
                if data.get("alert_id") == alert_id:
                    return data


async def test_dashboard_end_to_end(tansu, tmp_path):
    runner, metrics_url = await fake_worker_metrics()
    settings = setup_settings(tmp_path, tansu.url, metrics_url)
    t = settings.topics
    bs = tansu.bootstrap
    key = settings.alerts_feedback.secret_of("dashboard")
    now = time.time()
    a1 = alert("a1", "red", score=9.0)
    a2 = alert("a2", "yellow", street="110108001", name="万寿路街道", district="海淀区", signal="petition_volume")
    a3 = alert("a3", "orange", street="110101001", name="东华门街道", district="东城区")
    await to_kafka(bs, t.alerts, [a1, a2, a3, {**a3, "status": "resolved", "ends_at": a3["window_end"]}, b"garbage"],
                   ["110105001", "110108001", "110101001", "110101001", "x"])
    events = [EVENT_ENCODER.encode(example_event(id=str(i), ts=now - 3600 * (i % 3) - 60,
                                                 event_time="2025-03-01T09:00:00+08:00")) for i in range(30)]
    await to_kafka(bs, t.events, events, ["110105001"] * 30)
    trusted = sign_record({"alert_id": "a2", "action": "confirmed", "by": "王科长", SOURCE_FIELD: "dashboard"},
                          key, now, PURPOSE, source_field=SOURCE_FIELD)
    forged = {**trusted, "alert_id": "a3", "action": "false_alarm"}  # signature no longer matches
    await to_kafka(bs, t.alerts_feedback, [trusted, forged], ["110108001", "110101001"])

    store = HistoryStore.open(f"sqlite:///{tmp_path / 'history.sqlite3'}")
    app = make_app(settings, store, health_interval_s=0.3)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        # --- overview and inbox reflect the topics
        async def overview_ready():
            r = await client.get("/api/overview")
            assert r.status == 200
            d = await r.json()
            return d if d["levels"]["red"] == 1 and d["levels"]["yellow"] == 1 and d["precision"]["overall"]["confirmed"] == 1 else None

        ov = await wait_for(overview_ready)
        assert ov["city"] == {"code": "110000", "name": "北京市"}
        assert ov["levels"] == {"blue": 0, "yellow": 1, "orange": 0, "red": 1}
        dist = {d["name"]: d for d in ov["districts"]}
        assert len(dist) == 16 and dist["朝阳区"]["level"] == "red" and dist["东城区"]["level"] is None
        assert [r["alert_id"] for r in ov["ranking"]] == ["a1", "a2"]
        assert ov["ranking"][0]["signal_zh"] and ov["ranking"][0]["level_zh"] == "红色"

        async def feeds_ready():
            d = await (await client.get("/api/overview")).json()
            hot = [f for f in d["feeds"] if f["source"] == "hotline"]
            return hot[0] if hot and hot[0]["events_per_s"] and d["feeds_error"] is None else None

        hot = await wait_for(feeds_ready, 10)
        assert hot["name_zh"] and hot["deadletters"] == 3.0 and hot["events_per_s"] > 0

        r = await client.get("/api/alerts", params={"district": "东城区"})
        d = await r.json()
        assert d["total"] == 1 and d["items"][0]["status"] == "resolved" and d["items"][0]["verdict"] is None
        d = await (await client.get("/api/alerts", params={"status": "firing", "since": "2000-01-01"})).json()
        assert {x["alert_id"] for x in d["items"]} == {"a1", "a2"}
        assert (await client.get("/api/alerts", params={"level": "purple"})).status == 400
        assert (await client.get("/api/alerts", params={"since": "yesterday"})).status == 400
        assert (await client.get("/api/alerts/nope")).status == 404
        d = await (await client.get("/api/alerts/a1")).json()
        s = d["series"]
        assert len(s["hours"]) == 7 * 24 and sum(s["observed"]) == 30 and "泊松" in s["band_zh"]
        assert len(s["expected"]) == len(s["low"]) == len(s["high"]) == len(s["hours"])
        assert d["alert"]["sample_texts"] and d["history"][0]["status"] == "firing"
        d3 = await (await client.get("/api/alerts/a3")).json()
        assert [h["status"] for h in d3["history"]] == ["firing", "resolved"]
        assert d3["feedback"][0]["trusted"] is False and d3["alert"]["verdict"] is None

        # --- headers, health
        r = await client.get("/api/overview")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
        h = await (await client.get("/healthz")).json()
        assert h["ok"] and h["kafka"] and h["positions"] >= 3
        r = await client.get("/static/map/city.json")
        assert r.status == 200 and len((await r.json())["features"]) == 16

        # --- the stream delivers a newly produced alert
        sse = await client.get("/api/stream")
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        a4 = alert("a4", "blue", street="110105002", name="朝外街道")
        await to_kafka(bs, t.alerts, [a4], ["110105002"])
        got = await read_sse(sse, "alert", "a4")
        assert got["level"] == "blue" and got["status"] == "firing" and got["signal_zh"]

        # --- actions: 401 / 403 / CSRF / 200
        fb = {"action": "false_alarm", "note": "现场核实无聚集"}
        assert (await client.post("/api/alerts/a1/feedback", json=fb)).status == 401
        # a proxy header from an untrusted peer is ignored
        spoof = {"X-Forwarded-User": "admin", "X-Forwarded-Role": "operator"}
        assert (await (await client.get("/api/me", headers=spoof)).json())["user"] is None
        assert (await client.post("/api/alerts/a1/feedback", json=fb, headers=spoof)).status == 401
        r = await client.post("/login", json={"username": "op1", "password": "wrong"})
        assert r.status == 401 and "warning_session" not in r.cookies
        r = await client.post("/login", json={"username": "nobody", "password": "wrong"})
        assert r.status == 401
        r = await client.post("/login", data={"username": "op1", "password": "wrong", "next": "/inbox"},
                              allow_redirects=False)  # a plain form: back to the form with the error
        assert r.status == 303 and r.headers["Location"] in ("/login?error=1&next=%2Finbox", "/login?error=1&next=/inbox")
        r = await client.post("/login", json={"username": "viewer1", "password": PASSWORDS["viewer1"]})
        assert r.status == 200 and (await r.json())["role"] == "viewer"
        csrf = (await (await client.get("/api/me")).json())["csrf"]
        assert (await client.post("/api/alerts/a1/feedback", json=fb, headers={"X-CSRF-Token": csrf})).status == 403
        client.session.cookie_jar.clear()
        r = await client.post("/login", data={"username": "op1", "password": PASSWORDS["op1"], "next": "/inbox"},
                              allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/inbox"
        cookie = r.cookies["warning_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        me = await (await client.get("/api/me")).json()
        assert me["user"] == "op1" and me["role"] == "operator" and me["display_name"] == "值班员甲" and me["csrf"]
        assert (await client.post("/api/alerts/a1/feedback", json=fb)).status == 403  # no CSRF token
        hdr = {"X-CSRF-Token": me["csrf"]}
        assert (await client.post("/api/alerts/a1/feedback", json={"action": "like"}, headers=hdr)).status == 400
        assert (await client.post("/api/alerts/a1/feedback", json={"action": "silence"}, headers=hdr)).status == 400
        assert (await client.post("/api/alerts/nope/feedback", json=fb, headers=hdr)).status == 404
        r = await client.post("/api/alerts/a1/feedback", json=fb, headers=hdr)
        assert r.status == 200, await r.text()
        rec = (await r.json())["record"]
        assert rec["by"] == "值班员甲" and rec["source"] == "dashboard" and rec["street_code"] == "110105001" \
            and rec["signal"] == "hotline_volume" and "sig" not in rec

        written = await asyncio.to_thread(consume_all, bs, t.alerts_feedback, 3, 20)
        mine = [x.json() for x in written if x.json().get("alert_id") == "a1"]
        assert len(mine) == 1 and written[-1].key is not None
        assert verify(mine[0], settings.alerts_feedback, None, PURPOSE, source_field=SOURCE_FIELD).ok
        assert mine[0]["action"] == "false_alarm" and mine[0]["note"] == "现场核实无聚集"

        # --- consumed back: the stream, precision and /metrics change
        got = await read_sse(sse, "feedback", "a1")
        assert got["action"] == "false_alarm" and "note" not in got
        sse.close()

        async def precision_changed():
            d = await (await client.get("/api/precision")).json()
            row = [x for x in d["by_signal"] if x["signal"] == "hotline_volume"]
            return d if row and row[0]["false_alarm"] == 1 else None

        d = await wait_for(precision_changed)
        row = next(x for x in d["by_signal"] if x["signal"] == "hotline_volume")
        assert row["precision"] == 0.0 and row["signal_zh"]
        assert any(x["district"] == "海淀区" and x["precision"] == 1.0 for x in d["by_district"])
        text = await (await client.get("/metrics")).text()
        assert 'warning_alert_precision{district="",signal="hotline_volume"} 0.0' in text
        assert 'warning_alert_precision{district="朝阳区",signal="hotline_volume"} 0.0' in text
        assert 'warning_alert_precision{district="海淀区",signal="petition_volume"} 1.0' in text
        assert 'warning_alert_verdicts{district="",signal="hotline_volume",verdict="false_alarm"} 1.0' in text
        assert 'warning_dashboard_alerts_active{level="red"} 1.0' in text
        d = await (await client.get("/api/alerts/a1")).json()
        assert d["alert"]["verdict"] == "false_alarm" and d["feedback"][-1]["note"] == "现场核实无聚集"
        client.session.cookie_jar.clear()
        d = await (await client.get("/api/alerts/a1")).json()  # anonymous: no notes
        assert d["feedback"][-1]["note"] is None and d["feedback"][-1]["by"] == "值班员甲"
        assert "现场核实" not in text
    finally:
        await client.close()
        store.close()
        await runner.cleanup()


async def test_dashboard_action_roundtrip(broker, tmp_path):
    """Short round trip on every broker kind: alert in, operator marks it, the verdict comes back."""
    settings = setup_settings(tmp_path, broker.url)
    t = settings.topics
    await to_kafka(broker.bootstrap, t.alerts, [alert("b1", "orange")], ["110105001"])
    store = HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    client = TestClient(TestServer(make_app(settings, store, health=False)))
    await client.start_server()
    try:
        async def listed():
            d = await (await client.get("/api/alerts")).json()
            return d if d["total"] == 1 else None

        await wait_for(listed, 20)
        r = await client.post("/login", json={"username": "op1", "password": PASSWORDS["op1"]})
        csrf = (await r.json())["csrf"]
        r = await client.post("/api/alerts/b1/feedback", json={"action": "silence", "silence_hours": 2},
                              headers={"X-CSRF-Token": csrf})
        assert r.status == 200, await r.text()

        async def silenced():
            d = await (await client.get("/api/alerts")).json()
            return d if d["items"][0]["silenced_until"] else None

        await wait_for(silenced, 20)
        r = await client.post("/api/alerts/b1/feedback", json={"action": "confirmed"}, headers={"X-CSRF-Token": csrf})
        assert r.status == 200

        async def confirmed():
            d = await (await client.get("/api/precision")).json()
            return d if d["by_signal"] and d["by_signal"][0]["confirmed"] == 1 else None

        await wait_for(confirmed, 20)

        # rebuilding the history from the topics (a fresh database) gives the same rows
        store2 = HistoryStore.open(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
        client2 = TestClient(TestServer(make_app(settings, store2, health=False)))
        await client2.start_server()
        try:
            async def caught_up():
                return store2.positions() == store.positions() or None

            await wait_for(caught_up, 20)
            assert store2.dump() == store.dump()
        finally:
            await client2.close()
            store2.close()
    finally:
        await client.close()
        store.close()


async def test_without_signing_key_actions_answer_503_and_trusted_proxy_signs_in(tmp_path):
    """No Kafka needed: a trusted proxy's header signs in; no key for sign_as → 503 (not a crash)."""
    settings = load_settings(None, env={"WARNING_DASHBOARD__PROXY_AUTH__HEADER": "X-Forwarded-User",
                                        "WARNING_DASHBOARD__PROXY_AUTH__ROLE_HEADER": "X-Forwarded-Role",
                                        "WARNING_WORKER__DATA_DIR": str(tmp_path)})
    from warning.dashboard.app import signing_warning

    assert "503" in signing_warning(settings)
    store = HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    from warning.history.store import Consumed

    store.apply([Consumed("alert", "x.alerts", 0, 0, alert("c1", "red"))])
    client = TestClient(TestServer(make_app(settings, store, kafka=False, health=False)))
    await client.start_server()
    try:
        hdr = {"X-Forwarded-User": "li", "X-Forwarded-Role": "operator"}
        me = await (await client.get("/api/me", headers=hdr)).json()
        assert me["user"] == "li" and me["role"] == "operator" and me["via"] == "proxy"
        r = await client.post("/api/alerts/c1/feedback", json={"action": "confirmed"},
                              headers={**hdr, "X-CSRF-Token": me["csrf"]})
        assert r.status == 503 and "error" in await r.json()
        r = await client.post("/api/alerts/c1/feedback", json={"action": "confirmed", "note": "a\x00b"},
                              headers={**hdr, "X-CSRF-Token": me["csrf"]})
        assert r.status == 400  # a NUL could not enter the history (PostgreSQL text)
        viewer = {"X-Forwarded-User": "wang"}  # no role header value: default_role viewer
        me = await (await client.get("/api/me", headers=viewer)).json()
        r = await client.post("/api/alerts/c1/feedback", json={"action": "confirmed"},
                              headers={**viewer, "X-CSRF-Token": me["csrf"]})
        assert r.status == 403
        for i in range(10):
            await client.post("/login", json={"username": "x", "password": f"bad{i}"})
        r = await client.post("/login", json={"username": "x", "password": "bad"})
        assert r.status == 429 and "Retry-After" in r.headers
    finally:
        await client.close()
        store.close()


async def test_login_redirects_only_to_local_paths(tmp_path):
    """``next`` after a form sign-in: a local path only. Tabs/newlines are dropped by URL parsers
    (yarl in aiohttp, browsers), so ``/\\t/evil.example`` must not become ``//evil.example``."""
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump({"dashboard": {"users": {"op1": {"password_hash": _hash("op1"), "role": "operator"}}}},
                                   allow_unicode=True), encoding="utf-8")
    settings = load_settings(path, env={"WARNING_WORKER__DATA_DIR": str(tmp_path)})
    store = HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    client = TestClient(TestServer(make_app(settings, store, kafka=False, health=False)))
    await client.start_server()
    try:
        for nxt, want in [("/inbox?level=red", "/inbox?level=red"), ("/\t/evil.example", "/"),
                          ("/\n/evil.example", "/"), ("//evil.example", "/"), ("/\\evil.example", "/"),
                          ("https://evil.example/", "/"), ("/ /x", "/")]:
            client.session.cookie_jar.clear()
            r = await client.post("/login", data={"username": "op1", "password": PASSWORDS["op1"], "next": nxt},
                                  allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == want, (nxt, r.headers.get("Location"))
        r = await client.post("/login", data={"username": "op1", "password": "wrong", "next": "/\t/evil.example"},
                              allow_redirects=False)
        assert r.status == 303 and "evil" not in r.headers["Location"]
        # login CSRF: a sign-in posted from another site's page is refused
        client.session.cookie_jar.clear()
        r = await client.post("/login", json={"username": "op1", "password": PASSWORDS["op1"]},
                              headers={"Origin": "https://evil.example"})
        assert r.status == 403 and not r.cookies.get("warning_session")
        origin = f"http://{client.host}:{client.port}"
        r = await client.post("/login", json={"username": "op1", "password": PASSWORDS["op1"]}, headers={"Origin": origin})
        assert r.status == 200
    finally:
        await client.close()
        store.close()
