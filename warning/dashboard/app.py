"""The ``warning dashboard`` web app: pages, JSON API, live stream, metrics (aiohttp).

:func:`make_app` builds the application from the settings and an open
:class:`~warning.history.store.HistoryStore`; the Kafka feed (:mod:`warning.dashboard.feed`) and
the worker-metrics scraper (:mod:`warning.dashboard.health`) start with it. Routes (the HTTP
contract is in the issue's shared spec):

* pages ``/``, ``/inbox``, ``/alerts/{id}``, ``/login`` (static HTML; their scripts fetch the API),
  ``/static/…``, ``/static/map/city.json`` (the configured map);
* ``POST /login``, ``POST /logout``, ``GET /api/me``;
* ``GET /api/overview``, ``/api/alerts``, ``/api/alerts/{id}``, ``/api/precision`` — readable
  without sign-in (the wall screen; everything shown is masked);
* ``POST /api/alerts/{id}/feedback`` — operators only, with the session's ``X-CSRF-Token``;
  signed and written to ``topics.alerts_feedback``, answered after the broker's ack;
* ``GET /api/stream`` — server-sent events ``alert``, ``feedback``, ``overview``;
* ``GET /metrics`` (Prometheus, the dashboard's own registry), ``GET /healthz``.

Feedback notes are free text typed by staff: they are shown to signed-in users only (left out of
the stream and of anonymous detail views) and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from typing import TYPE_CHECKING, Any, Mapping

import orjson
from aiohttp import web

from warning.core.alert_feedback import ACTIONS, MAX_NOTE_CHARS, MAX_SILENCE_HOURS, PURPOSE, SOURCE_FIELD, parse_feedback
from warning.core.signals import LEVEL_NAMES, LEVELS, level_rank, signal_zh
from warning.core.signed_records import sign_record
from warning.core.timeutil import BEIJING
from warning.dashboard.auth import Auth, User, json_error
from warning.dashboard.geo import STATIC_DIR, City, city_of
from warning.dashboard.hub import Hub

if TYPE_CHECKING:
    from warning.config import Settings
    from warning.dashboard.feed import Feed
    from warning.dashboard.health import Health

log = logging.getLogger(__name__)

PAGES = {"/": "overview.html", "/inbox": "inbox.html", "/login": "login.html"}
CSP = ("default-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}
RANKING_MAX = 50
BULK_EVENTS = 100  # a batch changing more alerts than this (catching up) sends one "overview" notice instead
PING_S = 15.0


class Dashboard:
    """The app's state (one per application)."""

    def __init__(self, settings: "Settings", store: Any, city: City, static_dir: Path) -> None:
        from prometheus_client import CollectorRegistry, Counter as PCounter, Gauge

        self.settings = settings
        self.store = store
        self.city = city
        self.static_dir = static_dir
        self.auth = Auth(settings.dashboard)
        self.hub = Hub()
        self.feed: Feed | None = None
        self.health: Health | None = None
        self._overview: tuple[float, dict[str, Any]] | None = None
        self._metrics_lock = threading.Lock()
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.m_precision = Gauge("warning_alert_precision", "预警准确率 Precision from trusted feedback: confirmed / "
                                 "(confirmed + false_alarm); signal=\"\" or district=\"\" means all",
                                 ["signal", "district"], registry=r)
        self.m_verdicts = Gauge("warning_alert_verdicts", "核实结果 Alerts by their verdict (latest trusted "
                                "confirmed/false_alarm); signal=\"\" or district=\"\" means all",
                                ["signal", "district", "verdict"], registry=r)
        self.m_active = Gauge("warning_dashboard_alerts_active", "当前活动预警数 Firing alerts in the history, by level",
                              ["level"], registry=r)
        self.m_clients = Gauge("warning_dashboard_stream_clients", "Open /api/stream connections", registry=r)
        self.m_kafka = Gauge("warning_dashboard_kafka_up", "1 while the dashboard's Kafka consumer fetches", registry=r)
        self.m_records = PCounter("warning_dashboard_records_applied", "Kafka records applied to the history "
                                  "database, by kind", ["kind"], registry=r)
        self.m_actions = PCounter("warning_dashboard_actions", "Actions written to the feedback topic, by action",
                                  ["action"], registry=r)
        self.m_dropped = Gauge("warning_dashboard_stream_dropped", "Stream clients dropped for being too slow "
                               "(since start)", registry=r)
        self.m_clients.set_function(lambda: len(self.hub))
        self.m_kafka.set_function(lambda: 1.0 if self.feed is not None and self.feed.connected else 0.0)
        self.m_dropped.set_function(lambda: self.hub.dropped_total)

    # ------------------------------------------------------------------ live updates
    def on_applied(self, applied: Any) -> None:
        if applied.alerts or applied.feedback:
            self._overview = None
        if len(applied.alerts) > BULK_EVENTS:
            self.hub.poke_overview()
        else:
            for row in applied.alerts:
                self.hub.publish("alert", decorate(row))
            for fb in applied.feedback:
                self.hub.publish("feedback", {k: v for k, v in fb.items() if k != "note"})
            if applied.alerts or applied.feedback:
                self.hub.poke_overview()
        self.m_records.labels("alert").inc(len(applied.alerts))
        self.m_records.labels("feedback").inc(len(applied.feedback))
        self.m_records.labels("event").inc(getattr(applied, "events", 0))

    # ------------------------------------------------------------------ overview
    def overview_data(self) -> dict[str, Any]:
        """Runs in a thread (store queries)."""
        active = self.store.active_alerts()
        levels = {lv: 0 for lv in LEVEL_NAMES}
        worst: dict[str, str] = {}
        per_district: Counter[str] = Counter()
        for a in active:
            levels[a["level"]] = levels.get(a["level"], 0) + 1
            d = a["district"]
            per_district[d] += 1
            if level_rank(a["level"]) > level_rank(worst.get(d, "none")):
                worst[d] = a["level"]
        names = list(self.city.districts) + sorted(d for d in per_district if d not in self.city.districts)
        districts = [{"name": d, "level": worst.get(d), "active": per_district.get(d, 0)} for d in names]
        ranking = sorted(active, key=lambda a: (-level_rank(a["level"]), -(a["score"] or 0.0)))[:RANKING_MAX]
        by_signal = [{**r, "signal_zh": signal_zh(r["signal"])} for r in self.store.precision(("signal",))]
        overall = self.store.precision(())
        return {
            "city": {"code": self.city.code, "name": self.city.name},
            "levels": levels,
            "districts": districts,
            "ranking": [decorate(a) for a in ranking],
            "precision": {"overall": overall[0] if overall else {"alerts": 0, "confirmed": 0, "false_alarm": 0,
                                                                 "precision": None},
                          "by_signal": by_signal},
        }

    async def overview(self) -> dict[str, Any]:
        cached = self._overview
        if cached is None or time.monotonic() - cached[0] > 1.0:
            data = await asyncio.to_thread(self.overview_data)
            self._overview = cached = (time.monotonic(), data)
        out = dict(cached[1])
        h = self.health
        out["feeds"] = h.feeds() if h is not None else []
        out["feeds_error"] = h.error if h is not None else "未启用 worker 指标抓取 feed health is off"
        out["generated_at"] = datetime.now(BEIJING).isoformat(timespec="seconds")
        return out

    # ------------------------------------------------------------------ metrics
    def metrics_text(self) -> bytes:
        """Refresh the gauges from the store and render (runs in a thread; one at a time)."""
        from prometheus_client import generate_latest

        with self._metrics_lock:
            groups: list[tuple[str, ...]] = [("signal", "district"), ("signal",), ("district",), ()]
            rows = [(by, self.store.precision(by)) for by in groups]
            active = self.store.active_alerts()
            self.m_precision.clear()
            self.m_verdicts.clear()
            for by, rs in rows:
                for r in rs:
                    sig, dist = r.get("signal", "") or "", r.get("district", "") or ""
                    if "signal" in by and not sig or "district" in by and not dist:
                        continue  # a group without a name would read as "all"
                    if r["precision"] is not None:
                        self.m_precision.labels(sig, dist).set(r["precision"])
                    self.m_verdicts.labels(sig, dist, "confirmed").set(r["confirmed"])
                    self.m_verdicts.labels(sig, dist, "false_alarm").set(r["false_alarm"])
            counts = Counter(a["level"] for a in active)
            for lv in LEVEL_NAMES:
                self.m_active.labels(lv).set(counts.get(lv, 0))
            return generate_latest(self.registry)


