"""State of one street: its open windows, its online models, its alert lifecycle.

Events arrive here in event-time order (the engine's reorder buffer sees to that).

* **Scan at every event.** Each event updates trailing-window counts of its *keys*: its feed
  (``H`` hotline, ``P`` petition, ``S`` public safety), its theme (``C<category>`` for hotline and
  petition categories, ``T<event type>`` for 110 events) and, for texts with a strong risk term,
  ``K<risk category>``; over the last hour (exact) and the last 6 / 24 / 72 hours (hourly
  slots). Each window is tested at once against its expectation: the street's learned hourly
  expectation (level × hour-of-week profile, :class:`SeasonalCount`) summed over the window,
  times the key's learned share of the street's volume, times the partition-wide *common-mode*
  ratio (how much every other street of the partition is above or below its own expectation for
  the same key and window — heating-season starts, holidays, Monday mornings move all streets
  together and are not a street's anomaly). Evidence is ``-log10 P(X >= observed)`` under a
  negative binomial whose dispersion includes the model's uncertainty about the level, the
  profile and the share. A window is tested when it gets a new event, so an anomaly is seen
  while it builds, never only when an hour closes.
* **Sentiment** is scanned the same way: the mean P(negative) of the window's texts against the
  street's long-run mean, shifted by the partition's current deviation from its own long-run
  mean (a drift of the sentiment model or a city-wide mood is not one street's turn).
* **Guard band.** Shares and the sentiment baseline learn from hours only once they are older
  than the longest window, so a build-up is tested against a baseline it has not contaminated;
  an hour whose burst already raised an alert counts as its expectation in the longer windows.
* **Rules** at every event: risk terms (per category, over a configurable trailing window) and
  group petitions (people ≥ threshold).
* **Hour close** (every street, every hour): the models learn the hour (winsorized), episodes
  without detections in the hour count a quiet window.

A street that has learned fewer than ``warmup_hours`` hours only raises rule alerts; until
``young_hours`` its model tests need ``young_extra_log10p`` more evidence (a young street's rhythm
is known only through the partition's common mode); rules work from the first event.
"""

from __future__ import annotations

import math
from typing import Any

from warning.core.decide import LEVEL_RANK, Detection, StreetAlerts
from warning.core.detect_config import AlertSettings, DetectSettings, level_for
from warning.core.events import Event
from warning.core.instant import group_petition
from warning.core.scan import HourRing, Recent, count_test, mean_shift_test
from warning.core.window import WindowAgg
from warning.models import SeasonalCount, score_from_log10p

HOUR = 3600.0
DAY = 86400.0
HOURLY_SIGNALS = ("hotline_volume", "hotline_category", "petition_volume", "public_safety", "sentiment",
                  "risk_terms", "group_petition", "slow_buildup", "risk_buildup")
SHARE_PRIOR = 5.0  # pseudo-counts of a street's theme mix, spread over SHARE_K themes
SHARE_K = 10.0
MAX_SHARES = 64
FAMILY = {"hotline": "H", "petition": "P", "public_safety": "S"}
FAMILY_ZH = {"H": "12345热线诉求", "P": "信访", "S": "110警情"}
SOURCE_ZH = {"hotline": "热线", "petition": "信访", "public_safety": "警情"}
GROUP_OF = {"H": "hotline", "P": "petition", "S": "public_safety", "C": "hotline", "T": "public_safety",
            "K": "hotline", "N": "hotline"}
THEMES = ("C", "T", "K", "N")  # key families with a learned share (of H+P, S, and of texts)
PER_TEXT = ("K", "N")  # shares per hotline/petition text


def theme_key(ev: Event) -> str:
    """The theme key of an event: ``C<category>`` (hotline/petition) or ``T<event type>`` (110)."""
    if ev.source == "public_safety":
        return "T" + ev.kind if ev.kind else ""
    return "C" + ev.category if ev.category else ""


