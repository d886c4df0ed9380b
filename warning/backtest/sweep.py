"""Sweeps: one backtest's enriched events replayed under several detection settings.

``warning backtest … --labels F --sweep KEY=V1,V2,…`` does the text work once (the accepted
events go to an enriched-event file, :func:`warning.backtest.runner.enrich_to_file`) and replays
that file through the detectors once per value (:func:`warning.backtest.runner.run_events`), each
time with a copy of the validated settings where ``KEY`` (a dotted key, as in the YAML) is set to
the value. Every replay is scored against the labels exactly as a separate backtest would be
(:func:`warning.backtest.report.score`), so a row equals ``warning backtest`` run with that
setting in the config.

``--sweep`` may be given more than once: the runs are the grid of all combinations.

Only keys the replay of enriched events can vary are allowed — ``detect.*``, ``alerts.*``,
``windows.max_buffered`` and ``kafka.partitions``; anything that changes ingest or the text work
(``ingest.*``, ``text.*``, ``feeds.*``, ``region.*``) would be silently ignored by the replay, so it
is refused.

>>> from warning.config import Settings
>>> key, values = parse_sweep("alerts.false_alert_budget=0.05,0.1,0.2")
>>> key, values
('alerts.false_alert_budget', ['0.05', '0.1', '0.2'])
>>> override(Settings(), key, "0.05").alerts.false_alert_budget
0.05
>>> override(Settings(), "detect.signal_thresholds.slow_buildup.yellow", "4.5").detect.thresholds_for("slow_buildup").yellow
4.5
>>> try:
...     override(Settings(), "detect.tresholds.yellow", "4")
... except SweepError as e:
...     print(e)
--sweep detect.tresholds.yellow: unknown key 'tresholds' (known: ...
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml
from pydantic import BaseModel, ValidationError

#: prefixes of the settings a replay of enriched events can vary (detection and alert decisions)
SWEEPABLE = ("detect.", "alerts.", "windows.max_buffered", "kafka.partitions")
#: the metrics each run reports (keys of :func:`warning.backtest.report.score`)
METRICS = ("recall", "false_alerts_per_street_30d", "median_lead_hours", "median_lead_hours_ramped", "precision",
           "n_alerts", "n_caught", "n_incidents", "n_false_alerts")
#: a grid of more runs than this is refused (each is a full replay of the detectors)
MAX_RUNS = 64


class SweepError(ValueError):
    """A ``--sweep`` that cannot run: bad syntax, unknown key, invalid value (names the key)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"--sweep {key}: {message}")


