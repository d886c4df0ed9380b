"""Univariate real-valued streams: the default detector and the earlier forecast-based one.

* :class:`UnivariateSurprise` is the ``default`` series scorer of
  :func:`warning.models.score_series`: since version 2 it is
  :class:`~warning.models.contextual.ContextNovelty` (novelty of discretised value contexts,
  weighted by its per-stream tail, plus a record-shift channel for drifts and level moves, with
  a rest period, after CAD OSE), which scores 70.3 (standard profile; low-FP 62.4, low-FN 74.7)
  on the real Numenta Anomaly Benchmark at about 175k points/s (``bench/nab.py``; version 2,
  without the tail factor and the shift channel, scored 68.3).
* :class:`ForecastSurprise` is the earlier default (version 1 of ``UnivariateSurprise``):
  forecasters, calibrated tails and a refractory rule. It scored 35.7 on NAB at about 17k
  points/s and is kept for its calibrated ``-log10 p`` evidence (:meth:`ForecastSurprise.log10p`).
"""

from __future__ import annotations

import bisect
import math
from array import array
from typing import Any

from ._base import VersionedDetector
from ._tails import score_from_log10p
from .contextual import ContextNovelty

__all__ = ["ForecastSurprise", "TailCalibrator", "UnivariateSurprise"]

_LOG10E = 1.0 / math.log(10.0)
_LOG10_2 = math.log10(2.0)
_WEEK_BINS = 336  # half-hours of the week
_WEEK_BIN_SECONDS = 604800.0 / _WEEK_BINS


