"""Single-event rules decided at arrival, not after the reorder buffer.

A rule that needs nothing but the event itself — an extreme risk term (a rule with
``min_hits == 1``) or a group petition (``people_count`` ≥ the configured size) — fires as soon as
the event arrives, instead of waiting for the watermark (allowed lateness) to release it. The
decision depends on the event alone, so the stream and a backtest still agree; when the event is
released later, the same detection reaches the lifecycle again and is absorbed there (same
episode, same level: nothing is sent twice).
"""

from __future__ import annotations

from warning.core.decide import Detection
from warning.core.detect_config import DetectSettings, level_for
from warning.core.events import Event
from warning.core.window import window_start
from warning.models import score_from_log10p

HOUR = 3600.0


def instant_detections(ev: Event, det: DetectSettings) -> list[Detection]:
    out: list[Detection] = []
    w0 = window_start(ev.ts, int(HOUR))
    sample = [ev.text[:200]] if ev.text else []
    if ev.risk is not None and ev.risk.hits:
        for rule in det.risk_rules:
            n = ev.risk.hits.get(rule.category, 0)
            if rule.min_hits != 1 or n < 1:
                continue
            s = getattr(det.thresholds_for("risk_terms"), rule.level)
            terms = sorted({x.get("term", "") for x in ev.risk.terms if x.get("category") == rule.category} - {""})
            out.append(Detection(
                signal="risk_terms", level=rule.level, t=ev.ts, window_start=w0, window_end=w0 + HOUR,
                observed=float(n), expected=0.0, score=score_from_log10p(s), samples=sample,
                evidence={"category": rule.category, "hits": n, "terms": terms[:5], "rule": f"{rule.category} ≥ 1",
                          "instant": True,
                          "detail_zh": f"出现「{rule.category}」类风险词（{'、'.join(terms[:3])}）"}))
    d = group_petition(ev, det, ev.ts, w0, sample)
    if d is not None:
        out.append(d)
    return out


def group_petition(ev: Event, det: DetectSettings, t: float, w0: float, samples: list[str],
                   instant: bool = True) -> Detection | None:
    """集体访: a petition of ``group_petition_people`` or more, graded by ``group_petition_levels``."""
    if ev.source != "petition" or ev.people_count < det.group_petition_people:
        return None
    level = level_for(det.group_petition_levels, ev.people_count)
    if level is None:
        return None
    s = getattr(det.thresholds_for("group_petition"), level)
    evidence = {"people": ev.people_count, "form": ev.kind, "category": ev.category, "repeat": ev.is_repeat,
                "detail_zh": f"{ev.kind}集体访 {ev.people_count} 人（{ev.category}）"}
    if instant:
        evidence["instant"] = True
    return Detection(signal="group_petition", level=level, t=t, window_start=w0, window_end=w0 + HOUR,
                     observed=float(ev.people_count), expected=0.0, score=score_from_log10p(s), samples=samples,
                     group="petition", evidence=evidence)
