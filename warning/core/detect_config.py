"""Settings of detection and alert decisions (the ``detect:`` and ``alerts:`` YAML sections).

Evidence is ``s = -log10 p`` of a window under the street's learned model; a level is reached
when ``s`` passes its threshold. Rules raise a floor level regardless of the models.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warning.core import signals
from warning.core.signals import LEVEL_RANK
from warning.core.signals import LevelName as Level

# LEVEL_RANK is re-exported for modules that still import it from here (warning.core.signals has it).
__all__ = ["LEVEL_RANK", "AlertSettings", "DetectSettings", "Level", "RiskRule", "Thresholds", "level_for"]
_DEFAULT = signals.Thresholds()


def level_for(levels: dict[int, str], n: float) -> str | None:
    """The level of the highest threshold ``n`` reaches in ``{threshold: level}``, or None.

    >>> level_for({5: "yellow", 20: "orange"}, 23), level_for({5: "yellow"}, 4)
    ('orange', None)
    """
    level = None
    for threshold, lv in sorted(levels.items()):
        if n >= threshold:
            level = lv
    return level


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_M):
    """``-log10 p`` needed for each level."""

    blue: float = Field(_DEFAULT.blue, gt=0)
    yellow: float = Field(_DEFAULT.yellow, gt=0)
    orange: float = Field(_DEFAULT.orange, gt=0)
    red: float = Field(_DEFAULT.red, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if not (self.blue <= self.yellow <= self.orange <= self.red):
            raise ValueError("thresholds must satisfy blue <= yellow <= orange <= red")
        return self

    def level(self, s: float) -> str | None:
        return signals.threshold_level(self, s)


class RiskRule(_M):
    category: str
    min_hits: int = Field(1, ge=1, description="non-negated hits of this category in the window")
    level: Level
    window_hours: int = Field(1, ge=1, le=72, description="1 = the current hourly window; more = trailing hours")


class DetectSettings(_M):
    #: detectors that run, by name (warning.models.registry); None: all of them
    detectors: Optional[list[str]] = None
    #: parameters of detectors that declare their own (``Params`` in their module), by detector name
    detector_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    allowed_lateness_minutes: float = Field(10.0, ge=0)
    thresholds: Thresholds = Thresholds()
    #: per-signal thresholds override the common ones (e.g. sentiment: {blue: 5, ...}); defaults
    #: from the signal catalogue (warning.core.signals). Build-ups are tested over 24–72 h windows: far fewer independent tests per day than the hourly ones
    #: (a scan statistic's false-alarm rate grows with span / window), so a lower bar gives them
    #: about the same false-alarm rate.
    signal_thresholds: dict[str, Thresholds] = Field(default_factory=lambda: {
        s.name: Thresholds(**msgspec.structs.asdict(s.thresholds)) for s in signals.SIGNALS.values() if s.thresholds is not None})
    early_firing: bool = True
    instant_rules: bool = Field(True, description="single-event rules (extreme term, group petition) fire on arrival, not after the lateness delay")
    min_count_for_alert: int = Field(3, ge=1, description="a count signal never fires below this observed count")
    category_min_count: int = Field(5, ge=1)
    sentiment_min_texts: int = Field(4, ge=1)
    group_petition_people: int = Field(5, ge=2)
    group_petition_levels: dict[int, Level] = Field(default_factory=lambda: {5: "yellow", 20: "orange", 50: "red"})
    #: a 110 event involving many people (聚集 …): its level by people count (empty: no rule). Smaller
    #: crowds are left to the learned event-type scan (fights of ten happen every day in a city)
    crowd_event_levels: dict[int, Level] = Field(default_factory=lambda: {30: "yellow", 100: "orange", 300: "red"})
    #: absolute rules (no baseline): a single extreme term is orange at once. Other risk categories
    #: are scanned against each street's own learned rate (see risk_scan_min_weight), because
    #: their terms also occur in ordinary records (进京证, 聚众赌博, 工友们 …).
    risk_rules: list[RiskRule] = Field(default_factory=lambda: [
        RiskRule(category="极端/人身", min_hits=1, level="orange"),
    ])
    #: a text counts for the ``K<category>`` scan key when a term of that category has at least this weight
    risk_scan_min_weight: float = Field(0.8, ge=0, le=1)
    #: trailing windows (hours) tested at every event; 1 is exact (last 60 minutes), longer ones
    #: use hourly slots (the open hour plus the hours before it)
    scan_windows_hours: list[int] = Field(default_factory=lambda: [1, 6, 24, 72])
    #: windows of at least this many hours report as ``slow_buildup`` (诉求持续累积)
    long_window_hours: int = Field(24, ge=2)
    #: hours a street's models must have learned before their tests may alert (rules alert at once)
    warmup_hours: float = Field(24.0, ge=0)
    #: until a street has learned this many hours its model tests need ``young_extra_log10p`` more
    #: evidence (its own weekly rhythm is not known yet; the partition's common mode stands in)
    young_hours: float = Field(72.0, ge=0)
    young_extra_log10p: float = Field(1.0, ge=0)
    #: partition-wide common-mode correction of expectations (see warning.core.partition)
    common_mode: bool = True
    common_mode_prior: float = Field(20.0, gt=0, description="pseudo expected counts that keep the ratio near 1")
    common_mode_min: float = Field(0.8, gt=0, le=1)
    common_mode_max: float = Field(4.0, ge=1)
    day_dispersion: float = Field(0.02, ge=0, description="prior over-dispersion of day totals (variance = mean + phi mean²)")
    day_dispersion_days: float = Field(7.0, gt=0, description="pseudo-days of evidence for that prior")
    day_dispersion_halflife_days: float = Field(28.0, gt=0)
    share_halflife_hours: float = Field(672.0, gt=0, description="memory of a street's theme mix")
    multi_source_hours: float = Field(24.0, gt=0)
    #: risk categories whose ``K`` scan reports as the ``sentiment`` signal (anger and escalation
    #: wording: a street's share of such texts vs its own baseline is a sentiment turn)
    sentiment_risk_categories: frozenset[str] = Field(default_factory=lambda: frozenset({"情绪/升级"}))
    #: texts whose P(negative) is above this quantile of the partition's recent texts count for the
    #: ``N`` key (scanned like a theme: a street's share of very negative texts vs its own baseline)
    sentiment_tail_quantile: float = Field(0.85, gt=0.5, lt=1)
    sentiment_halflife_hours: float = Field(336.0, gt=0, description="memory of a street's sentiment baseline")
    sentiment_between_var: float = Field(0.00015, ge=0, description="prior variance of a day's mean mood beyond sampling noise")
    sentiment_common_mode_texts: float = Field(50.0, gt=0, description="pseudo-texts that shrink the partition's sentiment shift")
    halflife_hours: float = Field(168.0, gt=0)

    @model_validator(mode="after")
    def _windows(self) -> "DetectSettings":
        w = sorted(set(self.scan_windows_hours))
        if not w or w[0] < 1 or w[-1] > 24 * 14:
            raise ValueError("scan_windows_hours: 1 to 336 hours, at least one window")
        self.scan_windows_hours = w
        return self

    def thresholds_for(self, signal: str) -> Thresholds:
        return self.signal_thresholds.get(signal, self.thresholds)


class AlertSettings(_M):
    repeat_interval_hours: float = Field(24.0, gt=0, description="re-send an unchanged firing alert after this (event time)")
    resolve_after_windows: int = Field(3, ge=1, description="quiet windows before an episode resolves")
    inhibit: bool = Field(True, description="a higher level in a street holds back lower-level alerts of that street")
    max_sample_texts: int = Field(3, ge=0, le=10)
    #: alerts >= yellow per street per 30 days that the calibrated signals may spend together
    #: (warning.core.budget); each signal's thresholds follow its share of it
    false_alert_budget: float = Field(0.1, gt=0, le=30)
    #: relative shares of the budget by signal (missing: 1)
    budget_weights: dict[str, float] = Field(default_factory=dict)
    #: false: the catalogue's thresholds (and detect.signal_thresholds) apply as they are
    calibration: bool = True
    calibration_halflife_days: float = Field(14.0, gt=0)
    calibration_min_street_days: float = Field(200.0, ge=1, description="street-days of evidence before a signal is calibrated")
    calibration_min_log10p: float = Field(3.0, gt=0, description="a calibrated yellow never goes below this")
    calibration_max_lower: float = Field(0.0, ge=0, description="nor below the default yellow minus this")
    calibration_max_raise: float = Field(6.0, ge=0, description="nor above the default yellow plus this")
    calibration_cold_margin: float = Field(1.5, ge=0, description="added to the default yellow until calibrated")

    @field_validator("budget_weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"{k}: a weight must be >= 0")
        return v
