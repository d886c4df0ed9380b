"""Alert lifecycle per (street, signal) and the alert contract of DESIGN.md."""

from __future__ import annotations

import re

from warning.core.decide import Detection, StreetAlerts
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.timeutil import parse_time
from warning.models.multi_source import MultiSource

PLACE = {"street_code": "110105001", "street_name": "建外街道", "district": "朝阳区"}
DET = DetectSettings()
CFG = AlertSettings(repeat_interval_hours=24, resolve_after_windows=3, inhibit=True)
T = 1741057200.0  # 2025-03-04 11:00 Beijing
H = 3600.0

CONTRACT_KEYS = {"alert_id", "status", "level", "signal", "street_code", "street_name", "district", "window_start",
                 "window_end", "starts_at", "ends_at", "observed", "expected", "score", "summary_zh", "evidence",
                 "sample_texts"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


def det(signal: str = "hotline_category", level: str = "yellow", t: float = T, score: float = 0.5, group: str = "",
        **ev) -> Detection:
    return Detection(signal=signal, level=level, t=t, window_start=t - H, window_end=t, observed=12.0, expected=2.5,
                     score=score, evidence={"detail_zh": "「供暖」类诉求 12 件", **ev}, samples=["暖气不热，家里只有十度"],
                     group=group)


def test_first_detection_fires_and_alert_follows_the_contract() -> None:
    sa = StreetAlerts()
    out = sa.on_detection(det(), PLACE, DET, CFG)
    assert len(out) == 1
    a = out[0]
    assert set(a.to_dict()) == CONTRACT_KEYS
    assert a["status"] == "firing" and a["level"] == "yellow" and a["signal"] == "hotline_category"
    assert (a["street_code"], a["street_name"], a["district"]) == ("110105001", "建外街道", "朝阳区")
    for k in ("window_start", "window_end", "starts_at"):
        assert ISO.match(a[k]), a[k]
    assert a["ends_at"] is None
    assert isinstance(a["observed"], float) and isinstance(a["expected"], float) and 0.0 <= a["score"] <= 1.0
    assert "黄色预警" in a["summary_zh"] and "建外街道" in a["summary_zh"] and "观测 12" in a["summary_zh"]
    assert isinstance(a["evidence"], dict) and "detail_zh" not in a["evidence"]
    assert a["sample_texts"] == ["暖气不热，家里只有十度"]


def test_same_episode_keeps_its_id_and_does_not_repeat_before_the_interval() -> None:
    sa = StreetAlerts()
    first = sa.on_detection(det(), PLACE, DET, CFG)[0]
    for k in range(1, 10):  # same level, hours later, within the repeat interval
        assert sa.on_detection(det(t=T + k * H), PLACE, DET, CFG) == []
    again = sa.on_detection(det(t=T + 24 * H), PLACE, DET, CFG)
    assert len(again) == 1 and again[0]["alert_id"] == first["alert_id"] and again[0]["status"] == "firing"


def test_escalation_resends_at_once_with_the_same_id() -> None:
    sa = StreetAlerts()
    first = sa.on_detection(det(level="yellow"), PLACE, DET, CFG)[0]
    up = sa.on_detection(det(level="orange", t=T + 600), PLACE, DET, CFG)
    assert len(up) == 1
    assert up[0]["alert_id"] == first["alert_id"] and up[0]["level"] == "orange"
    assert parse_time(up[0]["starts_at"]).timestamp() == T + 600  # when it became orange
    assert sa.on_detection(det(level="yellow", t=T + 1200), PLACE, DET, CFG) == []  # no step down


def test_resolves_after_n_quiet_windows_then_a_new_episode_gets_a_new_id() -> None:
    sa = StreetAlerts()
    first = sa.on_detection(det(), PLACE, DET, CFG)[0]
    assert sa.on_quiet("hotline_category", T + H, PLACE, CFG) == []
    assert sa.on_quiet("hotline_category", T + 2 * H, PLACE, CFG) == []
    res = sa.on_quiet("hotline_category", T + 3 * H, PLACE, CFG)
    assert len(res) == 1
    r = res[0]
    assert set(r.to_dict()) == CONTRACT_KEYS
    assert r["status"] == "resolved" and r["alert_id"] == first["alert_id"] and r["level"] == "yellow"
    assert ISO.match(r["ends_at"]) and "解除" in r["summary_zh"]
    assert sa.on_quiet("hotline_category", T + 4 * H, PLACE, CFG) == []  # nothing left to resolve
    new = sa.on_detection(det(t=T + 5 * H), PLACE, DET, CFG)[0]
    assert new["alert_id"] != first["alert_id"]


def test_a_detection_resets_the_quiet_count() -> None:
    sa = StreetAlerts()
    sa.on_detection(det(), PLACE, DET, CFG)
    sa.on_quiet("hotline_category", T + H, PLACE, CFG)
    sa.on_quiet("hotline_category", T + 2 * H, PLACE, CFG)
    sa.on_detection(det(t=T + 2.5 * H), PLACE, DET, CFG)
    assert sa.on_quiet("hotline_category", T + 3 * H, PLACE, CFG) == []
    assert sa.on_quiet("hotline_category", T + 4 * H, PLACE, CFG) == []
    assert len(sa.on_quiet("hotline_category", T + 5 * H, PLACE, CFG)) == 1


def test_higher_level_of_another_signal_inhibits_lower_alerts() -> None:
    sa = StreetAlerts()
    assert sa.on_detection(det(signal="risk_terms", level="orange"), PLACE, DET, CFG)[0]["level"] == "orange"
    assert sa.on_detection(det(signal="hotline_category", level="yellow", t=T + 60), PLACE, DET, CFG) == []
    assert sa.active_level() == "orange"
    # an alert of the same or higher level is not held back
    out = sa.on_detection(det(signal="sentiment", level="orange", t=T + 120), PLACE, DET, CFG)
    assert len(out) == 1
    # without inhibition the yellow one is sent
    sa2 = StreetAlerts()
    cfg = AlertSettings(inhibit=False)
    sa2.on_detection(det(signal="risk_terms", level="orange"), PLACE, DET, cfg)
    assert len(sa2.on_detection(det(signal="hotline_category", level="yellow", t=T + 60), PLACE, DET, cfg)) == 1


def test_two_sources_anomalous_within_24h_raise_the_level() -> None:
    sa = StreetAlerts()
    multi = MultiSource(DET.multi_source_hours)
    sa.on_detection(det(signal="public_safety", level="yellow", group="public_safety"), PLACE, DET, CFG, multi)
    out = sa.on_detection(det(signal="hotline_category", level="blue", t=T + 2 * H), PLACE, DET, CFG, multi,
                          {"hotline": "12345热线", "public_safety": "110/治安"})
    assert out[0]["level"] == "yellow"
    assert out[0]["evidence"]["multi_source"] == ["12345热线", "110/治安"]
    assert "多源同时异常" in out[0]["summary_zh"]
    # more than 24 h apart: no bump
    sa2 = StreetAlerts()
    multi2 = MultiSource(DET.multi_source_hours)
    sa2.on_detection(det(signal="public_safety", level="yellow", group="public_safety"), PLACE, DET, CFG, multi2)
    out2 = sa2.on_detection(det(signal="hotline_category", level="yellow", t=T + 30 * H), PLACE, DET, CFG, multi2)
    assert out2[0]["level"] == "yellow"
    # two blue anomalies of different feeds: chance coincidences, no bump
    sa3 = StreetAlerts()
    multi3 = MultiSource(DET.multi_source_hours)
    sa3.on_detection(det(signal="public_safety", level="blue", group="public_safety"), PLACE, DET, CFG, multi3)
    out3 = sa3.on_detection(det(signal="hotline_category", level="blue", t=T + 2 * H), PLACE, DET, CFG, multi3)
    assert out3[0]["level"] == "blue"


def test_level_values_and_statuses_are_from_the_contract() -> None:
    sa = StreetAlerts()
    seen = []
    for i, lv in enumerate(("blue", "yellow", "orange", "red")):
        seen += sa.on_detection(det(level=lv, t=T + i * 60), PLACE, DET, CFG)
    for k in range(1, 4):
        seen += sa.on_quiet("hotline_category", T + k * H, PLACE, CFG)
    assert [a["level"] for a in seen] == ["blue", "yellow", "orange", "red", "red"]
    assert [a["status"] for a in seen] == ["firing"] * 4 + ["resolved"]
    assert {a["alert_id"] for a in seen} == {seen[0]["alert_id"]}
