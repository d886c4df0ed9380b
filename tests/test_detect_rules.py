"""Rules: extreme terms, group petitions, risk-term windows; the learned risk-term scan."""

from __future__ import annotations

import random

import msgspec
import pytest

from detect_helpers import DAY, HOUR, T0, background, engine, event, firing, risk_of, run, settings
from warning.backtest.report import alert_time
from warning.core.decide import LEVEL_RANK
from warning.core.detect_config import RiskRule

STREET = "110105001"


def _warm(days: float = 1.0):
    e = engine()
    run(background(days, seed=7), e, flush=False)
    return e


def test_extreme_term_is_at_least_orange_at_once() -> None:
    e = _warm()
    t = T0 + 1 * DAY - 5 * 60
    ev = event(t, "hotline", STREET, category="劳动和社会保障", text="再不给钱我就跳楼", neg=0.8,
               risk=risk_of("极端/人身", "跳楼"))
    out = e.process(ev)  # at arrival: no waiting for the watermark
    hits = [a for a in out if a["signal"] == "risk_terms"]
    assert hits and LEVEL_RANK[hits[0]["level"]] >= LEVEL_RANK["orange"]
    assert hits[0]["status"] == "firing" and hits[0]["street_code"] == STREET
    assert hits[0]["evidence"]["category"] == "极端/人身"
    # released later by the watermark: the same episode, nothing sent twice
    later = run([event(t + 30 * 60, src, STREET) for src in ("hotline", "petition", "public_safety")], e)
    assert not [a for a in later if a["signal"] == "risk_terms" and a["status"] == "firing"]


def test_extreme_term_alerts_even_for_a_new_street_and_without_instant_rules() -> None:
    det, cfg = settings(instant_rules=False)
    e = engine(det, cfg)
    t = T0 + 3600
    evs = [event(t + i, src, STREET) for i, src in enumerate(("petition", "public_safety"))]
    evs.append(event(t + 10, "hotline", STREET, text="活不下去了", risk=risk_of("极端/人身", "活不下去", 0.8)))
    out = run(evs, e)
    assert [a["level"] for a in firing(out) if a["signal"] == "risk_terms"] == ["orange"]


@pytest.mark.parametrize("people,level", [(4, None), (5, "yellow"), (19, "yellow"), (20, "orange"), (50, "red")])
def test_group_petition_levels(people: int, level: str | None) -> None:
    e = _warm()
    out = e.process(event(T0 + 1 * DAY - 60, "petition", STREET, kind="来访", people=people, category="住房"))
    gp = [a for a in out if a["signal"] == "group_petition"]
    if level is None:
        assert not gp
    else:
        assert gp and gp[0]["level"] == level and gp[0]["observed"] == people
        assert LEVEL_RANK[gp[0]["level"]] >= LEVEL_RANK["yellow"]


def test_risk_rule_over_a_trailing_window() -> None:
    det, cfg = settings(risk_rules=[RiskRule(category="群体/聚集", min_hits=3, level="yellow", window_hours=24)])
    e = engine(det, cfg)
    evs = background(2.0, seed=8)
    for k, h in enumerate((20.0, 30.0, 38.0)):  # three mentions spread over 18 hours
        evs.append(event(T0 + h * HOUR, "hotline", STREET, text="大家商量着要集体上访", risk=risk_of("群体/聚集", "集体上访", 0.9)))
    evs.sort(key=lambda x: (x.ts, x.event_id))
    out = firing(run(evs, e), STREET)
    rt = [a for a in out if a["signal"] == "risk_terms"]
    assert rt and rt[0]["level"] == "yellow" and rt[0]["evidence"]["window_hours"] == 24
    assert rt[0]["starts_at"].startswith("2025-03-02T14:00")  # the third mention


