"""Online detectors with River's protocol (``learn_one(x)`` / ``score_one(x)``).

Pure, deterministic and free of I/O: the same objects run in the Faust workers and in backtests,
and pickle into per-street state (each carries a ``VERSION``; see :mod:`._base`).

============================  ===========================================================  ==========
detector                      what it watches                                              ``x`` keys
============================  ===========================================================  ==========
:class:`SeasonalCount`        a window's event count vs its hour-of-week expectation       count, t
                              (the pipeline's model: see :mod:`.registry`)
:class:`UnivariateSurprise`   any real-valued stream (the ``default`` series scorer, used  value, t
                              by the NAB-like benchmark in ``bench/detectors.py``)
============================  ===========================================================  ==========

The pipeline's signals are the detector modules listed in :mod:`.registry`, built on
:class:`SeasonalCount` and the tests in :mod:`.significance`.

Every ``score_one`` returns a score in ``[0, 1)``, but the scales differ:

* :class:`SeasonalCount` (and the earlier :class:`~.univariate.ForecastSurprise`): ``s / (s +
  scale)`` of an evidence ``s = -log10 p``, so scores stay resolvable at the top (no plateau at
  1.0) and ``log10p(x)`` gives the evidence itself.
* :class:`UnivariateSurprise` (the ``default``, :class:`~.contextual.ContextNovelty`): not a
  p-value. The novelty ``m`` of the point's value contexts (``1 / (1 + count)``, averaged) scores
  ``m ** 2``, scaled down by how often the stream already reached that novelty; a record shift of
  a fast average from a slow one scores a fixed ``shift_score`` (0.5); a rest period after each
  alarm scores 0. Its scores rank points for an alarm threshold (about 0.32 on NAB); they are not
  probabilities and it has no ``log10p``.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from ._base import IncompatibleStateError, VersionedDetector, state_size
from ._tails import LN10, log10p_from_score, log_nbinom_sf, nbinom_quantile, score_from_log10p
from .counts import SeasonalCount, bucket_index
from .univariate import TailCalibrator, UnivariateSurprise

__all__ = [
    "IncompatibleStateError",
    "SeasonalCount",
    "TailCalibrator",
    "UnivariateSurprise",
    "VersionedDetector",
    "DETECTORS",
    "LN10",
    "bucket_index",
    "log_nbinom_sf",
    "nbinom_quantile",
    "log10p_from_score",
    "score_from_log10p",
    "score_series",
    "state_size",
    "to_epoch_seconds",
]

#: Names accepted by :func:`score_series` (aliases included).
DETECTORS = ("default", "surprise", "counts")

_EPOCH_NAIVE = datetime(1970, 1, 1)


def _one_epoch(ts: Any, utc_offset: int) -> float | None:
    if ts is None:
        return None
    if isinstance(ts, bool):
        raise TypeError(f"not a timestamp: {ts!r}")
    if isinstance(ts, (int, float)):
        if not math.isfinite(ts):
            return None
        return float(ts) / 1000.0 if abs(ts) > 1e11 else float(ts)  # epoch milliseconds
    if isinstance(ts, str):
        s = ts.strip()
        if not s:
            return None
        try:
            return float(s)
        except ValueError:
            pass
        ts = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    if hasattr(ts, "to_pydatetime"):  # pandas Timestamp
        ts = ts.to_pydatetime()
    if type(ts).__name__ == "datetime64":  # numpy scalar
        import numpy as np

        return float(np.datetime64(ts, "ns").astype("int64")) / 1e9 - utc_offset
    if isinstance(ts, datetime):
        if ts.tzinfo is None:  # naive: local wall time
            return (ts - _EPOCH_NAIVE).total_seconds() - utc_offset
        return ts.timestamp()
    if isinstance(ts, date):
        return (datetime(ts.year, ts.month, ts.day) - _EPOCH_NAIVE).total_seconds() - utc_offset
    if hasattr(ts, "item"):  # numpy number
        return float(ts.item())
    raise TypeError(f"unsupported timestamp type: {type(ts).__name__}")


def to_epoch_seconds(timestamps: Iterable[Any] | None, utc_offset: int = 8 * 3600) -> list[float | None] | None:
    """Timestamps as epoch seconds: numbers pass through (values above 1e11 are taken as epoch
    milliseconds), ISO strings and datetimes are parsed.

    Naive datetimes and ISO strings without an offset are local wall time (``utc_offset``), so
    their time-of-day is kept as written.

    >>> to_epoch_seconds(["2025-01-01T08:00:00+08:00", "2025-01-01 08:00:00", 1735689600])
    [1735689600.0, 1735689600.0, 1735689600.0]
    """
    if timestamps is None:
        return None
    dtype = getattr(timestamps, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") == "M" and getattr(dtype, "tz", None) is None:
        # numpy datetime64 array (or naive pandas datetime column): local wall time
        import numpy as np

        arr = np.asarray(timestamps).astype("datetime64[ns]")
        return (arr.astype("int64") / 1e9 - utc_offset).tolist()
    return [_one_epoch(ts, utc_offset) for ts in timestamps]


def _make(name: str, params: dict[str, Any]) -> Any:
    if name in ("default", "surprise"):
        return UnivariateSurprise(**params)
    if name == "counts":
        return SeasonalCount(**params)
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def score_series(
    name: str,
    timestamps: Sequence[Any] | None,
    values: Sequence[float],
    **params: Any,
) -> list[float]:
    """Score a univariate series in one pass: each point is scored, then learned.

    The score of point ``i`` depends only on points ``0..i`` (no look-ahead); scores are in
    ``[0, 1)``; missing or non-finite values score 0 and are not learned. ``timestamps`` may be
    epoch seconds, datetimes (naive = local wall time), ISO strings, a numpy ``datetime64``
    array, or ``None``.

    Detectors (``name``):

    * ``"default"`` (alias ``"surprise"``): :class:`UnivariateSurprise`, for any real-valued
      stream (the one to use on a generic benchmark).
    * ``"counts"``: :class:`SeasonalCount` with ``x = {"count": value, "t": t}`` (values below 0
      count as 0; fractional values use the continuous tail).

    ``params`` go to the detector's constructor.

    >>> import math
    >>> values = [10 + math.sin(i / 5) for i in range(300)]
    >>> values[250] = 25
    >>> scores = score_series("default", None, values)
    >>> max(range(300), key=scores.__getitem__), len(scores)
    (250, 300)
    """
    values = list(values)
    n = len(values)
    utc_offset = int(params.get("utc_offset", 8 * 3600))
    ts = to_epoch_seconds(timestamps, utc_offset)
    if ts is not None and len(ts) != n:
        raise ValueError(f"{len(ts)} timestamps for {n} values")
    vals = [float(v) if v is not None else math.nan for v in values]
    ok = [math.isfinite(v) for v in vals]
    out = [0.0] * n

    if name == "counts":
        model = SeasonalCount(**params)
        idx = [i for i in range(n) if ok[i]]
        if ts is not None:
            bs, off = model.bucket_seconds, model.utc_offset + 3 * 86400
            prev = 0
            buckets = []
            for i in idx:
                t = ts[i]
                b = int((t + off) // bs) if t is not None else prev + 1
                buckets.append(b)
                prev = b
        else:
            buckets = idx
        counts = [vals[i] if vals[i] > 0.0 else 0.0 for i in idx]
        for i, s in zip(idx, model.score_learn_many(buckets, counts)):
            out[i] = s
        return out

    model = _make(name, params)
    for i in range(n):
        if not ok[i]:
            continue
        x: dict[str, Any] = {"value": vals[i]}
        if ts is not None and ts[i] is not None:
            x["t"] = ts[i]
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out
