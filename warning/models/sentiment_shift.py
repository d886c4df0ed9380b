"""Shift of the negative-sentiment share of a street versus its own baseline."""

from __future__ import annotations

import math
from typing import Any

from ._base import VersionedDetector
from ._tails import LN10, log_betabinom_sf, score_from_log10p

__all__ = ["BetaBinomialShift"]


class BetaBinomialShift(VersionedDetector):
    """Negative share of a window versus the street's baseline, scored by a beta-binomial tail.

    The street's baseline share ``p`` varies from window to window; it is modelled as
    ``Beta(kappa * mu, kappa * (1 - mu))``. ``mu`` is the decayed pooled share (shrunk toward
    ``prior_share``) and ``kappa`` comes from the between-window variance (method of moments on
    the intra-class correlation, shrunk toward ``prior_concentration``), widened by the
    uncertainty of ``mu`` itself while the history is short. A window with ``k`` negative items
    out of ``n`` scores ``s = -log10 P(K >= k)`` under ``BetaBinomial(n, kappa mu, kappa (1 - mu))``,
    mapped to ``s / (s + score_scale)``. So 3 of 4 is weak evidence and 300 of 400 is
    overwhelming, although both are a 75 % share.

    Learning is winsorized at ``mean + winsor * sd`` of the predictive distribution, so an angry
    hour does not become the baseline at once; a lasting shift is learned within a few
    half-lives.

    Parameters
    ----------
    halflife
        Memory of the baseline, in windows.
    prior_share
        Baseline negative share before the street has history (e.g. the city-wide share).
    prior_strength
        Pseudo-items of evidence behind ``prior_share``.
    prior_concentration
        Prior ``kappa`` (larger = windows vary less around the baseline).
    concentration_strength
        Pseudo-windows of evidence behind ``prior_concentration``.
    winsor
        Learning cap, in predictive standard deviations above the mean.
    score_scale
        ``-log10 p`` that maps to a score of 0.5.

    Input ``x``: ``negative`` (int, items judged negative), ``total`` (int, items in the window).
    A window with ``total == 0`` scores 0 and teaches nothing.

    Examples
    --------

    >>> import random
    >>> from warning.models import BetaBinomialShift
    >>> rng = random.Random(1)
    >>> model = BetaBinomialShift()
    >>> for _ in range(500):
    ...     n = rng.randint(5, 60)
    ...     model.learn_one({"negative": sum(rng.random() < 0.2 for _ in range(n)), "total": n})
    >>> round(model.baseline(), 1)
    0.2
    >>> small, big = model.score_one({"negative": 3, "total": 4}), model.score_one({"negative": 300, "total": 400})
    >>> small < 0.5 < big < 1.0
    True
    >>> model.score_one({"negative": 301, "total": 400}) > big
    True

    References
    ----------
    [^1]: Skellam, J. G. (1948). A probability distribution derived from the binomial
    distribution by regarding the probability of success as variable between the sets of trials.
    [^2]: Fleiss, J. L. (1981). Statistical Methods for Rates and Proportions (intra-class
    correlation for clustered binary data).

    """

    VERSION = 1

    def __init__(
        self,
        halflife: float = 168.0,
        prior_share: float = 0.2,
        prior_strength: float = 20.0,
        prior_concentration: float = 50.0,
        concentration_strength: float = 24.0,
        winsor: float = 4.0,
        score_scale: float = 5.0,
    ):
        self.halflife = halflife
        self.prior_share = prior_share
        self.prior_strength = prior_strength
        self.prior_concentration = prior_concentration
        self.concentration_strength = concentration_strength
        self.winsor = winsor
        self.score_scale = score_scale
        self._d = 0.5 ** (1.0 / halflife)
        self.n = 0
        self.K = 0.0  # decayed negatives
        self.N = 0.0  # decayed items
        self.R_num = 0.0  # decayed sum of (k - n mu)^2 - n mu (1 - mu)
        self.R_den = 0.0  # decayed sum of n (n - 1) mu (1 - mu)
        self.W = 0.0  # decayed windows

    def baseline(self) -> float:
        """Baseline negative share ``mu``."""
        return (self.K + self.prior_strength * self.prior_share) / (self.N + self.prior_strength)

    def concentration(self) -> float:
        """``kappa`` of the predictive Beta, including the uncertainty of ``mu``."""
        mu = self.baseline()
        rho0 = 1.0 / (self.prior_concentration + 1.0)
        m = self.concentration_strength
        # prior expressed as m windows of 20 items each at the prior correlation
        prior_den = m * 20.0 * 19.0 * mu * (1.0 - mu)
        rho = (self.R_num + rho0 * prior_den) / (self.R_den + prior_den) if prior_den + self.R_den > 0 else rho0
        rho = min(max(rho, 1e-4), 0.5)
        var_between = mu * (1.0 - mu) * rho / (1.0 - rho)  # Var(p) = mu(1-mu)/(kappa+1)
        var_mu = mu * (1.0 - mu) / (self.N + self.prior_strength + 1.0)
        var = var_between + var_mu
        return max(mu * (1.0 - mu) / var - 1.0, 0.5)

    def _params(self) -> tuple[float, float, float]:
        mu = self.baseline()
        kappa = self.concentration()
        return mu, kappa * mu, kappa * (1.0 - mu)

    def log10p(self, x: dict[str, Any]) -> float:
        """``-log10 P(K >= negative | total)`` under the street's baseline."""
        n = int(x.get("total", 0))
        k = int(x.get("negative", 0))
        if n <= 0 or k <= 0:
            return 0.0
        _, a, b = self._params()
        return max(-log_betabinom_sf(min(k, n), n, a, b) / LN10, 0.0)

    def score_one(self, x: dict[str, Any]) -> float:
        return score_from_log10p(self.log10p(x), self.score_scale)

    def learn_one(self, x: dict[str, Any]) -> None:
        n = int(x.get("total", 0))
        if n <= 0:
            return
        k = min(max(int(x.get("negative", 0)), 0), n)
        mu, a, b = self._params()
        kappa = a + b
        mean = n * mu
        sd = math.sqrt(n * mu * (1.0 - mu) * (kappa + n) / (kappa + 1.0))
        kl = min(float(k), mean + self.winsor * sd + 1.0)
        d = self._d
        r = kl - mean
        self.R_num = d * self.R_num + r * r - n * mu * (1.0 - mu)
        self.R_den = d * self.R_den + n * (n - 1.0) * mu * (1.0 - mu)
        self.K = d * self.K + kl
        self.N = d * self.N + n
        self.W = d * self.W + 1.0
        self.n += 1
