"""Chinese rendering: level names, fields, resolved, defensive PII masking, markup neutralised."""

from __future__ import annotations

import pytest

import msgspec

from warning.core.signals import SIGNALS
from warning.notify.render import (
    as_alert, fit, level_title, mask_pii, normalize_level, render_digest, render_markdown, render_plain, safe_text, signal_name,
    title_of, truncate_utf8, Rendered,
)

ALERT = as_alert({
    "alert_id": "5f1c-episode-7", "status": "firing", "level": "red", "signal": "petition_volume",
    "street_code": "110108012", "street_name": "中关村街道", "district": "海淀区",
    "window_start": "2025-06-01T14:00:00+08:00", "window_end": "2025-06-01T15:00:00+08:00",
    "starts_at": "2025-06-01T14:20:00+08:00", "observed": 9, "expected": 1.5, "score": 0.999,
    "summary_zh": "中关村街道 1 小时内信访 9 件（预期 1.5 件）",
    "evidence": {"links": {"看板": "http://127.0.0.1:3000/d/warning?street=110108012"}},
    "sample_texts": ["张某（身份证 11010819900307123X）来访反映欠薪", "联系 +86 139-1234-5678", "第三条", "第四条不应出现"],
})


@pytest.mark.parametrize("level,title", [("blue", "蓝色预警（IV级）"), ("yellow", "黄色预警（III级）"),
                                         ("orange", "橙色预警（II级）"), ("red", "红色预警（I级）"), ("橙", "橙色预警（II级）")])
def test_level_titles(level, title):
    assert level_title(level) == title


def test_plain_text_has_everything_an_operator_needs():
    text = render_plain(ALERT, link_template="http://127.0.0.1:6066/alerts/{alert_id}")
    assert text.splitlines()[0] == "【红色预警（I级）】海淀区 中关村街道 · 信访量异常升高"
    for needle in ("摘要：中关村街道 1 小时内信访 9 件", "观测/预期：9 / 1.50（6.0 倍）", "异常评分：1.00",
                   "统计窗口：2025-06-01 14:00 至 15:00", "开始时间：2025-06-01 14:20", "预警编号：5f1c-episode-7",
                   "查看详情：http://127.0.0.1:6066/alerts/5f1c-episode-7", "看板：http://127.0.0.1:3000/d/warning?street=110108012",
                   "（110108012）"):
        assert needle in text, needle
    assert "[身份证号]" in text and "[手机号]" in text
    assert "11010819900307123X" not in text and "1234-5678" not in text
    assert "第三条" in text and "第四条" not in text  # a few samples only


def test_resolved_is_yi_jie_chu():
    r = msgspec.structs.replace(ALERT, status="resolved", ends_at="2025-06-01T18:00:00+08:00")
    text = render_plain(r)
    assert text.startswith("【已解除】红色预警（I级）") and "解除时间：2025-06-01 18:00" in text
    md = render_markdown(r, "wecom")
    assert "已解除" in md.head[0] and 'color="info"' in md.head[0]


@pytest.mark.parametrize("raw,masked", [
    ("手机13812345678", "手机[手机号]"),
    ("138 1234 5678", "[手机号]"),
    ("8613812345678", "[手机号]"),
    ("编号 2013812345678901234", "编号 2013812345678901234"),  # longer digit runs are not phones
    ("身份证号110101199003071234", "身份证号[身份证号]"),
    ("110101199003071234X", "110101199003071234X"),  # 19 characters: not an ID
    ("工单12345", "工单12345"),
])
def test_mask_pii(raw, masked):
    assert mask_pii(raw) == masked


def test_untrusted_text_cannot_inject_markup():
    s = safe_text("<@all>\n## 标题 [链接](http://x) <font color=\"info\">x</font>")
    assert "<" not in s and ">" not in s and "[" not in s and "\n" not in s


def test_signal_names_come_from_the_catalogue():
    for name, sig in SIGNALS.items():
        assert signal_name(name) == sig.zh
    assert signal_name("brand_new_signal") == "brand_new_signal"
    assert signal_name("<@all>") == "＜@all＞"


def test_title_uses_the_same_words_as_the_summary():
    # hotline_category: the robots said "12345热线" while summary_zh said "同类诉求集中激增"
    a = msgspec.structs.replace(ALERT, signal="hotline_category", summary_zh="【红色预警】海淀区中关村街道：同类诉求集中激增。")
    assert title_of(a).endswith("· 同类诉求集中激增")
    assert "同类诉求集中激增" in render_markdown(a, "wecom").head[1]


@pytest.mark.parametrize("alias,level", [("蓝", "blue"), ("黄色", "yellow"), ("II", "orange"), ("ii级", "orange"),
                                         ("1", "red"), ("4", "blue"), ("RED", "red")])
def test_level_aliases(alias, level):
    assert normalize_level(alias) == level
    with pytest.raises(ValueError):
        normalize_level("purple")


def test_as_alert_is_the_one_adapter():
    assert as_alert(ALERT) is ALERT
    assert as_alert(ALERT.to_dict()) == ALERT
    with pytest.raises(msgspec.ValidationError):
        as_alert({"alert_id": "x"})


def test_digest_and_fit():
    alerts = ([msgspec.structs.replace(ALERT, alert_id=f"a{i}", level=lv) for i, lv in enumerate(["blue", "red", "yellow"])]
              + [msgspec.structs.replace(ALERT, status="resolved")])
    r = render_digest(alerts, "plain")
    assert r.head[0].startswith("另有 4 条预警：红色 1，黄色 1，蓝色 1，已解除 1")
    assert r.body[0].startswith("- 🔴 红色") and r.body[-1].startswith("- ✅ 已解除")
    big = Rendered("t", ["头"], [f"第{i}行" + "字" * 50 for i in range(100)], ["尾"])
    out = fit(big, 1000, extra_tail=["<@u>"])
    assert len(out.encode()) <= 1000 and out.endswith("尾\n<@u>") and "行未显示）" in out
    assert truncate_utf8("预警", 4) == "预" and truncate_utf8("ab", 10) == "ab"
