"""Feedback poisoning (issue 11, defect 4): only signed labels from configured sources train the
sentiment model, one source moves a text at most ``per_text`` labels' worth, and the guard's
memory survives a restart with the model (one atomically replaced file)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from warning.config import ConfigError, dump_settings, load_settings
from warning.core.signed_records import PURPOSE_ALERT_FEEDBACK, PURPOSE_SENTIMENT_LABEL, SignedSources, sign_record, verify
from warning.core.text import TextEnricher
from warning.core.text.feedback_guard import FeedbackGuard, FeedbackSettings
from warning.streams.feedback import RecentTexts, decide, load_enricher, read_state, save_state

T = "物业不作为，小区门口的快递柜又坏了，投诉多次没人管"
SECRET = "k3y-of-the-ops-centre-0123456789"
NOW = 1_780_000_000.0


def settings(**over):
    return FeedbackSettings.model_validate({"sources": {"ops": {"secret": SECRET}}, **over})


def signed(cfg: FeedbackSettings, at: float = NOW, source: str = "ops", **fields) -> bytes:
    return orjson.dumps(sign_record({**fields, "by": source}, cfg.secret_of(source), at, PURPOSE_SENTIMENT_LABEL))


def run(guard, enricher, records, now=NOW):
    recent = RecentTexts()
    return [decide(guard, enricher, recent, r, now).outcome for r in records]


def test_poisoning_unsigned_and_forged_labels_leave_the_model_unchanged():
    cfg = settings()
    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(cfg)
    before = enricher.enrich(T).sentiment_neg
    unsigned = orjson.dumps({"text": T, "label": "positive", "by": "nobody"})
    forged = [orjson.dumps({"text": T, "label": "positive", "by": "ops", "at": "2026-05-28T20:26:40+00:00", "sig": f"{i:064x}"})
              for i in range(1000)]
    outcomes = run(guard, enricher, [unsigned] * 1000 + forged)
    assert outcomes.count("unsigned") == 1000 and outcomes.count("bad_signature") == 1000
    assert enricher.enrich(T).sentiment_neg == pytest.approx(before, abs=1e-12)


def test_poisoning_one_source_moves_a_text_at_most_one_label():
    cfg = settings()
    once = TextEnricher.from_config({})
    before = once.enrich(T).sentiment_neg
    once.learn(T, "positive")
    one_label = once.enrich(T).sentiment_neg

    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(cfg)
    # 2,000 signed labels from one source: distinct signatures (notes, times, punctuation)
    recs = [signed(cfg, at=NOW - i, text=T + "！" * (i % 3), label="positive", note=str(i)) for i in range(2000)]
    outcomes = run(guard, enricher, recs)
    assert outcomes.count("learned") == 1 and outcomes.count("capped") == 1999, set(outcomes)
    after = enricher.enrich(T).sentiment_neg
    assert before > 0.5 and after == pytest.approx(one_label, abs=1e-9), (before, one_label, after)


def test_replayed_stale_future_and_unknown_sources_are_rejected_with_reasons():
    cfg = settings(per_text=5)
    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(cfg)
    rec = signed(cfg, text=T, label="negative")
    other = FeedbackSettings.model_validate({"sources": {"ops": {"secret": "another-secret-0123456789"}}})
    outcomes = run(guard, enricher, [
        rec, rec,                                                    # the copy is a replay
        signed(cfg, at=NOW - 2 * 3600, text=T, label="negative"),    # older than max_age_s
        signed(cfg, at=NOW + 3600, text=T, label="negative"),        # too far ahead
        signed(other, text=T, label="negative"),                     # signed with a wrong key
        b"not json",
        signed(cfg, text=T, label="angry"),
        orjson.dumps({**orjson.loads(rec), "by": "mallory"}),
    ])
    assert outcomes == ["learned", "replay", "stale", "future", "bad_signature", "invalid", "invalid", "unknown_source"]


def test_per_source_rate_cap():
    cfg = settings(per_source_per_hour=5)
    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(cfg)
    hour = NOW - NOW % 3600
    recs = [signed(cfg, at=hour + i, text=f"{T}{i}号楼", label="negative") for i in range(8)]
    outcomes = run(guard, enricher, recs, now=hour + 60)
    assert outcomes == ["learned"] * 5 + ["rate_limited"] * 3


def test_no_source_configured_means_learning_is_off():
    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(FeedbackSettings())
    before = enricher.enrich(T).sentiment_neg
    assert set(run(guard, enricher, [orjson.dumps({"text": T, "label": "positive", "by": "x"})] * 10)) == {"disabled"}
    assert enricher.enrich(T).sentiment_neg == before


def test_alert_feedback_contract_can_use_the_same_verifier():
    """``warning.alerts.feedback`` (DESIGN.md) records: same sources, another purpose."""
    cfg = SignedSources.model_validate({"sources": {"dashboard": {"secret": SECRET}}})
    rec = sign_record({"alert_id": "a1", "action": "false_alarm", "by": "dashboard", "note": "已核实"},
                      cfg.secret_of("dashboard"), NOW, PURPOSE_ALERT_FEEDBACK)
    assert verify(rec, cfg, NOW, PURPOSE_ALERT_FEEDBACK).ok
    assert verify(rec, cfg, NOW).reason == "bad_signature"  # not valid as a sentiment label
    assert verify({**rec, "action": "silence"}, cfg, NOW, PURPOSE_ALERT_FEEDBACK).reason == "bad_signature"


def test_caps_and_offsets_survive_a_restart(tmp_path):
    s = load_settings(None, env={"WARNING_WORKER__DATA_DIR": str(tmp_path), "FB_OPS": SECRET,
                                 "WARNING_FEEDBACK__SOURCES__OPS__SECRET_ENV": "FB_OPS"})
    enricher, offsets = load_enricher(s)
    guard = FeedbackGuard(s.feedback)
    assert run(guard, enricher, [signed(s.feedback, text=T, label="positive")]) == ["learned"]
    save_state(s, enricher, {"0": 41}, guard.to_state())
    learned_once = enricher.enrich(T).sentiment_neg

    enricher2, offsets2 = load_enricher(s)
    guard2 = FeedbackGuard(s.feedback)
    guard2.load_state(read_state(s)[1]["guard"])
    assert offsets2 == {"0": 41}
    assert enricher2.enrich(T).sentiment_neg == pytest.approx(learned_once, abs=1e-12)
    assert run(guard2, enricher2, [signed(s.feedback, text=T, label="positive", note="again")]) == ["capped"]


def test_secrets_are_never_dumped_and_must_be_long(tmp_path):
    s = load_settings(None, env={"WARNING_FEEDBACK__SOURCES__OPS__SECRET": "0123456789012345678"})
    assert s.feedback.secret_of("ops") == b"0123456789012345678"  # a digit string stays a string
    assert "0123456789012345678" not in dump_settings(s)
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"WARNING_FEEDBACK__SOURCES__OPS__SECRET": "short"})
    assert e.value.errors[0][0].startswith("feedback.sources.ops") and "short" not in str(e.value)
    with pytest.raises(ConfigError):
        load_settings(None, env={"WARNING_FEEDBACK__SOURCES__OPS__SECRET_ENV": "NOT_SET_ANYWHERE"})


def test_cli_signs_for_the_worker_and_config_check_hides_the_secrets(monkeypatch):
    from click.testing import CliRunner

    from warning.cli import cli

    env = {"FB_OPS": SECRET, "WARNING_FEEDBACK__SOURCES__OPS__SECRET_ENV": "FB_OPS",
           "WARNING_FEEDBACK__SOURCES__DASH__SECRET": "inline-dash-secret-0123456789"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    out = runner.invoke(cli, ["config", "check", str(Path(__file__).resolve().parents[1] / "configs" / "default.yaml")])
    assert out.exit_code == 0, out.output
    assert "feedback:" in out.output and SECRET not in out.output and "inline-dash-secret" not in out.output
    res = runner.invoke(cli, ["feedback", "sign", "-s", "ops"], input='{"text": "物业不作为", "label": "negative"}\n')
    assert res.exit_code == 0, res.output
    cfg = load_settings(None).feedback
    enricher, guard = TextEnricher.from_config({}), FeedbackGuard(cfg)
    rec = res.output.strip().encode()
    assert SECRET.encode() not in rec
    assert run(guard, enricher, [rec], now=time.time()) == ["learned"]
    assert runner.invoke(cli, ["feedback", "sign", "-s", "nobody"], input="{}\n").exit_code != 0
