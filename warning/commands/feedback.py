"""``warning feedback`` — sign and send sentiment labels as a configured source.

``warning feedback send --source ID --label negative --text "…"`` (or ``--event-id``) signs the
label with the source's secret (``feedback.sources.<ID>``, from the config / environment) and
produces it to ``topics.feedback``, keyed by the source. ``warning feedback sign --source ID``
signs JSON records from stdin (one a line; ``by`` and ``at`` are filled in) and prints them, for
scripts that produce by other means. The secret is never printed. See
:mod:`warning.core.signed_records` for the signature and :mod:`warning.core.text.feedback_guard`
for what the worker accepts.

``warning feedback alert --alert-id ID --action silence --hours 4 --by NAME --source SRC
[--street S --signal X]`` signs an alert-feedback record (DESIGN.md contract on
``topics.alerts_feedback``) with the key of ``alerts_feedback.sources.<SRC>`` and produces it,
keyed by the alert id — so ops can silence (or mark) an alert without the dashboard.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import orjson

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit
from warning.config import Settings
from warning.core.alert_feedback import ACTION_ZH, ACTIONS, PURPOSE, SOURCE_FIELD, parse_feedback
from warning.core.signed_records import PURPOSE_SENTIMENT_LABEL, sign_record
from warning.core.text.feedback_guard import LABELS


def _key(settings: Settings, source: str) -> bytes:
    if source not in settings.feedback.sources:
        known = ", ".join(sorted(settings.feedback.sources)) or "无 none"
        raise click.ClickException(f"未配置的反馈来源 unknown source {source!r} (configured: {known}); "
                                   f"set WARNING_FEEDBACK__SOURCES__{source.upper()}__SECRET_ENV")
    return settings.feedback.secret_of(source)


def _signed(settings: Settings, source: str, record: dict[str, Any]) -> dict[str, Any]:
    return sign_record({**record, "by": source}, _key(settings, source), time.time(), PURPOSE_SENTIMENT_LABEL)


@click.group()
def feedback() -> None:
    """反馈 — sign and send sentiment labels (warning.feedback) or alert feedback (warning.alerts.feedback: 确认/误报/静默) as a configured source."""


@feedback.command("send")
@CONFIG_OPTION
@click.option("--broker", "-b", default=None, help="Kafka 地址 bootstrap (默认取配置 default: kafka.broker)")
@click.option("--source", "-s", required=True, help="反馈来源 id (feedback.sources 中的键)")
@click.option("--label", "-l", required=True, type=click.Choice(LABELS), help="标注 label")
@click.option("--text", "-t", default=None, help="文本 the text (masked by the worker before learning)")
@click.option("--event-id", "-e", default=None, help="事件 id (the worker must have ingested it recently)")
@click.option("--note", default=None, help="备注 note (signed too)")
def send(config: str | None, broker: str | None, source: str, label: str, text: str | None, event_id: str | None,
         note: str | None) -> None:
    """签名并发送一条标注 — sign one label and produce it to topics.feedback."""
    if (text is None) == (event_id is None):
        raise click.UsageError("give exactly one of --text, --event-id")
    settings = load_or_exit(config or default_config(), broker)
    rec: dict[str, Any] = {"label": label, **({"text": text} if text is not None else {"event_id": event_id})}
    if note:
        rec["note"] = note
    signed = _signed(settings, source, rec)
    from kafka import KafkaProducer

    from warning.streams.topics import bootstrap_servers

    producer = KafkaProducer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), acks="all")
    try:
        md = producer.send(settings.topics.feedback, orjson.dumps(signed), key=source.encode()).get(timeout=30)
    finally:
        producer.close()
    click.echo(f"已发送 sent to {md.topic}[{md.partition}]@{md.offset} by={source} at={signed['at']}")


def _produce(settings: Settings, topic: str, value: bytes, key: bytes) -> Any:
    from kafka import KafkaProducer

    from warning.streams.topics import bootstrap_servers

    producer = KafkaProducer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), acks="all")
    try:
        return producer.send(topic, value, key=key).get(timeout=30)
    finally:
        producer.close()


@feedback.command("alert")
@CONFIG_OPTION
@click.option("--broker", "-b", default=None, help="Kafka 地址 bootstrap (默认取配置 default: kafka.broker)")
@click.option("--alert-id", "-a", required=True, help="预警 id (alert_id)")
@click.option("--action", required=True, type=click.Choice(ACTIONS), help="确认/误报/已处置/静默/解除静默")
@click.option("--hours", type=float, default=None, help="静默小时数 silence hours (action silence)")
@click.option("--by", "by", required=True, help="操作人 who (a person; stored in the record, never logged)")
@click.option("--source", "-s", required=True, help="签名来源 id (alerts_feedback.sources 中的键)")
@click.option("--street", default=None, help="街道代码 street_code (默认取预警的 default: the alert's)")
@click.option("--signal", default=None, help="信号 signal (默认取预警的 default: the alert's)")
@click.option("--note", default=None, help="备注 note (signed too)")
def alert(config: str | None, broker: str | None, alert_id: str, action: str, hours: float | None, by: str,
          source: str, street: str | None, signal: str | None, note: str | None) -> None:
    """签名并发送一条预警反馈 — sign one alert-feedback record and produce it to topics.alerts_feedback."""
    if action == "silence" and hours is None:
        raise click.UsageError("--action silence needs --hours")
    if action != "silence" and hours is not None:
        raise click.UsageError("--hours is only for --action silence")
    settings = load_or_exit(config or default_config(), broker)
    srcs = settings.alerts_feedback.sources
    if source not in srcs:
        known = ", ".join(sorted(srcs)) or "无 none"
        raise click.ClickException(f"未配置的签名来源 unknown source {source!r} (configured: {known}); "
                                   f"set WARNING_ALERTS_FEEDBACK__SOURCES__{source.upper()}__SECRET_ENV")
    rec: dict[str, Any] = {"alert_id": alert_id, "action": action, "by": by, SOURCE_FIELD: source}
    for k, v in (("silence_hours", hours), ("street_code", street), ("signal", signal), ("note", note)):
        if v is not None:
            rec[k] = v
    signed = sign_record(rec, srcs[source].key(), time.time(), PURPOSE, source_field=SOURCE_FIELD)
    try:
        parse_feedback(signed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    md = _produce(settings, settings.topics.alerts_feedback, orjson.dumps(signed), alert_id.encode())
    what = ACTION_ZH[action] + (f" {hours:g} 小时" if hours is not None else "")
    click.echo(f"已发送 {what} sent to {md.topic}[{md.partition}]@{md.offset} alert={alert_id} at={signed['at']}")


@feedback.command("sign")
@CONFIG_OPTION
@click.option("--source", "-s", required=True, help="反馈来源 id (feedback.sources 中的键)")
def sign(config: str | None, source: str) -> None:
    """签名 stdin 中的 JSON 记录 — sign JSON records from stdin (one a line), print them signed."""
    settings = load_or_exit(config or default_config())
    key = _key(settings, source)
    bad = 0
    for n, line in enumerate(sys.stdin.buffer, 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
            rec["by"] = source
            click.echo(orjson.dumps(sign_record(rec, key, time.time(), PURPOSE_SENTIMENT_LABEL)).decode())
        except (orjson.JSONDecodeError, ValueError, TypeError) as e:
            bad += 1
            click.echo(f"line {n}: {e}", err=True)
    if bad:
        sys.exit(1)
