"""SeasonalCount: learning, shrinkage, holidays, growth, bounds, batch == loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from warning.models import SeasonalCount, bucket_index

T0 = 1735488000  # Monday 2024-12-30 00:00 Beijing


def _profile(hour: int, dow: int) -> float:
    base = 6.0 if 9 <= hour < 18 else 0.8
    return base * (0.5 if dow >= 5 else 1.0)


def _feed(model: SeasonalCount, weeks: int, seed: int = 0, scale: float = 1.0, growth: float = 0.0, prior=None):
    rng = np.random.default_rng(seed)
    for i in range(weeks * 168):
        hour, dow = i % 24, (i // 24) % 7
        lam = scale * _profile(hour, dow) * (1.0 + growth * i / 168)
        x = {"count": int(rng.poisson(lam)), "t": T0 + 3600 * i}
        if prior is not None:
            x["prior_mean"] = prior(hour, dow)
        model.learn_one(x)
    return weeks * 168


def test_bucket_index_is_monday_aligned():
    assert bucket_index(T0) % 168 == 0
    assert bucket_index(T0 + 3600 * 24 * 6 + 3600 * 23) % 168 == 167


def test_learns_hour_of_week_profile():
    m = SeasonalCount()
    n = _feed(m, 8)
    for hour, dow in [(10, 0), (3, 2), (14, 5), (22, 6)]:
        t = T0 + 3600 * (n + dow * 24 + hour)
        assert m.expected({"t": t}) == pytest.approx(_profile(hour, dow), rel=0.35)  # sparse buckets shrink


def test_scores_rank_and_resolve_extremes():
    m = SeasonalCount()
    n = _feed(m, 6)
    t = T0 + 3600 * (n + 10)
    scores = [m.score_one({"count": c, "t": t}) for c in (0, 6, 12, 20, 40, 80, 81, 400)]
    assert scores[0] == 0.0
    assert all(b > a for a, b in zip(scores[1:], scores[2:]))
    assert scores[-1] < 1.0
    assert scores[1] < 0.1 and scores[4] > 0.5


def test_prior_mean_shrinks_young_street_and_fades_with_history():
    prior = lambda hour, dow: 2.0 * _profile(hour, dow)  # parent says twice as busy  # noqa: E731
    young = SeasonalCount()
    t = T0 + 3600 * 10
    assert young.expected({"t": t, "prior_mean": 12.0}) == pytest.approx(12.0, rel=1e-6)
    old = SeasonalCount()
    n = _feed(old, 10, prior=prior)
    t = T0 + 3600 * (n + 10)
    # ten weeks of its own data: close to its own rate (6), not the parent's (12)
    assert old.expected({"t": t, "prior_mean": 12.0}) == pytest.approx(6.0, rel=0.3)


def test_sparse_street_keeps_parent_shape():
    # a street with ~0.1 events an hour cannot learn a weekly profile; the prior provides it
    prior = lambda hour, dow: 0.1 * _profile(hour, dow) / 2.5  # noqa: E731
    m = SeasonalCount()
    _feed(m, 6, scale=0.04, prior=prior)
    day = m.expected({"t": T0 + 3600 * (6 * 168 + 10), "prior_mean": prior(10, 0)})
    night = m.expected({"t": T0 + 3600 * (6 * 168 + 3), "prior_mean": prior(3, 0)})
    assert day / night > 4.0


def test_parent_object_and_transient_pickle():
    import pickle

    district = SeasonalCount()
    _feed(district, 4, scale=10.0)
    street = SeasonalCount(parent=district, parent_share=0.1)
    t = T0 + 3600 * (4 * 168 + 10)
    assert street.expected({"t": t}) == pytest.approx(0.1 * district.expected({"t": t}), rel=1e-6)
    restored = pickle.loads(pickle.dumps(street))
    assert restored.parent is None  # re-attach after loading


def test_handles_zeros_only():
    m = SeasonalCount()
    for i in range(500):
        m.learn_one({"count": 0, "t": T0 + 3600 * i})
    t = T0 + 3600 * 500
    assert m.expected({"t": t}) < 0.05
    assert m.score_one({"count": 0, "t": t}) == 0.0
    assert m.score_one({"count": 5, "t": t}) > 0.5


def test_growth_is_followed():
    m = SeasonalCount()
    n = _feed(m, 10, growth=0.1)  # +10 % a week
    t = T0 + 3600 * (n + 10)
    assert m.expected({"t": t}) == pytest.approx(6.0 * (1 + 0.1 * 10), rel=0.3)


def test_holiday_uses_sunday_profile_and_learns_factor():
    m = SeasonalCount()
    rng = np.random.default_rng(3)
    for i in range(10 * 168):
        hour, dow = i % 24, (i // 24) % 7
        holiday = (i // 24) % 14 == 2  # every other Wednesday is a holiday, quieter than Sunday
        lam = _profile(hour, 6) * 0.4 if holiday else _profile(hour, dow)
        m.learn_one({"count": int(rng.poisson(lam)), "t": T0 + 3600 * i, "holiday": holiday})
    t = T0 + 3600 * (10 * 168 + 2 * 24 + 10)  # a Wednesday 10:00
    assert m.expected({"t": t}) == pytest.approx(6.0, rel=0.3)
    assert m.expected({"t": t, "holiday": True}) == pytest.approx(3.0 * 0.4, rel=0.4)


def test_incident_is_not_learned_as_normal():
    m = SeasonalCount()
    n = _feed(m, 6)
    t = T0 + 3600 * (n + 10)
    before = m.expected({"t": t + 168 * 3600})
    m.learn_one({"count": 300, "t": t})
    assert m.expected({"t": t + 168 * 3600}) < before * 1.5


def test_upper_bound_matches_nbinom_quantile_and_early_firing():
    m = SeasonalCount()
    n = _feed(m, 6)
    t = T0 + 3600 * (n + 10)
    mu = m.expected({"t": t})
    phi = m._phi_global()
    r = 1.0 / phi
    ref = int(stats.nbinom.isf(1e-3, r, r / (r + mu)))
    assert m.upper_bound(mu, 1e-3) == ref
    assert m.upper_bound(mu, 1e-6) > m.upper_bound(mu, 1e-3) > mu


def test_batch_equals_loop():
    rng = np.random.default_rng(5)
    counts = rng.poisson(3.0, 3000).astype(float).tolist()
    counts[1500] = 60.0
    buckets = [bucket_index(T0 + 3600 * i) for i in range(3000)]
    a, b = SeasonalCount(), SeasonalCount()
    batch = a.score_learn_many(buckets, counts)
    loop = []
    for bk, c in zip(buckets, counts):
        loop.append(b.score_one({"count": c, "bucket": bk}))
        b.learn_one({"count": c, "bucket": bk})
    assert batch == pytest.approx(loop, rel=1e-9, abs=1e-12)
    assert a.A == b.A and a.a == b.a


def test_poisson_calibration_on_null_data():
    # on pure Poisson data, P(score >= s) should not exceed p(s) by much (conservative is fine)
    rng = np.random.default_rng(9)
    m = SeasonalCount()
    counts = rng.poisson(4.0, 20000).astype(float).tolist()
    scores = np.array(m.score_learn_many(list(range(20000)), counts))[2000:]
    s = 5.0 * scores / (1.0 - scores)  # back to -log10 p
    for level in (1.0, 2.0, 3.0):
        assert np.mean(s >= level) <= 1.5 * 10**-level
    assert math.isfinite(s.max())