STATE = web.AppKey("dashboard", Dashboard)


def decorate(row: Mapping[str, Any]) -> dict[str, Any]:
    """An AlertRow with ``signal_zh`` and ``level_zh``."""
    lv = LEVELS.get(row.get("level") or "")
    return {**row, "signal_zh": signal_zh(row.get("signal") or ""), "level_zh": lv.zh if lv else row.get("level")}


def jresp(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def parse_when(value: str | None, name: str) -> float | None:
    """Epoch seconds from ``1740790800``, ``2025-03-01T09:00:00+08:00``, ``2025-03-01T09:00`` or
    ``2025-03-01`` (times without offset are Beijing time); 400 otherwise.

    >>> parse_when("2025-03-01T09:00", "since") == parse_when("2025-03-01T09:00:00+08:00", "since") == 1740790800.0
    True
    >>> parse_when("2025-03-01", "since"), parse_when("", "x"), parse_when("1740790800", "x")
    (1740758400.0, None, 1740790800.0)
    """
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        x = float(v)
    except ValueError:
        pass
    else:
        if not math.isfinite(x):
            raise json_error(400, f"{name}: 需要有限的时间 expected a finite time")
        return x
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise json_error(400, f"{name}: 需要 ISO 时间或 epoch 秒 expected an ISO time or epoch seconds") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=BEIJING)
    return t.timestamp()


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise json_error(400, f"{name}: 需要整数 expected an integer") from None
    return max(lo, min(hi, n))


