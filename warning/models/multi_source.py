"""Several sources at once (多源同时异常): detections of two or more feed groups in one street
within ``detect.multi_source_hours`` raise the level by one (信访 + 热线 + 治安 together are worse
than any alone). Applied by the alert lifecycle (:mod:`warning.core.decide`) to every detection.

>>> ms = MultiSource(hours=24.0)
>>> last = {}
>>> ms.others("hotline", 1000.0, last), ms.others("petition", 2000.0, last)
([], ['hotline'])
>>> ms.others("petition", 2000.0 + 25 * 3600, last)   # the hotline anomaly is too old now
[]
"""

from __future__ import annotations


class MultiSource:
    name = "multi_source"

    def __init__(self, hours: float) -> None:
        self.span_s = hours * 3600.0

    def others(self, group: str, t: float, group_last: dict[str, float]) -> list[str]:
        """Record a detection of ``group`` at ``t`` in ``group_last`` (the street's last detection
        time per group); return the other groups detected within the span, sorted."""
        group_last[group] = max(group_last.get(group, t), t)
        return sorted(g for g, last in group_last.items() if g != group and t - last <= self.span_s)
