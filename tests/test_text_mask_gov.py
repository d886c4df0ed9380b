"""Issue 11, defect 2: third-party names, invisible/full-width characters, Chinese-numeral phones,
QQ numbers — examples, the real government messages, and the ``warning text mask`` command."""

from __future__ import annotations

import collections
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from warning.core.text import find_pii_leaks, mask_pii
from warning.core.text.entity import entities

ROOT = Path(__file__).resolve().parents[1]
GOV = ROOT.parent / "shared" / "data" / "gov"


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


# ------------------------------------------------------------------------ third-party names
# the examples of issue 11 (X stands for a character the issue left out; a name redacted like
# that at the source is still a name), then invented ones of the same shapes
@pytest.mark.parametrize(
    "text, expected",
    [
        ("看诊的何X高医生安排我做了抽血", "看诊的何**医生安排我做了抽血"),
        ("期间，李X少同志于2008年任职", "期间，李**同志于2008年任职"),
        ("为老百姓办实事的人。请求人：肖X梁", "为老百姓办实事的人。请求人：肖**"),
        ("教师代表人基本情况乐X逵，男", "教师代表人基本情况乐**，男"),
        ("锦绣家园业主高X晓（联系电话：0000", "锦绣家园业主高**（联系电话：0000"),
        ("有些人临时挂别人学校参评，檀市中学陈X，学生喝农药", "有些人临时挂别人学校参评，檀市中学陈*，学生喝农药"),
        ("我叫王元芳，", "我叫王**，"),
        # invented, same shapes
        ("看诊的刘德春医生说没事", "看诊的刘**医生说没事"),
        ("任命赵卫东同志为科长", "任命赵**同志为科长"),
        ("请求人：孙丽梅，", "请求人：孙**，"),
        ("代表情况：郑小龙，男，45岁", "代表情况：郑**，男，45岁"),
        ("第三中学吴建华，", "第三中学吴**，"),
        ("股东为罗x雄（持股99）", "股东为罗**（持股99）"),
        ("乡长何波中，期间", "乡长何**，期间"),
        ("关于李春林等同志的任职通知", "关于李**等同志的任职通知"),
    ],
)
def test_third_party_names_are_masked(text, expected):
    masked, counts = mask_pii(text)
    assert masked == expected
    assert counts["name"] >= 1
    assert mask_pii(masked)[0] == masked  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "朝阳区海淀区人民政府高度重视，",
        "王府井大街的文明城市建设",
        "请物业经理尽快处理，医生护士都很辛苦",
        "全体老师和学生，高级经理，任课老师",
        "做了X光检查，关于x线的报告",
        "男女比例失调，业主利益受损",
        "申请人：物业公司，",
        "投诉人：市民，",
        "安全第一，文明出行，和谐社区",
        "2019年x月x日",
        "他扬言要跳楼，还说要去政府门口拉横幅",
    ],
)
def test_ordinary_words_stay(text):
    masked, counts = mask_pii(text)
    assert masked == text
    assert not nonzero(counts)


# names that still passed the masker in the hand check of surviving names (invented names of the
# same shapes): after a role word running straight into a verb, with a third character from the
# longer stop list, listed beside names already masked
@pytest.mark.parametrize(
    "text, expected",
    [
        ("正处级干部赵明再侵占国有资产", "正处级干部赵*再侵占国有资产"),
        ("原股东钱志刚拿走两千万", "原股东钱**拿走两千万"),
        ("疑似实际控制人于涛跑路！", "疑似实际控制人于*跑路！"),
        ("水站管理员蒋平外负责抽水", "水站管理员蒋*外负责抽水"),
        ("地价上涨，罗兆先与施工方是亲戚", "地价上涨，罗**与施工方是亲戚"),
        ("近日，该店辞退了钟阳付，", "近日，该店辞退了钟**，"),
        ("如果钟烨皓在外经商办企业", "如果钟**在外经商办企业"),
        ("会计杨*(杨**之女)、常欣(杨*之妹)、吕**", "会计杨*(杨**之女)、常*(杨*之妹)、吕**"),
        ("分别为：2、吕**888万元。3、韩东112万元", "分别为：2、吕**888万元。3、韩*112万元"),
        ("我（邓会）和丈夫在店里", "我（邓*）和丈夫在店里"),
        # a two-character name found with a context is masked at its other mentions too
        ("向办案民警钱骏反映，钱骏不仅不理", "向办案民警钱*反映，钱*不仅不理"),
        ("参与集资的有李*、汤**、常威、彭*）", "参与集资的有李*、汤**、常*、彭*）"),
        ("参与集资的有李*、汤**、龙平和、彭*）", "参与集资的有李*、汤**、龙**、彭*）"),
    ],
)
def test_names_after_roles_and_in_lists_are_masked(text, expected):
    masked, counts = mask_pii(text)
    assert masked == expected
    assert counts["name"] >= 1
    assert mask_pii(masked)[0] == masked


def test_names_listed_without_separators_are_masked():
    masked, _ = mask_pii("业主签名：刘*曾**熊疆郝谊唐**")
    assert masked.startswith("业主签名：刘*曾**熊*郝*")
    assert "疆" not in masked and "谊" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "请书记于百忙之中抽空",
        "城管楚龙中队执法",
        "乡村民宿元素",
        "负责人彭总答复",
        "教师师德师风建设",
        "王*林与刘*星于2002年",
        "离居民区太远",
        "由开发商金旺置业开发",
        "业主代表与村民和居民",
        "经理马上处理，民警高度重视，股东大会决议",
        "尊敬的蒋厅长：史上最严城管，地铁南横线，",
        "（高铁）（全部）（文综）1、安全2、周边3、高度4",
        "考生为莫同学、王*、段婆婆、李*",
        "我和李明天在家，王小姐在家，张三家在这",
    ],
)
def test_role_and_list_rules_leave_ordinary_words(text):
    masked, counts = mask_pii(text)
    assert masked == text
    assert not counts["name"]


