"""Tumbling event-time windows of one street: the features a window accumulates.

A window is ``[start, start + size)`` in event time, aligned to local (Beijing) wall time so that
hourly windows start on the hour and daily windows at local midnight.

>>> w = WindowAgg(start=0.0)
>>> w.add_source("hotline", kind="投诉", category="供暖", people=1, severity=0, repeat=False,
...              neg=0.9, risk_hits={"极端/人身": 1}, text="……", text_score=0.9)
>>> w.n_hotline, w.neg_n, w.risk["极端/人身"], w.categories["供暖"]
(1, 1, 1, 1)
"""

from __future__ import annotations

from typing import Any

LOCAL_OFFSET_S = 8 * 3600
GROUP_PETITION_PEOPLE = 5
NEGATIVE_AT = 0.5
MAX_CATEGORIES = 24
MAX_SAMPLES = 3


def window_start(ts: float, size_s: int, offset_s: int = LOCAL_OFFSET_S) -> float:
    """Start of the window containing ``ts`` (aligned to local time).

    >>> window_start(1735689600.0 + 1800, 3600)   # 2025-01-01 08:30 Beijing → 08:00
    1735689600.0
    >>> window_start(1735689600.0, 86400)          # 2025-01-01 08:00 Beijing → local midnight
    1735660800.0
    """
    return float(((int(ts) + offset_s) // size_s) * size_s - offset_s)


class WindowAgg:
    """Features of one street in one window (mutable, cheap to pickle)."""

    __slots__ = (
        "start", "n_hotline", "n_petition", "n_public_safety", "hotline_types", "categories",
        "petition_people", "group_petitions", "max_petition_people", "repeats",
        "ps_severity", "ps_people", "ps_severe", "texts", "neg_sum", "neg_n", "risk", "samples",
    )

    def __init__(self, start: float) -> None:
        self.start = start
        self.n_hotline = 0
        self.n_petition = 0
        self.n_public_safety = 0
        self.hotline_types: dict[str, int] = {}
        self.categories: dict[str, int] = {}  # hotline + petition categories (bounded)
        self.petition_people = 0
        self.group_petitions = 0
        self.max_petition_people = 0
        self.repeats = 0
        self.ps_severity = 0
        self.ps_people = 0
        self.ps_severe = 0  # severity >= 3
        self.texts = 0
        self.neg_sum = 0.0
        self.neg_n = 0
        self.risk: dict[str, int] = {}
        self.samples: list[tuple[float, str]] = []  # (salience, masked text), best first

    def add_source(
        self, source: str, *, kind: str, category: str, people: int, severity: int, repeat: bool,
        neg: float | None, risk_hits: dict[str, int] | None, text: str, text_score: float,
    ) -> None:
        if source == "hotline":
            self.n_hotline += 1
            self.hotline_types[kind] = self.hotline_types.get(kind, 0) + 1
            self._category(category)
        elif source == "petition":
            self.n_petition += 1
            self.petition_people += people
            if people >= GROUP_PETITION_PEOPLE:
                self.group_petitions += 1
            if people > self.max_petition_people:
                self.max_petition_people = people
            if repeat:
                self.repeats += 1
            self._category(category)
        else:
            self.n_public_safety += 1
            self.ps_severity += severity
            self.ps_people += people
            if severity >= 3:
                self.ps_severe += 1
        if neg is not None and source != "public_safety":
            self.texts += 1
            self.neg_sum += neg
            if neg >= NEGATIVE_AT:
                self.neg_n += 1
        if risk_hits:
            for cat, n in risk_hits.items():
                self.risk[cat] = self.risk.get(cat, 0) + n
        if text:
            self._sample(text_score, text)

    def _category(self, category: str) -> None:
        cats = self.categories
        if category in cats or len(cats) < MAX_CATEGORIES:
            cats[category] = cats.get(category, 0) + 1
        else:
            cats["其他"] = cats.get("其他", 0) + 1

    def _sample(self, score: float, text: str) -> None:
        s = self.samples
        if len(s) < MAX_SAMPLES:
            s.append((score, text[:200]))
            s.sort(key=lambda x: -x[0])
        elif score > s[-1][0]:
            s[-1] = (score, text[:200])
            s.sort(key=lambda x: -x[0])

    @property
    def n(self) -> int:
        return self.n_hotline + self.n_petition + self.n_public_safety

    def top_category(self) -> tuple[str, int]:
        if not self.categories:
            return "", 0
        return max(self.categories.items(), key=lambda kv: (kv[1], kv[0]))

    def features(self) -> dict[str, float]:
        """Numeric feature vector (for the multivariate detector and evidence)."""
        return {
            "hotline": float(self.n_hotline), "petition": float(self.n_petition),
            "public_safety": float(self.n_public_safety), "petition_people": float(self.petition_people),
            "group_petitions": float(self.group_petitions), "ps_severity": float(self.ps_severity),
            "neg_share": self.neg_n / self.texts if self.texts else 0.0,
            "risk_hits": float(sum(self.risk.values())),
        }

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
