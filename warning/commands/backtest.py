"""``warning backtest``: replay recorded events through the pure core (contract in DESIGN.md)."""

from __future__ import annotations

import heapq
import sys
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator

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
#: records a partition buffers at most while the others catch up (the merge of :func:`kafka_records`)
MERGE_BUFFER = 2000


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
    ``[start, end)`` (see :func:`record_time_bounds`, :func:`kafka_records`), tagged with their source."""
    src_of = {topic: src for src, topic in settings.raw_topics().items()}
    for msg in kafka_records(settings, start, end, stats, idle_timeout_s):
        yield _tagged(msg.value or b"", src_of[msg.topic])


def kafka_records(settings, start: float | None, end: float | None, stats: dict[str, int] | None = None,
                  idle_timeout_s: float = 30.0, topics: list[str] | None = None,
                  partitions: Callable[[int, int], bool] | None = None) -> Iterator[Any]:
    """The records (kafka-python ``ConsumerRecord``: topic, partition, key, value, headers,
    timestamp) of ``topics`` (default: the feeds' raw topics) whose record timestamps can hold
    events of ``[start, end)`` (see :func:`record_time_bounds`); ``warning replay`` copies them.

    Each partition is sought with ``offsets_for_times`` to the first record at or after the lower
    bound (exact on Apache Kafka; Tansu answers with the offset of the batch holding it, or −1 past
    the end, and compares with append time — harmless, as every record is also filtered by its
    timestamp) and read until its position passes the end offset it had when the replay started, or
    until a record more than :data:`STOP_SLACK_S` past the upper bound. No consumer group: nothing is committed and the live workers' group is never joined.
    ``stats`` (if given) counts ``read``, ``yielded`` and ``skipped`` (outside the bounds).
    ``partitions(p, n)`` (if given) picks the partitions to read (``n``: the topic's partition count).
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
        for topic in (settings.raw_topics().values() if topics is None else topics):
            ps = sorted(c.partitions_for_topic(topic) or set())
            for p in ps:
                if partitions is None or partitions(p, len(ps)):  # (partition, partitions of the topic)
                    tps.append(TopicPartition(topic, p))
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
        # Records are handed on in record-time order across partitions (a k-way merge): the backtest
        # has one lane per feed (a file has no partitions), so a partition read ahead of the others
        # would make their records late. A record waits until every partition still being read has
        # one buffered; a partition with MERGE_BUFFER records waiting is paused meanwhile.
        bufs: dict[Any, deque] = {tp: deque() for tp in tps}
        # (timestamp, topic, partition, offset, tp) of each non-empty buffer's first record: ties of
        # record time are broken by topic/partition/offset, so the order (and with it instant rules'
        # alerts) is the same in every run and in every job of --jobs N, whatever the fetch timing
        heads: list[tuple[int, str, int, int, Any]] = []
        full: set = set()
        last_progress = time.monotonic()
        while left or heads:
            if left:
                # whole fetches (max_records unbounded): kafka-python loses the rest of a partly returned
                # fetch of a partition paused meanwhile (its records stay parked and it is never fetched again)
                batch = c.poll(timeout_ms=500, max_records=1 << 30)
                if batch:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > idle_timeout_s:
                    raise RuntimeError(f"replay stalled: no records for {idle_timeout_s:.0f} s from "
                                       + ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(left)))
                for tp, msgs in batch.items():
                    if tp not in left:
                        continue
                    buf = bufs[tp]
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
                        if not buf:
                            heapq.heappush(heads, (msg.timestamp, tp.topic, tp.partition, msg.offset, tp))
                        buf.append(msg)
                    if tp in left and c.position(tp) >= stop[tp]:
                        left.discard(tp)
                        c.pause(tp)
                    elif tp in left and len(buf) >= MERGE_BUFFER:
                        full.add(tp)
                        c.pause(tp)
            while heads and all(bufs[tp] for tp in left):
                tp = heapq.heappop(heads)[-1]
                buf = bufs[tp]
                msg = buf.popleft()
                if buf:
                    heapq.heappush(heads, (buf[0].timestamp, tp.topic, tp.partition, buf[0].offset, tp))
                if tp in full and len(buf) < MERGE_BUFFER // 2:
                    full.discard(tp)
                    c.resume(tp)
                st["yielded"] += 1
                last_progress = time.monotonic()  # a slow reader of this generator is not a stalled broker
                yield msg
    finally:
        c.close()


class KafkaInput:
    """A re-readable Kafka input of the backtest runner: the raw topics (:func:`kafka_lines`) or,
    with ``events``, the enriched events of ``topics.events``. Each :meth:`read` opens its own
    consumer (no group, nothing committed), so parallel jobs (``--jobs``) each read; a job of an
    events replay reads only the partitions of its engines (the workers put an event on the
    partition of its street key, as the backtest routes it — when the topic has
    ``kafka.partitions`` partitions; otherwise every job reads all and keeps its own)."""

    total = None  # progress in records, total unknown

    def __init__(self, settings: Any, start: float | None, end: float | None, events: bool = False) -> None:
        self.settings, self.start, self.end, self.events = settings, start, end, events

    @property
    def partitioned(self) -> bool:
        """Jobs read disjoint parts (their progress adds up)."""
        return self.events

    def __iter__(self) -> Iterator[bytes]:
        return self.read()

    def read(self, progress: Callable[[int], None] | None = None, part: tuple[int, int] | None = None) -> Iterator[bytes]:
        from warning.backtest.runner import count_progress

        if not self.events:
            it: Iterator[bytes] = kafka_lines(self.settings, self.start, self.end)
        else:
            keep = None
            if part is not None:
                j, n, engines = part[0], part[1], self.settings.kafka.partitions
                keep = lambda p, count: count != engines or p % n == j  # noqa: E731
            # No time seek: an event's record time is its event time, which is not in order within
            # a partition (the ingest lanes interleave; one feed's backlog can be hours behind
            # another's), so offsets_for_times may skip events of the range (seen on Apache Kafka 4)
            # and no record past the range ends it. Each partition is read whole, to the end offset it
            # had at the start; the runner keeps the events of [start, end) by their event time.
            it = (m.value or b"" for m in kafka_records(self.settings, None, None, topics=[self.settings.topics.events],
                                                       partitions=keep))
        return it if progress is None else count_progress(it, progress)


def _sweep_points(settings: Any, sweeps: tuple[str, ...], labels: str | None) -> list[Any]:
    """The runs of ``--sweep`` (validated before anything runs; see :mod:`warning.backtest.sweep`)."""
    if not sweeps:
        return []
    from warning.backtest.sweep import SweepError, plan

    if not labels:
        raise click.UsageError("--sweep 需要 --labels：每个取值按标注评分 / --sweep needs --labels (each value is scored "
                               "against the labelled incidents)")
    try:
        return plan(settings, sweeps)
    except SweepError as e:
        raise click.BadParameter(str(e), param_hint="--sweep") from None


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
@click.option("--from-events", is_flag=True,
              help="输入为已富化事件（warning.events 记录：--input 文件或 --from-kafka 的 events topic），跳过文本处理，用于试验检测参数 "
                   "input is enriched events (warning.events records: the --input file, or the events topic with --from-kafka); "
                   "no text work — for trying detector changes")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="并行进程数（按分区划分，结果与单进程逐字节一致） parallel processes, by partition (output byte-identical to one process)")
