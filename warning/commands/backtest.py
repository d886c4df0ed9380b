"""``warning backtest``: replay recorded events through the pure core (contract in DESIGN.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import click
import orjson

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit
from warning.core.timeutil import parse_time


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(value).timestamp()
    except ValueError as e:
        raise click.BadParameter(f"{e} (ISO 8601 with offset, e.g. 2025-03-01T00:00:00+08:00)", param_hint=name)


def kafka_lines(settings, start: float | None, end: float | None) -> Iterator[bytes]:
    """Raw records from the three raw topics, from the beginning, tagged with their source."""
    from kafka import KafkaConsumer, TopicPartition

    from warning.streams.topics import bootstrap_servers

    c = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), enable_auto_commit=False,
                      consumer_timeout_ms=3000, max_partition_fetch_bytes=4 * 1024 * 1024)
    tps = []
    src_of = {}
    for src, topic in settings.raw_topics().items():
        parts = c.partitions_for_topic(topic) or set()
        for p in sorted(parts):
            tps.append(TopicPartition(topic, p))
        src_of[topic] = src
    c.assign(tps)
    c.seek_to_beginning(*tps)
    for msg in c:
        v = msg.value or b""
        try:
            obj = orjson.loads(v)
        except orjson.JSONDecodeError:
            yield v
            continue
        if isinstance(obj, dict):
            obj["source"] = src_of[msg.topic]
            yield orjson.dumps(obj)
        else:
            yield v
    c.close()


@click.command()
@click.option("--input", "input_", type=click.Path(exists=True, dir_okay=False), help="JSONL 原始事件文件 (每行含 source)")
@click.option("--from-kafka", is_flag=True, help="从 Kafka 原始 topic 起点读取 read the raw topics from the beginning")
@click.option("--start", default=None, help="事件时间起 event time from (ISO 8601)")
@click.option("--end", default=None, help="事件时间止 event time to, exclusive")
@CONFIG_OPTION
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None, help="标注 labels.jsonl")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="输出目录 output dir")
@click.option("--quiet", "-q", is_flag=True, help="不显示进度 no progress bar")
def backtest(input_: str | None, from_kafka: bool, start: str | None, end: str | None, config: str | None,
             labels: str | None, out_dir: str, quiet: bool) -> None:
    """回测 — run the pipeline core over recorded events; write alerts.jsonl (+ report.json).

    \b
    warning backtest --input FILE|--from-kafka --start T --end T [--config F] [--labels F] --out DIR
    """
    from warning.backtest.report import score, write_human_report
    from warning.backtest.runner import iter_lines, run, write_alerts
    from warning.streams.app import build_enricher

    if bool(input_) == bool(from_kafka):
        raise click.UsageError("give exactly one of --input FILE or --from-kafka")
    settings = load_or_exit(config or default_config())
    t_start, t_end = _time(start, "--start"), _time(end, "--end")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = iter_lines(input_) if input_ else kafka_lines(settings, t_start, t_end)
    enricher = build_enricher(settings)
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(unit=" rec", unit_scale=True, file=sys.stderr, mininterval=1.0, desc="backtest")
    alerts, stats = run(settings, lines, t_start, t_end, enricher=enricher, progress=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
    write_alerts(out / "alerts.jsonl", alerts)
    firing = sum(1 for a in alerts if a["status"] == "firing")
    click.echo(f"records={stats.records} accepted={stats.accepted} dead_lettered={sum(stats.dead_lettered.values())} "
               f"duplicates={stats.duplicates} late={stats.late} alerts={len(alerts)} firing={firing} "
               f"seconds={stats.seconds:.1f} records_per_s={stats.records / max(stats.seconds, 1e-9):,.0f}", err=True)
    if labels:
        from warning.core.registry import Registry

        labs = [orjson.loads(l) for l in Path(labels).read_bytes().splitlines() if l.strip()]
        if t_start is not None and t_end is not None:
            days = (t_end - t_start) / 86400.0
        else:
            ts = [parse_time(a["starts_at"]).timestamp() for a in alerts] or [0.0]
            evs = [parse_time(l["start"]).timestamp() for l in labs] + ts
            days = max((max(evs) - min(evs)) / 86400.0, 1.0)
            if stats.first_ts is not None and stats.last_ts is not None:
                days = max((stats.last_ts - stats.first_ts) / 86400.0, 1.0)
        n_streets = len(Registry.load(settings.region.code).streets)
        report = score(alerts, labs, n_streets=n_streets, days=days, budget=stats.budget)
        (out / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        write_human_report(out, report, alerts)
        click.echo(f"recall={report['recall']} precision={report['precision']} "
                   f"false_alerts_per_street_30d={report['false_alerts_per_street_30d']} "
                   f"median_lead_hours={report['median_lead_hours']} "
                   f"median_lead_hours_ramped={report['median_lead_hours_ramped']} n_incidents={report['n_incidents']} "
                   f"n_alerts={report['n_alerts']}")
