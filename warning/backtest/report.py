"""Score alerts against labelled incidents (DESIGN.md's backtest contract).

An incident ``{"street_code", "start", "end", "peak"?, "kind", "min_level"?}`` is *caught* when a
firing alert of level ≥ yellow (≥ ``min_level`` when given) for its street fires between
``start`` − 24 h and ``end``; lead time = ``peak`` − first such alert (positive = early). A *false
alert* is a firing alert of level ≥ yellow that matches no incident (same street, fired in an
incident's ``[start − 24 h, end]``).

>>> labels = [{"street_code": "110105001", "start": "2025-03-02T10:00:00+08:00",
...            "end": "2025-03-02T18:00:00+08:00", "peak": "2025-03-02T14:00:00+08:00", "kind": "surge"}]
>>> alerts = [{"status": "firing", "level": "yellow", "street_code": "110105001",
...            "starts_at": "2025-03-02T11:00:00+08:00"},
...           {"status": "firing", "level": "orange", "street_code": "110101001",
...            "starts_at": "2025-03-02T11:00:00+08:00"}]
>>> r = score(alerts, labels, n_streets=343, days=30)
>>> r["recall"], r["precision"], r["median_lead_hours"], r["n_alerts"]
(1.0, 0.5, 3.0, 2)
"""

from __future__ import annotations

import statistics
from typing import Any

from warning.core.detect_config import LEVEL_RANK
from warning.core.timeutil import parse_time

PRE_WINDOW_S = 24 * 3600.0


def _t(s: str) -> float:
    return parse_time(s).timestamp()


def alert_time(a: dict[str, Any]) -> float:
    return _t(a["starts_at"])


def score(alerts: list[dict[str, Any]], labels: list[dict[str, Any]], n_streets: int, days: float,
          budget: dict[str, Any] | None = None) -> dict[str, Any]:
    firing = [a for a in alerts if a.get("status") == "firing" and LEVEL_RANK.get(a.get("level", ""), 0) >= LEVEL_RANK["yellow"]]
    by_street: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for a in firing:
        by_street.setdefault(a["street_code"], []).append((alert_time(a), a))
    for v in by_street.values():
        v.sort(key=lambda x: x[0])

    incidents = []
    matched_alerts: set[int] = set()
    for lab in labels:
        start, end = _t(lab["start"]), _t(lab["end"])
        peak = _t(lab.get("peak") or lab["start"])
        need = LEVEL_RANK[lab.get("min_level") or "yellow"]
        first = None
        for t, a in by_street.get(lab["street_code"], []):
            if start - PRE_WINDOW_S <= t <= end:
                matched_alerts.add(id(a))
                if first is None and LEVEL_RANK[a["level"]] >= need:
                    first = (t, a)
        incidents.append({
            "street_code": lab["street_code"], "kind": lab.get("kind", "unknown"), "start": lab["start"],
            "end": lab["end"], "peak": lab.get("peak") or lab["start"], "min_level": lab.get("min_level"),
            "caught": first is not None,
            "first_alert": first[1]["starts_at"] if first else None,
            "first_level": first[1]["level"] if first else None,
            "first_signal": first[1].get("signal") if first else None,
            "lead_hours": round((peak - first[0]) / 3600.0, 3) if first else None,
        })
    false_alerts = [a for a in firing if id(a) not in matched_alerts]

    def summarize(incs: list[dict[str, Any]], alerts_n: int, false_n: int) -> dict[str, Any]:
        caught = [i for i in incs if i["caught"]]
        leads = [i["lead_hours"] for i in caught]
        ramped = [i["lead_hours"] for i in caught if i["peak"] != i["start"] and _t(i["peak"]) > _t(i["start"])]
        return {
            "recall": round(len(caught) / len(incs), 4) if incs else None,
            "precision": round((alerts_n - false_n) / alerts_n, 4) if alerts_n else None,
            "false_alerts_per_street_30d": round(false_n / max(n_streets, 1) * 30.0 / max(days, 1e-9), 4),
            "median_lead_hours": round(statistics.median(leads), 3) if leads else None,
            # over the caught incidents whose peak is not their first evidence (peak after start)
            "median_lead_hours_ramped": round(statistics.median(ramped), 3) if ramped else None,
            "n_incidents": len(incs),
            "n_caught": len(caught),
            "n_alerts": alerts_n,
            "n_false_alerts": false_n,
        }

    report = summarize(incidents, len(firing), len(false_alerts))
    by_kind: dict[str, Any] = {}
    for kind in sorted({i["kind"] for i in incidents}):
        incs = [i for i in incidents if i["kind"] == kind]
        streets = {i["street_code"] for i in incs}
        kind_alerts = [a for a in firing if a["street_code"] in streets and id(a) in matched_alerts]
        by_kind[kind] = summarize(incs, len(kind_alerts), 0)
        by_kind[kind]["precision"] = None  # false alerts are not attributable to a kind
        by_kind[kind]["false_alerts_per_street_30d"] = None
    report["by_kind"] = by_kind
    report["n_streets"] = n_streets
    report["days"] = round(days, 3)
    report["false_alerts_by_signal"] = _count(false_alerts, "signal")
    if budget is not None:
        report["budget"] = spending_report(budget, report["false_alerts_by_signal"], _count(firing, "signal"),
                                           n_streets, days)
    report["alerts_by_level"] = _count(firing, "level")
    report["incidents"] = incidents
    return report


