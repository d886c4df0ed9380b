"""Behaviour of the sentiment, CUSUM and HST detectors."""

from __future__ import annotations

import random

import pytest

from warning.models import BetaBinomialShift, Cusum, WindowHST


def _baseline(model: BetaBinomialShift, share: float = 0.2, n: int = 400, seed: int = 0):
    rng = random.Random(seed)
    for _ in range(n):
        total = rng.randint(5, 60)
        model.learn_one({"negative": sum(rng.random() < share for _ in range(total)), "total": total})


def test_sentiment_same_share_different_evidence():
    m = BetaBinomialShift()
    _baseline(m)
    small = m.log10p({"negative": 3, "total": 4})
    big = m.log10p({"negative": 300, "total": 400})
    assert small < 2.0 < 20.0 < big
    assert m.score_one({"negative": 0, "total": 10}) == 0.0
    assert m.score_one({"negative": 0, "total": 0}) == 0.0


def test_sentiment_overdispersed_baseline_is_humbler():
    rng = random.Random(4)
    calm, jumpy = BetaBinomialShift(), BetaBinomialShift()
    for _ in range(600):
        total = 40
        calm.learn_one({"negative": sum(rng.random() < 0.2 for _ in range(total)), "total": total})
        p = min(max(rng.gauss(0.2, 0.1), 0.0), 1.0)
        jumpy.learn_one({"negative": sum(rng.random() < p for _ in range(total)), "total": total})
    x = {"negative": 20, "total": 40}
    assert jumpy.concentration() < calm.concentration()
    assert jumpy.log10p(x) < calm.log10p(x)


def test_sentiment_shift_adapts_eventually():
    m = BetaBinomialShift(halflife=24)
    _baseline(m, 0.2, 200)
    first = m.score_one({"negative": 20, "total": 40})
    for _ in range(300):
        m.learn_one({"negative": 20, "total": 40})
    assert m.score_one({"negative": 20, "total": 40}) < first


def test_cusum_catches_slow_build_up_a_point_test_misses():
    rng = random.Random(1)
    m = Cusum()
    for _ in range(60):
        m.learn_one({"value": rng.gauss(100, 5)})
    scores = []
    for d in range(10):
        v = 100 + 5 * (0.8 + 0.1 * d)  # never beyond 1.7 sd
        scores.append(m.score_one({"value": v}))
        m.learn_one({"value": v})
    assert max(scores) >= 0.5 and m.alarms >= 1


def test_cusum_reset_and_direction():
    m = Cusum(upward=False, warmup=3)
    for v in (10, 11, 9, 10, 10, 11, 9, 10):
        m.learn_one({"value": v})
    assert m.score_one({"value": 20}) == 0.0
    assert m.score_one({"value": 0}) > 0.5
    m.learn_one({"value": 0})
    assert m.S == 0.0 and m.alarms == 1  # reset after alarm


def test_hst_ranks_a_joint_outlier():
    rng = random.Random(2)
    m = WindowHST(seed=1)
    for _ in range(800):
        a = rng.gauss(20, 3)
        m.learn_one({"calls": a, "complaints": 0.3 * a + rng.gauss(0, 1), "people": rng.gauss(5, 1)})
    normal = [m.score_one({"calls": 20 + d, "complaints": 6 + d * 0.3, "people": 5}) for d in (-2, 0, 2)]
    odd = m.score_one({"calls": 60, "complaints": 40, "people": 30})
    assert odd > max(normal)
    assert 0.0 <= odd <= 1.0


def test_hst_is_deterministic_for_a_seed():
    rows = [{"a": float(i % 7), "b": float(i % 5)} for i in range(500)]
    outs = []
    for _ in range(2):
        m = WindowHST(seed=3)
        out = []
        for x in rows:
            out.append(m.score_one(x))
            m.learn_one(x)
        outs.append(out)
    assert outs[0] == outs[1]
    assert pytest.approx(outs[0]) == outs[1]
