"""Alert decisions: detections → graded alerts with a lifecycle per (street, signal).

* an **episode** starts with the first detection of a signal in a street; its ``alert_id`` is
  stable for the episode (hash of street, signal and episode start);
* a firing alert is sent when the episode starts, when it escalates, and again only after
  ``repeat_interval_hours`` of event time at the same level;
* after ``resolve_after_windows`` quiet windows of that signal, one ``resolved`` alert is sent;
* a higher level held by another signal of the same street inhibits lower-level alerts;
* anomalies of two or more source groups in one street within ``multi_source_hours`` raise
  the level by one (信访 + 热线 + 治安 together are worse than any alone; the ``multi_source``
  detector, :mod:`warning.models.multi_source`).

The output is the alert contract of DESIGN.md (:class:`~warning.core.events.Alert`). Signal names
and levels come from the catalogue (:mod:`warning.core.signals`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from warning.models.multi_source import MultiSource

from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.events import Alert
from warning.core.signals import LEVEL_RANK, LEVELS, bump, signal_group, signal_zh
from warning.core.timeutil import iso


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

    def on_detection(self, d: Detection, place: dict[str, str], det: DetectSettings, cfg: AlertSettings,
                     multi: MultiSource | None = None, group_zh: Mapping[str, str] | None = None) -> list[Alert]:
        """A detection of this street: start, escalate or keep its signal's episode; the alerts to
        send. ``multi`` (the multi-source detector, if selected) raises the level by one when other
        feed groups of the street had detections shortly before; ``group_zh`` names the groups."""
        group = d.group or signal_group(d.signal)
        level = d.level
        others = multi.others(group, d.t, self.group_last, LEVEL_RANK[level] >= 2) if multi is not None else []
        if others:
            level = bump(level)
            names = group_zh or {}
            d.evidence["multi_source"] = [names.get(g, g) for g in [group, *others]]
        ep = self.episodes.get(d.signal)
        out: list[Alert] = []
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

    def on_quiet(self, signal: str, t: float, place: dict[str, str], cfg: AlertSettings) -> list[Alert]:
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
               d: Detection | None, ends_at: float | None = None) -> Alert:
        assert d is not None
        level = ep.level
        obs = round(float(d.observed), 3)
        exp = round(float(d.expected), 3)
        where = f"{place['district']}{place['street_name']}"
        name = signal_zh(signal)
        ws, we = iso(d.window_start), iso(d.window_end)
        win = f"{ws[5:16].replace('T', ' ')}–{we[11:16] if ws[:10] == we[:10] else we[5:16].replace('T', ' ')}"
        if status == "firing":
            extra = ""
            if d.evidence.get("multi_source"):
                extra = f"；多源同时异常（{'、'.join(d.evidence['multi_source'])}），等级上调"
            detail = d.evidence.get("detail_zh", "")
            summary = (f"【{LEVELS[level].zh}预警】{where}：{name}。{win} 观测 {obs:g}，预期 {exp:g}"
                       f"{('，' + detail) if detail else ''}{extra}。")
        else:
            summary = f"【解除】{where}：{name}（{LEVELS[level].zh}预警）已连续 {cfg.resolve_after_windows} 个窗口恢复正常。"
        evidence = dict(d.evidence)
        evidence.pop("detail_zh", None)
        evidence["episode_started_at"] = iso(ep.started)
        evidence["fired_at"] = iso(d.t)
        return Alert(
            alert_id=ep.alert_id,
            status=status,  # type: ignore[arg-type]
            level=level,  # type: ignore[arg-type]
            signal=signal,
            street_code=place["street_code"],
            street_name=place["street_name"],
            district=place["district"],
            window_start=iso(d.window_start),
            window_end=iso(d.window_end),
            starts_at=iso(ep.level_since),
            ends_at=iso(ends_at) if ends_at is not None else None,
            observed=obs,
            expected=exp,
            score=round(float(d.score), 6),
            summary_zh=summary,
            evidence=evidence,
            sample_texts=list(d.samples[: cfg.max_sample_texts]),
        )
