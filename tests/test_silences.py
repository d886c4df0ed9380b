"""Silences as delivery obeys them (warning.core.silences): only trusted, fresh, new records count;
a silence ends by itself or by an unsilence; the latest signed time wins whatever the read order;
a record naming only an alert takes effect when that alert is seen."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from warning.core.alert_feedback import PURPOSE, SOURCE_FIELD, AlertFeedbackSettings
from warning.core.signed_records import iso_time, sign_record
from warning.core.silences import OUTCOMES, Silences

SECRET = "unit-test-secret-0123456789"
CFG = AlertFeedbackSettings.model_validate({"sources": {"dashboard": {"secret": SECRET}}, "max_age_s": 600})
T0 = 1_780_000_000.0
S, X = "110105001", "hotline_volume"


def rec(when: float, action: str = "silence", hours: float | None = 4, alert_id: str = "a1", street: str | None = S,
        signal: str | None = X, source: str = "dashboard", key: str = SECRET, **extra) -> dict:
    r = {"alert_id": alert_id, "action": action, "by": "王科长", SOURCE_FIELD: source, **extra}
    if action == "silence" and hours is not None:
        r["silence_hours"] = hours
    if street is not None:
        r["street_code"] = street
    if signal is not None:
        r["signal"] = signal
    return sign_record(r, key.encode(), when, PURPOSE, source_field=SOURCE_FIELD)


def alert(alert_id: str = "a9", street: str = S, signal: str = X, status: str = "firing") -> dict:
    return {"alert_id": alert_id, "street_code": street, "signal": signal, "status": status}


def test_silence_lasts_its_hours_from_its_signed_time() -> None:
    s = Silences(CFG)
    assert s.feed(rec(T0, hours=2), T0 + 5) == "silenced"
    assert s.silenced(alert(), T0 + 10) == T0 + 2 * 3600
    assert s.silenced(alert(status="resolved"), T0 + 3600) == T0 + 2 * 3600  # resolved ones too
    assert s.silenced(alert(), T0 + 2 * 3600) is None  # over
    assert s.silenced(alert(street="110105002"), T0 + 10) is None  # another street
    assert s.silenced(alert(signal="risk_terms"), T0 + 10) is None  # another signal
    assert s.active(T0 + 10) == {(S, X): T0 + 7200}


def test_unsilence_ends_it_and_a_new_silence_starts_again() -> None:
    s = Silences(CFG)
    s.feed(rec(T0), T0)
    assert s.feed(rec(T0 + 60, action="unsilence"), T0 + 60) == "unsilenced"
    assert s.silenced(alert(), T0 + 61) is None
    assert s.feed(rec(T0 + 120, hours=1), T0 + 120) == "silenced"
    assert s.silenced(alert(), T0 + 121) == T0 + 120 + 3600


def test_latest_signed_time_wins_in_any_read_order() -> None:
    records = [rec(T0, hours=4), rec(T0 + 100, action="unsilence"), rec(T0 + 200, hours=1),
               rec(T0 + 50, hours=8, alert_id="a2")]
    results = set()
    for order in itertools.permutations(records):
        s = Silences(CFG)
        outcomes = [s.feed(r, T0 + 300) for r in order]
        assert set(outcomes) <= {"silenced", "unsilenced", "superseded"}
        results.add(s.silenced(alert(), T0 + 300))
    assert results == {T0 + 200 + 3600}
    s = Silences(CFG)
    s.feed(rec(T0 + 200, hours=1), T0 + 300)
    assert s.feed(rec(T0 + 100, action="unsilence"), T0 + 300) == "superseded"
    # the same signed second: the one read last wins
    assert s.feed(rec(T0 + 200, action="unsilence", note="撤销"), T0 + 300) == "unsilenced"
    assert s.silenced(alert(), T0 + 301) is None


@pytest.mark.parametrize("case, outcome", [
    ("unsigned", "unsigned"), ("forged", "bad_signature"), ("edited", "bad_signature"),
    ("unknown_source", "unknown_source"), ("other_purpose", "bad_signature"), ("stale", "stale"),
    ("future", "future"), ("naive_time", "bad_time"),
])
def test_untrusted_records_are_not_obeyed(case: str, outcome: str) -> None:
    good = rec(T0)
    r = {
        "unsigned": {k: v for k, v in good.items() if k != "sig"},
        "forged": rec(T0, key="another-secret-0123456789"),
        "edited": {**good, "silence_hours": 720},
        "unknown_source": rec(T0, source="intruder"),
        "other_purpose": sign_record({k: v for k, v in good.items() if k not in ("sig", "at")}, SECRET.encode(), T0,
                                     "warning.feedback/v1", source_field=SOURCE_FIELD),
        "stale": good,
        "future": good,
        "naive_time": rec(T0, at="2026-05-29T04:26:40"),  # signed, but a time without offset
    }[case]
    now = {"stale": T0 + 601, "future": T0 - 301}.get(case, T0 + 1)
    s = Silences(CFG)
    assert s.feed(r, now) == outcome
    assert s.silenced(alert(), now) is None


def test_replayed_copy_is_seen_once_and_survives_a_state_round_trip() -> None:
    s = Silences(CFG)
    r = rec(T0)
    assert s.feed(r, T0) == "silenced"
    s.feed(rec(T0 + 10, action="unsilence"), T0 + 10)
    assert s.feed(dict(r), T0 + 20) == "replay"
    t = Silences(CFG)
    t.load_state(orjson.loads(orjson.dumps(s.to_state())))  # JSON-able
    assert t.feed(dict(r), T0 + 30) == "replay"
    assert t.silenced(alert(), T0 + 30) is None
    assert "王科长" not in orjson.dumps(s.to_state()).decode()  # no person kept


def test_unknown_alert_takes_effect_when_the_alert_comes_by() -> None:
    s = Silences(CFG)
    assert s.feed(rec(T0, alert_id="a7", street=None, signal=None), T0) == "unknown_alert"
    assert s.silenced(alert("a8"), T0 + 1) is None  # same street+signal, but not yet known to be a7's
    assert s.silenced(alert("a7"), T0 + 2) == T0 + 4 * 3600
    assert s.silenced(alert("a8"), T0 + 3) == T0 + 4 * 3600  # the street+signal is silenced now
    # an alert already seen: applied at once, the missing half taken from it
    s2 = Silences(CFG)
    s2.silenced(alert("b1", street="110105002"), T0)
    assert s2.feed(rec(T0 + 1, alert_id="b1", street=None), T0 + 1) == "silenced"
    assert s2.silenced(alert("b2", street="110105002"), T0 + 2) == T0 + 1 + 4 * 3600
    # kept records are bounded and a newer one for the same alert replaces the older
    s3 = Silences(CFG, max_pending=2)
    for i in range(3):
        s3.feed(rec(T0 + i, alert_id=f"c{i}", street=None, signal=None), T0 + i)
    assert list(s3.pending) == ["c1", "c2"]
    s3.feed(rec(T0 + 5, action="unsilence", alert_id="c2", street=None, signal=None), T0 + 5)
    assert s3.silenced(alert("c2"), T0 + 6) is None


def test_alert_map_is_bounded() -> None:
    s = Silences(CFG, max_alerts=3)
    for i in range(5):
        s.silenced(alert(f"m{i}"), T0)
    assert list(s.alerts) == ["m2", "m3", "m4"]


def test_verdicts_invalid_and_disabled() -> None:
    s = Silences(CFG)
    assert s.feed(rec(T0, action="confirmed"), T0) == "ignored"
    assert s.feed(rec(T0, action="false_alarm", note="误报"), T0) == "ignored"
    assert s.feed(rec(T0, hours=None), T0) == "invalid"  # a silence without hours, correctly signed
    assert s.feed(["not", "a", "record"], T0) == "invalid"
    assert s.feed(rec(T0 - 3600, hours=0.1), T0 - 3600 + 400) == "expired"  # 6 minutes, over on arrival
    assert s.silenced(alert(), T0) is None
    assert Silences(AlertFeedbackSettings()).feed(rec(T0), T0) == "disabled"


def test_old_decisions_are_pruned_active_ones_kept() -> None:
    s = Silences(CFG)
    s.feed(rec(T0, hours=1, street="110105001"), T0)
    s.feed(rec(T0, action="unsilence", street="110105002"), T0)
    s.feed(rec(T0, hours=10, street="110105003"), T0)
    s.prune(T0 + 2 * 3600)
    assert set(s.decisions) == {("110105003", X)}


def test_outcomes_are_a_bounded_set() -> None:
    rng = random.Random(7)
    s = Silences(CFG)
    seen = set()
    for i in range(300):
        r = rec(T0 + i, action=rng.choice(["silence", "unsilence", "handled"]), street=rng.choice([S, None]),
                alert_id=f"a{rng.randrange(20)}")
        if rng.random() < 0.2:
            r["sig"] = "0" * 64
        seen.add(s.feed(r, T0 + i + rng.choice([0, 700])))
        s.silenced(alert(f"a{rng.randrange(20)}"), T0 + i)
    assert seen <= set(OUTCOMES)
    assert iso_time(T0)  # imported helper stays available for log lines


def test_service_judges_bytes_and_counts_outcomes() -> None:
    from warning.config import load_settings
    from warning.streams import metrics as m
    from warning.streams.silence import SilenceService

    svc = SilenceService(load_settings(None, env={"WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET": SECRET}))

    def count(outcome: str) -> float:
        return m.REGISTRY.get_sample_value("warning_alert_feedback_total", {"outcome": outcome}) or 0.0

    before = count("invalid"), count("silenced")
    import time

    now = float(int(time.time()))  # `at` has whole seconds
    assert svc.judge(b"\xff not json", now) == "invalid"
    assert svc.judge(orjson.dumps(rec(now)), now) == "silenced"
    assert (count("invalid"), count("silenced")) == (before[0] + 1, before[1] + 1)
    assert svc.silenced(alert(), now + 1) == now + 4 * 3600


def test_cli_checks_before_it_sends() -> None:
    from click.testing import CliRunner

    from warning.cli import cli

    env = {"WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET": SECRET, "WARNING_KAFKA__BROKER": "kafka://127.0.0.1:9"}
    base = ["feedback", "alert", "--alert-id", "a1", "--by", "值班员"]

    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(cli, [*base, *args], env=env)
        return res.exit_code, res.output

    code, out = run("--source", "dashboard", "--action", "silence")
    assert code == 2 and "--hours" in out
    code, out = run("--source", "dashboard", "--action", "confirmed", "--hours", "2")
    assert code == 2 and "--hours" in out
    code, out = run("--source", "intruder", "--action", "unsilence")
    assert code == 1 and "intruder" in out and SECRET not in out
    code, out = run("--source", "dashboard", "--action", "silence", "--hours", "721")
    assert code == 2 and "silence_hours" in out


def test_state_keeps_no_person_or_note_of_kept_records() -> None:
    s = Silences(CFG)
    assert s.feed(rec(T0, alert_id="p1", street=None, signal=None, note="联系人张三 13800000000"), T0) == "unknown_alert"
    state = orjson.dumps(s.to_state()).decode()
    assert "王科长" not in state and "张三" not in state and "13800000000" not in state
    t = Silences(CFG)
    t.load_state(orjson.loads(state))
    assert t.silenced(alert("p1"), T0 + 1) == T0 + 4 * 3600  # the kept record still takes effect


def test_record_the_history_cannot_store_is_not_obeyed_either() -> None:
    """PostgreSQL text holds no NUL: the history skips such a record, so delivery must too."""
    s = Silences(CFG)
    assert s.feed(rec(T0, note="a\x00b"), T0) == "invalid"
    assert s.feed(rec(T0, street="1101\x0005001"), T0) == "invalid"
    assert s.silenced(alert(), T0 + 1) is None
