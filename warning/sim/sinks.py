"""Where simulated records go: JSONL files and/or the raw Kafka topics (optionally paced)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Iterable

import orjson

from warning.sim.generator import FEEDS, SOURCES, DayStats, Simulator
from warning.sim.incidents import KINDS

log = logging.getLogger(__name__)


class DirSink:
    """``DIR/events.jsonl`` (all feeds, each record with ``source``), ``DIR/labels.jsonl``,
    ``DIR/summary.json``. Written to temporary names and renamed at the end, so a reader never
    sees a half-written file under the final name."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._tmp = self.dir / "events.jsonl.part"
        self._fh = open(self._tmp, "wb", buffering=1 << 20)

    def write_day(self, records: list[dict]) -> None:
        dumps = orjson.dumps
        self._fh.write(b"".join([dumps(r) + b"\n" for r in records]))

    def write_record(self, rec: dict) -> None:
        self._fh.write(orjson.dumps(rec) + b"\n")

    def close(self, labels: list[dict], summary: dict) -> None:
        self._fh.close()
        self._tmp.replace(self.dir / "events.jsonl")
        (self.dir / "labels.jsonl").write_bytes(b"".join(orjson.dumps(lb) + b"\n" for lb in labels))
        (self.dir / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def broker_hosts(url: str) -> list[str]:
    """``kafka://h1:9092;kafka://h2:9092`` → ``["h1:9092", "h2:9092"]``.

    >>> broker_hosts("kafka://127.0.0.1:9092")
    ['127.0.0.1:9092']
    """
    out = []
    for part in url.replace(",", ";").split(";"):
        part = part.strip()
        if part:
            out.append(part.split("://", 1)[1] if "://" in part else part)
    return out


def raw_topics(settings) -> dict[str, str]:
    """source → raw topic for every simulated feed: the configured one (``settings.raw_topics()``),
    else — a feed the configuration left out — the built-in descriptor's.

    >>> from warning.config import load_settings
    >>> raw_topics(load_settings(None, env={"WARNING_FEEDS__GRID__TOPIC": "x.grid"}))["grid"]
    'x.grid'
    """
    return {**{s: f.topic for s, f in FEEDS.items()}, **settings.raw_topics()}


class KafkaSink:
    """Produces raw records (without ``source``: the topic names it) keyed by street code (else id)."""

    def __init__(self, hosts: list[str], topics: dict[str, str], *, client_id: str = "warning-sim",
                 linger_ms: int = 20, batch_size: int = 256 * 1024, max_request_size: int = 2 * 1024 * 1024,
                 event_timestamps: bool = False) -> None:
        from kafka import KafkaProducer

        self.topics = topics
        self.event_timestamps = event_timestamps
        self.producer = KafkaProducer(
            bootstrap_servers=hosts, client_id=client_id, linger_ms=linger_ms, batch_size=batch_size,
            max_request_size=max_request_size, acks=1, retries=5,
        )
        self.sent = 0
        self.errors = 0

    def _err(self, exc: BaseException) -> None:
        self.errors += 1
        if self.errors <= 5:
            log.error("kafka send failed: %s", exc)

    def send(self, rec: dict, ts: int) -> None:
        src = rec["source"]
        body = {k: v for k, v in rec.items() if k != "source"}
        key = rec.get("street_code") or rec.get("id") or ""
        fut = self.producer.send(
            self.topics[src], value=orjson.dumps(body), key=str(key).encode("utf-8"),
            timestamp_ms=ts * 1000 if self.event_timestamps else None,
        )
        fut.add_errback(self._err)
        self.sent += 1

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def run(sim: Simulator, *, dir_sink: DirSink | None = None, kafka: KafkaSink | None = None,
        speed: float = 0.0, progress: Callable[[DayStats, float], None] | None = None,
        ) -> dict:
    """Generate every day and hand it to the sinks; returns the summary (deterministic content)."""
    p = sim.p
    days: list[dict] = []
    totals = {s: 0 for s in SOURCES}
    bad = 0
    t_wall0 = time.monotonic()
    try:
        for stats, records, times in sim.iter_days():
            if dir_sink is not None:
                dir_sink.write_day(records)
            if kafka is not None:
                _produce(kafka, records, times, p.start, speed, t_wall0)
            for s in SOURCES:
                totals[s] += stats.counts[s]
            bad += stats.bad
            days.append({"date": stats.date, "counts": stats.counts, "expected": stats.expected,
                         "incident_events": stats.incident_events, "bad_records": stats.bad})
            if progress is not None:
                progress(stats, time.monotonic() - t_wall0)
    except BaseException:
        if dir_sink is not None:
            dir_sink.abort()
        raise
    finally:
        if kafka is not None:
            kafka.close()
    labels = sim.labels()
    by_kind = {k: 0 for k in KINDS}
    for inc in sim.incidents:
        by_kind[inc.kind] += 1
    summary = {
        "params": {"start": _iso(p.start), "end": _iso(p.end), "days": p.days, "seed": p.seed, "scale": p.scale,
                   "region": p.region, "incidents_per_week": p.incidents_per_week,
                   "warmup_days": p.warmup_s / 86400, "bad_fraction": p.bad_fraction,
                   "cluster_rate": p.cluster_rate, "weather": p.weather},
        "records": sum(totals.values()),
        "by_source": totals,
        "bad_records": bad,
        "incidents": {"n": len(sim.incidents), "by_kind": by_kind,
                      "events_by_source": _sum_counts(inc.counts() for inc in sim.incidents)},
        "labels": len(labels),
        # city-wide weather days: more calls on every street, NOT incidents (no label)
        "weather_days": sim.weather_info(),
        "per_day": days,
    }
    if dir_sink is not None:
        dir_sink.close(labels, summary)
    return summary


def _sum_counts(items: Iterable[dict[str, int]]) -> dict[str, int]:
    out = {s: 0 for s in SOURCES}
    for c in items:
        for k, v in c.items():
            out[k] += v
    return out


def _iso(ts: int) -> str:
    from warning.core.timeutil import iso

    return iso(ts)


def _produce(kafka: KafkaSink, records: list[dict], times: list[int], t_start: int, speed: float,
             t_wall0: float) -> None:
    """Send one day's records; with ``speed`` K > 0 an event at ``t`` leaves at (t − start) / K
    seconds after the run began (K = 1: real time)."""
    for rec, ts in zip(records, times):
        if speed > 0:
            delay = t_wall0 + (ts - t_start) / speed - time.monotonic()
            if delay > 0.005:
                time.sleep(delay)
        kafka.send(rec, ts)