# ---------------------------------------------------------------------- parsing
def split_values(text: str) -> list[str]:
    """Split ``V1,V2,…`` on commas outside brackets/braces/quotes (so a list value such as
    ``[1,6,24]`` stays one value).

    >>> split_values("0.05, 0.1,[1,6,24],{a: 1, b: 2},'x,y'")
    ['0.05', '0.1', '[1,6,24]', '{a: 1, b: 2}', "'x,y'"]
    """
    out: list[str] = []
    depth, quote, cur = 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_sweep(spec: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2,…`` → (key, raw values); no check of the key yet (see :func:`override`)."""
    key, sep, rest = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(spec, "expected KEY=V1,V2,… (e.g. alerts.false_alert_budget=0.05,0.1,0.2)")
    values = split_values(rest)
    if not rest.strip() or any(v == "" for v in values):
        raise SweepError(key, f"expected KEY=V1,V2,… with no empty value, got {rest!r}")
    if len(set(values)) != len(values):
        raise SweepError(key, f"a value is repeated: {rest!r}")
    return key, values


# ---------------------------------------------------------------------- settings override
def _known(obj: Any) -> list[str]:
    if isinstance(obj, BaseModel):
        return list(type(obj).model_fields)
    if isinstance(obj, Mapping):
        return [str(k) for k in obj]
    return []


def _dict_key(d: Mapping[Any, Any], part: str) -> Any:
    """The key of ``d`` that ``part`` names (dicts with int keys, e.g. ``group_petition_levels``)."""
    if part in d:
        return part
    for k in d:
        if str(k) == part:
            return k
    if d and all(isinstance(k, int) for k in d):
        try:
            return int(part)
        except ValueError:
            pass
    return part


def _parse_value(raw: str, current: Any) -> Any:
    """A YAML scalar/collection, except that a string setting keeps the literal text."""
    if isinstance(current, str):
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def override(settings: Any, key: str, raw: str) -> Any:
    """A copy of ``settings`` (a validated :class:`warning.config.Settings`) with the dotted ``key``
    set to ``raw`` (parsed as YAML), validated again as a whole; :class:`SweepError` naming the
    key when the key is unknown, not sweepable, or the value invalid. ``settings`` is unchanged."""
    from warning.notify.wiring import KINDS
    from warning.validation import dotted_errors

    parts = key.split(".")
    if not all(parts):
        raise SweepError(key, "empty part in the dotted key")
    top = parts[0]
    if top not in type(settings).model_fields:
        raise SweepError(key, f"unknown key {top!r} (known: {', '.join(type(settings).model_fields)})")
    # walk down to check every part names something, and find the current value
    node: Any = getattr(settings, top)
    for i, part in enumerate(parts[1:], start=1):
        if isinstance(node, BaseModel):
            if part not in type(node).model_fields:
                raise SweepError(key, f"unknown key {part!r} (known: {', '.join(_known(node))})")
            node = getattr(node, part)
        elif isinstance(node, Mapping):
            k = _dict_key(node, part)
            if k not in node:
                if i < len(parts) - 1:
                    raise SweepError(key, f"unknown key {part!r} (known: {', '.join(_known(node)) or 'none'})")
                node = None  # a new entry of a mapping (e.g. alerts.budget_weights.volume)
            else:
                node = node[k]
        else:
            raise SweepError(key, f"{'.'.join(parts[:i])} is a value, not a section")
    if not (key + ".").startswith(SWEEPABLE) and not key.startswith(SWEEPABLE):
        raise SweepError(key, "not a detection setting: a sweep replays the enriched events once, so it can vary only "
                              "detect.*, alerts.*, windows.max_buffered and kafka.partitions (run separate backtests "
                              "for ingest/text/feeds settings)")
    value = _parse_value(raw, node)
    section = getattr(settings, top)
    data = section.model_dump() if isinstance(section, BaseModel) else {
        k: (v.model_dump() if isinstance(v, BaseModel) else v) for k, v in section.items()}
    cur = data
    for part in parts[1:-1]:
        cur = cur[_dict_key(cur, part)]
    cur[_dict_key(cur, parts[-1])] = value
    new = settings.model_copy(deep=True)
    try:
        setattr(new, top, data)  # validate_assignment: the field and the model-level checks run again
    except ValidationError as e:
        problems = "; ".join(f"{k}: {m}" for k, m in dotted_errors(e, tags=KINDS))
        raise SweepError(key, f"invalid value {raw!r} ({problems})") from None
    return new


# ---------------------------------------------------------------------- the grid
@dataclass
class Point:
    """One run of a sweep: the values it sets (key → raw value) and the settings it runs with."""

    assign: dict[str, str]
    settings: Any

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.assign.items())


def current_value(settings: Any, key: str) -> Any:
    """The value ``key`` has in ``settings`` (None for a new mapping entry)."""
    node: Any = settings
    for part in key.split("."):
        if isinstance(node, BaseModel):
            node = getattr(node, part)
        elif isinstance(node, Mapping):
            k = _dict_key(node, part)
            node = node.get(k)
        else:
            return None
    if isinstance(node, BaseModel):
        return node.model_dump(mode="json")
    if isinstance(node, (set, frozenset)):
        return sorted(node)
    return node


def plan(settings: Any, specs: Iterable[str]) -> list[Point]:
    """Every combination of the ``--sweep`` specs, each validated before anything runs."""
    axes: list[tuple[str, list[str]]] = []
    for spec in specs:
        key, values = parse_sweep(spec)
        if any(key == k for k, _ in axes):
            raise SweepError(key, "given twice")
        for raw in values:
            override(settings, key, raw)  # fails fast on its own, before the grid multiplies
        axes.append((key, values))
    if not axes:
        return []
    n = 1
    for _, values in axes:
        n *= len(values)
    if n > MAX_RUNS:
        raise SweepError(",".join(k for k, _ in axes), f"{n} runs in the grid; at most {MAX_RUNS}")
    points = []
    for combo in itertools.product(*(values for _, values in axes)):
        s = settings
        assign = {}
        for (key, _), raw in zip(axes, combo):
            s = override(s, key, raw)
            assign[key] = raw
        points.append(Point(assign, s))
    return points


# ---------------------------------------------------------------------- running
def accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (the runner's optional ``watch``/``jobs``)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def watch_kw(fn: Callable[..., Any], watch: set[str] | None) -> dict[str, Any]:
    """``{"watch": watch}`` when ``fn`` (a runner entry point) takes it and there is something to
    watch, else ``{}`` — the labelled streets' hourly series for report.html."""
    return {"watch": set(watch)} if watch and accepts(fn, "watch") else {}


def base_run(settings: Any, lines: Any, events_path: Path, *, from_events: bool = False, start: float | None = None,
             end: float | None = None, enricher: Any = None, progress: Any = None, jobs: int = 1,
             watch: set[str] | None = None, bar: Callable[[str, int | None], Any] | None = None,
             input_done: Callable[[], Any] | None = None) -> tuple[list[Any], Any, Path, bool]:
    """The configured settings' run of a sweep, leaving the enriched events in a file every value
    replays: ``(alerts, stats, events file, whether this wrote it)`` — the alerts :func:`warning.backtest.runner.run` (raw
    input) or ``run_events`` (``from_events``) gives over ``lines``.

    Raw input: the text work once (:func:`warning.backtest.runner.enrich_to_file`, ``progress``
    over the input) into ``events_path``, then the detectors over it. Enriched events from a file
    are replayed where they are; from elsewhere (the events topic) they are copied to
    ``events_path`` first. ``input_done()`` is called when the input is read (closes its progress
    bar); ``bar(desc, total)`` makes a progress bar for the replay (or None)."""
    from warning.backtest.runner import enrich_to_file

    ing = None
    written = True
    if from_events and isinstance(getattr(lines, "path", None), Path):
        events_path, written = lines.path, False
    elif from_events:
        copy_lines(lines, events_path, progress)
    else:
        ing = enrich_to_file(settings, lines, events_path, start, end, enricher=enricher, progress=progress)
    if input_done is not None:
        input_done()
    alerts, stats = replay(settings, events_path, start, end, jobs=jobs, watch=watch, ingest_stats=ing,
                           bar=bar, desc="detect")
    return alerts, stats, events_path, written


def copy_lines(lines: Iterable[bytes], path: Path, progress: Any = None) -> None:
    """Write ``lines`` (enriched-event records) to ``path`` as JSONL (atomically)."""
    import os

    tmp = path.with_name(path.name + ".tmp")
    read = getattr(lines, "read", None)
    it = read(progress, None) if read is not None else iter(lines)
    with open(tmp, "wb") as f:
        for line in it:
            f.write(line + b"\n")
    os.replace(tmp, path)


def replay(settings: Any, events_path: Path, start: float | None = None, end: float | None = None, jobs: int = 1,
           watch: set[str] | None = None, ingest_stats: Any = None, bar: Callable[[str, int | None], Any] | None = None,
           desc: str = "") -> tuple[list[Any], Any]:
    """:func:`warning.backtest.runner.run_events` over an enriched-event file (``watch`` passed on
    when the runner takes it); with ``ingest_stats`` (the text pass's), the returned stats carry
    its ingest counts and time. ``bar(desc, total bytes)`` makes a progress bar (or None)."""
    from warning.backtest.runner import iter_lines, run_events

    lines = iter_lines(events_path)
    kw = watch_kw(run_events, watch)
    b = bar(desc, lines.total) if bar is not None else None
    try:
        alerts, st = run_events(settings, lines, start, end, progress=b.update if b is not None else None, jobs=jobs, **kw)
    finally:
        if b is not None:
            b.close()
    if ingest_stats is not None:
        for k in ("records", "accepted", "dead_lettered", "duplicates", "out_of_range", "unresolved", "first_ts",
                  "last_ts"):
            setattr(st, k, getattr(ingest_stats, k))
        st.seconds = ingest_stats.seconds + st.seconds
    return alerts, st


def metrics_row(report: Mapping[str, Any]) -> dict[str, Any]:
    """The sweep's metrics out of a :func:`warning.backtest.report.score` report."""
    return {k: report.get(k) for k in METRICS}


@dataclass
class SweepResult:
    """The rows of a sweep (one per point) and the row of the configured settings."""

    keys: list[str]
    baseline: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"keys": self.keys, "baseline": self.baseline, "rows": self.rows, **self.meta}

    def table(self) -> list[list[str]]:
        """The table as text cells (see :func:`table_rows`)."""
        return table_rows(self)