def event_keys(ev: Event, risk_min_weight: float = 0.8, tail: float | None = None) -> tuple[str, ...]:
    """All keys an event counts for: feed, theme, ``K<category>`` for each risk category with a
    (non-negated) term of at least ``risk_min_weight`` in a hotline or petition text, and ``N``
    when the text's P(negative) is in the partition's upper tail (``>= tail``)."""
    keys = [FAMILY.get(ev.source, "H")]
    ck = theme_key(ev)
    if ck:
        keys.append(ck)
    if ev.source != "public_safety":
        risk = ev.risk
        if risk is not None and risk.hits:
            strong = sorted({x.get("category", "") for x in risk.terms if x.get("weight", 0.0) >= risk_min_weight} - {""})
            keys.extend("K" + c for c in strong if risk.hits.get(c))
        if tail is not None and ev.sentiment_neg is not None and ev.sentiment_neg >= tail:
            keys.append("N")
    return tuple(keys)


def scan_signal(key: str, w: int, long_from: int, mood_categories: frozenset[str] = frozenset()) -> str:
    f = key[0]
    if f in ("S", "T"):
        return "public_safety"
    if f == "K" and key[1:] in mood_categories:
        return "sentiment"  # anger / escalation wording: a sentiment turn, in any window
    if f == "K":
        return "risk_buildup" if w >= long_from else "risk_terms"
    if f == "N":
        return "sentiment"
    if w >= long_from:
        return "slow_buildup"
    return {"H": "hotline_volume", "P": "petition_volume", "C": "hotline_category"}[f]