def test_masked_names_stay_out_of_entities():
    masked = mask_pii("有些人临时挂别人学校参评，檀市中学陈X，学生喝农药")[0]
    assert all("*" not in e and "陈" not in e for e in entities(masked))


# ------------------------------------------------------------------------ normalisation, numbers
@pytest.mark.parametrize(
    "text, expected, kinds",
    [
        ("电话138\u200b1234\u200b5678", "电话138****5678", {"mobile": 1}),
        ("电话\ufeff138\u200c1234\u20605678。", "电话138****5678。", {"mobile": 1}),
        ("手机１３８１２３４５６７８", "手机138****5678", {"mobile": 1}),
        ("电话一三八一二三四五六七八", "电话一三八****五六七八", {"mobile": 1}),
        ("打幺三九 一二三四 五六七八", "打幺三九****五六七八", {"mobile": 1}),
        ("QQ：12345678", "QQ：12****78", {"im_account": 1}),
        ("我的qq号是987654321，", "我的qq号是98*****21，", {"im_account": 1}),
        ("扣扣 2345678", "扣扣 *****78", {"im_account": 1}),
        ("加q号：123456", "加q号：****56", {"im_account": 1}),
        ("ＱＱ：１２３４５６７８", "QQ：12****78", {"im_account": 1}),
        ("微信号：zhang_san88", "微信号：z**********", {"im_account": 1}),
    ],
)
def test_normalised_and_other_numbers(text, expected, kinds):
    masked, counts = mask_pii(text)
    assert masked == expected
    assert nonzero(counts) == kinds
    assert mask_pii(masked) == (masked, dict.fromkeys(counts, 0))


@pytest.mark.parametrize(
    "text",
    ["一二三四五六七八九十", "二〇一九年十二月", "第一二三四五六组", "QQ音乐很好用", "微信支付", "小区有三四百户"],
)
def test_numbers_that_are_not_contacts_stay(text):
    assert mask_pii(text) == (text, dict.fromkeys(mask_pii("")[1], 0))


# ------------------------------------------------------------------------ real data


def _gov_texts() -> list[str]:
    from samples import gov_texts

    return gov_texts(GOV)


@pytest.mark.skipif(not (GOV / "messages_a.csv").is_file(), reason="shared gov data not present")
def test_gov_names_found_by_the_tagger_mostly_masked():
    """On a fixed sample of 400 government texts: names masked, and what jieba's tagger (an
    independent count: ``nr``, 2–4 characters, starting with a surname) still finds afterwards.

    Measured (bench/mask_gov.py has the whole corpus): 52 names masked in 27 texts (the masker
    before issue 11: 7 in 7); 3-character ``nr`` words 113 before, 101 after — most of those the
    tagger finds are no names (许可证, 高新区, 胡书记), see the hand check in the README."""
    import random

    sys.path.insert(0, str(ROOT / "bench"))
    from mask_gov import person_names

    texts = _gov_texts()
    sample = random.Random(7).sample(texts, 400)
    results = [mask_pii(t) for t in sample]
    masked = [m for m, _ in results]
    names = sum(c["name"] for _, c in results)
    before = collections.Counter(len(w) for t in sample for _, w in person_names(t))
    after = collections.Counter(len(w) for m in masked for _, w in person_names(m))
    print(f"\nnames masked={names} nr before={dict(before)} after={dict(after)}")
    assert names >= 40
    assert before[3] > 80  # the texts do name people
    assert after[3] <= 0.92 * before[3]
    assert all(not find_pii_leaks(m) for m in masked)


# ------------------------------------------------------------------------ the command


def test_cli_mask_with_cliRunner():
    from warning.cli import cli

    text = "我叫张小明，电话13812345678\n看诊的何X高医生说\n\n138\u200b1234\u200b5678"
    res = CliRunner().invoke(cli, ["text", "mask"], input=text.encode("utf-8"))
    assert res.exit_code == 0, res.output
    assert res.output == "我叫张**，电话138****5678\n看诊的何**医生说\n\n138****5678"
    assert "张小明" not in res.output and "13812345678" not in res.output


def test_cli_mask_subprocess_keeps_line_count_and_prints_no_personal_data():
    lines = ["我叫张小明，电话13812345678", "请求人：肖X梁", "", "QQ：12345678", "普通文本没有个人信息", "乐X逵，男"] * 50
    data = ("\n".join(lines) + "\n").encode("utf-8") + b"\xff\xfe bad bytes\n"
    exe = Path(sys.executable).with_name("warning")
    cmd = [str(exe), "text", "mask", "--stats"] if exe.is_file() else [sys.executable, "-m", "warning", "text", "mask", "--stats"]
    res = subprocess.run(cmd, input=data, capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")
    out = res.stdout.decode("utf-8").split("\n")
    assert out[-1] == "" and len(out) - 1 == len(lines) + 1
    assert out[:6] == ["我叫张**，电话138****5678", "请求人：肖**", "", "QQ：12****78", "普通文本没有个人信息", "乐**，男"]
    assert out[-2] == "\ufffd\ufffd bad bytes"
    for secret in ("张小明", "13812345678", "肖X梁", "12345678", "乐X逵"):
        assert secret not in res.stdout.decode("utf-8") and secret not in res.stderr.decode("utf-8", "replace")
    assert "name=" in res.stderr.decode("utf-8")
