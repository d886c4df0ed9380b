"""Dispatcher against real HTTP servers on 127.0.0.1: outage and recovery (at least once,
deduplicable), isolation of a slow receiver, robot rate limit folded into digests, permanent
failures and give-ups reported for the dead-letter topic."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from aiohttp import web

from warning.core.events import Alert
from warning.notify.dispatch import Dispatcher, RetryPolicy
from warning.notify.kinds.generic import verify_signature
from warning.notify.render import as_alert
from warning.notify.router import Router
from warning.notify.testing import RecordingServer, wait_for

SECRET = "dispatch-test-secret"
FAST = RetryPolicy(base_s=0.02, cap_s=0.2, max_age_s=30)


def alert(i: int, level: str = "yellow", status: str = "firing", street: str | None = None) -> Alert:
    return as_alert({
        "alert_id": f"al-{i:04d}", "status": status, "level": level, "signal": "petition_volume",
        "street_code": f"110105{i % 1000:03d}", "street_name": street or f"测试{i:02d}街道", "district": "朝阳区",
        "window_start": "2025-03-01T08:00:00+08:00", "window_end": "2025-03-01T09:00:00+08:00",
        "starts_at": "2025-03-01T08:30:00+08:00", "observed": 10 + i, "expected": 3.0, "score": 0.95,
        "summary_zh": f"第 {i} 条测试预警", "evidence": {}, "sample_texts": [],
    })


def router_for(*receivers: dict, routes: list | None = None) -> Router:
    return Router.from_config(list(receivers), routes or [], env={"T_SECRET": SECRET})


@pytest.mark.timed
async def test_outage_then_recovery_every_alert_delivered_at_least_once():
    """503s, then the port closed, then back — with a phase where the receiver processes a request
    but the answer is lost (500 after recording). Every alert arrives; the only duplicates are
    those at-least-once allows, and they collapse on Idempotency-Key."""
    phase = {"mode": "503"}
    processed: list = []  # requests the receiver really acted upon
    lost_ack: set[str] = set()

    def respond(req):
        if phase["mode"] == "503":
            return web.Response(status=503, text="维护中")
        key = req.headers["Idempotency-Key"]
        assert verify_signature(SECRET, req.headers["X-Warning-Timestamp"], req.body, req.headers["X-Warning-Signature"])
        processed.append(req)
        if len(lost_ack) < 3 and key not in lost_ack:
            lost_ack.add(key)  # processed, but the answer never makes it back as a 2xx
            return web.Response(status=500)
        return web.Response(status=200)

    srv = RecordingServer(respond)
    await srv.start()
    r = router_for({"name": "ops", "kind": "generic", "url": srv.url, "secret_env": "T_SECRET"})
    attempts: list = []
    done: list = []
    d = Dispatcher(r, retry=FAST, on_attempt=lambda rc, res, s, n: attempts.append(res),
                   on_done=lambda al, rc, o: done.append((al.alert_id, al.status, o)))
    async with d:
        alerts = [alert(i) for i in range(15)] + [alert(i, status="resolved") for i in range(5)]
        deliveries = [d.submit(x) for x in alerts]
        await asyncio.sleep(0.4)
        await srv.stop()  # down: connection refused
        await asyncio.sleep(0.4)
        phase["mode"] = "up"
        await srv.start()  # back on the same port
        assert await d.drain(timeout=15)
    await srv.stop()

    assert all(dl.done() and dl.ok for dl in deliveries)
    assert len(done) == 20 and all(o.status == "ok" for _, _, o in done)
    expected = {f"{x['alert_id']}:{x['status']}" for x in alerts}
    keys = [q.headers["Idempotency-Key"] for q in processed]
    assert set(keys) == expected  # nothing lost
    dups = Counter(keys) - Counter(set(keys))
    assert set(dups) == lost_ack and all(n == 1 for n in dups.values())  # only the lost acks repeat
    by_key: dict = {}
    for q in processed:  # duplicates are byte-identical bodies → trivially deduplicable
        by_key.setdefault(q.headers["Idempotency-Key"], set()).add(q.body)
    assert all(len(bodies) == 1 for bodies in by_key.values())
    errors = " ".join(res.describe() for res in attempts if not res.ok)
    assert "HTTP 503" in errors and "connection failed" in errors and "HTTP 500" in errors
    assert d.stats.outcomes[("ops", "ok")] == 20 and d.stats.attempts[("ops", "retry")] >= 4


@pytest.mark.timed
async def test_slow_receiver_does_not_delay_others():
    async def slow(_req):
        await asyncio.sleep(2.5)  # well above the fast receiver's bound (1 s) below
        return web.Response(status=200)

    async with RecordingServer(slow) as slow_srv, RecordingServer() as fast_srv:
        r = router_for({"name": "slow", "kind": "generic", "url": slow_srv.url, "timeout_s": 30},
                       {"name": "fast", "kind": "generic", "url": fast_srv.url})
        done: dict[str, list[float]] = {"slow": [], "fast": []}
        t0 = time.monotonic()
        async with Dispatcher(r, retry=FAST, on_done=lambda a, rc, o: done[rc].append(time.monotonic() - t0)) as d:
            deliveries = [d.submit(alert(i)) for i in range(5)]
            assert time.monotonic() - t0 < 0.1  # submit never blocks
            assert await wait_for(lambda: len(done["fast"]) == 5, timeout=2.0)
            assert max(done["fast"]) < 1.0 and done["slow"] == []
            assert len(fast_srv.requests) == 5 and d.pending("slow") == 5
            # the slow one still gets there, in its own time
            assert await wait_for(lambda: len(done["slow"]) >= 1, timeout=6.0)
            assert done["slow"][0] >= 2.3
            assert not deliveries[-1].done()  # complete only when every receiver is done
        # closed before the slow receiver finished: those deliveries are not complete (not committed)
        assert not deliveries[-1].done()
        with pytest.raises(asyncio.CancelledError):
            await deliveries[-1]


@pytest.mark.timed
async def test_robot_rate_limit_folds_overflow_into_one_digest():
    async with RecordingServer() as srv:
        r = router_for({"name": "wx", "kind": "wecom", "url": srv.url + "?key=k", "rate_limit_window_s": 1.5})
        done = []
        async with Dispatcher(r, retry=FAST, on_done=lambda a, rc, o: done.append((a, o))) as d:
            levels = ["red"] * 3 + ["orange"] * 7 + ["yellow"] * 10 + ["blue"] * 10
            burst = [alert(i, level=lv) for i, lv in enumerate(levels)]  # 30 alerts at once
            for x in burst:
                d.submit(x)
            assert await d.drain(timeout=5)
            first = list(srv.requests)
            # more arrive while no token is left → they wait until the window gives tokens back
            late = [alert(100 + i, level="blue") for i in range(4)]
            for x in late:
                d.submit(x)
            await asyncio.sleep(0.3)
            assert len(srv.requests) == len(first)  # nothing sent beyond the limit
            assert await d.drain(timeout=5)

    assert len(first) == 20  # ≤ 20 messages for 30 alerts
    contents = [q.json["markdown"]["content"] for q in first]
    for x in burst:  # every alert is mentioned, individually or in the digest
        assert any(x.street_name in c for c in contents), x.street_name
    digests = [c for c in contents if "另有" in c]
    assert len(digests) == 1 and "另有 11 条预警" in digests[0]
    singles = [c for c in contents if "另有" not in c]
    assert sum("红色预警" in c for c in singles) == 3 and sum("橙色预警" in c for c in singles) == 7  # most severe alone
    assert all(len(c.encode()) <= 4096 for c in contents)
    later = srv.requests[len(first):]
    # sent as tokens come back: one by one, or folded when only one token was back yet
    assert 1 <= len(later) <= 4
    assert all(any(x.street_name in q.json["markdown"]["content"] for q in later) for x in late)
    assert min(q.at for q in later) - min(q.at for q in first) >= 1.4
    times = sorted(q.at for q in srv.requests)
    assert all(sum(1 for t in times if t0 <= t < t0 + 1.4) <= 20 for t0 in times)  # never > 20 per window
    assert len(done) == 34 and all(o.ok for _, o in done)
    assert sum(o.digest for a, o in done if int(a.alert_id[3:]) < 100) == 11


async def test_permanent_failure_is_reported_once_with_response():
    async with RecordingServer(lambda r: web.json_response({"error": "字段 level 非法"}, status=422)) as bad, RecordingServer() as good:
        r = router_for({"name": "bad", "kind": "generic", "url": bad.url}, {"name": "good", "kind": "generic", "url": good.url})
        async with Dispatcher(r, retry=FAST) as d:
            dl = d.submit(alert(1))
            await asyncio.wait_for(dl, 5)
    assert not dl.ok and dl.outcomes["good"].ok
    (f,) = dl.failures()
    assert f.receiver == "bad" and f.status == "permanent" and f.attempts == 1
    assert f.result.http_status == 422 and "level" in f.result.body
    assert f.to_dict()["result"]["http_status"] == 422
    assert len(bad.requests) == 1  # never retried


async def test_gives_up_after_max_attempts_and_reports_expired():
    async with RecordingServer(lambda r: web.Response(status=502)) as srv:
        r = router_for({"name": "down", "kind": "generic", "url": srv.url})
        async with Dispatcher(r, retry=RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=4)) as d:
            dl = d.submit(alert(1))
            await asyncio.wait_for(dl, 5)
    (f,) = dl.failures()
    assert f.status == "expired" and f.attempts == 4 and f.result.http_status == 502
    assert len(srv.requests) == 4


async def test_send_resolved_false_and_unrouted():
    async with RecordingServer() as srv:
        r = router_for({"name": "wx", "kind": "wecom", "url": srv.url, "send_resolved": False},
                       routes=[{"match": {"min_level": "orange"}, "receivers": ["wx"]}])
        async with Dispatcher(r, retry=FAST) as d:
            resolved = d.submit(alert(1, level="red", status="resolved"))
            low = d.submit(alert(2, level="blue"))
            fired = d.submit(alert(3, level="red"))
            assert resolved.done() and resolved.receivers == () and low.done() and low.receivers == ()
            await asyncio.wait_for(fired, 5)
    assert fired.ok and len(srv.requests) == 1
    assert d.stats.unrouted == 1 and d.stats.submitted == 3


async def test_queue_bound_reports_overflow_instead_of_growing():
    srv = RecordingServer()
    await srv.start()
    url = srv.url
    await srv.stop()  # receiver down: alerts pile up
    r = router_for({"name": "down", "kind": "generic", "url": url})
    got = []
    async with Dispatcher(r, retry=FAST, max_pending=3, on_done=lambda a, rc, o: got.append(o.status)) as d:
        ds = [d.submit(alert(i)) for i in range(5)]
        assert await wait_for(lambda: len(got) == 2, timeout=2)
        assert got == ["overflow", "overflow"] and d.pending("down") == 3
    assert [x.done() for x in ds] == [False, False, False, True, True]


async def test_sink_prints_chinese_and_deduplicates(capsys):
    from warning.notify.sink import SINK_STATS, start_sink

    runner, url = await start_sink("127.0.0.1", 0, secret=SECRET)
    try:
        r = router_for({"name": "sink", "kind": "generic", "url": url, "secret_env": "T_SECRET"},
                       {"name": "sink-am", "kind": "alertmanager", "url": url + "am"},
                       {"name": "sink-dt", "kind": "dingtalk", "url": url + "dt"})
        async with Dispatcher(r, retry=FAST) as d:
            a1 = alert(1, level="orange", street="建外街道")
            d.submit(a1)
            d.submit(a1)  # a redelivery
            d.submit(alert(1, level="orange", status="resolved", street="建外街道"))
            assert await d.drain(timeout=5)
        stats = runner.app[SINK_STATS]
        assert stats.alerts == 2 and stats.duplicates == 1 and stats.rejected == 0
        assert stats.keys == ["al-0001:firing", "al-0001:resolved"]
        out = capsys.readouterr().out
        assert "【橙色预警（II级）】朝阳区 建外街道" in out and "【已解除】" in out
        assert "Alertmanager v4" in out and "[dingtalk]" in out
    finally:
        await runner.cleanup()


async def test_notifications_of_one_alert_keep_their_order_through_retries():
    calls = {"n": 0}

    def respond(req):
        calls["n"] += 1
        return web.Response(status=503 if calls["n"] <= 3 else 200)

    async with RecordingServer(respond) as srv:
        r = router_for({"name": "ops", "kind": "generic", "url": srv.url})
        async with Dispatcher(r, retry=FAST) as d:
            d.submit(alert(1, level="yellow"))
            d.submit(alert(1, level="orange"))  # escalation of the same episode
            d.submit(alert(1, status="resolved"))
            d.submit(alert(2))
            assert await d.drain(timeout=10)
    delivered = [(q.json["alert_id"], q.json["status"], q.json["level"]) for q in srv.requests[3:]]
    ones = [x for x in delivered if x[0] == "al-0001"]
    assert ones == [("al-0001", "firing", "yellow"), ("al-0001", "firing", "orange"), ("al-0001", "resolved", "yellow")]
    assert ("al-0002", "firing", "yellow") in delivered


async def test_sink_shows_escalation_with_same_idempotency_key():
    from warning.notify.sink import SINK_STATS, start_sink

    seen = []
    runner, url = await start_sink("127.0.0.1", 0, on_alert=seen.append)
    try:
        r = router_for({"name": "sink", "kind": "generic", "url": url})
        async with Dispatcher(r, retry=FAST) as d:
            d.submit(alert(1, level="yellow"))
            d.submit(alert(1, level="red"))
            assert await d.drain(timeout=5)
        assert [a["level"] for a in seen] == ["yellow", "red"]
        assert runner.app[SINK_STATS].duplicates == 0
    finally:
        await runner.cleanup()


async def test_async_hooks_commit_after_all_receivers():
    """The shape the stream worker uses: dead-letter failures in on_done (async), commit in
    on_complete once every receiver has an outcome."""
    deadletter, committed = [], []

    async def on_done(a, rc, outcome):
        await asyncio.sleep(0)
        if not outcome.ok:
            deadletter.append((a.alert_id, rc, outcome.to_dict()))

    async def on_complete(dl):
        assert len(dl.outcomes) == len(dl.receivers)
        committed.append(dl.alert.alert_id)

    async with RecordingServer() as ok_srv, RecordingServer(lambda r: web.Response(status=400, text="bad")) as bad_srv:
        r = router_for({"name": "ok", "kind": "generic", "url": ok_srv.url},
                       {"name": "bad", "kind": "alertmanager", "url": bad_srv.url})
        async with Dispatcher(r, retry=FAST, on_done=on_done, on_complete=on_complete) as d:
            for i in range(3):
                d.submit(alert(i))
            assert await d.drain(timeout=5)
    assert sorted(committed) == ["al-0000", "al-0001", "al-0002"]
    assert [x[1] for x in deadletter] == ["bad"] * 3
    assert deadletter[0][2]["result"]["http_status"] == 400 and deadletter[0][2]["result"]["body"] == "bad"
