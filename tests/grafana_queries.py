"""Run a Grafana dashboard's PromQL the way Grafana does: its panels' queries, with Grafana's
variables substituted and Grafana's query parameters, against a real Prometheus.

What Grafana (10/11, ``pkg/promlib``) does for a Prometheus query, reproduced here:

* ``$__interval``: the time range divided by the panel's max data points (its width in pixels),
  rounded to a "nice" value (:func:`round_interval`), at least the data source's ``timeInterval``
  (the scrape interval); never below range / 11000. It is also the step of a range query.
* ``$__rate_interval``: ``max($__interval + scrape interval, 4 × scrape interval)``, written as a Go
  duration (``1m0s``). ``$__range``: the range in whole seconds (``3600s``).
* Range queries: ``/api/v1/query_range`` with start and end rounded down to a multiple of the
  step. Instant queries: ``/api/v1/query`` at the end of the range (not rounded).
* Dashboard variables: their current value; "All" with an ``allValue`` is that value verbatim,
  otherwise values are regex-escaped and joined as ``(a|b)`` for multi-value variables.

>>> round_interval(21.6), round_interval(3.75), round_interval(11.25), round_interval(0.33)
(20.0, 5.0, 10.0, 0.2)
>>> go_duration(6.0), go_duration(60.0), go_duration(75.0), go_duration(3600.0)
('6s', '1m0s', '1m15s', '1h0m0s')
>>> q = PanelQuery(1, "p", "A", 'sum(rate(x{d=~"$district"}[$__rate_interval])) / $__range', False, 640)
>>> r = interpolate(q, now=1_000_003.0, range_s=3600, scrape_s=1.0, variables={"district": ".*"})
>>> r.expr, r.step, r.start, r.end
('sum(rate(x{d=~".*"}[6s])) / 3600s', 5.0, 996400.0, 1000000.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

#: the width the dashboard is assumed to be shown at (a 1920 px screen: 80 px per grid column)
SCREEN_PX = 1920
#: Grafana never asks for more than this many points per series ("safe resolution")
SAFE_RESOLUTION = 11000

# Grafana's interval rounding (gtime.RoundInterval): (upper bound, rounded value), seconds
_ROUND = [
    (0.010, 0.001), (0.015, 0.010), (0.035, 0.020), (0.075, 0.050), (0.150, 0.100), (0.350, 0.200),
    (0.750, 0.500), (1.5, 1.0), (3.5, 2.0), (7.5, 5.0), (12.5, 10.0), (17.5, 15.0), (25.0, 20.0),
    (45.0, 30.0), (90.0, 60.0), (210.0, 120.0), (450.0, 300.0), (750.0, 600.0), (1050.0, 900.0),
    (1500.0, 1200.0), (2700.0, 1800.0), (5400.0, 3600.0), (9000.0, 7200.0), (16200.0, 10800.0),
    (32400.0, 21600.0), (86400.0, 43200.0), (172800.0, 86400.0), (604800.0, 86400.0),
    (1814400.0, 604800.0), (3628800.0, 2592000.0),
]

_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")
_ZERO_FALLBACK = re.compile(r"^(?P<left>.*\S)\s+or\s+vector\(0\)\s*$", re.S)


def round_interval(seconds: float) -> float:
    """Grafana's "nice" interval for a raw one (seconds in, seconds out)."""
    for bound, value in _ROUND:
        if seconds <= bound:
            return value
    return 31536000.0


def format_interval(seconds: float) -> str:
    """Grafana's ``$__interval`` text (gtime.FormatInterval): the largest whole unit.

    >>> format_interval(30), format_interval(90), format_interval(0.2)
    ('30s', '1m', '200ms')
    """
    ms = int(round(seconds * 1000))
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a whole number of milliseconds (``$__rate_interval``)."""
    ms = int(round(seconds * 1000))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    h, rest = divmod(ms, 3600000)
    m, rest = divmod(rest, 60000)
    s = f"{rest // 1000}" + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "") + "s"
    if h:
        return f"{h}h{m}m{s}"
    if m:
        return f"{m}m{s}"
    return s


@dataclass(frozen=True)
class PanelQuery:
    """One query target of a panel."""

    panel_id: int
    title: str
    ref: str
    expr: str
    instant: bool
    width_px: int

    @property
    def name(self) -> str:
        return f"{self.title} [#{self.panel_id} {self.ref}]"


@dataclass(frozen=True)
class Resolved:
    """A query as Grafana sends it: the PromQL, and the range query's step/start/end (instant: at ``end``)."""

    query: PanelQuery
    expr: str
    step: float
    start: float
    end: float
    instant: bool


def panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included (rows themselves too)."""
    out: list[dict[str, Any]] = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def panel_queries(dashboard: Mapping[str, Any], screen_px: int = SCREEN_PX) -> list[PanelQuery]:
    """The PromQL targets of every panel (hidden targets left out), with the panel's width in pixels."""
    out: list[PanelQuery] = []
    for p in panels(dashboard):
        if p.get("type") == "row":
            continue
        width = max(1, round(p["gridPos"]["w"] * screen_px / 24))
        for t in p.get("targets", []):
            if t.get("expr") and not t.get("hide"):
                # neither instant nor range set: Grafana runs a range query (older dashboards)
                out.append(PanelQuery(p["id"], p["title"], t.get("refId", "A"), t["expr"],
                                      bool(t.get("instant")) and not t.get("range"), width))
    return out


