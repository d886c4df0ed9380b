"""Crowd events (110 聚集 …): one public-safety record involving many people, graded by how many.

Smaller crowds are left to the learned event-type scan (fights of ten happen every day in a
city); ``detect.crowd_event_levels`` (empty: off) maps people counts to levels, for feeds with
the ``crowd`` detector. The volume and event-type scans of such feeds report under their
descriptor's signal (``public_safety``) through the volume and category detectors.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> Crowd(DetectSettings(), KeyTable(default_feeds())).signals
('public_safety',)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warning.core.decide import Detection
from warning.core.detect_config import level_for
from warning.core.events import Event
from warning.core.timeutil import HOUR
from warning.models.detector import Detector

if TYPE_CHECKING:
    from warning.core.street import StreetState


class Crowd(Detector):
    name = "crowd"
    signals = ("public_safety",)

    def on_event(self, ev: Event, street: "StreetState") -> list[Detection]:
        det = self.det
        feed = self.keys.feeds.get(ev.source)
        if feed is None or not feed.has("crowd") or not det.crowd_event_levels or ev.people_count < min(det.crowd_event_levels):
            return []
        level = level_for(det.crowd_event_levels, ev.people_count)
        w = street.hour
        if not level or w is None:
            return []
        signal = feed.volume_signal
        return [Detection(signal=signal, level=level, t=ev.ts, window_start=w.start, window_end=w.start + HOUR,
                          observed=ev.people_count, expected=0.0, score=self.score(signal, level), evidence={
                              "people": ev.people_count, "event_type": ev.kind, "severity": ev.severity, "rule": "crowd",
                              "detail_zh": f"{ev.kind}警情，涉及 {ev.people_count} 人"},
                          samples=w.texts(), group=feed.group)]
