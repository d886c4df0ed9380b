"""``warning simulate --to-kafka`` against a real broker: every record lands on its raw topic (the
topic the configuration gives its feed: ``feeds.<source>.topic``), the grid feed's included."""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest
from click.testing import CliRunner

from warning.cli import cli
from warning.sim.generator import SOURCES

from kafka_helpers import consume_all, create_topics

pytestmark = pytest.mark.integration


def test_simulate_to_kafka(broker, tmp_path):
    prefix = f"sim{int(time.time() * 1000) % 10**8}"
    topics = {s: f"{prefix}.{s}" for s in SOURCES}
    assert "grid" in topics
    create_topics(broker.bootstrap, topics.values(), partitions=2)
    env = {f"WARNING_FEEDS__{s.upper()}__TOPIC": t for s, t in topics.items()}
    out = tmp_path / "o"
    t0 = time.monotonic()
    # 0.02 days = 28.8 simulated minutes at 1440× → ~1.2 s of pacing
    res = CliRunner(env=env).invoke(cli, [
        "simulate", "--start", "2024-05-07T10:00:00+08:00", "--days", "0.02", "--scale", "0.2", "--seed", "1",
        "--to-kafka", "--broker", broker.url, "--out", str(out), "--speed", "1440", "-q",
    ], catch_exceptions=False)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.output
    assert elapsed >= 1.0
    summary = orjson.loads((out / "summary.json").read_bytes())
    events = [orjson.loads(x) for x in (out / "events.jsonl").read_bytes().splitlines()]
    for src, topic in topics.items():
        n = summary["by_source"][src]
        assert n > 0, src
        got = consume_all(broker.bootstrap, topic, expected=n, timeout=60)
        assert len(got) == n, (src, len(got), n)
        vals = [r.json() for r in got]
        assert all("source" not in v for v in vals)
        assert Counter(v["id"] for v in vals) == Counter(e["id"] for e in events if e["source"] == src)
        for r, v in zip(got, vals):
            assert r.key.decode() == (v.get("street_code") or v["id"])
