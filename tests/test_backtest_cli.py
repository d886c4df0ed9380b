"""`warning backtest` as a user runs it (progress bar on): DESIGN.md's CLI and report contract."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from warning.cli import cli

REPORT_KEYS = {"recall", "precision", "false_alerts_per_street_30d", "median_lead_hours", "n_incidents",
               "n_alerts", "by_kind"}


def test_backtest_cli_with_progress_bar_writes_alerts_and_report(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    runner = CliRunner()
    res = runner.invoke(cli, ["simulate", "--start", "2025-03-01", "--days", "4", "--seed", "5", "--scale", "0.05",
                              "--out", str(sim), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = tmp_path / "bt"
    res = runner.invoke(cli, ["backtest", "--input", str(sim / "events.jsonl"), "--labels", str(sim / "labels.jsonl"),
                              "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    alerts = [orjson.loads(x) for x in (out / "alerts.jsonl").read_bytes().splitlines()]
    report = orjson.loads((out / "report.json").read_bytes())
    assert REPORT_KEYS <= set(report)
    assert report["n_incidents"] == len((sim / "labels.jsonl").read_bytes().splitlines()) > 0
    assert alerts and all(a["status"] in ("firing", "resolved") for a in alerts)
    for kind, row in report["by_kind"].items():
        assert {"recall", "median_lead_hours", "n_incidents"} <= set(row), kind
    # the rules need no warm-up: the extreme threats of these four days are caught
    threats = [i for i in report["incidents"] if i["kind"] == "extreme_threat"]
    assert threats and all(i["caught"] and i["first_level"] in ("orange", "red") for i in threats)