# ---------------------------------------------------------------------------------------- handlers


def _state(request: web.Request) -> Dashboard:
    return request.app[STATE]


def _page(name: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = _state(request).static_dir / name
        if not path.is_file():
            return web.Response(status=404, text=f"页面未构建 page not built: {name}")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
    return handler


async def alert_page(request: web.Request) -> web.StreamResponse:
    return await _page("alert.html")(request)


async def city_map(request: web.Request) -> web.StreamResponse:
    path = _state(request).city.map_path
    if path is None:
        raise json_error(404, "未配置城市地图 no map for this region (set dashboard.map)")
    return web.FileResponse(path, headers={"Content-Type": "application/json", "Cache-Control": "public, max-age=3600"})


async def _credentials(request: web.Request) -> tuple[dict[str, Any], bool]:
    """(fields, is_json) of a login form or JSON body."""
    if request.content_type == "application/json":
        try:
            data = await request.json(loads=orjson.loads)
        except (ValueError, orjson.JSONDecodeError):
            raise json_error(400, "请求体不是 JSON bad JSON") from None
        if not isinstance(data, dict):
            raise json_error(400, "请求体必须是 JSON 对象 expected a JSON object")
        return data, True
    form = await request.post()
    return {k: form.get(k) for k in ("username", "password", "next")}, False


def _safe_next(value: Any) -> str:
    """Only a local path (no scheme, no ``//host``) may be a redirect target. Control characters
    and whitespace are refused: URL parsers (browsers, and yarl when aiohttp sets ``Location``)
    drop tabs and newlines, so ``/\\t/evil.example`` would become ``//evil.example``.

    >>> _safe_next("/inbox?x=1"), _safe_next("//evil.example"), _safe_next("/\\t/evil.example")
    ('/inbox?x=1', '/', '/')
    >>> _safe_next("/\\n/evil.example"), _safe_next("/\\\\evil.example"), _safe_next("https://evil.example/")
    ('/', '/', '/')
    """
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or len(value) >= 500 or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    from yarl import URL

    try:
        u = URL(value)
    except ValueError:
        return "/"
    if u.is_absolute() or u.scheme or not str(u).startswith("/") or str(u).startswith("//"):
        return "/"
    return value


def _same_origin(request: web.Request) -> bool:
    """A browser's cross-site POST carries the other site's ``Origin``: refuse it (login CSRF).
    Requests without ``Origin`` (curl, scripts, old browsers on same-origin form posts) pass."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin == f"{request.scheme}://{request.host}" or (
        origin != "null" and origin.split("://", 1)[-1] == request.host)


async def login(request: web.Request) -> web.StreamResponse:
    st = _state(request)
    if not _same_origin(request):
        raise json_error(403, "跨站登录请求被拒绝 cross-site sign-in refused")
    data, is_json = await _credentials(request)
    user, password = data.get("username"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user or len(user) > 200 or len(password) > 1024:
        raise json_error(400, "需要用户名和密码 username and password are required")
    try:
        issued = await st.auth.login(request, user, password)
    except web.HTTPTooManyRequests:
        if is_json:
            raise
        issued, failed = None, "rate"
    else:
        failed = "1"
    if issued is None:
        if is_json:
            raise json_error(401, "用户名或密码错误 wrong user name or password")
        # a plain form post (no JavaScript): back to the form, which shows the error
        raise web.HTTPSeeOther(f"/login?{urlencode({'error': failed, 'next': _safe_next(data.get('next'))})}")
    token, csrf = issued
    acct = st.settings.dashboard.users[user]
    log.info("dashboard sign-in (%s)", acct.role)
    if is_json:
        resp = jresp({"user": user, "role": acct.role, "display_name": acct.display_name or user, "csrf": csrf})
        st.auth.set_cookie(resp, token)
        return resp
    redirect = web.HTTPFound(_safe_next(data.get("next")))
    st.auth.set_cookie(redirect, token)
    raise redirect


async def logout(request: web.Request) -> web.StreamResponse:
    st = _state(request)
    if request.content_type == "application/json" or "application/json" in request.headers.get("Accept", ""):
        resp = jresp({"ok": True})
        st.auth.clear_cookie(resp)
        return resp
    redirect = web.HTTPFound("/login")
    st.auth.clear_cookie(redirect)
    raise redirect


async def me(request: web.Request) -> web.Response:
    st = _state(request)
    u = st.auth.user_of(request)
    return jresp({"user": u.name if u else None, "role": u.role if u else None,
                  "display_name": u.display_name if u else None, "csrf": u.csrf if u else None,
                  "via": u.via if u else None, "actions_enabled": _signing_key(st) is not None})


async def overview(request: web.Request) -> web.Response:
    return jresp(await _state(request).overview())


async def alerts(request: web.Request) -> web.Response:
    from warning.history.store import AlertQuery

    st = _state(request)
    q = request.query
    level = q.get("level") or None
    if level is not None and level not in LEVELS:
        raise json_error(400, f"level: 可选 {', '.join(LEVEL_NAMES)}")
    query = AlertQuery(district=q.get("district") or None, level=level, signal=q.get("signal") or None,
                       status=q.get("status") or None, verdict=q.get("verdict") or None,
                       street_code=q.get("street") or None,
                       since=parse_when(q.get("since"), "since"), until=parse_when(q.get("until"), "until"),
                       limit=_int(q.get("limit"), "limit", 100, 0, 1000), offset=_int(q.get("offset"), "offset", 0, 0, 10**9))
    try:
        total, rows = await asyncio.to_thread(st.store.query_alerts, query)
    except ValueError as e:
        raise json_error(400, str(e)) from None
    return jresp({"total": total, "items": [decorate(r) for r in rows]})


async def alert_detail(request: web.Request) -> web.Response:
    from warning.dashboard.series import alert_series

    st = _state(request)
    alert_id = request.match_info["alert_id"]
    signed_in = st.auth.user_of(request) is not None

    def load() -> dict[str, Any] | None:
        d = st.store.get_alert(alert_id)
        if d is None:
            return None
        d["series"] = alert_series(st.store, d, st.settings.dashboard.series_days, time.time())
        return d

    d = await asyncio.to_thread(load)
    if d is None:
        raise json_error(404, "未找到该预警 unknown alert")
    d["alert"] = decorate(d["alert"])
    if not signed_in:  # notes are free text typed by staff: for signed-in users only
        d["feedback"] = [{**f, "note": None} for f in d.get("feedback", [])]
    return jresp(d)


async def precision(request: web.Request) -> web.Response:
    st = _state(request)

    def load() -> dict[str, Any]:
        s = st.store
        zh = lambda rows: [{**r, "signal_zh": signal_zh(r["signal"])} for r in rows]  # noqa: E731
        return {"by_signal": zh(s.precision(("signal",))), "by_district": s.precision(("district",)),
                "by_signal_district": zh(s.precision(("signal", "district"))), "overall": (s.precision(()) or [None])[0]}

    return jresp(await asyncio.to_thread(load))


def _signing_key(st: Dashboard) -> bytes | None:
    src = st.settings.alerts_feedback.sources.get(st.settings.dashboard.sign_as)
    return src.key() if src is not None else None


async def feedback(request: web.Request) -> web.Response:
    st = _state(request)
    user: User = st.auth.require(request, "operator")
    try:
        body = await request.json(loads=orjson.loads)
    except (ValueError, orjson.JSONDecodeError):
        raise json_error(400, "请求体不是 JSON bad JSON") from None
    if not isinstance(body, dict):
        raise json_error(400, "请求体必须是 JSON 对象 expected a JSON object")
    action = body.get("action")
    if action not in ACTIONS:
        raise json_error(400, f"action: 可选 {', '.join(ACTIONS)}")
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
            raise json_error(400, f"note: 最多 {MAX_NOTE_CHARS} 字 at most {MAX_NOTE_CHARS} characters")
        if "\x00" in note:
            raise json_error(400, "note: 不能含 NUL 字符 must not contain NUL")
        note = note.strip() or None
    hours = body.get("silence_hours")
    if action == "silence":
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= MAX_SILENCE_HOURS:
            raise json_error(400, f"silence_hours: 静默需 0 < 小时数 ≤ {MAX_SILENCE_HOURS:g}")
    alert_id = request.match_info["alert_id"]
    detail = await asyncio.to_thread(st.store.get_alert, alert_id)
    if detail is None:
        raise json_error(404, "未找到该预警 unknown alert")
    key = _signing_key(st)
    if key is None:
        raise json_error(503, f"未配置签名密钥，无法提交 no key for alerts_feedback.sources.{st.settings.dashboard.sign_as}")
    if st.feed is None:
        raise json_error(503, "未连接 Kafka no Kafka connection")
    a = detail["alert"]
    rec: dict[str, Any] = {"alert_id": alert_id, "action": action, "by": user.by,
                           "street_code": a["street_code"], "signal": a["signal"],
                           SOURCE_FIELD: st.settings.dashboard.sign_as}
    if note:
        rec["note"] = note
    if action == "silence":
        rec["silence_hours"] = float(hours)
    signed = sign_record(rec, key, time.time(), PURPOSE, source_field=SOURCE_FIELD)
    try:
        parse_feedback(signed)
    except ValueError as e:
        raise json_error(400, str(e)) from None
    try:
        md = await st.feed.send(signed, key=a["street_code"] or alert_id)
    except asyncio.TimeoutError:
        raise json_error(504, "Kafka 写入超时，请重试 the broker did not acknowledge in time; retry") from None
    except Exception as e:
        log.warning("dashboard: writing an action failed (%s)", type(e).__name__)
        raise json_error(503, "Kafka 写入失败，请重试 could not write to Kafka; retry") from None
    st.m_actions.labels(action).inc()
    log.info("dashboard action %s on alert %s written to %s[%s]@%s", action, alert_id, md.topic, md.partition, md.offset)
    return jresp({"ok": True, "record": {k: v for k, v in signed.items() if k != "sig"},
                  "partition": md.partition, "offset": md.offset})


async def stream(request: web.Request) -> web.StreamResponse:
    st = _state(request)
    try:
        sub = st.hub.subscribe()
    except OverflowError:
        raise json_error(503, "实时连接过多 too many stream clients") from None
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                       "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    try:
        await resp.prepare(request)
        await resp.write(b"retry: 3000\n: connected\n\n")
        while True:
            try:
                async with asyncio.timeout(PING_S):
                    frame = await sub.queue.get()
            except TimeoutError:
                await resp.write(b": ping\n\n")
                continue
            if frame is None:  # dropped (too slow) or shutting down: the page reconnects
                break
            await resp.write(frame)
    except ConnectionResetError:
        pass
    finally:
        st.hub.unsubscribe(sub)
    return resp


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    body = await asyncio.to_thread(_state(request).metrics_text)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    st = _state(request)
    return jresp({"ok": True, "kafka": bool(st.feed is not None and st.feed.connected),
                  "positions": st.feed.positions if st.feed is not None else 0})


# ---------------------------------------------------------------------------------------- app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as e:
        log.error("dashboard: %s %s failed: %s", request.method, request.path, type(e).__name__)
        log.debug("traceback", exc_info=True)
        return jresp({"error": "内部错误 internal error"}, status=500)


def make_app(settings: "Settings", store: Any, kafka: "bool | Feed" = True, *, health: "bool | Health" = True,
             health_interval_s: float = 5.0, static_dir: Path | None = None) -> web.Application:
    """The dashboard application. ``kafka``: True (consume and produce with the settings' broker),
    False (no Kafka: read-only over the store, actions answer 503) or a ready
    :class:`~warning.dashboard.feed.Feed`. ``health``: scrape ``dashboard.worker_metrics`` (or a
    :class:`~warning.dashboard.health.Health`)."""
    from warning.core.signals import feed_signals

    for f in settings.feeds.values():  # Chinese names of configured feeds' signals
        feed_signals(f.name, f.name_zh, f.group, f.volume_signal, f.theme_signal)
    city = city_of(settings.region.code, settings.dashboard.map)
    st = Dashboard(settings, store, city, static_dir or STATIC_DIR)
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app[STATE] = st

    async def on_startup(app: web.Application) -> None:
        if kafka is True:
            from warning.dashboard.feed import Feed

            st.feed = Feed(settings, store, on_applied=st.on_applied)
        elif kafka:
            st.feed = kafka  # type: ignore[assignment]
            st.feed.on_applied = st.on_applied
        if st.feed is not None:
            st.feed.start()
        if health is True:
            from warning.dashboard.health import Health

            st.health = Health(settings, interval_s=health_interval_s)
        elif health:
            st.health = health  # type: ignore[assignment]
        if st.health is not None:
            st.health.start()

    async def on_shutdown(app: web.Application) -> None:
        st.hub.close()  # ends the open streams, so shutdown does not wait for them

    async def on_cleanup(app: web.Application) -> None:
        if st.feed is not None:
            await st.feed.stop()
        if st.health is not None:
            await st.health.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.on_response_prepare.append(_security_headers)

    r = app.router
    for path, name in PAGES.items():
        r.add_get(path, _page(name))
    r.add_get("/alerts/{alert_id}", alert_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/api/me", me)
    r.add_get("/api/overview", overview)
    r.add_get("/api/alerts", alerts)
    r.add_get("/api/alerts/{alert_id}", alert_detail)
    r.add_post("/api/alerts/{alert_id}/feedback", feedback)
    r.add_get("/api/precision", precision)
    r.add_get("/api/stream", stream)
    r.add_get("/metrics", metrics)
    r.add_get("/healthz", healthz)
    r.add_get("/static/map/city.json", city_map)
    r.add_static("/static/", st.static_dir, follow_symlinks=False, show_index=False)
    return app


def signing_warning(settings: "Settings") -> str | None:
    """A start-up warning when actions cannot be signed (they will answer 503), else None."""
    d = settings.dashboard
    if d.sign_as in settings.alerts_feedback.sources:
        return None
    return (f"警告：alerts_feedback.sources 中没有 {d.sign_as!r} 的密钥，确认/误报/静默等操作将返回 503。\n"
            f"Warning: no key for alerts_feedback.sources.{d.sign_as} (dashboard.sign_as): actions will answer 503. "
            f"Set e.g. WARNING_ALERTS_FEEDBACK__SOURCES__{d.sign_as.upper()}__SECRET_ENV=<variable holding the secret>.")


def url_of(host: str, port: int) -> str:
    """``http://host:port/`` (IPv6 in brackets; a wildcard address shown as 127.0.0.1).

    >>> url_of("0.0.0.0", 8080), url_of("::1", 80)
    ('http://127.0.0.1:8080/', 'http://[::1]:80/')
    """
    h = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in h:
        h = f"[{h}]"
    return f"http://{h}:{port}/"


__all__ = ["make_app", "Dashboard", "STATE", "decorate", "signing_warning", "url_of"]
