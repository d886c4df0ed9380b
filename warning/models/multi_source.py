"""Several sources at once (多源同时异常): a detection of one feed group in a street, within
``detect.multi_source_hours`` after a detection of at least yellow of another group there, is
raised by one level (信访 + 热线 + 治安 together are worse than any alone). Blue detections are
raised but do not raise others: two weak anomalies by chance in one day are common across 343
streets, and would spend the false-alert budget. Applied by the alert lifecycle
(:mod:`warning.core.decide`) to every detection.

>>> ms = MultiSource(hours=24.0)
>>> last = {}
>>> ms.others("hotline", 1000.0, last), ms.others("petition", 2000.0, last)
([], ['hotline'])
>>> ms.others("petition", 2000.0 + 25 * 3600, last)   # the hotline anomaly is too old now
[]
>>> ms.others("grid", 3000.0, {}, record=False), ms.others("hotline", 3500.0, {"grid": 3000.0})
([], ['grid'])
"""

from __future__ import annotations


class MultiSource:
    name = "multi_source"

    def __init__(self, hours: float) -> None:
        self.span_s = hours * 3600.0

    def others(self, group: str, t: float, group_last: dict[str, float], record: bool = True) -> list[str]:
        """Record a detection of ``group`` at ``t`` in ``group_last`` (the street's last detection
        time per group, of detections at least yellow: ``record``); return the other groups
        detected within the span, sorted."""
        if record:
            group_last[group] = max(group_last.get(group, t), t)
        return sorted(g for g, last in group_last.items() if g != group and t - last <= self.span_s)