class TailCalibrator:
    """Turns a stream of non-negative nonconformity values into calibrated ``-log10 p``.

    Keeps the last ``window`` values sorted. A new value's p-value is its empirical upper-tail
    frequency; beyond the ``k``-th largest value the tail is extrapolated with an exponential fit
    to ``log(1 + a)`` (a Pareto tail on ``1 + a``), its scale taken from the spacing of the
    ``k``-th and ``k/4``-th largest values (robust to a few huge outliers in the window),
    so values larger than anything seen keep distinct, finite, growing evidence instead of a
    plateau at ``1 / window``. Calibration is per stream, which is what makes one threshold work
    across streams of very different noise.

    >>> cal = TailCalibrator(window=200, k=10)
    >>> for i in range(200):
    ...     cal.update((i * 37 % 101) / 100)
    >>> round(cal.log10p(0.5), 2), cal.log10p(2.0) < cal.log10p(3.0)
    (0.3, True)
    """

    __slots__ = ("window", "k", "min_beta", "_fifo", "_head", "_sorted")

    def __init__(self, window: int = 1000, k: int = 20, min_beta: float = 0.02):
        self.window = window
        self.k = k
        self.min_beta = min_beta
        # values are stored as float32 (half the pickled size; ample precision for a p-value)
        self._fifo = array("f")
        self._head = 0  # ring-buffer position of the oldest value once full
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def log10p(self, a: float) -> float:
        srt = self._sorted
        n = len(srt)
        if n < 10:
            return 0.0
        b = math.log1p(a) if a > 0.0 else 0.0
        ge = n - bisect.bisect_left(srt, b)
        k = self.k
        if ge >= k or n < 2 * k:
            return -math.log10((ge + 1.0) / (n + 1.0))
        u = srt[n - k]
        # exponential-tail scale from a quantile spacing (k-th vs k/4-th largest): unlike the
        # mean excess, one huge outlier in the window does not inflate it
        beta = (srt[n - k // 4] - u) / math.log(k / (k // 4))
        if beta < self.min_beta:
            beta = self.min_beta
        # p = k/(n+1) * exp(-(b - u)/beta), continuous with the empirical part at the k-th value
        return -math.log10(k / (n + 1.0)) + (b - u) / beta * _LOG10E

    def update(self, a: float) -> None:
        b = math.log1p(a) if a > 0.0 else 0.0
        fifo = self._fifo
        if len(fifo) < self.window:
            fifo.append(b)
            b = fifo[-1]
        else:
            h = self._head
            old = fifo[h]
            del self._sorted[bisect.bisect_left(self._sorted, old)]
            fifo[h] = b
            b = fifo[h]
            self._head = (h + 1) % self.window
        bisect.insort(self._sorted, b)

    def __getstate__(self) -> dict[str, Any]:
        return {"window": self.window, "k": self.k, "min_beta": self.min_beta, "fifo": self._fifo.tobytes(), "head": self._head}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.window = state["window"]
        self.k = state["k"]
        self.min_beta = state["min_beta"]
        self._fifo = array("f")
        self._fifo.frombytes(state["fifo"])
        self._head = state["head"]
        self._sorted = sorted(self._fifo)


class _Core:
    """Forecasters, scales and calibrators for one transform of the stream (raw or log)."""

    def __init__(self, p: "ForecastSurprise"):
        self.n = 0
        self.last_v: float | None = None
        self.last_t: float | None = None
        self.dt: float | None = None
        self.fast = 0.0
        self.level = 0.0
        self.mag = 0.0  # running mean |value|, for scale floors
        self.nb = p.daily_bins or 0  # chosen from the sampling interval when None
        self.daily = [0.0] * self.nb
        self.weekly = [0.0] * _WEEK_BINS
        # running mean absolute errors (scale) and model-selection errors
        # models: 0 random walk, 1 fast average, 2 slow level, 3 level+daily, 4 level+daily+weekly
        self.scale = [0.0] * 5
        self.mae = [0.0] * 5
        self.sustain = 0.0
        self.vol = 0.0
        self.cal = [TailCalibrator(p.calibration_window, p.tail_k) for _ in range(4)]

    def _season_pos(self, t: float, utc_offset: int) -> tuple[int, int, float, int, int, float]:
        local = t + utc_offset
        nb = self.nb
        s = (local % 86400.0) / 86400.0 * nb - 0.5
        i0 = math.floor(s)
        f = s - i0
        w = ((local + 3 * 86400.0) % 604800.0) / _WEEK_BIN_SECONDS - 0.5
        j0 = math.floor(w)
        g = w - j0
        return i0 % nb, (i0 + 1) % nb, f, j0 % _WEEK_BINS, (j0 + 1) % _WEEK_BINS, g

    def evaluate(self, p: "ForecastSurprise", v: float, t: float | None) -> tuple[float, Any]:
        """Evidence ``s`` (before refractory) and what ``learn`` needs."""
        if self.last_v is None:
            return 0.0, None
        pos = None
        seasonal = t is not None and self.nb > 0 and self.dt is not None and self.dt <= 3 * 3600.0
        preds = [self.last_v, self.fast, self.level, self.level, self.level]
        if seasonal:
            pos = self._season_pos(t, p.utc_offset)  # type: ignore[arg-type]
            i0, i1, f, j0, j1, g = pos
            d = (1.0 - f) * self.daily[i0] + f * self.daily[i1]
            wk = (1.0 - g) * self.weekly[j0] + g * self.weekly[j1]
            preds[3] = self.level + d
            preds[4] = self.level + d + wk
        res = [v - q for q in preds]
        floor = 1e-6 * self.mag + 1e-12
        sc = [s if s > floor else floor for s in self.scale]
        z = [abs(r) / s for r, s in zip(res, sc)]
        slow = 2
        if seasonal:
            mae = self.mae
            if mae[3] < mae[slow]:
                slow = 3
            if mae[4] < mae[slow]:
                slow = 4
        a_point = min(z[0], z[1], z[slow])
        a_ctx = z[slow]
        a_sus = p._a_sus
        sus = (1.0 - a_sus) * self.sustain + a_sus * (res[slow] / sc[slow])
        zr = min(z[0], 10.0)
        vol = (1.0 - a_sus) * self.vol + a_sus * zr * zr
        a = [a_point, a_ctx, abs(sus), vol]
        s = max(c.log10p(ai) for c, ai in zip(self.cal, a)) - math.log10(4.0)
        return (s if s > 0.0 else 0.0), (a, res, pos, sus, vol)

    def learn(self, p: "ForecastSurprise", v: float, t: float | None, extra: Any) -> None:
        if self.last_v is None:
            self.fast = self.level = v
            self.mag = abs(v)
            self.last_v, self.last_t = v, t
            self.n = 1
            return
        a, res, pos, sus, vol = extra
        for c, ai in zip(self.cal, a):
            c.update(ai)
        self.sustain, self.vol = sus, vol
        if t is not None and self.last_t is not None:
            step = t - self.last_t
            if step > 0.0:
                if self.dt is None:
                    self.dt = step
                else:
                    self.dt += 0.05 * (min(max(step, 0.5 * self.dt), 2.0 * self.dt) - self.dt)
                if not self.nb and self.n >= 10:
                    self.nb = int(min(288, max(24, round(86400.0 / self.dt))))
                    self.daily = [0.0] * self.nb
        dt_pts = self.dt if (self.dt and t is not None) else 1.0
        self.n += 1
        warm = 1.0 / self.n
        # scales and model-selection errors (winsorized at 5 scales)
        for i, r in enumerate(res):
            ar = abs(r)
            sc = self.scale[i]
            if sc > 0.0 and ar > 5.0 * sc:
                ar = 5.0 * sc
            self.scale[i] = sc + max(0.02, warm) * (ar - sc)
            self.mae[i] += max(0.005, warm) * (ar - self.mae[i])
        self.mag += 0.01 * (abs(v) - self.mag)
        # forecasters (winsorized updates so a spike does not drag the slow models)
        lim = 5.0 * max(self.scale[2], 1e-12)
        self.fast += p._a_fast * (v - self.fast)
        halflife_pts = p.level_halflife / dt_pts
        a_l = max(1.0 - 0.5 ** (1.0 / max(halflife_pts, 1.0)), warm)
        e = res[3] if pos is not None else res[2]
        self.level += a_l * min(max(e, -lim), lim)
        if pos is not None:
            i0, i1, f, j0, j1, g = pos
            # per-point rate so that one visit of a bin moves it by about 1 - 0.5**(1/season_visits)
            a_v = 1.0 - 0.5 ** (1.0 / p.season_visits)
            a_d = 1.0 - (1.0 - a_v) ** min(1.0, dt_pts / (86400.0 / self.nb))
            a_w = 1.0 - (1.0 - a_v) ** min(1.0, dt_pts / _WEEK_BIN_SECONDS)
            e3 = min(max(res[3], -lim), lim)
            self.daily[i0] += a_d * (1.0 - f) * e3
            self.daily[i1] += a_d * f * e3
            e4 = min(max(res[4], -lim), lim)
            self.weekly[j0] += a_w * (1.0 - g) * e4
            self.weekly[j1] += a_w * g * e4
        self.last_v, self.last_t = v, t


class ForecastSurprise(VersionedDetector):
    """Online surprise score for a real-valued stream: forecasts, calibrated tails, refractory.

    Three one-step forecasters run side by side: the last value (random walk), a fast
    exponential average, and a slow level plus a time-of-day profile (one bin per sampling
    interval, 24 to 288 a day) and a half-hour-of-week adjustment when timestamps allow. Each keeps a robust running scale of its errors
    (winsorized mean absolute error). From them, four nonconformity measures are formed for
    every point, each before the point is learned:

    * ``point``: the smallest scaled error of the fast forecasters and the best slow one (a
      spike or the first point of a jump surprises them all; the second point of a jump
      does not surprise the random walk);
    * ``context``: the scaled error of the best slow forecaster (seasonal when it fits better):
      a value that is ordinary in isolation but wrong for the hour;
    * ``sustained``: an exponential average of the signed context errors (drifts, shifts);
    * ``volatility``: an exponential average of squared random-walk errors (noise changes).

    Each measure is calibrated on its own recent history by :class:`TailCalibrator`, giving a
    ``-log10 p`` that means the same on a CPU series as on taxi counts; the largest, less a
    Bonferroni term, is the evidence ``s``. A refractory rule then keeps one alarm per episode:
    ``s`` is discounted by the decaying peak of recent evidence, so the first point of an
    anomaly scores high and its echoes do not. While every value is positive, a twin of the
    whole machinery runs on ``log(value)`` (multiplicative series: traffic, bytes, prices) and
    the larger evidence of the two counts, less ``log10 2``. The score is ``s / (s + score_scale)``, never
    exactly 1, and stays low while the calibrators are still filling (the probationary period).

    Parameters
    ----------
    calibration_window
        Values kept per calibrator (the stream's recent memory of what is normal).
    tail_k
        Order statistics used for the tail fit.
    fast_halflife
        Half-life of the fast exponential average, in points.
    level_halflife
        Half-life of the slow level, in seconds (points when there are no timestamps).
    daily_bins
        Bins of the time-of-day profile (interpolated linearly); ``None`` chooses one bin per
        sampling interval, between 24 and 288, once the interval is known.
    season_visits
        Learning rate of a profile bin per visit of that bin, as a half-life in visits.
    sustain_halflife
        Half-life of the sustained-deviation average, in points.
    refractory_halflife
        Half-life of the refractory peak, in points.
    refractory
        Fraction of the recent peak subtracted from new evidence (0 disables the rule).
    log_transform
        Also model ``log(value)`` while all values are positive.
    score_scale
        ``s`` that maps to a score of 0.5.
    utc_offset
        Offset of local time for the profiles, in seconds (naive datetimes are local already).

    Input ``x``: ``value`` (float); optional ``t`` (epoch seconds). Returns a score in
    ``[0, 1)``.

    Examples
    --------

    >>> import math, random
    >>> from warning.models.univariate import ForecastSurprise
    >>> rng = random.Random(0)
    >>> model = ForecastSurprise()
    >>> scores = []
    >>> for i in range(3000):
    ...     t = 1_700_000_000 + 300 * i
    ...     v = 10 + 3 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 0.3)
    ...     if i == 2500:
    ...         v += 4.0
    ...     scores.append(model.score_one({"value": v, "t": t}))
    ...     model.learn_one({"value": v, "t": t})
    >>> max(range(len(scores)), key=scores.__getitem__)
    2500
    >>> round(max(scores[1000:2500]), 2) < round(scores[2500], 2)
    True

    References
    ----------
    [^1]: Vovk, V., Gammerman, A., Shafer, G. (2005). Algorithmic Learning in a Random World
    (conformal p-values).
    [^2]: Hill, B. M. (1975). A simple general approach to inference about the tail of a
    distribution. Annals of Statistics, 3(5).
    [^3]: Siffer, A. et al. (2017). Anomaly detection in streams with extreme value theory. KDD.
    [^4]: Lavin, A., Ahmad, S. (2015). Evaluating real-time anomaly detection algorithms: the
    Numenta Anomaly Benchmark.

    """

    VERSION = 1

    def __init__(
        self,
        calibration_window: int = 1000,
        tail_k: int = 20,
        fast_halflife: float = 2.0,
        level_halflife: float = 6 * 3600.0,
        daily_bins: int | None = None,
        season_visits: float = 3.0,
        sustain_halflife: float = 4.0,
        refractory_halflife: float = 50.0,
        refractory: float = 0.8,
        log_transform: bool = True,
        score_scale: float = 5.0,
        utc_offset: int = 8 * 3600,
    ):
        self.calibration_window = calibration_window
        self.tail_k = tail_k
        self.fast_halflife = fast_halflife
        self.level_halflife = level_halflife
        self.daily_bins = daily_bins
        self.season_visits = season_visits
        self.sustain_halflife = sustain_halflife
        self.refractory_halflife = refractory_halflife
        self.refractory = refractory
        self.log_transform = log_transform
        self.score_scale = score_scale
        self.utc_offset = utc_offset

        self._a_fast = 1.0 - 0.5 ** (1.0 / fast_halflife)
        self._a_sus = 1.0 - 0.5 ** (1.0 / sustain_halflife)
        self._d_peak = 0.5 ** (1.0 / refractory_halflife)
        self.n = 0
        self.peak = 0.0
        self.raw = _Core(self)
        # log-scale twin, kept while every value is positive (multiplicative series)
        self.log: _Core | None = _Core(self) if log_transform else None

    def _evaluate(self, v: float, t: float | None) -> tuple[float, Any, Any]:
        s, extra = self.raw.evaluate(self, v, t)
        extra_log = None
        if self.log is not None and v > 0.0:
            s_log, extra_log = self.log.evaluate(self, math.log(v), t)
            s = max(s, s_log) - _LOG10_2 if self.log.n >= 1 else s
            s = s if s > 0.0 else 0.0
        return s, extra, extra_log

    def _evidence(self, x: dict[str, Any]) -> float:
        v = float(x["value"])
        if not math.isfinite(v):
            return 0.0
        t = x.get("t")
        s, _, _ = self._evaluate(v, None if t is None else float(t))
        return max(0.0, s - self.refractory * self.peak * self._d_peak)

    # -- River protocol -------------------------------------------------------------------

    def log10p(self, x: dict[str, Any]) -> float:
        """Evidence ``s`` (calibrated ``-log10 p`` after the refractory discount)."""
        return self._evidence(x)

    def score_one(self, x: dict[str, Any]) -> float:
        return score_from_log10p(self._evidence(x), self.score_scale)

    def learn_one(self, x: dict[str, Any]) -> None:
        v = float(x["value"])
        if not math.isfinite(v):
            return
        t = x.get("t")
        t = None if t is None else float(t)
        s, extra, extra_log = self._evaluate(v, t)
        d = self.peak * self._d_peak
        self.peak = max(d, s - self.refractory * d)
        self.raw.learn(self, v, t, extra)
        if self.log is not None:
            if v > 0.0:
                self.log.learn(self, math.log(v), t, extra_log)
            else:
                self.log = None  # not a positive series: the log twin retires for good
        self.n += 1


class UnivariateSurprise(ContextNovelty):
    """The ``default`` series detector: :class:`~warning.models.contextual.ContextNovelty`.

    Version 3 (version 2 was ContextNovelty without the novelty-tail factor and the shift
    channel; version 1 was :class:`ForecastSurprise`; older pickles are refused with
    :class:`~warning.models.IncompatibleStateError`). Same parameters and protocol as
    :class:`~warning.models.contextual.ContextNovelty`.

    >>> model = UnivariateSurprise()
    >>> scores = []
    >>> for i in range(600):
    ...     v = 200.0 if i == 500 else float(i % 7)
    ...     scores.append(model.score_one({"value": v}))
    ...     model.learn_one({"value": v})
    >>> max(range(600), key=scores.__getitem__)
    500
    """

    VERSION = 3
