"""``warning report monthly``: the CLI on a small SQLite history — files, key numbers, fonts."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_history import BJ, Feed, alert, fb
from warning.cli import cli
from warning.history.store import HistoryStore

M = datetime(2025, 3, 1, tzinfo=BJ)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A history of March 2025: 4 alerts (one escalated), 2 confirmed, 1 false alarm, 3 handled."""
    d = tmp_path / "data"
    f = Feed()
    f.alert(alert("m1", level="red", start=M + timedelta(hours=8)))
    f.alert(alert("m2", level="blue", start=M + timedelta(days=3)))
    f.alert(alert("m2", level="orange", start=M + timedelta(days=3), hour=2))
    f.alert(alert("m3", level="yellow", signal="petition_volume", street="110108001", name="万寿路街道",
                  district="海淀区", start=M + timedelta(days=10)))
    f.alert(alert("m4", level="yellow", start=M + timedelta(days=20)))
    f.alert(alert("feb", start=M - timedelta(hours=1)))
    f.fb(fb("m1", "confirmed", M + timedelta(hours=9)))
    f.fb(fb("m1", "handled", M + timedelta(hours=10)))  # 2 h
    f.fb(fb("m2", "false_alarm", M + timedelta(days=3, hours=1)))
    f.fb(fb("m2", "handled", M + timedelta(days=3, hours=4)))  # 4 h
    f.fb(fb("m3", "confirmed", M + timedelta(days=10, hours=1)))
    f.fb(fb("m3", "handled", M + timedelta(days=10, hours=9)))  # 9 h
    f.fb(fb("m4", "false_alarm", M + timedelta(days=21)), trusted=False)
    with HistoryStore.open(f"sqlite:///{d / 'history.sqlite3'}") as s:
        s.apply(f.records)
    return d


def run(args: list[str], data_dir: Path):
    return CliRunner().invoke(cli, args, env={"WARNING_WORKER__DATA_DIR": str(data_dir)}, catch_exceptions=False)


def glyph_warnings(w: list[warnings.WarningMessage]) -> list[str]:
    return [str(x.message) for x in w if "missing from font" in str(x.message)]


def test_monthly_report(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = run(["report", "monthly", "--month", "2025-03", "--out", str(out)], data_dir)
    assert r.exit_code == 0, r.output
    assert glyph_warnings(w) == []  # every label rendered (Chinese with a CJK font, else English/codes)
    for name in ("levels.png", "daily.png", "districts.png", "signals.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / name).stat().st_size > 5000
    assert (out / "charts.pdf").read_bytes()[:5] == b"%PDF-"
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["n_alerts"] == 4 and data["by_level"] == {"blue": 0, "yellow": 2, "orange": 1, "red": 1}
    assert data["verdicts"] == {"confirmed": 2, "false_alarm": 1, "none": 1}
    assert data["handled"]["median_hours"] == 4.0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 社会稳定风险预警月报（2025年3月）")
    assert "预警总数：**4** 条，涉及 2 个街道/乡镇、2 个区" in md
    assert "红色 1 条，橙色 1 条，黄色 2 条，蓝色 0 条" in md
    assert "确认 **2** 条，误报 **1** 条，未研判 1 条" in md and "**66.7%**" in md
    assert "中位数 **4.0 小时**" in md
    assert "另有 1 条未通过签名校验的反馈" in md
    assert "| 朝阳区 | 110105 | 3 | 1 | 1 | 1 | 0 | 1 | 1 | 50.0% |" in md
    assert "| 信访量异常升高 | `petition_volume` | 1 | 1 | 0 | 100.0% |" in md
    assert "| 1 | 建外街道 | 110105001 | 朝阳区 | 3 | 红色预警（I级） | 1 | 1 |" in md
    for name in ("levels.png", "daily.png", "districts.png", "signals.png"):
        assert f"]({name})" in md


def test_without_a_cjk_font_labels_fall_back_to_codes(data_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import warning.commands.report as rep

    monkeypatch.setattr(rep, "_fc_list_zh", lambda: [])
    monkeypatch.setattr(rep, "CJK_FAMILIES", ())
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = CliRunner().invoke(cli, ["report", "monthly", "--month", "2025-03", "--out", str(out)],
                               env={"WARNING_WORKER__DATA_DIR": str(data_dir)}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert glyph_warnings(w) == []  # no empty boxes: nothing Chinese was drawn
    assert "no CJK font" in r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "本机未安装中文字体" in md and "预警总数：**4**" in md


def test_bad_month_and_missing_history(tmp_path: Path, data_dir: Path) -> None:
    r = run(["report", "monthly", "--month", "2025-13", "--out", str(tmp_path / "o")], data_dir)
    assert r.exit_code == 2 and "YYYY-MM" in r.output
    r = run(["report", "monthly", "--month", "2025-03", "--out", str(tmp_path / "o")], tmp_path / "nowhere")
    assert r.exit_code == 1 and "预警历史库不存在" in r.output
    assert not (tmp_path / "nowhere").exists()  # reading a report creates no empty database


def test_empty_month(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(["report", "monthly", "--month", "2024-07", "--out", str(out)], data_dir)
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "预警总数：**0**" in md and "准确率（确认 ÷（确认 + 误报））**—**" in md
