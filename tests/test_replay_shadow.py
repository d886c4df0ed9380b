"""``warning replay`` on the real brokers: a time range of the raw feeds is copied into sandbox topics
(same partition, key, value, headers and timestamp; no consumer group, production untouched), a
shadow worker with its own app id and a candidate config runs on them beside the production worker,
its alerts equal ``warning backtest`` with the shadow config over the same records, and ``warning
replay compare`` shows production and shadow alerts side by side."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from kafka_helpers import consume_all, create_topics
from test_stream_equals_backtest import SENTINEL_RAW_PARTITION, SENTINELS, before_sentinel, read_alerts
from worker_proc import TEST_ENV, Worker, isolated_env
from warning.brokers.base import free_port
from warning.cli import cli
from warning.commands.backtest import record_time_bounds
from warning.config import load_settings
from warning.streams.topics import all_topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: the replayed range: the sim's first 12 hours stay out, the sentinels (2025-03-06T12:00) are in,
#: the records of 2025-03-08 are out
START, END = "2025-03-03T12:00:00+08:00", "2025-03-06T13:00:00+08:00"
AFTER_T = "2025-03-08T12:00:00+08:00"
COMPARE_END = "2025-03-05T00:00:00+08:00"
PREFIX = "sandbox."
#: the candidate the shadow tries: more sensitive than production (its alerts differ)
CANDIDATE = {"detect": {"warmup_hours": 6.0, "young_extra_log10p": 0.0, "thresholds": {"blue": 3.0, "yellow": 3.5}},
             "alerts": {"calibration": False}}


def _ts(rec: dict) -> float:
    t = rec.get("received_at") or rec.get("occurred_at") or rec.get("reported_at")
    return datetime.fromisoformat(t).timestamp()


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    """Simulated records (1.5 days from 2025-03-03), the sentinels that close their windows and a few
    quiet records two days later; each with the record timestamp (ms) it is produced with."""
    out = tmp_path_factory.mktemp("sim")
    r = CliRunner().invoke(cli, ["simulate", "--start", "2025-03-03", "--days", "1.5", "--scale", "0.02", "--seed", "5",
                                 "--incidents-per-week", "7", "--out", str(out), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    recs = sorted((orjson.loads(x) for x in (out / "events.jsonl").read_bytes().splitlines()), key=_ts)
    after = [{"source": "hotline", "id": f"after-{i}", "received_at": AFTER_T, "street_code": f"11010100{i + 1}",
              "type": "咨询", "category": "其他", "content": "咨询办事时间"} for i in range(6)]
    out_recs = []
    for i, rec in enumerate([*recs, *SENTINELS, *after]):
        out_recs.append({**rec, "_ts_ms": int((_ts(rec) + 5 + i % 7) * 1000)})
    return out_recs


def produce(bootstrap: str, topics: dict[str, str], recs: list[dict]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=128 * 1024, acks="all")
    for i, rec in enumerate(recs):
        body = {k: v for k, v in rec.items() if k not in ("source", "_ts_ms")}
        p.send(topics[rec["source"]], orjson.dumps(body), key=(rec.get("street_code") or rec["id"]).encode(),
               partition=SENTINEL_RAW_PARTITION.get(rec["id"]), timestamp_ms=rec["_ts_ms"],
               headers=[("trace-id", f"t{i}".encode())] if i % 50 == 0 else None)
    p.flush(60)
    p.close()


def group_names(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {str(g.get("group_id", g.get("group", g))) if isinstance(g, dict) else str(g[0]) for g in admin.list_groups()}
    finally:
        admin.close()


def end_offsets(bootstrap: str, topics: list[str]) -> dict:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        return c.end_offsets([TopicPartition(t, p) for t in topics for p in sorted(c.partitions_for_topic(t) or ())])
    finally:
        c.close()


def sandbox_retention(bootstrap: str, topics: list[str]) -> set[str]:
    """The ``retention.ms`` values of ``topics`` (as the broker describes them)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, {"retention.ms": None}) for t in topics],
                                     config_filter="all")
    finally:
        admin.close()
    return {str(v.get("value")) for per_topic in next(iter(res.values())).values() for k, v in per_topic.items()
            if k == "retention.ms"}


