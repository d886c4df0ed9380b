"""A new detector is one module plus one registry line (the README's "add a detector" example)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from detect_helpers import DAY, HOUR, T0, background, event, firing, run
from warning.core.decide import Detection
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.engine import Engine
from warning.core.registry import Registry
from warning.core.signals import SIGNALS, Signal, add_signal
from warning.core.window import HOUR as H
from warning.models import registry
from warning.models.detector import Detector


# ---- the module a newcomer writes (warning/models/night_calls.py) --------------------------------
class NightCalls(Detector):
    """Hotline records between 0:00 and 5:00 local time: ``min_records`` in one hour is blue."""

    name = "night_calls"
    signals = ("night_calls",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_records: int = 5

    def on_event(self, ev: Any, street: Any) -> list[Detection]:
        w = street.hour
        local_hour = int((ev.ts + 8 * 3600) % 86400 // 3600)
        if ev.source != "hotline" or local_hour >= 5 or w.count("hotline") < self.params.min_records:
            return []
        return [Detection(signal="night_calls", level="blue", t=ev.ts, window_start=w.start, window_end=w.start + H,
                          observed=float(w.count("hotline")), expected=0.0, score=self.score("night_calls", "blue"),
                          evidence={"detail_zh": f"凌晨 {w.count('hotline')} 条热线"}, samples=w.texts())]


@pytest.fixture
def night_calls(monkeypatch):
    # the one registry line, and the signal's one catalogue entry
    monkeypatch.setitem(registry.DETECTORS, "night_calls", NightCalls)
    add_signal(Signal("night_calls", "凌晨热线集中", group="hotline", kind="rule"))
    yield
    SIGNALS.pop("night_calls", None)


def _night_burst() -> list:
    evs = background(2.0, seed=4)
    evs += [event(T0 + 2 * DAY - 22 * HOUR + i * 300, "hotline", "110105002") for i in range(6)]  # 02:00–02:30
    evs.sort(key=lambda e: (e.ts, e.event_id))
    return evs


def test_a_registered_detector_runs_configured_and_selected(night_calls) -> None:
    det = DetectSettings(detector_params={"night_calls": {"min_records": 6}})
    out = firing(run(_night_burst(), Engine(det, AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"))))
    hits = [a for a in out if a["signal"] == "night_calls"]
    assert [a["street_code"] for a in hits] == ["110105002"]
    assert "凌晨热线集中" in hits[0]["summary_zh"] and hits[0]["observed"] == 6
    # deselected: not run
    det2 = DetectSettings(detectors=[n for n in registry.DETECTORS if n != "night_calls"])
    assert not [a for a in run(_night_burst(), Engine(det2, AlertSettings(calibration_cold_margin=0.0), Registry.load("110000")))
                if a["signal"] == "night_calls"]


def test_detector_params_are_validated(night_calls) -> None:
    from warning.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"detect\.detector_params\.night_calls\.min_recs: unknown key"):
        load_settings(None, env={"WARNING_DETECT__DETECTOR_PARAMS": "{night_calls: {min_recs: 3}}"})
    with pytest.raises(ConfigError, match="detect.detectors: unknown detector 'night_call'"):
        load_settings(None, env={"WARNING_DETECT__DETECTORS": "[volume, night_call]"})
    with pytest.raises(ValueError, match="unknown detector"):  # the engine checks too
        Engine(DetectSettings(detectors=["night_call"]), AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"))
    ok = load_settings(None, env={"WARNING_DETECT__DETECTOR_PARAMS": "{night_calls: {min_records: 3}}"})
    assert ok.detect.detector_params == {"night_calls": {"min_records": 3}}
