"""Shared pieces of the crash benchmarks (``bench/kill9.py``, ``bench/soak.py``).

A real broker (Tansu or Apache Kafka 4.x), simulator records re-timed to now, a producer that
sends them as real producers do (keyed and keyless, some exact re-sends), a thread that tails the
output topics, and a worker process that can be killed with SIGKILL and restarted. Like the other
benches, it uses the test helpers in ``tests/`` (``worker_proc``, ``kafka_helpers``).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # worker_proc, as the other benches do

from warning.brokers.base import BrokerProcess  # noqa: E402
from warning.core.timeutil import BEIJING  # noqa: E402

__all__ = [
    "IdTail",
    "KillableWorker",
    "RecordProducer",
    "healthz",
    "retimed",
    "rss_mb",
    "env_for",
    "pace",
    "sim_day",
    "start_broker",
]


@contextmanager
def start_broker(kind: str, workdir: Path) -> Iterator[BrokerProcess]:
    """A fresh broker of ``kind`` (``tansu`` or ``apache``) on a free loopback port."""
    if kind == "apache":
        from warning.brokers.apache import ApacheKafka, apache_available

        ok, why = apache_available()
        if not ok:
            raise SystemExit(f"--broker apache: {why} (run deploy/kafka/kafka.sh fetch)")
        broker: BrokerProcess = ApacheKafka(log_path=workdir / "kafka.log")
    elif kind == "tansu":
        from warning.brokers.tansu import EmbeddedBroker

        broker = EmbeddedBroker(log_path=workdir / "tansu.log")
    else:
        raise SystemExit(f"unknown broker {kind!r} (tansu|apache)")
    with broker:
        yield broker


def sim_day(day: str, *, seed: int = 7, scale: float = 1.0, incidents_per_week: float = 1.0,
            from_hour: int = 0) -> list[dict]:
    """The simulator's records of local date ``day`` (``YYYY-MM-DD``) from ``from_hour`` on, in
    event-time order; each carries its ``source``. The run starts two days earlier so that
    incidents planned around ``day`` are in it (no warm-up)."""
    from warning.sim.generator import SimParams, Simulator

    d = date.fromisoformat(day)
    start = int(datetime(d.year, d.month, d.day, tzinfo=BEIJING).timestamp()) - 2 * 86400
    sim = Simulator(SimParams(start=start, days=3, seed=seed, scale=scale, warmup_days=0,
                              incidents_per_week=incidents_per_week, weather=False))
    _, records, times = sim.day(d)
    lo = start + 2 * 86400 + from_hour * 3600
    return [r for r, t in zip(records, times) if t >= lo]


def retimed(rec: dict, now: datetime | None = None, new_id: str | None = None) -> tuple[str, dict]:
    """``(source, body)``: the record without ``source``, its event time set to ``now`` (Beijing)
    and, with ``new_id``, a new id.

    >>> src, body = retimed({"id": "h1", "source": "hotline", "received_at": "2025-03-01T09:30:00+08:00",
    ...                      "content": "x"}, datetime(2026, 1, 2, 3, 4, 5, tzinfo=BEIJING), "k9-1")
    >>> src, body
    ('hotline', {'id': 'k9-1', 'received_at': '2026-01-02T03:04:05+08:00', 'content': 'x'})
    """
    from warning.sim.generator import TIME_FIELD

    src = rec["source"]
    body = {k: v for k, v in rec.items() if k != "source"}
    body[TIME_FIELD[src]] = (now or datetime.now(BEIJING)).isoformat(timespec="seconds")
    if new_id is not None:
        body["id"] = new_id
    return src, body


@dataclass
class RecordProducer:
    """Sends raw records as real producers do: a share keyed by id, the rest keyless, and a small
    share of exact re-sends (same id, same bytes, keyless) of records sent earlier.

    ``acked`` holds the ids the broker acknowledged (first sends), ``resent`` the ids re-sent.
    """

    bootstrap: str
    topics: dict[str, str]
    keyless_share: float = 0.5
    resend_share: float = 0.02
    rnd: random.Random = field(default_factory=lambda: random.Random(11))
    acked: set[str] = field(default_factory=set)
    resent: set[str] = field(default_factory=set)
    errors: int = 0
    sent: int = 0

    def __post_init__(self) -> None:
        from kafka import KafkaProducer

        self._p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, retries=10,
                                client_id="bench-producer")
        self._recent: list[tuple[str, str, bytes]] = []  # (topic, id, value) of first sends
        self._lock = threading.Lock()

    def _ok(self, rid: str, first: bool) -> Callable[[object], None]:
        def cb(_md: object) -> None:
            with self._lock:
                (self.acked if first else self.resent).add(rid)
        return cb

    def _err(self, _exc: BaseException) -> None:
        with self._lock:
            self.errors += 1

    def send(self, source: str, body: dict) -> None:
        """Send one record (and, with probability ``resend_share``, re-send an earlier one)."""
        topic = self.topics[source]
        rid = body["id"]
        value = orjson.dumps(body)
        key = None if self.rnd.random() < self.keyless_share else rid.encode()
        self._p.send(topic, value=value, key=key).add_callback(self._ok(rid, True)).add_errback(self._err)
        self.sent += 1
        self._recent.append((topic, rid, value))
        del self._recent[:-2000]
        if self.rnd.random() < self.resend_share and len(self._recent) > 1:
            t, old, v = self.rnd.choice(self._recent[:-1])
            self._p.send(t, value=v, key=None).add_callback(self._ok(old, False)).add_errback(self._err)
            self.sent += 1

    def close(self) -> None:
        self._p.flush(120)
        self._p.close(10)


class IdTail(threading.Thread):
    """Tails topics from the beginning (no consumer group) and counts the ``id`` of each JSON value.

    ``counts[topic]`` is a Counter of ids; ``records[topic]`` the number of records; ``last`` the
    monotonic time of the last record; ``on_record(topic, value)`` sees every record.
    """

    def __init__(self, bootstrap: str, topics: list[str],
                 on_record: Callable[[str, bytes], None] | None = None) -> None:
        super().__init__(daemon=True, name="id-tail")
        self.bootstrap = bootstrap
        self.topics = topics
        self.on_record = on_record
        self.counts: dict[str, Counter[str]] = {t: Counter() for t in topics}
        self.records: dict[str, int] = {t: 0 for t in topics}
        self.last = time.monotonic()
        self._halt = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", client_id="bench-tail", fetch_max_wait_ms=200)
        try:
            tps = []
            for t in self.topics:
                parts = None
                while not parts and not self._halt.is_set():
                    c.poll(0)
                    parts = c.partitions_for_topic(t)
                    if not parts:
                        time.sleep(0.2)
                tps += [TopicPartition(t, p) for p in sorted(parts or ())]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            while not self._halt.is_set():
                for tp, recs in c.poll(timeout_ms=300).items():
                    with self.lock:
                        for r in recs:
                            self.records[tp.topic] += 1
                            self.last = time.monotonic()
                            try:
                                rid = orjson.loads(r.value).get("id")
                            except (orjson.JSONDecodeError, AttributeError, TypeError):
                                rid = None
                            if isinstance(rid, str):
                                self.counts[tp.topic][rid] += 1
                            if self.on_record is not None:
                                self.on_record(tp.topic, r.value)
        finally:
            c.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(15)


def losses(tail: "IdTail", produced: set[str], events_topic: str, dead_topic: str,
           raw_topics: Iterable[str]) -> tuple[dict[str, int], set[str], set[str], list[str]]:
    """What became of the ``produced`` ids: (count per id on the events topic, ids dead-lettered,
    ids seen on the raw topics, ids lost — on neither the events nor the dead-letter topic)."""
    ev = tail.counts[events_topic]
    dead = set(tail.counts[dead_topic])
    on_raw = set().union(*(tail.counts[t] for t in raw_topics))
    return ev, dead, on_raw, sorted(produced - set(ev) - dead)


def healthz(worker: object) -> dict | None:
    """The worker's ``/healthz`` body, or None while it does not answer."""
    try:
        with urllib.request.urlopen(worker.web + "/healthz", timeout=2) as r:  # type: ignore[attr-defined]
            return orjson.loads(r.read())
    except Exception:
        return None


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of the process group led by ``pid`` (the worker and any children)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rfind(")") + 2:].split()[2]) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


