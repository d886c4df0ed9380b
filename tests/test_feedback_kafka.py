"""Feedback labels on warning.feedback change the worker's sentiment model only when signed by a
configured source; every record leaves an audit entry (no text) on the audit topic; the state
survives a restart (saved under the data dir with the applied offsets and the caps)."""

from __future__ import annotations

import hashlib
import time
from collections import Counter

import orjson
import pytest
from kafka import KafkaProducer

from kafka_helpers import consume_all
from warning.config import load_settings
from warning.core.signed_records import PURPOSE_SENTIMENT_LABEL, sign_record
from warning.core.text import TextEnricher
from warning.streams.feedback import read_state
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env, metric_value

pytestmark = pytest.mark.integration

TEXT = "小区门口的快递柜又坏了"
SECRET = "integration-test-secret-0123456789"


def test_signed_feedback_learns_forged_does_not_and_is_audited(broker, tmp_path):
    prefix = f"fb{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, FB_TESTER_KEY=SECRET,
                       WARNING_FEEDBACK__SOURCES__TESTER__SECRET_ENV="FB_TESTER_KEY")
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    assert settings.feedback_audit_topic() == f"{prefix}.feedback.audit"
    seed = TextEnricher.from_config({})
    before = seed.enrich(TEXT).sentiment_neg
    seed.learn(TEXT, "negative")
    one_label = seed.enrich(TEXT).sentiment_neg
    key = settings.feedback.secret_of("tester")

    def signed(**fields):
        return orjson.dumps(sign_record({**fields, "by": "tester"}, key, time.time(), PURPOSE_SENTIMENT_LABEL))

    good = signed(text=TEXT, label="negative")
    forged_neg = orjson.loads(signed(text="别的文本", label="negative"))
    records = (
        [good, good]                                                              # learned, then a replay
        + [signed(text=f"{TEXT}{'！' * i}", label="negative", note=str(i)) for i in range(1, 6)]  # capped
        + [orjson.dumps({**forged_neg, "text": TEXT, "label": "positive"})] * 10  # bad_signature
        + [orjson.dumps({"text": TEXT, "label": "positive", "by": "nobody"})] * 10  # unsigned
        + [b"not json", signed(event_id="hotline:nope", label="negative")]        # invalid, unknown_event
    )
    p = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for r in records:  # keyed by source, as a labelling client would: one partition, in order
        p.send(f"{prefix}.feedback", r, key=b"tester")
    p.flush()
    expected = {"learned": 1, "replay": 1, "capped": 5, "bad_signature": 10, "unsigned": 10, "invalid": 1, "unknown_event": 1}
    with Worker(env, tmp_path / "w1.log") as w:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = w.metrics()
            if metric_value(text, "warning_feedback_total") >= len(records):
                break
            time.sleep(0.5)
        got = {k: metric_value(text, "warning_feedback_total", outcome=k) for k in expected}
        assert got == expected, w.log_tail()
    model, meta = read_state(settings)
    after = TextEnricher.from_state(model, {}).enrich(TEXT).sentiment_neg
    assert after == pytest.approx(one_label, abs=1e-9) and after > before, (before, one_label, after)

    audit = [orjson.loads(r.value) for r in consume_all(broker.bootstrap, settings.feedback_audit_topic(), len(records), 30)]
    assert Counter(a["outcome"] for a in audit) == Counter(expected)
    assert len({(a["partition"], a["offset"]) for a in audit}) == len(records)
    learned = next(a for a in audit if a["outcome"] == "learned")
    assert learned["by"] == "tester" and learned["label"] == "negative" and learned["topic"] == f"{prefix}.feedback"
    assert learned["text_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest() and learned["time"] and learned["at"]
    raw = b"".join(r.value for r in consume_all(broker.bootstrap, settings.feedback_audit_topic(), len(records), 30))
    assert TEXT.encode() not in raw and SECRET.encode() not in raw

    # a restart resumes from the saved offsets: nothing is applied (or audited) twice. One more label,
    # on the same partition as the others: a worker that read them again would do so before this one.
    p.send(f"{prefix}.feedback", signed(text=TEXT, label="negative", note="after restart"), key=b"tester")
    p.flush()
    with Worker(env, tmp_path / "w2.log") as w2:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and metric_value(w2.metrics(60), "warning_feedback_total") < 1:
            time.sleep(0.5)
        time.sleep(1.0)  # anything applied right after it would show too
        text = w2.metrics()
        assert metric_value(text, "warning_feedback_total") == 1, w2.log_tail()
        assert metric_value(text, "warning_feedback_total", outcome="capped") == 1, w2.log_tail()
    assert len(consume_all(broker.bootstrap, settings.feedback_audit_topic(), len(records) + 1, 30)) == len(records) + 1
    p.close()


def test_no_source_configured_learns_nothing_and_says_how_to_enable(broker, tmp_path):
    prefix = f"fb{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix)
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for _ in range(20):
        p.send(f"{prefix}.feedback", orjson.dumps({"text": TEXT, "label": "positive", "by": "nobody"}))
    p.flush()
    p.close()
    with Worker(env, tmp_path / "w.log") as w:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and metric_value(w.metrics(), "warning_feedback_total") < 20:
            time.sleep(0.5)
        assert metric_value(w.metrics(), "warning_feedback_total", outcome="disabled") == 20, w.log_tail()
    log = (tmp_path / "w.log").read_text(errors="replace")
    assert log.count("learning from warning.feedback is OFF") == 1 and "WARNING_FEEDBACK__SOURCES__" in log
    model, _ = read_state(settings)
    assert TextEnricher.from_state(model, {}).enrich(TEXT).sentiment_neg == TextEnricher.from_config({}).enrich(TEXT).sentiment_neg
