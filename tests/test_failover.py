"""Several workers in one consumer group: rebalances, graceful stops, kill -9 and takeover (issue 13).

* unit: the warm in-memory table store keeps standby rows and the changelog offset they reflect;
  a fenced detection service writes no state and emits no alert;
* a graceful stop returns at once although detection holds events in its reorder buffer (it used to
  wait for acks that only new input brings, and ended by SIGKILL after 20 s);
* a worker joining a running group takes its share of the partitions and new records are processed
  at once (the rebalance used to stall on the same wait);
* three workers on 12 partitions, fed two simulated days: one is killed with SIGKILL mid-stream,
  later a fresh one joins; every partition is owned again, each detection partition counted every
  event on its partition of ``warning.events`` exactly once, and the alerts equal ``warning backtest``
  over the same records (ids, levels, times; at-least-once repeats allowed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from warning.config import load_settings
from warning.core.pipeline import partition_for_bytes
from warning.core.registry import Registry

from failover_helpers import (
    Cluster, Feeder, REPLAY_LATENESS_MIN, SENTINEL_PREFIX, arrival_order_only, changelog_counts, comparable, create_topics,
    event_counts, events_layout, topic_backtest,
    failover_env, healthz,
    read_alerts, routed, sentinel_time, sentinels,
)
from kafka_helpers import consume_all
from samples import enc, hotline
from worker_proc import ROOT

PARTITIONS = 12


# ---------------------------------------------------------------------------------------- unit
def _store():
    from warning.streams.state import WarmMemoryStore

    return WarmMemoryStore("warmmemory://", SimpleNamespace(conf=SimpleNamespace()), SimpleNamespace(),
                           table_name="detect", loop=None)


def _changelog_event(topic: str, partition: int, offset: int, key: str, value: bytes | None):
    from faust.types import TP

    msg = SimpleNamespace(tp=TP(topic, partition), partition=partition, offset=offset, value=value)
    return SimpleNamespace(message=msg, key=key, value=value)


def test_the_workers_state_tables_are_kept_in_the_warm_store():
    """The tables' store URL must reach Faust: a falsy URL (``warmmemory://``, no host) made Faust
    fall back to its memory store, so no worker ever used the warm store."""
    from warning.streams.app import create_app
    from warning.streams.state import WarmMemoryStore

    app = create_app(load_settings(None))
    kinds = {name: type(t.data) for name, t in app.tables.items()}
    assert kinds and all(k is WarmMemoryStore for k in kinds.values()), kinds


def test_warm_store_keeps_standby_rows_and_their_changelog_offset():
    """Faust's memory store drops standby rows after each recovery and reports no offset, so a
    promoted standby replayed the whole changelog; this one keeps both."""
    from faust.types import TP

    s = _store()
    topic = "app-detect-changelog"
    batch = [_changelog_event(topic, 1, 7, "street|1|a", b"x"), _changelog_event(topic, 2, 3, "street|2|b", b"y"),
             _changelog_event(topic, 1, 9, "street|1|c", b"z")]
    s.apply_changelog_batch(batch, to_key=lambda k: k, to_value=lambda v: v)
    assert s.persisted_offset(TP(topic, 1)) == 9 and s.persisted_offset(TP(topic, 2)) == 3
    # partition 0 active (own writes), 1 standby, 2 neither: 2 goes, rows and offset together
    s["street|0|d"] = b"w"
    s.note_partition("street|0|d", 0)
    asyncio.run(s.on_recovery_completed({TP(topic, 0)}, {TP(topic, 1)}))
    assert dict(s.data) == {"street|1|a": b"x", "street|1|c": b"z", "street|0|d": b"w"}
    assert s.persisted_offset(TP(topic, 2)) is None and s.persisted_offset(TP(topic, 1)) == 9
    # an acknowledged own write moves the offset of a held partition only
    s.set_persisted_offset(TP(topic, 0), 42)
    s.set_persisted_offset(TP(topic, 2), 43)
    assert s.persisted_offset(TP(topic, 0)) == 42 and s.persisted_offset(TP(topic, 2)) is None
    # the partition moves away: its own rows go too
    asyncio.run(s.on_recovery_completed({TP(topic, 1)}, set()))
    assert dict(s.data) == {"street|1|a": b"x", "street|1|c": b"z"} and s.persisted_offset(TP(topic, 0)) is None


def test_fenced_detection_writes_no_state_and_emits_no_alert():
    """Once a rebalance starts the service must not touch a partition that may already be another
    worker's: a checkpoint writes nothing and acks nothing, alerts are not sent, stale records are
    skipped; after the assignment it restores from the table."""
    from warning.core.events import EVENT_ENCODER
    from warning.core.pipeline import Pipeline
    from warning.streams.detect import DetectService
    from warning.streams.state import FakeTable, StateTable

    from samples import petition

    class Topic:
        sent: list[bytes] = []

        def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
            self.sent.append(value)
            fut = asyncio.get_event_loop().create_future()
            fut.set_result(None)
            return fut

    settings = load_settings(None, env={})
    pipe = Pipeline.from_settings(settings)
    table, topic = FakeTable(), Topic()
    svc = DetectService(settings, StateTable(table), topic, pipe)
    svc.assign(5)
    ev = pipe.ingestor.parse("petition", enc(petition(1, people_count=60)))
    msg = SimpleNamespace(partition=0, offset=0, value=EVENT_ENCODER.encode(ev), generation_id=5)
    stale = SimpleNamespace(message=SimpleNamespace(partition=0, offset=1, value=b"", generation_id=4))
    assert svc.current([SimpleNamespace(message=msg), stale]) == [SimpleNamespace(message=msg)]

    async def scenario() -> list:
        svc.process([SimpleNamespace(message=msg)])
        assert topic.sent, "a group petition alerts on arrival"
        n_sent = len(topic.sent)
        svc.fence()
        assert svc.current([SimpleNamespace(message=msg)]) == []
        svc.emit([object()])  # type: ignore[list-item]
        svc.idle_tick()
        acks = await svc.checkpoint()
        assert len(topic.sent) == n_sent
        return acks

    assert asyncio.run(scenario()) == [] and table.changelog == [], "a fenced service wrote state or acked"
    svc.assign(6)
    assert svc.engines == {} and not svc.fenced


# -------------------------------------------------------------------------------- integration
def _streets_by_partition() -> dict[int, list[str]]:
    streets = sorted(Registry.load("110000").streets)
    return {e: [c for c in streets if partition_for_bytes(c.encode(), PARTITIONS) == e] for e in range(PARTITIONS)}


def _wait(cond, timeout: float, what: str, diag=lambda: "") -> float:
    t0 = time.monotonic()
    while True:
        v = cond()
        if v:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{diag()}")
        time.sleep(0.2)


def _prefix(tag: str) -> str:
    return f"{tag}{int(time.time() * 1000) % 10**8}"


@pytest.mark.integration
def test_graceful_stop_returns_promptly_with_buffered_events(broker, tmp_path):
    from warning.streams.topics import ensure_topics

    prefix = _prefix("gs")
    env = failover_env(tmp_path, broker.url, prefix)
    ensure_topics(load_settings(None, env=env))
    cluster = Cluster(env, tmp_path, PARTITIONS)
    try:
        w = cluster.start("w1")
        cluster.wait_owned(120)
        # one feed only: the watermark waits for the others, so detection holds the events unacked
        produce_recs = [hotline(i) for i in range(20)]
        feeder = Feeder(broker.bootstrap, {"hotline": f"{prefix}.hotline"})
        from failover_helpers import Routed
        feeder.feed([Routed("hotline", partition_for_bytes(r["street_code"].encode(), PARTITIONS), r["street_code"].encode(),
                            enc(r), r["id"]) for r in produce_recs])
        feeder.close()
        _wait(lambda: sum(e["buffered"] for e in (healthz(w.web) or {}).get("engines", {}).values()) >= 20, 60,
              "events in the reorder buffer", cluster.log_tails)
        t0 = time.monotonic()
        os.killpg(w.proc.pid, signal.SIGTERM)
        try:
            rc = w.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        assert rc == 0, f"graceful stop did not finish in 15 s (rc {rc}):\n{w.log_tail()}"
        assert took < 10, f"graceful stop took {took:.1f} s"
    finally:
        cluster.stop()


@pytest.mark.integration
def test_joining_worker_takes_partitions_and_processes_new_records_promptly(broker, tmp_path):
    from warning.streams.topics import ensure_topics

    prefix = _prefix("jn")
    env = failover_env(tmp_path, broker.url, prefix)
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    cluster = Cluster(env, tmp_path, PARTITIONS)
    feeder = Feeder(broker.bootstrap, settings.raw_topics())
    from failover_helpers import Routed

    streets = _streets_by_partition()

    def one_per_partition(base: int) -> list[Routed]:
        recs = [hotline(base + e, street_code=streets[e][0]) for e in range(PARTITIONS)]
        return [Routed("hotline", e, r["street_code"].encode(), enc(r), r["id"]) for e, r in enumerate(recs)]

    try:
        w1 = cluster.start("w1")
        cluster.wait_owned(120)
        feeder.feed(one_per_partition(0))  # buffered on every partition (one feed only)
        _wait(lambda: len((healthz(w1.web) or {}).get("partitions", [])) == PARTITIONS, 60,
              "w1 processing every partition", cluster.log_tails)
        cluster.start("w2")
        owned = cluster.wait_owned(120)
        assert set(owned) == {"w1", "w2"}
        t0 = time.monotonic()
        feeder.feed(one_per_partition(100))
        want = {f"hotline:h{i}" for i in range(100, 100 + PARTITIONS)}

        def all_processed() -> bool:
            hs = [h for h in cluster.health().values() if h]
            return sorted(p for h in hs for p in h["partitions"]) == list(range(PARTITIONS))

        took = _wait(all_processed, 30, "both workers processing their partitions again", cluster.log_tails)
        ids = event_counts(broker.bootstrap, settings.topics.events, PARTITIONS, expected=2 * PARTITIONS, timeout=30)
        assert want <= set().union(*ids.values())
        hs = cluster.health()
        assert all(hs[n]["partitions"] == owned[n] for n in owned), hs  # type: ignore[index]
        assert took < 20, f"new records waited {took:.1f} s after the join"
    finally:
        feeder.close()
        cluster.stop()


@pytest.fixture(scope="module")
def failover_sim(tmp_path_factory) -> Path:
    """Two simulated days at a low scale (≈ 10k records): enough incidents to alert."""
    out = tmp_path_factory.mktemp("failover-sim")
    r = subprocess.run([sys.executable, "-m", "warning", "simulate", "--start", "2025-03-03", "--days", "2",
                        "--scale", "0.05", "--seed", "5", "--out", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out / "events.jsonl"


def settled_health(cluster: Cluster, timeout: float = 60.0) -> dict[str, Any]:
    """Every live worker's /healthz, once all answer in one generation, none fenced, owning every
    partition (:meth:`Cluster.settled`; or what they answer at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while (hs := cluster.settled()) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    return hs if hs is not None else cluster.health()


@pytest.mark.integration
@pytest.mark.slow
def test_three_workers_kill9_then_a_fresh_one_lose_and_double_nothing(broker, failover_sim, tmp_path):
    from warning.backtest.runner import iter_lines, run
    from warning.streams.app import build_enricher

    t_start = time.monotonic()
    prefix = _prefix("fo")
    env = failover_env(tmp_path, broker.url, prefix)
    settings = load_settings(None, env=env)
    create_topics(settings)
    data = failover_sim.read_bytes().splitlines()
    when = sentinel_time(data)
    sent = sentinels(settings, when)
    all_path = tmp_path / "all.jsonl"
    all_path.write_bytes(b"\n".join(data + [orjson.dumps(s) for s in sent]) + b"\n")
    cutoff = (when - timedelta(minutes=REPLAY_LATENESS_MIN + 120)).isoformat(timespec="seconds")

    bt_alerts, bt_stats = run(settings, iter_lines(all_path), enricher=build_enricher(settings))
    expected = comparable(bt_alerts, cutoff)
    assert any(k[1] == "firing" for k in expected), "the scenario must raise alerts"
    data_events = bt_stats.accepted - len(sent)

    records = routed(settings, data)
    closing = routed(settings, [orjson.dumps(s) for s in sent])
    cluster = Cluster(env, tmp_path, PARTITIONS)
    feeder = Feeder(broker.bootstrap, settings.raw_topics())
    events: dict[str, float] = {}
    phases: list[tuple[str, float]] = []  # (phase, seconds since the test began): printed at the end

    def mark(phase: str) -> None:
        phases.append((phase, round(time.monotonic() - t_start, 1)))

    mark("backtest of the file")
    try:
        for name in ("w1", "w2", "w3"):
            cluster.start(name)
        owned = cluster.wait_owned(180)
        assert len(owned) == 3
        mark("three workers own the partitions")
        n = len(records)

        def kill() -> None:
            events["kill"] = cluster.kill9("w2")

        def fresh() -> None:
            cluster.start("w4")
            events["fresh"] = time.time()

        feeder.feed(records, per_s=350, at={int(n * 0.35): kill, int(n * 0.7): fresh})
        feeder.feed(closing)
        mark("fed")
        owned = cluster.wait_owned(120)
        assert set(owned) == {"w1", "w3", "w4"}, owned
        mark("settled after the kill and the join")

        got = read_alerts(broker.bootstrap, settings.topics.alerts, PARTITIONS,
                          until=lambda out: len(comparable(out, cutoff)) >= len(expected), timeout=180)
        have = comparable(got, cutoff)
        mark("alerts read")
        # the same records in the order the workers read them: exactly the same alerts
        ordered = topic_backtest(env, tmp_path / "from-events", cutoff)
        mark("backtest of the events topic")
        assert have == ordered, (f"alerts differ from the backtest of the events topic: {sorted(ordered - have)[:5]} "
                                 f"missing, {sorted(have - ordered)[:5]} extra\n{cluster.log_tails()}")
        # the raw file's backtest: the same, except that an instant rule (fired on arrival) can start an
        # episode on another of its events when two arrive the other way round than in the file
        missing, extra = expected - have, have - expected
        assert arrival_order_only(missing, extra), (f"alerts differ from the backtest: {len(missing)} missing, "
                                                    f"{len(extra)} extra\nmissing {sorted(missing)[:5]}\n"
                                                    f"extra {sorted(extra)[:5]}\n{cluster.log_tails()}")

        # Every rebalance rebuilds every engine from the table; the last one (the fresh worker's
        # join) came after every partition had a checkpoint: each engine must have been restored
        # from one, and each partition has a warm standby. (A group leader that did not know the
        # detection changelog topic assigned it to nobody: every engine restarted empty, and events
        # its old owner had acked were never counted again — see warning.streams.faust_compat.)
        health = settled_health(cluster)
        mark("settled health")
        empty = {name: [q for q, e in ((h or {}).get("engines") or {}).items() if e.get("restored_offset", -1) < 0]
                 for name, h in health.items()}
        assert not any(empty.values()), f"engines restored without their checkpoint: {empty}"
        standby = {q for h in health.values() for q in (h or {}).get("standby", [])}
        assert standby == set(range(PARTITIONS)), f"partitions with a standby replica: {sorted(standby)}"

        ids = event_counts(broker.bootstrap, settings.topics.events, PARTITIONS, expected=data_events)
        mark("events counted")
        if sum(len(v) for v in ids.values()) != data_events:
            pytest.fail(f"events lost or invented by ingest: {sum(len(v) for v in ids.values())} of {data_events}\n"
                        f"{which_events_differ(records, ids)}\n{cluster.log_tails()}")

        def counted() -> dict[int, int]:
            c = changelog_counts(broker.bootstrap, settings.worker.app_id, PARTITIONS, idle_s=1.5)
            return {p: c[p]["released"] + c[p]["late"] for p in c}

        want = {p: len(v) for p, v in ids.items()}
        deadline = time.monotonic() + 60
        while (have := counted()) != want and time.monotonic() < deadline:
            time.sleep(2)
        mark("changelog counted")
        if have != want:  # say where the difference sits (a rare failure under load: see the issue 13 notes)
            bad = [p for p in want if have.get(p) != want[p]]
            layout = events_layout(broker.bootstrap, settings.topics.events, PARTITIONS)
            ckpt = changelog_counts(broker.bootstrap, settings.worker.app_id, PARTITIONS, idle_s=1.5)
            live = {name: {q: e for q, e in ((h or {}).get("engines") or {}).items() if int(q) in bad}
                    for name, h in cluster.health().items()}
            pytest.fail("each detection partition must count each event of its partition once: "
                        f"{ {p: (have.get(p), want[p]) for p in bad} }\n"
                        f"sentinel time {when.timestamp()}, {len(settings.feeds) * PARTITIONS} sentinels expected per partition\n"
                        f"events topic: { {p: layout[p] for p in bad} }\n"
                        f"last checkpoints: { {p: ckpt.get(p) for p in bad} }\n"
                        f"live engines: {live}\n{cluster.log_tails()}")
    finally:
        feeder.close()
        cluster.stop()
        # (with -s; also when an assertion failed)
        print(f"failover test: {len(records)} records, kill at {events.get('kill')}, fresh worker at "
              f"{events.get('fresh')}, {time.monotonic() - t_start:.0f} s; phases (ended at, s): {phases}")


def which_events_differ(records: list[Any], ids: dict[int, set[str]]) -> str:
    """The fed records whose event is missing from the events topic (feed, raw partition and offset,
    where in the feed: the kill came at 35%, the fresh worker at 70%) and the events not fed — for
    the message of a failed count (once in CI: 10,262 of 10,263, nothing else wrong)."""
    got = set().union(*ids.values())
    n = len(records)
    offsets: dict[tuple[str, int], int] = {}
    fed: dict[str, str] = {}
    for i, r in enumerate(records):
        offset = offsets[(r.source, r.partition)] = offsets.get((r.source, r.partition), -1) + 1
        fed[f"{r.source}:{r.id}"] = f"{r.source}[{r.partition}]@{offset}, record {i} of {n} ({i / n:.0%})"
    missing = [f"{e} ({where})" for e, where in fed.items() if e not in got]
    extra = sorted(e for e in got if e not in fed)
    return f"missing: {missing[:10]}; not fed: {extra[:10]}"


def test_only_an_instant_rules_episode_start_may_differ_from_the_raw_files_backtest():
    """The difference found at a week of scale 1 (one risk_terms episode started on the event that
    arrived first) passes; anything else does not."""
    def key(aid: str, status: str, signal: str = "risk_terms", start: str = "18:36:54") -> tuple:
        return (aid, status, "orange", signal, "110111103", "w0", "w1", start, None, 1.0)

    bt = {key("a", "firing"), key("a", "resolved")}
    st = {key("b", "firing", start="19:08:28"), key("b", "resolved", start="19:08:28")}
    assert arrival_order_only(bt, st)
    assert not arrival_order_only(bt, set()), "a lost episode"
    assert not arrival_order_only({key("a", "firing", "volume")}, {key("b", "firing", "volume")}), "not an instant rule"
    assert not arrival_order_only(bt, {key("b", "firing")}), "a status lost"


def test_restore_rebuffers_an_event_waiting_below_the_watermark():
    """An event of a lane seen for the first time can arrive after the watermark passed its time
    (its hour still open): it waits in the reorder buffer *below* the watermark until the next
    move. A checkpoint then must say so, or the next owner takes the redelivered event for one
    applied before the checkpoint and drops it (found with three workers: hand-on partitions of
    another worker start late)."""
    from warning.core.events import EVENT_ENCODER
    from warning.core.pipeline import Pipeline
    from warning.streams.detect import DetectService
    from warning.streams.state import FakeTable, StateTable

    from samples import petition, public_safety

    class Topic:
        def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
            fut = asyncio.get_event_loop().create_future()
            fut.set_result(None)
            return fut

    settings = load_settings(None, env={})
    street = "110105001"
    make = {"hotline": lambda i, t: hotline(i, received_at=t, street_code=street),
            "petition": lambda i, t: petition(i, received_at=t, street_code=street, people_count=1),
            "public_safety": lambda i, t: public_safety(i, occurred_at=t, street_code=street),
            "grid": lambda i, t: {"id": f"g{i}", "reported_at": t, "street_code": street, "issue_type": "市容秩序",
                                  "content": "巡查"}}

    def event(pipe, source: str, i: int, t: str, raw: int):
        ev = pipe.ingestor.parse(source, enc(make[source](i, t)))
        ev.raw_partition, ev.via = raw, 0
        return ev

    def messages(pipe) -> list:
        evs = []
        for k, t in enumerate(("2025-03-01T09:00:00+08:00", "2025-03-01T11:00:00+08:00")):
            evs += [event(pipe, src, 10 * k + j, t, raw=0) for j, src in enumerate(make)]
        evs.append(event(pipe, "hotline", 99, "2025-03-01T10:30:00+08:00", raw=1))  # a new lane, below the watermark
        return [SimpleNamespace(message=SimpleNamespace(partition=0, offset=o, value=EVENT_ENCODER.encode(ev)))
                for o, ev in enumerate(evs)]

    table = FakeTable()

    async def run(svc, msgs) -> None:
        svc.process(msgs)
        await svc.checkpoint()

    first = DetectService(settings, StateTable(table), Topic(), Pipeline.from_settings(settings))
    asyncio.run(run(first, messages(first.pipe)))
    e = first.engines[0]
    assert any(ts <= e.watermark for ts, _, _ in e.buffer), "the scenario needs an event waiting below the watermark"
    # the next owner: everything is redelivered (nothing acked past the waiting event)
    second = DetectService(settings, StateTable(table), Topic(), Pipeline.from_settings(settings))
    msgs = messages(second.pipe)
    asyncio.run(run(second, msgs))
    e2 = second.engines[0]
    assert e2.released + e2.late + len(e2.buffer) == len(msgs), "an event was lost (or counted twice) by the restore"


def test_acks_go_in_offset_order():
    """Faust commits the first run of consecutive acked offsets and lets it start one past the
    committed offset (or anywhere when none is committed yet): a done event acked while an older
    one waits in the reorder buffer could be committed past the waiting one, which a crash would
    then lose. Detection acks below the lowest offset it still holds, per partition."""
    from warning.core.pipeline import Pipeline
    from warning.streams.detect import DetectService
    from warning.streams.state import FakeTable, StateTable

    settings = load_settings(None, env={})
    svc = DetectService(settings, StateTable(FakeTable()), object(), Pipeline.from_settings(settings))
    msg = lambda p, o: SimpleNamespace(partition=p, offset=o)  # noqa: E731
    svc.hold("held", msg(0, 5))
    svc.ready = [msg(0, 3), msg(0, 4), msg(0, 6), msg(0, 5), msg(1, 9)]
    assert [(m.partition, m.offset) for m in svc.ackable()] == [(0, 3), (0, 4), (1, 9)]
    assert [(m.partition, m.offset) for m in svc.ready] == [(0, 6), (0, 5)]


def test_agents_take_each_partition_in_offset_order_without_holes():
    """Around a rebalance Faust can hand an agent records from past the committed offset first and
    then drop the re-read ones (found with three workers and a kill -9: committed past records never
    processed). :class:`ContiguousInput` takes a partition's records only in offset order from the
    committed offset (the earliest offset when nothing is committed), seeks back over a hole and
    seeks again when the sought records do not come."""
    from warning.streams.contiguous import ContiguousInput

    from collections import namedtuple

    TP = namedtuple("TP", "topic partition")
    a, b = TP("t", 0), TP("t", 1)

    class Consumer:
        def __init__(self) -> None:
            self._committed_offset = {a: 5, b: None}
            self.seeks: list[tuple[Any, int]] = []

        async def earliest_offsets(self, *tps: Any) -> dict:
            return {tp: 3 for tp in tps}

        async def seek(self, tp: Any, offset: int) -> None:
            self.seeks.append((tp, offset))

        def assignment(self) -> set:
            return {a, b}

    consumer = Consumer()
    c = ContiguousInput(SimpleNamespace(consumer=consumer))
    ev = lambda tp, o: SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o))  # noqa: E731
    offs = lambda evs: [(e.message.tp.partition, e.message.offset) for e in evs]  # noqa: E731

    async def scenario() -> None:
        # a: committed 5 → 5, 6 taken; 8 is past a hole (7): seek back to 7, the rest of a's batch dropped
        got = await c.take([ev(a, 4), ev(a, 5), ev(a, 6), ev(a, 8), ev(a, 9), ev(b, 4)])
        # b: nothing committed → starts at its earliest offset 3; 4 is past it
        assert offs(got) == [(0, 5), (0, 6)]
        assert consumer.seeks == [(a, 7), (b, 3)]
        # records fetched before the seek still come: dropped, no second seek at once
        assert offs(await c.take([ev(a, 9), ev(b, 5)])) == []
        assert len(consumer.seeks) == 2
        await c.retry()  # too soon
        assert len(consumer.seeks) == 2
        c.sought = {tp: t - c.RESEEK_S for tp, t in c.sought.items()}
        await c.retry()  # the sought records did not come: seek again
        assert consumer.seeks[2:] == [(a, 7), (b, 3)]
        got = await c.take([ev(a, 7), ev(b, 3), ev(a, 8), ev(a, 6), ev(b, 4)])
        assert offs(got) == [(0, 7), (1, 3), (0, 8), (1, 4)]  # a repeat (6) dropped
        assert c.sought == {}
        c.reset()  # a new assignment: expect the committed offsets again
        consumer._committed_offset[a] = 9
        assert offs(await c.take([ev(a, 9)])) == [(0, 9)]

    asyncio.run(scenario())