class KillableWorker:
    """``warning worker`` as a subprocess that is SIGKILLed and restarted (one log file per life)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        from worker_proc import Worker

        self._cls = Worker
        self.env = env
        self.logdir = logdir
        self.lives = 0
        self.w = None

    def start(self) -> None:
        self.lives += 1
        self.w = self._cls(self.env, self.logdir / f"worker-{self.lives}.log").start()
        self.started = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.w.proc.pid if self.w and self.w.proc and self.w.proc.poll() is None else None

    def kill9(self) -> None:
        assert self.w is not None
        self.w.kill9()
        self.w._log.close()

    def wait_processing(self, timeout: float = 120.0) -> float:
        """Wait until this life has taken at least one record (its own counters); seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h = healthz(self.w)
            if h and (h.get("accepted", 0) + h.get("duplicates", 0) + h.get("dead_lettered", 0)) > 0:
                break
            if self.w.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.w.proc.returncode}:\n{self.w.log_tail()}")
            time.sleep(0.2)
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.w is not None:
            self.w.stop()

    def log_tail(self) -> str:
        return self.w.log_tail() if self.w else ""


def env_for(workdir: Path, broker_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The worker environment of the tests (unique topics under ``prefix``, short group timeouts,
    2 partitions) plus ``extra``."""
    from worker_proc import isolated_env

    return isolated_env(workdir, broker_url, prefix=prefix, **extra)


def pace(rate_fn: Callable[[], float], send_one: Callable[[], None], until: float,
         stop: threading.Event | None = None) -> int:
    """Call ``send_one`` at ``rate_fn()`` records/s (rate redrawn every second) until the
    monotonic time ``until``; returns how many were sent."""
    n = 0
    while time.monotonic() < until and not (stop and stop.is_set()):
        sec_end = min(until, time.monotonic() + 1.0)
        rate = max(rate_fn(), 0.01)
        t0 = time.monotonic()
        k = 0
        while time.monotonic() < sec_end:
            send_one()
            n += 1
            k += 1
            delay = t0 + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, max(0.0, sec_end - time.monotonic())))
    return n
