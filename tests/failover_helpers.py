"""Several ``warning worker`` processes in one consumer group, fed simulated records (issue 13):
shared by ``tests/test_failover.py`` and ``bench/failover.py``.

* :class:`Cluster` — workers as subprocesses (own web port and data dir each), their ``/healthz``,
  kill -9, "every partition owned" waits.
* :func:`routed` / :func:`sentinels` — raw records with the raw partition each is produced to:
  the partition of its street (the key the events topic uses), so each detection engine's
  watermark lanes are (feed, raw partition = the engine's, home partition of the id) — 4 × N per
  engine — and one sentinel record per lane, after the data by more than the replay lateness,
  closes every window the data opened (the stream and the backtest then agree on every alert
  before the sentinels).
* :class:`Feeder` — produces routed records in file order at a pace, calling hooks on the way
  (kill a worker, start one).
* readers of the alerts topic, of the events topic (distinct events per partition) and of the
  detection changelog (each partition's last checkpointed counters).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from warning.brokers.base import free_port
from warning.config import Settings
from warning.core.events import EVENT_DECODER
from warning.core.ingest import Rejected
from warning.core.pipeline import Pipeline, partition_for_bytes
from warning.core.registry import Registry
from warning.core.timeutil import BEIJING

from worker_proc import Worker, isolated_env

__all__ = [
    "Cluster", "Feeder", "INSTANT_SIGNALS", "REPLAY_LATENESS_MIN", "Routed", "SENTINEL_PREFIX", "alert_key", "arrival_order_only",
    "changelog_counts", "comparable", "create_topics", "topic_backtest",
    "event_counts", "failover_env", "healthz", "read_alerts", "routed", "sentinel_time", "sentinels",
]

SENTINEL_PREFIX = "sentinel-"


#: allowed lateness (minutes of event time) for replays through several workers, see failover_env
REPLAY_LATENESS_MIN = 720


def failover_env(tmp_path: Path, broker_url: str, prefix: str, partitions: int = 12,
                 lateness_min: int = REPLAY_LATENESS_MIN, **extra: str) -> dict[str, str]:
    """The tests' isolated env for a group of workers on ``partitions`` partitions.

    Group timeouts: a member is declared dead ``session_timeout`` after its last heartbeat (the
    first part of any takeover); 4 s keeps a worker starved of CPU on a shared machine from being
    evicted now and then. The wall-clock idle flush stays well above a takeover's pause.

    Allowed lateness: a detection engine's watermark is its slowest *seen* lane's (feed × raw
    partition × hand-on partition), and a lane seen for the first time does not hold it back. With
    several workers the lanes through one worker's hand-on partitions start a second or two after
    the others' — minutes to hours of event time in a replay at hundreds of records a second (a
    simulated day takes seconds), which at the production lateness (10 min) makes their first
    events late, unlike in the backtest. A replay through several workers therefore needs a
    lateness above that skew (the backtest gets the same setting; in real time a second is a second).
    """
    env = isolated_env(tmp_path, broker_url, prefix=prefix)
    env.update({
        "WARNING_KAFKA__PARTITIONS": str(partitions),
        "WARNING_KAFKA__SESSION_TIMEOUT_S": "4",
        "WARNING_KAFKA__HEARTBEAT_INTERVAL_S": "0.5",
        "WARNING_KAFKA__REBALANCE_TIMEOUT_S": "20",
        "WARNING_WINDOWS__IDLE_FLUSH_SECONDS": "60",
        "WARNING_DETECT__ALLOWED_LATENESS_MINUTES": str(lateness_min),
    })
    env.update(extra)
    return env


def create_topics(settings: Settings) -> None:
    """The pipeline's topics, ``warning.events`` kept forever: its records carry their *event* time
    (simulated data from 2025), and a broker's time retention (7 days) would delete them within
    minutes of the run — and with them the events a takeover must read again."""
    from kafka_helpers import create_topics as create
    from warning.streams.topics import bootstrap_servers, ensure_topics

    create(bootstrap_servers(settings.kafka.broker)[0], [settings.topics.events], settings.kafka.partitions,
           configs={"retention.ms": "-1"})
    ensure_topics(settings)


def healthz(url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:
        return None


class Cluster:
    """Named ``warning worker`` subprocesses sharing one env (one consumer group)."""

    def __init__(self, env: dict[str, str], workdir: Path, partitions: int) -> None:
        self.env = env
        self.workdir = workdir
        self.partitions = partitions
        self.workers: dict[str, Worker] = {}

    def start(self, name: str, **extra: str) -> Worker:
        env = dict(self.env, WARNING_WORKER__WEB_PORT=str(free_port()),
                   WARNING_WORKER__DATA_DIR=str(self.workdir / name), **extra)
        w = Worker(env, self.workdir / f"{name}.log").start()
        self.workers[name] = w
        return w

    def live(self) -> dict[str, Worker]:
        return {n: w for n, w in self.workers.items() if w.proc is not None and w.proc.poll() is None}

    def health(self) -> dict[str, dict[str, Any] | None]:
        return {n: healthz(w.web) for n, w in self.live().items()}

    def kill9(self, name: str) -> float:
        """SIGKILL ``name`` (its process group); returns the wall-clock time of the kill."""
        t = time.time()
        self.workers[name].kill9()
        return t

    def settled(self) -> dict[str, dict[str, Any]] | None:
        """Every live worker's ``/healthz``, when all are in one settled generation (not
        rebalancing) and together they own every partition once; else None."""
        hs = self.health()
        if not hs or any(h is None or h.get("fenced") or h.get("generation") is None for h in hs.values()):
            return None
        if len({h["generation"] for h in hs.values()}) != 1:  # type: ignore[index]
            return None
        parts = sorted(p for h in hs.values() for p in h["assigned"])  # type: ignore[index]
        if parts != list(range(self.partitions)) or any(not h["assigned"] for h in hs.values()):  # type: ignore[index]
            return None
        return hs  # type: ignore[return-value]

    def owned(self) -> dict[str, list[int]] | None:
        """Worker → its assigned partitions, when :meth:`settled`; else None."""
        hs = self.settled()
        return None if hs is None else {n: h["assigned"] for n, h in hs.items()}

    def wait_owned(self, timeout: float = 120.0, every: float = 0.3) -> dict[str, list[int]]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.owned()
            if got is not None:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions not owned by the live workers after {timeout:.0f} s: "
                                   f"{self.health()}\n{self.log_tails()}")
            dead = [n for n, w in self.workers.items() if w.proc is not None and w.proc.poll() not in (None, -9)]
            if dead:
                raise RuntimeError(f"worker(s) {dead} exited:\n{self.log_tails()}")
            time.sleep(every)

    def log_tails(self, n: int = 25) -> str:
        return "\n".join(f"--- {name}\n{w.log_tail(n)}" for name, w in self.workers.items())

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop(graceful=False)


@dataclass(frozen=True)
class Routed:
    """One raw record as produced: its topic's feed, partition, key and value."""

    source: str
    partition: int
    key: bytes | None
    value: bytes
    id: str


