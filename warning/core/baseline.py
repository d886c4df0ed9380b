"""What is normal for one street: learned expectations and trailing windows, shared by its detectors.

* **Volume per feed** — one :class:`~warning.models.SeasonalCount` per feed (level × hour-of-week
  profile with its own over-dispersion), learned at every hour close (winsorized).
* **Mix** — decayed counts of theme keys (share of their pool's expected volume), risk-term and
  negative-tail keys (share of texts), each capped at a plausible bound when learned so a surge
  does not become the new normal; rare themes are forgotten beyond ``MAX_SHARES``.
* **Day dispersion** — over-dispersion of whole-day totals around the hourly expectations, per
  pool of feeds (long windows use it: hour-of-week uncertainty averages out over a day).
* **Mood** — decayed moments of the street's P(negative) of texts and the between-day variance of
  its daily mean (sentiment tests).
* **Trailing windows** — exact counts per key over the last hour (:class:`Recent`), hourly slots
  per key over 6–72 hours (:class:`CountRing`, brought up to date lazily: a key costs nothing in
  the hours it is quiet), expected volumes per hour, and text sentiment sums.
* **Guard band** — the mix and the mood learn an hour only once it leaves the longest window, so
  a build-up is tested against a baseline it has not contaminated (as in EARS or Farrington-style
  surveillance); while a street is younger than ``warmup_hours`` it learns at once.

Detectors read it through :meth:`StreetBaseline.expected_window`, :meth:`observed_window` and the
mood accessors; only the street container (:mod:`warning.core.street`) writes to it.
"""

from __future__ import annotations

import math
from typing import Any

from warning.core.detect_config import DetectSettings
from warning.core.keys import KeyInfo, KeyTable
from warning.core.scan import CountRing, HourRing, Recent
from warning.core.timeutil import HOUR
from warning.core.window import WindowAgg
from warning.models import SeasonalCount

SHARE_PRIOR = 5.0  # pseudo-counts of a street's theme mix, spread over SHARE_K themes
SHARE_K = 10.0
MAX_SHARES = 64


