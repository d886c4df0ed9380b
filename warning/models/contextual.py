"""Context novelty: an online detector of never-seen value patterns (the default series scorer).

The stream's values are discretised on coarse grids spanning the range seen so far, and every
point is summarised by the *contexts* it ends, on each grid: its level, the pair (previous
level, level), and the pair (hour of day, level) when timestamps are given. The detector counts
how often each context occurred; a point whose contexts are new, or rare, is novel. Its raw
novelty is a weighted mean of ``1 / (1 + count)`` over the grids and contexts, counted before
the point is learned.

Re-framing. A grid spans the ``rank``-th smallest to the ``rank``-th largest value seen,
widened by ``margin`` on each side; values outside fall in a "below" or an "above" level. When
those extremes leave the grid, it is re-framed on the new range and its counts are re-counted
from the stored history (vectorised with numpy; it happens a few dozen times per stream), so
the levels mean the same thing for the whole memory, as with CAD OSE's fixed min-max grid but
without knowing the range in advance. Grids framed on the extremes themselves (rank 1) go
coarse after a big spike, which quiets the noise that follows; a grid framed on the third
extremes keeps its resolution, so a level shift after a spike still shows.

Score. ``m = (1 - excess_weight) * novelty + excess_weight * excess``, where ``excess`` grows
with the distance of a value beyond the range seen so far (it ranks big breaks above small
ones when all contexts are new); the novelty score is ``m ** 2``: a point with half its
contexts new scores about 0.25, so scores stay low on pure noise. When ``m >= tail_from`` it
is multiplied by ``(1 - tail) ** tail_power``, where ``tail`` is the share of the points learned
so far whose ``m`` was at least as high (on ``tail_bins`` bins of ``m``): a stream whose
novelties are always high (noisy, many levels) does not dominate the alarms.

Shift channel. Novelty misses what stays inside known contexts: a slow drift, or a level that
moves within the range seen. A second, complementary statistic watches the shift of a fast
exponential average of the values (half-life ``shift_fast`` points) from a slow one (half-life
``shift_slow``), in units of the running mean absolute deviation from the slow average
(winsorized at 5 deviations, so a spike does not inflate it): ``z = |fast - slow| / dev``. Its
level ``floor(z / shift_step)`` is compared with the highest level reached so far in the stream
(a per-stream tail transform rather than a fixed cut: only a *record* shift counts); a record
scores ``shift_score`` (when that is above the novelty score) and, past the warm-up, starts a
rest period like a novelty alarm. The score is in ``[0, 1)``.

Rest period. It keeps one alarm per episode: after ``m >= rest_threshold`` (or a record
shift) the score is 0 for ``rest_fraction`` of the points seen so far, clipped to
``[rest_min, rest_max]`` points (CAD OSE's convention; in NAB, later detections in an anomaly
window earn nothing and false positives cost). The first ``warmup`` points score 0.

Parameters
----------
grids
    One tuple per grid: ``(levels, rank, w_level, w_pair, w_hour)``: the number of levels over
    the framed range, the rank of the extremes that frame it, and the weights of its level,
    (previous level, level) and (hour of day, level) contexts.
margin
    Fraction of the framed range added on each side of a grid.
rest_threshold
    ``m`` that starts a rest period.
rest_min, rest_max, rest_fraction
    Length of the rest period: ``rest_fraction`` of the points seen, clipped to
    ``[rest_min, rest_max]``.
excess_weight
    Weight of the beyond-the-range term.
warmup
    Points that score 0 while the grids settle.
history
    Values kept for re-counting after a re-frame (the detector's memory; the state grows with
    it: 9 bytes a value plus the context counts).
hour_bins
    Bins of the time of day for the hour contexts (timestamps in epoch seconds, key ``t``).
tail_power, tail_bins, tail_from
    Power of the novelty-tail factor (0 disables it), bins of ``m`` for its counts, and the
    ``m`` from which it applies (below, ``m ** 2 < 0.25`` is left as is: it is under any useful
    alarm threshold, and skipping it saves time).
shift_score, shift_fast, shift_slow, shift_step
    Score of a record shift (0 disables the channel), the half-lives of the fast and slow
    averages in points, and the resolution of the shift levels in deviations.

Defaults were tuned on the Numenta Anomaly Benchmark with ``bench/nab.py`` (one parameter set
for the whole corpus): the grids and their weights, the margin, the rest-period rule, the
excess weight, the tail power and the shift half-lives and step. NAB standard profile 70.29
(low-FP 62.42, low-FN 74.73) with these defaults (68.27 / 61.25 / 72.52 without the tail factor
and the shift channel).

References
----------
[^1]: Smirnov, M. (2016). Contextual Anomaly Detector, open-source edition (CAD OSE),
https://github.com/smirmik/CAD (contexts of discretised values, novelty of new contexts,
rest period after a high score).
[^2]: Lavin, A., Ahmad, S. (2015). Evaluating real-time anomaly detection algorithms: the
Numenta Anomaly Benchmark. IEEE ICMLA.

Examples
--------

>>> import math, random
>>> from warning.models.contextual import ContextNovelty
>>> rng = random.Random(0)
>>> model = ContextNovelty()
>>> scores = []
>>> for i in range(3000):
...     x = {"value": 10 + 3 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 0.3), "t": 300.0 * i}
...     if i == 2500:
...         x["value"] += 8.0
...     scores.append(model.score_one(x))
...     model.learn_one(x)
>>> max(range(len(scores)), key=scores.__getitem__)
2500
>>> scores[2501:2550] == [0.0] * 49  # the rest period
True
"""

