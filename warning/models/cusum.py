"""One-sided CUSUM over a daily rollup, for incidents that build up slowly over days."""

from __future__ import annotations

import math
from typing import Any

from ._base import VersionedDetector
from ._tails import LN10, score_from_log10p

__all__ = ["Cusum"]


class Cusum(VersionedDetector):
    """One-sided standardized CUSUM with a learned mean and variance, and reset after alarm.

    Each value is standardized by the exponentially weighted mean and variance learned so far,
    ``z = (x - mean) / sd``, and accumulated as ``S = max(0, S + z - k)`` (``-z`` for
    ``upward=False``). ``S >= h`` is an alarm; after an alarm ``S`` restarts from 0 so that a
    new alarm needs fresh evidence. Mean and variance learn from winsorized values (``|z| <= 3``)
    so a build-up is not absorbed into the baseline while it grows.

    The score is ``s / (s + score_scale)`` with ``s = 2 k S / ln 10``, Siegmund's approximation
    of ``-log10`` of the probability that an in-control walk reaches ``S``. By default
    ``score_scale`` is set so that ``S == h`` (an alarm) maps to a score of exactly 0.5.

    Parameters
    ----------
    k
        Reference value (slack) in standard deviations; detects shifts of about ``2 k`` sd best.
    h
        Decision interval in standard deviations.
    halflife
        Memory of the mean and variance, in observations (days for a daily rollup).
    warmup
        Observations before any score other than 0.
    upward
        Detect increases (True) or decreases (False).
    count_floor
        Floor the variance at the mean (Poisson), for count rollups.
    score_scale
        ``s`` mapped to 0.5; ``None`` means ``2 k h / ln 10`` (the alarm level).

    Input ``x``: ``value`` (float). Returns a score in ``[0, 1)``; ``score >= 0.5`` iff the CUSUM
    statistic after this value reaches ``h``.

    Examples
    --------

    >>> from warning.models import Cusum
    >>> model = Cusum()
    >>> daily = [100, 104, 97, 101, 99, 103, 98, 102, 100, 96] * 3
    >>> for v in daily:
    ...     model.learn_one({"value": v})
    >>> [round(model.score_one({"value": v}), 2) for v in (100, 104)]
    [0.0, 0.18]
    >>> scores = []
    >>> for v in (104, 106, 105, 108, 107, 110, 109):   # a slow build-up, no day extreme
    ...     scores.append(round(model.score_one({"value": v}), 2))
    ...     model.learn_one({"value": v})
    >>> scores   # alarms (>= 0.5) on the 4th and 7th day; S restarts after each
    [0.18, 0.37, 0.46, 0.56, 0.24, 0.45, 0.54]
    >>> model.alarms
    2

    References
    ----------
    [^1]: Page, E. S. (1954). Continuous inspection schemes. Biometrika, 41(1/2), 100-115.
    [^2]: Siegmund, D. (1985). Sequential Analysis: Tests and Confidence Intervals. Springer.

    """

    VERSION = 1

    def __init__(
        self,
        k: float = 0.5,
        h: float = 5.0,
        halflife: float = 28.0,
        warmup: int = 7,
        upward: bool = True,
        count_floor: bool = False,
        score_scale: float | None = None,
    ):
        self.k = k
        self.h = h
        self.halflife = halflife
        self.warmup = warmup
        self.upward = upward
        self.count_floor = count_floor
        self.score_scale = score_scale
        self._alpha = 1.0 - 0.5 ** (1.0 / halflife)
        self.n = 0
        self.mean = 0.0
        self.var = 0.0
        self.S = 0.0
        self.alarms = 0

    def _z(self, v: float) -> float:
        var = self.var
        if self.count_floor and var < abs(self.mean):
            var = abs(self.mean)
        sd = math.sqrt(var) if var > 0.0 else 0.0
        scale = max(sd, 1e-9 * (abs(self.mean) + 1.0))
        z = (v - self.mean) / scale
        return z if self.upward else -z

    def statistic(self, x: dict[str, Any]) -> float:
        """The CUSUM statistic ``S`` after ``x`` (without learning it)."""
        if self.n < self.warmup:
            return 0.0
        return max(0.0, self.S + self._z(float(x["value"])) - self.k)

    def score_one(self, x: dict[str, Any]) -> float:
        s = 2.0 * self.k * self.statistic(x) / LN10
        scale = self.score_scale if self.score_scale is not None else 2.0 * self.k * self.h / LN10
        return score_from_log10p(s, scale)

    def learn_one(self, x: dict[str, Any]) -> None:
        v = float(x["value"])
        if self.n >= self.warmup:
            self.S = max(0.0, self.S + self._z(v) - self.k)
            if self.S >= self.h:
                self.alarms += 1
                self.S = 0.0
        # winsorized exponentially weighted mean / variance (plain running stats while young)
        if self.n > 0 and self.var > 0.0:
            sd = math.sqrt(self.var)
            v = min(max(v, self.mean - 3.0 * sd), self.mean + 3.0 * sd)
        self.n += 1
        a = max(self._alpha, 1.0 / self.n)
        diff = v - self.mean
        self.mean += a * diff
        self.var = (1.0 - a) * (self.var + a * diff * diff)
