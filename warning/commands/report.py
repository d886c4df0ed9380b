"""``warning report monthly`` — the monthly summary a 综治中心 files, from the alert history.

``warning report monthly --month 2025-03 --out DIR [--config F]`` reads the history database
(``history.url``; default SQLite ``<worker.data_dir>/history.sqlite3``, filled by the dashboard)
and writes:

* ``DIR/report.md`` — the report in Chinese: alerts by level / district / signal, 确认 vs 误报,
  precision, median time to handle, top streets (numbers from
  :func:`warning.history.monthly.monthly_data`, whose docstring states the counting rules);
* ``DIR/levels.png``, ``DIR/daily.png``, ``DIR/districts.png``, ``DIR/signals.png`` — charts
  (matplotlib), and ``DIR/charts.pdf`` with the same charts, one a page;
* ``DIR/report.json`` — the same numbers for scripts.

Charts are labelled in Chinese when a CJK font is available (``--font FILE``, else the first font
``fc-list :lang=zh`` lists, else a known CJK family matplotlib already knows). Without one, chart
labels fall back to English and codes (district division codes, signal ids) — never to empty boxes
— and the report says so, with the code ↔ name tables next to the charts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit
from warning.core.signals import LEVEL_NAMES, LEVELS

LEVEL_COLORS = {"blue": "#1f6fd1", "yellow": "#e8b400", "orange": "#f07c00", "red": "#d42a2a"}
LEVEL_EN = {"blue": "Blue (IV)", "yellow": "Yellow (III)", "orange": "Orange (II)", "red": "Red (I)"}
#: family names of common CJK fonts (Noto/Source Han, WenQuanYi, AR PL, Droid fallback, Windows/macOS)
CJK_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK", "Source Han", "WenQuanYi", "AR PL", "Droid Sans Fallback",
                "SimHei", "SimSun", "Microsoft YaHei", "PingFang", "Heiti", "Hiragino Sans GB", "Sarasa")
CHARTS = ("levels.png", "daily.png", "districts.png", "signals.png")


@click.group()
def report() -> None:
    """报告 — reports from the alert history database (history.url)."""


@report.command("monthly")
@CONFIG_OPTION
@click.option("--month", required=True, help="月份 month, YYYY-MM (按预警开始时间 by starts_at)")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="输出目录 output directory")
@click.option("--tz", default="+08:00", show_default=True, help="月份边界的时区 UTC offset of the month's bounds")
@click.option("--font", type=click.Path(exists=True, dir_okay=False), default=None,
              help="图表中文字体文件 CJK font file for chart labels (default: found by fc-list)")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True, help="重点街道数 top streets")
def monthly(config: str | None, month: str, out: str, tz: str, font: str | None, top: int) -> None:
    """月度报告 — the monthly summary (Markdown + PNG charts + PDF of the charts)."""
    from warning.history.monthly import month_bounds, monthly_data
    from warning.history.store import HistoryStore

    try:
        month_bounds(month, tz)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--month/--tz") from None
    settings = load_or_exit(config or default_config())
    from warning.core.signals import feed_signals

    for f in settings.feeds.values():  # Chinese titles of configured feeds' signals
        feed_signals(f.name, f.name_zh, f.group, f.volume_signal, f.theme_signal)
    try:
        url = settings.history.resolve(settings.worker.data_dir)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///"):])
        if not db.is_file():
            raise click.ClickException(f"预警历史库不存在 no history database at {db} "
                                       "(the dashboard fills it; set history.url or worker.data_dir)")
    try:
        with HistoryStore.open(url) as store:
            data = monthly_data(store, month, tz=tz, top=top)
    except Exception as e:  # never print the URL: it may hold a password
        raise click.ClickException(f"读取预警历史库失败 cannot read the history database: {type(e).__name__}") from None
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    font_name = setup_font(font)
    charts = draw_charts(data, d, font_name)
    (d / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (d / "report.md").write_text(render_markdown(data, charts, font_name), encoding="utf-8")
    if font_name is None:
        click.echo("注意 note: 未找到中文字体 no CJK font found (fc-list :lang=zh); chart labels are in English/codes "
                   "(install fonts-noto-cjk or pass --font FILE)", err=True)
    click.echo(f"已生成 wrote {d / 'report.md'} ({data['n_alerts']} 条预警 alerts, {len(charts)} 张图 charts)")


# ------------------------------------------------------------------------------------------------
# fonts


def _fc_list_zh() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    try:
        r = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [ln.split(":")[0].strip() for ln in r.stdout.splitlines() if ln.strip()]
    # prefer sans faces
    return sorted(files, key=lambda p: (("Sans" not in p and "Hei" not in p), p))


def setup_font(explicit: str | None = None) -> str | None:
    """Make matplotlib draw Chinese: the family name of the CJK font in use, or None (no font)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager as fm
    from matplotlib import rcParams

    name = None
    for path in ([explicit] if explicit else _fc_list_zh()):
        try:
            fm.fontManager.addfont(path)
            name = fm.FontProperties(fname=path).get_name()
            break
        except Exception:  # noqa: BLE001 - an unreadable font file: try the next
            continue
    if name is None:
        for f in fm.fontManager.ttflist:
            if any(k.lower() in f.name.lower() for k in CJK_FAMILIES):
                name = f.name
                break
    rcParams["font.family"] = "sans-serif"
    rcParams["font.sans-serif"] = ([name] if name else []) + ["DejaVu Sans"]
    rcParams["axes.unicode_minus"] = False
    return name