from __future__ import annotations

import bisect
import math
from array import array
from typing import Any

import numpy as np

from ._base import VersionedDetector

__all__ = ["ContextNovelty"]

_DEFAULT_GRIDS: tuple[tuple[int, int, float, float, float], ...] = (
    (7, 1, 0.75, 1.0, 0.75),
    (15, 1, 0.75, 1.0, 0.0),
    (15, 3, 1.0, 0.75, 0.25),
)


class _Grid:
    """One value grid and the counts of its contexts."""

    __slots__ = ("levels", "rank", "wl", "wp", "wh", "base", "lo", "step", "top", "cl", "cp", "ch", "prev")

    def __init__(self, levels: int, rank: int, wl: float, wp: float, wh: float):
        self.levels = levels
        self.rank = rank
        self.wl, self.wp, self.wh = wl, wp, wh
        self.base = levels + 2  # level codes: 0 below the grid, 1..levels inside, levels+1 above
        self.lo = 0.0
        self.step = 0.0  # 0 until the range is known: every value is then level 1
        self.top = 0.0  # upper edge of the grid
        self.cl: dict[int, int] = {}  # level -> count
        self.cp: dict[int, int] = {}  # level * base + previous level -> count
        self.ch: dict[int, int] = {}  # hour bin * base + level -> count
        self.prev = -1  # previous level code

    def reframe(self, lo: float, hi: float, values: np.ndarray, hours: np.ndarray) -> None:
        L = self.levels
        self.lo = lo
        self.step = (hi - lo) / L
        self.top = lo + L * self.step
        codes = np.clip(np.floor((values - lo) / self.step), -1, L).astype(np.int64) + 1
        base = self.base

        def count(c: np.ndarray) -> dict[int, int]:
            u, k = np.unique(c, return_counts=True)
            return dict(zip(u.tolist(), k.tolist()))

        self.cl = count(codes)
        self.cp = count(codes[1:] * base + codes[:-1])
        if self.wh:
            known = hours >= 0
            self.ch = count(hours[known].astype(np.int64) * base + codes[known])
        self.prev = int(codes[-1]) if len(codes) else -1


