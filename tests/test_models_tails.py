"""Pure-Python tail probabilities against scipy.stats (and the vectorized batch path)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from warning.models import _tails as T
from warning.models.counts import _batch_log10p


def _close(got: float, ref: float, rel: float, ctx) -> None:
    if ref == -math.inf:  # SciPy underflowed; we must not
        assert math.isfinite(got) and got < -700.0, ctx
    else:
        assert got == pytest.approx(ref, rel=rel, abs=1e-12), ctx


@pytest.mark.parametrize("mu", [0.01, 0.3, 1.0, 4.5, 20.0, 150.0, 2000.0])
def test_poisson_sf_matches_scipy(mu):
    for k in sorted({0, 1, 2, int(mu), int(mu) + 1, int(mu * 2) + 1, int(mu * 5) + 3, int(mu * 20) + 50}):
        ref = float(stats.poisson.logsf(k - 1, mu)) if k > 0 else 0.0
        got = T.log_poisson_sf(k, mu)
        _close(got, ref, 1e-9, (k, mu))


def test_poisson_sf_fractional_is_continuous_and_matches_gammainc():
    for a, x in [(2.5, 1.0), (10.25, 3.0), (0.5, 0.1), (7.75, 9.0)]:
        assert math.exp(T.log_gammainc_lower(a, x)) == pytest.approx(special.gammainc(a, x), rel=1e-10)
    vals = [T.log_poisson_sf(k, 3.0) for k in np.linspace(3.0, 12.0, 50)]
    assert all(b < a for a, b in zip(vals, vals[1:]))


@pytest.mark.parametrize("mu,phi", [(0.2, 0.1), (1.0, 0.5), (5.0, 0.05), (30.0, 1.0), (500.0, 0.02), (3.0, 5.0)])
def test_nbinom_sf_matches_scipy(mu, phi):
    r = 1.0 / phi
    p = r / (r + mu)
    for k in sorted({1, 2, int(mu) + 1, int(mu * 3) + 2, int(mu * 10) + 10, int(mu * 50) + 100}):
        ref = float(stats.nbinom.logsf(k - 1, r, p))
        got = T.log_nbinom_sf(k, mu, phi)
        _close(got, ref, 1e-8, (k, mu, phi))


def test_nbinom_zero_dispersion_is_poisson():
    assert T.log_nbinom_sf(9, 2.0, 0.0) == pytest.approx(float(stats.poisson.logsf(8, 2.0)), rel=1e-12)


def test_extreme_tails_do_not_underflow():
    s1 = -T.log_poisson_sf(400, 1.0) / T.LN10
    s2 = -T.log_poisson_sf(401, 1.0) / T.LN10
    assert math.isfinite(s1) and s1 > 300 and s2 > s1
    assert -T.log_nbinom_sf(5000, 2.0, 0.1) / T.LN10 > 300


def test_betainc_matches_scipy():
    for a, b, x in [(2.0, 3.0, 0.4), (50.0, 2.0, 0.9), (0.5, 30.0, 0.01), (300.0, 20.0, 0.5), (1.0, 1.0, 0.3)]:
        ref = special.betainc(a, b, x)
        assert math.exp(T.log_betainc(a, b, x)) == pytest.approx(ref, rel=1e-10)


def test_norm_sf_matches_scipy():
    for z in [-3.0, 0.0, 1.0, 5.0, 12.0, 29.9, 30.1, 40.0]:
        assert T.log_norm_sf(z) == pytest.approx(float(stats.norm.logsf(z)), rel=1e-9)


def test_quantile_matches_scipy():
    for mu, phi, alpha in [(2.0, 0.0, 1e-3), (10.0, 0.2, 1e-4), (0.3, 0.05, 0.01), (150.0, 0.01, 1e-6)]:
        if phi == 0.0:
            ref = stats.poisson.isf(alpha, mu)
        else:
            r = 1.0 / phi
            ref = stats.nbinom.isf(alpha, r, r / (r + mu))
        assert T.nbinom_quantile(mu, phi, alpha) == int(ref)


def test_score_map_never_plateaus():
    s = [T.score_from_log10p(x) for x in (0.0, 1.0, 5.0, 50.0, 500.0, 5000.0, 5001.0)]
    assert s[0] == 0.0 and s[2] == 0.5
    assert all(b > a for a, b in zip(s, s[1:]))
    assert s[-1] < 1.0
    assert T.log10p_from_score(T.score_from_log10p(123.0)) == pytest.approx(123.0)


def test_batch_path_equals_pure_python():
    rng = np.random.default_rng(0)
    mu = rng.gamma(1.0, 5.0, 300) + 0.01
    phi = np.where(rng.random(300) < 0.2, 0.0, rng.gamma(1.0, 0.3, 300))
    k = np.round(mu * rng.gamma(2.0, 1.5, 300))
    k[:5] = [0, 1, 900, 3000, 2.5]
    got = _batch_log10p(k.tolist(), mu.tolist(), phi.tolist())
    for i in range(300):
        ref = max(0.0, -T.log_nbinom_sf(float(k[i]), float(mu[i]), float(phi[i])) / T.LN10)
        assert got[i] == pytest.approx(ref, rel=1e-7, abs=1e-9), i
