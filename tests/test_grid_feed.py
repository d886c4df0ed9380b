"""网格员上报 (the grid feed) end to end on a real broker (Tansu and Apache Kafka).

Raw grid records on the grid feed's raw topic (``feeds.grid.topic``, ``warning.raw.grid`` by
default) → a real ``warning worker`` subprocess → ``warning.events`` (source ``grid``, personal
data masked) → street signals → ``warning.alerts`` → our generic webhook (``warning.notify.sink``).

The scenario (event times in March 2025, so it is the same on every run and the backtest over the
same records is the reference):

* three days of ordinary grid reports (20 a day) in six streets, written by the simulator's grid
  wording (``warning.sim.texts.grid_text``), some signed with the grid member's name and mobile;
* on the fourth morning a grid member reports a person who 扬言要跳楼 in street ``RISK`` — an extreme
  risk term: ``risk_terms`` at orange or above on arrival, whatever the feed;
* and 40 grid reports of disputes within 40 minutes in street ``BURST`` — ``grid_volume``, the
  grid feed's own volume signal, once the street has three days of history.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from datetime import datetime, timedelta

import msgspec
import orjson
import pytest

from kafka_helpers import consume_all, produce
from warning.backtest.runner import run as backtest
from warning.config import load_settings
from warning.core.timeutil import BEIJING
from warning.notify.sink import start_sink
from warning.sim import texts as T
from warning.streams.app import build_enricher
from warning.streams.topics import ensure_topics
from worker_proc import Worker, isolated_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DAY0 = datetime(2025, 3, 3, tzinfo=BEIJING)
BURST, RISK = "110105001", "110105002"
QUIET = ("110105003", "110101001", "110108001", "110106001")
MEMBER, MEMBER_PHONE = "王丽华", "13698765432"
LEVELS = ("blue", "yellow", "orange", "red")
PII = re.compile(rf"{MEMBER}|{MEMBER_PHONE}|1[3-9]\d{{9}}")


def scenario() -> list[dict]:
    """The grid records (with ``source``), in event-time order."""
    rnd = random.Random(7)
    pl = T.places("110000")
    out: list[dict] = []

    def report(code: str, t: datetime, issue: str, urgency: int = 1, content: str | None = None) -> None:
        _cat, text, reporter, grid_id, _people = T.grid_text(pl, pl.codes.index(code), issue, urgency, rnd)
        rec = {"source": "grid", "id": f"WG-t{len(out):05d}", "reported_at": t.isoformat(timespec="seconds"),
               "street_code": code, "grid_id": grid_id, "issue_type": issue, "urgency": urgency,
               "content": content or text}
        if reporter:
            rec["reporter"] = reporter
        out.append(rec)

    for d in range(3):
        for code in (BURST, RISK, *QUIET):
            for _ in range(20):
                t = DAY0 + timedelta(days=d, hours=rnd.randrange(8, 18), seconds=rnd.randrange(3600))
                report(code, t, rnd.choice(("环境卫生", "安全隐患", "市容秩序", "民生诉求")))
    t_burst = DAY0 + timedelta(days=3, hours=10)
    for j in range(40):
        report(BURST, t_burst + timedelta(minutes=j), "矛盾纠纷", urgency=2)
    report(RISK, t_burst + timedelta(minutes=20), "重点人员动态", urgency=3,
           content=f"走访发现当事人因欠薪问题扬言要跳楼，情绪激动，已会同家属和社区民警做好稳控。"
                   f"上报人：网格员{MEMBER}，联系电话{MEMBER_PHONE}。")
    out[-1]["reporter"] = {"name": MEMBER, "phone": MEMBER_PHONE}
    out.sort(key=lambda r: r["reported_at"])
    return out


def firing(alerts: list, signal: str, street: str, min_level: str = "blue") -> list[dict]:
    """The firing alerts of ``signal`` at ``street`` of ``min_level`` or above (alerts as JSON dicts or structs)."""
    out = (a if isinstance(a, dict) else msgspec.to_builtins(a) for a in alerts)
    return [a for a in out if a["status"] == "firing" and a["signal"] == signal and a["street_code"] == street
            and LEVELS.index(a["level"]) >= LEVELS.index(min_level)]


def test_the_scenario_alerts_in_a_backtest():
    """The reference: the same core over the same records, in-process (fast, no broker)."""
    settings = load_settings(None, env={})
    alerts, _ = backtest(settings, [orjson.dumps(r) for r in scenario()], enricher=build_enricher(settings))
    assert firing(alerts, "risk_terms", RISK, "orange"), alerts
    assert firing(alerts, "grid_volume", BURST), alerts


async def test_grid_reports_reach_the_webhook(broker, tmp_path) -> None:
    delivered: list[dict] = []
    runner, sink_url = await start_sink("127.0.0.1", 0, on_alert=delivered.append)
    prefix = f"grid{int(time.time() * 1000) % 10**8}"
    # Only the grid feed has records here: the other feeds, never seen, hold the watermark back until
    # they have been silent for source_idle_seconds (and a quiet partition's event time runs on after
    # idle_flush_seconds) — 300 s / 60 s in production, shortened so the test does not wait a minute.
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_RECEIVERS=orjson.dumps(
        [{"name": "ops", "kind": "generic", "url": sink_url + "generic", "allow_unsigned": True}]).decode(),
        WARNING_WINDOWS__SOURCE_IDLE_SECONDS="15", WARNING_WINDOWS__IDLE_FLUSH_SECONDS="15")
    settings = load_settings(None, env=env)
    topic = settings.raw_topics()["grid"]
    assert topic == f"{prefix}.grid"
    records = scenario()
    t0 = time.monotonic()
    took: dict[str, float] = {}
    try:
        await asyncio.to_thread(ensure_topics, settings)
        with Worker(env, tmp_path / "worker.log", kill_on_exit=True) as w:  # SIGKILL at the end: worker_proc.Worker
            bodies = [{k: v for k, v in r.items() if k != "source"} for r in records]
            await asyncio.to_thread(produce, broker.bootstrap, topic, bodies, [r["street_code"] for r in records])

            # raw → warning.events: every record, as a grid event of its street, personal data masked
            events = [r.json() for r in await asyncio.to_thread(
                consume_all, broker.bootstrap, settings.topics.events, len(records), 120)]
            assert len(events) == len(records), w.log_tail()
            took["events"] = time.monotonic() - t0
            assert {e["source"] for e in events} == {"grid"}
            assert {e["street_code"] for e in events} == {BURST, RISK, *QUIET}
            risky = [e for e in events if "跳楼" in e["text"]]
            assert len(risky) == 1 and risky[0]["street_code"] == RISK and risky[0]["kind"] == "重点人员动态"
            leaks = [e["text"] for e in events if PII.search(e["text"])]
            assert not leaks, leaks[:3]

            # street signals → warning.alerts
            deadline = time.monotonic() + 120
            alerts: list[dict] = []
            while time.monotonic() < deadline:
                alerts = [r.json() for r in await asyncio.to_thread(
                    consume_all, broker.bootstrap, settings.topics.alerts, None, 10, idle=1.0)]
                for sig, st in (("risk_terms", RISK), ("grid_volume", BURST)):
                    if firing(alerts, sig, st) and sig not in took:
                        took[sig] = time.monotonic() - t0
                if firing(alerts, "risk_terms", RISK, "orange") and firing(alerts, "grid_volume", BURST):
                    break
                await asyncio.sleep(1.0)
            assert firing(alerts, "risk_terms", RISK, "orange"), (alerts, w.log_tail())
            assert firing(alerts, "grid_volume", BURST), (alerts, w.log_tail())
            took["alerts"] = time.monotonic() - t0

            # → the webhook
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                    firing(delivered, "risk_terms", RISK, "orange") and firing(delivered, "grid_volume", BURST)):
                await asyncio.sleep(0.2)
            took["webhook"] = time.monotonic() - t0
            log = w.log_tail()
    finally:
        await runner.cleanup()
    threat = firing(delivered, "risk_terms", RISK, "orange")
    volume = firing(delivered, "grid_volume", BURST)
    assert threat and volume, (delivered, log)
    assert threat[0]["district"] == "朝阳区" and any("跳楼" in s for s in threat[0]["sample_texts"])
    assert volume[0]["observed"] > volume[0]["expected"]
    assert not PII.search(orjson.dumps(delivered).decode())
    print(f"\n{broker.kind}: " + ", ".join(f"{k} after {v:.1f} s" for k, v in took.items()))