def routed(settings: Settings, lines: Iterable[bytes]) -> list[Routed]:
    """The records of a simulator file (JSONL with ``source``) with the raw partition each goes to:
    the partition of its event's key (the street, resolved as ingest resolves it), keyed by it;
    a record ingest rejects goes to its id's partition."""
    n = settings.kafka.partitions
    ing = Pipeline.from_settings(settings).ingestor
    out = []
    for line in lines:
        source, ev = ing.parse_file_line(line)
        rec = orjson.loads(line)
        rec.pop("source", None)
        rid = str(rec.get("id"))
        if isinstance(ev, Rejected):
            key = None
            part = partition_for_bytes(rid.encode(), n)
        else:
            key = ev.key.encode()
            part = partition_for_bytes(key, n)
        out.append(Routed(source, part, key, orjson.dumps(rec), rid))
    return out


_SENTINEL_BODIES: dict[str, dict[str, Any]] = {
    "hotline": {"type": "咨询", "category": "其他", "content": "咨询办事时间"},
    "petition": {"form": "网上", "people_count": 1, "category": "其他", "content": "咨询政策"},
    "public_safety": {"event_type": "求助", "severity": 1},
    "grid": {"issue_type": "市容秩序", "urgency": 1, "content": "日常巡查未发现问题"},
}


