"""A false-alert budget instead of hand-set thresholds: per-signal levels calibrated online.

``alerts.false_alert_budget`` (default 0.1 alerts ≥ yellow per street per 30 days) is split across
the signals that scan a street against its learned model (equal shares, or
``alerts.budget_weights``). A signal with share ``b`` may put a street over its yellow threshold on
about ``b / 30`` of street-days. Every street hands the calibrator, at each of its day closes, the
strongest evidence (``-log10 p``) each signal reached that day (0 when it was never tested); the
calibrator keeps a decayed histogram of these street-day maxima per signal over all streets of the
partition and sets the yellow threshold at their ``1 − b/30`` quantile. That quantile is far in
the tail (a few street-days a month), so it is extrapolated from the bulk, peaks-over-threshold
style: above ``u``, the ``1 − p_u`` quantile (``p_u`` = 5 % or enough samples), the excesses are
taken as exponential with scale ``β`` estimated from their median and upper quartile (robust to
the few real incidents in the sample), and with ``f`` the share of street-days above ``u``

    yellow = u + β · ln(f / (b / 30))

clamped to ``[default − calibration_max_lower, default + calibration_max_raise]`` (by default
never below the catalogue's bar). Orange and red move
by the same amount as yellow (their spacing is kept); blue, which is not budgeted, follows a
raised yellow but is never lowered below its default. Thresholds are recomputed once a day, when
the partition's day closes, so they do not depend on the order of streets within a day; until
``calibration_min_street_days`` street-days are known (a cold start), the catalogue's defaults plus
``calibration_cold_margin`` apply.

So a season that lifts every street's evidence (heating, Spring Festival) lifts that signal's
bar within days; a model that is too cautious for a signal gets a lower one. The rule signals
(extreme terms, group petitions) have no score and are not calibrated.

References: J. Pickands (1975), *Statistical inference using extreme order statistics* (peaks
over threshold); A. Siffer et al. (2017), *Anomaly Detection in Streams with Extreme Value
Theory*, KDD (SPOT: online thresholds from a tail fit).

>>> from warning.core.signals import Thresholds
>>> import random
>>> cal = BudgetCalibrator(budget=0.1, min_street_days=100)
>>> rnd = random.Random(1)
>>> for day in range(30):
...     for street in range(400):  # every street-day's maximum: exponential, scale 1, above 1.0
...         cal.learn_day({"hotline_volume": 1.0 + rnd.expovariate(1.0)})
...     cal.commit()
>>> t = cal.thresholds("hotline_volume", Thresholds())
>>> 6.5 < t.yellow < 6.9  # the whole budget: the 1 − 0.1/30 quantile of 1 + Exp(1) is 1 + ln(300) ≈ 6.7
True
>>> round(t.orange - t.yellow, 6), cal.thresholds("sentiment", Thresholds()).yellow  # never seen: default
(3.0, 5.0)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

from warning.core.signals import Thresholds

BIN = 0.1
NBINS = 400  # evidence up to 40 (-log10 p); higher values share the last bin


class BudgetCalibrator:
    """Per-signal thresholds from street-day maxima of evidence (one per partition).

    Parameters
    ----------
    budget
        Alerts ≥ yellow per street per 30 days, all calibrated signals together.
    weights
        Relative share of each signal (missing signals weigh 1). The budget is split over the
        signals the partition has seen evidence of (a signal first tested later takes its share
        from then on).
    halflife_days
        Memory of the histograms.
    min_street_days
        Street-days needed before a signal's threshold is calibrated.
    min_log10p, max_lower, max_raise
        The calibrated yellow stays within ``[max(min_log10p, default yellow − max_lower), default
        yellow + max_raise]`` (by default it may only rise: a bar below the catalogue's is never
        trusted to an extrapolated tail).
    cold_margin
        Until ``min_street_days`` street-days are known, yellow is the default plus this.
    """

    VERSION = 1

    def __init__(self, budget: float = 0.1, weights: Mapping[str, float] | None = None, halflife_days: float = 14.0,
                 min_street_days: float = 200.0, min_log10p: float = 3.0, max_raise: float = 6.0,
                 tail_fraction: float = 0.05, max_lower: float = 0.0, cold_margin: float = 1.5) -> None:
        self.budget = budget
        self.weights = dict(weights or {})
        self.decay = 0.5 ** (1.0 / halflife_days)
        self.min_street_days = min_street_days
        self.min_log10p = min_log10p
        self.max_raise = max_raise
        self.tail_fraction = tail_fraction
        self.max_lower = max_lower
        self.cold_margin = cold_margin
        self.days = 0.0  # decayed street-days
        self.hist: dict[str, list[float]] = {}  # signal → decayed counts of positive maxima
        self.pending_days = 0
        self.pending: dict[str, list[float]] = {}
        self.yellow: dict[str, float] = {}  # signal → calibrated yellow (-log10 p)
        self._cache: dict[str, Thresholds] = {}
        self.version = self.VERSION

    # ------------------------------------------------------------------ learning
    def learn_day(self, maxima: Mapping[str, float]) -> None:
        """One street-day: the strongest evidence per signal (signals absent were 0)."""
        self.pending_days += 1
        for sig, v in maxima.items():
            if v <= 0.0:
                continue
            h = self.pending.get(sig)
            if h is None:
                h = self.pending[sig] = [0.0] * NBINS
            b = int(v / BIN)
            h[b if b < NBINS else NBINS - 1] += 1.0

    def commit(self) -> None:
        """The partition's day closed: fold the day's street-days in and recompute thresholds."""
        if not self.pending_days:
            return
        d = self.decay
        self.days = self.days * d + self.pending_days
        for sig in sorted(set(self.hist) | set(self.pending)):
            h = self.hist.get(sig) or [0.0] * NBINS
            p = self.pending.get(sig)
            if p is None:
                self.hist[sig] = [x * d for x in h]
            else:
                self.hist[sig] = [x * d + y for x, y in zip(h, p)]
        self.pending_days = 0
        self.pending = {}
        self.refit()

    def adopt(self, learned: "BudgetCalibrator | None") -> None:
        """Take what ``learned`` (e.g. restored from a snapshot, with other settings) has learned,
        if it is of this version, and refit under this calibrator's settings."""
        if learned is None or getattr(learned, "version", None) != self.version:
            return
        self.days, self.hist = learned.days, learned.hist
        self.pending_days, self.pending = learned.pending_days, learned.pending
        self.refit()

    def refit(self) -> None:
        """Recompute every signal's yellow from the histograms."""
        self.yellow = {}
        self._cache = {}
        if self.days < self.min_street_days:
            return
        for sig in sorted(self.hist):
            self.yellow[sig] = self._fit(sig)

    def _share(self, sig: str, signals: Iterable[str]) -> float:
        w = self.weights
        total = sum(w.get(s, 1.0) for s in sorted(set(signals) | {sig}))  # sorted: the same sum in every process
        return self.budget * w.get(sig, 1.0) / total if total > 0 else self.budget

    def _fit(self, sig: str) -> float:
        """Yellow for the signal's share of the budget, spread over the signals seen (tail fit)."""
        h = self.hist[sig]
        n = self.days
        p_t = self._share(sig, self.hist) / 30.0
        p_u = max(self.tail_fraction, 20.0 / n) if n * p_t < 10.0 else p_t
        u = self._quantile(h, n, p_u)
        if p_u == p_t:
            return u
        above = [(i, c) for i, c in enumerate(h) if (i + 0.5) * BIN > u and c > 0.0]
        mass = sum(c for _, c in above)
        frac = mass / n  # the share of street-days actually above u (u is a bin edge; a signal
        # tested on few street-days has u = 0 and far fewer than p_u above it)
        if frac <= p_t:
            return u
        # exponential scale from the median and from the upper quartile of the excesses: equal for
        # an exponential tail, the quartile one larger for a heavier tail — the larger is used
        med = q75 = 0.0
        acc = 0.0
        for i, c in above:
            acc += c
            x = (i + 0.5) * BIN - u
            if not med and acc >= 0.5 * mass:
                med = x
            if acc >= 0.75 * mass:
                q75 = x
                break
        beta = max(max(med, BIN) / math.log(2.0), max(q75, BIN) / math.log(4.0))
        return u + beta * math.log(frac / p_t)

    @staticmethod
    def _quantile(h: list[float], n: float, p: float) -> float:
        """The value exceeded by a fraction ``p`` of the ``n`` street-days (zeros implicit)."""
        need = p * n
        acc = 0.0
        for i in range(NBINS - 1, -1, -1):
            acc += h[i]
            if acc >= need:
                return (i + 1) * BIN
        return 0.0

    # ------------------------------------------------------------------ deciding
    def thresholds(self, sig: str, default: Thresholds) -> Thresholds:
        """The signal's thresholds: the defaults shifted so that yellow is the calibrated one
        (cached until the next commit; ``default`` must be the same for a signal)."""
        t = self._cache.get(sig)
        if t is not None:
            return t
        y = self.yellow.get(sig)
        if y is None and self.days >= self.min_street_days:
            t = default  # calibrated, but the signal never had evidence: its default
        else:
            if y is None:  # not calibrated yet (a cold start): cautious
                y = default.yellow + self.cold_margin
            y = min(max(y, self.min_log10p, default.yellow - self.max_lower), default.yellow + self.max_raise)
            delta = y - default.yellow
            # blue is not budgeted: it follows a raised yellow but is never lowered below its default
            t = Thresholds(blue=min(default.blue + max(delta, 0.0), y), yellow=y, orange=default.orange + delta,
                           red=default.red + delta)
        self._cache[sig] = t
        return t

    def spending(self, defaults: Callable[[str], Any] | None = None) -> dict[str, dict[str, Any]]:
        """Per signal: its share of the budget, yellow threshold in force (the calibrated one
        clamped, given the signal's ``defaults``) and the street-days above it."""
        out: dict[str, dict[str, Any]] = {}
        for sig, h in sorted(self.hist.items()):
            y = self.yellow.get(sig)
            if y is not None and defaults is not None:
                y = self.thresholds(sig, defaults(sig)).yellow
            above = sum(c for i, c in enumerate(h) if y is not None and (i + 1) * BIN > y)
            out[sig] = {"share": round(self._share(sig, self.hist), 5), "yellow": None if y is None else round(y, 2),
                        "street_days": round(self.days, 1), "street_days_above": round(above, 2)}
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