def default_variables(dashboard: Mapping[str, Any], options: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    """Each query/custom variable's value as Grafana interpolates it into PromQL on first load
    (its saved ``current``); ``options``: the values Grafana would have found (for "All" without
    ``allValue``).

    >>> default_variables({"templating": {"list": [
    ...     {"name": "d", "type": "query", "includeAll": True, "allValue": ".*", "current": {"value": ["$__all"]}},
    ...     {"name": "s", "type": "custom", "current": {"value": ["a.b", "c"]}}]}})
    {'d': '.*', 's': '(a\\\\.b|c)'}
    """
    out: dict[str, str] = {}
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") not in ("query", "custom", "constant", "textbox", "interval"):
            continue
        cur = v.get("current", {}).get("value", [])
        values = cur if isinstance(cur, list) else [cur]
        if "$__all" in values:
            if v.get("allValue"):
                out[v["name"]] = v["allValue"]
                continue
            values = list((options or {}).get(v["name"], []))
        esc = [re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\1", str(x)) for x in values]
        out[v["name"]] = esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"
    return out


def interpolate(q: PanelQuery, *, now: float, range_s: float, scrape_s: float,
                variables: Mapping[str, str]) -> Resolved:
    """``q`` as Grafana would run it for the time range ``[now - range_s, now]``, with the data
    source's ``timeInterval`` = ``scrape_s`` and the dashboard variables' values ``variables``."""
    interval = max(round_interval(range_s / q.width_px), scrape_s)  # frontend: intervalMs
    step = max(interval, round_interval(range_s / SAFE_RESOLUTION))
    rate = max(interval + scrape_s, 4 * scrape_s)
    expr = q.expr
    for name, value in (("__interval_ms", str(int(step * 1000))), ("__interval", format_interval(step)),
                        ("__range_ms", str(int(range_s * 1000))), ("__range_s", str(int(round(range_s)))),
                        ("__range", f"{int(round(range_s))}s"),
                        ("__rate_interval_ms", str(int(rate * 1000))), ("__rate_interval", go_duration(rate))):
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)

    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name not in variables:
            raise KeyError(f"{q.name}: unknown variable ${name} in {q.expr!r}")
        return variables[name]

    expr = _VAR.sub(var, expr)
    start = math.floor((now - range_s) / step) * step
    end = now if q.instant else math.floor(now / step) * step
    return Resolved(q, expr, step, start, end, q.instant)


def without_zero_fallback(expr: str) -> str | None:
    """The query without a trailing ``or vector(0)`` (which makes any query return data), or None.

    >>> without_zero_fallback('sum(increase(x[1h])) or vector(0)')
    'sum(increase(x[1h]))'
    >>> without_zero_fallback('sum(x)') is None
    True
    """
    m = _ZERO_FALLBACK.match(expr)
    return m.group("left") if m else None


def metric_names(expr: str) -> set[str]:
    """The ``warning_*`` metric and recording-rule names an expression reads.

    >>> sorted(metric_names('sum(rate(warning_a_total{x="1"}[5m])) / district:warning_b:count'))
    ['district:warning_b:count', 'warning_a_total']
    """
    return set(re.findall(r"\b(?:[a-z_]+:)?warning_[a-z_]+(?::[a-z0-9_]+)?", expr))


def variable_filters(expr: str) -> set[tuple[str, str, str]]:
    """(metric, label, variable) of every ``label=~"$variable"`` matcher in a selector.

    >>> sorted(variable_filters('rate(m_total{a="x",district=~"$district"}[5m]) + n{source=~"${source}"}'))
    [('m_total', 'district', 'district'), ('n', 'source', 'source')]
    """
    out: set[tuple[str, str, str]] = set()
    for metric, body in re.findall(r"([a-zA-Z_:][\w:]*)\{((?:[^{}]|\$\{\w+(?::\w+)?\})*)\}", expr):
        for label, name in re.findall(r'(\w+)\s*=~\s*"\$\{?(\w+)\}?"', body):
            out.add((metric, label, name))
    return out


def run(prom: Any, r: Resolved) -> list[dict[str, Any]]:
    """The result list of the query (``prom``: tests/prom_helpers.Prometheus)."""
    if r.instant:
        data = prom.api("query", {"query": r.expr, "time": r.end})
    else:
        data = prom.api("query_range", {"query": r.expr, "start": r.start, "end": r.end, "step": r.step})
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    return data["result"]


def has_data(result: Iterable[dict[str, Any]]) -> bool:
    """At least one series with at least one sample (a scalar counts as one)."""
    for s in result:
        if "value" in s or s.get("values"):
            return True
    return False


def poll_until_data(prom: Any, pending: dict[str, Any], *, variables: Mapping[str, str], range_s: float,
                    timeout: float, every: float, what: str) -> int:
    """Poll until every check in ``pending`` returns data; the number of checks. A check is a
    :class:`PanelQuery` (interpolated as Grafana would now), a PromQL string (instant query) or
    ``("label", label, metric)`` (the values a ``label_values`` variable lists over the range).
    On timeout an ``AssertionError`` names each check still without data, as it was sent."""
    import time

    pending = dict(pending)
    total = len(pending)
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        for name, item in list(pending.items()):
            if isinstance(item, tuple):  # /api/v1/label/<label>/values?match[]=<metric> over the range
                ok = bool(prom.api(f"label/{item[1]}/values", {"match[]": item[2], "start": now - range_s, "end": now}))
                sent = f"label_values({item[2]}, {item[1]})"
            elif isinstance(item, str):
                ok, sent = bool(prom.query(item)), item
            else:
                r = interpolate(item, now=now, range_s=range_s, scrape_s=1.0, variables=variables)
                ok = has_data(run(prom, r))
                sent = f"{'instant' if r.instant else f'range step {r.step:g}s'}: {r.expr}"
            if ok:
                del pending[name]
            else:
                last[name] = sent
        if not pending:
            return total
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} of {total} {what} returned no data within {timeout:.0f} s:\n"
                                 + "\n".join(f"  {n}: {last[n]}" for n in pending))
        time.sleep(every)
