"""Half-space trees over the window feature vector (optional multivariate detector)."""

from __future__ import annotations

import math
from typing import Any

from river import anomaly

from ._base import VersionedDetector

__all__ = ["WindowHST"]


class WindowHST(VersionedDetector):
    """River's :class:`~river.anomaly.HalfSpaceTrees` over a window's feature vector, with
    online feature scaling.

    Half-space trees need every feature in ``[0, 1]``. Window features (counts, shares, people
    sums) are unbounded and skewed, so each feature is log-compressed when ``log_counts`` is set
    (``log1p`` of non-negative values), standardized by an exponentially weighted mean and
    variance, and squashed with a logistic, ``1 / (1 + exp(-z / squash))``: a value never seen
    before lands near the edge instead of outside the trees' range. The scaler learns after the
    trees, so a point is scored against the past only.

    The score is River's HST score in ``[0, 1]`` (0 during the trees' first window). It ranks
    outliers well but is not a calibrated probability; use it as a configurable extra signal next
    to the count and sentiment models.

    Parameters
    ----------
    n_trees
        Number of half-space trees.
    height
        Height of each tree. State grows as ``n_trees * 2 ** (height + 1)``.
    window_size
        Reference window of the trees (windows of the street).
    halflife
        Memory of the feature scaler, in observations.
    squash
        Logistic width in standard deviations.
    log_counts
        ``log1p`` non-negative features before scaling.
    seed
        Random seed of the trees (the detector is deterministic for a given seed).

    Input ``x``: a dict of numeric features; the first ``x`` fixes the feature set (missing
    features later count as 0).

    Examples
    --------

    >>> import random
    >>> from warning.models import WindowHST
    >>> rng = random.Random(3)
    >>> model = WindowHST(seed=42)
    >>> for _ in range(600):
    ...     calls = rng.gauss(20, 3)
    ...     model.learn_one({"calls": calls, "complaints": calls * 0.3 + rng.gauss(0, 1)})
    >>> normal = model.score_one({"calls": 20, "complaints": 6})
    >>> odd = model.score_one({"calls": 21, "complaints": 25})
    >>> normal < odd
    True

    References
    ----------
    [^1]: Tan, S.C., Ting, K.M. and Liu, T.F. (2011). Fast anomaly detection for streaming data.
    IJCAI.

    """

    VERSION = 1

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 5,
        window_size: int = 168,
        halflife: float = 336.0,
        squash: float = 2.0,
        log_counts: bool = True,
        seed: int = 42,
    ):
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.halflife = halflife
        self.squash = squash
        self.log_counts = log_counts
        self.seed = seed
        self._alpha = 1.0 - 0.5 ** (1.0 / halflife)
        self.hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.features: list[str] | None = None
        self.n = 0
        self.mean: dict[str, float] = {}
        self.var: dict[str, float] = {}

    def _raw(self, x: dict[str, Any]) -> dict[str, float]:
        if self.features is None:
            feats = sorted(k for k, v in x.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        else:
            feats = self.features
        out = {}
        for f in feats:
            v = float(x.get(f, 0.0) or 0.0)
            if self.log_counts and v >= 0.0:
                v = math.log1p(v)
            out[f] = v
        return out

    def _scaled(self, raw: dict[str, float]) -> dict[str, float]:
        out = {}
        for f, v in raw.items():
            m = self.mean.get(f, v)
            var = self.var.get(f, 0.0)
            sd = math.sqrt(var) if var > 0.0 else 1.0
            z = (v - m) / sd / self.squash
            z = max(min(z, 30.0), -30.0)
            out[f] = 1.0 / (1.0 + math.exp(-z))
        return out

    def score_one(self, x: dict[str, Any]) -> float:
        if self.features is None:
            return 0.0
        return float(self.hst.score_one(self._scaled(self._raw(x))))

    def learn_one(self, x: dict[str, Any]) -> None:
        raw = self._raw(x)
        if self.features is None:
            self.features = list(raw)
        self.hst.learn_one(self._scaled(raw))
        self.n += 1
        a = max(self._alpha, 1.0 / self.n)
        for f, v in raw.items():
            m = self.mean.get(f, v)
            diff = v - m
            self.mean[f] = m + a * diff
            self.var[f] = (1.0 - a) * (self.var.get(f, 0.0) + a * diff * diff)