def sentinels(settings: Settings, when: datetime, tag: str = "") -> list[dict[str, Any]]:
    """Records (with ``source``) at ``when`` for every watermark lane of every detection engine:
    engine partition e (the street's) × feed × home partition h of the id; produced to raw
    partition e (:func:`routed` puts them there). A few per street, so none alerts before ``when``."""
    from warning.sim.generator import TIME_FIELD

    n = settings.kafka.partitions
    streets = sorted(Registry.load(settings.region.code).streets)
    by_part: dict[int, list[str]] = {e: [c for c in streets if partition_for_bytes(c.encode(), n) == e] for e in range(n)}
    t = when.astimezone(BEIJING).isoformat(timespec="seconds")
    recs = []
    for e in range(n):
        k = 0
        for src in settings.feeds:
            body = _SENTINEL_BODIES.get(src)
            if body is None:
                raise ValueError(f"no sentinel body for feed {src!r}")
            for h in range(n):
                rid = next(f"{SENTINEL_PREFIX}{tag}{src}-{e}-{h}-{i}" for i in range(10_000)
                           if partition_for_bytes(f"{SENTINEL_PREFIX}{tag}{src}-{e}-{h}-{i}".encode(), n) == h)
                street = by_part[e][k % len(by_part[e])]
                k += 1
                extra = {"grid_id": street + "001"} if src == "grid" else {}
                recs.append({"source": src, "id": rid, "street_code": street, TIME_FIELD[src]: t, **body, **extra})
    return recs


