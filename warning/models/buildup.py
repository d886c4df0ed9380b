"""Slow build-ups (诉求持续累积): a feed's volume or a theme growing over 24–72 hours.

Claims the volume and theme keys of feeds with ``buildup`` over the long windows
(``detect.long_window_hours`` and more), reporting as ``slow_buildup``. Day totals are tested with
the day-level dispersion of the street (hour-of-week noise averages out over a day) and a lower
bar than hourly scans (``signal_thresholds.slow_buildup``): far fewer independent tests a day.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = Buildup(DetectSettings(), KeyTable(default_feeds()))
>>> d.claims(d.keys.info("H"), 72), d.claims(d.keys.info("C供暖"), 24), d.claims(d.keys.info("H"), 6), d.claims(d.keys.info("S"), 72)
('slow_buildup', 'slow_buildup', None, None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warning.core.decide import Detection
from warning.core.keys import KeyInfo
from warning.models.category import theme_detection
from warning.models.detector import Detector, ScanHit
from warning.models.volume import volume_detection

if TYPE_CHECKING:
    from warning.core.street import StreetState


class Buildup(Detector):
    name = "buildup"
    signals = ("slow_buildup",)

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        if key.family not in ("volume", "theme") or not self.long(window_hours):
            return None
        return "slow_buildup" if self.keys.feeds[key.feeds[0]].has("buildup") else None

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        if hit.key.family == "volume":
            return volume_detection(signal, hit, street)
        return theme_detection(signal, hit, street)