@click.option("--start", default=None, help="事件时间起 event time from (ISO 8601)")
@click.option("--end", default=None, help="事件时间止 event time to, exclusive")
@CONFIG_OPTION
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None, help="标注 labels.jsonl")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2,…",
              help="参数扫描：文本处理只做一次，每个取值重放检测并按标注评分（需 --labels；可重复，取各键组合） "
                   "sweep a detection setting (dotted key, e.g. alerts.false_alert_budget=0.05,0.1,0.2): text work once, "
                   "detectors replayed per value, scored against --labels; repeat for a grid → sweep.json/.md/.png")
@click.option("--keep-events", is_flag=True,
              help="保留扫描写出的富化事件 DIR/events.enriched.jsonl（可用 --from-events 再次扫描） "
                   "keep the sweep's enriched events (reuse with --from-events --input)")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="输出目录 output dir")
@click.option("--quiet", "-q", is_flag=True, help="不显示进度 no progress bar")
def backtest(input_: str | None, from_kafka: bool, from_events: bool, jobs: int, start: str | None, end: str | None,
             config: str | None, labels: str | None, sweeps: tuple[str, ...], keep_events: bool, out_dir: str,
             quiet: bool) -> None:
    """回测 — run the pipeline core over recorded events; write alerts.jsonl (+ report.json).

    \b
    warning backtest --input FILE|--from-kafka --start T --end T [--config F] [--labels F] --out DIR
    warning backtest --from-events --input events.jsonl|--from-kafka [--jobs N] ... --out DIR
    warning backtest ... --labels F --sweep KEY=V1,V2,… [--sweep KEY2=…] --out DIR

    With --labels also report.html (self-contained: metrics, incident timelines, alerts per day and
    district, the sweep).
    """
    from warning.backtest.report import score, write_human_report
    from warning.backtest.runner import iter_lines, progress_total, run, run_events, write_alerts

    if bool(input_) == bool(from_kafka):
        raise click.UsageError("give exactly one of --input FILE or --from-kafka")
    settings = load_or_exit(config or default_config())
    points = _sweep_points(settings, sweeps, labels)
    t_start, t_end = _time(start, "--start"), _time(end, "--end")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = iter_lines(input_) if input_ else KafkaInput(settings, t_start, t_end, events=from_events)
    bar = None
    if not quiet:
        from tqdm import tqdm

        total = progress_total(lines)  # a file: its bytes (so the bar has an ETA); Kafka: records
        tqdm.monitor_interval = 0  # no monitor thread: --jobs forks the process
        bar = tqdm(total=total, unit="B" if total else " rec", unit_scale=True, unit_divisor=1024 if total else 1000,
                   file=sys.stderr, mininterval=1.0, desc="backtest" + (f" ×{jobs}" if jobs > 1 else ""))
    progress = bar.update if bar is not None else None
    from warning.backtest.html_report import label_streets
    from warning.backtest.sweep import watch_kw

    # report.html: the labelled streets' hourly series; the enriched events a sweep replays
    events_file, watch, wrote_events = (Path(input_) if from_events and input_ else None), label_streets(labels), False
    if points:  # the text work once, into an enriched-event file every value replays
        from warning.backtest.sweep import base_run, tqdm_bar
        from warning.streams.app import build_enricher

        alerts, stats, events_file, wrote_events = base_run(
            settings, lines, out / "events.enriched.jsonl", from_events=from_events, start=t_start, end=t_end,
            enricher=None if from_events else build_enricher(settings), progress=progress, jobs=jobs, watch=watch,
            bar=None if quiet else tqdm_bar, input_done=bar.close if bar is not None else None)
    elif from_events:
        alerts, stats = run_events(settings, lines, t_start, t_end, progress=progress, jobs=jobs,
                                   **watch_kw(run_events, watch))
    else:
        from warning.streams.app import build_enricher

        alerts, stats = run(settings, lines, t_start, t_end, enricher=build_enricher(settings), progress=progress, jobs=jobs,
                            **watch_kw(run, watch))
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
        from warning.backtest.sweep import labelled_outputs

        labelled_outputs(out, settings, report, alerts, stats, lambda al: score(al, labs, n_streets=n_streets, days=days),
                         points=points, events_file=events_file, remove_events=bool(points) and wrote_events and not keep_events,
                         start=t_start, end=t_end, jobs=jobs, quiet=quiet, echo=click.echo,
                         meta={"输入 input": Path(input_).name if input_ else "kafka", "区域 region": settings.region.code,
                               "范围 range": f"{start or '…'} – {end or '…'}", "记录 records": stats.records,
                               "接受 accepted": stats.accepted})
