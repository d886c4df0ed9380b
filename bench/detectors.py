"""Detector benchmarks: speed, state size, and a synthetic NAB-like corpus.

Run:  .venv/bin/python bench/detectors.py [--quick] [--only speed|state|nab] [--detectors a,b]

* speed: ``score_series("counts")`` points/s, against a plain Python running-mean loop over the
  same points in the same run (the ratio is what to compare across machines).
* state: pickled bytes of one street's per-feed ``SeasonalCount`` models after months of hourly
  windows (``bench/street_state.py`` measures the pipeline's whole street state on replayed records).
* nab: a synthetic corpus shaped like the Numenta Anomaly Benchmark (sines, square waves, CPU-like
  AR noise, counts, heavy tails, weekly taxi-like series, irregular sampling; spikes, dips, level
  shifts, missing jumps, flat lines, noise changes, bursts, drifts) scored with NAB's standard
  profile (TP 1, FP 0.11, FN 1; windows of 10 % of the file split between its anomalies, centred
  on them; 15 % probation; one threshold optimised over the whole corpus; 0 = null detector,
  100 = perfect). Nothing is downloaded: the numbers are a sanity check, not NAB results.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warning.models import SeasonalCount, score_series  # noqa: E402

# --------------------------------------------------------------------------------------------
# speed


def bench_speed(n: int = 200_000) -> dict[str, float]:
    rng = np.random.default_rng(0)
    t0 = 1735574400
    ts = (t0 + 3600 * np.arange(n)).astype(float).tolist()
    hour = np.arange(n) % 24
    lam = 0.5 + 4.0 * ((hour >= 9) & (hour < 18))
    counts = rng.poisson(lam).astype(float).tolist()

    start = time.perf_counter()
    mean = 0.0
    out = []
    for i, v in enumerate(counts, 1):
        out.append(abs(v - mean))
        mean += (v - mean) / i
    base = time.perf_counter() - start

    start = time.perf_counter()
    score_series("counts", ts, counts)
    el = time.perf_counter() - start

    iso = [datetime.fromtimestamp(t).isoformat() for t in ts[:50_000]]
    start = time.perf_counter()
    score_series("counts", iso, counts[:50_000])
    el_iso = time.perf_counter() - start

    start = time.perf_counter()
    score_series("default", ts[:50_000], counts[:50_000])
    el_def = time.perf_counter() - start
    res = {
        "points": n,
        "counts_points_per_s": n / el,
        "baseline_running_mean_points_per_s": n / base,
        "ratio_to_baseline": base / el,
        "counts_iso_timestamps_points_per_s": 50_000 / el_iso,
        "default_points_per_s": 50_000 / el_def,
    }
    for k, v in res.items():
        print(f"  {k:40s} {v:,.3f}" if isinstance(v, float) else f"  {k:40s} {v}")
    return res


# --------------------------------------------------------------------------------------------
# state size


def bench_state(weeks: int = 12) -> dict[str, int]:
    rng = np.random.default_rng(1)
    t0 = 1735574400
    models = {
        "counts_hotline": SeasonalCount(),
        "counts_petition": SeasonalCount(),
        "counts_public_safety": SeasonalCount(),
    }
    for i in range(weeks * 168):
        t = t0 + 3600 * i
        c = int(rng.poisson(8.0 if 9 <= i % 24 < 18 else 1.0))
        for model in models.values():
            model.learn_one({"count": c, "t": t, "prior_mean": 4.0})
    sizes = {k: m.state_size() for k, m in models.items()}
    import pickle

    sizes["street_total"] = len(pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL))
    for k, v in sizes.items():
        print(f"  {k:28s} {v:8,d} bytes")
    return sizes


# --------------------------------------------------------------------------------------------
# synthetic NAB-like corpus


def _times(n: int, step: float, start: datetime = datetime(2014, 4, 1), jitter: float = 0.0, rng=None) -> list[datetime]:
    if jitter and rng is not None:
        steps = step * (1.0 + jitter * (rng.random(n) - 0.5) * 2)
        secs = np.concatenate([[0.0], np.cumsum(steps[1:])])
    else:
        secs = np.arange(n) * step
    return [start + timedelta(seconds=float(s)) for s in secs]


def _anoms(rng, n: int, k: int) -> list[int]:
    lo = int(0.15 * n) + int(0.05 * n / max(k, 1)) + 10
    hi = n - int(0.05 * n / max(k, 1)) - 10
    seg = (hi - lo) // max(k, 1)
    return sorted(lo + i * seg + int(rng.integers(seg // 5, max(seg // 5 + 1, 4 * seg // 5))) for i in range(k))


def make_corpus(seed: int = 0) -> dict[str, tuple[list[datetime], np.ndarray, list[int]]]:
    rng = np.random.default_rng(seed)
    C: dict[str, tuple[list[datetime], np.ndarray, list[int]]] = {}
    n = 4032
    i = np.arange(n)
    day = 288
    sine = 50 + 20 * np.sin(2 * np.pi * i / day)
    sq = np.where(((i % day) > 0.3 * day) & ((i % day) < 0.75 * day), 80.0, 20.0)

    v = sine + rng.normal(0, 2, n)
    a = _anoms(rng, n, 2)
    for j in a:
        v[j] += 25
    C["art_spikes"] = (_times(n, 300), v, a)

    v = sine + rng.normal(0, 2, n)
    a = _anoms(rng, n, 2)
    for j in a:
        v[j] -= 22
    C["art_dips"] = (_times(n, 300), v, a)

    v = sq + rng.normal(0, 3, n)
    a = _anoms(rng, n, 1)
    s = a[0] - a[0] % day + int(0.3 * day)
    a = [s + 1]
    v[s + 1 : s + int(0.45 * day)] += 40
    C["art_jumpsup"] = (_times(n, 300), v, a)

    v = sq + rng.normal(0, 3, n)
    a = _anoms(rng, n, 1)
    s = a[0] - a[0] % day + int(0.3 * day) + 1
    a = [s]
    v[s : s + int(0.45 * day)] = 20 + rng.normal(0, 3, int(0.45 * day) - 1 + 1)[: len(v[s : s + int(0.45 * day)])]
    C["art_nojump"] = (_times(n, 300), v, a)

    v = sq + rng.normal(0, 3, n)
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 150] = 50 + rng.normal(0, 0.3, 150)
    C["art_flatmiddle"] = (_times(n, 300), v, a)

    v = sine + rng.normal(0, 1.5, n)
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 300] += rng.normal(0, 8, 300)
    C["art_noise_increase"] = (_times(n, 300), v, a)

    def ar1(n, mu, phi, sd):
        x = np.empty(n)
        x[0] = mu
        e = rng.normal(0, sd, n)
        for k in range(1, n):
            x[k] = mu + phi * (x[k - 1] - mu) + e[k]
        return x

    v = ar1(n, 40, 0.8, 3)
    a = _anoms(rng, n, 2)
    for j in a:
        v[j : j + 2] = 92 + rng.normal(0, 2, 2)
    C["cpu_spikes"] = (_times(n, 300), v, a)

    v = ar1(n, 40, 0.8, 3)
    a = _anoms(rng, n, 1)
    v[a[0] :] += 15
    C["cpu_levelshift"] = (_times(n, 300), v, a)

    v = 30 + 2 * rng.standard_t(2, n)
    a = _anoms(rng, n, 1)
    v[a[0]] += 80
    C["heavy_tail"] = (_times(n, 300), v, a)

    prof = 5 + 25 * (0.5 + 0.5 * np.sin(2 * np.pi * (i - 72) / day)) ** 2
    lam = prof.copy()
    a = _anoms(rng, n, 1)
    lam[a[0] : a[0] + 6] *= 5
    C["tweets_burst"] = (_times(n, 300), rng.poisson(lam).astype(float), a)

    n2 = 10320
    k2 = np.arange(n2)
    hod = (k2 % 48) / 48
    dow = (k2 // 48) % 7
    base = 15000 + 9000 * np.sin(2 * np.pi * (hod - 0.3)) + np.where(dow >= 5, -3000 * np.cos(2 * np.pi * hod), 0)
    v = base * (1 + rng.normal(0, 0.04, n2))
    a = _anoms(rng, n2, 3)
    v[a[0] : a[0] + 48] *= 0.6
    v[a[1] : a[1] + 3] *= 1.6
    v[a[2] : a[2] + 10] *= 0.3
    C["taxi_like"] = (_times(n2, 1800, datetime(2014, 7, 1)), v, a)

    v = ar1(n, 80, 0.98, 0.5)
    a = _anoms(rng, n, 1)
    v[a[0] - 200 : a[0]] -= np.linspace(0, 12, 200)
    v[a[0] : a[0] + 30] = 20 + rng.normal(0, 1, 30)
    C["machine_failure"] = (_times(n, 300), v, [a[0] - 150])

    C["no_anomaly_sine"] = (_times(n, 300), sine + rng.normal(0, 2, n), [])
    C["no_anomaly_cpu"] = (_times(n, 300), ar1(n, 40, 0.8, 3), [])

    n3 = 1600
    v = np.exp(rng.normal(0, 0.3, n3)) * 1.2
    a = _anoms(rng, n3, 2)
    for j in a:
        v[j] *= 4
    C["adexchange_like"] = (_times(n3, 3600), v, a)

    n4 = 2500
    v = 60 + rng.normal(0, 3, n4)
    a = _anoms(rng, n4, 1)
    v[a[0] : a[0] + 10] = 20 + rng.normal(0, 3, 10)
    C["traffic_irregular"] = (_times(n4, 600, jitter=0.5, rng=rng), v, a)

    v = 10 + rng.normal(0, 1, n)
    spikes = rng.random(n) < 0.01
    v[spikes] += 6
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 4] += 25
    C["load_balancer_spikes"] = (_times(n, 300), v, a)

    v = rng.poisson(1.0, n).astype(float)
    a = _anoms(rng, n, 1)
    v[a[0]] = 12
    C["sparse_counts"] = (_times(n, 300), v, a)

    n5 = 7267
    k5 = np.arange(n5)
    v = 70 + 3 * np.sin(2 * np.pi * k5 / 24) + np.cumsum(rng.normal(0, 0.05, n5)) + rng.normal(0, 0.7, n5)
    a = _anoms(rng, n5, 2)
    v[a[0] : a[0] + 20] -= 10
    v[a[1] : a[1] + 5] += 8
    C["ambient_temperature"] = (_times(n5, 3600, datetime(2013, 7, 4)), v, a)

    v = ar1(n, 30, 0.5, 2)
    a = _anoms(rng, n, 1)
    osc = np.where((np.arange(200) // 5) % 2 == 0, 45, 15)
    v[a[0] : a[0] + 200] = osc + rng.normal(0, 2, 200)
    C["cpu_oscillation"] = (_times(n, 300), v, a)

    # real-data quirks: quantization, idle stretches with bursts, huge range, gaps, random walks
    v = np.round(ar1(n, 2.0, 0.9, 0.05), 1)
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 40] += 0.6
    C["quantized_cpu"] = (_times(n, 300), v, a)

    v = np.zeros(n)
    bursts = rng.random(n) < 0.03
    v[bursts] = rng.lognormal(15, 1, int(bursts.sum()))
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 25] = rng.lognormal(17.5, 0.3, 25)
    C["disk_write_bursts"] = (_times(n, 300), v, a)

    v = np.exp(ar1(n, 17, 0.95, 0.15))
    a = _anoms(rng, n, 2)
    v[a[0]] *= 12
    v[a[1] : a[1] + 30] /= 8
    C["network_bytes"] = (_times(n, 300), v, a)

    ts = _times(n, 300)
    ts = ts[:1500] + [t + timedelta(days=1) for t in ts[1500:]]  # a day of missing data
    v = sine + rng.normal(0, 2, n)
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 3] += 18
    C["gap_in_data"] = (ts, v, a)

    v = 100 + np.cumsum(rng.normal(0, 0.5, n))
    a = _anoms(rng, n, 2)
    v[a[0] :] += 9
    v[a[1] :] -= 9
    C["random_walk_jumps"] = (_times(n, 300), v, a)

    v = sine + rng.normal(0, 2, n)
    a = _anoms(rng, n, 1)
    v[a[0] : a[0] + 30] += 5  # subtle: 2.5 sd for 30 points
    C["subtle_shift"] = (_times(n, 300), v, a)

    C["no_anomaly_counts"] = (_times(n, 300), rng.poisson(prof).astype(float), [])
    C["no_anomaly_heavy"] = (_times(n, 300), 30 + 2 * rng.standard_t(2, n), [])
    return C


def _scaled_sigmoid(x: float) -> float:
    if x > 3.0:
        return -1.0
    if x < -3.0:
        return 1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def nab_windows(n: int, anomalies: list[int]) -> list[tuple[int, int]]:
    if not anomalies:
        return []
    width = int(0.1 * n / len(anomalies))
    wins = []
    for a in anomalies:
        lo, hi = max(0, a - width // 2), min(n - 1, a + width // 2)
        if wins and lo <= wins[-1][1]:
            wins[-1] = (wins[-1][0], hi)
        else:
            wins.append((lo, hi))
    return wins


def nab_file_score(scores: np.ndarray, windows: list[tuple[int, int]], threshold: float,
                   tp_w: float = 1.0, fp_w: float = 0.11, fn_w: float = 1.0) -> tuple[float, int, int]:
    n = len(scores)
    prob = int(min(math.floor(0.15 * n), 0.15 * 5000))
    det = np.flatnonzero(scores >= threshold)
    det = det[det >= prob]
    max_tp = _scaled_sigmoid(-1.0)
    total, n_fp, n_tp = 0.0, 0, 0
    in_win = np.zeros(n, dtype=int) - 1
    for w, (lo, hi) in enumerate(windows):
        in_win[lo : hi + 1] = w
    best = {}
    for i in det.tolist():
        w = in_win[i]
        if w >= 0:
            if w not in best:
                lo, hi = windows[w]
                width = hi - lo + 1
                best[w] = _scaled_sigmoid(-(hi - i + 1) / width) * tp_w / max_tp
        else:
            prev = [wd for wd in windows if wd[1] < i]
            n_fp += 1
            if not prev:
                total -= fp_w
            else:
                lo, hi = prev[-1]
                width = hi - lo + 1
                total += _scaled_sigmoid(abs(hi - i) / max(width - 1, 1)) * fp_w
    n_tp = len(best)
    total += sum(best.values()) - fn_w * (len(windows) - n_tp)
    return total, n_tp, n_fp


def nab_corpus_score(results: dict[str, np.ndarray], corpus) -> tuple[float, float, dict]:
    allscores = np.concatenate(list(results.values()))
    cands = np.unique(np.round(np.quantile(allscores, np.linspace(0.9, 1.0, 301)), 6))
    cands = np.unique(np.concatenate([cands, np.linspace(0.05, 0.99, 95)]))
    n_windows = sum(len(nab_windows(len(corpus[k][1]), corpus[k][2])) for k in results)
    best = (-1e9, 0.0, {})
    for th in cands:
        raw, detail = 0.0, {}
        for k, sc in results.items():
            wins = nab_windows(len(sc), corpus[k][2])
            s, tp, fp = nab_file_score(sc, wins, th)
            raw += s
            detail[k] = (round(s, 2), tp, len(wins), fp)
        if raw > best[0]:
            best = (raw, float(th), detail)
    raw, th, detail = best
    norm = 100.0 * (raw + n_windows) / (2.0 * n_windows)
    return norm, th, detail


def _windowed_gaussian(ts, values, window: int = 6400, step: int = 100) -> list[float]:
    """NAB's 'windowed Gaussian' baseline re-implemented: Gaussian tail of the value vs a window."""
    buf: list[float] = []
    out = []
    mean, std = 0.0, 1.0
    for k, v in enumerate(values):
        if len(buf) > 1:
            z = (v - mean) / std if std > 0 else 0.0
            out.append(1.0 - 0.5 * math.erfc(abs(z) / math.sqrt(2)) * 2 if z else 0.0)
        else:
            out.append(0.0)
        buf.append(float(v))
        if len(buf) > window:
            buf.pop(0)
        if k % step == 0 or len(buf) < 100:
            mean = float(np.mean(buf))
            std = float(np.std(buf)) or 1.0
    return out


