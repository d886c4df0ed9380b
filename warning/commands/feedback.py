"""``warning feedback`` — sign and send sentiment labels as a configured source.

``warning feedback send --source ID --label negative --text "…"`` (or ``--event-id``) signs the
label with the source's secret (``feedback.sources.<ID>``, from the config / environment) and
produces it to ``topics.feedback``, keyed by the source. ``warning feedback sign --source ID``
signs JSON records from stdin (one a line; ``by`` and ``at`` are filled in) and prints them, for
scripts that produce by other means. The secret is never printed. See
:mod:`warning.core.signed_records` for the signature and :mod:`warning.core.text.feedback_guard`
for what the worker accepts.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import orjson

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit
from warning.config import Settings
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
    """情感标注反馈 — sign and send sentiment labels (warning.feedback) as a configured source."""


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
