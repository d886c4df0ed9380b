"""A local webhook sink: receives our webhooks and prints each alert as Chinese text.

Used by ``warning demo`` and the tests. It understands the three shapes we send — the generic alert
JSON, Alertmanager webhook v4 and WeCom/DingTalk robot markdown — and answers like a robot
(``{"errcode": 0, "errmsg": "ok"}``, HTTP 200) so any receiver kind can point at it.

A generic body must be the alert contract (:data:`~warning.core.events.ALERT_DECODER`), else it is
refused (400). Generic alerts are deduplicated on ``Idempotency-Key`` plus the body (at-least-once delivery may
repeat one; repeats are acknowledged and counted, not printed twice; an escalation keeps the key
but changes the body, so it is shown) and, when the sink is given the secret,
their ``X-Warning-Signature`` is verified (401 when wrong or stale).

Usage (async, not run as a doctest)::

    runner, url = await start_sink("127.0.0.1", 0, on_alert=print)   # port 0: any free port
    ... POST alerts to url ...
    await runner.cleanup()

"""

from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import msgspec
import orjson
from aiohttp import web

from warning.core.events import ALERT_DECODER
from warning.notify.kinds.common import IDEMPOTENCY_HEADER, idempotency_key
from warning.notify.kinds.generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from warning.notify.render import as_alert, render_plain


@dataclass
class SinkStats:
    received: int = 0  # requests
    alerts: int = 0  # distinct generic alert notifications (Idempotency-Key + body)
    duplicates: int = 0
    rejected: int = 0  # bad signature / bad JSON / not the alert contract
    keys: list[str] = field(default_factory=list)  # Idempotency-Keys of distinct notifications, in arrival order
    messages: list[dict] = field(default_factory=list)  # non-generic payloads as received (last 1000)


SINK_STATS = web.AppKey("sink_stats", SinkStats)

OnAlert = Callable[[dict], Any] | Callable[[dict], Awaitable[Any]]


def print_alert(alert: dict) -> None:
    """Default ``on_alert``: the alert (the JSON body as received) as Chinese text on stdout."""
    print("─" * 48, render_plain(as_alert(alert)), sep="\n", flush=True, file=sys.stdout)


def _print_message(kind: str, payload: dict) -> None:
    if kind == "alertmanager":
        for a in payload.get("alerts", []):
            desc = (a.get("annotations") or {}).get("description") or (a.get("annotations") or {}).get("summary", "")
            print("─" * 48, f"[Alertmanager v4 · {payload.get('receiver', '')}]", desc, sep="\n", flush=True)
    else:
        md = payload.get("markdown") or {}
        print("─" * 48, f"[{kind}]", md.get("content") or md.get("text") or "", sep="\n", flush=True)


async def _maybe_await(r: Any) -> None:
    if inspect.isawaitable(r):
        await r


def make_app(on_alert: OnAlert | None = None, *, secret: str | None = None, tolerance_s: float = 300.0,
             on_message: Callable[[str, dict], Any] | None = None) -> web.Application:
    on_alert = on_alert or print_alert
    on_message = on_message or _print_message
    stats = SinkStats()
    seen: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        stats.received += 1
        raw = await request.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            stats.rejected += 1
            return web.json_response({"errcode": 40001, "errmsg": "invalid json"}, status=400)
        if isinstance(data, dict) and "alert_id" in data:
            if secret is not None:
                ts = request.headers.get(TIMESTAMP_HEADER, "")
                sig = request.headers.get(SIGNATURE_HEADER, "")
                if not verify_signature(secret, ts, raw, sig, tolerance_s):
                    stats.rejected += 1
                    return web.json_response({"errcode": 40101, "errmsg": "bad signature"}, status=401)
            try:
                alert = ALERT_DECODER.decode(raw)
            except msgspec.ValidationError as e:
                stats.rejected += 1
                return web.json_response({"errcode": 40003, "errmsg": f"not the alert contract: {e}"}, status=400)
            # Same key and same body = a redelivery. (Same key, other body = an escalation of the
            # episode: alert_id and status unchanged, level raised — shown again.)
            key = request.headers.get(IDEMPOTENCY_HEADER) or idempotency_key(alert)
            fp = key + ":" + hashlib.sha256(raw).hexdigest()
            if fp in seen:
                stats.duplicates += 1
            else:
                seen.add(fp)
                stats.keys.append(key)
                stats.alerts += 1
                await _maybe_await(on_alert(data))
        elif isinstance(data, dict) and data.get("version") == "4" and isinstance(data.get("alerts"), list):
            stats.messages.append(data)
            await _maybe_await(on_message("alertmanager", data))
        elif isinstance(data, dict) and data.get("msgtype") == "markdown":
            stats.messages.append(data)
            await _maybe_await(on_message("dingtalk" if "at" in data or "title" in (data.get("markdown") or {}) else "wecom", data))
        else:
            stats.rejected += 1
            return web.json_response({"errcode": 40002, "errmsg": "unknown payload"}, status=400)
        del stats.messages[:-1000]
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def status(_request: web.Request) -> web.Response:
        return web.json_response({"received": stats.received, "alerts": stats.alerts, "duplicates": stats.duplicates, "rejected": stats.rejected})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[SINK_STATS] = stats
    app.router.add_post("/{tail:.*}", handle)
    app.router.add_get("/{tail:.*}", status)
    return app


async def start_sink(host: str = "127.0.0.1", port: int = 0, on_alert: OnAlert | None = None, *,
                     secret: str | None = None, on_message: Callable[[str, dict], Any] | None = None) -> tuple[web.AppRunner, str]:
    """Start the sink; returns ``(runner, url)``. ``port=0`` picks a free port (see the URL).
    Stop it with ``await runner.cleanup()``; its counters are ``runner.app[SINK_STATS]``."""
    app = make_app(on_alert, secret=secret, on_message=on_message)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    real_port = sockets[0].getsockname()[1] if sockets else port
    url_host = f"[{host}]" if ":" in host else host
    return runner, f"http://{url_host}:{real_port}/"
