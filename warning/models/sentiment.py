"""Sentiment turns (负面情绪明显上升): a street's texts turning angry, in any window.

A text's *mood* is its anger score (:mod:`warning.core.text.mood`: emotion lexicons built by
others, DUTIR 怒/恶, weighted by the online model's P(negative)), so a turn shows in any wording,
not only in our lexicon's. Three views of the same turn, all reported as ``sentiment``:

* the street's share of texts with anger/escalation wording (risk categories in
  ``detect.sentiment_risk_categories``, e.g. 情绪/升级: 忍无可忍, 投诉到底 …) against its own
  learned share (``K<category>`` keys, scanned like a theme);
* its share of texts in the partition's upper tail of mood (the ``N`` key;
  ``detect.sentiment_tail_quantile``);
* the mean mood of the trailing windows' texts against the street's long-run mean, shifted
  by the partition's current deviation from its own (a drift of the sentiment model or a
  city-wide mood is not one street's turn): a normal mean-shift test whose variance includes the
  between-day variance the street has shown.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = Sentiment(DetectSettings(), KeyTable(default_feeds()))
>>> d.claims(d.keys.info("K情绪/升级"), 72), d.claims(d.keys.info("N"), 1), d.claims(d.keys.info("K群体/聚集"), 1)
('sentiment', 'sentiment', None)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from warning.core.decide import Detection
from warning.core.events import Event
from warning.core.keys import KeyInfo
from warning.core.timeutil import HOUR
from warning.models._tails import score_from_log10p
from warning.models.detector import Detector, ScanHit, scan_detection, span_zh
from warning.models.significance import mean_shift_test

if TYPE_CHECKING:
    from warning.core.street import StreetState


class Sentiment(Detector):
    name = "sentiment"
    signals = ("sentiment",)

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        if key.family == "tail" or (key.family == "risk" and key.name in self.det.sentiment_risk_categories):
            return "sentiment"
        return None

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        key = hit.key
        group = street.keys.feeds[key.feeds[0]].group
        if key.family == "tail":
            return scan_detection(signal, hit, street, "强烈负面情绪的诉求", {"negative_tail": True}, group)
        return scan_detection(signal, hit, street, f"带强烈不满或升级意图（「{key.name}」类词语）的诉求",
                              {"risk_category": key.name}, group)

    def after_scan(self, ev: Event, street: "StreetState", ctx: Any) -> list[Detection]:
        """Mean mood of the trailing windows' texts vs the street's baseline (+ common mode)."""
        if street.keys.mood_of(ev) is None:
            return []
        det = self.det
        b = street.baseline
        base = b.mood_baseline()
        if base is None:
            return []
        t = ev.ts
        mu, var, tau_sum = base
        # between-window variance beyond sampling noise, shrunk toward the prior (7 pseudo-days)
        tau2 = (tau_sum + 7.0 * det.sentiment_between_var) / (b.mood_tau[1] + 7.0)
        p_mood = ctx.mood() if ctx is not None and det.common_mode else None
        young = b.young_margin(det)
        best: tuple[float, Detection] | None = None
        sr = b.sring
        # the ring's window sums, read once (as sr.window("n"/"z", wh): closed sum + open hour)
        cn, cz = sr.closed.get("n"), sr.closed.get("z")
        sn, sz = sr.slots.get("n"), sr.slots.get("z")
        i = sr.hour % sr.n if sr.hour is not None else 0
        now_n = float(sn[i]) if sn is not None and sr.hour is not None else 0.0
        now_z = float(sz[i]) if sz is not None and sr.hour is not None else 0.0
        wi = sr.wi
        min_texts = det.sentiment_min_texts
        for wh in det.scan_windows_hours:
            if wh == 1:
                n, z = float(b.recent.vn), b.recent.vsum
            else:
                n = (cn[wi[wh]] if cn is not None else 0.0) + now_n
                if n < min_texts:
                    continue
                z = (cz[wi[wh]] if cz is not None else 0.0) + now_z
            if n < min_texts:
                continue
            m = z / n
            # day-to-day swings of the street's mood average out over windows of several days
            exp_m, v = mu, var / n + tau2 * min(1.0, 24.0 / wh)
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
            level = street.level("sentiment", s - young, det, ctx)
            if level is None or (best is not None and best[0] >= s):
                continue
            win = street.hour if wh <= 6 else street.day
            d = Detection(signal="sentiment", level=level, t=t, window_start=t - wh * HOUR, window_end=t,
                          observed=round(m, 3), expected=round(exp_m, 3), score=score_from_log10p(s), evidence={
                "window_hours": wh, "texts": int(n), "mean_p_negative": round(m, 3), "baseline_mean": round(mu, 3),
                "common_mode_shift": round(shift, 3), "log10p": round(s, 3), "early": True,
                "detail_zh": f"{span_zh(wh)} {int(n)} 条诉求平均负面概率 {m:.2f}（常态 {exp_m:.2f}）"},
                samples=win.texts() if win is not None else [], group=street.keys.feeds[street.keys.text_feeds[0]].group)
            best = (s, d)
        return [best[1]] if best is not None else []
