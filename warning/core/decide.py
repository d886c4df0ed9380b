"""Alert decisions: detections → graded alerts with a lifecycle per (street, signal).

* an **episode** starts with the first detection of a signal in a street; its ``alert_id`` is
  stable for the episode (hash of street, signal and episode start);
* a firing alert is sent when the episode starts, when it escalates, and again only after
  ``repeat_interval_hours`` of event time at the same level;
* after ``resolve_after_windows`` quiet windows of that signal, one ``resolved`` alert is sent;
* a higher level held by another signal of the same street inhibits lower-level alerts;
* anomalies of two or more source groups in one street within ``multi_source_hours`` raise
  the level by one (信访 + 热线 + 治安 together are worse than any alone).

The output is the alert contract of DESIGN.md (a plain dict, JSON-ready).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from warning.core.detect_config import LEVEL_RANK, LEVEL_ZH, LEVELS, AlertSettings, DetectSettings
from warning.core.timeutil import iso

SIGNAL_ZH = {
    "hotline_volume": "12345热线诉求量异常升高",
    "hotline_category": "同类诉求集中激增",
    "petition_volume": "信访量异常升高",
    "group_petition": "集体访",
    "public_safety": "治安警情异常升高",
    "sentiment": "负面情绪明显上升",
    "risk_terms": "高风险言论",
    "slow_buildup": "诉求持续累积",
    "risk_buildup": "风险言论持续累积",
    "multivariate": "综合特征异常",
}

#: which feed a signal speaks for (for the multi-source rule)
SIGNAL_GROUP = {
    "hotline_volume": "hotline", "hotline_category": "hotline", "sentiment": "hotline",
    "risk_terms": "hotline", "slow_buildup": "hotline", "risk_buildup": "hotline",
    "petition_volume": "petition", "group_petition": "petition",
    "public_safety": "public_safety", "multivariate": "hotline",
}
GROUP_ZH = {"hotline": "12345热线", "petition": "信访", "public_safety": "110/治安"}


@dataclass
class Detection:
    signal: str
    level: str
    t: float  # event time of the decision
    window_start: float
    window_end: float
    observed: float
    expected: float
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    group: str = ""


@dataclass
class Episode:
    alert_id: str
    level: str
    started: float
    level_since: float
    last_sent: float | None
    sent_level: str | None
    quiet: int = 0
    last: Detection | None = None


def _bump(level: str) -> str:
    i = LEVELS.index(level)
    return LEVELS[min(i + 1, len(LEVELS) - 1)]


class StreetAlerts:
    """Lifecycle of all signals of one street. Picklable; part of the street's state."""

    def __init__(self) -> None:
        self.episodes: dict[str, Episode] = {}
        self.group_last: dict[str, float] = {}

    def active_level(self) -> str:
        best = "none"
        for ep in self.episodes.values():
            if ep.sent_level and LEVEL_RANK[ep.sent_level] > LEVEL_RANK[best]:
                best = ep.sent_level
        return best

    def on_detection(self, d: Detection, place: dict[str, str], det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        group = d.group or SIGNAL_GROUP.get(d.signal, "hotline")
        self.group_last[group] = max(self.group_last.get(group, d.t), d.t)
        others = sorted(g for g, t in self.group_last.items() if g != group and d.t - t <= det.multi_source_hours * 3600)
        level = d.level
        if others:
            level = _bump(level)
            d.evidence["multi_source"] = [GROUP_ZH[g] for g in [group, *others]]
        ep = self.episodes.get(d.signal)
        out: list[dict[str, Any]] = []
        if ep is None:
            aid = hashlib.sha1(f"{place['street_code']}|{d.signal}|{d.t:.0f}".encode()).hexdigest()[:20]
            ep = Episode(alert_id=aid, level=level, started=d.t, level_since=d.t, last_sent=None, sent_level=None)
            self.episodes[d.signal] = ep
        ep.quiet = 0
        escalated = LEVEL_RANK[level] > LEVEL_RANK[ep.level]
        if escalated:
            ep.level = level
            ep.level_since = d.t
        if ep.last is None or escalated or d.score >= ep.last.score:
            ep.last = d
        due = (
            ep.sent_level is None
            or LEVEL_RANK[ep.level] > LEVEL_RANK[ep.sent_level]
            or (ep.last_sent is not None and d.t - ep.last_sent >= cfg.repeat_interval_hours * 3600)
        )
        if not due:
            return out
        if cfg.inhibit:
            for sig, other in self.episodes.items():
                if sig != d.signal and other.sent_level and LEVEL_RANK[other.sent_level] > LEVEL_RANK[ep.level]:
                    return out  # held back by a higher level of the same street
        ep.last_sent = d.t
        ep.sent_level = ep.level
        out.append(self._alert(ep, d.signal, "firing", place, cfg, d))
        return out

    def on_quiet(self, signal: str, t: float, place: dict[str, str], cfg: AlertSettings) -> list[dict[str, Any]]:
        """A window of ``signal`` closed without detection at event time ``t`` (its end)."""
        ep = self.episodes.get(signal)
        if ep is None:
            return []
        last_t = ep.last.t if ep.last is not None else ep.started
        if t <= last_t:
            return []  # a window that ended before the latest detection is not evidence of calm
        ep.quiet += 1
        if ep.quiet < cfg.resolve_after_windows:
            return []
        del self.episodes[signal]
        if ep.sent_level is None:
            return []
        return [self._alert(ep, signal, "resolved", place, cfg, ep.last, ends_at=t)]

    @staticmethod
    def _alert(ep: Episode, signal: str, status: str, place: dict[str, str], cfg: AlertSettings,
               d: Detection | None, ends_at: float | None = None) -> dict[str, Any]:
        assert d is not None
        level = ep.level
        obs = round(float(d.observed), 3)
        exp = round(float(d.expected), 3)
        where = f"{place['district']}{place['street_name']}"
        name = SIGNAL_ZH.get(signal, signal)
        ws, we = iso(d.window_start), iso(d.window_end)
        win = f"{ws[5:16].replace('T', ' ')}–{we[11:16] if ws[:10] == we[:10] else we[5:16].replace('T', ' ')}"
        if status == "firing":
            extra = ""
            if d.evidence.get("multi_source"):
                extra = f"；多源同时异常（{'、'.join(d.evidence['multi_source'])}），等级上调"
            detail = d.evidence.get("detail_zh", "")
            summary = (f"【{LEVEL_ZH[level]}预警】{where}：{name}。{win} 观测 {obs:g}，预期 {exp:g}"
                       f"{('，' + detail) if detail else ''}{extra}。")
        else:
            summary = f"【解除】{where}：{name}（{LEVEL_ZH[level]}预警）已连续 {cfg.resolve_after_windows} 个窗口恢复正常。"
        evidence = dict(d.evidence)
        evidence.pop("detail_zh", None)
        evidence["episode_started_at"] = iso(ep.started)
        evidence["fired_at"] = iso(d.t)
        return {
            "alert_id": ep.alert_id,
            "status": status,
            "level": level,
            "signal": signal,
            "street_code": place["street_code"],
            "street_name": place["street_name"],
            "district": place["district"],
            "window_start": iso(d.window_start),
            "window_end": iso(d.window_end),
            "starts_at": iso(ep.level_since),
            "ends_at": iso(ends_at) if ends_at is not None else None,
            "observed": obs,
            "expected": exp,
            "score": round(float(d.score), 6),
            "summary_zh": summary,
            "evidence": evidence,
            "sample_texts": list(d.samples[: cfg.max_sample_texts]),
        }
