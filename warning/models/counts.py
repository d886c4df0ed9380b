"""Seasonal count model for sparse event counts per street and hour-of-week."""

from __future__ import annotations

import math
from typing import Any, Protocol, Sequence

from ._base import VersionedDetector
from ._tails import LN10, log_nbinom_sf, nbinom_quantile, score_from_log10p

__all__ = ["SeasonalCount", "bucket_index"]

_WEEK = 7 * 86400
_MONDAY_SHIFT = 3 * 86400  # the epoch (1970-01-01) was a Thursday


def bucket_index(t: float, bucket_seconds: int = 3600, utc_offset: int = 8 * 3600) -> int:
    """Absolute bucket number of epoch time ``t`` in local time, aligned so that bucket
    ``0 mod (week / bucket_seconds)`` starts on a Monday 00:00 (local).

    >>> bucket_index(1735689600.0) % 168   # 2025-01-01 08:00 Beijing, a Wednesday
    56
    """
    return int((t + utc_offset + _MONDAY_SHIFT) // bucket_seconds)


class _Parent(Protocol):
    def expected(self, x: dict[str, Any]) -> float: ...


class SeasonalCount(VersionedDetector):
    """Expected count per hour-of-week, learned online, scored by a negative-binomial tail.

    The expected count of a window is ``level * season[bucket]`` (times a holiday factor on
    holidays). Both parts are Gamma-Poisson style ratio estimates with exponential forgetting:

    * ``level`` = decayed sum of counts / decayed sum of seasonal factors, shrunk toward a prior
      level with ``prior_strength`` pseudo-windows. The level adapts to growth with
      ``level_halflife`` (in buckets).
    * ``season[h]`` = decayed counts in bucket ``h`` / decayed level at those times, shrunk with
      ``season_prior_strength`` pseudo *counts* toward the street's own time-of-day factor (the
      same ratio pooled over the seven days, so seven times the evidence), which is itself shrunk
      toward the prior shape: a busy street learns its own weekly profile within a few weeks, a
      sparse street keeps its parent's profile.

    The prior comes from ``x["prior_mean"]`` (the parent's expected count for this window, e.g.
    the district model's expectation times the street's share), or from a ``parent`` object with
    an ``expected(x)`` method (times ``parent_share``). Without either, the profile is shrunk to
    flat and the level starts at ``initial_mean``.

    Over-dispersion ``phi`` (variance = mean + phi mean^2) is estimated online by moments,
    shrunk toward ``dispersion``; the uncertainty of the level and seasonal estimates is added to
    it, so a street with little history gets wide, humble tails. ``phi = 0`` is Poisson.

    The score is ``s / (s + score_scale)`` with ``s = -log10 P(X >= observed | expected)``: smooth,
    in ``[0, 1)``, and never a plateau (two different extreme counts score differently).
    Learning is winsorized at ``expected + winsor * sd`` so one incident does not teach the model
    that incidents are normal; a lasting change still gets in, ``winsor`` sd per window.

    Feed every window, zero counts included (the pipeline's idle flush closes quiet windows).
    Gaps in ``t`` decay the level by the number of buckets elapsed.

    Parameters
    ----------
    period
        Buckets per season (168 = hours of the week).
    bucket_seconds
        Window length in seconds (3600 = hourly windows; 86400 with ``period=7`` for daily).
    utc_offset
        Local time offset in seconds (Beijing: 8 h); buckets follow local wall time.
    level_halflife
        Half-life of the level and dispersion memory, in buckets.
    season_halflife
        Half-life of each seasonal bucket, in visits of that bucket (weeks for hour-of-week).
    prior_strength
        Pseudo-windows of evidence given to the prior level when a prior is supplied.
    season_prior_strength
        Pseudo-counts of evidence given to the prior seasonal shape.
    dispersion
        Prior over-dispersion ``phi``.
    dispersion_strength
        Pseudo-windows of evidence for the prior ``phi``.
    holiday_factor
        Prior ratio of a holiday window to the same hour on a Sunday (learned online).
    initial_mean
        Expected count before anything is known (no history, no prior).
    min_expected
        Floor for the expected count (a street never has an expectation of exactly 0).
    winsor
        Counts above ``expected + winsor * sd`` are learned as that bound.
    score_scale
        ``-log10 p`` that maps to a score of 0.5.
    parent
        Optional object with ``expected(x) -> float`` (e.g. the district's ``SeasonalCount``).
        It is *not* pickled with the street (re-attach it after loading); ``x["prior_mean"]``
        is the stateless alternative and takes precedence.
    parent_share
        Multiplier on ``parent.expected(x)`` (the street's expected share of the parent).

    Input ``x``: ``count`` (int >= 0, required), ``t`` (epoch seconds of the window start) or
    ``bucket`` (absolute bucket number); optional ``holiday`` (bool), ``prior_mean`` (float).

    Examples
    --------

    >>> import random
    >>> from warning.models import SeasonalCount
    >>> rng = random.Random(7)
    >>> model = SeasonalCount()
    >>> t0 = 1735488000  # 2024-12-30 00:00 Beijing, a Monday
    >>> for i in range(24 * 7 * 6):   # six weeks of hourly windows, busy 9-18h
    ...     hour = i % 24
    ...     lam = 6.0 if 9 <= hour < 18 else 0.5
    ...     count = sum(rng.random() < lam / 20 for _ in range(20))
    ...     model.learn_one({"count": count, "t": t0 + 3600 * i})

    >>> t = t0 + 3600 * (24 * 7 * 6 + 10)  # next Monday, 10:00
    >>> round(model.expected({"t": t}), 1)   # shrunk a little toward flat: no parent given
    5.7
    >>> model.score_one({"count": 6, "t": t}) < 0.1
    True
    >>> model.score_one({"count": 25, "t": t}) > 0.5
    True
    >>> model.score_one({"count": 40, "t": t}) > model.score_one({"count": 39, "t": t})
    True
    >>> model.upper_bound(model.expected({"t": t}), alpha=0.001)
    14

    A new street borrows its parent's profile through ``prior_mean``:

    >>> young = SeasonalCount()
    >>> round(young.expected({"t": t, "prior_mean": 4.0}), 2)
    4.0

    References
    ----------
    [^1]: Gelman et al., Bayesian Data Analysis, ch. 2.6 (Gamma-Poisson) and 5 (hierarchical
    shrinkage).
    [^2]: Hilbe, J. M. (2011). Negative Binomial Regression. Cambridge University Press.

    """

    VERSION = 1
    #: not pickled: the parent, and the last plain-window prediction (a cache, see :meth:`predict_bucket`)
    _TRANSIENT = ("parent", "_pred")

    def __init__(
        self,
        period: int = 168,
        bucket_seconds: int = 3600,
        utc_offset: int = 8 * 3600,
        level_halflife: float = 168.0,
        season_halflife: float = 8.0,
        prior_strength: float = 24.0,
        season_prior_strength: float = 10.0,
        dispersion: float = 0.05,
        dispersion_strength: float = 48.0,
        holiday_factor: float = 1.0,
        initial_mean: float = 1.0,
        min_expected: float = 0.01,
        winsor: float = 5.0,
        score_scale: float = 5.0,
        parent: _Parent | None = None,
        parent_share: float = 1.0,
    ):
        self.period = int(period)
        self.bucket_seconds = int(bucket_seconds)
        self.utc_offset = int(utc_offset)
        self.level_halflife = level_halflife
        self.season_halflife = season_halflife
        self.prior_strength = prior_strength
        self.season_prior_strength = season_prior_strength
        self.dispersion = dispersion
        self.dispersion_strength = dispersion_strength
        self.holiday_factor = holiday_factor
        self.initial_mean = initial_mean
        self.min_expected = min_expected
        self.winsor = winsor
        self.score_scale = score_scale
        self.parent = parent
        self.parent_share = parent_share

        self._dl = 0.5 ** (1.0 / level_halflife)
        self._ds = 0.5 ** (1.0 / season_halflife)
        self._weekly = self.period * self.bucket_seconds == _WEEK
        self._per_day = 86400 // self.bucket_seconds if self._weekly else 0
        self.n = 0
        self.last_bucket: int | None = None
        self.A = 0.0  # decayed counts
        self.B = 0.0  # decayed seasonal factors (expected count at unit level)
        self.P_sum = 0.0  # decayed prior means
        self.P_w = 0.0
        self.D_num = 0.0  # decayed sum of (x - mu)^2 - mu
        self.D_den = 0.0  # decayed sum of mu^2
        self.H_num = 0.0  # decayed holiday counts
        self.H_den = 0.0  # decayed expected (non-holiday) counts for the same windows
        self.a = [0.0] * self.period  # per-bucket decayed counts
        self.b = [0.0] * self.period  # per-bucket decayed level
        # time-of-day tier (weekly periods only): pooled over the 7 days, 7x the evidence
        self._dd = 0.5 ** (1.0 / (7.0 * season_halflife))
        self.ad = [0.0] * self._per_day
        self.bd = [0.0] * self._per_day
        #: (bucket, learned windows ``n`` then, ``_predict`` of that plain window): the state it was
        #: computed from is unchanged while ``n`` is (only :meth:`_learn` changes it)
        self._pred: tuple[int, int, tuple[float, float, int, float, float]] | None = None

    # -- helpers -------------------------------------------------------------------------

    def _bucket(self, x: dict[str, Any]) -> int:
        b = x.get("bucket")
        if b is not None:
            return int(b)
        t = x.get("t")
        if t is not None:
            return int((t + self.utc_offset + _MONDAY_SHIFT) // self.bucket_seconds)
        return self.n if self.last_bucket is None else self.last_bucket + 1

    def _prior(self, x: dict[str, Any]) -> float | None:
        prior = x.get("prior_mean")
        if prior is None and self.parent is not None:
            prior = self.parent.expected(x) * self.parent_share
        return None if prior is None else max(float(prior), self.min_expected)

    def _predict(self, idx: int, holiday: bool, prior: float | None) -> tuple[float, float, int, float, float]:
        """Return ``(mu, phi, seasonal bucket, level, factor)`` for a window."""
        h = idx % self.period
        if holiday and self._weekly:
            h = 6 * self._per_day + h % self._per_day  # Sunday, same time of day
        if prior is not None:
            p_level = (self.P_sum + prior) / (self.P_w + 1.0)
            shape0 = prior / p_level
            m_level = self.prior_strength
        elif self.P_w > 0.0:
            p_level = self.P_sum / self.P_w
            shape0 = 1.0
            m_level = self.prior_strength
        else:
            p_level = self.A / self.B if self.B > 0.0 else self.initial_mean
            shape0 = 1.0
            m_level = 1.0
        level_shape = self.A + m_level * p_level
        level = level_shape / (self.B + m_level)
        ms = self.season_prior_strength
        if self._per_day:
            hd = h % self._per_day
            shape0 = (self.ad[hd] + ms * shape0) / (self.bd[hd] + ms)
        season_shape = self.a[h] + ms * shape0
        factor = season_shape / (self.b[h] + ms)
        if holiday:
            factor *= (self.H_num + 24.0 * self.holiday_factor) / (self.H_den + 24.0)
        mu = level * factor
        if mu < self.min_expected:
            mu = self.min_expected
        # over-dispersion (moments, shrunk) + uncertainty of the level and of the season factor
        l2 = level * level
        m_phi = self.dispersion_strength * l2
        phi = (self.D_num + m_phi * self.dispersion) / (self.D_den + m_phi) if m_phi + self.D_den > 0.0 else self.dispersion
        if phi < 0.0:
            phi = 0.0
        elif phi > 10.0:
            phi = 10.0
        phi += 1.0 / (level_shape + 1e-9) + 1.0 / (season_shape + 1e-9)
        return mu, phi, h, level, factor

    # -- River protocol -------------------------------------------------------------------

    def expected(self, x: dict[str, Any]) -> float:
        """Expected count for the window described by ``x`` (``t``/``bucket``, ``holiday``,
        ``prior_mean``); ``count`` is not needed."""
        return self._predict(self._bucket(x), bool(x.get("holiday")), self._prior(x))[0]

    def dispersion_now(self, x: dict[str, Any] | None = None) -> float:
        """Total over-dispersion ``phi`` used for the window ``x`` (or a generic window)."""
        x = x or {}
        return self._predict(self._bucket(x), bool(x.get("holiday")), self._prior(x))[1]

    def log10p(self, x: dict[str, Any]) -> float:
        """``-log10 P(X >= count | expected)``, the raw evidence behind :meth:`score_one`."""
        mu, phi, *_ = self._predict(self._bucket(x), bool(x.get("holiday")), self._prior(x))
        return -log_nbinom_sf(float(x["count"]), mu, phi) / LN10

    def score_one(self, x: dict[str, Any]) -> float:
        return score_from_log10p(self.log10p(x), self.score_scale)

    def learn_one(self, x: dict[str, Any]) -> None:
        self._learn(self._bucket(x), bool(x.get("holiday")), self._prior(x), float(x["count"]))

    # -- the pipeline's fast path: plain windows (no holiday, no prior, no parent) -------------

    def bucket_of(self, t: float) -> int:
        """Absolute bucket of a window starting at epoch time ``t`` (as ``x = {"t": t}``)."""
        return int((t + self.utc_offset + _MONDAY_SHIFT) // self.bucket_seconds)

    def predict_bucket(self, bucket: int) -> tuple[float, float]:
        """``(expected, dispersion)`` of a plain window: one evaluation of what
        :meth:`expected` and :meth:`dispersion_now` give for ``{"t": t}`` (same numbers)."""
        assert self.parent is None, "predict_bucket() is for models without a parent"
        p = self._predict(bucket, False, None)
        self._pred = (bucket, self.n, p)
        return p[0], p[1]

    def learn_bucket(self, bucket: int, count: float) -> None:
        """:meth:`learn_one` of a plain window (``{"t": t, "count": count}``); reuses the
        prediction :meth:`predict_bucket` made of the same window if nothing was learned since
        (the same numbers)."""
        assert self.parent is None, "learn_bucket() is for models without a parent"
        c = self._pred
        pred = c[2] if c is not None and c[0] == bucket and c[1] == self.n else None
        self._learn(bucket, False, None, float(count), pred)

    def _learn(self, idx: int, holiday: bool, prior: float | None, count: float,
               pred: tuple[float, float, int, float, float] | None = None) -> tuple[float, float]:
        """Learn one window; ``pred``: ``_predict(idx, holiday, prior)`` if the caller has it."""
        mu, phi, h, level, factor = pred if pred is not None else self._predict(idx, holiday, prior)
        self._pred = None
        if count < 0.0:
            count = 0.0
        last = self.last_bucket
        steps = 1 if last is None or idx <= last else idx - last
        d = self._dl if steps == 1 else self._dl**steps
        var = mu + phi * mu * mu
        cap = self.winsor * math.sqrt(var)
        c = count if count <= mu + cap + 1.0 else mu + cap + 1.0
        self.A = d * self.A + c
        self.B = d * self.B + factor
        if prior is not None:
            self.P_sum = d * self.P_sum + prior
            self.P_w = d * self.P_w + 1.0
        if holiday:
            self.H_num = d * self.H_num + c
            self.H_den = d * self.H_den + mu / max(factor, 1e-12) * (self.a[h] + self.season_prior_strength) / (self.b[h] + self.season_prior_strength)
        else:
            ds = self._ds
            self.a[h] = ds * self.a[h] + c
            self.b[h] = ds * self.b[h] + level
            if self._per_day:
                hd = h % self._per_day
                dd = self._dd
                self.ad[hd] = dd * self.ad[hd] + c
                self.bd[hd] = dd * self.bd[hd] + level
        r = count - mu
        r2 = r * r
        if r2 > cap * cap:
            r2 = cap * cap
        self.D_num = d * self.D_num + r2 - mu
        self.D_den = d * self.D_den + mu * mu
        self.n += 1
        if last is None or idx > last:
            self.last_bucket = idx
        return mu, phi

    # -- bounds for early firing ----------------------------------------------------------------

    def upper_bound(self, expected: float, alpha: float = 1e-3, phi: float | None = None) -> int:
        """Plausible maximum count of a window whose expected count is ``expected``.

        The smallest ``q`` with ``P(X > q) <= alpha`` under the model's current dispersion (or
        ``phi``). Early firing: a partial window whose count already exceeds the bound of the
        *full* window is anomalous before the window closes.
        """
        if phi is None:
            phi = self._phi_global()
        return nbinom_quantile(expected, phi, alpha)

    def _phi_global(self) -> float:
        """Dispersion plus level uncertainty, without the bucket-specific part."""
        if self.B > 0.0 or self.P_w > 0.0:
            m = self.prior_strength if self.P_w > 0.0 else 1.0
            p_level = self.P_sum / self.P_w if self.P_w > 0.0 else self.A / self.B
        else:
            m, p_level = 1.0, self.initial_mean
        level_shape = self.A + m * p_level
        level = level_shape / (self.B + m)
        m_phi = self.dispersion_strength * level * level
        phi = (self.D_num + m_phi * self.dispersion) / (self.D_den + m_phi) if m_phi + self.D_den > 0.0 else self.dispersion
        return min(max(phi, 0.0), 10.0) + 1.0 / (level_shape + 1e-9)

    # -- batch ----------------------------------------------------------------------------

    def score_learn_many(
        self,
        buckets: Sequence[int],
        counts: Sequence[float],
        holidays: Sequence[bool] | None = None,
        priors: Sequence[float | None] | None = None,
    ) -> list[float]:
        """Score then learn each window in order (prequential); same numbers as a loop of
        ``score_one``/``learn_one``, with the tail probabilities computed in one vectorized call."""
        mus: list[float] = []
        phis: list[float] = []
        learn = self._learn
        for i, (idx, c) in enumerate(zip(buckets, counts)):
            hol = bool(holidays[i]) if holidays is not None else False
            prior = priors[i] if priors is not None else None
            if prior is not None:
                prior = max(float(prior), self.min_expected)
            mu, phi = learn(idx, hol, prior, c)
            mus.append(mu)
            phis.append(phi)
        log10p = _batch_log10p(counts, mus, phis)
        scale = self.score_scale
        return [s / (s + scale) if s > 0.0 else 0.0 for s in log10p]


def _batch_log10p(counts: Sequence[float], mus: Sequence[float], phis: Sequence[float]) -> list[float]:
    """Vectorized ``-log10 P(X >= k)`` for negative binomials (SciPy, one call per batch).

    Points whose tail underflows double precision are recomputed in log space in pure Python.
    """
    import numpy as np
    from scipy import special

    k = np.maximum(np.asarray(counts, dtype=float), 0.0)
    mu = np.asarray(mus, dtype=float)
    phi = np.asarray(phis, dtype=float)
    out = np.zeros(k.shape)
    pos = k > 0.0
    with np.errstate(all="ignore"):
        r = 1.0 / phi
        x = phi * mu / (1.0 + phi * mu)
        p = special.betainc(np.where(pos, k, 1.0), r, x)
    p = np.where(pos, p, 1.0)
    good = p > 1e-280
    out[good] = -np.log(p[good]) / LN10
    for i in np.flatnonzero(~good).tolist():
        out[i] = -log_nbinom_sf(float(k[i]), float(mu[i]), float(phi[i])) / LN10
    out[out < 0.0] = 0.0
    return out.tolist()
