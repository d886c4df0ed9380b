"""Tumbling event-time windows of one street: what a window accumulates, per feed.

A window is ``[start, start + size)`` in event time, aligned to local (Beijing) wall time so that
hourly windows start on the hour and daily windows at local midnight. It keeps, per feed, the
record count, the counts per record kind (热线 type, 信访 form, 警情 type …), people and severity
sums, repeats; over all feeds, risk-term hits and the most salient masked texts (for evidence).
The detectors read these for their evidence; the street's models learn the counts at hour close.

>>> w = WindowAgg(start=0.0)
>>> w.add("petition", kind="来访", people=6, severity=0, repeat=True, risk_hits={"群体/聚集": 1},
...       text="……", text_score=0.9)
>>> w.count("petition"), w.count("hotline"), w.people["petition"], w.repeats["petition"], w.risk
(1, 0, 6, 1, {'群体/聚集': 1})
"""

from __future__ import annotations

from typing import Any

from warning.core.timeutil import DAY, HOUR

LOCAL_OFFSET_S = 8 * 3600
MAX_SAMPLES = 3
SEVERE_AT = 3  # severity at or above which a record counts as severe


def window_start(ts: float, size_s: int, offset_s: int = LOCAL_OFFSET_S) -> float:
    """Start of the window containing ``ts`` (aligned to local time).

    >>> window_start(1735689600.0 + 1800, 3600)   # 2025-01-01 08:30 Beijing → 08:00
    1735689600.0
    >>> window_start(1735689600.0, 86400)          # 2025-01-01 08:00 Beijing → local midnight
    1735660800.0
    """
    return float(((int(ts) + offset_s) // size_s) * size_s - offset_s)


class WindowAgg:
    """What one street's records of one window add up to (mutable, cheap to pickle)."""

    __slots__ = ("start", "n", "kinds", "people", "severity", "severe", "repeats", "risk", "samples")

    def __init__(self, start: float) -> None:
        self.start = start
        self.n: dict[str, int] = {}  # feed → records
        self.kinds: dict[str, dict[str, int]] = {}  # feed → kind → records
        self.people: dict[str, int] = {}  # feed → Σ people_count
        self.severity: dict[str, int] = {}  # feed → Σ severity
        self.severe: dict[str, int] = {}  # feed → records with severity >= SEVERE_AT
        self.repeats: dict[str, int] = {}  # feed → repeated records
        self.risk: dict[str, int] = {}  # risk category → non-negated hits
        self.samples: list[tuple[float, str]] = []  # (salience, masked text), best first

    def add(self, feed: str, *, kind: str, people: int, severity: int, repeat: bool,
            risk_hits: dict[str, int] | None, text: str, text_score: float) -> None:
        self.add_event(feed, kind, people, severity, repeat, risk_hits, text, text_score)

    def add_event(self, feed: str, kind: str, people: int, severity: int, repeat: bool,
                  risk_hits: dict[str, int] | None, text: str, text_score: float) -> None:
        """:meth:`add` with positional arguments (the per-event path)."""
        n = self.n
        n[feed] = n.get(feed, 0) + 1
        k = self.kinds.get(feed)
        if k is None:
            k = self.kinds[feed] = {}
        k[kind] = k.get(kind, 0) + 1
        if people:
            self.people[feed] = self.people.get(feed, 0) + people
        if severity:
            self.severity[feed] = self.severity.get(feed, 0) + severity
            if severity >= SEVERE_AT:
                self.severe[feed] = self.severe.get(feed, 0) + 1
        if repeat:
            self.repeats[feed] = self.repeats.get(feed, 0) + 1
        if risk_hits:
            risk = self.risk
            for cat, c in risk_hits.items():
                risk[cat] = risk.get(cat, 0) + c
        if text:
            self._sample(text_score, text)

    def count(self, feed: str) -> int:
        return self.n.get(feed, 0)

    def texts(self) -> list[str]:
        return [t for _, t in self.samples]

    def _sample(self, score: float, text: str) -> None:
        """Keep the ``MAX_SAMPLES`` most salient texts, best first; a text goes after those at
        least as salient (the order a stable sort by descending salience gives)."""
        s = self.samples
        if len(s) >= MAX_SAMPLES:
            if not score > s[-1][0]:
                return
            s.pop()
        i = 0
        for x in s:
            if x[0] < score:
                break
            i += 1
        s.insert(i, (score, text[:200]))

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