def firing_episodes(alerts: list[dict]) -> dict[str, tuple[str, str]]:
    """alert_id → (street_code, signal) of the episodes that start firing before COMPARE_END."""
    return {a["alert_id"]: (a["street_code"], a["signal"]) for a in alerts
            if a["status"] == "firing" and a["starts_at"] < COMPARE_END}


def test_replay_to_sandbox_and_shadow_worker_beside_production(broker, records, tmp_path: Path) -> None:
    t0 = time.monotonic()
    # the sentinels close the windows compared; the wall-clock idle flush would only let a worker that
    # stalls on a loaded machine differ from the backtest (see test_stream_equals_backtest._env)
    env = isolated_env(tmp_path, broker.url, prefix=f"rs{uuid.uuid4().hex[:8]}", WARNING_WINDOWS__IDLE_FLUSH_SECONDS="600")
    settings = load_settings(None, env=env)
    raw = settings.raw_topics()
    # records of 2025 (raw records, and the events stamped with their event time) on topics with a
    # time retention: Apache Kafka deletes them at its next retention check (30 s after it starts, then
    # every 5 min). Production here holds such history; `warning replay` gives the sandbox and the
    # shadow's topics no time retention (asserted below)
    create_topics(broker.bootstrap, all_topics(settings), int(TEST_ENV["WARNING_KAFKA__PARTITIONS"]),
                  configs={"retention.ms": "-1"})
    ensure_topics(settings)
    shadow_yaml = tmp_path / "shadow.yaml"
    # nothing is observed after the workers end: SIGKILL spares the graceful stop (see worker_proc.Worker)
    with Worker(env, tmp_path / "prod.log", kill_on_exit=True) as prod:
        produce(broker.bootstrap, raw, records)
        groups, ends = group_names(broker.bootstrap), end_offsets(broker.bootstrap, list(raw.values()))

        # the copy, while production runs
        r = CliRunner(env=env).invoke(cli, ["replay", "--start", START, "--end", END, "--to-prefix", PREFIX,
                                            "--shadow-config", str(shadow_yaml), "-q"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        print(f"\n{broker.kind}: {r.output}")
        assert group_names(broker.bootstrap) - groups <= {settings.worker.app_id}, "the replay joins no group"
        assert end_offsets(broker.bootstrap, list(raw.values())) == ends, "nothing written to production topics"

        # the sandbox topics hold exactly the range's records, as they were
        lo, hi = record_time_bounds(settings, datetime.fromisoformat(START).timestamp(), datetime.fromisoformat(END).timestamp())
        want_ids = sorted(x["id"] for x in records if lo <= x["_ts_ms"] < hi)
        assert 0 < len(want_ids) < len(records) * 0.8
        got_ids = []
        for src, topic in raw.items():
            n_src = sum(1 for x in records if x["source"] == src)
            src_recs = [m for m in consume_all(broker.bootstrap, topic, expected=n_src) if lo <= m.timestamp < hi]
            copy = consume_all(broker.bootstrap, PREFIX + topic, expected=len(src_recs), timeout=20)
            fields = lambda m: (m.partition, m.key, m.value, m.headers, m.timestamp)  # noqa: E731
            assert [fields(m) for m in copy] == [fields(m) for m in src_recs], topic  # (partition, offset) order
            got_ids += [m.json()["id"] for m in copy]
        assert sorted(got_ids) == want_ids
        if broker.kind == "apache":  # old timestamps: no time retention on the sandbox and the shadow's topics
            shadow_topics = all_topics(load_settings(shadow_yaml, env={}))
            assert sandbox_retention(broker.bootstrap, shadow_topics) == {"-1"}

        # a second copy would append the range again: refused; an empty prefix too
        again = CliRunner(env=env).invoke(cli, ["replay", "--start", START, "--end", END, "--to-prefix", PREFIX, "-q"])
        assert again.exit_code == 1 and "already hold records" in again.output, again.output
        assert CliRunner(env=env).invoke(cli, ["replay", "--start", START, "--end", END, "--to-prefix", ""]).exit_code == 2

        # the engineer edits the candidate into the shadow config and starts the shadow worker on it
        cfg = yaml.safe_load(shadow_yaml.read_text(encoding="utf-8"))
        assert cfg["worker"]["app_id"] == settings.worker.app_id + "-shadow"
        assert cfg["topics"]["alerts"] == PREFIX + settings.topics.alerts and cfg["receivers"] == []
        for section, values in CANDIDATE.items():
            for k, v in values.items():
                cfg[section][k] = {**cfg[section][k], **v} if isinstance(v, dict) else v
        cfg["worker"]["web_port"] = free_port()
        shadow_yaml.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
        with Worker({}, tmp_path / "shadow.log", ["--config", str(shadow_yaml)], kill_on_exit=True) as shadow:
            # what the shadow should give: the backtest with the shadow config over the sandbox topics
            bt = tmp_path / "bt-shadow"
            r = CliRunner().invoke(cli, ["backtest", "--from-kafka", "--config", str(shadow_yaml), "--out", str(bt), "-q"],
                                   catch_exceptions=False)
            assert r.exit_code == 0, r.output
            exp_shadow = before_sentinel([orjson.loads(x) for x in (bt / "alerts.jsonl").read_bytes().splitlines()])
            got_shadow = read_alerts(broker.bootstrap, cfg["topics"]["alerts"], settle_s=4.0,
                                     until=lambda out: exp_shadow <= before_sentinel(out))
            t_shadow = time.monotonic() - t0
            # production has had all its records since the start: its alerts are read once settled
            read_alerts(broker.bootstrap, settings.topics.alerts, settle_s=3.0, timeout=60.0)
            logs = prod.log_tail() + "\n---- shadow\n" + shadow.log_tail()
    got = before_sentinel(got_shadow)
    assert got == exp_shadow, f"missing {sorted(exp_shadow - got)}\nextra {sorted(got - exp_shadow)}\n{logs}"
    # the workers are stopped: what each topic holds now is what the comparison reads
    pr = firing_episodes(read_alerts(broker.bootstrap, settings.topics.alerts, settle_s=1.5, timeout=30.0))
    sh = firing_episodes(read_alerts(broker.bootstrap, cfg["topics"]["alerts"], settle_s=1.5, timeout=30.0))
    assert sh and pr and set(sh) != set(pr), "the candidate changes the alerts"

    # side by side: every episode on its row, both / only-A (production) / only-B (shadow)
    r = CliRunner(env=env).invoke(cli, ["replay", "compare", "--b-topic", cfg["topics"]["alerts"], "--end", COMPARE_END],
                                  catch_exceptions=False)
    assert r.exit_code == 0, r.output
    print(r.output)
    out = r.output.splitlines()
    assert "街道 street" in out[0] and "生产 等级 level" in out[0] and "影子 等级 level" in out[0]
    for aid in set(sh) & set(pr):
        code, signal = sh[aid]
        assert any(code in row and signal in row and "两侧 both" in row for row in out), (aid, code, signal)
    for aid in set(sh) - set(pr):
        code, signal = sh[aid]
        if (code, signal) not in pr.values():
            assert any(code in row and signal in row and "仅B only-B" in row for row in out), (aid, code, signal)
    summary = dict(kv.split("=") for kv in out[-1].split(": ")[1].split())
    assert int(summary["both"]) + int(summary["only_a"]) == len(pr)
    assert int(summary["both"]) + int(summary["only_b"]) == len(sh)
    assert int(summary["both"]) > 0 and int(summary["only_a"]) > 0 and int(summary["only_b"]) > 0
    print(f"{broker.kind}: shadow equal to its backtest after {t_shadow:.1f} s, all {time.monotonic() - t0:.1f} s")
