"""The hourly series of an alert's detail chart: observed events of the street against a band.

The band is *not* the detection model's own expectation (the models test several windows and
signals; their expectation is one number per alert window). It is a plain, explainable reference
from the street's own history: for each hour shown, ``expected`` is the mean count of the same
hour of day over the previous ``days`` days, and ``low``/``high`` are the 5 % and 95 % quantiles of a
Poisson distribution with that mean. Hours without any earlier data (before the street's first
recorded event in the fetched range) fall back to the alert's own ``expected`` spread over its
window's hours, where the alert covers them, else ``None``.

>>> H = 3600
>>> counts = {h * H: (3 if h % 24 == 9 else 1) for h in range(0, 24 * 14)}
>>> s = band_series(counts, end=24 * 14 * H, days=7)
>>> len(s["hours"]), s["expected"][9], s["expected"][10], s["low"][9], s["high"][9]
(168, 3.0, 1.0, 1.0, 6.0)
>>> s["band_zh"]
'近7日同时段均值 ± 泊松90%区间，非检测模型本身的预期'
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from warning.core.timeutil import iso

HOUR = 3600


def band_zh(days: int) -> str:
    return f"近{days}日同时段均值 ± 泊松90%区间，非检测模型本身的预期"


def _poisson_band(mu: float) -> tuple[float, float]:
    if not mu or mu <= 0 or not math.isfinite(mu):
        return 0.0, 0.0
    from scipy.stats import poisson

    lo, hi = poisson.ppf([0.05, 0.95], mu)
    return float(lo), float(hi)


def band_series(counts: Mapping[int, float], end: float, days: int,
                fallback: Mapping[int, float] | None = None) -> dict[str, Any]:
    """``counts``: hour start (epoch s) → events; shows the ``days*24`` hours before ``end``
    (exclusive, rounded up to an hour). ``fallback``: hour → expected where history has no data."""
    end_h = int(math.ceil(end / HOUR)) * HOUR
    hours = [end_h - (days * 24 - i) * HOUR for i in range(days * 24)]
    known = [h for h, n in counts.items() if n]
    first = min(known) if known else None
    observed, expected, low, high = [], [], [], []
    for h in hours:
        observed.append(int(counts.get(h, 0)))
        prev = [h - k * 24 * HOUR for k in range(1, days + 1)]
        prev = [p for p in prev if first is not None and p >= first]
        if prev:
            mu = sum(counts.get(p, 0) for p in prev) / len(prev)
        elif fallback and h in fallback:
            mu = float(fallback[h])
        else:
            expected.append(None)
            low.append(None)
            high.append(None)
            continue
        lo, hi = _poisson_band(mu)
        expected.append(round(mu, 3))
        low.append(lo)
        high.append(hi)
    return {"hours": [iso(h) for h in hours], "observed": observed, "expected": expected, "low": low,
            "high": high, "band_zh": band_zh(days)}


def alert_series(store: Any, detail: Mapping[str, Any], days: int, now: float) -> dict[str, Any]:
    """The ``series`` of ``GET /api/alerts/{id}`` (runs in a thread: it queries the store)."""
    from warning.core.signed_records import parse_time

    alert = detail["alert"]
    hist = detail.get("history") or []
    ends = [parse_time(x) for x in [alert.get("window_end"), alert.get("ends_at"),
                                    *(r.get("window_end") for r in hist)] if x]
    ends = [e for e in ends if e is not None]
    last = max(ends) if ends else now
    # a little context after the alert, never past the present (when the alert is in the present)
    end = max(last, min(now, last + 6 * HOUR)) if alert.get("status") == "firing" else last + 3 * HOUR
    got = store.street_series(alert["street_code"], end, 2 * days * 24 + 1)
    counts = {int(h): float(n) for h, n in zip(got.get("hours") or [], got.get("observed") or [])}
    fallback: dict[int, float] = {}
    for r in [*hist, alert]:
        ws, we = parse_time(r.get("window_start")), parse_time(r.get("window_end"))
        exp = r.get("expected")
        if ws is None or we is None or not isinstance(exp, (int, float)) or we <= ws:
            continue
        n_h = max(1, int(round((we - ws) / HOUR)))
        for i in range(n_h):
            fallback[int(ws // HOUR * HOUR + i * HOUR)] = float(exp) / n_h
    return band_series(counts, end, days, fallback)
