"""Ingest end to end on a real broker: kafka-python produces raw records, a real ``warning worker``
subprocess ingests them, and we read ``warning.events`` and ``warning.deadletter`` back."""

from __future__ import annotations

import re
import time

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from warning.core.events import EVENT_DECODER, DeadLetter

from samples import VIOLATIONS, enc, hotline, petition, public_safety
from kafka_helpers import create_topics
from warning.config import load_settings
from warning.streams.topics import ensure_topics
from worker_proc import Worker, isolated_env, metric_value

pytestmark = pytest.mark.integration

PII = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]|王小明|李强")


def produce(bootstrap: str, records: list[tuple[str, bytes, bytes | None]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024, linger_ms=5)
    for topic, value, key in records:
        p.send(topic, value=value, key=key)
    p.flush(30)
    p.close()


def read(bootstrap: str, topic: str, expected: int, timeout: float = 90.0, partitions: int = 2) -> list:
    """Read a topic from the beginning until ``expected`` records or timeout (no group)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=500,
                      max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=8 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        for msg in c:
            out.append(msg)
    # Linger briefly to catch records beyond the expected count (there must be none).
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        batch = c.poll(timeout_ms=300)
        for recs in batch.values():
            out.extend(recs)
    c.close()
    return out


def good_records(prefix: str) -> list[tuple[str, bytes, bytes | None]]:
    recs = []
    for i in range(20):
        recs.append((f"{prefix}.hotline", enc(hotline(i)), f"h{i}".encode()))
        recs.append((f"{prefix}.petition", enc(petition(i)), f"p{i}".encode()))
        recs.append((f"{prefix}.public_safety", enc(public_safety(i)), None))
    return recs


def test_ingest_end_to_end(broker, tmp_path):
    prefix = f"ing{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE="1")
    good = good_records(prefix)
    bad = [(f"{prefix}.{src}", data, None) for src, data, _ in VIOLATIONS]
    # ~1 MB record (under the broker's default 1 MiB message limit, over ingest.max_record_bytes) → too_large
    huge = (f"{prefix}.hotline", enc(hotline(999, content="a" * 1_000_000)), b"big")
    bad.append(huge)
    # Exact duplicates (same source + id) re-sent on the same partition key → dropped.
    dups = [(f"{prefix}.hotline", enc(hotline(i)), f"h{i}".encode()) for i in range(5)]
    dups += [(f"{prefix}.petition", enc(petition(i)), f"p{i}".encode()) for i in range(3)]

    ensure_topics(load_settings(None, env=env))
    w = Worker(env, tmp_path / "worker.log").start()
    try:
        produce(broker.bootstrap, good + bad)
        events = read(broker.bootstrap, f"{prefix}.events", expected=len(good))
        assert len(events) == len(good), w.log_tail()
        produce(broker.bootstrap, dups)
        dead = read(broker.bootstrap, f"{prefix}.deadletter", expected=len(bad))
        assert len(dead) == len(bad), w.log_tail()

        # Events: canonical, keyed by street, PII masked.
        evs = [EVENT_DECODER.decode(m.value) for m in events]
        assert {e.source for e in evs} == {"hotline", "petition", "public_safety"}
        assert len({e.event_id for e in evs}) == len(good)
        for m, e in zip(events, evs):
            assert m.key.decode() == e.key
            assert not PII.search(e.text), e.text
            assert e.sentiment_neg is None or 0.0 <= e.sentiment_neg <= 1.0
        assert {(e.street_name, e.district, e.resolved_by) for e in evs if e.source == "public_safety"} == {
            ("中关村街道", "海淀区", "address")}

        # Dead letters: original bytes unchanged, reason and coordinates in headers.
        expected_reasons = sorted([r for _, _, r in VIOLATIONS] + ["too_large"])
        got = [DeadLetter.from_headers(m.headers, m.value) for m in dead]
        assert sorted(d.reason for d in got) == expected_reasons
        originals = {data for _, data, _ in bad}
        for d in got:
            assert d.original in originals
            assert d.topic.startswith(prefix + ".") and d.partition >= 0 and d.offset >= 0 and d.detail

        # Counters: produced = accepted + dead-lettered + duplicates (wait for the duplicates).
        produced = len(good) + len(bad) + len(dups)
        deadline = time.monotonic() + 60
        while True:
            text = w.metrics()
            acc = metric_value(text, "warning_events_total", outcome="accepted")
            dl = metric_value(text, "warning_events_total", outcome="deadletter")
            dup = metric_value(text, "warning_events_total", outcome="duplicate")
            if acc + dl + dup >= produced or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (acc, dl, dup) == (len(good), len(bad), len(dups)), w.log_tail()
        assert metric_value(text, "warning_deadletter_total", reason="text_too_long") == 1
        assert metric_value(text, "warning_deadletter_total", reason="too_large") == 1
        assert "13812345678" not in text and "王小明" not in text
        # Nothing more on events after the duplicates were processed.
        assert len(read(broker.bootstrap, f"{prefix}.events", expected=len(good) + 1, timeout=3)) == len(good)
    finally:
        w.stop(graceful=False)  # SIGKILL at the end: worker_proc.Worker


def test_dedup_survives_restart(broker, tmp_path):
    """kill -9 the worker; a new one (recovering the changelog table) still drops duplicates."""
    prefix = f"rst{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE="1")
    first = [(f"{prefix}.hotline", enc(hotline(i)), f"h{i}".encode()) for i in range(10)]
    ensure_topics(load_settings(None, env=env))
    w = Worker(env, tmp_path / "w1.log").start()
    try:
        produce(broker.bootstrap, first)
        assert len(read(broker.bootstrap, f"{prefix}.events", expected=10)) == 10, w.log_tail()
        time.sleep(4)  # let the consumer commit its offsets (commit interval ≈ 2.8 s)
    finally:
        w.kill9()
    w2 = Worker(env, tmp_path / "w2.log").start()
    try:
        again = [(f"{prefix}.hotline", enc(hotline(i)), f"h{i}".encode()) for i in range(10)]
        fresh = [(f"{prefix}.hotline", enc(hotline(100 + i)), f"n{i}".encode()) for i in range(3)]
        produce(broker.bootstrap, again + fresh)
        evs = read(broker.bootstrap, f"{prefix}.events", expected=13, timeout=90)
        ids = sorted(orjson.loads(m.value)["id"] for m in evs)
        assert len(evs) == 13, (ids, w2.log_tail())
        assert ids == sorted([f"h{i}" for i in range(10)] + [f"h{100 + i}" for i in range(3)])
    finally:
        w2.stop(graceful=False)  # SIGKILL at the end: worker_proc.Worker


def test_partition_mismatch_fails_fast(broker, tmp_path):
    """Raw topics created with another partition count: the worker exits 2 naming the topic."""
    import subprocess, sys, os
    prefix = f"pm{int(time.time() * 1000) % 10**8}"
    create_topics(broker.bootstrap, [f"{prefix}.hotline"], partitions=3)
    env = {**os.environ, **isolated_env(tmp_path, broker.url, prefix=prefix)}
    r = subprocess.run([sys.executable, "-m", "warning", "worker"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert f"{prefix}.hotline has 3 partitions" in r.stderr


def test_a_changelog_of_another_partition_count_fails_fast(broker, tmp_path):
    """The detection state's changelog left from a run with 3 partitions, the worker now set to 2:
    it exits 2 naming the changelog (restoring it would put one partition's streets in another's
    state); another app's changelog of any count is not its business."""
    import subprocess, sys, os
    prefix = f"cl{int(time.time() * 1000) % 10**8}"
    env = {**os.environ, **isolated_env(tmp_path, broker.url, prefix=prefix)}
    create_topics(broker.bootstrap, [f"{prefix}-app-shadow-detect-changelog"], partitions=3)
    ensure_topics(load_settings(None, env=env))  # the pipeline's own topics are right
    create_topics(broker.bootstrap, [f"{prefix}-app-detect-changelog"], partitions=3)
    r = subprocess.run([sys.executable, "-m", "warning", "worker"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert f"{prefix}-app-detect-changelog has 3 partitions" in r.stderr
    assert "shadow" not in r.stderr and "worker.app_id" in r.stderr


def test_resends_with_other_keys_are_dropped(broker, tmp_path):
    """Dedup holds across partitions (issue 11, defect 6): producers in the field send keyless or
    keyed by something else (a street, a batch number); a record re-sent that way lands on another
    raw partition, and must still be recognised as a duplicate."""
    prefix = f"rk{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix)
    n = 30
    first = [(f"{prefix}.hotline", enc(hotline(i)), None) for i in range(n)]  # keyless: spread over partitions
    ensure_topics(load_settings(None, env=env))
    with Worker(env, tmp_path / "w.log", kill_on_exit=True) as w:  # SIGKILL at the end: worker_proc.Worker
        produce(broker.bootstrap, first)
        assert len(read(broker.bootstrap, f"{prefix}.events", expected=n)) == n, w.log_tail()
        # the same records again, each once keyless and once under two other keys
        again = [(f"{prefix}.hotline", enc(hotline(i)), key) for i in range(n)
                 for key in (None, f"batch-{i}".encode(), b"x" * (i + 1))]
        produce(broker.bootstrap, again)
        deadline = time.monotonic() + 60
        while True:
            text = w.metrics()
            dup = metric_value(text, "warning_events_total", outcome="duplicate")
            if dup >= len(again) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        evs = read(broker.bootstrap, f"{prefix}.events", expected=n + 1, timeout=3)
        ids = [orjson.loads(m.value)["id"] for m in evs]
        assert sorted(ids) == sorted(f"h{i}" for i in range(n)), (len(ids), w.log_tail())
        assert dup == len(again)
        assert metric_value(text, "warning_ingest_rekeyed_total", source="hotline") > 0


def test_record_larger_than_a_produce_request_is_dead_lettered(broker, tmp_path):
    """A raw record bigger than ``kafka.max_request_size`` (a broker that accepts it: Tansu) is
    dead-lettered ``too_large`` with its first ``ingest.max_record_bytes`` — it once crashed the
    worker, again after every restart — and the records after it are ingested."""
    if broker.kind != "tansu":
        pytest.skip("Apache Kafka refuses records over max.message.bytes (1 MiB) at produce time")
    prefix = f"big{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix)
    ensure_topics(load_settings(None, env=env))
    recs = [orjson.dumps(hotline(1)), orjson.dumps(hotline(2, attachment="A" * 3_000_000)), orjson.dumps(hotline(3))]
    with Worker(env, tmp_path / "w.log", kill_on_exit=True) as w:  # SIGKILL at the end: worker_proc.Worker
        p = KafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=8 << 20)
        for r in recs:
            p.send(f"{prefix}.hotline", value=r, key=b"k").get(30)
        p.close()
        dead = read(broker.bootstrap, f"{prefix}.deadletter", expected=1)
        events = read(broker.bootstrap, f"{prefix}.events", expected=2)
        alive = w.proc.poll() is None
        log = w.log_tail()
    assert alive, log
    assert len(events) == 2, log
    [d] = [DeadLetter.from_headers(m.headers, m.value) for m in dead]
    assert d.reason == "too_large" and "3000" in d.detail, d.detail
    assert d.original == recs[1][: 256 * 1024]
