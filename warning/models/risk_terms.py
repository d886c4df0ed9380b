"""Risk terms (高风险言论): rules on strong terms, and a street's rate of such texts.

* **Rules** (``detect.risk_rules``): ``min_hits`` non-negated hits of a lexicon category within
  ``window_hours`` raise the rule's level regardless of any model — e.g. one extreme threat
  (极端/人身) is orange at once. A one-hit rule decides on the event alone, so it fires the
  moment the event *arrives* (``detect.instant_rules``); when the event is released later the
  same rule reaches the lifecycle again and is absorbed in the same episode.
* **Scan**: texts with a term of weight ≥ ``detect.risk_scan_min_weight`` count for
  ``K<category>``, tested like a theme against the street's own learned share of such texts
  (their terms also occur in ordinary records: 进京证, 聚众赌博 …): ``risk_terms`` over short
  windows, ``risk_buildup`` over long ones. Anger/escalation categories
  (``detect.sentiment_risk_categories``) are left to the sentiment detector.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.events import Risk, example_event
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = RiskTerms(DetectSettings(), KeyTable(default_feeds()))
>>> ev = example_event(kind="投诉", text="再不给钱我就跳楼",
...     risk=Risk(hits={"极端/人身": 1}, max_weight=1.0, terms=[{"term": "跳楼", "category": "极端/人身"}]))
>>> [(x.signal, x.level, x.evidence["instant"]) for x in d.on_arrival(ev)]
[('risk_terms', 'orange', True)]
>>> d.claims(d.keys.info("K群体/聚集"), 1), d.claims(d.keys.info("K群体/聚集"), 72), d.claims(d.keys.info("K情绪/升级"), 1)
('risk_terms', 'risk_buildup', None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warning.core.decide import Detection
from warning.core.detect_config import RiskRule
from warning.core.events import Event
from warning.core.keys import KeyInfo
from warning.core.timeutil import HOUR
from warning.core.window import window_start
from warning.models.detector import Detector, ScanHit, scan_detection

if TYPE_CHECKING:
    from warning.core.street import StreetState


class RiskTerms(Detector):
    name = "risk_terms"
    signals = ("risk_terms", "risk_buildup")

    def _rule_detection(self, ev: Event, rule: RiskRule, n: int, w0: float, w1: float, samples: list[str],
                        instant: bool) -> Detection:
        assert ev.risk is not None
        terms = sorted({x.get("term", "") for x in ev.risk.terms if x.get("category") == rule.category} - {""})
        wh = rule.window_hours
        if instant:
            evidence = {"category": rule.category, "hits": n, "terms": terms[:5], "rule": f"{rule.category} ≥ 1",
                        "instant": True, "detail_zh": f"出现「{rule.category}」类风险词（{'、'.join(terms[:3])}）"}
        else:
            span = f"{wh} 小时内" if wh > 1 else "本小时"
            evidence = {"category": rule.category, "hits": n, "terms": terms[:5], "window_hours": wh,
                        "rule": f"{rule.category} ≥ {rule.min_hits} / {wh}h",
                        "detail_zh": f"{span}出现「{rule.category}」类风险词 {n} 次（{'、'.join(terms[:3])}）"}
        return Detection(signal="risk_terms", level=rule.level, t=ev.ts, window_start=w0, window_end=w1,
                         observed=float(n), expected=0.0, score=self.score("risk_terms", rule.level),
                         samples=samples, evidence=evidence)

    def on_arrival(self, ev: Event) -> list[Detection]:
        """One-hit rules on the event alone (no window state needed)."""
        if ev.risk is None or not ev.risk.hits:
            return []
        w0 = window_start(ev.ts, int(HOUR))
        sample = [ev.text[:200]] if ev.text else []
        out = []
        for rule in self.det.risk_rules:
            n = ev.risk.hits.get(rule.category, 0)
            if rule.min_hits == 1 and n >= 1:
                out.append(self._rule_detection(ev, rule, n, w0, w0 + HOUR, sample, instant=True))
        return out

    def on_event(self, ev: Event, street: "StreetState") -> list[Detection]:
        """Every rule whose category the event hit, over the rule's window."""
        if ev.risk is None or not ev.risk.hits:
            return []
        w = street.hour
        assert w is not None
        out = []
        for rule in self.det.risk_rules:
            if not ev.risk.hits.get(rule.category):
                continue
            wh = rule.window_hours
            n = int(w.risk.get(rule.category, 0) if wh <= 1 else street.baseline.ring.window("R" + rule.category, wh))
            if n < rule.min_hits:
                continue
            w0, w1 = (ev.ts - wh * HOUR, ev.ts) if wh > 1 else (w.start, w.start + HOUR)
            out.append(self._rule_detection(ev, rule, n, w0, w1, w.texts(), instant=False))
        return out

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        if key.family != "risk" or key.name in self.det.sentiment_risk_categories:
            return None
        return "risk_buildup" if self.long(window_hours) else "risk_terms"

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        name = hit.key.name
        group = street.keys.feeds[hit.key.feeds[0]].group
        return scan_detection(signal, hit, street, f"含「{name}」类风险词的诉求", {"risk_category": name}, group)
