"""The two tests every street window goes through: counts (negative binomial) and mean shifts.

Both return evidence as ``s = -log10 p`` (0 when not above expectation), so one threshold table
grades every signal (see :mod:`warning.core.signals`).
"""

from __future__ import annotations

import math

from ._tails import LN10, log_nbinom_sf, log_norm_sf


def mean_shift_test(n: float, mean: float, expected: float, var: float) -> float:
    """``-log10 P(Z >= z)``, ``z = (mean - expected) / sqrt(var)`` (0 when not above).

    >>> round(mean_shift_test(50, 0.70, 0.63, 0.01 / 50), 2)
    6.43
    """
    if n <= 0 or var <= 0.0 or mean <= expected:
        return 0.0
    z = (mean - expected) / math.sqrt(var)
    if z < 2.0:
        return 0.0
    return -log_norm_sf(z) / LN10


def count_test(observed: float, expected: float, phi: float, screen_z: float = 2.5) -> float:
    """``-log10 P(X >= observed)`` for ``X ~ NB(mean=expected, var=expected + phi expected²)``.

    Returns 0.0 without the exact tail when the count is within ``screen_z`` standard deviations
    of the expectation (such a count can never reach a level's threshold).

    >>> count_test(3, 3.0, 0.0)
    0.0
    >>> round(count_test(12, 2.0, 0.0), 2)   # Poisson(2) >= 12
    5.86
    >>> count_test(12, 2.0, 0.5) < count_test(12, 2.0, 0.0)   # over-dispersion: less surprising
    True
    """
    if observed <= 0.0:
        return 0.0
    if expected < 1e-6:
        expected = 1e-6
    if observed <= expected + screen_z * math.sqrt(expected + phi * expected * expected):
        return 0.0
    s = -log_nbinom_sf(float(observed), expected, phi) / LN10
    return s if s > 0.0 else 0.0