# ------------------------------------------------------------------------------------------------
# charts


def district_codes(data: dict[str, Any]) -> list[str]:
    """An ASCII label per district of ``by_district``: its division code, or ``D01``… when codes
    are missing or not unique (the report's district table shows the same labels)."""
    codes = [r.get("district_code") for r in data["by_district"]]
    if all(codes) and len(set(codes)) == len(codes):
        return [str(c) for c in codes]
    return [f"D{i:02d}" for i in range(1, len(codes) + 1)]


def _district_labels(data: dict[str, Any], cjk: bool) -> list[str]:
    return [r["district"] for r in data["by_district"]] if cjk else district_codes(data)


def draw_charts(data: dict[str, Any], out: Path, font_name: str | None) -> list[str]:
    """Write the PNG charts (and charts.pdf); the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    cjk = font_name is not None
    month = data["month"]
    figs: list[tuple[str, Any]] = []

    # 1. alerts by level
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    labels = [LEVELS[lv].title if cjk else LEVEL_EN[lv] for lv in LEVEL_NAMES]
    vals = [data["by_level"][lv] for lv in LEVEL_NAMES]
    bars = ax.bar(labels, vals, color=[LEVEL_COLORS[lv] for lv in LEVEL_NAMES])
    ax.bar_label(bars)
    ax.margins(y=0.12)
    ax.set_title(f"{month} 预警级别分布（按最高级别）" if cjk else f"{month} alerts by level (highest level)")
    ax.set_ylabel("预警数" if cjk else "alerts")
    figs.append(("levels.png", fig))

    # 2. alerts per day
    fig, ax = plt.subplots(figsize=(8, 3.4), dpi=120)
    days = [x["date"][-2:] for x in data["by_day"]]
    ax.bar(days, [x["n"] for x in data["by_day"]], color="#4a6fa5")
    ax.set_title(f"{month} 每日预警数" if cjk else f"{month} alerts per day")
    ax.set_xlabel("日" if cjk else "day")
    ax.set_ylabel("预警数" if cjk else "alerts")
    ax.tick_params(axis="x", labelsize=7)
    figs.append(("daily.png", fig))

    # 3. districts, stacked by level
    dist = data["by_district"][:20]
    fig, ax = plt.subplots(figsize=(7, max(2.6, 0.6 + 0.35 * len(dist))), dpi=120)
    names = _district_labels(data, cjk)[:20][::-1]
    left = [0] * len(dist)
    for lv in LEVEL_NAMES:
        v = [r["by_level"][lv] for r in dist][::-1]
        ax.barh(names, v, left=left, color=LEVEL_COLORS[lv], label=LEVELS[lv].zh if cjk else lv)
        left = [a + b for a, b in zip(left, v)]
    if dist:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{month} 各区预警数" if cjk else f"{month} alerts by district (codes: see report.md)")
    ax.set_xlabel("预警数" if cjk else "alerts")
    figs.append(("districts.png", fig))

    # 4. signals: alerts, confirmed, false alarm
    sig = data["by_signal"][:15]
    fig, ax = plt.subplots(figsize=(8, max(2.6, 0.8 + 0.45 * len(sig))), dpi=120)
    names = [(r["signal_zh"] if cjk else r["signal"]) for r in sig][::-1]
    y = list(range(len(sig)))
    h = 0.27
    ax.barh([i + h for i in y], [r["n"] for r in sig][::-1], h, color="#8899aa", label="预警" if cjk else "alerts")
    ax.barh(y, [r["confirmed"] for r in sig][::-1], h, color="#2a9d55", label="确认" if cjk else "confirmed")
    ax.barh([i - h for i in y], [r["false_alarm"] for r in sig][::-1], h, color="#c0392b",
            label="误报" if cjk else "false alarm")
    ax.set_yticks(y, names)
    if sig:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{month} 各信号预警与研判" if cjk else f"{month} alerts and verdicts by signal")
    figs.append(("signals.png", fig))

    written = []
    with PdfPages(out / "charts.pdf", metadata={"Title": f"warning monthly charts {month}"}) as pdf:
        for name, fig in figs:
            fig.tight_layout()
            fig.savefig(out / name)
            pdf.savefig(fig)
            plt.close(fig)
            written.append(name)
    return written


# ------------------------------------------------------------------------------------------------
# markdown


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _hours(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} 小时"


def _cell(s: Any) -> str:
    return str(s if s is not None else "—").replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def render_markdown(data: dict[str, Any], charts: list[str], font_name: str | None) -> str:
    """The report in Chinese (Markdown)."""
    from warning.history.monthly import parse_offset

    y, m = data["month"].split("-")
    v = data["verdicts"]
    lv = data["by_level"]
    h = data["handled"]
    L: list[str] = [
        f"# 社会稳定风险预警月报（{int(y)}年{int(m)}月）",
        "",
        f"统计区间：{data['since']} 至 {data['until']}（按预警开始时间；不含结束时刻）  ",
        f"生成时间：{datetime.now(parse_offset(data['tz'])).isoformat(timespec='seconds')}　数据来源：预警历史库",
        "",
        "## 一、概况",
        "",
        f"- 预警总数：**{data['n_alerts']}** 条，涉及 {data['n_streets']} 个街道/乡镇、{len(data['by_district'])} 个区",
        f"- 按级别（每条预警取其最高级别）：红色 {lv['red']} 条，橙色 {lv['orange']} 条，"
        f"黄色 {lv['yellow']} 条，蓝色 {lv['blue']} 条",
        f"- 研判：确认 **{v['confirmed']}** 条，误报 **{v['false_alarm']}** 条，未研判 {v['none']} 条；"
        f"准确率（确认 ÷（确认 + 误报））**{_pct(data['precision'])}**",
        f"- 处置：已处置 {h['n']} 条，处置时长（已处置时间 − 预警开始时间）中位数 **{_hours(h['median_hours'])}**，"
        f"90% 分位 {_hours(h['p90_hours'])}",
    ]
    fbu = data["feedback"]["untrusted"]
    if fbu:
        L.append(f"- 另有 {fbu} 条未通过签名校验的反馈已存档，不计入以上统计")
    L += ["", "![预警级别分布](levels.png)", "", "![每日预警数](daily.png)", ""]

    L += ["## 二、按级别", ""]
    L += _table(["级别", "预警数", "占比"], [
        [LEVELS[k].title, lv[k], _pct(lv[k] / data["n_alerts"]) if data["n_alerts"] else "—"]
        for k in reversed(LEVEL_NAMES)])

    L += ["", "## 三、按区", "", "![各区预警数](districts.png)", ""]
    L += _table(["区", "代码", "预警数", "红", "橙", "黄", "蓝", "确认", "误报", "准确率"], [
        [r["district"], code, r["n"], r["by_level"]["red"], r["by_level"]["orange"],
         r["by_level"]["yellow"], r["by_level"]["blue"], r["confirmed"], r["false_alarm"], _pct(r["precision"])]
        for code, r in zip(district_codes(data), data["by_district"])])

    L += ["", "## 四、按预警信号", "", "![各信号预警与研判](signals.png)", ""]
    L += _table(["信号", "信号代码", "预警数", "确认", "误报", "准确率"], [
        [r["signal_zh"], f"`{r['signal']}`", r["n"], r["confirmed"], r["false_alarm"], _pct(r["precision"])]
        for r in data["by_signal"]])

    L += ["", f"## 五、重点街道/乡镇（前 {len(data['top_streets'])} 位）", ""]
    L += _table(["排名", "街道/乡镇", "代码", "所属区", "预警数", "最高级别", "确认", "误报"], [
        [i, r["street_name"], r["street_code"], r["district"], r["n"], LEVELS[r["max_level"]].title,
         r["confirmed"], r["false_alarm"]] for i, r in enumerate(data["top_streets"], 1)])

    L += ["", "## 说明", "",
          "- 研判与处置只计签名可信的反馈；同一预警有多条研判时取最后一条（按反馈时间），处置时间取第一条“已处置”。",
          "- 准确率 = 确认 ÷（确认 + 误报），只计有研判结论的预警；无研判时记为“—”。",
          "- 图表 PDF：charts.pdf；全部数字另见 report.json。"]
    if font_name is None:
        L.append("- 本机未安装中文字体（`fc-list :lang=zh` 为空），图表标签改用英文与代码：区用“按区”表中的代码，"
                 "信号用信号代码（对照见“按信号”表）。安装 fonts-noto-cjk 或以 `--font 字体文件` 重新生成即可显示中文。")
    else:
        L.append(f"- 图表字体：{font_name}。")
    missing = [c for c in CHARTS if c not in charts]
    if missing:
        L.append(f"- 未生成的图表：{', '.join(missing)}")
    return "\n".join(L) + "\n"