def run_sweep(points: list[Point], events_path: Path, score: Callable[[list[Any]], dict[str, Any]],
              start: float | None = None, end: float | None = None, jobs: int = 1,
              on_done: Callable[[int, Point, dict[str, Any]], None] | None = None,
              bar: Callable[[str, int | None], Any] | None = None) -> list[dict[str, Any]]:
    """Replay the enriched events at ``events_path`` once per point; a row per point: the values
    it set, the metrics of ``score(alerts)``, the count of alerts and the seconds it took.
    ``on_done(i, point, row)`` after each run; ``bar(desc, total)`` a progress bar per run."""
    rows = []
    for i, p in enumerate(points):
        t0 = time.perf_counter()
        alerts, _stats = replay(p.settings, events_path, start, end, jobs=jobs, bar=bar,
                                desc=f"sweep {i + 1}/{len(points)} {p.label}")
        row = {"settings": dict(p.assign), "label": p.label, **metrics_row(score(alerts)),
               "alerts_total": len(alerts), "seconds": round(time.perf_counter() - t0, 2)}
        rows.append(row)
        if on_done is not None:
            on_done(i, p, row)
    return rows


# ---------------------------------------------------------------------- output
def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "—"
    if pct and isinstance(v, (int, float)):
        return f"{v * 100:.1f}%"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