def test_the_producer_keeps_every_topic_it_sends_to_in_its_metadata_refreshes():
    """aiokafka's producer refreshes metadata only for the topics in its client's list, and a topic
    known from the first (full) fetch never joined that list: once another topic was added, a
    refresh forgot it, and batches queued for it waited for a leader until they expired (20 min
    with Faust) — a worker's rebalance hung on the producer's flush (issue 13). With
    :mod:`warning.streams.faust_compat` every topic a send waits on stays in the list."""
    from aiokafka.client import AIOKafkaClient

    from warning.streams import faust_compat

    faust_compat.install()

    async def scenario() -> set[str]:
        client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9")  # never connected
        client.cluster.partitions_for_topic = lambda topic: {0, 1}  # known from the full fetch
        await client._wait_on_metadata("warning.events")  # a send to it
        client.add_topic("app-detect-changelog")  # a topic created later
        return set(client._topics)

    assert asyncio.run(scenario()) == {"warning.events", "app-detect-changelog"}


def test_contiguous_input_holes_filled_later_missing_offsets_and_old_generations():
    """The cases around the plain order: a hole filled later in the same batch needs no seek; a
    committed offset deleted by retention starts at the earliest offset; offsets that three seeks
    in a row show are not on the broker (a transaction marker) are skipped, not sought forever;
    records fetched in an older generation and seeks of a partition no longer assigned are dropped."""
    from collections import namedtuple

    from warning.streams.contiguous import ContiguousInput

    TP = namedtuple("TP", "topic partition")
    a, b = TP("t", 0), TP("t", 1)

    class Consumer:
        def __init__(self) -> None:
            self._committed_offset = {a: 5, b: 2}
            self.seeks: list[tuple[Any, int]] = []
            self.assigned = {a, b}

        async def earliest_offsets(self, *tps: Any) -> dict:
            return {tp: (0 if tp == a else 40) for tp in tps}  # b: offsets before 40 deleted

        async def seek(self, tp: Any, offset: int) -> None:
            self.seeks.append((tp, offset))

        def assignment(self) -> set:
            return self.assigned

    consumer = Consumer()
    app = SimpleNamespace(consumer=consumer, consumer_generation_id=7)
    c = ContiguousInput(app)
    ev = lambda tp, o, g=7: SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o, generation_id=g))  # noqa: E731
    offs = lambda evs: [(e.message.tp.partition, e.message.offset) for e in evs]  # noqa: E731

    async def scenario() -> None:
        # a record fetched ahead of a re-read comes first: the hole is filled in the same batch
        got = await c.take([ev(a, 6), ev(a, 5), ev(a, 6), ev(a, 7, g=6), ev(a, 7)])
        assert offs(got) == [(0, 5), (0, 6), (0, 7)] and consumer.seeks == []
        # b: committed 2, but the broker starts at 40 now
        assert offs(await c.take([ev(b, 40)])) == [(1, 40)]
        # a: offsets 8..9 do not exist (a marker): every seek brings 10 first; skipped after 3 seeks
        for _ in range(4):
            assert offs(await c.take([ev(a, 10), ev(a, 11)])) == []
            c.sought = {tp: t - c.RESEEK_S for tp, t in c.sought.items()}
            await c.retry()
        # the first seek and its retry, then three that each brought 10 first; then on from 10
        assert consumer.seeks == [(a, 8)] * 4 + [(a, 10)]
        assert offs(await c.take([ev(a, 10), ev(a, 11)])) == [(0, 10), (0, 11)]
        # a partition revoked meanwhile is not sought
        consumer.assigned = {a}
        n = len(consumer.seeks)
        assert offs(await c.take([ev(b, 45)])) == []
        assert len(consumer.seeks) == n

    asyncio.run(scenario())


