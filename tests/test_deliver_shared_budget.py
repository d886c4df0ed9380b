"""A robot's rate limit holds across deliver workers (one shared budget), also when the worker
holding it is killed mid-window: three deliver-only workers in one group, a WeCom-kind receiver
limited to 5 messages per 10 s pointed at a local sink, plus a generic receiver without a limit
(the direct path). 50 alerts on 50 streets (all four partitions of ``warning.alerts``); once the
robot has its first window's 5 messages and every alert is handed on, the budget's holder is
killed with SIGKILL. The sink never sees more than 5 robot messages in any 10 s (the new holder
reads the spends back and waits); every alert reaches the robot (alone or in a digest) and the
generic receiver; an alert reaches the robot twice only if it was sent before the kill (at
least once, nothing more).

(The alerts are all handed on before the kill on purpose: whether the survivors take over the
killed worker's ``warning.alerts`` partitions is the failover test's subject, not this one's.)"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from typing import Callable

import msgspec
import orjson
import pytest

from kafka_helpers import produce
from warning.config import load_settings
from warning.core.events import ALERT_ENCODER, Alert
from warning.core.registry import Registry
from warning.notify.dispatch import Dispatcher, RetryPolicy
from warning.notify.router import Router
from warning.notify.sink import start_sink
from warning.notify.testing import RecordingServer, ok_response
from warning.streams.topics import ensure_topics
from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.timeout(180)]

LIMIT, WINDOW = 5, 10.0
PARTITIONS = 4
N = 50
#: the sink's arrival times jitter around the sender's spend times (HTTP on a loaded machine)
JITTER_S = 0.25
LEVELS = ("blue", "yellow", "orange", "red")
BASE = Alert(alert_id="-", status="firing", level="blue", signal="hotline_volume", street_code="-", street_name="-",
             district="朝阳区", window_start="2025-03-01T09:00:00+08:00", window_end="2025-03-01T10:00:00+08:00",
             starts_at="2025-03-01T09:12:00+08:00", observed=9.0, expected=2.0, score=6.5,
             summary_zh="【预警】朝阳区：诉求量激增。", evidence={}, sample_texts=[])
MARK = re.compile(r"预算街道(\d{2})")


def alerts(codes: list[str], start: int) -> list[Alert]:
    return [msgspec.structs.replace(BASE, alert_id=f"sb-{start + i:02d}", street_code=code,
                                    street_name=f"预算街道{start + i:02d}", level=LEVELS[(start + i) % 7 % 4])
            for i, code in enumerate(codes)]


async def poll(what: str, cond: Callable[[list[str]], bool], workers: list[Worker], timeout: float,
               fail: bool = True) -> list[str]:
    """Metrics of ``workers`` once ``cond(texts)`` holds; after ``timeout``, the test fails — or,
    with ``fail=False``, the last ones are returned (the caller's assertions say what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        texts = [await asyncio.to_thread(w.metrics) for w in workers]
        if cond(texts):
            return texts
        if time.monotonic() > deadline:
            if not fail:
                return texts
            pytest.fail(f"timed out waiting for {what}\n" + "\n---\n".join(w.log_tail(30) for w in workers))
        await asyncio.sleep(0.3)


def sent_ok(texts: list[str]) -> float:
    return sum(metric_value(t, "warning_notifications_total", receiver="robot", outcome="ok") for t in texts)


@pytest.mark.timed
async def test_dispatcher_serves_a_subset_restores_spends_and_records_around_each_message() -> None:
    """The pieces the budget owner uses: a dispatcher for some receivers only, alerts submitted to
    named receivers, spends of a previous owner counted, a spend recorded before each message and
    what it carried after it was accepted."""
    events: list = []

    def respond(req):
        events.append("http")
        return ok_response(req)

    async with RecordingServer(respond) as srv:
        r = Router.from_config([{"name": "wx", "kind": "wecom", "url": srv.url + "?key=k", "allow_inline_secret": True,
                                 "rate_limit_per_minute": 3, "rate_limit_window_s": 1.0},
                                {"name": "ops", "kind": "generic", "url": srv.url, "allow_unsigned": True}], [])
        with pytest.raises(ValueError):
            Dispatcher(r, receivers=["nope"])

        async def on_sent(name: str, sent: list[Alert]) -> None:
            events.append(("sent", name, len(sent)))

        async with Dispatcher(r, receivers=["wx"], retry=RetryPolicy(base_s=0.05, cap_s=0.1), on_sent=on_sent,
                              on_spend=lambda name: events.append(("spend", name))) as d:
            assert list(d.notifiers) == ["wx"]
            now = d.clock()
            assert d.restore_spent("wx", [now - 5.0, now - 0.5, now]) == 2  # one token left
            first = alerts(sorted(Registry.load("110000").streets)[:4], 0)
            dls = [d.submit(a, ["wx"]) for a in first]
            assert await d.drain(5) and all(dl.ok for dl in dls)
            assert events == [("spend", "wx"), "http", ("sent", "wx", 4)]  # one digest on the last token
            with pytest.raises(ValueError):
                d.submit(first[0], ["ops"])  # not served here
            late = d.submit(msgspec.structs.replace(first[0], level="red"))  # routed: only served receivers
            assert late.receivers == ("wx",)
            await late
            assert d.clock() - now >= 0.5  # waited for the restored spend of 0.5 s before `now` to expire
            assert events[3:] == [("spend", "wx"), "http", ("sent", "wx", 1)]


@pytest.mark.integration
async def test_robot_limit_holds_across_workers_and_a_takeover(broker, tmp_path) -> None:
    t_start = time.monotonic()
    robot: list[tuple[float, set[str]]] = []  # (arrival, alert numbers in the message)
    ops: list[str] = []

    def on_message(kind: str, payload: dict) -> None:
        robot.append((time.monotonic(), set(MARK.findall((payload.get("markdown") or {}).get("content", "")))))

    runner, url = await start_sink("127.0.0.1", 0, on_alert=lambda a: ops.append(a["alert_id"]), on_message=on_message)
    prefix = f"sb{int(time.time() * 1000) % 10**8}"
    receivers = [
        {"name": "robot", "kind": "wecom", "url_env": "SB_ROBOT_URL", "rate_limit_per_minute": LIMIT,
         "rate_limit_window_s": WINDOW},
        {"name": "ops", "kind": "generic", "url": url + "generic", "allow_unsigned": True},
    ]
    envs = [isolated_env(tmp_path / f"w{i}", broker.url, prefix=prefix, WARNING_WORKER__AGENTS='["deliver"]',
                         WARNING_WORKER__LOG_LEVEL="info", WARNING_KAFKA__PARTITIONS=str(PARTITIONS),
                         SB_ROBOT_URL=url + "cgi-bin/webhook/send?key=test", WARNING_RECEIVERS=orjson.dumps(receivers).decode())
            for i in range(3)]
    for i in range(3):
        (tmp_path / f"w{i}").mkdir()
    settings = load_settings(None, env=envs[0])
    ensure_topics(settings)
    batch = alerts(sorted(Registry.load("110000").streets)[:N], 0)

    def handed_on(texts: list[str]) -> float:
        return sum(metric_value(t, "warning_notifications_handed_on_total", receiver="robot") for t in texts)

    try:
        with contextlib.ExitStack() as stack:
            workers = [stack.enter_context(Worker(env, tmp_path / f"w{i}.log", kill_on_exit=True)) for i, env in enumerate(envs)]

            def owned(text: str) -> float:
                return metric_value(text, "warning_notification_budget_partitions")

            # every worker in the budget group, each budget partition owned once
            await poll("the budget group to settle", lambda ts: all(owned(t) >= 1 for t in ts)
                       and sum(owned(t) for t in ts) == PARTITIONS, workers, 60)
            await asyncio.to_thread(produce, broker.bootstrap, settings.topics.alerts,
                                    [ALERT_ENCODER.encode(a) for a in batch], [a.street_code.encode() for a in batch])
            await poll("every alert handed on and the first window spent",
                       lambda ts: handed_on(ts) >= N and len(robot) >= LIMIT and len(set(ops)) == N, workers, 30)
            assert len(robot) == LIMIT, "more than the limit in the first window"
            texts = [await asyncio.to_thread(w.metrics) for w in workers]
            holder = [i for i, t in enumerate(texts) if metric_value(t, "warning_notification_budget_owned", receiver="robot") == 1]
            assert len(holder) == 1, texts
            killed_at = time.monotonic()
            workers[holder[0]].kill9()  # mid-window: the survivors must not send before it ends
            survivors = [w for i, w in enumerate(workers) if i != holder[0]]
            before_kill = set().union(*(nums for _, nums in robot))
            deadline = time.monotonic() + 45
            while len({n for _, nums in robot for n in nums}) < N and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            # the sink sees a message before its sender reads the reply and counts it: give the
            # survivors' metrics a moment to catch up with what the sink saw
            texts = await poll("the last send counted", lambda ts: sent_ok(ts) >= 1, survivors, 10, fail=False)
            logs = "\n---\n".join(w.log_tail(40) for w in survivors)
    finally:
        await runner.cleanup()

    got = Counter(n for _, nums in robot for n in nums)
    t0 = robot[0][0] if robot else 0.0
    report = (f"killed at {killed_at - t0:.2f}s; robot messages (s, alerts): "
              f"{[(round(t - t0, 2), sorted(nums)) for t, nums in robot]}; ops got {len(set(ops))}\n{logs}")
    assert len(got) == N, report
    assert sorted(set(ops)) == sorted(a.alert_id for a in batch), report
    # at most LIMIT robot messages in any WINDOW, across all workers and the takeover
    times = sorted(t for t, _ in robot)
    for i, t in enumerate(times):
        in_window = [x for x in times[i:] if x < t + WINDOW - JITTER_S]
        assert len(in_window) <= LIMIT, report
    # the new holder read the old one's spends back and waited for them
    assert sum(metric_value(t, "warning_notification_budget_restored_total", receiver="robot") for t in texts) >= LIMIT, report
    after = [t for t in times if t > killed_at]
    assert after and after[0] >= times[0] + WINDOW - JITTER_S, report
    # repeats only of alerts handled before the kill (at least once); digests carried the overflow
    repeated = {n for n, c in got.items() if c > 1}
    assert repeated <= before_kill and max(got.values()) <= 2, (got, before_kill, report)
    assert any(len(nums) > 1 for _, nums in robot), report
    assert len(robot) < N, report
    assert sent_ok(texts) >= 1, report
    assert time.monotonic() - t_start < 90, "keep this test short"
