"""``report.html``: one self-contained page of a labelled backtest (and its sweep).

Written by ``warning backtest … --labels F`` next to ``report.json``. One file, nothing fetched:
inline CSS, charts as inline SVG (their text is drawn by the browser, so Chinese needs no font
on the machine that wrote it), the sweep plot as a base64 PNG, no script; a Content-Security-
Policy forbids every fetch. Chinese labels, English where engineers need it.

Sections: summary metrics (recall, precision, false alerts per street per 30 days, median lead)
and by incident kind; firing alerts per day (by level) and per district; the sweep (table and plot)
when one ran; one timeline per labelled incident — the street's hourly observed events against the
detectors' expected events (when the run watched the street, :attr:`Engine.series`; otherwise
observed counts only, or none), its alerts coloured by level, the labelled window and the peak.

All text is HTML-escaped. Alerts carry only masked texts; the page shows their summaries, never
``sample_texts`` nor anything of the raw records.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from warning.core.detect_config import LEVEL_RANK
from warning.core.timeutil import parse_time

HOUR = 3600.0
DAY = 86400.0
PRE_WINDOW_S = 24 * HOUR  # an alert this long before an incident's start still catches it (report.py)
LEVELS = ("blue", "yellow", "orange", "red")
LEVEL_COLORS = {"blue": "#1f6fd1", "yellow": "#e8b400", "orange": "#f07c00", "red": "#d42a2a"}
LEVEL_ZH = {"blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}
#: a timeline shows at most this much time (long build-ups: from before the start on)
MAX_SPAN_S = 10 * DAY

#: observed/expected per hour of one street: (hour start, observed, expected or None)
Series = Sequence[tuple[float, float, float | None]]


def h(x: Any) -> str:
    """HTML-escaped text of anything (None → "—").

    >>> h('<a href="x">&</a>'), h(None)
    ('&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;', '—')
    """
    return "—" if x is None else html.escape(str(x), quote=True)


def _num(x: Any, pct: bool = False, unit: str = "") -> str:
    if x is None:
        return "—"
    if pct:
        return f"{x * 100:.1f}%"
    if isinstance(x, float):
        return f"{x:g}{unit}"
    return f"{x}{unit}"


def _t(s: str) -> float:
    return parse_time(s).timestamp()


# ---------------------------------------------------------------------- observed counts (fallback)
def hourly_observed(event_lines: Iterable[bytes], streets: set[str]) -> dict[str, list[tuple[float, float, None]]]:
    """Hourly counts of the enriched events (interface 1's JSONL) of ``streets`` — the observed
    series when the run could not watch the streets (no expected then)."""
    import msgspec

    class _Slim(msgspec.Struct):
        key: str
        ts: float

    dec = msgspec.json.Decoder(_Slim)
    counts: dict[str, dict[float, int]] = {}
    for line in event_lines:
        ev = dec.decode(line)
        if ev.key in streets:
            hour = math.floor(ev.ts / HOUR) * HOUR
            c = counts.setdefault(ev.key, {})
            c[hour] = c.get(hour, 0) + 1
    return {k: [(hr, float(n), None) for hr, n in sorted(v.items())] for k, v in counts.items()}


# ---------------------------------------------------------------------- SVG pieces
def _nice_max(v: float) -> float:
    """A round axis maximum ≥ v (1, 2, 5 × 10^k)."""
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * e >= v:
            return float(m * e)
    return float(10 * e)


def timeline_svg(series: Series, alerts: Sequence[Mapping[str, Any]], start: float, end: float, peak: float,
                 lo: float, hi: float, tz: tzinfo, width: int = 960, height: int = 240) -> str:
    """One incident's timeline: observed events per hour (bars), expected (line), the catch window
    (``start`` − 24 h … ``start``, light), the labelled window (``start`` … ``end``), the peak
    (dashed), and firing alerts as level-coloured markers (hover: level, signal, time)."""
    ml, mr, mt, mb = 46, 14, 30, 40
    pw, ph = width - ml - mr, height - mt - mb
    span = max(hi - lo, HOUR)

    def x(t: float) -> float:
        return ml + (min(max(t, lo), hi) - lo) / span * pw

    pts = [(t, o, e) for t, o, e in series if lo <= t < hi]
    ymax = _nice_max(max([o for _, o, _ in pts] + [e for _, _, e in pts if e is not None] + [1.0]) * 1.05)

    def y(v: float) -> float:
        return mt + ph - v / ymax * ph

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="事件时间线 incident timeline">']
    # windows
    out.append(f'<rect x="{x(start - PRE_WINDOW_S):.1f}" y="{mt}" width="{x(start) - x(start - PRE_WINDOW_S):.1f}" '
               f'height="{ph}" fill="#fdf0d5"><title>提前24小时可计入 catch window: start − 24 h</title></rect>')
    out.append(f'<rect x="{x(start):.1f}" y="{mt}" width="{max(x(end) - x(start), 1.5):.1f}" height="{ph}" '
               f'fill="#f9d3cf"><title>标注窗口 labelled window</title></rect>')
    # grid + y axis
    for frac in (0.0, 0.5, 1.0):
        v = ymax * frac
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{ml - 5}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{_num(round(v, 2))}</text>')
    # x ticks: local midnights (every 6 h when the span is short)
    step = DAY if span > 2.5 * DAY else 6 * HOUR
    first = datetime.fromtimestamp(lo, tz).replace(minute=0, second=0, microsecond=0)
    t0 = first.timestamp()
    while (datetime.fromtimestamp(t0, tz).hour % (24 if step == DAY else 6)) != 0:
        t0 += HOUR
    tt = t0
    while tt <= hi:
        d = datetime.fromtimestamp(tt, tz)
        lab = d.strftime("%m-%d") if d.hour == 0 else d.strftime("%H:00")
        out.append(f'<line x1="{x(tt):.1f}" x2="{x(tt):.1f}" y1="{mt + ph}" y2="{mt + ph + 4}" stroke="#888"/>')
        out.append(f'<text x="{x(tt):.1f}" y="{mt + ph + 16}" text-anchor="middle" class="tick">{h(lab)}</text>')
        tt += step
    # observed bars
    bw = max(pw * HOUR / span - 1.0, 0.8)
    for t, o, _ in pts:
        if o > 0:
            out.append(f'<rect x="{x(t):.1f}" y="{y(o):.1f}" width="{bw:.1f}" height="{y(0) - y(o):.1f}" fill="#7f9cc4">'
                       f'<title>{h(datetime.fromtimestamp(t, tz).strftime("%m-%d %H:00"))} 观测 observed {_num(o)}</title></rect>')
    # expected line
    exp = [(t, e) for t, _, e in pts if e is not None]
    if exp:
        path = " ".join(f"{x(t + HOUR / 2):.1f},{y(e):.1f}" for t, e in exp)
        out.append(f'<polyline points="{path}" fill="none" stroke="#222" stroke-width="1.6" stroke-dasharray="5 3">'
                   f'<title>期望 expected</title></polyline>')
    # peak
    out.append(f'<line x1="{x(peak):.1f}" x2="{x(peak):.1f}" y1="{mt}" y2="{mt + ph}" stroke="#b00000" '
               f'stroke-width="1.5" stroke-dasharray="3 3"/>')
    out.append(f'<text x="{x(peak) + 3:.1f}" y="{mt + 11}" class="tick" fill="#b00000">峰值 peak</text>')
    # alerts (firing), level colours, stacked when close
    placed: list[tuple[float, int]] = []
    for a in sorted(alerts, key=lambda a: (_t(a["starts_at"]), -LEVEL_RANK.get(a["level"], 0))):
        ta = _t(a["starts_at"])
        if not (lo <= ta <= hi):
            continue
        xa = x(ta)
        row = sum(1 for px, _ in placed if abs(px - xa) < 9)
        placed.append((xa, row))
        ya = mt - 8  # one row above the plot; alerts close together are offset sideways
        xa += (row % 4) * 4
        c = LEVEL_COLORS.get(a["level"], "#555")
        tip = (f"{LEVEL_ZH.get(a['level'], '')}色 {a['level']} · {a.get('signal', '')} · "
               f"{datetime.fromtimestamp(ta, tz).strftime('%m-%d %H:%M')}")
        out.append(f'<path d="M{xa - 5:.1f},{ya - 6:.1f} L{xa + 5:.1f},{ya - 6:.1f} L{xa:.1f},{ya + 3:.1f} Z" fill="{c}" '
                   f'stroke="#333" stroke-width="0.6"><title>{h(tip)}</title></path>')
        out.append(f'<line x1="{xa:.1f}" x2="{xa:.1f}" y1="{ya + 3:.1f}" y2="{mt + ph}" stroke="{c}" stroke-width="1" '
                   f'opacity="0.55"/>')
    out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}" stroke="#888"/>')
    out.append(f'<text x="{ml}" y="{height - 6}" class="tick">每小时事件数 events per hour (all feeds) · '
               f'时间为 {h(datetime.fromtimestamp(lo, tz).strftime("UTC%z"))}</text>')
    out.append("</svg>")
    return "".join(out)


def per_day_svg(alerts: Sequence[Mapping[str, Any]], period: tuple[str, str] | None = None, width: int = 960,
                height: int = 220) -> str:
    """Firing alerts per day (the alert's own local date), stacked by level; ``period`` (first and
    last date, ``YYYY-MM-DD``) widens the axis to the whole run."""
    per: dict[str, dict[str, int]] = {}
    for a in alerts:
        if a.get("status") == "firing":
            d = per.setdefault(a["starts_at"][:10], {})
            d[a["level"]] = d.get(a["level"], 0) + 1
    if not per:
        return '<p class="muted">无预警 no firing alerts</p>'
    first = datetime.fromisoformat(min([*per, *(period[:1] if period else ())]))
    last = datetime.fromisoformat(max([*per, *(period[1:] if period else ())]))
    days = [(first + timedelta(days=i)).strftime("%Y-%m-%d") for i in range((last - first).days + 1)]
    ml, mr, mt, mb = 40, 10, 10, 34
    pw, ph = width - ml - mr, height - mt - mb
    ymax = _nice_max(max(sum(v.values()) for v in per.values()))
    bw = min(pw / len(days), 48.0)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="每日预警 alerts per day">']
    for frac in (0.0, 0.5, 1.0):
        yy = mt + ph - frac * ph
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 5}" y="{yy + 4:.1f}" text-anchor="end" class="tick">{_num(round(ymax * frac, 1))}</text>')
    every = max(1, math.ceil(len(days) / 14))
    for i, d in enumerate(days):
        base = 0
        for lv in LEVELS:
            n = per.get(d, {}).get(lv, 0)
            if n:
                y1 = mt + ph - (base + n) / ymax * ph
                out.append(f'<rect x="{ml + i * bw + 0.5:.1f}" y="{y1:.1f}" width="{max(bw - 1, 0.6):.1f}" '
                           f'height="{n / ymax * ph:.1f}" fill="{LEVEL_COLORS[lv]}"><title>{h(d)} '
                           f'{LEVEL_ZH[lv]}色 {lv}: {n}</title></rect>')
                base += n
        if i % every == 0:
            out.append(f'<text x="{ml + (i + 0.5) * bw:.1f}" y="{mt + ph + 14}" text-anchor="middle" class="tick">'
                       f'{h(d[5:])}</text>')
    out.append(f'<text x="{ml}" y="{height - 4}" class="tick">每日触发预警数（按等级） firing alerts per day by level</text>')
    out.append("</svg>")
    return "".join(out)


def _bar(counts: Mapping[str, int], total_max: int, width: int = 260, height: int = 14) -> str:
    out = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    x0 = 0.0
    for lv in LEVELS:
        n = counts.get(lv, 0)
        if n:
            w = n / max(total_max, 1) * width
            out.append(f'<rect x="{x0:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{LEVEL_COLORS[lv]}"/>')
            x0 += w
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------- sections
def _cards(report: Mapping[str, Any]) -> str:
    items = [
        ("召回率", "recall", _num(report.get("recall"), pct=True) if report.get("recall") is not None else "—",
         f"{report.get('n_caught')}/{report.get('n_incidents')}"),
        ("精确率（≥黄）", "precision", _num(report.get("precision"), pct=True) if report.get("precision") is not None else "—",
         f"{report.get('n_alerts')} 预警 alerts, {report.get('n_false_alerts')} 误报 false"),
        ("每街道每30天误报", "false alerts / street / 30 d", _num(report.get("false_alerts_per_street_30d")),
         f"{report.get('n_streets')} 街道 streets, {report.get('days')} 天 days"),
        ("提前量中位数", "median lead", _num(report.get("median_lead_hours"), unit=" h"), "正数=提前 positive = early"),
        ("渐进事件提前量", "median lead, ramped", _num(report.get("median_lead_hours_ramped"), unit=" h"),
         "峰值晚于开始的事件 peak after start"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{h(zh)}<br><small>{h(en)}</small></div><div class="v">{h(v)}</div>'
        f'<div class="sub">{h(sub)}</div></div>' for zh, en, v, sub in items) + "</div>"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    out = [f'<table class="{h(cls)}"><thead><tr>' + "".join(f"<th>{h(c)}</th>" for c in head) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else h(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """Markup already built from escaped parts (not escaped again by :func:`_table`)."""


def _badge(level: str | None) -> _Raw:
    if not level:
        return _Raw("—")
    return _Raw(f'<span class="lv" style="background:{LEVEL_COLORS.get(level, "#555")}">'
                f'{h(LEVEL_ZH.get(level, ""))} {h(level)}</span>')


def _by_kind(report: Mapping[str, Any]) -> str:
    rows = [(k, _num(r.get("recall"), pct=True) if r.get("recall") is not None else "—", f"{r['n_caught']}/{r['n_incidents']}",
             _num(r.get("median_lead_hours"), unit=" h"), _num(r.get("median_lead_hours_ramped"), unit=" h"))
            for k, r in sorted(report.get("by_kind", {}).items())]
    return _table(["事件类型 kind", "召回率 recall", "发现 caught", "提前量中位数 median lead", "渐进 ramped"], rows)


def _budget(report: Mapping[str, Any]) -> str:
    b = report.get("budget")
    if not b:
        return ""
    rows = []
    for sig, v in b["signals"].items():
        y = "—" if v["yellow_log10p_min"] is None else f"{v['yellow_log10p_min']}–{v['yellow_log10p_max']}"
        rows.append((sig, "规则 rule" if v["share"] is None else v["share"], v["spent"], v["false_alerts"], v["alerts"], y))
    return (f"<h3>误报预算 False-alert budget: {h(b['false_alert_budget'])} / 街道 / 30天，已用 spent {h(b['spent'])}</h3>"
            + _table(["信号 signal", "份额 share", "已用 spent", "误报 false", "预警≥黄 alerts", "黄色阈值 yellow −log10 p"], rows))


def _districts(alerts: Sequence[Mapping[str, Any]], false_ids: set[str]) -> str:
    per: dict[str, dict[str, int]] = {}
    false_n: dict[str, int] = {}
    for a in alerts:
        if a.get("status") != "firing":
            continue
        d = a.get("district") or "（未知 unknown）"
        c = per.setdefault(d, {})
        c[a["level"]] = c.get(a["level"], 0) + 1
        if a.get("alert_id") in false_ids:
            false_n[d] = false_n.get(d, 0) + 1
    if not per:
        return '<p class="muted">无预警 no firing alerts</p>'
    top = max(sum(c.values()) for c in per.values())
    rows = []
    for d, c in sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        rows.append([d] + [c.get(lv, 0) for lv in LEVELS] + [sum(c.values()), false_n.get(d, 0), _Raw(_bar(c, top))])
    return _table(["区 district", "蓝 blue", "黄 yellow", "橙 orange", "红 red", "合计 total", "误报(≥黄) false", ""],
                  rows, cls="num")


def false_alert_ids(alerts: Sequence[Mapping[str, Any]], incidents: Sequence[Mapping[str, Any]]) -> set[str]:
    """Alert ids of the firing alerts ≥ yellow that match no incident (as :func:`report.score` counts)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for i in incidents:
        spans.setdefault(i["street_code"], []).append((_t(i["start"]) - PRE_WINDOW_S, _t(i["end"])))
    out = set()
    for a in alerts:
        if a.get("status") != "firing" or LEVEL_RANK.get(a.get("level", ""), 0) < LEVEL_RANK["yellow"]:
            continue
        t = _t(a["starts_at"])
        if not any(s <= t <= e for s, e in spans.get(a["street_code"], [])):
            out.add(a.get("alert_id"))
    return out


def _sweep(sweep: Any, png: Path | None) -> str:
    rows = sweep.table()
    out = [f"<h2 id=\"sweep\">参数扫描 Sweep: {h(', '.join(sweep.keys))}</h2>",
           "<p>每个取值重放一次已富化事件，与单独回测结果相同 — the enriched events replayed once per value "
           "(the same alerts as a separate backtest with that setting).</p>",
           _table(rows[0], rows[1:], cls="num")]
    if png is not None and png.is_file():
        b64 = base64.b64encode(png.read_bytes()).decode("ascii")
        out.append(f'<img class="plot" alt="sweep plot" src="data:image/png;base64,{b64}">')
    return "".join(out)


def _incident(n: int, inc: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]], series: Series | None,
              names: Mapping[str, tuple[str, str]], tz: tzinfo, has_expected: bool) -> str:
    start, end = _t(inc["start"]), _t(inc["end"])
    peak = _t(inc.get("peak") or inc["start"])
    lo = math.floor((start - PRE_WINDOW_S - 12 * HOUR) / HOUR) * HOUR
    hi = math.ceil((min(end, start + MAX_SPAN_S) + 12 * HOUR) / HOUR) * HOUR
    street = inc["street_code"]
    mine = [a for a in alerts if a.get("street_code") == street and a.get("status") == "firing"
            and lo <= _t(a["starts_at"]) <= hi]
    name, district = names.get(street, ("", ""))
    if not name and mine:
        name, district = mine[0].get("street_name", ""), mine[0].get("district", "")
    status = ('<span class="ok">发现 caught</span>' if inc["caught"] else '<span class="miss">漏报 missed</span>')
    lead = "" if inc.get("lead_hours") is None else f" · 提前量 lead {h(_num(inc['lead_hours'], unit=' h'))}"
    first = "" if not inc.get("first_alert") else (f" · 首个预警 first alert {h(inc['first_alert'])} "
                                                  f"{_badge(inc.get('first_level'))} {h(inc.get('first_signal') or '')}")
    out = [f'<section class="incident" id="incident-{n}">',
           f"<h3>{n}. {h(inc['kind'])} — {h(district)} {h(name)} <small>{h(street)}</small> {status}</h3>",
           f"<p>标注窗口 window {h(inc['start'])} – {h(inc['end'])} · 峰值 peak {h(inc.get('peak') or inc['start'])}"
           f"{' · 最低等级 min level ' + h(inc['min_level']) if inc.get('min_level') else ''}{lead}{first}</p>"]
    if series is None:
        out.append('<p class="muted">无逐小时序列 no hourly series for this street (run without watch)</p>')
    elif not has_expected:
        out.append('<p class="muted">仅观测值 observed only: this run gave no expected series</p>')
    out.append(timeline_svg(series or [], mine, start, end, peak, lo, hi, tz))
    if mine:
        rows = []
        for a in sorted(mine, key=lambda a: _t(a["starts_at"])):
            ta = _t(a["starts_at"])
            counts = (a["level"] in LEVEL_RANK and LEVEL_RANK[a["level"]] >= LEVEL_RANK["yellow"]
                      and start - PRE_WINDOW_S <= ta <= end)
            rows.append((datetime.fromtimestamp(ta, tz).strftime("%m-%d %H:%M"), _badge(a["level"]), a.get("signal", ""),
                         a.get("summary_zh", ""), _num(a.get("observed")), _num(round(a.get("expected") or 0.0, 2)),
                         _num(round(a.get("score") or 0.0, 2)), "是 yes" if counts else ""))
        out.append(_table(["时间 time", "等级 level", "信号 signal", "摘要 summary", "观测 observed", "期望 expected",
                           "得分 score", "计入 counts"], rows))
    else:
        out.append('<p class="muted">该街道此期间无触发预警 no firing alert on this street in this span</p>')
    out.append("</section>")
    return "".join(out)


CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;
margin:0 auto;max-width:1040px;padding:16px 20px;color:#1c2333;background:#fff;line-height:1.5}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;border-left:4px solid #1f6fd1;padding-left:8px;margin-top:32px}
h3{font-size:16px;margin:18px 0 6px}small{color:#667;font-weight:normal}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #d5dbe6;border-radius:6px;padding:8px 12px;min-width:170px}
.card .k{font-size:13px;color:#445}.card .v{font-size:26px;font-weight:bold}.card .sub{font-size:12px;color:#667}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #d5dbe6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef2f8}table.num td{font-variant-numeric:tabular-nums}
.lv{color:#fff;border-radius:3px;padding:0 5px;font-size:12px;white-space:nowrap}
.ok{color:#137333;font-size:13px}.miss{color:#b00000;font-size:13px}.muted{color:#778;font-size:13px}
.chart{display:block;max-width:100%;margin:4px 0}.chart .tick{font-size:11px;fill:#556}
.incident{border-top:1px solid #e3e7ee;padding-top:4px}.plot{max-width:100%;border:1px solid #e3e7ee}
.legend span{display:inline-block;margin-right:14px;font-size:13px}.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px}
nav ol{columns:2;font-size:13px}
@media print{.incident{break-inside:avoid}}
"""


def _legend() -> str:
    lv = "".join(f'<span><i class="sw" style="background:{LEVEL_COLORS[k]}"></i>{LEVEL_ZH[k]}色 {k}</span>' for k in LEVELS)
    return ('<p class="legend"><span><i class="sw" style="background:#7f9cc4"></i>观测 observed / h</span>'
            '<span>- - 期望 expected / h</span><span><i class="sw" style="background:#f9d3cf"></i>标注窗口 labelled window</span>'
            '<span><i class="sw" style="background:#fdf0d5"></i>提前24h计入 catch window (start − 24 h)</span>'
            '<span style="color:#b00000">┆ 峰值 peak</span>' + lv + "（▼ 预警 alerts）</p>")


def render(report: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]], *, series: Mapping[str, Series] | None = None,
           has_expected: bool = True, sweep: Any = None, sweep_png: Path | None = None,
           names: Mapping[str, tuple[str, str]] | None = None, meta: Mapping[str, Any] | None = None,
           period: tuple[float, float] | None = None) -> str:
    """The page as a string. ``report`` is :func:`warning.backtest.report.score`'s output,
    ``alerts`` the run's alerts (dicts or :class:`~warning.core.events.Alert`), ``series`` the
    hourly (hour start, observed, expected) per street (None: no timelines' series),
    ``sweep`` a :class:`warning.backtest.sweep.SweepResult` (its ``keys`` and ``table()``), ``names`` street code → (name,
    district), ``meta`` a few facts of the run shown at the top (input, range, counts), ``period``
    the first and last event time of the run (epoch s; the per-day axis spans it)."""
    names = names or {}
    incs = sorted(report.get("incidents", []), key=lambda i: (_t(i["start"]), i["street_code"]))
    tz: tzinfo = parse_time(incs[0]["start"]).tzinfo if incs else timezone(timedelta(hours=8))  # type: ignore[assignment]
    false_ids = false_alert_ids(alerts, incs)
    out = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
           "style-src 'unsafe-inline'\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>回测报告 Backtest report</title>", f"<style>{CSS}</style></head><body>",
           "<h1>回测报告 <small>Backtest report</small></h1>"]
    if meta:
        out.append("<p class=\"muted\">" + " · ".join(f"{h(k)}: {h(v)}" for k, v in meta.items()) + "</p>")
    out.append("<nav><p>" + " · ".join([
        '<a href="#summary">概要 summary</a>', '<a href="#alerts">预警分布 alerts</a>']
        + (['<a href="#sweep">参数扫描 sweep</a>'] if sweep is not None else [])
        + ['<a href="#incidents">事件时间线 incident timelines</a>']) + "</p></nav>")
    out += ['<h2 id="summary">概要 Summary</h2>', _cards(report),
            "<h3>按事件类型 By incident kind</h3>", _by_kind(report), _budget(report)]
    days = None if period is None else (datetime.fromtimestamp(period[0], tz).strftime("%Y-%m-%d"),
                                        datetime.fromtimestamp(period[1], tz).strftime("%Y-%m-%d"))
    out += ['<h2 id="alerts">预警分布 Alerts</h2>', "<h3>每日 Per day</h3>", per_day_svg(alerts, days),
            "<h3>按区 Per district（触发预警 firing alerts）</h3>", _districts(alerts, false_ids)]
    if sweep is not None:
        out.append(_sweep(sweep, sweep_png))
    out.append('<h2 id="incidents">事件时间线 Incident timelines</h2>')
    out.append(_legend())
    if incs:
        out.append("<nav><ol>" + "".join(
            f'<li><a href="#incident-{n}">{h(i["kind"])} {h(names.get(i["street_code"], ("", ""))[0] or i["street_code"])} '
            f'{h(i["start"][:16])}</a> {"✓" if i["caught"] else "✗"}</li>' for n, i in enumerate(incs, 1)) + "</ol></nav>")
    else:
        out.append('<p class="muted">无标注事件 no labelled incidents</p>')
    for n, inc in enumerate(incs, 1):
        s = None if series is None else series.get(inc["street_code"], [])
        out.append(_incident(n, inc, alerts, s, names, tz, has_expected))
    out.append("</body></html>")
    return "\n".join(out)


def write(out_dir: Path, report: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]], **kw: Any) -> Path:
    """Write ``report.html`` into ``out_dir`` (arguments as :func:`render`); returns its path."""
    path = Path(out_dir) / "report.html"
    path.write_text(render(report, alerts, **kw), encoding="utf-8")
    return path


def write_run(out_dir: Path, report: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]], stats: Any, settings: Any,
              *, sweep: Any = None, events_file: Path | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """``report.html`` of a ``warning backtest`` run: street names from the region's registry, the
    incidents' hourly series from the run (``stats.series``, when the runner watched them), else
    observed counts from the enriched events at ``events_file`` (when there is one), else none."""
    from warning.core.registry import Registry

    reg = Registry.load(settings.region.code)
    names = {s.code: (s.name, s.district.name) for s in reg.streets.values()}
    names.update({d.code: ("（区级 district level）", d.name) for d in reg.districts.values()})
    streets = {i["street_code"] for i in report.get("incidents", [])}
    series: Mapping[str, Series] | None = getattr(stats, "series", None) or None
    has_expected = series is not None
    if series is None and events_file is not None and Path(events_file).is_file():
        from warning.backtest.runner import iter_lines

        series = hourly_observed(iter_lines(events_file), streets)
    period = None
    if getattr(stats, "first_ts", None) is not None and getattr(stats, "last_ts", None) is not None:
        period = (stats.first_ts, stats.last_ts)
    png = Path(out_dir) / "sweep.png"
    return write(out_dir, report, alerts, series=series, has_expected=has_expected, sweep=sweep,
                 sweep_png=png if sweep is not None else None, names=names, meta=meta, period=period)


def label_streets(path: str | Path | None) -> set[str]:
    """The street codes of a labels file (the streets a run watches for the timelines)."""
    import orjson

    if not path:
        return set()
    return {orjson.loads(x)["street_code"] for x in Path(path).read_bytes().splitlines() if x.strip()}
