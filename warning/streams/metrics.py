"""Prometheus metrics of the worker. No personal data in any label; street labels come only from
the registry (bounded by its size)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from warning.core.signals import LEVEL_ORDER

if TYPE_CHECKING:
    from warning.core.feeds import Feed

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "warning_events_total",
    "事件计数 Raw records by feed, district and outcome (accepted|deadletter|duplicate)",
    ["source", "district", "outcome"],
    registry=REGISTRY,
)
FEED_INFO = Gauge(
    "warning_feed_info",
    "数据源配置 Configured feeds (always 1): source name, Chinese name and raw topic. The alert rules "
    "join on it (WarningFeedAbsent: a configured feed with no accepted events)",
    ["source", "name_zh", "topic"],
    registry=REGISTRY,
)
DEADLETTER = Counter(
    "warning_deadletter_total",
    "死信计数 Records dead-lettered, by feed and machine-readable reason",
    ["source", "reason"],
    registry=REGISTRY,
)
UNRESOLVED = Counter(
    "warning_unresolved_events_total",
    "未定位到街道的事件 Accepted events placed only at district level (or nowhere)",
    ["source", "resolved_by"],
    registry=REGISTRY,
)
PII_MASKED = Counter(
    "warning_pii_masked_total",
    "脱敏计数 Personal-data items masked in event texts, by kind",
    ["kind"],
    registry=REGISTRY,
)
EVENT_LAG = Histogram(
    "warning_event_lag_seconds",
    "事件时间到处理时间 Event time → processed (wall clock), seconds",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 86400, 7 * 86400, float("inf")),
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "warning_ingest_batch_seconds",
    "Time to process one ingest batch",
    registry=REGISTRY,
)
REKEYED = Counter(
    "warning_ingest_rekeyed_total",
    "Raw records read off their id's home partition (keyless or keyed otherwise, e.g. by street)",
    ["source"],
    registry=REGISTRY,
)
INGEST_HELD = Counter(
    "warning_ingest_partitions_held_total",
    "Raw partitions held back by event time while a backlog is read (windows.align_ahead_seconds)",
    registry=REGISTRY,
)
EVENTS_REPEATED = Counter(
    "warning_detect_repeated_events",
    "Events read again on warning.events (ingest re-sent them after a crash): counted once in the street state",
    registry=REGISTRY,
)
DEDUP_IDS = Gauge(
    "warning_dedup_ids",
    "Record ids remembered for duplicate detection (all owned partitions)",
    registry=REGISTRY,
)
LATE = Counter(
    "warning_late_events",
    "迟到事件 Events later than the allowed lateness whose window had closed (counted, kept in the daily rollup)",
    registry=REGISTRY,
)
ALERTS = Counter(
    "warning_alerts",
    "预警计数 Firing alerts emitted, by level, signal and district",
    ["level", "signal", "district"],
    registry=REGISTRY,
)
ALERTS_ACTIVE = Gauge(
    "warning_alerts_active",
    "当前活动预警街道数 Streets whose highest active alert is at this level",
    ["level"],
    registry=REGISTRY,
)
RISK_LEVEL = Gauge(
    "warning_risk_level",
    "街道风险等级 Street risk level: 0 none, " + ", ".join(f"{lv.rank} {lv.name} {lv.short_zh}" for lv in LEVEL_ORDER),
    ["street", "district"],
    registry=REGISTRY,
)
ANOMALY = Gauge(
    "warning_anomaly_score",
    "异常分数 Latest anomaly score of a street's signal (0..1; 0 after resolution)",
    ["street", "signal"],
    registry=REGISTRY,
)
BUDGET_SHARE = Gauge(
    "warning_false_alert_budget_share",
    "误报预算份额 A signal's share of alerts.false_alert_budget (alerts >= yellow per street per 30 days)",
    ["signal"],
    registry=REGISTRY,
)
SIGNAL_THRESHOLD = Gauge(
    "warning_signal_yellow_threshold",
    "校准后的黄色阈值 A signal's calibrated yellow threshold (-log10 p) in one partition",
    ["signal", "partition"],
    registry=REGISTRY,
)
BUDGET_ABOVE = Gauge(
    "warning_false_alert_budget_spent",
    "预算使用 Street-days at or above the calibrated yellow, per street per 30 days (recent, decayed), per partition",
    ["signal", "partition"],
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "warning_notifications",
    "通知结果 Notification outcomes per receiver (ok|retry|permanent|expired|overflow|deadletter)",
    ["receiver", "outcome"],
    registry=REGISTRY,
)
NOTIFICATION_SECONDS = Histogram(
    "warning_notification_seconds",
    "通知耗时 Time of one notification HTTP request, seconds",
    ["receiver"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "warning_consumer_lag",
    "消费积压 Records behind the end of each assigned partition",
    ["topic", "partition"],
    registry=REGISTRY,
)
CONSUMER_RESEEKS = Counter(
    "warning_consumer_reseeks",
    "重读跳过的位点 Times the consumer skipped offsets of a partition and was sought back to read them (rebalances)",
    ["topic"],
    registry=REGISTRY,
)
CONSUMER_OFFSETS_SKIPPED = Counter(
    "warning_consumer_offsets_skipped",
    "跳过不存在的位点 Offsets of a partition skipped because repeated seeks showed they are not on the broker "
    "(transaction markers of an outside producer, records deleted by retention)",
    ["topic"],
    registry=REGISTRY,
)
EVENTS_UNPROCESSED = Gauge(
    "warning_events_unprocessed",
    "未处理事件 Events on warning.events not yet read into the detection engine (highwater − next offset), "
    "per partition. Unlike warning_consumer_lag (commit lag: acks wait for the reorder buffer), it falls "
    "to ≈0 as soon as detection has caught up",
    ["partition"],
    registry=REGISTRY,
)
REORDER_BUFFERED = Gauge(
    "warning_reorder_buffered",
    "乱序缓冲事件数 Events waiting in the reorder buffer for the watermark (bounded by windows.max_buffered)",
    ["partition"],
    registry=REGISTRY,
)
WATERMARK_DELAY = Gauge(
    "warning_watermark_delay_seconds",
    "水位线延迟 Wall clock − watermark of the partition's detection engine, seconds",
    ["partition"],
    registry=REGISTRY,
)
REORDER_FORCED = Counter(
    "warning_reorder_forced",
    "乱序缓冲溢出 Times a full reorder buffer (windows.max_buffered) released its oldest events by moving the watermark",
    ["partition"],
    registry=REGISTRY,
)
DETECT_UNACKED = Gauge(
    "warning_detect_unacked_events",
    "未确认事件 Events of warning.events held unacked by detection (buffered, or done and waiting for the "
    "next checkpoint); at windows.max_unacked the worker stops taking input until a checkpoint",
    registry=REGISTRY,
)
FEEDBACK = Counter(
    "warning_feedback",
    "情感标注反馈 Feedback labels on warning.feedback, by outcome (learned|ignored|invalid|unknown_event|disabled|"
    "unsigned|unknown_source|bad_signature|bad_time|stale|future|replay|capped|rate_limited|error)",
    ["outcome"],
    registry=REGISTRY,
)

NOTIFICATIONS_SILENCED = Counter(
    "warning_notifications_silenced",
    "静默未发送 Alerts not delivered because their street+signal is silenced (still on warning.alerts), by signal",
    ["signal"],
    registry=REGISTRY,
)
ALERT_FEEDBACK = Counter(
    "warning_alert_feedback",
    "告警反馈 Records on warning.alerts.feedback as the delivery silences judged them, by outcome "
    "(silenced|unsilenced|expired|superseded|ignored|unknown_alert|replay|invalid|disabled|unsigned|"
    "unknown_source|bad_signature|bad_time|stale|future|error); every deliver worker reads every record",
    ["outcome"],
    registry=REGISTRY,
)


def set_feed_info(feeds: Mapping[str, "Feed"]) -> None:
    """Export ``warning_feed_info{source, name_zh, topic} 1`` for exactly these feeds (configuration
    only, no personal data); series of feeds no longer configured are removed."""
    FEED_INFO.clear()
    for name, feed in feeds.items():
        FEED_INFO.labels(source=name, name_zh=feed.name_zh, topic=feed.topic).set(1)

# the shared delivery budget of rate-limited receivers (warning/streams/budget.py)
HANDED_ON = Counter(
    "warning_notifications_handed_on",
    "移交共享限额 Alerts handed on to the worker holding a rate-limited receiver's budget, per receiver",
    ["receiver"],
    registry=REGISTRY,
)
BUDGET_OWNED = Gauge(
    "warning_notification_budget_owned",
    "限额归属 1 for each rate-limited receiver whose shared budget this worker holds now (sum over workers: 1)",
    ["receiver"],
    registry=REGISTRY,
)
BUDGET_PARTITIONS = Gauge(
    "warning_notification_budget_partitions",
    "限额分区 Partitions of the budget topic this worker owns now (sum over workers: the partition count)",
    registry=REGISTRY,
)
BUDGET_REPEATS = Counter(
    "warning_notification_budget_repeats_skipped",
    "重复移交未再发送 Hand-ons not sent again: the same notification was taken by this owner or sent by its predecessor",
    ["receiver"],
    registry=REGISTRY,
)
BUDGET_RESTORED = Counter(
    "warning_notification_budget_restored",
    "接管已用额度 Messages of a previous budget owner still inside the window when this worker took the receiver over",
    ["receiver"],
    registry=REGISTRY,
)
