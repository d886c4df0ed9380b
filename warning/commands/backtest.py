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


#: a partition is read on until a record this far past the range's end (producer clocks and
#: batching reorder record timestamps a little; an hour is far beyond that)
STOP_SLACK_S = 3600.0


def record_time_bounds(settings, start: float | None, end: float | None) -> tuple[int | None, int | None]:
    """The Kafka record timestamps (ms) that can hold events of ``[start, end)`` as the stream sees
    them: from ``start`` − ``ingest.max_future_minutes`` (an event may be stamped that far ahead of
    its record) to ``end`` + ``detect.allowed_lateness_minutes`` (a record later than that is late
    in the stream too).

    >>> from warning.config import Settings
    >>> record_time_bounds(Settings(), 1_740_787_200.0, 1_740_873_600.0)
    (1740786600000, 1740874200000)
    """
    lo = None if start is None else int((start - settings.ingest.max_future_minutes * 60) * 1000)
    hi = None if end is None else int((end + settings.detect.allowed_lateness_minutes * 60) * 1000)
    return lo, hi


def kafka_lines(settings, start: float | None, end: float | None, stats: dict[str, int] | None = None,
                idle_timeout_s: float = 30.0) -> Iterator[bytes]:
    """Raw records of the feeds' raw topics whose record timestamps can hold events of
    ``[start, end)`` (see :func:`record_time_bounds`), tagged with their source.

    Each partition is sought with ``offsets_for_times`` to the first record at or after the lower
    bound (exact on Apache Kafka; Tansu answers with the offset of the batch holding it, or −1 past
    the end, and compares with append time — harmless, as every record is also filtered by its
    timestamp) and read until its position passes the end offset it had when the replay started, or
    until a record more than :data:`STOP_SLACK_S` past the upper bound. No consumer group: nothing is committed and the live workers' group is never joined.
    ``stats`` (if given) counts ``read``, ``yielded`` and ``skipped`` (outside the bounds).
    """
    import time

    from kafka import KafkaConsumer, TopicPartition

    from warning.streams.topics import bootstrap_servers

    st = stats if stats is not None else {}
    for k in ("read", "yielded", "skipped"):
        st.setdefault(k, 0)
    lo, hi = record_time_bounds(settings, start, end)
    c = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), group_id=None,
                      enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    try:
        tps: list = []
        src_of = {}
        for src, topic in settings.raw_topics().items():
            for p in sorted(c.partitions_for_topic(topic) or set()):
                tps.append(TopicPartition(topic, p))
            src_of[topic] = src
        if not tps:
            return
        c.assign(tps)
        stop = c.end_offsets(tps)
        if lo is None:
            c.seek_to_beginning(*tps)
        else:
            found = c.offsets_for_times({tp: lo for tp in tps})
            for tp in tps:
                o = found.get(tp)
                c.seek(tp, o.offset if o is not None and o.offset >= 0 else stop[tp])
        left = {tp for tp in tps if c.position(tp) < stop[tp]}
        c.pause(*[tp for tp in tps if tp not in left])
        last_progress = time.monotonic()
        while left:
            batch = c.poll(timeout_ms=500, max_records=2000)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > idle_timeout_s:
                raise RuntimeError(f"replay stalled: no records for {idle_timeout_s:.0f} s from "
                                   + ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(left)))
            for tp, msgs in batch.items():
                if tp not in left:
                    continue
                for msg in msgs:
                    # not cut at the end offset: Tansu's is the base offset of the last batch + 1, and the
                    # records of that batch come in one fetch (the time filter bounds a range anyway)
                    if hi is not None and msg.timestamp >= hi + STOP_SLACK_S * 1000:
                        left.discard(tp)
                        c.pause(tp)
                        break
                    st["read"] += 1
                    if (lo is not None and msg.timestamp < lo) or (hi is not None and msg.timestamp >= hi):
                        st["skipped"] += 1
                        continue
                    st["yielded"] += 1
                    yield _tagged(msg.value or b"", src_of[msg.topic])
                if tp in left and c.position(tp) >= stop[tp]:
                    left.discard(tp)
                    c.pause(tp)
    finally:
        c.close()


def _tagged(v: bytes, source: str) -> bytes:
    """The record with ``"source"`` set (the topic names the source); a non-object as it is (the
    ingest stage dead-letters it with its reason)."""
    try:
        obj = orjson.loads(v)
    except orjson.JSONDecodeError:
        return v
    if isinstance(obj, dict):
        obj["source"] = source
        return orjson.dumps(obj)
    return v


@click.command()
@click.option("--input", "input_", type=click.Path(exists=True, dir_okay=False), help="JSONL 原始事件文件 (每行含 source)")
@click.option("--from-kafka", is_flag=True, help="从 Kafka 原始 topic 读取（有 --start 时按时间定位，不加入消费组、不提交位点） "
              "read the raw topics (sought to --start by record time; no consumer group, nothing committed)")
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
