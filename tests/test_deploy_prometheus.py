"""deploy/prometheus and deploy/alertmanager, checked by the real tools.

``promtool check config|rules``, ``promtool test rules`` (the rule unit tests in
deploy/prometheus/rules/warning.rules.test.yml), ``amtool check-config`` and ``amtool config routes
test``. Each test skips with the reason when its tool is missing — with CI=true it fails instead
(CI installs the Debian packages prometheus and prometheus-alertmanager, see .ci/run).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from prom_helpers import ALERTMANAGER_CONFIG, REPO, RULES_FILE, RULES_TEST_FILE, require_tool

PROM_DIR = REPO / "deploy" / "prometheus"
PROM_CONFIGS = ["prometheus.yml", "prometheus.compose.yml", "prometheus.kubernetes.yml"]
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alert_rules() -> list[dict]:
    return [r for g in _load(RULES_FILE)["groups"] for r in g["rules"] if "alert" in r]


# ------------------------------------------------------------------------------------------------
# promtool


def _without_kubernetes_sd(src: Path, tmp_path: Path) -> Path:
    """A copy of ``src`` with kubernetes_sd_configs replaced by a static target (rule paths made
    absolute): Debian builds Prometheus without Kubernetes service discovery, so its promtool
    rejects that block — everything else (relabelling, rules, alerting) is still checked."""
    cfg = _load(src)
    for job in cfg["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["127.0.0.1:6066"]}]
    cfg["rule_files"] = [str(src.parent / f) for f in cfg.get("rule_files", [])]
    out = tmp_path / src.name
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.parametrize("name", PROM_CONFIGS)
def test_promtool_check_config(name: str, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    path = PROM_DIR / name
    p = run(promtool, "check", "config", path)
    if p.returncode != 0 and "kubernetes_sd_configs not found" in p.stdout + p.stderr:
        p = run(promtool, "check", "config", _without_kubernetes_sd(path, tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout + p.stderr


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    p = run(promtool, "check", "rules", RULES_FILE)
    assert p.returncode == 0, p.stdout + p.stderr
    n_rules = sum(len(g["rules"]) for g in _load(RULES_FILE)["groups"])
    assert f"SUCCESS: {n_rules} rules found" in p.stdout


def test_promtool_rule_unit_tests() -> None:
    promtool = require_tool("promtool")
    p = run(promtool, "test", "rules", RULES_TEST_FILE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout


# ------------------------------------------------------------------------------------------------
# the rule files themselves (no tool needed)


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    tests = _load(RULES_TEST_FILE)["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for group in tests:
        for case in group.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in _alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested not firing"
    assert (firing | quiet) - names == set(), "tests for alerts that do not exist"


def test_recording_rules_are_used_or_tested() -> None:
    records = {r["record"] for g in _load(RULES_FILE)["groups"] for r in g["rules"] if "record" in r}
    tested = {re.match(r"[\w:]+", c["expr"]).group(0) for g in _load(RULES_TEST_FILE)["tests"] for c in g.get("promql_expr_test", [])}
    dashboard = (REPO / "deploy" / "grafana" / "warning-dashboard.json").read_text(encoding="utf-8")
    unused = {r for r in records if r not in tested and r not in dashboard}
    assert not unused, f"recording rules neither unit-tested nor on the dashboard: {sorted(unused)}"


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: r["alert"])
def test_alert_rule_labels_and_bilingual_annotations(rule: dict) -> None:
    labels = rule.get("labels", {})
    assert labels.get("severity") in ("critical", "warning")
    assert labels.get("category") in ("risk", "delivery", "ingest", "platform")
    for key in ("summary", "description"):
        text = rule["annotations"][key]
        assert CJK.search(text) and LATIN.search(text), f"{key} must be Chinese + English: {text!r}"


def test_risk_rules_follow_the_contract() -> None:
    rules = {r["alert"]: r for r in _alert_rules()}
    red, orange = rules["WarningStreetRiskRed"], rules["WarningStreetRiskOrange"]
    assert red["labels"]["severity"] == "critical" and red.get("for", "0m") in ("0m", "0s")
    assert orange["labels"]["severity"] == "warning"
    for r in (red, orange):
        assert "warning_risk_level" in r["expr"] and "by (street, street_name, district)" in r["expr"]
    assert ">= 4" in red["expr"] and ">= 3" in orange["expr"]


def test_prometheus_configs_agree() -> None:
    cfgs = {n: _load(PROM_DIR / n) for n in PROM_CONFIGS}
    for name, cfg in cfgs.items():
        assert cfg["rule_files"] == ["rules/warning.rules.yml"], name
        assert (PROM_DIR / cfg["rule_files"][0]).is_file()
        jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
        assert "warning" in jobs, f"{name}: the rules expect job=\"warning\""
        assert cfg["alerting"]["alertmanagers"]
    local = cfgs["prometheus.yml"]
    warning_job = next(j for j in local["scrape_configs"] if j["job_name"] == "warning")
    assert warning_job["static_configs"][0]["targets"] == ["127.0.0.1:6066"]
    assert local["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


# ------------------------------------------------------------------------------------------------
# Alertmanager


def test_amtool_check_config() -> None:
    amtool = require_tool("amtool")
    p = run(amtool, "check-config", ALERTMANAGER_CONFIG)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"alertname": "WarningStreetRiskRed", "category": "risk", "severity": "critical", "district": "朝阳区", "street": "110105001"},
         "ops-centre-critical"),
        ({"alertname": "WarningStreetRiskOrange", "category": "risk", "severity": "warning", "district": "朝阳区", "street": "110105001"},
         "ops-centre"),
        # 首都功能核心区: a copy to the core-districts desk, plus the normal route
        ({"alertname": "WarningStreetRiskOrange", "category": "risk", "severity": "warning", "district": "东城区", "street": "110101001"},
         "core-districts,ops-centre"),
        ({"alertname": "WarningStreetRiskRed", "category": "risk", "severity": "critical", "district": "西城区", "street": "110102001"},
         "core-districts,ops-centre-critical"),
        ({"alertname": "WarningNotificationDeadLettered", "category": "delivery", "severity": "critical", "receiver": "wecom"},
         "platform-critical"),
        ({"alertname": "WarningConsumerLagHigh", "category": "platform", "severity": "warning"}, "platform"),
        ({"alertname": "WarningFeedSilent", "category": "ingest", "severity": "warning", "source": "petition", "name_zh": "信访"},
         "platform"),
        ({"alertname": "WarningFeedAbsent", "category": "ingest", "severity": "warning", "source": "grid", "name_zh": "网格员上报"},
         "platform"),
        ({"alertname": "SomethingElse"}, "ops-centre"),
    ],
    ids=["red", "orange", "orange-core-district", "red-core-district", "deadletter", "lag", "petition-silent", "grid-absent",
         "default"],
)
def test_alertmanager_routes(labels: dict[str, str], receivers: str) -> None:
    amtool = require_tool("amtool")
    p = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *(f"{k}={v}" for k, v in labels.items()))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == receivers


def test_alertmanager_config_shape() -> None:
    cfg = _load(ALERTMANAGER_CONFIG)
    assert cfg["route"]["group_by"] == ["alertname", "street"]
    urls = {wh["url"] for r in cfg["receivers"] for wh in r.get("webhook_configs", [])}
    assert urls == {"http://127.0.0.1:9099/alertmanager"}
    street_rules = [r for r in cfg["inhibit_rules"] if r.get("equal") == ["street"]]
    assert len(street_rules) == 1
    rule = street_rules[0]
    assert 'severity="critical"' in rule["source_matchers"] and 'severity="warning"' in rule["target_matchers"]
    # scoped to risk alerts: alerts without a street would otherwise all be "the same street"
    assert 'category="risk"' in rule["source_matchers"] and 'category="risk"' in rule["target_matchers"]
    # the petition mute interval is in UTC (no time-zone database needed) and used by a route
    assert not any("location" in ti for t in cfg["time_intervals"] for ti in t["time_intervals"])
    muted = [r for r in cfg["route"]["routes"] if "petition-off-hours" in r.get("mute_time_intervals", [])]
    assert muted and all('source="petition"' in r["matchers"] for r in muted)
    # …for the feed alerts, which carry the feed's `source` label (see warning.rules.yml)
    feed_alerts = {r["alert"] for r in _alert_rules() if r["alert"].startswith("WarningFeed")}
    assert feed_alerts == {"WarningFeedSilent", "WarningFeedAbsent"}
    assert all(any(a in m for m in r["matchers"]) for r in muted for a in feed_alerts)


# ------------------------------------------------------------------------------------------------
# the skip / fail policy of the helpers


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_tool_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type) -> None:
    import prom_helpers

    monkeypatch.setattr(prom_helpers, "find_tool", lambda tool: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="prometheus-alertmanager"):
        prom_helpers.require_tool("amtool")