def test_risk_terms_against_the_streets_own_rate() -> None:
    """Strong collective-action terms are rare in this street: four mentions within two hours
    alert (risk_terms); the same number spread over a quiet month-long rate would not."""
    evs = background(4.0, seed=9)
    for k in range(4):
        evs.append(event(T0 + 3 * DAY + 9 * HOUR + k * 1500, "hotline", STREET, category="住房",
                         text="业主们准备拉横幅集体维权", neg=0.5, risk=risk_of("群体/聚集", "拉横幅", 0.8)))
    evs.sort(key=lambda x: (x.ts, x.event_id))
    out = firing(run(evs), STREET, min_level="yellow")
    assert [a for a in out if a["signal"] == "risk_terms" and a["evidence"].get("risk_category") == "群体/聚集"]


def test_anger_wording_share_is_a_sentiment_turn() -> None:
    """Same volume, but over an afternoon most of the street's calls carry anger / escalation
    wording (情绪/升级): a ``sentiment`` alert; a single such call is nothing."""
    evs = background(4.0, seed=10)
    rnd = random.Random(4)
    turned = []
    for ev in evs:
        if ev.street_code == STREET and ev.source == "hotline":
            if T0 + 3 * DAY + 9 * HOUR <= ev.ts < T0 + 3 * DAY + 17 * HOUR and rnd.random() < 0.7:
                ev = msgspec.structs.replace(ev, text="太不像话了，再不解决就投诉到底", risk=risk_of("情绪/升级", "太不像话", 0.8))
            elif ev.ts < T0 + 2 * DAY and rnd.random() < 0.03:  # the street's usual share of angry calls
                ev = msgspec.structs.replace(ev, text="太不像话了", risk=risk_of("情绪/升级", "太不像话", 0.8))
        turned.append(ev)
    out = firing(run(turned), STREET, min_level="yellow")
    mood = [a for a in out if a["signal"] == "sentiment"]
    assert mood and mood[0]["evidence"]["risk_category"] == "情绪/升级", out
    assert "不满或升级意图" in mood[0]["summary_zh"], mood[0]["summary_zh"]
    quiet = firing(run(evs), STREET, min_level="yellow")
    assert not [a for a in quiet if a["signal"] == "sentiment"]


def test_rules_need_no_warmup_but_models_do() -> None:
    """A brand-new street: a surge of calls alerts nothing from the models (learning period),
    while a group petition alerts at once."""
    e = engine()
    t = T0 + 10 * HOUR
    evs = [event(t + i * 30, "hotline", STREET, category="公共服务") for i in range(60)]
    evs += [event(t + 5, "public_safety", STREET), event(t + 6, "petition", STREET, kind="来访", people=8)]
    evs.sort(key=lambda x: (x.ts, x.event_id))
    out = firing(run(evs, e))
    assert {a["signal"] for a in out} == {"group_petition"}


def test_young_streets_need_more_evidence() -> None:
    """After the warm-up but before ``young_hours`` a street's model tests need
    ``young_extra_log10p`` more evidence; once older, the same surge alerts alike."""
    evs = background(4.0, seed=12)
    for day in (1, 3):  # a surge on day 2 (young) and the same on day 4 (grown up)
        evs += [event(T0 + day * DAY + 10 * HOUR + i * 60, "hotline", STREET, category="公共服务") for i in range(25)]
    evs.sort(key=lambda x: (x.ts, x.event_id))

    def model_alerts(extra: float) -> set[int]:
        det, cfg = settings(warmup_hours=24, young_hours=72, young_extra_log10p=extra)
        out = firing(run(evs, engine(det, cfg)), STREET, min_level="yellow")
        return {int((alert_time(a) - T0) // DAY) for a in out if a["signal"] in ("hotline_volume", "hotline_category")}

    assert model_alerts(0.0) == {1, 3}
    assert model_alerts(50.0) == {3}


@pytest.mark.parametrize("people,level", [(12, None), (30, "yellow"), (100, "orange"), (300, "red")])
def test_crowd_event_levels(people: int, level: str | None) -> None:
    e = _warm()
    evs = [event(T0 + 1 * DAY + 60, "public_safety", STREET, kind="聚集", people=people, severity=2)]
    evs += [event(T0 + 1 * DAY + 20 * 60, src, STREET) for src in ("hotline", "petition", "public_safety")]
    out = [a for a in run(evs, e) if a["signal"] == "public_safety" and a["status"] == "firing"]
    assert [a["level"] for a in out] == ([level] if level else [])
