"""A real Prometheus and a real Alertmanager, with the repository's rules and Alertmanager config.

1. Prometheus scrapes a live metrics endpoint (prometheus_client, a street at red), evaluates
   deploy/prometheus/rules/warning.rules.yml, sends the alert to Alertmanager running
   deploy/alertmanager/alertmanager.yml (routes, inhibition; timings shortened), which posts the
   webhook v4 payload to the project's webhook sink (``warning.notify.sink``, aiohttp). The street
   then goes back to level 0 and the "resolved" notification arrives as well.
2. Alertmanager's inhibition: a red street's orange alert is suppressed, another street's is not.

Skipped when the binaries are missing locally; with CI=true they are required (see prom_helpers).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from prom_helpers import Alertmanager, Prometheus, require_tool
from warning.notify.sink import start_sink

import yaml

#: how many rules deploy/prometheus/rules/warning.rules.yml defines (recording and alerting)
RULES_IN_FILE = sum(len(g["rules"]) for g in yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "deploy/prometheus/rules/warning.rules.yml").read_text(encoding="utf-8"))["groups"])

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

STREET, DISTRICT = "110105001", "朝阳区"


class Inbox:
    """Alertmanager webhook payloads received by the sink, awaitable by predicate."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def on_message(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "alertmanager":
            self.payloads.append(payload)
            self._changed.set()

    def find(self, *, receiver: str | None = None, status: str | None = None, **labels: str) -> dict[str, Any] | None:
        """The first received alert (with its payload's receiver) matching, or None."""
        for p in self.payloads:
            if receiver is not None and p.get("receiver") != receiver:
                continue
            for a in p.get("alerts", []):
                if status is not None and a.get("status") != status:
                    continue
                if all(a.get("labels", {}).get(k) == v for k, v in labels.items()):
                    return {**a, "receiver": p.get("receiver"), "payload": p}
        return None

    async def wait(self, timeout: float, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(**match)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no Alertmanager notification matching {match} within {timeout} s; got {self.payloads}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass


@pytest.fixture
def tools() -> None:
    require_tool("prometheus")
    require_tool("alertmanager")


@pytest.fixture
async def sink():
    inbox = Inbox()
    runner, url = await start_sink("127.0.0.1", 0, on_message=inbox.on_message)
    try:
        yield inbox, url + "alertmanager"
    finally:
        await runner.cleanup()


@pytest.fixture
def metrics_target():
    """A real /metrics endpoint (prometheus_client) with one street at red."""
    registry = CollectorRegistry()
    risk = Gauge("warning_risk_level", "风险等级 0–4", ["street", "district"], registry=registry)
    risk.labels(street=STREET, district=DISTRICT).set(4)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield risk, f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_red_street_reaches_webhook_through_prometheus_and_alertmanager(tools, sink, metrics_target, tmp_path: Path) -> None:
    inbox, webhook_url = sink
    risk, target = metrics_target
    am = Alertmanager(webhook_url, deploy_config=True, workdir=tmp_path / "am")
    prom = Prometheus([target], alertmanager=am, workdir=tmp_path / "prom")
    t0 = time.monotonic()
    await asyncio.to_thread(am.start)
    try:
        await asyncio.to_thread(prom.start)
        try:
            t_ready = time.monotonic()
            await asyncio.to_thread(prom.wait_for_targets_up)

            # Prometheus fires the red alert (for: 0m) and Alertmanager posts it to the sink.
            got = await inbox.wait(30, alertname="WarningStreetRiskRed", status="firing", street=STREET)
            t_fired = time.monotonic()
            assert got["receiver"] == "ops-centre-critical"  # deploy routing: category=risk, severity=critical
            assert got["labels"]["district"] == DISTRICT
            assert got["labels"]["severity"] == "critical" and got["labels"]["level"] == "red"
            assert "红色预警" in got["annotations"]["summary"] and STREET in got["annotations"]["summary"]
            assert got["payload"]["version"] == "4" and got["payload"]["groupLabels"] == {"alertname": "WarningStreetRiskRed", "street": STREET}
            assert got["generatorURL"].startswith(prom.url)

            # Every rule of the rules file loads and evaluates without errors against live data.
            rules = [r for g in await asyncio.to_thread(prom.rules) for r in g["rules"]]
            assert len(rules) == RULES_IN_FILE and all(r.get("health") != "err" for r in rules), rules
            # The orange rule (for: 2m) holds the same street as pending meanwhile.
            await asyncio.to_thread(prom.wait_for_alert, "WarningStreetRiskOrange", state="pending", labels={"street": STREET})

            # Back to level 0 → resolved notification.
            risk.labels(street=STREET, district=DISTRICT).set(0)
            await inbox.wait(30, alertname="WarningStreetRiskRed", status="resolved", street=STREET)
            t_resolved = time.monotonic()
        finally:
            await asyncio.to_thread(prom.stop)
    finally:
        await asyncio.to_thread(am.stop)
    assert not prom.running and not am.running
    print(f"\nstart {t_ready - t0:.2f} s, firing at sink after {t_fired - t_ready:.2f} s, "
          f"resolved at sink after {t_resolved - t_fired:.2f} s")


async def test_alertmanager_red_inhibits_orange_for_the_same_street(tools, sink) -> None:
    inbox, webhook_url = sink
    am = Alertmanager(webhook_url, deploy_config=True)  # own temporary workdir, removed by cleanup()
    await asyncio.to_thread(am.start)
    try:
        def alert(name: str, severity: str, level: str, street: str) -> dict[str, Any]:
            return {"labels": {"alertname": name, "severity": severity, "category": "risk", "level": level,
                               "street": street, "district": DISTRICT},
                    "annotations": {"summary": f"{level} {street}"}}

        await asyncio.to_thread(am.post_alerts, [
            alert("WarningStreetRiskRed", "critical", "red", STREET),
            alert("WarningStreetRiskOrange", "warning", "orange", STREET),       # inhibited
            alert("WarningStreetRiskOrange", "warning", "orange", "110105002"),  # another street: sent
        ])
        await inbox.wait(20, receiver="ops-centre-critical", alertname="WarningStreetRiskRed", street=STREET)
        await inbox.wait(20, receiver="ops-centre", alertname="WarningStreetRiskOrange", street="110105002")

        held = await asyncio.to_thread(am.alerts)
        state = {(a["labels"]["alertname"], a["labels"]["street"]): a["status"] for a in held}
        assert state[("WarningStreetRiskOrange", STREET)]["state"] == "suppressed"
        assert state[("WarningStreetRiskOrange", STREET)]["inhibitedBy"]
        assert state[("WarningStreetRiskRed", STREET)]["state"] == "active"
        assert state[("WarningStreetRiskOrange", "110105002")]["state"] == "active"

        await asyncio.sleep(2.5)  # > group_wait + group_interval: a notification would have gone by now
        assert inbox.find(alertname="WarningStreetRiskOrange", street=STREET) is None, inbox.payloads
    finally:
        await asyncio.to_thread(am.cleanup)
    assert not am.running and not am.workdir.exists()
