#!/usr/bin/env python3
"""Builds deploy/grafana/warning-dashboard.json (Grafana "classic" dashboard JSON model).

    python deploy/grafana/build_dashboard.py          # rewrite the JSON
    python deploy/grafana/build_dashboard.py --check  # exit 1 when the JSON is out of date

Edit this file, not the JSON (tests/test_deploy_grafana.py checks the JSON is this file's output).
Panel titles are Chinese + English. Every query uses the datasource ``${DS_PROMETHEUS}``: an import
input (``__inputs``) when imported through the UI / API, and a datasource variable of the same name
when provisioned from a file (deploy/grafana/provisioning/), so the same JSON works both ways. That
variable's saved value is the provisioned data source's uid (read from
provisioning/datasources/prometheus.yaml), so a Grafana with several Prometheus data sources still
picks ours. Every panel's query is run against a live worker by tests/test_pipeline_prometheus.py.

Level names and colours come from the level table, signal and feed names from the signal
catalogue and the built-in feed descriptors (``warning.core.signals``, ``warning.core.feeds``):
run it with the project's Python (``.venv/bin/python``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, when not installed

from warning.core.alert_feedback import ACTION_ZH, VERDICTS  # noqa: E402
from warning.core.feeds import default_feeds  # noqa: E402
from warning.core.signals import LEVEL_ORDER, SIGNALS  # noqa: E402

OUT = Path(__file__).with_name("warning-dashboard.json")
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
#: the data source provisioned with the dashboard: the ${DS_PROMETHEUS} variable selects it by uid
PROVISIONED_DS = yaml.safe_load((Path(__file__).parent / "provisioning" / "datasources" / "prometheus.yaml")
                                .read_text(encoding="utf-8"))["datasources"][0]

# filters from the dashboard variables
D = 'district=~"$district"'
S = 'source=~"$source"'

# The dashboard app's warning_alert_precision{signal, district} and warning_alert_verdicts{signal,
# district, verdict}: signal="" / district="" rows are the totals over all signals / districts, so
# panels select rows instead of summing them; max() because every dashboard replica exports the same.
PRECISION_THRESHOLDS = {"mode": "absolute", "steps": [
    {"color": "red", "value": None}, {"color": "orange", "value": 0.5}, {"color": "green", "value": 0.8}]}

# Grafana's colour names happen to be the level names (blue, yellow, orange, red).
LEVEL_COLORS = {lv.name: lv.name for lv in LEVEL_ORDER}
LEVEL_NAMES = {lv.name: f"{lv.short_zh} {lv.name}" for lv in LEVEL_ORDER}
LEVEL_MAPPING = [{
    "type": "value",
    "options": {
        "0": {"text": "无 none", "color": "green", "index": 0},
        **{str(lv.rank): {"text": LEVEL_NAMES[lv.name], "color": LEVEL_COLORS[lv.name], "index": lv.rank} for lv in LEVEL_ORDER},
    },
}]
LEVEL_THRESHOLDS = {"mode": "absolute", "steps": [
    {"color": "green", "value": None}, *({"color": LEVEL_COLORS[lv.name], "value": lv.rank} for lv in LEVEL_ORDER),
]}
FEED_NAMES = {name: f"{f.name_zh} {name}" for name, f in default_feeds().items()}
SIGNAL_NAMES = {s.name: f"{s.zh} {s.name}" for s in SIGNALS.values()}


class Layout:
    """Places panels left to right on a 24-column grid, rows of equal height."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1
        self.panels: list[dict[str, Any]] = []

    def _id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_h
        self.x, self.row_h = 0, 0
        self.panels.append({"type": "row", "id": self._id(), "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto",
                         "range": not instant, "instant": instant, "editorMode": "code"}
    if table:
        t["format"] = "table"
    return t


def refs(*targets: dict[str, Any]) -> list[dict[str, Any]]:
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    return list(targets)


def rename(names: dict[str, str]) -> list[dict[str, Any]]:
    """Field overrides giving series (by legend) Chinese + English display names."""
    return [{"matcher": {"id": "byName", "options": k},
             "properties": [{"id": "displayName", "value": v}]} for k, v in names.items()]


def level_colors() -> list[dict[str, Any]]:
    return [{"matcher": {"id": "byName", "options": k},
             "properties": [{"id": "displayName", "value": LEVEL_NAMES[k]},
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": c}}]}
            for k, c in LEVEL_COLORS.items()]


def timeseries(title: str, desc: str, targets: list[dict[str, Any]], *, unit: str = "short", overrides: list | None = None,
               stack: bool = False, bars: bool = False, min0: bool = True, max_: float | None = None) -> dict[str, Any]:
    custom: dict[str, Any] = {"drawStyle": "bars" if bars else "line", "lineWidth": 1, "fillOpacity": 60 if bars else 10,
                              "showPoints": "never", "spanNulls": False,
                              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min0:
        defaults["min"] = 0
    if max_ is not None:
        defaults["max"] = max_
    return {"type": "timeseries", "title": title, "description": desc, "datasource": DS, "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title: str, desc: str, targets: list[dict[str, Any]], *, unit: str = "short", thresholds: dict | None = None,
         mappings: list | None = None, overrides: list | None = None, color_mode: str = "background") -> dict[str, Any]:
    return {"type": "stat", "title": title, "description": desc, "datasource": DS, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "thresholds": thresholds or {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
                                         "color": {"mode": "thresholds"}},
                            "overrides": overrides or []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": color_mode, "graphMode": "area", "justifyMode": "auto", "textMode": "auto",
                        "orientation": "auto"}}


def bargauge(title: str, desc: str, targets: list[dict[str, Any]], *, unit: str = "short", thresholds: dict | None = None,
             mappings: list | None = None, max_: float | None = None, overrides: list | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "min": 0, "mappings": mappings or [], "color": {"mode": "thresholds"},
                                "thresholds": thresholds or {"mode": "absolute", "steps": [{"color": "blue", "value": None}]}}
    if max_ is not None:
        defaults["max"] = max_
    return {"type": "bargauge", "title": title, "description": desc, "datasource": DS, "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}


def quantiles(metric: str, extra: str = "", qs: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[dict[str, Any]]:
    sel = "{" + extra + "}" if extra else ""
    return refs(*[target(f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{sel}[$__rate_interval])))", f"p{round(q * 100)}")
                  for q in qs])


def build() -> dict[str, Any]:
    L = Layout()

    # ------------------------------------------------------------------------------------------
    L.row("概览 Overview")
    L.add(stat("活跃预警 Active alerts", "当前处于触发状态的预警，按等级 / Alerts currently firing, by level",
               [target("sum by (level) (warning_alerts_active)", "{{level}}", instant=True)],
               overrides=level_colors(), color_mode="value"), 6, 4)
    L.add(stat("橙色及以上街道 Streets at orange/red", "风险等级 ≥ 3 的街道数 / Streets at risk level 3 or 4",
               [target(f"count(max by (street) (warning_risk_level{{{D}}}) >= 3) or vector(0)", "streets", instant=True)],
               thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}]}), 4, 4)
    L.add(stat("事件速率 Events/s", "已接收事件 / Accepted events per second (all feeds)",
               [target(f'sum(rate(warning_events_total{{outcome="accepted",{S},{D}}}[$__rate_interval]))', "events/s")],
               unit="reqps"), 4, 4)
    L.add(stat("死信比例 Dead-letter share", "不符合输入契约的记录比例 / Share of records dead-lettered",
               [target(f'sum(rate(warning_events_total{{outcome="deadletter",{S}}}[$__rate_interval])) / '
                       f'sum(rate(warning_events_total{{outcome=~"accepted|deadletter",{S}}}[$__rate_interval]))', "dead-letter")],
               unit="percentunit",
               thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 0.01}, {"color": "red", "value": 0.05}]}), 4, 4)
    L.add(stat("在线 Worker Workers up", "可被采集的 worker 数 / Workers Prometheus can scrape",
               [target('sum(up{job="warning"})', "up", instant=True)],
               thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}), 3, 4)
    L.add(stat("通知失败 1h Failed notifications", "最近 1 小时未成功的通知 / Notifications not delivered at first try, last hour",
               [target('sum(increase(warning_notifications_total{outcome!="ok"}[1h])) or vector(0)', "failed", instant=True)],
               thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}]}), 3, 4)

    # ------------------------------------------------------------------------------------------
    L.row("街道风险 Street risk")
    table = {
        "type": "table", "title": "风险最高的街道 Top streets by risk level",
        "description": "当前风险等级最高的 20 个街道（0 无 / 1 蓝 / 2 黄 / 3 橙 / 4 红）/ The 20 streets at the highest level now",
        "datasource": DS,
        "targets": [target(f"topk(20, max by (street, street_name, district) (warning_risk_level{{{D}}}) > 0)",
                           instant=True, table=True)],
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": True},
            "indexByName": {"district": 0, "street_name": 1, "street": 2, "Value": 3},
            "renameByName": {"district": "区 District", "street_name": "街道 Street", "street": "代码 Code", "Value": "等级 Level"}}},
            {"id": "sortBy", "options": {"sort": [{"field": "等级 Level", "desc": True}]}}],
        "fieldConfig": {"defaults": {"mappings": [], "custom": {"align": "left"}},
                        "overrides": [{"matcher": {"id": "byName", "options": "等级 Level"},
                                       "properties": [{"id": "mappings", "value": LEVEL_MAPPING},
                                                      {"id": "thresholds", "value": LEVEL_THRESHOLDS},
                                                      {"id": "custom.cellOptions", "value": {"type": "color-background"}}]}]},
        "options": {"showHeader": True, "cellHeight": "sm"},
    }
    L.add(table, 9, 10)
    L.add({"type": "status-history", "title": "街道风险等级变化 Risk level by street over time",
           "description": "风险等级最高的街道的等级随时间变化（热力图）/ Level over time of the highest-risk streets (heatmap)",
           "datasource": DS,
           "targets": [target(f"topk(15, max by (street, district) (warning_risk_level{{{D}}}) > 0)", "{{district}} {{street}}")],
           "fieldConfig": {"defaults": {"mappings": LEVEL_MAPPING, "thresholds": LEVEL_THRESHOLDS, "color": {"mode": "thresholds"},
                                        "custom": {"fillOpacity": 80, "lineWidth": 0}}, "overrides": []},
           "options": {"showValue": "never", "rowHeight": 0.9, "colWidth": 0.9,
                       "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
                       "tooltip": {"mode": "single", "sort": "none"}}}, 15, 10)
    L.add(bargauge("各区最高风险等级 Highest level by district", "每个区内街道的最高风险等级 / Highest street level in each district",
                   [target(f"max by (district) (warning_risk_level{{{D}}})", "{{district}}", instant=True)],
                   thresholds=LEVEL_THRESHOLDS, mappings=LEVEL_MAPPING, max_=4), 8, 10)
    L.add(bargauge("各区橙色及以上街道数 Streets at orange/red by district", "记录规则 district:warning_streets_orange_or_red:count / recording rule",
                   [target(f"district:warning_streets_orange_or_red:count{{{D}}}", "{{district}}", instant=True)],
                   thresholds={"mode": "absolute", "steps": [{"color": "orange", "value": None}, {"color": "red", "value": 3}]}), 8, 10)
    L.add(timeseries("异常分数 Top anomaly scores", "各检测信号的异常分数（0–1），前 10 / Detector anomaly scores, top 10",
                     [target("topk(10, max by (street, signal) (warning_anomaly_score))", "{{street}} {{signal}}")],
                     unit="percentunit", max_=1), 8, 10)

    # ------------------------------------------------------------------------------------------
    L.row("预警 Alerts")
    L.add(timeseries("预警产生（按等级）Alerts raised by level", "新产生的预警数 / Alerts raised per interval",
                     [target(f"sum by (level) (increase(warning_alerts_total{{{D}}}[$__rate_interval]))", "{{level}}")],
                     overrides=level_colors(), stack=True, bars=True), 8, 8)
    L.add(timeseries("活跃预警（按等级）Active alerts by level", "当前触发中的预警数 / Alerts firing",
                     [target("sum by (level) (warning_alerts_active)", "{{level}}")],
                     overrides=level_colors(), stack=True), 8, 8)
    L.add(bargauge("24 小时预警（按信号）Alerts by signal, 24h", "各检测信号产生的预警 / Alerts per detector signal",
                   [target(f"sort_desc(sum by (signal) (increase(warning_alerts_total{{{D}}}[24h])))", "{{signal}}", instant=True)],
                   overrides=rename(SIGNAL_NAMES)), 8, 8)

    # ------------------------------------------------------------------------------------------
    L.row("误报预算 False-alert budget")
    L.add(bargauge("预算使用（按信号）Budget spent by signal",
                   "近期每街道每30天达到黄色阈值的街道·日（各分区最大）与该信号的预算份额 / street-days at or above the "
                   "calibrated yellow per street per 30 days (max over partitions) and the signal's share of alerts.false_alert_budget",
                   [target("sort_desc(max by (signal) (warning_false_alert_budget_spent))", "{{signal}}", instant=True)],
                   overrides=rename(SIGNAL_NAMES)), 12, 8)
    L.add(bargauge("校准后黄色阈值 Calibrated yellow threshold",
                   "各信号当前黄色预警所需的证据强度 −log10 p（各分区最大）/ evidence a signal needs for yellow now",
                   [target("sort_desc(max by (signal) (warning_signal_yellow_threshold))", "{{signal}}", instant=True)],
                   overrides=rename(SIGNAL_NAMES)), 12, 8)

    # ------------------------------------------------------------------------------------------
    L.row("数据接入 Ingest")
    L.add(timeseries("各数据源事件 Events per feed", "已接收事件速率 / Accepted events per second by feed",
                     [target(f'sum by (source) (rate(warning_events_total{{outcome="accepted",{S},{D}}}[$__rate_interval]))', "{{source}}")],
                     unit="reqps", overrides=rename(FEED_NAMES)), 8, 8)
    L.add(timeseries("事件处理结果 Outcomes", "接收 / 死信 / 重复 — accepted, dead-lettered, duplicate",
                     [target(f"sum by (outcome) (rate(warning_events_total{{{S}}}[$__rate_interval]))", "{{outcome}}")],
                     unit="reqps", overrides=rename({"accepted": "接收 accepted", "deadletter": "死信 dead-letter", "duplicate": "重复 duplicate"})), 8, 8)
    L.add(timeseries("死信原因 Dead letters by reason", "进入 warning.deadletter 的记录，按数据源和原因 / by feed and reason",
                     [target(f"sum by (source, reason) (rate(warning_deadletter_total{{{S}}}[$__rate_interval]))", "{{source}} · {{reason}}")],
                     unit="reqps"), 8, 8)
    L.add(timeseries("未定位到街道 Unresolved street", "仅定位到区或无法定位的事件 / Events placed at district level or nowhere",
                     [target(f"sum by (source, resolved_by) (rate(warning_unresolved_events_total{{{S}}}[$__rate_interval]))", "{{source}} · {{resolved_by}}")],
                     unit="reqps"), 8, 8)
    L.add(timeseries("个人信息脱敏 PII masked", "文本中被脱敏的个人信息，按类型 / Personal data items masked, by kind",
                     [target("sum by (kind) (rate(warning_pii_masked_total[$__rate_interval]))", "{{kind}}")],
                     unit="reqps"), 8, 8)
    L.add(timeseries("接入批处理耗时 Ingest batch time", "单批处理耗时分位数 / Time per ingest batch",
                     quantiles("warning_ingest_batch_seconds"), unit="s"), 8, 8)

    # ------------------------------------------------------------------------------------------
    L.row("通知 Notifications")
    L.add(timeseries("通知结果 Notification outcomes", "按接收方与结果 (ok / retry / permanent / deadletter) / by receiver and outcome",
                     [target("sum by (receiver, outcome) (rate(warning_notifications_total[$__rate_interval]))", "{{receiver}} · {{outcome}}")],
                     unit="reqps"), 12, 8)
    L.add(timeseries("通知耗时 Notification latency", "发送一次通知的耗时分位数 / Time to deliver a notification",
                     quantiles("warning_notification_seconds"), unit="s"), 12, 8)

    # ------------------------------------------------------------------------------------------
    L.row("时延与积压 Lag")
    L.add(timeseries("事件时延 Event lag", "事件发生时间到被处理的时延 / Event time → processed",
                     quantiles("warning_event_lag_seconds"), unit="s"), 8, 8)
    L.add(timeseries("迟到事件 Late events", "超过允许迟到时间的事件 / Events beyond the allowed lateness, per second",
                     [target("sum(rate(warning_late_events_total[$__rate_interval]))", "late/s")], unit="reqps"), 8, 8)
    L.add(timeseries("Kafka 消费积压 Consumer lag", "各主题分区未消费的消息数 / Messages behind, per topic and partition",
                     [target("max by (topic, partition) (warning_consumer_lag)", "{{topic}} [{{partition}}]")],
                     unit="short", stack=True), 8, 8)
    L.add(timeseries("检测进度 Detection progress",
                     "未处理 = 尚未读入检测的事件（排空后≈0；居高不下即卡住）；缓冲 = 等水位线的事件（提交积压≈它） / "
                     "Unprocessed: not yet read into detection (≈0 once drained; staying up = stuck). "
                     "Buffered: waiting for the watermark (the commit lag of warning.events waits for them)",
                     refs(target("max by (partition) (warning_events_unprocessed)", "未处理 unprocessed [{{partition}}]"),
                          target("max by (partition) (warning_reorder_buffered)", "缓冲 buffered [{{partition}}]")),
                     unit="short"), 12, 8)
    L.add(timeseries("水位线延迟 Watermark delay", "墙钟 − 各分区水位线 / Wall clock − watermark, per partition",
                     [target("max by (partition) (warning_watermark_delay_seconds)", "[{{partition}}]")], unit="s"), 12, 8)

    # ------------------------------------------------------------------------------------------
    # The feedback loop: 综治中心 staff mark alerts on the `warning dashboard` app (its /metrics:
    # job "warning-dashboard" in deploy/prometheus/prometheus*.yml); the workers honour silences.
    L.row("反馈与准确率 Feedback & precision")
    L.add(stat("总体准确率 Overall precision",
               "已核实预警中确认为真的比例 = 确认 / (确认 + 误报) / confirmed ÷ (confirmed + false alarm), all signals and districts",
               [target('max(warning_alert_precision{signal="",district=""})', "precision", instant=True)],
               unit="percentunit", thresholds=PRECISION_THRESHOLDS), 4, 8)
    L.add(bargauge("准确率（按信号）Precision by signal",
                   "各检测信号的准确率（全部区）；误报多的信号应调高阈值或减少预算份额 / precision per detector signal, all districts",
                   [target('sort(max by (signal) (warning_alert_precision{signal!="",district=""}))', "{{signal}}", instant=True)],
                   unit="percentunit", max_=1, thresholds=PRECISION_THRESHOLDS, overrides=rename(SIGNAL_NAMES)), 10, 8)
    L.add(bargauge("准确率（按区）Precision by district", "各区的准确率（全部信号）/ precision per district, all signals",
                   [target(f'sort(max by (district) (warning_alert_precision{{signal="",district!="",{D}}}))', "{{district}}",
                           instant=True)],
                   unit="percentunit", max_=1, thresholds=PRECISION_THRESHOLDS), 10, 8)
    L.add(bargauge("核实结果 Verdicts", "已核实的预警数（全部信号和区）：确认 / 误报 / alerts marked confirmed or false alarm",
                   [target('max by (verdict) (warning_alert_verdicts{signal="",district=""})', "{{verdict}}", instant=True)],
                   overrides=rename({v: f"{ACTION_ZH[v]} {v}" for v in VERDICTS})), 6, 8)
    L.add(timeseries("值班台活跃预警 Active alerts on the ops screen", "值班台历史库中触发中的预警，按等级 / firing alerts in the dashboard's history, by level",
                     [target("max by (level) (warning_dashboard_alerts_active)", "{{level}}")],
                     overrides=level_colors(), stack=True), 6, 8)
    L.add(timeseries("静默拦截的通知 Notifications silenced", "街道+信号被静默时未发出的通知 / notifications not sent because the street and signal were silenced",
                     [target("sum by (signal) (increase(warning_notifications_silenced_total[$__rate_interval]))", "{{signal}}")],
                     overrides=rename(SIGNAL_NAMES), bars=True, stack=True), 6, 8)
    L.add(timeseries("预警反馈记录 Alert feedback records",
                     "worker 读取的预警反馈，按处理结果（签名无效、过期等不生效）；每个 worker 都读全部记录，取最大值 / "
                     "alert feedback records by outcome; every worker reads every record, so the max over workers",
                     [target("max by (outcome) (increase(warning_alert_feedback_total[$__rate_interval]))", "{{outcome}}")],
                     bars=True, stack=True), 6, 8)

    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "warning 的 Prometheus / Prometheus scraping the warning workers",
                      "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "table", "name": "Table", "version": ""},
            {"type": "panel", "id": "bargauge", "name": "Bar gauge", "version": ""},
            {"type": "panel", "id": "status-history", "name": "Status history", "version": ""},
        ],
        "id": None,
        "uid": "warning-overview",
        "title": "社会稳定风险预警 Social stability risk early warning",
        "description": "warning 流式风险预警：数据接入、街道风险、预警、通知、时延、反馈与准确率 / ingest, street risk, alerts, notifications, lag, feedback and precision",
        "tags": ["warning", "社会稳定风险预警", "kafka"],
        "timezone": "Asia/Shanghai",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [],
        "templating": {"list": [
            {"name": "DS_PROMETHEUS", "label": "数据源 Data source", "type": "datasource", "query": "prometheus",
             "current": {"selected": False, "text": PROVISIONED_DS["name"], "value": PROVISIONED_DS["uid"]},
             "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False, "options": []},
            {"name": "district", "label": "区 District", "type": "query", "datasource": DS,
             "query": {"query": "label_values(warning_risk_level, district)", "refId": "district"},
             "definition": "label_values(warning_risk_level, district)",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
             "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "hide": 0, "regex": "", "options": []},
            {"name": "source", "label": "数据源 Feed", "type": "query", "datasource": DS,
             "query": {"query": "label_values(warning_events_total, source)", "refId": "source"},
             "definition": "label_values(warning_events_total, source)",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
             "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1, "hide": 0, "regex": "", "options": []},
        ]},
        "panels": L.panels,
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(build()['panels'])} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
