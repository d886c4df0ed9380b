"""The data of the monthly report a 综治中心 files (``warning report monthly``).

Alerts of a month are those whose ``starts_at`` falls in the calendar month in the given UTC
offset (Beijing +08:00 by default). Counts by level use each alert's **highest** level
(``max_level``: an alert that escalated blue → orange counts as orange). Verdicts are the alerts'
current ones (latest *trusted* 确认/误报 feedback, whenever it was given); precision =
confirmed / (confirmed + false_alarm). Time to handle = ``handled_at`` (the first trusted 已处置)
− ``starts_at``, in hours.

>>> month_bounds("2025-03")
(1740758400.0, 1743436800.0)
>>> month_bounds("2025-12", "+00:00")[1] - month_bounds("2025-12", "+00:00")[0] == 31 * 86400
True
>>> month_bounds("2025-13")
Traceback (most recent call last):
...
ValueError: month: expected YYYY-MM, got '2025-13'
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from warning.core.signals import LEVEL_NAMES, LEVEL_RANK, signal_zh
from warning.history import schema as S

TOP_STREETS = 10


def parse_offset(tz: str) -> timezone:
    """A fixed UTC offset (``+08:00``) as a timezone.

    >>> parse_offset("+08:00"), parse_offset("-03:30").utcoffset(None).total_seconds()
    (datetime.timezone(datetime.timedelta(seconds=28800)), -12600.0)
    """
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", tz)
    if not m:
        raise ValueError(f"tz: expected an offset like +08:00, got {tz!r}")
    sign = 1 if m.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def month_bounds(month: str, tz: str = "+08:00") -> tuple[float, float]:
    """[start, end) of the month in epoch seconds."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month: expected YYYY-MM, got {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    z = parse_offset(tz)
    start = datetime(y, mo, 1, tzinfo=z)
    end = datetime(y + (mo == 12), 1 if mo == 12 else mo + 1, 1, tzinfo=z)
    return start.timestamp(), end.timestamp()


def _precision(c: int, f: int) -> float | None:
    return c / (c + f) if c + f else None


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _quantile(xs: list[float], q: float) -> float | None:
    """Nearest-rank quantile."""
    if not xs:
        return None
    s = sorted(xs)
    import math

    return s[max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))]


def monthly_data(store: Any, month: str, tz: str = "+08:00", top: int = TOP_STREETS) -> dict[str, Any]:
    """Everything the monthly report shows, as plain JSON-able data (see the module docstring)."""
    since, until = month_bounds(month, tz)
    z = parse_offset(tz)
    a = S.alerts.c
    q = (sa.select(a.alert_id, a.street_code, a.street_name, a.district, a.signal, a.max_level, a.status,
                   a.starts_at_s, a.verdict, a.handled_at_s)
         .where(a.starts_at_s >= since, a.starts_at_s < until).order_by(a.starts_at_s, a.alert_id))
    f = S.feedback.c
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
        fq = (sa.select(f.trusted, sa.func.count()).select_from(S.feedback.join(S.alerts, a.alert_id == f.alert_id))
              .where(a.starts_at_s >= since, a.starts_at_s < until).group_by(f.trusted))
        fb_counts = {bool(t): int(n) for t, n in conn.execute(fq)}

    by_level = Counter(r["max_level"] for r in rows)
    verdicts = Counter(r["verdict"] for r in rows if r["verdict"])
    groups: dict[str, dict[str, dict[str, Any]]] = {"district": {}, "signal": {}, "street_code": {}}
    for r in rows:
        for key, g in groups.items():
            e = g.setdefault(r[key], {"n": 0, "confirmed": 0, "false_alarm": 0, "by_level": Counter(),
                                      "max_level": r["max_level"], "first": r})
            e["n"] += 1
            e["by_level"][r["max_level"]] += 1
            if r["verdict"]:
                e[r["verdict"]] += 1
            if LEVEL_RANK[r["max_level"]] > LEVEL_RANK[e["max_level"]]:
                e["max_level"] = r["max_level"]

    def common(e: dict[str, Any]) -> dict[str, Any]:
        return {"n": e["n"], "by_level": {lv: e["by_level"].get(lv, 0) for lv in LEVEL_NAMES},
                "confirmed": e["confirmed"], "false_alarm": e["false_alarm"],
                "precision": _precision(e["confirmed"], e["false_alarm"])}

    def order(item: tuple[str, dict[str, Any]]) -> tuple[int, int, str]:
        return (-item[1]["n"], -LEVEL_RANK[item[1]["max_level"]], item[0])

    codes: dict[str, Counter[str]] = defaultdict(Counter)  # district → its streets' 6-digit prefixes
    for r in rows:
        if len(r["street_code"]) >= 6 and r["street_code"][:6].isdigit():
            codes[r["district"]][r["street_code"][:6]] += 1
    by_district = [{"district": k, "district_code": codes[k].most_common(1)[0][0] if codes[k] else None,
                    **common(e)} for k, e in sorted(groups["district"].items(), key=order)]
    by_signal = [{"signal": k, "signal_zh": signal_zh(k), **common(e)}
                 for k, e in sorted(groups["signal"].items(), key=order)]
    top_streets = [{"street_code": k, "street_name": e["first"]["street_name"], "district": e["first"]["district"],
                    "max_level": e["max_level"], **common(e)}
                   for k, e in sorted(groups["street_code"].items(), key=order)[:top]]

    handle_h = [(r["handled_at_s"] - r["starts_at_s"]) / 3600.0 for r in rows if r["handled_at_s"] is not None]
    days: dict[str, int] = defaultdict(int)
    d = datetime.fromtimestamp(since, z)
    while d.timestamp() < until:
        days[d.date().isoformat()] = 0
        d += timedelta(days=1)
    for r in rows:
        days[datetime.fromtimestamp(r["starts_at_s"], z).date().isoformat()] += 1
    c, fa = verdicts.get("confirmed", 0), verdicts.get("false_alarm", 0)
    return {
        "month": month, "tz": tz,
        "since": datetime.fromtimestamp(since, z).isoformat(), "until": datetime.fromtimestamp(until, z).isoformat(),
        "n_alerts": len(rows),
        "n_streets": len(groups["street_code"]),
        "by_level": {lv: by_level.get(lv, 0) for lv in LEVEL_NAMES},
        "by_district": by_district,
        "by_signal": by_signal,
        "verdicts": {"confirmed": c, "false_alarm": fa, "none": len(rows) - c - fa},
        "precision": _precision(c, fa),
        "handled": {"n": len(handle_h), "median_hours": _median(handle_h), "p90_hours": _quantile(handle_h, 0.9)},
        "top_streets": top_streets,
        "by_day": [{"date": k, "n": v} for k, v in sorted(days.items())],
        "feedback": {"trusted": fb_counts.get(True, 0), "untrusted": fb_counts.get(False, 0)},
    }
