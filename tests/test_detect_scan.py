"""Trailing-window counters, the count test and the common-mode ratio."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from warning.core.detect_config import DetectSettings, Thresholds
from warning.core.partition import PartitionContext
from warning.core.scan import HourRing, MinuteBins, Recent
from warning.models.significance import count_test
from warning.models._tails import LN10, log_poisson_sf


def test_hour_ring_matches_brute_force_sums() -> None:
    rnd = random.Random(1)
    ring = HourRing(windows=(6, 24, 72), typecode="H")
    truth: dict[tuple[str, int], int] = {}
    hour = 1000
    ring.advance(hour)
    for _ in range(3000):
        hour += rnd.choice((0, 0, 0, 1, 1, 2, 5, 30, 80))
        ring.advance(hour)
        key = rnd.choice("abc")
        ring.add(key)
        truth[(key, hour)] = truth.get((key, hour), 0) + 1
        for k in "abc":
            for w in (6, 24, 72):
                want = sum(v for (kk, h), v in truth.items() if kk == k and hour - w < h <= hour)
                assert ring.window(k, w) == want
    # keys that fell out of every window are dropped (bounded state)
    ring.advance(hour + 200)
    assert ring.keys() == []
    assert pickle.loads(pickle.dumps(ring)).window("a", 6) == 0


def test_hour_ring_leaving_reports_hours_older_than_the_longest_window() -> None:
    ring = HourRing(windows=(6,), typecode="H")
    ring.advance(10)
    ring.add("x", 3)
    ring.advance(12)
    ring.add("x", 1)
    assert [h for h, _ in ring.leaving(15)] == [7, 8, 9]  # hour 10 is still in the 6-hour window
    assert ring.leaving(16)[-1] == (10, {"x": 3.0})
    assert [(h, v) for h, v in ring.leaving(19) if v] == [(10, {"x": 3.0}), (12, {"x": 1.0})]


def test_recent_is_exact_over_the_last_hour_and_bounded() -> None:
    r = Recent(cap=50)
    for i in range(200):
        r.add(i * 60.0, ("H", "C住房" if i % 2 else "C供暖"), 0.5)
    assert r.counts["H"] == 50  # cap reached: the oldest are forgotten
    r2 = Recent()
    for i in range(200):
        r2.add(i * 60.0, ("H",), None)
    assert r2.counts["H"] == 60  # (t - 3600, t]


def test_minute_bins_span() -> None:
    b = MinuteBins(width=300)
    for i in range(30):
        b.add(i * 300.0 + 1, ("k",))
    assert b.counts["k"] == 12
    assert b.start(29 * 300.0 + 1) == 18 * 300.0


def test_count_test_is_the_negative_binomial_tail() -> None:
    assert count_test(3, 3.0, 0.0) == 0.0
    s = count_test(15, 2.0, 0.0)
    assert math.isclose(s, -log_poisson_sf(15, 2.0) / LN10, rel_tol=1e-9)
    assert count_test(15, 2.0, 0.3) < s  # over-dispersion makes a count less surprising
    assert count_test(40, 2.0, 0.0) > count_test(39, 2.0, 0.0)  # no plateau


def test_common_mode_ratio_is_leave_one_out_and_clamped() -> None:
    ctx = PartitionContext(windows=(6, 24), prior=10.0, lo=0.8, hi=4.0)
    t0 = 3600.0 * 500
    ctx.open_hour(t0, {"C供暖": 20.0})
    for i in range(60):  # the whole partition sees 3x its expected heating calls in the hour
        ctx.add(t0 + i * 59.0, t0, ("H", "C供暖"))
    t = t0 + 3599.0
    r_all = ctx.ratio("C供暖", 1, t, t0, 0.0, 0.0)
    assert 2.0 < r_all < 3.0
    # a street that alone holds 50 of those 60 calls: the others are near normal
    assert ctx.ratio("C供暖", 1, t, t0, 50.0, 5.0) < 1.1
    ctx2 = PartitionContext(windows=(6, 24), prior=1.0, lo=0.8, hi=4.0)
    ctx2.open_hour(t0, {"X": 1.0})
    for i in range(100):
        ctx2.add(t0 + i, t0, ("X",))
    assert ctx2.ratio("X", 1, t0 + 3599.0, t0, 0.0, 0.0) == 4.0


def test_settings_validate() -> None:
    with pytest.raises(ValueError):
        Thresholds(blue=6, yellow=5)
    with pytest.raises(ValueError):
        DetectSettings(scan_windows_hours=[])
    d = DetectSettings(scan_windows_hours=[24, 1, 6, 6])
    assert d.scan_windows_hours == [1, 6, 24]
    assert Thresholds().level(5.2) == "yellow" and Thresholds().level(3.9) is None