class ContextNovelty(VersionedDetector):
    """Novelty of discretised value contexts, with a rest period after each alarm.

    See the module docstring for the algorithm and the parameters. Input ``x``: ``value``
    (float) and optional ``t`` (epoch seconds). Returns a score in ``[0, 1)``.
    """

    VERSION = 2  # 2: novelty-tail counts and shift-channel state

    def __init__(
        self,
        grids: tuple[tuple[int, int, float, float, float], ...] = _DEFAULT_GRIDS,
        margin: float = 0.2,
        rest_threshold: float = 0.6,
        rest_min: int = 20,
        rest_max: int = 150,
        rest_fraction: float = 0.02,
        excess_weight: float = 0.05,
        warmup: int = 100,
        history: int = 20_000,
        hour_bins: int = 24,
        tail_power: float = 2.0,
        tail_bins: int = 50,
        tail_from: float = 0.5,
        shift_score: float = 0.5,
        shift_fast: float = 5.0,
        shift_slow: float = 200.0,
        shift_step: float = 0.1,
    ):
        self.grids_spec = tuple(tuple(g) for g in grids)
        self.margin = margin
        self.rest_threshold = rest_threshold
        self.rest_min = rest_min
        self.rest_max = rest_max
        self.rest_fraction = rest_fraction
        self.excess_weight = excess_weight
        self.warmup = warmup
        self.history = history
        self.hour_bins = hour_bins
        self.tail_power = tail_power
        self.tail_bins = tail_bins
        self.tail_from = tail_from
        self.novelty_hist = array("l", [0] * (tail_bins + 1))  # learned points per bin of m
        self.shift_score = shift_score
        self.shift_fast = shift_fast
        self.shift_slow = shift_slow
        self.shift_step = shift_step
        self._af = 1.0 - 0.5 ** (1.0 / shift_fast)
        self._as = 1.0 - 0.5 ** (1.0 / shift_slow)
        self.fast = self.slow = self.dev = 0.0  # fast and slow averages, mean |value - slow|
        self.shift_best = 0  # highest shift level reached so far
        self.grids = [_Grid(int(L), int(r), float(wl), float(wp), float(wh)) for L, r, wl, wp, wh in self.grids_spec]
        self._k = max(g.rank for g in self.grids)
        self._w_fixed = sum(g.wl + g.wp for g in self.grids)
        self._w_hour = sum(g.wh for g in self.grids)
        self.values = array("d")  # history of values ...
        self.hours = array("b")  # ... and of their hour bins (-1: no timestamp)
        self.n = 0
        self.mn = math.inf
        self.mx = -math.inf
        self.top: list[float] = []  # the largest values seen (ascending), as many as the largest rank
        self.bot: list[float] = []  # the smallest values seen (ascending)
        self.last_alarm = -(10**9)
        self._cache: tuple[Any, ...] | None = None

    # -- core -------------------------------------------------------------------------------

    def _evaluate(self, v: float, t: Any) -> tuple[float, int, list[tuple[_Grid, int, int, int]], int]:
        """``m`` (novelty mixed with the excess term), the hour bin, per grid its level and
        context keys (-1 when absent), and the level of the shift statistic."""
        c = self._cache
        if c is not None and c[0] == v and c[1] == t:
            return c[2], c[3], c[4], c[5]
        hb = -1
        if t is not None:
            tf = float(t)
            if math.isfinite(tf):
                hb = int((tf % 86400.0) * self.hour_bins // 86400.0)
        nov = 0.0
        keys = []
        for g in self.grids:
            step = g.step
            if step <= 0.0:
                b = 1
            else:
                lo = g.lo
                if v < lo:
                    b = 0
                elif v >= g.top:
                    b = g.levels + 1
                else:
                    b = int((v - lo) / step) + 1
                    if b > g.levels:  # rounding at the upper edge
                        b = g.levels
            nov += g.wl / (1.0 + g.cl.get(b, 0))
            kp = kh = -1
            prev = g.prev
            if prev >= 0:
                kp = b * g.base + prev
                nov += g.wp / (1.0 + g.cp.get(kp, 0))
            if hb >= 0:
                wh = g.wh
                if wh:
                    kh = hb * g.base + b
                    nov += wh / (1.0 + g.ch.get(kh, 0))
            keys.append((g, b, kp, kh))
        wsum = self._w_fixed + (self._w_hour if hb >= 0 else 0.0)
        m = nov / wsum if wsum > 0.0 else 0.0
        w = self.excess_weight
        if w:
            mn, mx = self.mn, self.mx
            d = mn - v if v < mn else (v - mx if v > mx else 0.0)
            exc = d / (d + (mx - mn) + 1e-12) if d > 0.0 and mx > mn else 0.0
            m = (1.0 - w) * m + w * exc
        zb = 0
        d = self.dev
        if d > 0.0:
            fast = self.fast
            zb = int(abs(fast + self._af * (v - fast) - self.slow) / (d * self.shift_step))
        self._cache = (v, t, m, hb, keys, zb)
        return m, hb, keys, zb

    # -- River protocol ---------------------------------------------------------------------

    def score_one(self, x: dict[str, Any]) -> float:
        v = float(x["value"])
        if not math.isfinite(v):
            return 0.0
        m, _, _, zb = self._evaluate(v, x.get("t"))
        n = self.n
        if n < self.warmup:
            return 0.0
        rest = self.rest_fraction * n
        rest = self.rest_min if rest < self.rest_min else (self.rest_max if rest > self.rest_max else rest)
        if n - self.last_alarm <= rest:
            return 0.0
        m *= 1.0 - 1e-9
        s = m * m
        if m >= self.tail_from and self.tail_power:
            # share of the points learned so far at least as novel (m binned)
            b = int(m * self.tail_bins)
            tail = (sum(self.novelty_hist[b:]) + 1.0) / (n + 1.0)
            s *= (1.0 - tail) ** self.tail_power
        if zb > self.shift_best and self.shift_score > s:
            s = self.shift_score
        return s

    def learn_one(self, x: dict[str, Any]) -> None:
        v = float(x["value"])
        if not math.isfinite(v):
            return
        m, hb, keys, zb = self._evaluate(v, x.get("t"))
        self._cache = None
        if m >= self.rest_threshold:
            self.last_alarm = self.n  # (re)starts the rest period
        for g, b, kp, kh in keys:
            cl = g.cl
            cl[b] = cl.get(b, 0) + 1
            if kp >= 0:
                cp = g.cp
                cp[kp] = cp.get(kp, 0) + 1
            if kh >= 0:
                ch = g.ch
                ch[kh] = ch.get(kh, 0) + 1
            g.prev = b
        if m >= self.tail_from:  # only the bins at or above tail_from are ever read
            self.novelty_hist[int(m * self.tail_bins)] += 1
        n = self.n
        if n:
            if zb > self.shift_best:  # a record shift: it alarms and starts a rest period
                self.shift_best = zb
                if n >= self.warmup and self.shift_score:
                    self.last_alarm = n
            fast = self.fast
            self.fast = fast + self._af * (v - fast)
            a = self._as if n * self._as >= 1.0 else 1.0 / (n + 1)
            slow = self.slow
            e = v - slow
            d = self.dev
            ae = e if e >= 0.0 else -e
            if ae > 5.0 * d and d > 0.0:  # winsorized: a spike does not inflate the scale
                ae = 5.0 * d
            self.dev = d + a * (ae - d)
            self.slow = slow + a * e
        else:
            self.fast = self.slow = v
        values, hours = self.values, self.hours
        values.append(v)
        hours.append(hb)
        if len(values) >= 2 * self.history:  # amortised trim to the last `history` points
            del values[: len(values) - self.history]
            del hours[: len(hours) - self.history]
        self.n += 1
        top, bot = self.top, self.bot
        if len(top) >= self._k and bot[-1] <= v <= top[0]:
            return  # the extremes that frame the grids do not change: no re-framing
        if v < self.mn:
            self.mn = v
        if v > self.mx:
            self.mx = v
        k = self._k
        moved = False
        if len(top) < k or v > top[0]:
            bisect.insort(top, v)
            if len(top) > k:
                del top[0]
            moved = True
        if len(bot) < k or v < bot[-1]:
            bisect.insort(bot, v)
            if len(bot) > k:
                del bot[-1]
            moved = True
        if not moved:
            return  # the extremes did not change: no grid needs re-framing
        hist_v = hist_h = None
        for g in self.grids:
            r = g.rank
            hi = top[-r] if len(top) >= r else top[0]
            lo = bot[r - 1] if len(bot) >= r else bot[-1]
            if hi > lo and (g.step <= 0.0 or lo < g.lo or hi >= g.top):
                if hist_v is None:
                    hist_v = np.array(values[-self.history :], dtype=np.float64)
                    hist_h = np.array(hours[-self.history :], dtype=np.int64)
                pad = self.margin * (hi - lo)
                g.reframe(lo - pad, hi + pad, hist_v, hist_h)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_cache"] = None
        return state
