"""Volume of each feed: a street's hourly record count far above its own expectation.

Claims the feed-volume key of every feed with the ``volume`` detector (``H`` for the hotline …)
over the short windows (1–6 h), reporting under the feed's ``volume_signal``
(``hotline_volume``, ``petition_volume``, ``public_safety``, ``grid_volume``); over long windows
too for feeds without ``buildup``. The test is the street's count test; evidence names the feed
and what its records say (types, people, severity).

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = Volume(DetectSettings(), KeyTable(default_feeds()))
>>> kt = d.keys
>>> d.claims(kt.info("H"), 1), d.claims(kt.info("H"), 24), d.claims(kt.info("S"), 72), d.claims(kt.info("C供暖"), 1)
('hotline_volume', None, 'public_safety', None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warning.core.decide import Detection
from warning.core.keys import KeyInfo
from warning.models.detector import Detector, ScanHit, feed_evidence, scan_detection

if TYPE_CHECKING:
    from warning.core.street import StreetState


def volume_detection(signal: str, hit: ScanHit, street: "StreetState") -> Detection:
    feed = street.keys.feeds[hit.key.feed]
    evidence: dict[str, Any] = {"source": feed.name, **feed_evidence(feed, street.hour)}
    return scan_detection(signal, hit, street, feed.noun_zh, evidence, feed.group)


class Volume(Detector):
    name = "volume"

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        if key.family != "volume":
            return None
        feed = self.keys.feeds[key.feed]
        if not feed.has("volume") or (self.long(window_hours) and feed.has("buildup")):
            return None
        return feed.volume_signal

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        return volume_detection(signal, hit, street)
