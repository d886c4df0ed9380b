"""Feedback labels on warning.feedback change the worker's sentiment model; the state survives a
restart (saved under the data dir with the applied offsets)."""

from __future__ import annotations

import time

import orjson
import pytest
from kafka import KafkaProducer

from warning.config import load_settings
from warning.core.text import TextEnricher
from warning.streams.feedback import STATE_FILE, state_dir
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env, metric_value

pytestmark = pytest.mark.integration

TEXT = "小区门口的快递柜又坏了"


def test_feedback_learns_and_persists(broker, tmp_path):
    prefix = f"fb{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix)
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    before = TextEnricher.from_config({}).enrich(TEXT).sentiment_neg
    p = KafkaProducer(bootstrap_servers=broker.bootstrap)
    n = 60
    for i in range(n):
        p.send(f"{prefix}.feedback", orjson.dumps({"text": f"{TEXT}{'！' * (i % 3)}", "label": "negative", "by": "tester"}))
    p.send(f"{prefix}.feedback", b"not json")
    p.send(f"{prefix}.feedback", orjson.dumps({"event_id": "hotline:nope", "label": "negative", "by": "tester"}))
    p.flush()
    with Worker(env, tmp_path / "w1.log") as w:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = w.metrics()
            if metric_value(text, "warning_feedback_total", outcome="learned") >= n:
                break
            time.sleep(0.5)
        assert metric_value(text, "warning_feedback_total", outcome="learned") == n, w.log_tail()
        assert metric_value(text, "warning_feedback_total", outcome="invalid") == 1
        assert metric_value(text, "warning_feedback_total", outcome="unknown_event") == 1
    state = state_dir(settings) / STATE_FILE
    assert state.is_file()
    after = TextEnricher.load(state, {}).enrich(TEXT).sentiment_neg
    assert after > before + 0.1, (before, after)
    # a restart resumes from the saved offsets: nothing is applied twice
    with Worker(env, tmp_path / "w2.log") as w2:
        time.sleep(8)
        assert metric_value(w2.metrics(), "warning_feedback_total", outcome="learned") == 0, w2.log_tail()
