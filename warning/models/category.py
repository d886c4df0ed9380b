"""Theme surges: one category (or 110 event type, grid issue type) far above its usual share.

Claims theme keys (a feed's ``theme_prefix`` + its category or kind, e.g. ``C供暖``) over the
short windows, reporting under the feed's ``theme_signal`` (``hotline_category`` for the
hotline and petitions, which share one category mix; ``public_safety`` for 110 event types);
over long windows too for feeds without ``buildup``. The expectation is the street's learned
share of the theme times its pool's expected volume times the partition's common mode;
``detect.category_min_count`` records at least for category themes.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = Theme(DetectSettings(), KeyTable(default_feeds()))
>>> d.claims(d.keys.info("C供暖"), 6), d.claims(d.keys.info("C供暖"), 24), d.claims(d.keys.info("T斗殴"), 24)
('hotline_category', None, 'public_safety')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warning.core.decide import Detection
from warning.core.keys import KeyInfo
from warning.models.detector import Detector, ScanHit, feed_evidence, scan_detection

if TYPE_CHECKING:
    from warning.core.street import StreetState


def theme_detection(signal: str, hit: ScanHit, street: "StreetState") -> Detection:
    key = hit.key
    feed = street.keys.feeds[key.feeds[0]]
    field = feed.category_field if feed.theme == "category" else feed.kind_field
    evidence: dict[str, Any] = {field or "theme": key.name}
    if len(key.feeds) == 1:
        evidence.update(feed_evidence(feed, street.hour))
    return scan_detection(signal, hit, street, f"「{key.name}」类{feed.theme_noun_zh}", evidence, feed.group)


class Theme(Detector):
    name = "category"

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        if key.family != "theme":
            return None
        feed = self.keys.feeds[key.feeds[0]]
        if self.long(window_hours) and feed.has("buildup"):
            return None
        return feed.theme_signal

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        return theme_detection(signal, hit, street)
