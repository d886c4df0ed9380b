"""`warning backtest --sweep` and `report.html` (issue 13, item 5).

A sweep does the text work once and replays the enriched events per value: each row must equal a
separate backtest run with that setting in its config. ``report.html`` is one self-contained,
escaped page. The input is a small simulated city (克拉玛依市, 16 streets) so every run takes
seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from warning.backtest import html_report
from warning.backtest.sweep import METRICS, SweepError, plan
from warning.cli import cli
from warning.config import load_settings

REGION = 'region:\n  code: "650200"\n'
VALUES = ("4.5", "7")  # detect.thresholds.yellow (the default is 5)


def _config(path: Path, yellow: str | None = None) -> Path:
    text = REGION
    if yellow is not None:
        text += f"detect:\n  thresholds: {{blue: 4, yellow: {yellow}, orange: 8, red: 12}}\n"
    path.write_text(text, encoding="utf-8")
    return path


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sweep_sim")
    cfg = _config(d / "small.yaml")
    res = _invoke("simulate", "--config", str(cfg), "--start", "2025-03-01", "--days", "3", "--seed", "3",
                  "--scale", "0.01", "--incidents-per-week", "10", "--out", str(d), "--quiet")
    assert res.exit_code == 0, res.output
    return d


def _backtest(sim: Path, out: Path, cfg: Path, *extra: str) -> object:
    res = _invoke("backtest", "--config", str(cfg), "--input", str(sim / "events.jsonl"), "--labels",
                  str(sim / "labels.jsonl"), "--out", str(out), "-q", *extra)
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def swept(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("swept")
    res = _backtest(sim, out, sim / "small.yaml", "--sweep", "detect.thresholds.yellow=" + ",".join(VALUES),
                    "--keep-events")
    return out, res.stdout


def _metrics(report: dict) -> dict:
    return {k: report[k] for k in METRICS}


def test_sweep_rows_equal_separate_backtests(sim: Path, swept: tuple[Path, str], tmp_path: Path) -> None:
    out, stdout = swept
    sweep = orjson.loads((out / "sweep.json").read_bytes())
    assert sweep["keys"] == ["detect.thresholds.yellow"]
    assert [r["settings"] for r in sweep["rows"]] == [{"detect.thresholds.yellow": v} for v in VALUES]
    # the configured settings' row is the run's own report
    assert {k: sweep["baseline"][k] for k in METRICS} == _metrics(orjson.loads((out / "report.json").read_bytes()))
    for v, row in zip(VALUES, sweep["rows"]):
        sep = tmp_path / f"yellow_{v}"
        _backtest(sim, sep, _config(tmp_path / f"y{v}.yaml", v))
        assert {k: row[k] for k in METRICS} == _metrics(orjson.loads((sep / "report.json").read_bytes())), v
    # the setting matters here, so equal rows prove something
    assert len({tuple(r[k] for k in METRICS) for r in sweep["rows"]}) == len(VALUES)
    # table on stdout, files next to it
    assert "召回率 recall" in stdout and "当前配置 current" in stdout and all(v in stdout for v in VALUES)
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "sweep.md").read_text(encoding="utf-8")
    assert "| detect.thresholds.yellow |" in md and "![sweep](sweep.png)" in md


def test_sweep_replays_kept_events_without_text_work(sim: Path, swept: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = swept
    events = out / "events.enriched.jsonl"
    assert events.is_file()  # --keep-events
    again = tmp_path / "again"
    res = _invoke("backtest", "--config", str(sim / "small.yaml"), "--from-events", "--input", str(events),
                  "--labels", str(sim / "labels.jsonl"), "--out", str(again), "-q",
                  "--sweep", "detect.thresholds.yellow=" + ",".join(VALUES))
    assert res.exit_code == 0, res.output
    first = orjson.loads((out / "sweep.json").read_bytes())
    second = orjson.loads((again / "sweep.json").read_bytes())
    strip = lambda rows: [{k: r[k] for k in (*METRICS, "settings")} for r in rows]  # noqa: E731
    assert strip(second["rows"]) == strip(first["rows"])
    assert (again / "alerts.jsonl").read_bytes() == (out / "alerts.jsonl").read_bytes()
    assert events.is_file()  # the input is never removed
    assert not (again / "events.enriched.jsonl").exists()


def _external_refs(page: str) -> list[str]:
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    return [r for r in refs if not (r.startswith("#") or r.startswith("data:image/png;base64,"))]


def test_report_html_self_contained_with_incidents(sim: Path, swept: tuple[Path, str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    _backtest(sim, plain, sim / "small.yaml")
    # the sweep's configured run (text once into a file, then the detectors) gives the same alerts
    assert (plain / "alerts.jsonl").read_bytes() == (swept[0] / "alerts.jsonl").read_bytes()
    labels = [orjson.loads(x) for x in (sim / "labels.jsonl").read_bytes().splitlines() if x.strip()]
    raw = [orjson.loads(x) for x in (sim / "events.jsonl").read_bytes().splitlines()]
    personal = {p[k] for r in raw for p in (r.get("caller"), r.get("petitioner"), r.get("reporter")) if p
                for k in ("name", "phone", "id_number") if p.get(k) and len(p[k]) >= 3}
    personal |= {r["address"] for r in raw if r.get("address")}  # exact addresses
    assert personal
    for out, with_sweep in ((plain, False), (swept[0], True)):
        page = (out / "report.html").read_text(encoding="utf-8")
        assert "http://" not in page and "https://" not in page
        assert _external_refs(page) == []
        assert "<script" not in page and "@import" not in page and "url(" not in page
        for heading in ("回测报告", "概要 Summary", "预警分布 Alerts", "每日 Per day", "事件时间线 Incident timelines"):
            assert heading in page, heading
        assert page.count('<section class="incident"') == len(labels) > 0
        assert page.count("<svg") >= len(labels) + 1  # a timeline per incident, alerts per day
        for lab in labels:
            assert lab["street_code"] in page
        assert ('<h2 id="sweep">参数扫描 Sweep' in page) is with_sweep
        assert ("data:image/png;base64," in page) is with_sweep
        assert not any(p in page for p in personal)  # no names, phones, id numbers of the records


def test_bad_sweep_fails_fast_naming_the_key(sim: Path, tmp_path: Path) -> None:
    cases = {
        "detect.tresholds.yellow=4,5": ("detect.tresholds.yellow", "unknown key 'tresholds'"),
        "alerts.false_alert_budget=0.1,-1": ("alerts.false_alert_budget", "invalid value '-1'"),
        "detect.thresholds.yellow=4,20": ("detect.thresholds.yellow", "blue <= yellow <= orange <= red"),
        "ingest.max_text_chars=100,200": ("ingest.max_text_chars", "not a detection setting"),
        "detect.thresholds.yellow": ("detect.thresholds.yellow", "expected KEY=V1,V2"),
    }
    for spec, (key, why) in cases.items():
        out = tmp_path / key
        res = CliRunner().invoke(cli, ["backtest", "--config", str(sim / "small.yaml"), "--input",
                                       str(sim / "events.jsonl"), "--labels", str(sim / "labels.jsonl"),
                                       "--out", str(out), "-q", "--sweep", spec])
        assert res.exit_code == 2, (spec, res.output)
        assert key in res.output and why in res.output, (spec, res.output)
        assert not (out / "alerts.jsonl").exists()  # failed before running anything
    res = CliRunner().invoke(cli, ["backtest", "--input", str(sim / "events.jsonl"), "--out", str(tmp_path / "nl"),
                                   "-q", "--sweep", "alerts.false_alert_budget=0.05,0.2"])
    assert res.exit_code == 2 and "--sweep needs --labels" in res.output, res.output


def test_sweep_grid_and_overrides() -> None:
    s = load_settings(None, env={})
    points = plan(s, ["alerts.false_alert_budget=0.05,0.2", "detect.scan_windows_hours=[1,24],[1,6,24,72]",
                      "detect.signal_thresholds.slow_buildup.yellow=4.5"])
    assert len(points) == 4
    p = points[1]
    assert p.assign == {"alerts.false_alert_budget": "0.05", "detect.scan_windows_hours": "[1,6,24,72]",
                        "detect.signal_thresholds.slow_buildup.yellow": "4.5"}
    assert p.settings.alerts.false_alert_budget == 0.05 and p.settings.detect.scan_windows_hours == [1, 6, 24, 72]
    assert p.settings.detect.thresholds_for("slow_buildup").yellow == 4.5
    assert s.alerts.false_alert_budget == 0.1 and s.detect.thresholds_for("slow_buildup").yellow != 4.5  # unchanged
    with pytest.raises(SweepError, match="given twice"):
        plan(s, ["alerts.false_alert_budget=0.05", "alerts.false_alert_budget=0.2"])
    with pytest.raises(SweepError, match="detect.detectors.*unknown detector 'nope'"):
        plan(s, ["detect.detectors=[volume],[nope]"])


def test_html_escapes_every_text() -> None:
    evil = '<script>alert("x")</script>&'
    report = {
        "recall": 0.5, "precision": 1.0, "false_alerts_per_street_30d": 0.0, "median_lead_hours": 1.0,
        "median_lead_hours_ramped": None, "n_incidents": 1, "n_caught": 1, "n_alerts": 1, "n_false_alerts": 0,
        "n_streets": 16, "days": 3.0, "by_kind": {evil: {"recall": 1.0, "n_caught": 1, "n_incidents": 1,
                                                         "median_lead_hours": 1.0, "median_lead_hours_ramped": None}},
        "incidents": [{"street_code": "650202001", "kind": evil, "start": "2025-03-02T10:00:00+08:00",
                       "end": "2025-03-02T18:00:00+08:00", "peak": "2025-03-02T14:00:00+08:00", "min_level": None,
                       "caught": True, "first_alert": "2025-03-02T13:00:00+08:00", "first_level": "yellow",
                       "first_signal": evil, "lead_hours": 1.0}],
    }
    alerts = [{"alert_id": "a1", "status": "firing", "level": "yellow", "signal": evil, "street_code": "650202001",
               "street_name": evil, "district": evil, "starts_at": "2025-03-02T13:00:00+08:00", "observed": 5.0,
               "expected": 1.0, "score": 0.5, "summary_zh": evil, "sample_texts": ["电话13812345678 " + evil]}]
    series = {"650202001": [(1740880800.0 + i * 3600.0, float(i % 4), 1.5) for i in range(48)]}
    page = html_report.render(report, alerts, series=series, names={"650202001": (evil, evil)},
                              meta={evil: evil})
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert "13812345678" not in page  # sample texts are not shown at all
    assert "<polyline" in page  # the expected series is drawn
