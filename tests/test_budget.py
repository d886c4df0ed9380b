"""The false-alert budget: per-signal thresholds calibrated online from street-day maxima."""

from __future__ import annotations

import pickle
import random

import pytest
from pydantic import ValidationError

from detect_helpers import DAY, HOUR, T0, _poisson, _rate, engine, event, firing, run
from warning.backtest.report import spending_report
from warning.core.budget import BudgetCalibrator
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.signals import Thresholds

STREETS = [f"1101050{i:02d}" for i in range(1, 13)]


def _growing_city(days_flat: int, days_growth: int, seed: int = 3) -> list:
    """Hotline background for 12 streets; then every street grows by its own daily rate (5–20 %
    a day: a heating season that lifts every street, some more than others)."""
    rnd = random.Random(seed)
    growth = {s: 1.05 + 0.15 * i / (len(STREETS) - 1) for i, s in enumerate(STREETS)}
    out = []
    for st in STREETS:
        for h in range((days_flat + days_growth) * 24):
            t0 = T0 + h * HOUR
            day = h // 24
            lam = 3.0 * _rate(int(((t0 + 8 * HOUR) % DAY) // HOUR)) * growth[st] ** max(0, day - days_flat)
            for src, f in (("hotline", 1.0), ("petition", 0.05), ("public_safety", 0.2)):
                for _ in range(_poisson(rnd, lam * f)):
                    out.append(event(t0 + rnd.random() * HOUR, src, st, category="住房"))
    out.sort(key=lambda e: (e.ts, e.event_id))
    return out


def test_a_season_lifting_every_street_raises_the_bar_of_the_long_windows() -> None:
    """Without the common mode (to isolate the budget), a city-wide growth fires slow_buildup in
    many streets with the catalogue's thresholds; calibrated on all streets' daily evidence, the
    bar rises and far fewer fire."""
    events = _growing_city(16, 10)
    det = DetectSettings(warmup_hours=48, common_mode=False)
    fixed = firing(run(events, engine(det, AlertSettings(calibration=False))), min_level="yellow")
    cal_eng = engine(det, AlertSettings(calibration_min_street_days=60))
    calibrated = firing(run(events, cal_eng), min_level="yellow")
    n_fixed = sum(a["signal"] == "slow_buildup" for a in fixed)
    n_cal = sum(a["signal"] == "slow_buildup" for a in calibrated)
    assert n_fixed >= 6, n_fixed
    assert n_cal <= n_fixed // 2, (n_cal, n_fixed)
    spend = cal_eng.ctx.budget.spending(det.thresholds_for)
    assert spend["slow_buildup"]["yellow"] > det.thresholds_for("slow_buildup").yellow


def test_calibration_survives_a_restore_and_follows_changed_settings() -> None:
    cal = BudgetCalibrator(budget=0.1, min_street_days=50)
    rnd = random.Random(2)
    for _ in range(10):
        for _ in range(20):
            cal.learn_day({"hotline_volume": rnd.expovariate(1.0), "sentiment": rnd.expovariate(2.0)})
        cal.commit()
    again = pickle.loads(pickle.dumps(cal))
    assert again.yellow == cal.yellow and again.hist == cal.hist
    t1 = again.thresholds("hotline_volume", Thresholds())
    # a restored engine takes the new budget but keeps what was learned
    eng = engine(cfg=AlertSettings(false_alert_budget=0.5, calibration_min_street_days=50))
    b = eng._budget(cal)
    assert b is not None and b.days == cal.days and b.budget == 0.5
    assert b.thresholds("hotline_volume", Thresholds()).yellow < t1.yellow  # a larger budget: a lower bar
    assert engine(cfg=AlertSettings(calibration=False))._budget(cal) is None


def test_signals_without_history_keep_their_defaults_and_the_bar_is_clamped() -> None:
    cal = BudgetCalibrator(budget=0.1, min_street_days=10, max_raise=2.0, min_log10p=3.0)
    for _ in range(5):
        for _ in range(10):
            cal.learn_day({"hotline_volume": 30.0})  # every street-day extreme: the bar would be ~30
        cal.commit()
    t = cal.thresholds("hotline_volume", Thresholds())
    assert (t.blue, t.yellow, t.orange, t.red) == (6.0, 7.0, 10.0, 14.0)  # default + 2 (max_raise)
    assert cal.thresholds("public_safety", Thresholds(yellow=6.0, orange=9.0)).yellow == 6.0


def test_budget_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="budget_weights"):
        AlertSettings(budget_weights={"sentiment": -1})
    with pytest.raises(ValidationError, match="false_alert_budget"):
        AlertSettings(false_alert_budget=0)
    cal = BudgetCalibrator(budget=0.1, weights={"sentiment": 3.0})
    assert cal._share("sentiment", ["sentiment", "hotline_volume"]) == pytest.approx(0.075)


def test_spending_report_counts_false_alerts_per_street_per_30_days() -> None:
    budget = {"false_alert_budget": 0.1, "signals": {"sentiment": {"share": 0.05, "yellow_min": 5.2, "yellow_max": 6.0}}}
    rep = spending_report(budget, {"sentiment": 3, "risk_terms": 1}, {"sentiment": 7, "risk_terms": 2},
                          n_streets=100, days=15.0)
    assert rep["signals"]["sentiment"] == {"share": 0.05, "spent": 0.06, "false_alerts": 3, "alerts": 7,
                                           "yellow_log10p_min": 5.2, "yellow_log10p_max": 6.0, "calibrated": True}
    assert rep["signals"]["risk_terms"]["calibrated"] is False
    assert rep["spent"] == pytest.approx(0.06) and rep["spent_by_rules"] == pytest.approx(0.02)