class Feeder:
    """Produces routed records in order to ``<topic of feed>`` partitions, ``per_s`` records a
    second (0: as fast as the producer goes); ``at`` maps a record index to a hook called before
    that record is produced (the producer is flushed first, so everything before it is on the broker).
    A record the broker did not take fails the feed, naming it: a record lost here is not one the
    workers lost."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.topics = topics
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, batch_size=128 * 1024,
                                      acks="all", max_in_flight_requests_per_connection=1, retries=5)
        self.sent = 0

    def feed(self, records: list[Routed], per_s: float = 0.0, at: dict[int, Callable[[], None]] | None = None) -> None:
        at = at or {}
        t0 = time.monotonic()
        sends: list[tuple[Routed, Any]] = []
        for i, r in enumerate(records):
            hook = at.get(i)
            if hook is not None:
                self.producer.flush(60)
                hook()
                t0 = time.monotonic() - (i / per_s if per_s else 0.0)  # keep the pace after a slow hook
            sends.append((r, self.producer.send(self.topics[r.source], value=r.value, key=r.key, partition=r.partition)))
            self.sent += 1
            if per_s and i % 50 == 49:
                ahead = t0 + (i + 1) / per_s - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        self.producer.flush(60)
        failed = [(r, f.exception) for r, f in sends if not f.succeeded()]
        if failed:
            raise AssertionError(f"the feeder could not produce {len(failed)} of {len(sends)} records, e.g. "
                                 f"{[(f'{r.source}[{r.partition}]', r.id, repr(e)) for r, e in failed[:5]]}")

    def close(self) -> None:
        self.producer.close(5)


def _consume(bootstrap: str, topic: str, partitions: int) -> Iterator[list[Any]]:
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                      client_id="warning-tests", fetch_max_wait_ms=200)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        while True:
            batch = c.poll(timeout_ms=300)
            yield [m for recs in batch.values() for m in recs]
    finally:
        c.close()


def read_alerts(bootstrap: str, topic: str, partitions: int, until: Callable[[list[dict]], bool] | None = None,
                settle_s: float = 6.0, timeout: float = 120.0) -> list[dict]:
    """Alerts on ``topic`` (all, with at-least-once repeats), read until ``until(alerts)`` holds and
    none arrived for ``settle_s`` — or ``timeout``."""
    out: list[dict] = []
    last = time.monotonic()
    deadline = time.monotonic() + timeout
    for msgs in _consume(bootstrap, topic, partitions):
        for m in msgs:
            out.append(orjson.loads(m.value))
            last = time.monotonic()
        now = time.monotonic()
        if now > deadline or ((until is None or until(out)) and now - last > settle_s):
            return out
    return out


def event_counts(bootstrap: str, topic: str, partitions: int, expected: int, timeout: float = 60.0,
                 idle_s: float = 3.0) -> dict[int, set[str]]:
    """Distinct event ids (no sentinels) on each partition of the events topic, read until
    ``expected`` distinct ones arrived and none for ``idle_s`` — or ``timeout``."""
    ids: dict[int, set[str]] = {p: set() for p in range(partitions)}
    n = 0
    last = time.monotonic()
    deadline = time.monotonic() + timeout
    for msgs in _consume(bootstrap, topic, partitions):
        for m in msgs:
            ev = EVENT_DECODER.decode(m.value)
            if ev.id.startswith(SENTINEL_PREFIX):
                continue
            if ev.event_id not in ids[m.partition]:
                ids[m.partition].add(ev.event_id)
                n += 1
            last = time.monotonic()
        now = time.monotonic()
        if now > deadline or (n >= expected and now - last > idle_s):
            return ids
    return ids


def events_layout(bootstrap: str, topic: str, partitions: int, idle_s: float = 2.0,
                  timeout: float = 60.0) -> dict[int, dict[str, Any]]:
    """Per partition of the events topic: its end offset, the sentinel events on it (count and
    distinct) and the newest data event time — for the message of a failed count check."""
    out: dict[int, dict[str, Any]] = {p: {"end": 0, "sentinels": 0, "distinct_sentinels": set(), "last_data_ts": None}
                                      for p in range(partitions)}
    last = time.monotonic()
    deadline = time.monotonic() + timeout
    for msgs in _consume(bootstrap, topic, partitions):
        for m in msgs:
            ev = EVENT_DECODER.decode(m.value)
            o = out[m.partition]
            o["end"] = max(o["end"], m.offset + 1)
            if ev.id.startswith(SENTINEL_PREFIX):
                o["sentinels"] += 1
                o["distinct_sentinels"].add(ev.event_id)
            elif o["last_data_ts"] is None or ev.ts > o["last_data_ts"]:
                o["last_data_ts"] = ev.ts
            last = time.monotonic()
        now = time.monotonic()
        if now > deadline or now - last > idle_s:
            break
    for o in out.values():
        o["distinct_sentinels"] = len(o["distinct_sentinels"])
    return out


def changelog_counts(bootstrap: str, app_id: str, partitions: int, idle_s: float = 3.0,
                     timeout: float = 60.0) -> dict[int, dict[str, Any]]:
    """Each partition's detection counters at its last checkpoint, from the changelog of the
    ``detect`` table: ``{partition: {"released", "late", "offset"}}``."""
    from warning.streams.state import FakeTable, StateTable

    topic = f"{app_id}-detect-changelog"
    table = FakeTable()  # the changelog compacted: key → latest value
    last = time.monotonic()
    deadline = time.monotonic() + timeout
    for msgs in _consume(bootstrap, topic, partitions):
        for m in msgs:
            key = json.loads(m.key)
            if m.value is None:
                table.data.pop(key, None)
            else:
                table.data[key] = m.value
            last = time.monotonic()
        now = time.monotonic()
        if now > deadline or now - last > idle_s:
            break
    state = StateTable(table)  # the rows of each partition's last committed checkpoint
    last_meta = {p: blob for p in range(partitions) if (blob := state.rows("meta", p).get("engine"))}
    out = {}
    for p, blob in last_meta.items():
        wrapped = pickle.loads(blob)
        meta = pickle.loads(wrapped["engine"])
        out[p] = {"released": meta["released"], "late": meta["late"], "offset": wrapped["offset"],
                  "watermark": meta.get("watermark"), "below": len(wrapped.get("below", ()))}
    return out


def alert_key(a: Any) -> tuple:
    """What must match between the stream and the backtest: id, status, level, signal, street,
    the alert's times and observed value."""
    return (a["alert_id"], a["status"], a["level"], a["signal"], a["street_code"], a["window_start"],
            a["window_end"], a["starts_at"], a["ends_at"], a["observed"])


