"""``warning simulate``: labelled synthetic feeds (hotline, petitions, public safety, grid reports)
for backtests and demos."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import click

from warning.core.timeutil import BEIJING, iso, parse_time


def _parse_start(value: str) -> tuple[int, bool]:
    """``now`` | ISO 8601 (offset optional, Beijing assumed) | ``YYYY-MM-DD`` → (epoch s, is_now)."""
    v = value.strip()
    if v.lower() == "now":
        return int(time.time()), True
    try:
        if len(v) == 10:
            dt = datetime.fromisoformat(v).replace(tzinfo=BEIJING)
        else:
            try:
                dt = parse_time(v)
            except ValueError:
                dt = datetime.fromisoformat(v).replace(tzinfo=BEIJING)
    except ValueError:
        raise click.BadParameter(f"expected 'now', YYYY-MM-DD or ISO 8601 time, got {value!r}") from None
    return int(dt.timestamp()), False


@click.command("simulate")
@click.option("--start", "start_s", required=True, metavar="T",
              help="First event time: 'now', YYYY-MM-DD (00:00 Beijing) or ISO 8601.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Length of the simulated period in days.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same args → same files).")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="1 ≈ Beijing's real volume: ~66k hotline, ~3k petitions, ~15k 110 events, ~8k grid reports a day.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write DIR/events.jsonl, DIR/labels.jsonl, DIR/summary.json.")
@click.option("--to-kafka", is_flag=True, help="Produce raw records to the feeds' raw topics (warning.raw.<source>).")
@click.option("--broker", default=None, help="Kafka bootstrap, e.g. kafka://127.0.0.1:9092 (default: config kafka.broker).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="YAML config file.")
@click.option("--speed", type=click.FloatRange(min=0), default=None,
              help="Replay K× real time to Kafka (0 = as fast as possible; default 1 with --start now, else 0).")
@click.option("--incidents-per-week", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Incidents of each kind per week (at least one of each when > 0; 0 = none).")
@click.option("--warmup-days", type=click.FloatRange(min=0), default=None,
              help="No incidents in the first N days (default: min(7, days // 4)).")
@click.option("--bad-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of deliberately malformed records (dead-letter testing).")
@click.option("--cluster-rate", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Benign bursts (2–4 questions about a posted notice) per street per day.")
@click.option("--weather/--no-weather", default=True, show_default=True,
              help="A city-wide weather day per 30 days in runs of ≥ 7 days (暴雪/暴雨/大风: every street's "
                   "weather-related calls rise 1.5–3× for 12–24 h; no label — a false-alert trap).")
@click.option("--kafka-timestamp", type=click.Choice(["produce", "event"]), default="produce", show_default=True,
              help="Kafka record timestamp: produce time (safe with retention) or the event time.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def simulate(start_s, days, seed, scale, out_dir, to_kafka, broker, config_path, speed, incidents_per_week,
             warmup_days, bad_fraction, cluster_rate, weather, kafka_timestamp, quiet) -> None:
    """模拟四路事件流（含标注的风险事件）— simulated feeds with labelled incidents.

    \b
    Events of the 12345 hotline, petitions, 110/public-safety events and grid-member reports
    (网格员上报) over every street of the region (real names and codes), with daily/weekly/seasonal
    profiles (heating season, Spring Festival, holidays), varied Chinese texts with some personal
    data, and injected incidents (category_surge, group_petition, slow_buildup, sentiment_turn,
    extreme_threat, multi_source) written to labels.jsonl. Runs of 7 days or more also get a
    city-wide weather day (unlabelled: a false-alert trap) named in summary.json and on stderr.
    Deterministic by --seed.

    \b
    Examples:
      warning simulate --start 2024-11-01 --days 30 --seed 7 --out sim/nov
      warning simulate --start now --days 1 --scale 0.1 --to-kafka
    """
    from warning.config import ConfigError, load_settings
    from warning.sim.generator import SOURCES, SimParams, Simulator
    from warning.sim.sinks import DirSink, KafkaSink, broker_hosts, raw_topics, run

    if not out_dir and not to_kafka:
        raise click.UsageError("give --out DIR and/or --to-kafka")
    try:
        settings = load_settings(config_path)
    except ConfigError as e:
        click.echo(str(e), err=True)
        sys.exit(2)
    start, is_now = _parse_start(start_s)
    if speed is None:
        speed = 1.0 if (is_now and to_kafka) else 0.0
    if is_now and to_kafka and speed != 1.0:
        click.echo("note: --start now with --speed ≠ 1: event times run ahead of or behind the clock", err=True)
    params = SimParams(start=start, days=days, seed=seed, scale=scale, region=settings.region.code,
                       incidents_per_week=incidents_per_week, warmup_days=warmup_days,
                       bad_fraction=bad_fraction, cluster_rate=cluster_rate, weather=weather)
    t0 = time.monotonic()
    sim = Simulator(params)
    dir_sink = DirSink(out_dir) if out_dir else None
    kafka = None
    if to_kafka:
        url = broker or settings.kafka.broker
        k = settings.kafka
        kafka = KafkaSink(broker_hosts(url), raw_topics(settings), client_id=f"{k.client_id}-simulate",
                          linger_ms=max(k.producer_linger_ms, 20), batch_size=max(k.producer_max_batch_size, 256 * 1024),
                          max_request_size=k.max_request_size, event_timestamps=kafka_timestamp == "event")

    def progress(stats, elapsed):
        if not quiet:
            counts = "  ".join(f"{s} {stats.counts[s]:>7,}" for s in SOURCES)
            click.echo(f"{stats.date}  {counts}  incident events {stats.incident_events:>4}  [{elapsed:6.1f} s]",
                       err=True)

    if not quiet:
        click.echo(f"simulating {iso(params.start)} … {iso(params.end)}  seed {seed}  scale {scale}  "
                   f"incidents {len(sim.incidents)}", err=True)
    try:
        summary = run(sim, dir_sink=dir_sink, kafka=kafka, speed=speed, progress=progress)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    elapsed = time.monotonic() - t0
    n = summary["records"]
    by = summary["by_source"]
    click.echo(f"{n:,} records ({', '.join(f'{by[s]:,} {s}' for s in SOURCES)}), {summary['incidents']['n']} incidents "
               f"{summary['incidents']['by_kind']} in {elapsed:.1f} s ({n / max(elapsed, 1e-9):,.0f} records/s)"
               + (f" → {out_dir}" if out_dir else "")
               + (f"; kafka sent {kafka.sent:,}, errors {kafka.errors}" if kafka else ""), err=True)
    for w in summary.get("weather_days", ()):
        click.echo(f"weather day {w['date']} {w['kind']} ({w['start']} … {w['end']}, ×{w['multiplier']} on "
                   f"{'/'.join(w['categories'])}, {w['extra_records']:,} extra calls, no label)", err=True)
    if kafka is not None and kafka.errors:
        sys.exit(1)