class StreetState:
    VERSION = 2

    def __init__(self, place: dict[str, str], det: DetectSettings) -> None:
        self.place = place
        hl = det.halflife_hours
        self.vol = SeasonalCount(level_halflife=hl)
        self.pet = SeasonalCount(level_halflife=hl, initial_mean=0.2)
        self.ps = SeasonalCount(level_halflife=hl, initial_mean=0.5)
        self.shares: dict[str, float] = {}  # theme key → decayed (winsorized) count
        self.share_tot = {"C": 0.0, "T": 0.0, "K": 0.0, "N": 0.0}
        self.share_upto = -1  # last hour (index) learned into the shares
        # dispersion of whole days around the hourly models' expectation (long windows)
        self.day_e = [0.0, 0.0, 0.0]  # expected hotline+petition, 110 and petition counts of the open day
        self.day_disp = [0.0] * 6  # decayed Σ((O−E)² − E) and Σ E², for each of those
        self.phi_day: tuple[float, float, float] | None = None
        self.recent = Recent()
        self.ring = HourRing(det.scan_windows_hours, "H")  # counts per key and hour
        self.exp = HourRing(det.scan_windows_hours, "f")  # expected H/P/S per hour
        self.mu: dict[int, tuple[float, float, float, float, float, float]] = {}  # hour → (μH, μP, μS, φH, φP, φS)
        # sentiment: texts / sum / sum of squares per hour; long-run moments (lagged)
        self.sring = HourRing(det.scan_windows_hours, "f")
        self.mood = [0.0, 0.0, 0.0]  # decayed n, Σ sentiment, Σ sentiment²
        self.mood_tau = [0.0, 0.0]  # decayed Σ(day residual² − sampling var), Σ weights
        self.mood_day = [0.0, 0.0, 0.0]  # texts, Σ sentiment, Σ partition shift of the open day
        self.explained: set[str] = set()  # keys whose burst in the open hour already raised an alert
        self.hour: WindowAgg | None = None
        self.day: WindowAgg | None = None
        self.last_closed_hour: float | None = None  # start of the last hour learned
        self.last_closed_day: float | None = None
        self.alerts = StreetAlerts()
        self.late = 0
        self.hours_learned = 0
        self.fired: dict[str, int] = {}  # signal → highest level rank detected in the open hour
        self.version = self.VERSION

    # ------------------------------------------------------------------ expectations
    def share(self, key: str) -> float:
        return (self.shares.get(key, 0.0) + SHARE_PRIOR / SHARE_K) / (self.share_tot[key[0]] + SHARE_PRIOR)

    def share_phi(self, key: str) -> float:
        """Extra dispersion from not knowing the share exactly (Gamma shape = effective count)."""
        return 1.0 / (self.shares.get(key, 0.0) + SHARE_PRIOR / SHARE_K)

    def open_hour(self, start: float) -> dict[str, float]:
        """Expectations of the hour starting at ``start`` (cached); returns them per key, for the
        partition-wide common-mode sums."""
        hi = int(start // HOUR)
        m = self.mu.get(hi)
        if m is None:
            x = {"t": start}
            m = (self.vol.expected(x), self.pet.expected(x), self.ps.expected(x),
                 self.vol.dispersion_now(x), self.pet.dispersion_now(x), self.ps.dispersion_now(x))
            self.mu[hi] = m
            for k in [k for k in self.mu if k < hi - 1]:
                del self.mu[k]
            self._learn_lagged(hi)
            self.exp.advance(hi)
            self.exp.set("H", m[0])
            self.exp.set("P", m[1])
            self.exp.set("S", m[2])
            self.ring.advance(hi)
            self.sring.advance(hi)
        out = {"H": m[0], "P": m[1], "S": m[2]}
        hp = m[0] + m[1]
        for k in self.shares:
            out[k] = (m[2] if k[0] == "T" else hp) * self.share(k)
        return out

    def _learn_lagged(self, hi: int) -> None:
        """Learn the theme mix and the sentiment baseline from hours as they leave the longest test
        window: a build-up is tested against a baseline it has not yet contaminated (a guard
        band, as in EARS or Farrington-style surveillance)."""
        if self.exp.hour is None or hi <= self.exp.hour:
            return
        counts = dict(self.ring.leaving(hi)) if self.ring.hour is not None else {}
        moods = dict(self.sring.leaving(hi)) if self.sring.hour is not None else {}
        for j, e in self.exp.leaving(hi):
            if j > self.share_upto:
                self._learn_share_hour(counts.get(j, {}), e.get("H", 0.0) + e.get("P", 0.0), e.get("S", 0.0))
                self._learn_mood_hour(moods.get(j, {}))
                self.share_upto = j

    def _mu(self, hour_start: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        hi = int(hour_start // HOUR)
        if hi not in self.mu:
            self.open_hour(hour_start)
        cur = self.mu[hi]
        return cur, self.mu.get(hi - 1, cur)

    # ------------------------------------------------------------------ events
    def add(self, ev: Event, hour_start: float, day_start: float, det: DetectSettings, cfg: AlertSettings,
            ctx: Any = None, keys: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        if self.hour is None or self.hour.start != hour_start:
            self.hour = WindowAgg(hour_start)
        if self.day is None or self.day.start != day_start:
            self.day = WindowAgg(day_start)
        self._mu(hour_start)
        risk = ev.risk
        hits = risk.hits if risk is not None else None
        salience = (risk.max_weight if risk is not None else 0.0) + (ev.sentiment_neg or 0.0)
        for w in (self.hour, self.day):
            w.add_source(ev.source, kind=ev.kind, category=ev.category, people=ev.people_count,
                         severity=ev.severity, repeat=ev.is_repeat, neg=ev.sentiment_neg, risk_hits=hits,
                         text=ev.text, text_score=salience)
        if keys is None:
            keys = event_keys(ev, det.risk_scan_min_weight, ctx.tail_threshold() if ctx is not None else None)
        mood = ev.sentiment_neg if ev.source != "public_safety" else None
        self.recent.add(ev.ts, keys, mood)
        hi = int(hour_start // HOUR)
        ring = self.ring
        if ring.hour != hi:
            ring.advance(hi)
        ring.add_keys(keys)
        if hits:
            for cat, n in hits.items():
                if n > 0:
                    ring.add("R" + cat, n)
        if mood is not None:
            sr = self.sring
            if sr.hour != hi:
                sr.advance(hi)
            sr.add("n", 1.0)
            sr.add("z", mood)
            sr.add("q", mood * mood)
        out: list[dict[str, Any]] = []
        dets = self._rules(ev, det)
        if det.early_firing and self.hours_learned >= det.warmup_hours:
            dets += self._scan(ev.ts, hour_start, keys, det, ctx)
            if mood is not None:
                dets += self._scan_mood(ev.ts, hour_start, det, ctx)
        for d in dets:
            out += self._emit(d, det, cfg)
        return out

    def _emit(self, d: Detection, det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        """Hand a detection to the lifecycle unless the same signal already reached this level (or
        higher) in the open hour — the lifecycle would not send it anyway."""
        r = LEVEL_RANK[d.level]
        if self.fired.get(d.signal, 0) >= r:
            return []
        self.fired[d.signal] = r
        return self.alerts.on_detection(d, self.place, det, cfg)

    def _detection(self, signal: str, level: str, t: float, w0: float, w1: float, observed: float,
                   expected: float, s: float, evidence: dict[str, Any], samples: WindowAgg | None = None,
                   group: str = "") -> Detection:
        src = samples if samples is not None else self.hour
        return Detection(signal=signal, level=level, t=t, window_start=w0, window_end=w1,
                         observed=observed, expected=expected, score=score_from_log10p(s), evidence=evidence,
                         samples=[txt for _, txt in src.samples] if src is not None else [], group=group)

    def _rules(self, ev: Event, det: DetectSettings) -> list[Detection]:
        out: list[Detection] = []
        t = ev.ts
        w = self.hour
        assert w is not None
        if ev.risk is not None and ev.risk.hits:
            for rule in det.risk_rules:
                if not ev.risk.hits.get(rule.category):
                    continue
                wh = rule.window_hours
                n = int(w.risk.get(rule.category, 0) if wh <= 1 else self.ring.window("R" + rule.category, wh))
                if n < rule.min_hits:
                    continue
                s = getattr(det.thresholds_for("risk_terms"), rule.level)
                terms = sorted({x.get("term", "") for x in ev.risk.terms if x.get("category") == rule.category} - {""})
                span = f"{wh} 小时内" if wh > 1 else "本小时"
                out.append(self._detection("risk_terms", rule.level, t, t - wh * HOUR if wh > 1 else w.start,
                                           t if wh > 1 else w.start + HOUR, n, 0.0, s, {
                    "category": rule.category, "hits": n, "terms": terms[:5], "window_hours": wh,
                    "rule": f"{rule.category} ≥ {rule.min_hits} / {wh}h",
                    "detail_zh": f"{span}出现「{rule.category}」类风险词 {n} 次（{'、'.join(terms[:3])}）"}))
        d = group_petition(ev, det, t, w.start, [txt for _, txt in w.samples], instant=False)
        if d is not None:
            out.append(d)
        if ev.source == "public_safety" and det.crowd_event_levels and ev.people_count >= min(det.crowd_event_levels):
            level = level_for(det.crowd_event_levels, ev.people_count)
            if level:
                s = getattr(det.thresholds_for("public_safety"), level)
                out.append(self._detection("public_safety", level, t, w.start, w.start + HOUR, ev.people_count, 0.0, s, {
                    "people": ev.people_count, "event_type": ev.kind, "severity": ev.severity, "rule": "crowd",
                    "detail_zh": f"{ev.kind}警情，涉及 {ev.people_count} 人"}, group="public_safety"))
        return out

    # ------------------------------------------------------------------ scan
    def _scan(self, t: float, hour_start: float, keys: tuple[str, ...], det: DetectSettings, ctx: Any) -> list[Detection]:
        """Test the trailing windows of the event's keys (hot path: kept lean)."""
        cur, prev = self._mu(hour_start)
        frac = (t - hour_start) / HOUR
        best: dict[str, tuple[float, Detection]] = {}
        min_n = det.min_count_for_alert
        min_c = det.category_min_count
        recent = self.recent.counts
        ring = self.ring
        idx = ring.hour % ring.n if ring.hour is not None else 0
        wi = ring.wi
        ecl = self.exp.closed
        long_from = det.long_window_hours
        mood_cats = det.sentiment_risk_categories
        pd = self.phi_day
        lo = det.common_mode_min
        use_ctx = ctx is not None and det.common_mode
        fam_e: dict[tuple[tuple[int, ...], int], float] = {}
        young = self._young_margin(det)
        for key in keys:
            f = key[0]
            sl = ring.slots.get(key)
            cl = ring.closed.get(key)
            now_n = float(sl[idx]) if sl is not None else 0.0
            if f in THEMES:
                sh, sh_phi = self.share(key), self.share_phi(key)
                need = min_c if f == "C" else min_n
            else:
                sh, sh_phi, need = 1.0, 0.0, min_n
            # which hourly expectations (H, P, S) the key is a share of
            parts = (2,) if f in ("S", "T") else ((1,) if f == "P" else ((0,) if f == "H" else (0, 1)))
            for wh in det.scan_windows_hours:
                if wh == 1:
                    o = float(recent.get(key, 0))
                else:
                    o = (cl[wi[wh]] if cl is not None else 0.0) + now_n
                if o < need:
                    continue
                fk = (parts, wh)
                eb = fam_e.get(fk)
                if eb is None:
                    eb = 0.0
                    for j in parts:
                        if wh == 1:
                            eb += prev[j] * (1.0 - frac) + cur[j] * frac
                        else:
                            c2 = ecl.get("HPS"[j])
                            eb += (c2[wi[wh]] if c2 is not None else 0.0) + cur[j] * frac
                    fam_e[fk] = eb
                e = eb * sh
                # dispersion: the hourly model's for short windows; for a day or more, that of day
                # totals around the hourly expectations (hour-of-week uncertainty averages out)
                j0 = parts[0]
                if wh >= 24 and pd is not None:
                    phi = pd[1] if j0 == 2 else (pd[2] if f == "P" else pd[0])
                else:
                    phi = cur[3 + j0]
                phi += sh_phi
                el = e * lo
                if o <= el + 2.5 * math.sqrt(el + phi * el * el):
                    continue  # cannot pass even with the most favourable common-mode ratio
                r = ctx.ratio(key, wh, t, hour_start, o, e) if use_ctx else 1.0
                s = count_test(o, e * r, phi)
                if s <= 0.0:
                    continue
                signal = scan_signal(key, wh, long_from, mood_cats)
                level = det.thresholds_for(signal).level(s - young)
                if level is None:
                    continue
                if wh < long_from and LEVEL_RANK[level] >= 2:
                    self.explained.add(key)
                if signal in best and best[signal][0] >= s:
                    continue
                best[signal] = (s, self._scan_detection(signal, level, t, key, wh, o, e, r, phi, s))
        return [d for _, d in best.values()]

    def _young_margin(self, det: DetectSettings) -> float:
        """Extra -log10 p a model test needs while the street is younger than ``young_hours``."""
        return det.young_extra_log10p if self.hours_learned < det.young_hours else 0.0

    def _scan_detection(self, signal: str, level: str, t: float, key: str, wh: int, o: float, e: float,
                        r: float, phi: float, s: float) -> Detection:
        f, name = key[0], key[1:]
        exp = e * r
        ev: dict[str, Any] = {"key": key, "window_hours": wh, "log10p": round(s, 3), "early": True,
                              "expected_street_model": round(e, 3), "common_mode_ratio": round(r, 3),
                              "dispersion": round(phi, 4)}
        span = "近1小时" if wh == 1 else f"近{wh}小时"
        ratio = o / max(exp, 0.01)
        if f in ("H", "P", "S"):
            what = FAMILY_ZH[f]
            ev["source"] = {"H": "hotline", "P": "petition", "S": "public_safety"}[f]
        elif f == "C":
            what = f"「{name}」类诉求"
            ev["category"] = name
        elif f == "K":
            what = f"含「{name}」类风险词的诉求"
            ev["risk_category"] = name
            if signal == "sentiment":
                what = f"带强烈不满或升级意图（「{name}」类词语）的诉求"
        elif f == "N":
            what = "强烈负面情绪的诉求"
            ev["negative_tail"] = True
        else:
            what = f"「{name}」类警情"
            ev["event_type"] = name
        if f == "P" and self.hour is not None:
            ev.update(people=self.hour.petition_people, repeats=self.hour.repeats)
        if f in ("S", "T") and self.hour is not None:
            ev.update(severity_sum=self.hour.ps_severity, severe=self.hour.ps_severe, people=self.hour.ps_people)
        if f == "H" and self.hour is not None:
            ev["types"] = dict(sorted(self.hour.hotline_types.items()))
        cm = f"，全区同期为常态的 {r:.1f} 倍" if abs(r - 1.0) >= 0.2 else ""
        ev["detail_zh"] = f"{span}{what} {o:g} 件，为预期的 {ratio:.1f} 倍{cm}"
        return self._detection(signal, level, t, t - wh * HOUR, t, o, round(exp, 3), s, ev,
                               samples=self.hour if wh <= 6 else self.day, group=GROUP_OF[f])

    def _mood_baseline(self) -> tuple[float, float, float] | None:
        """(mean, per-text variance, decayed Σ between-day variance) of the street's sentiment."""
        n, z, q = self.mood
        if n < 30.0:
            return None
        m = z / n
        var = max(q / n - m * m, 1e-4)
        return m, var, self.mood_tau[0]

    def _scan_mood(self, t: float, hour_start: float, det: DetectSettings, ctx: Any) -> list[Detection]:
        """Mean sentiment of the trailing windows' texts vs the street's baseline (+ common mode)."""
        base = self._mood_baseline()
        if base is None:
            return []
        mu, var, tau_sum = base
        # between-window variance beyond sampling noise, shrunk toward the prior (7 pseudo-days)
        tau2 = (tau_sum + 7.0 * det.sentiment_between_var) / (self.mood_tau[1] + 7.0)
        p_mood = ctx.mood() if ctx is not None and det.common_mode else None
        young = self._young_margin(det)
        best: tuple[float, Detection] | None = None
        sr = self.sring
        for wh in det.scan_windows_hours:
            if wh == 1:
                n, z = float(self.recent.vn), self.recent.vsum
            else:
                n, z = sr.window("n", wh), sr.window("z", wh)
            if n < det.sentiment_min_texts:
                continue
            m = z / n
            exp_m, v = mu, var / n + tau2
            if m - mu < 2.0 * math.sqrt(v):
                continue  # not even 2 sd above the street's own baseline
            shift = 0.0
            if p_mood is not None:
                # common mode: a city-wide rise of negativity is not this street's turn (only a
                # rise is used, so a calm city does not make streets more suspicious)
                pn, pz = ctx.mood_window(wh, t, n, z)
                if pn > 0:
                    k = det.sentiment_common_mode_texts
                    shift = max(0.0, (pz / pn - p_mood) * pn / (pn + k))
                    exp_m += shift
                    v += var / (pn + k)
            s = mean_shift_test(n, m, exp_m, v)
            if s <= 0.0:
                continue
            level = det.thresholds_for("sentiment").level(s - young)
            if level is None or (best is not None and best[0] >= s):
                continue
            d = self._detection("sentiment", level, t, t - wh * HOUR, t, round(m, 3), round(exp_m, 3), s, {
                "window_hours": wh, "texts": int(n), "mean_p_negative": round(m, 3), "baseline_mean": round(mu, 3),
                "common_mode_shift": round(shift, 3), "log10p": round(s, 3), "early": True,
                "detail_zh": f"{'近1小时' if wh == 1 else f'近{wh}小时'} {int(n)} 条诉求平均负面概率 {m:.2f}"
                             f"（常态 {exp_m:.2f}）"}, samples=self.hour if wh <= 6 else self.day, group="hotline")
            best = (s, d)
        return [best[1]] if best is not None else []

    # ------------------------------------------------------------------ closes
    def _learn_zero_hours(self, until: float, det: DetectSettings, cfg: AlertSettings) -> list[dict[str, Any]]:
        """Learn quiet hours after the last closed one, up to (excluding) ``until`` (only needed when
        the engine skipped hours, e.g. after a restore)."""
        out: list[dict[str, Any]] = []
        if self.last_closed_hour is None:
            return out
        h = self.last_closed_hour + HOUR
        while h < until:
            out += self._close(h, WindowAgg(h), det, cfg)
            h += HOUR
        return out

    def close_hour(self, start: float, det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[dict[str, Any]]:
        """Close the hour starting at ``start`` (whether or not the street had events in it)."""
        out = self._learn_zero_hours(start, det, cfg)
        if self.last_closed_hour is not None and start <= self.last_closed_hour:
            return out
        w = self.hour if self.hour is not None and self.hour.start == start else WindowAgg(start)
        return out + self._close(start, w, det, cfg, ctx)

    def _close(self, start: float, w: WindowAgg, det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        t_end = start + HOUR
        cur, _ = self._mu(start)
        for sig in list(self.alerts.episodes):
            if sig in HOURLY_SIGNALS and sig not in self.fired:
                out += self.alerts.on_quiet(sig, t_end, self.place, cfg)
        # learn the hour
        x = {"t": start}
        self.vol.learn_one({**x, "count": w.n_hotline})
        self.pet.learn_one({**x, "count": w.n_petition})
        self.ps.learn_one({**x, "count": w.n_public_safety})
        self.day_e[0] += cur[0] + cur[1]
        self.day_e[1] += cur[2]
        self.day_e[2] += cur[1]
        hi = int(start // HOUR)
        sr = self.sring
        if sr.hour == hi:
            n = sr.current("n")
            self.mood_day[0] += n
            self.mood_day[1] += sr.current("z")
            if n and ctx is not None and ctx.mood() is not None:
                pn, pz = ctx.mood_window(1, t_end - 1e-6, 0.0, 0.0)
                if pn > 0:
                    self.mood_day[2] += n * (pz / pn - ctx.mood())
        ring = self.ring
        if self.explained and ring.hour == hi:
            # an alerted burst counts as its expectation in the longer windows (no second alert
            # for the same burst from the 6/24/72-hour windows; no build-up made of one burst)
            for k in sorted(self.explained):
                e = self._key_expected(k, cur)
                if ring.current(k) > e:
                    ring.set(k, float(int(e + 0.5)))
        self.explained = set()
        if self.hours_learned < det.warmup_hours and hi > self.share_upto:
            # while young, learn at once (later: with a guard band, see _learn_lagged)
            vals = {k: ring.current(k) for k in ring.keys()} if ring.hour == hi else {}
            self._learn_share_hour(vals, cur[0] + cur[1], cur[2])
            self._learn_mood_hour({k: sr.current(k) for k in ("n", "z", "q")} if sr.hour == hi else {})
            self.share_upto = hi
        self.hours_learned += 1
        self.last_closed_hour = start
        if self.hour is not None and self.hour.start <= start:
            self.hour = None
        self.fired = {}
        return out

    def _key_expected(self, k: str, cur: tuple[float, ...]) -> float:
        f = k[0]
        if f == "H":
            return cur[0]
        if f == "P":
            return cur[1]
        if f == "S":
            return cur[2]
        if f in ("C", "K", "N"):
            return (cur[0] + cur[1]) * self.share(k)
        if f == "T":
            return cur[2] * self.share(k)
        return 0.0

    def _learn_share_hour(self, counts: dict[str, float], hp: float, s: float) -> None:
        """Add one hour's theme counts to the street's theme mix, each capped at a plausible bound
        for its expectation (so a surge does not become the new normal). The ``K`` (risk term)
        shares are per text (hotline + petition records)."""
        texts = counts.get("H", 0.0) + counts.get("P", 0.0)
        if texts > 0:
            for f in PER_TEXT:
                self.share_tot[f] += texts
        for k in sorted(counts):
            f = k[0]
            if f not in THEMES:
                continue
            n = counts[k]
            if n <= 0:
                continue
            e = (s if f == "T" else hp) * self.share(k)
            cap = e + 4.0 * math.sqrt(e + e * e * self.share_phi(k)) + 2.0
            v = n if n <= cap else cap
            self.shares[k] = self.shares.get(k, 0.0) + v
            if f not in PER_TEXT:
                self.share_tot[f] += v

    def _learn_mood_hour(self, vals: dict[str, float]) -> None:
        n = vals.get("n", 0.0)
        if n <= 0:
            return
        m = self.mood
        m[0] += n
        m[1] += vals.get("z", 0.0)
        m[2] += vals.get("q", 0.0)

    def _learn_day_dispersion(self, det: DetectSettings, observed: tuple[float, float, float], warm: bool) -> None:
        """Over-dispersion of day totals around the sum of the hourly expectations (moments,
        decayed, shrunk toward ``day_dispersion`` with ``day_dispersion_days`` pseudo-days;
        residuals winsorized at 4 sd so an incident day does not widen every later test)."""
        e_day = self.day_e
        self.day_e = [0.0, 0.0, 0.0]
        if not warm:
            return
        d = 0.5 ** (1.0 / det.day_dispersion_halflife_days)
        p0, m = det.day_dispersion, det.day_dispersion_days
        phis = []
        for i in (0, 1, 2):
            e = e_day[i]
            if e > 0.5:
                var = e + p0 * e * e
                r = observed[i] - e
                cap = 4.0 * math.sqrt(var)
                r2 = r * r if abs(r) <= cap else cap * cap
                self.day_disp[2 * i] = d * self.day_disp[2 * i] + r2 - e
                self.day_disp[2 * i + 1] = d * self.day_disp[2 * i + 1] + e * e
            num, den = self.day_disp[2 * i], self.day_disp[2 * i + 1]
            e2 = max(e * e, 1.0)
            phi = (num + m * p0 * e2) / (den + m * e2)
            phis.append(min(max(phi, 0.0), 1.0))
        self.phi_day = (phis[0], phis[1], phis[2])

    def _learn_mood_day(self, det: DetectSettings) -> None:
        """Between-day variance of the street's mean sentiment beyond sampling noise (moments,
        residuals winsorized), for the sentiment test of long windows."""
        n, z, shift = self.mood_day
        self.mood_day = [0.0, 0.0, 0.0]
        base = self._mood_baseline()
        if base is None or n < 10:
            return
        mu, var, _ = base
        r = z / n - (mu + shift / n)
        cap = 4.0 * math.sqrt(var / n + det.sentiment_between_var)
        r2 = min(r * r, cap * cap)
        d = 0.5 ** (1.0 / det.day_dispersion_halflife_days)
        self.mood_tau[0] = d * self.mood_tau[0] + max(r2 - var / n, 0.0)
        self.mood_tau[1] = d * self.mood_tau[1] + 1.0

    def _decay(self, det: DetectSettings, hours: float) -> None:
        d = 0.5 ** (hours / det.share_halflife_hours)
        for k in self.shares:
            self.shares[k] *= d
        for f in self.share_tot:
            self.share_tot[f] *= d
        if len(self.shares) > MAX_SHARES:  # bounded state: forget the rarest themes
            for k, _ in sorted(self.shares.items(), key=lambda kv: (kv[1], kv[0]))[: len(self.shares) - MAX_SHARES // 2]:
                del self.shares[k]
        dm = 0.5 ** (hours / det.sentiment_halflife_hours)
        self.mood = [x * dm for x in self.mood]

    def close_day(self, start: float, det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[dict[str, Any]]:
        """Close the local day starting at ``start`` (hours must be closed first): learn the
        dispersion of day totals and of the day's mean sentiment; decay the theme mix."""
        out = self._learn_zero_hours(start + DAY, det, cfg)
        if self.last_closed_day is not None and start <= self.last_closed_day:
            return out
        w = self.day if self.day is not None and self.day.start == start else WindowAgg(start)
        warm = self.hours_learned >= det.warmup_hours
        self._learn_day_dispersion(det, (float(w.n_hotline + w.n_petition), float(w.n_public_safety),
                                         float(w.n_petition)), warm)
        self._learn_mood_day(det)
        self._decay(det, 24.0)
        self.last_closed_day = start
        self.day = None
        return out
