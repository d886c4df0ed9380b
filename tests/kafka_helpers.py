"""Helpers for integration tests against a real broker (Tansu or Apache Kafka), using kafka-python.

Import in tests as ``from tests.kafka_helpers import ...`` (or ``from kafka_helpers import ...``;
pytest puts ``tests/`` on ``sys.path``).

Tansu (the embedded broker) differs from Apache Kafka in ways tests must respect — work around them
here and in test settings, never in production code:

* consumer-group join waits ``session_timeout / 2`` → use :func:`faust_test_settings` (2 s);
* Faust table changelog recovery loses the tail updates unless the producer sends one record per
  batch → ``faust_test_settings(changelog_recovery=True)`` sets ``producer_max_batch_size=1``;
* no transactions → no ``processing_guarantee="exactly_once"`` on Tansu;
* ``end_offsets`` is low (base offset of the last batch + 1) → :func:`consume_all` reads until the
  expected count (or until the topic stays idle), never up to ``end_offsets``;
* ``offsets_for_times`` compares with broker (append) time, and past the end returns offset 0 with
  timestamp -1 → do not seek by time in tests that run on Tansu.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

__all__ = [
    "Record",
    "consume_all",
    "create_topics",
    "faust_test_settings",
    "produce",
    "unique_topic",
]

_TOPIC_ALREADY_EXISTS = 36

Header = tuple[str, bytes]


@dataclass(frozen=True)
class Record:
    """One record read back from a topic."""

    key: bytes | None
    value: bytes | None
    headers: list[Header]
    partition: int
    offset: int
    timestamp: int
    topic: str

    def json(self) -> Any:
        """The value parsed as JSON."""
        return json.loads(self.value) if self.value is not None else None


def unique_topic(prefix: str = "test") -> str:
    """A topic name nobody else uses on a shared session broker."""
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 4,
    *,
    replication: int = 1,
    configs: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create topics (existing ones are fine) and wait until every partition has a leader."""
    names = list(names)
    spec: dict[str, dict[str, Any]] = {
        n: {"num_partitions": partitions, "replication_factor": replication,
            "configs": dict(configs or {})}
        for n in names
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                             client_id="warning-tests")
    try:
        res = admin.create_topics(spec, timeout_ms=int(timeout * 1000), raise_errors=False)
        bad = [t for t in res["topics"] if t["error_code"] not in (0, _TOPIC_ALREADY_EXISTS)]
        if bad:
            raise RuntimeError(f"create_topics failed: {bad}")
        _wait_for_leaders(admin, names, partitions, timeout)
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, names: list[str], partitions: int,
                      timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # kafka-python 3.x keys ("name", "leader_id"); 2.x used "topic", "leader".
        topics = {t.get("name", t.get("topic")): t for t in admin.describe_topics(names)}
        ready = all(
            n in topics and topics[n]["error_code"] == 0
            and len(topics[n]["partitions"]) >= partitions
            and all(p.get("leader_id", p.get("leader", -1)) >= 0 for p in topics[n]["partitions"])
            for n in names
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics without leaders after {timeout}s: {topics}")
        time.sleep(0.1)


def _bytes(v: Any) -> bytes | None:
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return json.dumps(v, ensure_ascii=False).encode()


def produce(
    bootstrap: str,
    topic: str,
    values: Iterable[Any],
    keys: Iterable[Any] | None = None,
    *,
    headers: Iterable[Sequence[Header] | None] | None = None,
    partition: int | None = None,
    timeout: float = 60.0,
    **producer_config: Any,
) -> list[tuple[int, int]]:
    """Produce ``values`` (bytes, str, or anything JSON-serialisable; None = tombstone) to
    ``topic``, optionally with ``keys`` / ``headers`` (parallel iterables). Waits for all acks;
    returns ``(partition, offset)`` per record, in order.
    """
    vals = list(values)
    ks = list(keys) if keys is not None else [None] * len(vals)
    hs = list(headers) if headers is not None else [None] * len(vals)
    if not len(ks) == len(hs) == len(vals):
        raise ValueError("values, keys and headers must have the same length")
    cfg: dict[str, Any] = {"acks": "all", "linger_ms": 5, "client_id": "warning-tests"}
    cfg.update(producer_config)
    producer = KafkaProducer(bootstrap_servers=bootstrap, **cfg)
    try:
        futures = [
            producer.send(topic, value=_bytes(v), key=_bytes(k),
                          headers=list(h) if h else None, partition=partition)
            for v, k, h in zip(vals, ks, hs)
        ]
        producer.flush(timeout=timeout)
        out = []
        for f in futures:
            md = f.get(timeout=timeout)
            out.append((md.partition, md.offset))
        return out
    finally:
        producer.close(timeout=5)


def consume_all(
    bootstrap: str,
    topic: str,
    expected: int | None = None,
    timeout: float = 30.0,
    *,
    idle: float = 1.5,
) -> list[Record]:
    """Read ``topic`` from the beginning with a group-less consumer (assign + seek to beginning).

    With ``expected``: stop as soon as that many records arrived, or at ``timeout`` (returns what
    it has — assert on the result). Without: stop once no record arrived for ``idle`` seconds.
    Records come back sorted by (partition, offset). Does not trust ``end_offsets`` (low on Tansu).
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="warning-tests",
    )
    records: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            consumer.poll(0)  # refresh metadata
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        last = time.monotonic()
        while time.monotonic() < deadline:
            if expected is not None and len(records) >= expected:
                break
            if expected is None and time.monotonic() - last >= idle:
                break
            batch = consumer.poll(timeout_ms=200)
            for recs in batch.values():
                for r in recs:
                    records.append(Record(
                        key=r.key, value=r.value,
                        headers=[(k, v) for k, v in (r.headers or [])],
                        partition=r.partition, offset=r.offset, timestamp=r.timestamp,
                        topic=r.topic,
                    ))
                    last = time.monotonic()
    finally:
        consumer.close()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


def faust_test_settings(kind: str = "tansu", *, changelog_recovery: bool = False) -> dict[str, Any]:
    """Faust ``App(**settings)`` overrides that make tests fast and correct on ``kind``'s broker.

    Short group timeouts (Tansu waits session_timeout/2 on join; the Apache dev broker allows
    session timeouts down to 0.5 s). ``changelog_recovery=True`` (tests that restart a worker and
    expect its tables back) adds ``producer_max_batch_size=1`` on Tansu, whose changelog recovery
    otherwise loses the tail updates. Never use these in production settings.
    """
    settings: dict[str, Any] = {
        "broker_session_timeout": 2.0,
        "broker_heartbeat_interval": 0.3,
        "broker_rebalance_timeout": 2.0,
        "topic_replication_factor": 1,
    }
    if kind == "tansu" and changelog_recovery:
        settings["producer_max_batch_size"] = 1
    return settings


def in_ci() -> bool:
    """``CI=true`` (or 1/yes): a selected broker that cannot run is an error, not a skip."""
    import os

    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def fresh_broker(kind: str, tmp_path: Any) -> Any:
    """A broker of ``kind`` ("tansu" | "apache") for one test alone (to stop or restart it), not
    started. Apache Kafka missing: the test is skipped — or fails under ``CI=true``, as the
    session brokers do (``conftest.py``)."""
    import pytest

    from warning.brokers import ApacheKafka, EmbeddedBroker, apache_available

    if kind == "tansu":
        return EmbeddedBroker(log_path=tmp_path / "tansu.log")
    ok, reason = apache_available()
    if not ok:
        if in_ci():
            pytest.fail(f"{reason} (CI=true)")
        pytest.skip(reason)
    return ApacheKafka(log_path=tmp_path / "kafka.out")  # its state in a temporary directory, removed at stop