def _river_hst_minmax(ts, values) -> list[float]:
    """River HalfSpaceTrees with NAB's min/max input range (as NAB gives its detectors)."""
    from river import anomaly

    lo, hi = float(np.min(values)), float(np.max(values))
    m = anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=42)
    out = []
    for v in values:
        x = {"v": (float(v) - lo) / (hi - lo + 1e-12)}
        out.append(m.score_one(x))
        m.learn_one(x)
    return out


SEED = 0


def bench_nab(detectors: list[str], verbose: bool = True) -> dict[str, float]:
    corpus = make_corpus(SEED)
    runners: dict[str, Callable] = {d: (lambda ts, v, d=d: score_series(d, ts, v)) for d in detectors}
    runners["baseline:windowed_gaussian"] = _windowed_gaussian
    runners["baseline:river_hst"] = _river_hst_minmax
    out = {}
    npts = sum(len(v) for _, v, _ in corpus.values())
    for name, run in runners.items():
        start = time.perf_counter()
        results = {k: np.asarray(run(ts, list(v))) for k, (ts, v, _) in corpus.items()}
        el = time.perf_counter() - start
        norm, th, detail = nab_corpus_score(results, corpus)
        ones = sum(int(np.sum(r >= 1.0)) for r in results.values())
        out[name] = norm
        print(f"  {name:28s} NAB-like score {norm:6.1f}  threshold {th:.4f}  points==1.0: {ones}  ({npts / el:,.0f} pts/s)")
        if verbose:
            for k, (s, tp, nw, fp) in detail.items():
                print(f"      {k:24s} raw {s:6.2f}  caught {tp}/{nw}  false-positive points {fp}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["speed", "state", "nab"])
    ap.add_argument("--quick", action="store_true", help="smaller speed run, no per-file detail")
    ap.add_argument("--detectors", default="default,counts", help="score_series names, comma-separated")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus")
    args = ap.parse_args()
    if args.only in (None, "speed"):
        print("speed (score_series('counts'), hourly windows with epoch timestamps):")
        bench_speed(50_000 if args.quick else 200_000)
    if args.only in (None, "state"):
        print("state per street (pickled, after 12 weeks of hourly windows):")
        bench_state()
    global SEED
    SEED = args.seed
    if args.only in (None, "nab"):
        print("synthetic NAB-like corpus (standard profile):")
        bench_nab(args.detectors.split(","), verbose=not args.quick)


if __name__ == "__main__":
    main()