def topic_backtest(env: dict[str, str], out: Path, cutoff: str) -> set[tuple]:
    """The comparable alerts of ``warning backtest --from-events --from-kafka`` over the events topic
    of ``env``: the records the workers read, per partition in the order they read them."""
    r = subprocess.run([sys.executable, "-m", "warning", "backtest", "--from-events", "--from-kafka", "--out", str(out)],
                       cwd=Path(__file__).resolve().parents[1], env={**os.environ, **env}, capture_output=True,
                       text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"backtest --from-events failed: {r.stderr[-2000:]}")
    return comparable([orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines() if line], cutoff)


#: signals fired on arrival (instant rules): an episode starts on whichever of its events arrives first
INSTANT_SIGNALS = frozenset({"risk_terms", "group_petition"})


def arrival_order_only(missing: set[tuple], extra: set[tuple]) -> bool:
    """Alerts that differ between the stream and the raw file's backtest (``alert_key`` tuples) only
    as two arrival orders of an instant rule's events can make them differ: the same (status,
    level, signal, street) on both sides, instant signals only."""
    from collections import Counter

    def kinds(keys: set[tuple]) -> Counter:
        return Counter((k[1], k[2], k[3], k[4]) for k in keys)

    return all(k[3] in INSTANT_SIGNALS for k in missing | extra) and kinds(missing) == kinds(extra)


def comparable(alerts: Iterable[Any], cutoff: str) -> set[tuple]:
    """The alerts (deduplicated) decided by data before ``cutoff`` (ISO time, Beijing offset):
    firing ones whose window ended and started by then, resolved ones that ended by then. The
    sentinels come later, so the stream — whose watermark stops short of them — and the backtest —
    which flushes everything at the end — both decide these."""
    out = set()
    for a in alerts:
        if a["status"] == "firing" and a["window_end"] <= cutoff and a["starts_at"] < cutoff:
            out.add(alert_key(a))
        elif a["status"] == "resolved" and (a["ends_at"] or "") <= cutoff:
            out.add(alert_key(a))
    return out


def sentinel_time(lines: Iterable[bytes], days_after: float = 0.75) -> datetime:
    """``days_after`` days after the last record of a simulator file (its time fields), rounded
    down to the hour. Later than the data by more than the replay lateness (:data:`REPLAY_LATENESS_MIN`),
    so the watermark passes every data window; earlier than the duplicate horizon after the first
    record (``ingest.dedup_horizon_hours``, 72 h, minus the data's span), so a record that ingest
    hands on again after the sentinels is still known to detection's seen-marks."""
    from warning.sim.generator import TIME_FIELD

    latest = None
    for line in lines:
        rec = orjson.loads(line)
        t = datetime.fromisoformat(rec[TIME_FIELD[rec["source"]]])
        latest = t if latest is None or t > latest else latest
    assert latest is not None, "empty simulator file"
    return (latest + timedelta(days=days_after)).replace(minute=0, second=0, microsecond=0)