class StreetBaseline:
    VERSION = 2  # 2: counts per key and hour in a lazily advanced CountRing

    def __init__(self, keys: KeyTable, det: DetectSettings) -> None:
        hl = det.halflife_hours
        self.models = {name: SeasonalCount(level_halflife=hl, initial_mean=f.initial_rate) for name, f in keys.feeds.items()}
        self.shares: dict[str, float] = {}  # shared key → decayed (winsorized) count
        self.share_tot = {p: 0.0 for p in keys.share_prefixes}
        self.share_upto = -1  # last hour (index) learned into the shares
        pools = keys.pools()
        self.day_e = {p: 0.0 for p, _ in pools}  # expected records of the open day, per pool
        self.day_disp = {p: [0.0, 0.0] for p, _ in pools}  # decayed Σ((O−E)² − E) and Σ E²
        self.phi_day: dict[str, float] | None = None
        self.recent = Recent()
        self.ring = CountRing(det.scan_windows_hours, "H")  # counts per key and hour (R<cat>: risk hits)
        self.exp = HourRing(det.scan_windows_hours, "f")  # expected volume per feed key and hour
        self.mu: dict[int, dict[str, tuple[float, float]]] = {}  # hour → feed → (μ, φ)
        self.sring = HourRing(det.scan_windows_hours, "f")  # texts n, Σ P(neg) z, Σ P(neg)² q per hour
        self.mood = [0.0, 0.0, 0.0]  # decayed n, Σ sentiment, Σ sentiment²
        self.mood_tau = [0.0, 0.0]  # decayed Σ(day residual² − sampling var), Σ weights
        self.mood_day = [0.0, 0.0, 0.0]  # texts, Σ sentiment, Σ partition shift of the open day
        self.hours_learned = 0
        self.version = self.VERSION

    def sync(self, keys: KeyTable, det: DetectSettings) -> None:
        """Match a restored baseline to the configured feeds: a feed added since the snapshot
        starts from its prior, a removed one is forgotten."""
        feeds = keys.feeds
        if set(self.models) == set(feeds) and set(self.day_e) == {p for p, _ in keys.pools()}:
            return
        for name in [n for n in self.models if n not in feeds]:
            del self.models[name]
        for name, f in feeds.items():
            if name not in self.models:
                self.models[name] = SeasonalCount(level_halflife=det.halflife_hours, initial_mean=f.initial_rate)
        pools = {p for p, _ in keys.pools()}
        self.day_e = {p: self.day_e.get(p, 0.0) for p in pools}
        self.day_disp = {p: self.day_disp.get(p, [0.0, 0.0]) for p in pools}
        if self.phi_day is not None:
            self.phi_day = {p: v for p, v in self.phi_day.items() if p in pools}
        self.share_tot = {p: self.share_tot.get(p, 0.0) for p in keys.share_prefixes}
        self.shares = {k: v for k, v in self.shares.items() if k[0] in self.share_tot}
        self.mu.clear()  # expectations per feed are recomputed for the open hour

    # ------------------------------------------------------------------ expectations
    def share(self, key: str, prefix: str) -> float:
        return (self.shares.get(key, 0.0) + SHARE_PRIOR / SHARE_K) / (self.share_tot[prefix] + SHARE_PRIOR)

    def share_phi(self, key: str) -> float:
        """Extra dispersion from not knowing the share exactly (Gamma shape = effective count)."""
        return 1.0 / (self.shares.get(key, 0.0) + SHARE_PRIOR / SHARE_K)

    def open_hour(self, start: float, keys: KeyTable) -> dict[str, float]:
        """Expectations of the hour starting at ``start`` (cached); returns them per key, for the
        partition-wide common-mode sums."""
        return self.expectations(self._open(start, keys), keys)

    def _open(self, start: float, keys: KeyTable) -> dict[str, tuple[float, float]]:
        """Open the hour starting at ``start`` (once): its expectation and dispersion per feed;
        the mix and the mood learn the hours leaving the longest window; the rings move on."""
        hi = int(start // HOUR)
        m = self.mu.get(hi)
        if m is not None:
            return m
        m = {}
        for f, md in self.models.items():
            m[f] = md.predict_bucket(md.bucket_of(start))
        mus = self.mu
        mus[hi] = m
        for k in [k for k in mus if k < hi - 1]:
            del mus[k]
        self._learn_lagged(hi, keys)
        exp = self.exp
        exp.advance(hi)
        vk = keys.volume_key
        for f, (mu, _) in m.items():
            exp.set(vk[f], mu)
        self.ring.advance(hi)
        self.sring.advance(hi)
        return m

    def expectations(self, m: dict[str, tuple[float, float]], keys: KeyTable) -> dict[str, float]:
        """Expected count per key (feed volumes, then the shared keys of the mix) of an hour whose
        feed expectations are ``m`` — the same numbers as :meth:`key_expected` per key."""
        vk = keys.volume_key
        out = {vk[f]: mu for f, (mu, _) in m.items()}
        if not self.shares:
            return out
        info = keys.info
        cache = keys.cached_info
        tot = self.share_tot
        pool_e: dict[tuple[str, ...], float] = {}
        half = SHARE_PRIOR / SHARE_K
        for k, v in self.shares.items():
            ki = cache.get(k) or info(k)
            e = pool_e.get(ki.feeds)
            if e is None:
                e = 0.0
                for f in ki.feeds:
                    e += m[f][0]
                pool_e[ki.feeds] = e
            out[k] = e * ((v + half) / (tot[ki.prefix] + SHARE_PRIOR)) if ki.shared else e
        return out

    def key_expected(self, ki: KeyInfo, m: dict[str, tuple[float, float]]) -> float:
        """Expected count of a key in an hour whose feed expectations are ``m``."""
        e = 0.0
        for f in ki.feeds:
            e += m[f][0]
        return e * self.share(ki.key, ki.prefix) if ki.shared else e

    def hour_mu(self, hour_start: float, keys: KeyTable) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
        """(this hour's, the previous hour's) expectations per feed."""
        hi = int(hour_start // HOUR)
        mus = self.mu
        cur = mus.get(hi)
        if cur is None:
            cur = self._open(hour_start, keys)
        return cur, mus.get(hi - 1, cur)

    def day_phi(self, pool: str) -> float | None:
        return self.phi_day.get(pool) if self.phi_day is not None else None

    # ------------------------------------------------------------------ events
    def add(self, ts: float, hour_start: float, keys: tuple[str, ...], risk_hits: dict[str, int] | None,
            mood: float | None) -> None:
        """Count one released event in the trailing windows."""
        self.recent.add(ts, keys, mood)
        hi = int(hour_start // HOUR)
        ring = self.ring
        if ring.hour != hi:
            ring.advance(hi)
        ring.add_keys(keys)
        if risk_hits:
            for cat, n in risk_hits.items():
                if n > 0:
                    ring.add("R" + cat, n)
        if mood is not None:
            sr = self.sring
            if sr.hour != hi:
                sr.advance(hi)
            sr.add_many((("n", 1.0), ("z", mood), ("q", mood * mood)))

    # ------------------------------------------------------------------ learning
    def _learn_lagged(self, hi: int, keys: KeyTable) -> None:
        """Learn the mix and the sentiment baseline from hours as they leave the longest test
        window (the guard band)."""
        if self.exp.hour is None or hi <= self.exp.hour:
            return
        hours = self.exp.leaving_hours(hi)
        if not hours or hours[-1] <= self.share_upto:
            return  # every leaving hour was learned already (e.g. at once while young)
        counts = dict(self.ring.leaving(hi)) if self.ring.hour is not None else {}
        moods = dict(self.sring.leaving(hi)) if self.sring.hour is not None else {}
        for j, e in self.exp.leaving(hi):
            if j > self.share_upto:
                c = counts.get(j)
                if c:  # an hour without counts teaches the mix nothing
                    self._learn_share_hour(c, {f: e.get(keys.volume_key[f], 0.0) for f in keys.feeds}, keys)
                mo = moods.get(j)
                if mo:
                    self._learn_mood_hour(mo)
                self.share_upto = j

    def learn_hour(self, start: float, w: WindowAgg | None, keys: KeyTable, det: DetectSettings, ctx: Any,
                   explained: set[str]) -> None:
        """The hour starting at ``start`` closed with window ``w`` (None: no records): learn it."""
        t_end = start + HOUR
        cur, _ = self.hour_mu(start, keys)
        n = w.n if w is not None else {}
        for f, md in self.models.items():
            md.learn_bucket(md.bucket_of(start), n.get(f, 0))
        day_e = self.day_e
        for pool, feeds in keys.pool_items:
            day_e[pool] += sum(cur[f][0] for f in feeds)
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
        if explained and ring.hour == hi:
            # an alerted burst counts as its expectation in the longer windows (no second alert
            # for the same burst from the 6/24/72-hour windows; no build-up made of one burst)
            for k in sorted(explained):
                e = self.key_expected(keys.info(k), cur)
                if ring.current(k) > e:
                    ring.set(k, float(int(e + 0.5)))
        if self.hours_learned < det.warmup_hours and hi > self.share_upto:
            # while young, learn at once (later: with a guard band, see _learn_lagged)
            vals = {k: ring.current(k) for k in ring.keys()} if ring.hour == hi else {}
            self._learn_share_hour(vals, {f: mu for f, (mu, _) in cur.items()}, keys)
            self._learn_mood_hour({k: sr.current(k) for k in ("n", "z", "q")} if sr.hour == hi else {})
            self.share_upto = hi
        self.hours_learned += 1

    def _learn_share_hour(self, counts: dict[str, float], expected: dict[str, float], keys: KeyTable) -> None:
        """Add one hour's shared-key counts to the street's mix, each capped at a plausible bound
        for its expectation. Risk and tail keys are shares of texts."""
        texts = sum(counts.get(keys.volume_key[f], 0.0) for f in keys.text_feeds)
        if texts > 0:
            for p in keys.share_prefixes:
                if p not in keys.theme_pools:
                    self.share_tot[p] += texts
        for k in sorted(counts):
            if k[0] == "R" or k[0] not in self.share_tot:
                continue
            ki = keys.info(k)
            n = counts[k]
            if n <= 0:
                continue
            e = sum(expected[f] for f in ki.feeds) * self.share(k, ki.prefix)
            cap = e + 4.0 * math.sqrt(e + e * e * self.share_phi(k)) + 2.0
            v = n if n <= cap else cap
            self.shares[k] = self.shares.get(k, 0.0) + v
            if not ki.per_text:
                self.share_tot[ki.prefix] += v

    def _learn_mood_hour(self, vals: dict[str, float]) -> None:
        n = vals.get("n", 0.0)
        if n <= 0:
            return
        m = self.mood
        m[0] += n
        m[1] += vals.get("z", 0.0)
        m[2] += vals.get("q", 0.0)

    def learn_day(self, w: WindowAgg, keys: KeyTable, det: DetectSettings) -> None:
        """The local day closed (its hours first): day dispersion, the mood's between-day variance,
        decay of the mix and the mood."""
        warm = self.hours_learned >= det.warmup_hours
        self._learn_day_dispersion(det, {p: float(sum(w.count(f) for f in feeds)) for p, feeds in keys.pool_items}, warm)
        self._learn_mood_day(det)
        self._decay(det, 24.0)

    def _learn_day_dispersion(self, det: DetectSettings, observed: dict[str, float], warm: bool) -> None:
        """Over-dispersion of day totals around the sum of the hourly expectations (moments,
        decayed, shrunk toward ``day_dispersion`` with ``day_dispersion_days`` pseudo-days;
        residuals winsorized at 4 sd so an incident day does not widen every later test)."""
        e_day = self.day_e
        self.day_e = {p: 0.0 for p in e_day}
        if not warm:
            return
        d = 0.5 ** (1.0 / det.day_dispersion_halflife_days)
        p0, m = det.day_dispersion, det.day_dispersion_days
        phis: dict[str, float] = {}
        for pool, e in e_day.items():
            acc = self.day_disp.setdefault(pool, [0.0, 0.0])
            if e > 0.5:
                var = e + p0 * e * e
                r = observed.get(pool, 0.0) - e
                cap = 4.0 * math.sqrt(var)
                r2 = r * r if abs(r) <= cap else cap * cap
                acc[0] = d * acc[0] + r2 - e
                acc[1] = d * acc[1] + e * e
            e2 = max(e * e, 1.0)
            phi = (acc[0] + m * p0 * e2) / (acc[1] + m * e2)
            phis[pool] = min(max(phi, 0.0), 1.0)
        self.phi_day = phis

    def mood_baseline(self) -> tuple[float, float, float] | None:
        """(mean, per-text variance, decayed Σ between-day variance) of the street's sentiment."""
        n, z, q = self.mood
        if n < 30.0:
            return None
        m = z / n
        var = max(q / n - m * m, 1e-4)
        return m, var, self.mood_tau[0]

    def _learn_mood_day(self, det: DetectSettings) -> None:
        """Between-day variance of the street's mean sentiment beyond sampling noise (moments,
        residuals winsorized), for the sentiment test of long windows."""
        n, z, shift = self.mood_day
        self.mood_day = [0.0, 0.0, 0.0]
        base = self.mood_baseline()
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

    def young_margin(self, det: DetectSettings) -> float:
        """Extra -log10 p a model test needs while the street is younger than ``young_hours``."""
        return det.young_extra_log10p if self.hours_learned < det.young_hours else 0.0
