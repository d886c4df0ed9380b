"""Synthetic canonical events for the detection tests (no text module, no simulator).

Events are built directly as :class:`~warning.core.events.Event` structs. Background streams are
Poisson with a day/night profile, from a seeded ``random.Random``, for a handful of streets and all
three feeds (the engine holds its watermark until every feed has been seen).
"""

from __future__ import annotations

import math
import random
from typing import Any, Iterable

from warning.core.decide import LEVEL_RANK
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.engine import Engine
from warning.core.events import Event, Risk
from warning.core.feeds import default_feeds
from warning.core.registry import Registry
from warning.core.timeutil import iso

T0 = 1740758400.0  # 2025-03-01 00:00 Beijing (a Saturday)
HOUR = 3600.0
DAY = 86400.0
STREETS = {
    "110105001": ("建外街道", "朝阳区", "110105"),
    "110105002": ("朝外街道", "朝阳区", "110105"),
    "110108001": ("万寿路街道", "海淀区", "110108"),
    "110101001": ("东华门街道", "东城区", "110101"),
}
CATEGORIES = ("市场管理", "住房", "公共服务", "城乡建设", "交通管理", "劳动和社会保障", "教育", "社会秩序")
PS_TYPES = ("纠纷", "交通事故", "盗窃", "噪音扰民", "求助")
_SEQ = [0]
FEEDS = {k: v for k, v in default_feeds().items() if k != "grid"}


def event(ts: float, source: str = "hotline", street: str = "110105001", category: str = "住房",
          kind: str | None = None, people: int = 1, severity: int = 1, text: str = "", neg: float | None = None,
          risk: Risk | None = None, eid: str | None = None) -> Event:
    name, district, dcode = STREETS.get(street, ("测试街道", "测试区", street[:6]))
    if eid is None:
        _SEQ[0] += 1
        eid = f"x{_SEQ[0]:08d}"
    if kind is None:
        kind = {"hotline": "投诉", "petition": "网上", "public_safety": "纠纷"}[source]
    return Event(
        event_id=f"{source}:{eid}", source=source, id=eid, ts=float(ts), event_time=iso(ts), key=street,
        street_code=street, street_name=name, district_code=dcode, district=district, resolved_by="street_code",
        category=category if source != "public_safety" else "", kind=kind,
        people_count=people if source != "public_safety" else max(people, 0),
        severity=severity if source == "public_safety" else 0, is_repeat=False, text=text, pii={},
        sentiment_neg=neg, anger=neg, risk=risk,  # neg: the text's mood (tests give one score for both)
    )


def risk_of(category: str, term: str, weight: float = 1.0) -> Risk:
    return Risk(hits={category: 1}, max_weight=weight,
                terms=[{"term": term, "category": category, "weight": weight, "context": term}])


def _rate(hour: int) -> float:
    """Relative hourly rate: quiet night, busy day (sums to ≈ 24)."""
    return 0.25 + 1.5 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour < 22 else 0.25


def background(days: float, seed: int = 1, streets: Iterable[str] = tuple(STREETS), per_hour: float = 6.0,
               start: float = T0) -> list[Event]:
    """Poisson background for ``streets``: hotline (``per_hour`` at the daily mean), petitions and
    110 events at lower rates; categories drawn from a fixed mix."""
    rnd = random.Random(seed)
    out: list[Event] = []
    hours = int(days * 24)
    mix = [0.2, 0.15, 0.15, 0.12, 0.12, 0.1, 0.08, 0.08]
    for st in streets:
        for h in range(hours):
            t0 = start + h * HOUR
            lam = per_hour * _rate(int(((t0 + 8 * HOUR) % DAY) // HOUR))
            for src, f in (("hotline", 1.0), ("petition", 0.08), ("public_safety", 0.3)):
                n = _poisson(rnd, lam * f)
                for _ in range(n):
                    ts = t0 + rnd.random() * HOUR
                    if src == "public_safety":
                        out.append(event(ts, src, st, kind=rnd.choice(PS_TYPES), severity=rnd.choice((1, 1, 2))))
                    else:
                        cat = rnd.choices(CATEGORIES, mix)[0]
                        out.append(event(ts, src, st, category=cat, text=f"{cat}问题", neg=0.4 + 0.2 * rnd.random()))
    out.sort(key=lambda e: (e.ts, e.event_id))
    return out


def _poisson(rnd: random.Random, lam: float) -> int:
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= l:
            return k
        k += 1


def settings(**kw: Any) -> tuple[DetectSettings, AlertSettings]:
    """Detection tests exercise the detectors at the catalogue's thresholds: a few streets over a
    few days never calibrate the false-alert budget, and its cold-start margin is off here
    (tests/test_budget.py covers both)."""
    det = DetectSettings(**({"warmup_hours": 48} | kw))
    return det, AlertSettings(calibration_cold_margin=0.0)


def engine(det: DetectSettings | None = None, cfg: AlertSettings | None = None) -> Engine:
    """An engine for the feeds :func:`background` generates (the built-in ones but grid)."""
    d, c = settings()
    return Engine(det or d, cfg or c, Registry.load("110000"), feeds=FEEDS)


def run(events: Iterable[Event], eng: Engine | None = None, flush: bool = True) -> list[dict[str, Any]]:
    e = eng or engine()
    out: list[dict[str, Any]] = []
    for ev in events:
        out += e.process(ev)
    if flush:
        out += e.flush()
    return out


def firing(alerts: list[dict[str, Any]], street: str | None = None, min_level: str = "blue") -> list[dict[str, Any]]:
    return [a for a in alerts if a["status"] == "firing" and LEVEL_RANK[a["level"]] >= LEVEL_RANK[min_level]
            and (street is None or a["street_code"] == street)]