def test_faust_hands_every_record_over_and_the_agents_drop_repeats():
    """Faust dropped records below its per-partition "read offset"; after a seek back, records
    fetched before the seek moved it past the re-fetched ones again (a partition sought back every
    second, never catching up, at a high rate). With :mod:`warning.streams.faust_compat` it reads
    as unknown, so Faust hands every record over; repeats are dropped by ContiguousInput."""
    import faust

    from warning.streams import faust_compat

    faust_compat.install()
    consumer = faust.App("read-offset-test", broker="kafka://127.0.0.1:9").consumer
    tp = ("t", 0)
    consumer._read_offset[tp] = 1234  # what Faust writes as it hands records over
    assert consumer._read_offset[tp] is None  # what its drain loop reads


def test_skipped_offsets_are_acked_to_faust_and_a_failed_batch_is_read_again():
    """Offsets skipped because they are not on the broker must count as done for Faust, which
    commits only a run of acked offsets starting at the committed one (else the partition's commits
    stop there). A batch whose work fails is read again (its partitions are forgotten, so the next
    record seeks back). A rebalance during a seek drops the batch instead of failing on it."""
    from collections import namedtuple

    import faust

    from warning.streams import faust_compat
    from warning.streams.contiguous import ContiguousInput

    faust_compat.install()
    consumer = faust.App("ack-skipped-test", broker="kafka://127.0.0.1:9").consumer
    TP = namedtuple("TP", "topic partition")
    a, b = TP("t", 0), TP("t", 1)

    async def faust_commit_after_skip() -> int | None:
        consumer._committed_offset[a] = 8
        for o in (10, 11):  # taken and acked after 8..9 were skipped
            consumer._acked[a].append(o)
            consumer._acked_index[a].add(o)
        await faust_compat.ack_skipped(consumer, a, 8, 9)
        return consumer._new_offset(a)

    assert asyncio.run(faust_commit_after_skip()) == 12

    class Fake:
        def __init__(self) -> None:
            self._committed_offset = {a: 5, b: 5}
            self.seeks: list[tuple[Any, int]] = []
            self.on_seek = lambda: None

        async def earliest_offsets(self, *tps: Any) -> dict:
            return {tp: 0 for tp in tps}

        async def seek(self, tp: Any, offset: int) -> None:
            self.seeks.append((tp, offset))
            self.on_seek()

        def assignment(self) -> set:
            return {a, b}

    fake = Fake()
    c = ContiguousInput(SimpleNamespace(consumer=fake))
    ev = lambda tp, o: SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o))  # noqa: E731

    async def scenario() -> None:
        batch = await c.take([ev(a, 5), ev(a, 6)])
        with pytest.raises(RuntimeError):
            with c.holding(batch):
                raise RuntimeError("the agent failed on the batch")
        assert await c.take([ev(a, 7)]) == [] and fake.seeks == [(a, 5)]  # read again from the commit
        # a rebalance while the first of two seeks waits: no KeyError, the batch is dropped
        fake.on_seek = c.reset
        assert await c.take([ev(b, 9), ev(a, 9)]) == []

    asyncio.run(scenario())


def test_a_failed_count_names_the_missing_events():
    from failover_helpers import Routed

    records = [Routed("hotline", 0, b"k", b"v", "h1"), Routed("hotline", 0, b"k", b"v", "h2"),
               Routed("grid", 1, b"k", b"v", "g1")]
    out = which_events_differ(records, {0: {"hotline:h1"}, 1: {"grid:g1", "grid:zz"}})
    assert out == "missing: ['hotline:h2 (hotline[0]@1, record 1 of 3 (33%))']; not fed: ['grid:zz']"
