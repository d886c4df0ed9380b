"""The default univariate detector (ContextNovelty via UnivariateSurprise): contexts, re-framing,
rest period, no look-ahead, pickling; and the in-process NAB scorer of bench/nab.py."""

from __future__ import annotations

import importlib.util
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from warning.models import UnivariateSurprise, score_series
from warning.models.contextual import ContextNovelty, _Grid
from warning.models.univariate import ForecastSurprise

ROOT = Path(__file__).resolve().parents[1]


def _run(model, values):
    out = []
    for v in values:
        out.append(model.score_one({"value": v}))
        model.learn_one({"value": v})
    return out


def _noisy_sine(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return (20 + 5 * np.sin(2 * np.pi * i / 100) + rng.normal(0, 0.3, n)).tolist()


def test_default_is_context_novelty():
    assert issubclass(UnivariateSurprise, ContextNovelty)
    assert UnivariateSurprise.VERSION == 3
    v = _noisy_sine()
    assert score_series("default", None, v) == _run(UnivariateSurprise(), v)


def test_counts_after_reframe_equal_a_recount():
    """Incremental counts equal the vectorised re-count of the history on the current grid."""
    v = _noisy_sine(1500)
    v[700] = 80.0  # a spike beyond the frame
    v[1200:] = [x + 30.0 for x in v[1200:]]  # a level shift re-frames the grid
    m = ContextNovelty()
    for i, x in enumerate(v):
        m.learn_one({"value": x, "t": 1_700_000_000 + 300.0 * i})
    hours = np.array(m.hours, dtype=np.int64)
    assert (hours >= 0).all() and len(set(hours.tolist())) == 24
    for g in m.grids:
        ref = _Grid(g.levels, g.rank, g.wl, g.wp, g.wh)
        ref.reframe(g.lo, g.top, np.asarray(v), hours)
        assert (ref.cl, ref.cp, ref.prev) == (g.cl, g.cp, g.prev)
        if g.wh:
            assert ref.ch == g.ch
    # rank-1 grids span the spike, the rank-3 grid does not
    assert m.grids[0].top > 80.0 and m.grids[2].top < 80.0


def test_spike_and_shift_found_then_rest():
    v = _noisy_sine(3000, seed=1)
    v[2000] += 25.0
    v[2600:] = [x + 12.0 for x in v[2600:]]
    s = np.array(score_series("default", None, v))
    quiet = s[300:1995]
    assert s[2000] > quiet.max() and s[2600] > quiet.max()
    # the rest period: one alarm per episode
    assert s[2001:2021].max() == 0.0 and s[2601:2621].max() == 0.0
    assert s[:100].max() == 0.0  # warm-up
    assert 0.0 <= s.min() and s.max() < 1.0


@pytest.mark.parametrize("seed", [3, 4])
def test_shift_channel_finds_a_level_move_inside_the_range(seed):
    """A one-sigma level move stays inside the known contexts (novelty alone misses it); the
    record shift of the fast average from the slow one alarms and starts a rest period."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 1.0, 3000)
    v[2500:] += 1.0
    s = np.array(score_series("default", None, v.tolist()))
    novelty_only = np.array(score_series("default", None, v.tolist(), shift_score=0.0))
    assert novelty_only[2500:2600].max() < 0.3
    hit = 2500 + int(np.argmax(s[2500:2600]))
    assert s[hit] >= 0.5 and s[hit + 1 : hit + 21].max() == 0.0
    assert np.mean(s[600:2500] > 0.4) < 0.005  # records on pure noise are rare


def test_novelty_tail_factor_only_lowers_scores():
    v = _noisy_sine(3000, seed=2)
    v[2000] += 25.0
    with_tail = np.array(score_series("default", None, v))
    without = np.array(score_series("default", None, v, tail_power=0.0))
    assert (without >= with_tail).all() and (without > with_tail).any()
    assert with_tail[2000] == with_tail[300:].max()


def test_no_look_ahead_and_nan():
    v = _noisy_sine(900)
    full = score_series("default", None, v)
    for cut in (150, 333, 899):
        assert score_series("default", None, v[:cut]) == full[:cut]
    w = v[:500] + [x * 5 - 40 for x in v[500:]]
    assert score_series("default", None, w)[:500] == full[:500]
    m = ContextNovelty()
    assert m.score_one({"value": math.nan}) == 0.0
    m.learn_one({"value": math.nan})
    assert m.n == 0


def test_pickle_roundtrip_and_bounded_history():
    v = _noisy_sine(3000)
    a = ContextNovelty(history=500)
    _run(a, v[:1500])
    b = pickle.loads(pickle.dumps(a))
    assert _run(a, v[1500:]) == _run(b, v[1500:])
    assert len(a.values) < 2 * 500 and len(a.hours) == len(a.values)


def test_forecast_surprise_still_available():
    v = _noisy_sine(600)
    m = ForecastSurprise()
    assert all(0.0 <= s < 1.0 for s in _run(m, v))


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_nab", ROOT / "bench" / "nab.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_nab"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_fast_nab_scorer_on_a_toy_corpus():
    """The in-process scorer follows NAB's sweeper: a perfect early detection scores 100,
    no detection scores 0, and false positives cost."""
    nb = _load_bench()
    n = 2000
    ts = np.arange(n).astype("datetime64[m]").astype("datetime64[s]")
    f = nb.DataFile("x/a.csv", [], ts, np.zeros(n), [(1000, 1099)])
    fast = nb.FastScorer([f])
    early = np.zeros(n)
    early[1000] = 0.9
    assert fast.score([early])["standard"][0] == pytest.approx(100.0)
    assert fast.score([np.zeros(n)])["standard"][0] == pytest.approx(0.0)
    with_fp = early.copy()
    with_fp[500] = 0.95
    s = fast.score([with_fp])["standard"][0]
    assert s == pytest.approx(100.0 * (2.0 - 0.11) / 2.0)  # one FP before any window costs 0.11


def test_bench_exits_cleanly_without_nab(tmp_path):
    import subprocess

    p = subprocess.run([sys.executable, str(ROOT / "bench" / "nab.py"), "--nab", str(tmp_path / "nope"), "--fast-only"], capture_output=True, text=True)
    assert p.returncode == 2 and "NAB folder not found" in p.stderr
