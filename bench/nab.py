"""Score a ``warning.models`` series detector on the real Numenta Anomaly Benchmark (NAB).

Usage (from the repository root; about 5 minutes on 2 cores, most of it NAB's own scorer)::

    .venv/bin/python bench/nab.py                      # score_series("default", ...), NAB's scorer
    .venv/bin/python bench/nab.py --venv /tmp/nabvenv  # reuse (or create) the scorer's venv there
    .venv/bin/python bench/nab.py --fast-only          # in-process re-implementation of NAB's
                                                       # sweeper/optimizer only (seconds)
    .venv/bin/python bench/nab.py --detector default --params '{"rest_min": 30}'

What it does (the recipe of ``../shared/data/nab/SCORING.md``):

1. copies ``../shared/data/nab`` (read-only) to a temporary folder;
2. creates a venv with ``pip install "pandas<3" simplejson`` for NAB's scorer (under ``--venv``,
   reused when it already has pandas);
3. runs ``score_series(detector, timestamps, values)`` on every data file (one process, timed)
   and writes ``results/warning/<subdir>/warning_<file>.csv`` with columns
   ``timestamp,value,anomaly_score,label`` (label 1 inside a window of
   ``labels/combined_windows.json``);
4. runs ``python run.py -d warning --optimize --score --normalize --skipConfirmation -n 2 -t
   <copy of config/thresholds.json>``;
5. prints the three profile scores (NAB's, and the in-process re-implementation as a
   cross-check), total points, detector seconds, points/s, and the ratio of points/s against a
   numpy rolling z-score baseline measured in the same run.

Exits with status 2 and a message when the NAB folder is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warning.models import score_series  # noqa: E402

DEFAULT_NAB = ROOT.parent / "shared" / "data" / "nab"
PROFILES = {  # config/profiles.json of NAB
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}
PUBLISHED = "ARTime 74.9, Numenta HTM 70.1, CAD OSE 69.9, Skyline 58.2, KNN CAD 58.0, Windowed Gaussian 39.6"


@dataclass
class DataFile:
    rel: str  # e.g. "realKnownCause/nyc_taxi.csv"
    ts_text: list[str]
    ts: np.ndarray  # datetime64[s]
    values: np.ndarray
    windows: list[tuple[int, int]]  # inclusive row indices
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


def load_corpus(nab: Path) -> list[DataFile]:
    """Every data file of NAB with its labelled windows as row ranges."""
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    out = []
    for rel in sorted(windows):
        lines = (nab / "data" / rel).read_text().splitlines()
        rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
        ts_text = [r[0] for r in rows]
        ts = np.array(ts_text, dtype="datetime64[s]")
        values = np.array([float(r[1]) for r in rows])
        wins = []
        label = np.zeros(len(rows), dtype=np.int8)
        for a, b in windows[rel]:
            ia = int(np.searchsorted(ts, np.datetime64(a[:19])))
            ib = int(np.searchsorted(ts, np.datetime64(b[:19])))
            wins.append((ia, ib))
            label[ia : ib + 1] = 1
        out.append(DataFile(rel, ts_text, ts, values, wins, label))
    return out


# --------------------------------------------------------------------------------------------
# in-process NAB scorer (same arithmetic as nab/sweeper.py, vectorised)


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def _sweep_parts(f: DataFile) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row unweighted TP value, unweighted FP value, window id (-1 outside) and scorable mask."""
    n = len(f.values)
    idx = np.arange(n)
    win = np.full(n, -1)
    tpv = np.zeros(n)
    fpv = np.full(n, -1.0)
    for k, (a, b) in enumerate(f.windows):
        width = float(b - a + 1)
        win[a : b + 1] = k
        tpv[a : b + 1] = _scaled_sigmoid(-(b - idx[a : b + 1] + 1) / width)
        nxt = f.windows[k + 1][0] if k + 1 < len(f.windows) else n
        after = idx[b + 1 : nxt]
        fpv[b + 1 : nxt] = _scaled_sigmoid(np.abs(b - after) / (width - 1.0))
    prob = min(math.floor(0.15 * n), 0.15 * 5000)
    return tpv, fpv, win, idx >= prob


class FastScorer:
    """NAB's corpus-wide threshold optimisation and normalised score, for every profile."""

    def __init__(self, corpus: list[DataFile]):
        self.parts = [_sweep_parts(f) for f in corpus]
        self.n_windows = sum(len(f.windows) for f in corpus)
        self.max_tp = float(_scaled_sigmoid(np.array([-1.0]))[0])

    def score(self, scores: list[np.ndarray]) -> dict[str, tuple[float, float]]:
        """``{profile: (normalised score, threshold)}``."""
        res = {}
        for prof, (wtp, wfp, wfn) in PROFILES.items():
            ev_s, ev_d = [], []
            n_win_scored = 0
            for (tpv, fpv, win, ok), s in zip(self.parts, scores):
                s = np.asarray(s, dtype=float)
                out = ok & (win < 0)
                ev_s.append(s[out])
                ev_d.append(fpv[out] * wfp)
                for k in np.unique(win[ok & (win >= 0)]):
                    m = ok & (win == k)
                    n_win_scored += 1
                    sk, vk = s[m], tpv[m] * wtp / self.max_tp
                    o = np.argsort(-sk, kind="stable")
                    best = np.maximum.accumulate(np.concatenate([[-wfn], vk[o]]))
                    d = np.diff(best)
                    nz = d > 0
                    ev_s.append(sk[o][nz])
                    ev_d.append(d[nz])
            es = np.concatenate(ev_s)
            ed = np.concatenate(ev_d)
            o = np.argsort(-es, kind="stable")
            es, cum = es[o], np.cumsum(ed[o])
            last = np.r_[es[1:] != es[:-1], True]  # last event of each equal-score group
            base = -wfn * n_win_scored
            totals = base + cum[last]
            i = int(np.argmax(totals))
            raw, thr = (totals[i], es[last][i]) if totals[i] > base else (base, 1.1)
            null = -wfn * self.n_windows
            res[prof] = (100.0 * (raw - null) / (self.n_windows * wtp - null), float(thr))
        return res