def spending_report(budget: dict[str, Any], false_by_signal: dict[str, int], firing_by_signal: dict[str, int],
                    n_streets: int, days: float) -> dict[str, Any]:
    """How each signal spent the false-alert budget: its share (alerts ≥ yellow per street per
    30 days), what it spent (false alerts ≥ yellow per street per 30 days, against the labels),
    its alerts ≥ yellow, and the calibrated yellow threshold (min/max over partitions)."""
    per = 30.0 / max(days, 1e-9) / max(n_streets, 1)
    signals: dict[str, Any] = {}
    for sig in sorted(set(budget.get("signals", {})) | set(false_by_signal) | set(firing_by_signal)):
        cal = budget.get("signals", {}).get(sig)
        signals[sig] = {
            "share": cal["share"] if cal else None,
            "spent": round(false_by_signal.get(sig, 0) * per, 4),
            "false_alerts": false_by_signal.get(sig, 0),
            "alerts": firing_by_signal.get(sig, 0),
            "yellow_log10p_min": cal["yellow_min"] if cal else None,
            "yellow_log10p_max": cal["yellow_max"] if cal else None,
            "calibrated": cal is not None,
        }
    total = sum(v["spent"] for v in signals.values() if v["calibrated"])
    rules = sum(v["spent"] for v in signals.values() if not v["calibrated"])
    return {"false_alert_budget": budget.get("false_alert_budget"), "spent": round(total, 4),
            "spent_by_rules": round(rules, 4), "signals": signals}


def _count(alerts: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in alerts:
        out[a.get(key, "")] = out.get(a.get(key, ""), 0) + 1
    return dict(sorted(out.items()))


def write_human_report(out_dir: Any, report: dict[str, Any], alerts: list[dict[str, Any]]) -> None:
    """``report.md`` (Chinese + English) and ``lead_times.png`` / ``alerts_per_day.png``."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    incs = report["incidents"]
    kinds = sorted(report["by_kind"])
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, k in enumerate(kinds):
        leads = [x["lead_hours"] for x in incs if x["kind"] == k and x["lead_hours"] is not None]
        ax.scatter(leads, [i] * len(leads), alpha=0.7)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlabel("lead time, hours (positive = alert before peak)")
    ax.set_title("Lead time by incident kind")
    fig.tight_layout()
    fig.savefig(out / "lead_times.png", dpi=110)
    plt.close(fig)

    per_day: dict[str, dict[str, int]] = {}
    for a in alerts:
        if a.get("status") != "firing":
            continue
        d = a["starts_at"][:10]
        per_day.setdefault(d, {}).setdefault(a["level"], 0)
        per_day[d][a["level"]] += 1
    days = sorted(per_day)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    bottom = [0] * len(days)
    colors = {"blue": "#1f77b4", "yellow": "#e6c200", "orange": "#ff7f0e", "red": "#d62728"}
    for lv in ("blue", "yellow", "orange", "red"):
        vals = [per_day[d].get(lv, 0) for d in days]
        ax.bar(range(len(days)), vals, bottom=bottom, color=colors[lv], label=lv)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(0, len(days), max(1, len(days) // 10)), [days[i][5:] for i in range(0, len(days), max(1, len(days) // 10))])
    ax.set_ylabel("firing alerts")
    ax.legend(ncol=4, fontsize=8)
    ax.set_title("Firing alerts per day by level")
    fig.tight_layout()
    fig.savefig(out / "alerts_per_day.png", dpi=110)
    plt.close(fig)

    lines = [
        "# 回测报告 Backtest report", "",
        f"- 召回率 recall: **{report['recall']}** ({report['n_caught']}/{report['n_incidents']})",
        f"- 精确率 precision (≥黄色 yellow): **{report['precision']}** ({report['n_alerts']} alerts, {report['n_false_alerts']} false)",
        f"- 每街道每30天误报 false alerts / street / 30 d: **{report['false_alerts_per_street_30d']}**",
        f"- 提前量中位数 median lead: **{report['median_lead_hours']} h**"
        f"（峰值晚于首个迹象的事件 incidents with a ramp: {report['median_lead_hours_ramped']} h）", "",
        "| 事件类型 kind | recall | caught | median lead (h) |", "|---|---|---|---|",
    ]
    for k in kinds:
        r = report["by_kind"][k]
        lines.append(f"| {k} | {r['recall']} | {r['n_caught']}/{r['n_incidents']} | {r['median_lead_hours']} |")
    lines += ["", f"误报按信号 false alerts by signal: {report['false_alerts_by_signal']}", ""]
    budget = report.get("budget")
    if budget:
        lines += [f"## 误报预算 False-alert budget: {budget['false_alert_budget']} / 街道 / 30天，已用 spent {budget['spent']}", "",
                  "| 信号 signal | 份额 share | 已用 spent | 误报 false | 预警 alerts ≥ yellow | 黄色阈值 yellow −log10 p |",
                  "|---|---|---|---|---|---|"]
        for sig, v in budget["signals"].items():
            y = "—" if v["yellow_log10p_min"] is None else f"{v['yellow_log10p_min']}–{v['yellow_log10p_max']}"
            share = "规则 rule" if v["share"] is None else v["share"]
            lines.append(f"| {sig} | {share} | {v['spent']} | {v['false_alerts']} | {v['alerts']} | {y} |")
        lines.append("")
    lines += [
              "![lead times](lead_times.png)", "", "![alerts per day](alerts_per_day.png)", "",
              "## 漏报 Missed incidents", ""]
    for i in incs:
        if not i["caught"]:
            lines.append(f"- {i['kind']} {i['street_code']} {i['start']} – {i['end']} (min_level {i['min_level']})")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
