"""Partition-wide common mode: what all streets of a partition do together right now.

A heating season starting, a holiday, a Monday morning after a quiet weekend, a heat wave —
these move every street at once, and none of them is a street's own anomaly. The context keeps,
for every key (``H``/``P``/``S`` feed volumes, ``C<category>``, ``T<event type>``, ``K<risk
category>``), the partition's observed count and the sum of the streets' own expectations over
the same trailing windows as the street tests (last hour in 5-minute bins; longer windows in
hourly slots). A street's expectation is multiplied by the *leave-one-out* ratio

    R = (O_partition − O_street + prior) / (E_partition − E_street + prior)

— how far all *other* streets are above (or below) their own expectation — clamped to
``[common_mode_min, common_mode_max]``. ``prior`` (in expected counts) keeps R near 1 where the
partition has little evidence (night, rare themes). The street's own surge never inflates its R,
and a single street's incident barely moves the others'.

The same is kept for the sentiment of texts: the partition's text count and sentiment sum per
window, and its long-run mean sentiment (learned once hours are older than the longest window),
so that a drift of the sentiment model or a city-wide mood is not read as one street's turn.

Partition-wide expectations come from the streets at every hour start (the engine asks each
street for its expectations of the new hour), so the whole context is a function of the events
and is checkpointed with the engine's meta (its size does not grow with time: slots are rings).
"""

from __future__ import annotations

from typing import Any

from warning.core.budget import BudgetCalibrator
from warning.core.scan import HourRing, MinuteBins
from warning.core.timeutil import HOUR

HIST_BINS = 100


class PartitionContext:
    VERSION = 3

    def __init__(self, windows: tuple[int, ...] = (6, 24), prior: float = 20.0, lo: float = 0.5, hi: float = 4.0,
                 mood_halflife_hours: float = 336.0, tail_quantile: float = 0.95,
                 budget: BudgetCalibrator | None = None) -> None:
        self.windows = tuple(w for w in windows if w > 1)
        self.bins = MinuteBins()
        self.obs = HourRing(self.windows, "I")
        self.exp = HourRing(self.windows, "f")
        self.e_prev: dict[str, float] = {}
        self.e_cur: dict[str, float] = {}
        self.hour_start: float | None = None
        self.prior = prior
        self.lo = lo
        self.hi = hi
        # sentiment: per-window sums, and the long-run mean (lagged by the longest window)
        self.sbins = MinuteBins()
        self.sent = HourRing(self.windows, "f")
        self.mood_decay = 0.5 ** (1.0 / mood_halflife_hours)
        self.mood_n = 0.0
        self.mood_z = 0.0
        # distribution of P(negative) over texts (decayed histogram) → the upper-tail threshold
        self.tail_q = tail_quantile
        self.hist = [0.0] * HIST_BINS
        self.hist_decay = 0.5 ** (1.0 / mood_halflife_hours)
        self.tail: float | None = None
        #: per-signal thresholds from the false-alert budget (None: the configured ones)
        self.budget = budget
        self.version = self.VERSION

    def add(self, t: float, hour_start: float, keys: tuple[str, ...], sentiment: float | None = None) -> None:
        self.bins.add(t, keys)
        hi = int(hour_start // HOUR)
        if self.obs.hour != hi:
            self.obs.advance(hi)
        self.obs.add_keys(keys)
        if sentiment is not None:
            b = int(sentiment * HIST_BINS)
            self.hist[b if b < HIST_BINS else HIST_BINS - 1] += 1.0
            self.sbins.add_pairs(t, (("n", 1), ("z", sentiment)))
            if self.sent.hour != hi:
                self._advance_sent(hi)
            self.sent.add_many((("n", 1.0), ("z", sentiment)))

    def _advance_sent(self, hi: int) -> None:
        for _, vals in self.sent.leaving(hi):
            d = self.mood_decay
            self.mood_n = d * self.mood_n + vals.get("n", 0.0)
            self.mood_z = d * self.mood_z + vals.get("z", 0.0)
        self.sent.advance(hi)

    def open_hour(self, start: float, expected: dict[str, float]) -> None:
        """A new hour starts; ``expected`` is the sum of the streets' expectations for it."""
        hi = int(start // HOUR)
        self.e_prev, self.e_cur = self.e_cur, expected
        self.hour_start = start
        self.exp.advance(hi)
        for k, v in expected.items():
            self.exp.set(k, v)
        self.obs.advance(hi)
        self._advance_sent(hi)
        self._update_tail()

    def _update_tail(self) -> None:
        """Recompute the upper-tail threshold of P(negative) (stable within an hour)."""
        h = self.hist
        d = self.hist_decay
        total = 0.0
        for i in range(HIST_BINS):
            h[i] *= d
            total += h[i]
        if total < 500.0:
            self.tail = None
            return
        above = 0.0
        for i in range(HIST_BINS - 1, -1, -1):
            above += h[i]
            if above >= (1.0 - self.tail_q) * total:
                self.tail = (i + 1) / HIST_BINS if i + 1 < HIST_BINS else 1.0
                return
        self.tail = None

    def tail_threshold(self) -> float | None:
        """P(negative) at or above which a text is in the partition's upper tail (``N`` key)."""
        return self.tail

    def _window(self, key: str, wh: int, t: float, hour_start: float) -> tuple[float, float]:
        if wh <= 1:
            start = self.bins.start(t)
            o = float(self.bins.counts.get(key, 0))
            before = max(0.0, hour_start - start) / HOUR
            e = self.e_prev.get(key, 0.0) * min(before, 1.0) + self.e_cur.get(key, 0.0) * (t - hour_start) / HOUR
            return o, e
        w = self._w(wh)
        if not w:
            return 0.0, 0.0
        frac = (t - hour_start) / HOUR
        return self.obs.window(key, w), self.exp.closed_sum(key, w) + self.exp.current(key) * frac

    def _w(self, wh: int) -> int:
        return min((x for x in self.windows if x >= wh), default=self.windows[-1] if self.windows else 0)

    def ratio(self, key: str, wh: int, t: float, hour_start: float, o_street: float, e_street: float) -> float:
        """Leave-one-out common-mode ratio for ``key`` over the trailing ``wh`` hours at ``t``."""
        o, e = self._window(key, wh, t, hour_start)
        o = o - o_street
        e = e - e_street
        r = ((o if o > 0.0 else 0.0) + self.prior) / ((e if e > 0.0 else 0.0) + self.prior)
        return self.lo if r < self.lo else self.hi if r > self.hi else r

    def mood(self) -> float | None:
        """Long-run mean sentiment of the partition's texts (None until it has some history)."""
        return self.mood_z / self.mood_n if self.mood_n >= 100.0 else None

    def mood_window(self, wh: int, t: float, n_street: float, z_street: float) -> tuple[float, float]:
        """(texts, sentiment sum) of all *other* streets over the trailing ``wh`` hours."""
        if wh <= 1:
            self.sbins.start(t)  # rolls out bins older than the hour
            n, z = self.sbins.counts.get("n", 0.0), self.sbins.counts.get("z", 0.0)
        else:
            w = self._w(wh)
            n, z = (self.sent.window("n", w), self.sent.window("z", w)) if w else (0.0, 0.0)
        return max(0.0, n - n_street), z - z_street

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