# --------------------------------------------------------------------------------------------
# detectors


def run_detector(corpus: list[DataFile], name: str, params: dict[str, Any]) -> tuple[list[np.ndarray], float]:
    start = time.perf_counter()
    out = [np.asarray(score_series(name, f.ts, f.values, **params)) for f in corpus]
    return out, time.perf_counter() - start


def rolling_zscore(values: np.ndarray, window: int = 100) -> np.ndarray:
    """Baseline: |z| of each value against the previous ``window`` values (numpy, vectorised)."""
    c1 = np.concatenate([[0.0], np.cumsum(values)])
    c2 = np.concatenate([[0.0], np.cumsum(values * values)])
    i = np.arange(len(values))
    lo = np.maximum(i - window, 0)
    cnt = np.maximum(i - lo, 1)
    mean = (c1[i] - c1[lo]) / cnt
    var = np.maximum((c2[i] - c2[lo]) / cnt - mean * mean, 1e-12)
    z = np.abs(values - mean) / np.sqrt(var)
    z[:2] = 0.0
    return z / (z + 3.0)


# --------------------------------------------------------------------------------------------
# NAB's own scorer


def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import pandas, simplejson"], capture_output=True).returncode == 0:
        return py
    print(f"creating the scorer's venv in {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "pandas<3", "simplejson"], check=True)
    return py


def write_results(work: Path, corpus: list[DataFile], scores: list[np.ndarray], det: str = "warning") -> None:
    for f, s in zip(corpus, scores):
        sub, fname = f.rel.split("/")
        d = work / "results" / det / sub
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"{det}_{fname}", "w") as fh:
            fh.write("timestamp,value,anomaly_score,label\n")
            for t, v, a, lab in zip(f.ts_text, f.values.tolist(), np.asarray(s).tolist(), f.label.tolist()):
                fh.write(f"{t},{v!r},{a!r},{lab}\n")


def run_nab(py: Path, work: Path, det: str = "warning") -> dict[str, float]:
    thr = work.parent / "thresholds.json"
    shutil.copy(work / "config" / "thresholds.json", thr)
    cmd = [str(py), "run.py", "-d", det, "--optimize", "--score", "--normalize", "--skipConfirmation", "-n", "2", "-t", str(thr)]
    print("running NAB:", " ".join(cmd[1:]), flush=True)
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"NAB's run.py failed with status {p.returncode}")
    found = dict(re.findall(r"Final score for '\w+' detector on '(\w+)' profile = ([-\d.]+)", p.stdout))
    return {k: float(v) for k, v in found.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nab", type=Path, default=DEFAULT_NAB, help="NAB folder (read-only; copied)")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "warning-nab-venv", help="venv of NAB's scorer (created or reused)")
    ap.add_argument("--detector", default="default", help="score_series name")
    ap.add_argument("--params", default="{}", help="JSON dict of detector parameters")
    ap.add_argument("--fast-only", action="store_true", help="skip NAB's run.py; in-process scorer only")
    ap.add_argument("--keep", action="store_true", help="keep the temporary NAB copy")
    args = ap.parse_args()
    if not (args.nab / "run.py").is_file() or not (args.nab / "labels" / "combined_windows.json").is_file():
        sys.stderr.write(f"NAB folder not found at {args.nab} (expected run.py and labels/); see ../shared/data/nab/SCORING.md\n")
        raise SystemExit(2)
    params: dict[str, Any] = json.loads(args.params)

    corpus = load_corpus(args.nab)
    npts = sum(len(f.values) for f in corpus)
    start = time.perf_counter()
    base_scores = [rolling_zscore(f.values) for f in corpus]
    base_el = time.perf_counter() - start
    scores, el = run_detector(corpus, args.detector, params)
    bad = sum(int(np.sum(~np.isfinite(s) | (s < 0) | (s > 1))) for s in scores)
    if bad:
        raise SystemExit(f"{bad} scores outside [0, 1]")
    fast = FastScorer(corpus)
    mine, baseline = fast.score(scores), fast.score(base_scores)

    nab_scores: dict[str, float] = {}
    if not args.fast_only:
        tmp = Path(tempfile.mkdtemp(prefix="warning-nab-"))
        try:
            work = tmp / "nab"
            shutil.copytree(args.nab, work)
            os.chmod(work, 0o755)
            for p in work.rglob("*"):
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
            py = ensure_venv(args.venv)
            write_results(work, corpus, scores)
            nab_scores = run_nab(py, work)
        finally:
            if args.keep:
                print("kept", tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)

    print(f"\ndetector score_series({args.detector!r}, params={params})")
    for prof in PROFILES:
        nab_txt = f"NAB {nab_scores[prof]:6.2f}" if prof in nab_scores else "NAB    n/a"
        print(f"  {prof:20s} {nab_txt}   in-process {mine[prof][0]:6.2f} (threshold {mine[prof][1]:.4f})   rolling z-score baseline {baseline[prof][0]:6.2f}")
    print(f"  published (standard): {PUBLISHED}")
    print(f"  points {npts:,}  detector {el:.2f} s  {npts / el:,.0f} points/s")
    print(f"  rolling z-score baseline (numpy) {base_el:.3f} s  {npts / base_el:,.0f} points/s  ratio detector/baseline {base_el / el:.4f}")


if __name__ == "__main__":
    main()
