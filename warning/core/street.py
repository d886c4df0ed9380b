"""State of one street: its open windows, its online models, its alert lifecycle.

Events arrive here in event-time order (the engine's reorder buffer sees to that). Rules and
early firing are checked as each event lands in the open hourly window; the models score and
learn when a window closes. Quiet hours are learned lazily (as zero windows) the next time the
street is touched, and at every daily close, so that a quiet street costs nothing per hour.
"""

from __future__ import annotations

import math
from typing import Any

from warning.core.decide import Detection, StreetAlerts
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.events import Event
from warning.core.window import WindowAgg
from warning.models import BetaBinomialShift, Cusum, SeasonalCount, score_from_log10p
from warning.models._tails import LN10, log_nbinom_sf

HOUR = 3600.0
DAY = 86400.0
HOURLY_SIGNALS = ("hotline_volume", "hotline_category", "petition_volume", "public_safety", "sentiment",
                  "risk_terms", "group_petition")
DAILY_SIGNALS = ("slow_buildup", "risk_buildup")
CATEGORY_PRIOR = 5.0
CATEGORY_K = 10.0
SOURCE_ZH = {"hotline": "热线", "petition": "信访", "public_safety": "警情"}


class StreetState:
    VERSION = 1

    def __init__(self, place: dict[str, str], det: DetectSettings) -> None:
        self.place = place
        hl = det.halflife_hours
        self.vol = SeasonalCount(level_halflife=hl)
        self.pet = SeasonalCount(level_halflife=hl, initial_mean=0.2)
        self.ps = SeasonalCount(level_halflife=hl, initial_mean=0.5)
        self.sent = BetaBinomialShift(halflife=hl)
        self.sent_day = BetaBinomialShift(halflife=28.0)
        self.buildup = Cusum(k=det.cusum_k, h=det.cusum_h, count_floor=True)
        self.risk_buildup = Cusum(k=det.cusum_k, h=det.cusum_h, count_floor=True)
        self.cat_ew: dict[str, float] = {}
        self.cat_total = 0.0
        self._cat_decay = 0.5 ** (1.0 / (hl * 4))
        self.hour: WindowAgg | None = None
        self.day: WindowAgg | None = None
        self.last_closed_hour: float | None = None  # start of the last hour learned
        self.last_closed_day: float | None = None
        self.alerts = StreetAlerts()
        self.late = 0
        self.fired: set[str] = set()  # signals detected in the open hour
        self._bounds: dict[str, float] = {}
        self.version = self.VERSION

    # ------------------------------------------------------------------ events
    def add(self, ev: Event, hour_start: float, day_start: float, det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        if self.hour is None or self.hour.start != hour_start:
            self.hour = WindowAgg(hour_start)
            self.fired = set()
            self._bounds = {}
        if self.day is None or self.day.start != day_start:
            self.day = WindowAgg(day_start)
        risk = ev.risk
        hits = risk.hits if risk is not None else None
        salience = (risk.max_weight if risk is not None else 0.0) + (ev.sentiment_neg or 0.0)
        for w in (self.hour, self.day):
            w.add_source(ev.source, kind=ev.kind, category=ev.category, people=ev.people_count,
                         severity=ev.severity, repeat=ev.is_repeat, neg=ev.sentiment_neg, risk_hits=hits,
                         text=ev.text, text_score=salience)
        out: list[dict[str, Any]] = []
        for d in self._on_event(ev, det):
            self.fired.add(d.signal)
            out += self.alerts.on_detection(d, self.place, det, cfg)
        return out

    def _detection(self, signal: str, level: str, t: float, w: WindowAgg, size: float, observed: float,
                   expected: float, s: float, evidence: dict[str, Any]) -> Detection:
        return Detection(signal=signal, level=level, t=t, window_start=w.start, window_end=w.start + size,
                         observed=observed, expected=expected, score=score_from_log10p(s), evidence=evidence,
                         samples=[txt for _, txt in w.samples])

    def _on_event(self, ev: Event, det: DetectSettings) -> list[Detection]:
        w = self.hour
        assert w is not None
        out: list[Detection] = []
        t = ev.ts
        # Rules: risk terms, group petitions.
        if ev.risk is not None and ev.risk.hits:
            for rule in det.risk_rules:
                n = w.risk.get(rule.category, 0)
                if n >= rule.min_hits and ev.risk.hits.get(rule.category):
                    thr = det.thresholds_for("risk_terms")
                    s = getattr(thr, rule.level)
                    terms = sorted({x.get("term", "") for x in ev.risk.terms if x.get("category") == rule.category} - {""})
                    out.append(self._detection("risk_terms", rule.level, t, w, HOUR, n, 0.0, s, {
                        "category": rule.category, "hits": n, "terms": terms[:5], "rule": f"{rule.category} ≥ {rule.min_hits}",
                        "detail_zh": f"出现「{rule.category}」类风险词 {n} 次（{'、'.join(terms[:3])}）"}))
        if ev.source == "petition" and ev.people_count >= det.group_petition_people:
            level = None
            for people, lv in sorted(det.group_petition_levels.items()):
                if ev.people_count >= people:
                    level = lv
            if level:
                s = getattr(det.thresholds_for("group_petition"), level)
                out.append(self._detection("group_petition", level, t, w, HOUR, ev.people_count, 0.0, s, {
                    "people": ev.people_count, "form": ev.kind, "category": ev.category, "repeat": ev.is_repeat,
                    "detail_zh": f"{ev.kind}集体访 {ev.people_count} 人（{ev.category}）"}))
        if det.early_firing:
            out += self._early(ev, det)
        return out

    # Early firing: the partial count already exceeds what is plausible for the whole window.
    def _early(self, ev: Event, det: DetectSettings) -> list[Detection]:
        w = self.hour
        assert w is not None
        if ev.source == "hotline":
            model, signal, k = self.vol, "hotline_volume", w.n_hotline
        elif ev.source == "petition":
            model, signal, k = self.pet, "petition_volume", w.n_petition
        else:
            model, signal, k = self.ps, "public_safety", w.n_public_safety
        out: list[Detection] = []
        if k >= det.min_count_for_alert:
            bound = self._bounds.get(signal)
            x = {"t": w.start}
            if bound is None:
                mu = model.expected(x)
                alpha = 10.0 ** (-det.thresholds_for(signal).blue)
                bound = float(model.upper_bound(mu, alpha=alpha, phi=model.dispersion_now(x)))
                self._bounds[signal] = bound
            if k > bound:
                d = self._count_detection(signal, model, k, w, ev.ts, det, early=True)
                if d is not None:
                    out.append(d)
        if ev.source != "public_safety" and ev.category:
            kc = w.categories.get(ev.category, 0)
            if kc >= det.category_min_count:
                d = self._category_detection(ev.category, kc, w, ev.ts, det, early=True)
                if d is not None:
                    out.append(d)
        return out

    def _count_detection(self, signal: str, model: SeasonalCount, k: int, w: WindowAgg, t: float,
                         det: DetectSettings, early: bool) -> Detection | None:
        if k < det.min_count_for_alert:
            return None
        x = {"count": k, "t": w.start}
        s = model.log10p(x)
        level = det.thresholds_for(signal).level(s)
        if level is None:
            return None
        mu = model.expected(x)
        src = {"hotline_volume": "hotline", "petition_volume": "petition", "public_safety": "public_safety"}[signal]
        ev: dict[str, Any] = {"log10p": round(s, 3), "early": early, "source": src}
        if signal == "hotline_volume":
            ev["types"] = dict(w.hotline_types)
            top, n = w.top_category()
            ev["top_category"] = top
        elif signal == "petition_volume":
            ev.update(people=w.petition_people, repeats=w.repeats)
        else:
            ev.update(severity_sum=w.ps_severity, severe=w.ps_severe, people=w.ps_people)
        ev["detail_zh"] = f"{SOURCE_ZH[src]}量为预期的 {k / max(mu, 0.01):.1f} 倍" + ("（窗口未结束即触发）" if early else "")
        return self._detection(signal, level, t, w, HOUR, k, mu, s, ev)

    def _category_share(self, c: str) -> float:
        return (self.cat_ew.get(c, 0.0) + CATEGORY_PRIOR / CATEGORY_K) / (self.cat_total + CATEGORY_PRIOR)

    def _category_detection(self, c: str, kc: int, w: WindowAgg, t: float, det: DetectSettings, early: bool) -> Detection | None:
        x = {"t": w.start}
        mu_total = self.vol.expected(x)
        mu = max(mu_total * self._category_share(c), 0.05)
        if kc <= 2 * mu + 2:
            return None
        phi = self.vol.dispersion_now(x)
        s = -log_nbinom_sf(float(kc), mu, phi) / LN10
        level = det.thresholds_for("hotline_category").level(s)
        if level is None:
            return None
        return self._detection("hotline_category", level, t, w, HOUR, kc, mu, s, {
            "category": c, "log10p": round(s, 3), "early": early,
            "detail_zh": f"「{c}」类诉求 {kc} 件，为预期的 {kc / mu:.1f} 倍" + ("（窗口未结束即触发）" if early else "")})

    # ------------------------------------------------------------------ closes
    def _learn_zero_hours(self, until: float, cfg: AlertSettings) -> list[dict[str, Any]]:
        """Learn the quiet hours after the last closed one, up to (excluding) ``until``."""
        out: list[dict[str, Any]] = []
        if self.last_closed_hour is None:
            return out
        h = self.last_closed_hour + HOUR
        n = 0
        while h < until:
            x = {"count": 0, "t": h}
            self.vol.learn_one(x)
            self.pet.learn_one(x)
            self.ps.learn_one(x)
            n += 1
            for sig in list(self.alerts.episodes):
                if sig in HOURLY_SIGNALS:
                    out += self.alerts.on_quiet(sig, h + HOUR, self.place, cfg)
            h += HOUR
            self.last_closed_hour = h - HOUR
        if n:
            f = self._cat_decay ** n
            for c in self.cat_ew:
                self.cat_ew[c] *= f
            self.cat_total *= f
        return out

    def close_hour(self, start: float, det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        """Close the hour starting at ``start`` (whether or not the street had events in it)."""
        out = self._learn_zero_hours(start, cfg)
        if self.last_closed_hour is not None and start <= self.last_closed_hour:
            return out
        w = self.hour if self.hour is not None and self.hour.start == start else WindowAgg(start)
        t_end = start + HOUR
        dets: list[Detection] = []
        for signal, model, k in (("hotline_volume", self.vol, w.n_hotline), ("petition_volume", self.pet, w.n_petition),
                                 ("public_safety", self.ps, w.n_public_safety)):
            d = self._count_detection(signal, model, k, w, t_end, det, early=False)
            if d is not None:
                dets.append(d)
        top, kc = w.top_category()
        if kc >= det.category_min_count:
            d = self._category_detection(top, kc, w, t_end, det, early=False)
            if d is not None:
                dets.append(d)
        if w.texts >= det.sentiment_min_texts:
            d = self._sentiment_detection(self.sent, w, HOUR, t_end, det)
            if d is not None:
                dets.append(d)
        for d in dets:
            self.fired.add(d.signal)
            out += self.alerts.on_detection(d, self.place, det, cfg)
        for sig in list(self.alerts.episodes):
            if sig in HOURLY_SIGNALS and sig not in self.fired:
                out += self.alerts.on_quiet(sig, t_end, self.place, cfg)
        # learn
        x = {"t": start}
        self.vol.learn_one({**x, "count": w.n_hotline})
        self.pet.learn_one({**x, "count": w.n_petition})
        self.ps.learn_one({**x, "count": w.n_public_safety})
        if w.texts:
            self.sent.learn_one({"negative": w.neg_n, "total": w.texts})
        self.cat_total = self.cat_total * self._cat_decay
        for c in list(self.cat_ew):
            self.cat_ew[c] *= self._cat_decay
        for c, n in w.categories.items():
            self.cat_ew[c] = self.cat_ew.get(c, 0.0) + n
            self.cat_total += n
        if len(self.cat_ew) > 48:  # keep the state bounded: drop the rarest
            for c, _ in sorted(self.cat_ew.items(), key=lambda kv: kv[1])[: len(self.cat_ew) - 32]:
                del self.cat_ew[c]
        self.last_closed_hour = start
        self.hour = None
        self.fired = set()
        self._bounds = {}
        return out

    def _sentiment_detection(self, model: BetaBinomialShift, w: WindowAgg, size: float, t: float,
                             det: DetectSettings) -> Detection | None:
        x = {"negative": w.neg_n, "total": w.texts}
        s = model.log10p(x)
        level = det.thresholds_for("sentiment").level(s)
        if level is None:
            return None
        base = model.baseline()
        return self._detection("sentiment", level, t, w, size, w.neg_n, round(base * w.texts, 3), s, {
            "negative": w.neg_n, "texts": w.texts, "share": round(w.neg_n / w.texts, 3), "baseline_share": round(base, 3),
            "mean_p_negative": round(w.neg_sum / w.texts, 3), "log10p": round(s, 3),
            "detail_zh": f"负面诉求占比 {w.neg_n}/{w.texts}（基线 {base:.0%}）"})

    def close_day(self, start: float, det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        """Close the local day starting at ``start`` (hours must be closed first)."""
        out = self._learn_zero_hours(start + DAY, cfg)
        if self.last_closed_day is not None and start <= self.last_closed_day:
            return out
        w = self.day if self.day is not None and self.day.start == start else WindowAgg(start)
        t_end = start + DAY
        dets: list[Detection] = []
        for signal, model, value in (("slow_buildup", self.buildup, float(w.n_hotline + w.n_petition)),
                                     ("risk_buildup", self.risk_buildup, float(sum(w.risk.values())))):
            x = {"value": value}
            sc = model.score_one(x)
            stat = model.statistic(x)
            s = 2 * model.k * stat / math.log(10)
            level = det.thresholds_for(signal).level(s) if sc >= 0.5 else None
            if level is not None:
                dets.append(self._detection(signal, level, t_end, w, DAY, value, round(model.mean, 3), s, {
                    "cusum": round(stat, 3), "daily_mean": round(model.mean, 3), "log10p": round(s, 3),
                    "detail_zh": f"日累计 {value:g}，近期日均 {model.mean:.1f}，CUSUM={stat:.1f}"}))
            model.learn_one(x)
        if w.texts >= det.sentiment_min_texts * 3:
            d = self._sentiment_detection(self.sent_day, w, DAY, t_end, det)
            if d is not None:
                dets.append(d)
        if w.texts:
            self.sent_day.learn_one({"negative": w.neg_n, "total": w.texts})
        for d in dets:
            out += self.alerts.on_detection(d, self.place, det, cfg)
        for sig in DAILY_SIGNALS:
            if sig in self.alerts.episodes and sig not in {d.signal for d in dets}:
                out += self.alerts.on_quiet(sig, t_end, self.place, cfg)
        self.last_closed_day = start
        self.day = None
        return out
