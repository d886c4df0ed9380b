"""Tail probabilities in log space, pure Python (no SciPy in the per-event path).

All functions return the *natural* log of an upper-tail probability so that extreme
observations keep full resolution (no underflow to 0, no plateau at a score of 1). Detectors
report ``-log10 p`` and map it to ``[0, 1)`` with :func:`score_from_log10p`.

The incomplete gamma and beta functions follow the classic series / continued-fraction
evaluations (Numerical Recipes, ch. 6.2 and 6.4, modified Lentz), evaluated in log space.
They are checked against ``scipy.stats`` in ``tests/test_models_tails.py``.
"""

from __future__ import annotations

import math

__all__ = [
    "LN10",
    "log_gammainc_lower",
    "log_betainc",
    "log_poisson_sf",
    "log_nbinom_sf",
    "log_norm_sf",
    "nbinom_quantile",
    "score_from_log10p",
    "log10p_from_score",
]

LN10 = math.log(10.0)
_EPS = 1e-15
_FPMIN = 1e-300
_MAXIT = 100_000
_lgamma = math.lgamma
_log = math.log
_exp = math.exp


def log_gammainc_lower(a: float, x: float) -> float:
    """``ln P(a, x)``, the log of the regularized lower incomplete gamma function.

    >>> round(math.exp(log_gammainc_lower(3.0, 1.0)), 10)  # P(Poisson(1) >= 3)
    0.0803013971
    """
    if x <= 0.0:
        return -math.inf
    if a <= 0.0:
        return 0.0
    if x < a + 1.0:
        # Series: P = e^-x x^a / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n)); fast when x << a.
        ap = a
        term = s = 1.0 / a
        for _ in range(_MAXIT):
            ap += 1.0
            term *= x / ap
            s += term
            if term < s * _EPS:
                break
        return _log(s) - x + a * _log(x) - _lgamma(a)
    # Continued fraction for Q = 1 - P (modified Lentz); P is not small here.
    b = x + 1.0 - a
    c = 1.0 / _FPMIN
    d = 1.0 / b
    h = d
    for i in range(1, _MAXIT):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = b + an / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    q = _exp(-x + a * _log(x) - _lgamma(a)) * h
    return math.log1p(-q) if q < 1.0 else -math.inf


def _betacf(a: float, b: float, x: float) -> float:
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _FPMIN:
        d = _FPMIN
    d = 1.0 / d
    h = d
    for m in range(1, _MAXIT):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def log_betainc(a: float, b: float, x: float) -> float:
    """``ln I_x(a, b)``, the log of the regularized incomplete beta function.

    >>> round(math.exp(log_betainc(2.0, 3.0, 0.4)), 10)
    0.5248
    """
    if x <= 0.0:
        return -math.inf
    if x >= 1.0:
        return 0.0
    lbt = _lgamma(a + b) - _lgamma(a) - _lgamma(b) + a * _log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return lbt + _log(_betacf(a, b, x)) - _log(a)
    q = _exp(lbt + _log(_betacf(b, a, 1.0 - x)) - _log(b))
    if q < 1.0:
        return math.log1p(-q)
    return lbt + _log(_betacf(a, b, x)) - _log(a)  # pragma: no cover - rounding guard


def log_poisson_sf(k: float, mu: float) -> float:
    """``ln P(X >= k)`` for ``X ~ Poisson(mu)``; ``k`` may be fractional (continuous extension).

    >>> round(-log_poisson_sf(10, 1.0) / LN10, 4)   # -log10 P(X >= 10 | mu = 1)
    6.953
    """
    if k <= 0.0:
        return 0.0
    if mu <= 0.0:
        return -math.inf
    return log_gammainc_lower(k, mu)


def log_nbinom_sf(k: float, mu: float, phi: float) -> float:
    """``ln P(X >= k)`` for a negative binomial with mean ``mu`` and variance ``mu + phi mu^2``.

    ``phi = 0`` is the Poisson limit. ``k`` may be fractional.

    >>> round(-log_nbinom_sf(10, 1.0, 0.5) / LN10, 4)
    3.8866
    """
    if k <= 0.0:
        return 0.0
    if mu <= 0.0:
        return -math.inf
    if phi <= 1e-12:
        return log_gammainc_lower(k, mu)
    r = 1.0 / phi
    return log_betainc(k, r, phi * mu / (1.0 + phi * mu))


def log_norm_sf(z: float) -> float:
    """``ln P(Z >= z)`` for a standard normal, accurate far into the tail.

    >>> round(-log_norm_sf(10.0) / LN10, 3)
    23.118
    """
    if z < 30.0:
        return _log(0.5 * math.erfc(z / math.sqrt(2.0)))
    z2 = z * z
    return -0.5 * z2 - _log(z) - 0.5 * _log(2.0 * math.pi) + math.log1p(-1.0 / z2 + 3.0 / (z2 * z2))


def nbinom_quantile(mu: float, phi: float, alpha: float) -> int:
    """Smallest integer ``q`` with ``P(X > q) <= alpha`` (negative binomial / Poisson).

    >>> nbinom_quantile(2.0, 0.0, 0.001)  # Poisson(2): P(X > 8) < 0.001 < P(X > 7)
    8
    """
    if mu <= 0.0:
        return 0
    la = _log(alpha)
    lo = int(mu)  # P(X > lo) is well above any useful alpha for lo = floor(mean)... usually
    if log_nbinom_sf(lo + 1, mu, phi) <= la:
        lo = -1  # answer is below the mean (alpha large): search from the bottom
    hi = max(lo + 1, 1)
    while log_nbinom_sf(hi + 1, mu, phi) > la:
        lo = hi
        hi = hi * 2 + 1
    # invariant: P(X > lo) > alpha (or lo == -1), P(X > hi) <= alpha
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if log_nbinom_sf(mid + 1, mu, phi) <= la:
            hi = mid
        else:
            lo = mid
    return hi


def score_from_log10p(s: float, scale: float = 5.0) -> float:
    """Map ``s = -log10 p`` to ``[0, 1)`` smoothly, never reaching 1 (no plateau).

    ``s == scale`` maps to 0.5; every finite ``s`` keeps a distinct score.

    >>> score_from_log10p(5.0), score_from_log10p(50.0) < score_from_log10p(60.0) < 1.0
    (0.5, True)
    """
    if not s > 0.0:  # also catches NaN
        return 0.0
    if s == math.inf:
        return 1.0
    return s / (s + scale)


def log10p_from_score(score: float, scale: float = 5.0) -> float:
    """Inverse of :func:`score_from_log10p`: the ``-log10 p`` a score stands for."""
    if score <= 0.0:
        return 0.0
    if score >= 1.0:
        return math.inf
    return scale * score / (1.0 - score)