#: the columns of the table: (row key, Chinese head, English head, as percent)
COLUMNS = (
    ("recall", "召回率", "recall", True),
    ("false_alerts_per_street_30d", "误报/街道/30天", "false/street/30d", False),
    ("median_lead_hours", "提前量中位数(h)", "median lead h", False),
    ("median_lead_hours_ramped", "渐进事件提前量(h)", "ramped lead h", False),
    ("precision", "精确率", "precision", True),
    ("n_alerts", "预警数≥黄", "n_alerts", False),
)


def table_rows(result: SweepResult) -> list[list[str]]:
    """The table as text cells: a head row, the configured settings, then one row per point."""
    head = [" / ".join(result.keys)] + [f"{zh} {en}" for _, zh, en, _ in COLUMNS]
    out = [head]
    base = result.baseline
    out.append(["当前配置 current: " + ", ".join(f"{v}" for v in base["settings"].values())]
               + [_fmt(base.get(k), pct) for k, _, _, pct in COLUMNS])
    for r in result.rows:
        out.append([", ".join(r["settings"].values())] + [_fmt(r.get(k), pct) for k, _, _, pct in COLUMNS])
    return out


def format_table(result: SweepResult) -> str:
    """The sweep as an aligned plain-text table (stdout)."""
    from unicodedata import east_asian_width

    def width(s: str) -> int:
        return sum(2 if east_asian_width(c) in "WF" else 1 for c in s)

    rows = table_rows(result)
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        lines.append("  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(result: SweepResult) -> str:
    """``sweep.md``: the table in Markdown with the plot."""
    rows = table_rows(result)
    esc = [[c.replace("|", "\\|") for c in r] for r in rows]
    lines = [f"# 参数扫描 Sweep: {', '.join(result.keys)}", "",
             f"每个取值重放一次已富化事件 — the enriched events replayed once per value "
             f"({result.meta.get('n_incidents')} incidents, {result.meta.get('days')} days, "
             f"{result.meta.get('n_streets')} streets).", "",
             "| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(esc[0])]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    lines += ["", "![sweep](sweep.png)", ""]
    return "\n".join(lines)


def plot(result: SweepResult, path: Path) -> None:
    """``sweep.png``: recall and precision, false alerts per street per 30 days, median lead —
    against the swept values (in the order given), with the configured settings as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from warning.commands.report import setup_font  # the CJK font fallback of the monthly report

    cjk = setup_font() is not None
    xs = list(range(len(result.rows)))
    labels = [", ".join(r["settings"].values()) for r in result.rows]
    base = result.baseline

    def series(k: str) -> list[float]:
        return [float("nan") if r.get(k) is None else r[k] for r in result.rows]

    def t(zh: str, en: str) -> str:
        return f"{zh} {en}" if cjk else en

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    panels = [
        (axes[0], [("recall", t("召回率", "recall"), "#1f77b4"), ("precision", t("精确率", "precision"), "#2ca02c")],
         t("召回率与精确率", "recall & precision"), (0, 1.05)),
        (axes[1], [("false_alerts_per_street_30d", t("误报", "false alerts"), "#d62728")],
         t("每街道每30天误报", "false alerts / street / 30 d"), None),
        (axes[2], [("median_lead_hours", t("提前量中位数", "median lead"), "#ff7f0e"),
                   ("median_lead_hours_ramped", t("渐进事件", "ramped"), "#9467bd")],
         t("提前量中位数 (小时)", "median lead (hours)"), None),
    ]
    for ax, lines, title, ylim in panels:
        for k, name, color in lines:
            ax.plot(xs, series(k), marker="o", color=color, label=name)
            if base.get(k) is not None:
                ax.axhline(base[k], color=color, lw=1, ls=":", alpha=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(xs, labels, rotation=30 if max((len(x) for x in labels), default=0) > 6 else 0,
                      ha="right" if max((len(x) for x in labels), default=0) > 6 else "center", fontsize=8)
        if ylim:
            ax.set_ylim(*ylim)
        else:
            ax.set_ylim(bottom=min([0.0] + [v for k, _, _ in lines for v in series(k) if v == v]))
        if ax is axes[1]:  # the count of alerts >= yellow next to each point
            for xi, r in zip(xs, result.rows):
                if r.get("false_alerts_per_street_30d") is not None:
                    ax.annotate(f"n={r.get('n_alerts')}", (xi, r["false_alerts_per_street_30d"]), fontsize=7,
                                textcoords="offset points", xytext=(0, 6), ha="center")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{t('参数扫描', 'Sweep')}: {', '.join(result.keys)}  ({t('虚线=当前配置', 'dotted = current config')})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep(points: list[Point], settings: Any, report: Mapping[str, Any], events_path: Path,
          score: Callable[[list[Any]], dict[str, Any]], out_dir: Path, start: float | None = None,
          end: float | None = None, jobs: int = 1, bar: Callable[[str, int | None], Any] | None = None,
          echo: Callable[[str], Any] | None = None) -> SweepResult:
    """Run the points over ``events_path``, score each with ``score`` (the labels, streets and days
    of the configured run's ``report``), write ``sweep.json`` / ``sweep.md`` / ``sweep.png`` into
    ``out_dir``; ``echo`` gets a line per run (stderr in the CLI)."""
    keys = list(points[0].assign)
    result = SweepResult(keys=keys, baseline={"settings": {k: _fmt(current_value(settings, k)) for k in keys},
                                              "label": "current", **metrics_row(report)},
                         meta={"n_incidents": report.get("n_incidents"), "days": report.get("days"),
                               "n_streets": report.get("n_streets")})

    def done(i: int, p: Point, row: dict[str, Any]) -> None:
        if echo is not None:
            echo(f"sweep {i + 1}/{len(points)} {p.label}: recall={row['recall']} precision={row['precision']} "
                 f"false_alerts_per_street_30d={row['false_alerts_per_street_30d']} "
                 f"median_lead_hours={row['median_lead_hours']} n_alerts={row['n_alerts']} ({row['seconds']} s)")

    t0 = time.perf_counter()
    result.rows = run_sweep(points, events_path, score, start, end, jobs=jobs, on_done=done, bar=bar)
    result.meta["seconds"] = round(time.perf_counter() - t0, 1)
    write(result, out_dir)
    return result


def write(result: SweepResult, out_dir: Path) -> None:
    """``sweep.json``, ``sweep.md`` and ``sweep.png`` in ``out_dir``."""
    import orjson

    (out_dir / "sweep.json").write_bytes(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2))
    (out_dir / "sweep.md").write_text(format_markdown(result), encoding="utf-8")
    plot(result, out_dir / "sweep.png")


def tqdm_bar(desc: str, total: int | None) -> Any:
    """A progress bar on stderr in bytes of a file (ETA) or in records."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, unit="B" if total else " rec", unit_scale=True, unit_divisor=1024 if total else 1000,
                file=sys.stderr, mininterval=1.0, desc=desc)


def labelled_outputs(out_dir: Path, settings: Any, report: Mapping[str, Any], alerts: list[Any], stats: Any,
                     score: Callable[[list[Any]], dict[str, Any]], *, points: list[Point] | None = None,
                     events_file: Path | None = None, remove_events: bool = False, start: float | None = None,
                     end: float | None = None, jobs: int = 1, quiet: bool = False,
                     echo: Callable[..., Any] = print, meta: Mapping[str, Any] | None = None) -> SweepResult | None:
    """What ``warning backtest --labels`` writes after ``report.json``: the sweep when ``points``
    (rows on stderr as they finish, the table on stdout, ``sweep.json/md/png``), then
    ``report.html``. ``remove_events``: delete ``events_file`` at the end (the sweep wrote it)."""
    from warning.backtest import html_report

    result = None
    if points:
        assert events_file is not None
        result = sweep(points, settings, report, events_file, score, out_dir, start, end, jobs=jobs,
                       bar=None if quiet else tqdm_bar, echo=lambda line: echo(line, err=True))
        echo(format_table(result))
    html_report.write_run(out_dir, report, alerts, stats, settings, sweep=result, events_file=events_file, meta=meta)
    if remove_events and events_file is not None:
        events_file.unlink(missing_ok=True)
    return result
