"""score_series: range, no look-ahead, determinism, timestamp formats, synthetic sanity, speed."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from warning.models import DETECTORS, score_series, to_epoch_seconds

NAMES = ["default", "counts"]


def _series(n: int = 1500, seed: int = 0, spike_at: int = 200):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    v = 50 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1.5, n)
    v[n - spike_at] += 30  # spike
    v[n - 100 :] += 12  # level shift
    start = datetime(2014, 4, 1)
    ts = [start + timedelta(minutes=5 * k) for k in range(n)]
    return ts, v.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_scores_in_unit_interval_and_deterministic(name):
    ts, v = _series()
    a = score_series(name, ts, v)
    b = score_series(name, ts, v)
    assert a == b
    assert len(a) == len(v)
    assert all(0.0 <= s < 1.0 for s in a)


@pytest.mark.parametrize("name", NAMES)
def test_no_look_ahead(name):
    ts, v = _series(900)
    full = score_series(name, ts, v)
    for cut in (300, 641, 899):
        assert score_series(name, ts[:cut], v[:cut]) == full[:cut]
    # changing the future never changes the past
    w = list(v)
    w[700:] = [x * 3 + 100 for x in w[700:]]
    assert score_series(name, ts, w)[:700] == full[:700]


def test_timestamp_formats_agree():
    ts, v = _series(600)
    aware = [t.replace(tzinfo=timezone(timedelta(hours=8))) for t in ts]
    epochs = [t.timestamp() for t in aware]
    iso = [t.isoformat() for t in aware]
    naive_iso = [t.strftime("%Y-%m-%d %H:%M:%S") for t in ts]
    npdt = np.array(ts, dtype="datetime64[s]")
    ref = score_series("default", epochs, v)
    for fmt in (ts, aware, iso, naive_iso, npdt):
        assert score_series("default", fmt, v) == pytest.approx(ref, abs=1e-12)
    assert to_epoch_seconds(ts[:1]) == pytest.approx(epochs[:1])


def test_no_timestamps_and_missing_values():
    _, v = _series(500)
    v[100] = math.nan
    v[101] = None  # type: ignore[call-overload]
    for name in NAMES:
        s = score_series(name, None, v)
        assert s[100] == 0.0 and s[101] == 0.0 and len(s) == 500


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown detector"):
        score_series("nope", None, [1.0, 2.0])
    assert "default" in DETECTORS


def test_default_finds_injected_anomalies_without_saturating():
    ts, v = _series(3000, seed=1, spike_at=600)
    s = np.array(score_series("default", ts, v))
    spike, shift = 3000 - 600, 3000 - 100
    assert s[spike] == s[450:].max() or s[shift] == s[450:].max()
    quiet = s[450 : spike - 5]
    assert s[spike] > quiet.max()
    assert s[shift] > np.quantile(quiet, 0.999)
    # sharp: the points after the level shift do not all stay high
    assert np.mean(s[shift + 5 : shift + 100] > 0.5 * s[shift]) < 0.1
    assert int(np.sum(s >= 1.0)) == 0
    # quiet during the probationary period
    assert s[:450].max() < s[spike]


def test_default_is_calibrated_on_pure_noise():
    rng = np.random.default_rng(2)
    for v in (rng.normal(0, 1, 4000), rng.standard_t(2, 4000), rng.poisson(2.0, 4000).astype(float)):
        s = np.array(score_series("default", None, v.tolist()))[600:]
        assert np.mean(s > 0.4) < 0.005


def test_counts_extremes_keep_resolution():
    v = [3.0] * 2000
    v[1500], v[1800] = 60.0, 61.0
    s = score_series("counts", None, v)
    assert 0.5 < s[1500] < 1.0 and 0.5 < s[1800] < 1.0
    assert s[1500] != s[1800]


@pytest.mark.timed
def test_counts_speed_reported(capsys):
    n = 100_000
    rng = np.random.default_rng(0)
    ts = (1735488000 + 3600 * np.arange(n)).astype(float).tolist()
    v = rng.poisson(3.0, n).astype(float).tolist()
    start = time.perf_counter()
    mean = 0.0
    for k, x in enumerate(v, 1):
        mean += (x - mean) / k
    base = time.perf_counter() - start
    start = time.perf_counter()
    score_series("counts", ts, v)
    el = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n  score_series('counts'): {n / el:,.0f} points/s; running-mean loop {n / base:,.0f} points/s; ratio {base / el:.3f}")
    assert n / el > 10_000  # loose: shared CI machines; bench/detectors.py reports the real number
