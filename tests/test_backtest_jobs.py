"""Fast backtests: ``--jobs N`` gives the bytes of one process, ``--from-events`` replays enriched
events (a file from :func:`enrich_to_file`, or the events topic a live worker wrote) to the alerts
of the raw backtest, and the progress bar counts the input's bytes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from warning.backtest.runner import enrich_to_file, iter_lines, run, run_events
from warning.cli import cli
from warning.config import load_settings
from warning.core.text.entity import entities
from warning.streams.app import build_enricher

SIM_ARGS = ["--start", "2025-03-01", "--days", "2", "--seed", "5", "--scale", "0.03",
            "--incidents-per-week", "14", "--warmup-days", "0.5"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    res = CliRunner().invoke(cli, ["simulate", *SIM_ARGS, "--out", str(out), "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def _backtest(args: list[str], out: Path, env: dict[str, str] | None = None) -> tuple[bytes, bytes, str]:
    r = CliRunner(env=env).invoke(cli, ["backtest", *args, "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    report = (out / "report.json").read_bytes() if (out / "report.json").exists() else b""
    return (out / "alerts.jsonl").read_bytes(), report, r.stderr


def test_jobs_give_the_bytes_of_one_process_and_events_the_alerts_of_raw(sim: Path, tmp_path: Path) -> None:
    """jobs 1, 2, 3 over the raw file: identical alerts.jsonl and report.json; the enriched events of
    the same records (written once) replay to the same bytes with and without jobs."""
    src = ["--input", str(sim / "events.jsonl"), "--labels", str(sim / "labels.jsonl")]
    alerts1, report1, err = _backtest([*src, "--jobs", "1"], tmp_path / "j1")
    assert alerts1.count(b"\n") >= 10 and b'"firing"' in alerts1, "the scenario must raise alerts"
    assert "100%" in err, err[-500:]  # the progress bar (bytes of the file) reached its total
    for jobs in (2, 3):
        alerts, report, err = _backtest([*src, "--jobs", str(jobs), "-q"], tmp_path / f"j{jobs}")
        assert alerts == alerts1, f"--jobs {jobs}"
        assert report == report1, f"--jobs {jobs}"
        assert "100%" not in err  # -q: no bar

    settings = load_settings(None, env={})
    events = tmp_path / "enriched.jsonl"
    st = enrich_to_file(settings, iter_lines(sim / "events.jsonl"), events, enricher=build_enricher(settings))
    n = len(events.read_bytes().splitlines())
    assert n == st.accepted == st.records - st.duplicates - sum(st.dead_lettered.values()) > 0
    for jobs in (1, 2):
        alerts, report, _ = _backtest(["--from-events", "--input", str(events), "--labels", str(sim / "labels.jsonl"),
                                       "--jobs", str(jobs), "-q"], tmp_path / f"ev{jobs}")
        assert alerts == alerts1, f"--from-events --jobs {jobs}"
        assert orjson.loads(report)["recall"] == orjson.loads(report1)["recall"]

    # the place names are found at ingest (detection does no text work); events written before
    # that (no "entities") replay to the same alerts, the detector finding the names itself
    recs = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    assert all(r["entities"] == (entities(r["text"]) if r["text"] else []) for r in recs)
    assert sum(1 for r in recs if r["entities"]) > len(recs) // 10
    older = tmp_path / "enriched-older.jsonl"
    older.write_bytes(b"".join(orjson.dumps({k: v for k, v in r.items() if k != "entities"}) + b"\n" for r in recs))
    alerts, _, _ = _backtest(["--from-events", "--input", str(older), "-q"], tmp_path / "older")
    assert alerts == alerts1


def test_runner_progress_duplicates_and_inputs(sim: Path, tmp_path: Path) -> None:
    """Progress sums to the file's bytes (also over jobs); enrichment skips what dedup drops; a
    one-shot iterator cannot be split over jobs."""
    settings = load_settings(None, env={})
    lines = (sim / "events.jsonl").read_bytes().splitlines()[:1500]
    doubled = tmp_path / "doubled.jsonl"  # every record twice: the second is a duplicate
    doubled.write_bytes(b"".join(l + b"\n" + l + b"\n" for l in lines))
    size = doubled.stat().st_size
    watch = {c for c in (orjson.loads(l).get("street_code") for l in lines[:200]) if c}
    results, series = [], []
    for jobs in (1, 2):
        seen: list[int] = []
        alerts, st = run(settings, iter_lines(doubled), progress=seen.append, jobs=jobs, watch=watch)
        assert sum(seen) == size, (jobs, sum(seen), size)
        assert (st.records, st.accepted, st.duplicates) == (3000, 1500, 1500)
        results.append([a.alert_id for a in alerts])
        series.append(st.series)
    assert results[0] == results[1]
    assert series[0] == series[1] and set(series[0]) == watch  # the watched streets' hours, from every job
    events = tmp_path / "ev.jsonl"
    enrich_to_file(settings, iter_lines(doubled), events)
    # an event sent twice (ingest is at-least-once) counts once; a broken line is dead-lettered
    ev_lines = events.read_bytes().splitlines()
    (tmp_path / "ev2.jsonl").write_bytes(b"\n".join(ev_lines + ev_lines[:10] + [b"{not json"]) + b"\n")
    for jobs in (1, 2):
        alerts, st = run_events(settings, iter_lines(tmp_path / "ev2.jsonl"), jobs=jobs)
        assert (st.records, st.accepted, st.duplicates, st.dead_lettered) == (1511, 1500, 10, {"invalid_event": 1})
        assert [a.alert_id for a in alerts] == results[0]
    with pytest.raises(ValueError, match="jobs > 1"):
        run(settings, iter(lines), jobs=2)


# ---------------------------------------------------------------------- the events topic
START, END = "2025-03-01T06:00:00+08:00", "2025-03-02T06:00:00+08:00"


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A day and a half at scale 0.02 (≈ 2,400 records): a live worker ingests it in seconds."""
    out = tmp_path_factory.mktemp("small")
    res = CliRunner().invoke(cli, ["simulate", "--start", "2025-03-01", "--days", "1.5", "--seed", "5", "--scale", "0.02",
                                   "--incidents-per-week", "14", "--warmup-days", "0.25", "--out", str(out), "-q"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def _topic_records(bootstrap: str, topic: str, want: int, timeout_s: float) -> list[list[bytes]]:
    """The values on ``topic`` per partition, in offset order (read from the beginning; Tansu's
    end offsets count batches, not records), once there are ``want``, or after ``timeout_s``."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = sorted(c.partitions_for_topic(topic) or set())
        c.assign([TopicPartition(topic, i) for i in parts])
        out: list[list[bytes]] = [[] for _ in parts]
        deadline = time.monotonic() + timeout_s
        while sum(map(len, out)) < want and time.monotonic() < deadline:
            for tp, msgs in c.poll(timeout_ms=1000).items():
                out[tp.partition] += [m.value for m in msgs]
        return out
    finally:
        c.close()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_events_a_live_worker_wrote_replay_to_the_raw_backtest(broker, small_sim: Path, tmp_path: Path) -> None:
    """A worker ingests the raw records (parse, dedup, enrich → ``warning.events``): its events are
    those :func:`enrich_to_file` writes (text signals included). ``--from-kafka --from-events``
    for a range (with and without jobs) then gives exactly the alerts of :func:`run_events`
    over the topic's events in the order the workers' engines took them, and the alerts of the raw
    backtest over the file street by street, signal, level and status — the instant rules (e.g.
    an extreme threat) alert on the first such event to *arrive*, and the topic holds the feeds in
    the order the ingest agents wrote them (here a grid report 37 min after a hotline call of the
    same street came first), not in event time as the file."""
    from kafka import KafkaProducer

    from worker_proc import Worker, isolated_env
    from warning.core.events import EVENT_DECODER, EVENT_ENCODER
    from warning.streams.topics import ensure_topics

    env = isolated_env(tmp_path, broker.url, prefix=f"bj{uuid.uuid4().hex[:8]}")
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    path = small_sim / "events.jsonl"
    enriched = tmp_path / "enriched.jsonl"
    st = enrich_to_file(settings, iter_lines(path), enriched, enricher=build_enricher(settings))
    # each raw record stamped with its event time, as a live feed stamps it (and as `warning simulate
    # --to-kafka --kafka-timestamp event` does): `--from-kafka` merges the partitions by record time,
    # and records stamped at send time share milliseconds by the dozen here, spanning more than the
    # allowed lateness — an order the merge cannot recover (which events come late depends on how
    # fast they were sent). Every record must be stamped: one stamped now would hold back its partition
    stamp = {(e["source"], e["id"]): int(e["ts"] * 1000) for e in map(orjson.loads, iter_lines(enriched))}
    with Worker(env, tmp_path / "w.log", kill_on_exit=True) as w:
        p = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=128 * 1024)
        for line in iter_lines(path):
            r = orjson.loads(line)
            src = r.pop("source")
            p.send(settings.raw_topics()[src], orjson.dumps(r), key=(r.get("street_code") or r["id"]).encode(),
                   timestamp_ms=stamp[(src, r["id"])])
        p.flush(60)
        p.close()
        on_topic = _topic_records(broker.bootstrap, settings.topics.events, st.accepted, timeout_s=400)
        # more only if ingest re-sent some (at-least-once); the replay counts each event once
        assert sum(map(len, on_topic)) >= st.accepted, w.log_tail()

    def canonical(b: bytes) -> tuple[str, bytes]:
        ev = EVENT_DECODER.decode(b)
        ev.raw_partition = ev.via = -1  # the lane it came by (a file has none)
        return ev.event_id, EVENT_ENCODER.encode(ev)

    assert dict(map(canonical, (b for part in on_topic for b in part))) == dict(map(canonical, iter_lines(enriched)))

    def alerts_of(out: Path) -> list[bytes]:
        return sorted((out / "alerts.jsonl").read_bytes().splitlines())

    # every backtest here with the workers' settings: the partition count decides which events
    # share an engine (its watermark, hence which events come late), so a reference run with the
    # default count (4, against the workers' 2) differed whenever some events came late
    rng = ["--start", START, "--end", END, "-q"]
    in_topic_order = tmp_path / "topic.jsonl"  # each partition in offset order: each engine's arrival order
    in_topic_order.write_bytes(b"".join(b + b"\n" for part in on_topic for b in part))
    _backtest(["--from-events", "--input", str(in_topic_order), *rng], tmp_path / "topic", env)
    want = alerts_of(tmp_path / "topic")
    assert want, "the range holds incidents: some alerts"
    for jobs in (1, 2):
        _, _, err = _backtest(["--from-kafka", "--from-events", "--jobs", str(jobs), *rng], tmp_path / f"k{jobs}", env)
        assert alerts_of(tmp_path / f"k{jobs}") == want, (jobs, err[-2000:])

    def by_street(out: Path) -> list[tuple[str, ...]]:
        return sorted((a["street_code"], a["signal"], a["level"], a["status"])
                      for a in map(orjson.loads, (out / "alerts.jsonl").read_bytes().splitlines()))

    _backtest(["--input", str(path), *rng], tmp_path / "raw", env)
    assert by_street(tmp_path / "k2") == by_street(tmp_path / "raw")

    # the raw topics with jobs: each job reads them all (no group) and detects its partitions
    _backtest(["--input", str(path), "-q"], tmp_path / "raw-all", env)
    _backtest(["--from-kafka", "--jobs", "2", "-q"], tmp_path / "kraw", env)
    assert alerts_of(tmp_path / "kraw") == alerts_of(tmp_path / "raw-all")
