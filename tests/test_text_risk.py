"""Risk terms: lexicon, matching, negation / questions / quotes, masked contexts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from warning.core.text import TextEnricher
from warning.core.text.risk import Lexicon, RiskMatcher, packaged_lexicon_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CATEGORIES = ["极端/人身", "群体/聚集", "情绪/升级", "维权/经济", "公共安全", "民生急难"]


@pytest.fixture(scope="module")
def matcher() -> RiskMatcher:
    return RiskMatcher(Lexicon.default())


def hits(matcher: RiskMatcher, text: str) -> dict[str, int]:
    return matcher.match(text)["hits"]


# ------------------------------------------------------------------------------------ lexicon


def test_lexicon_is_rich_and_valid():
    lex = Lexicon.load(ROOT / "configs" / "lexicon.yaml")
    assert list(lex.categories) == CATEGORIES
    for cat in CATEGORIES:
        terms = [t for t, (c, _) in lex.terms.items() if c == cat]
        assert len(terms) >= 40, (cat, len(terms))
    assert all(0.0 <= w <= 1.0 for _, w in lex.terms.values())
    for term in ("自杀", "跳楼", "集体上访", "拉横幅", "讨薪", "烂尾", "燃气泄漏", "持刀", "停暖", "电梯困人"):
        assert term in lex.terms


def test_packaged_copy_matches_configs():
    assert packaged_lexicon_text() == (ROOT / "configs" / "lexicon.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"categories": {"A": {"terms": {"x": 1.5}}}}, "categories.A.terms"),
        ({"categories": {"A": {"weight": -1, "terms": {}}}}, "categories.A.weight"),
        ({"categories": {"A": {"terms": {"x": 1}}, "B": {"terms": {"x": 1}}}}, "'x' is in both"),
        ({"categories": {"A": {"terms": {}}}, "negation": {"max_gap": "far"}}, "negation.max_gap"),
        ({"categoriez": {}}, "categories"),
    ],
)
def test_bad_lexicon_names_the_key(data, message):
    with pytest.raises(ValueError, match=message):
        Lexicon.from_dict(data)


def test_custom_lexicon_file_via_config(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text(yaml.safe_dump({"categories": {"测试": {"weight": 0.3, "terms": {"噪音": None, "扰民": 0.6}}}}, allow_unicode=True), encoding="utf-8")
    enricher = TextEnricher.from_config({"lexicon": str(path)})
    r = enricher.enrich("楼下夜里噪音扰民").risk
    assert r["hits"] == {"测试": 2} and r["max_weight"] == 0.6
    with pytest.raises(ValueError, match="text.lexicon"):
        TextEnricher.from_config({"lexicon": str(tmp_path / "missing.yaml")})


# ------------------------------------------------------------------------------------ matching


def test_hits_weights_terms(matcher):
    r = matcher.match("工地拖欠工资半年，工友们说再不给钱就去政府门口拉横幅，还有人扬言要跳楼")
    assert r["hits"] == {"维权/经济": 1, "群体/聚集": 3, "极端/人身": 1}
    assert r["max_weight"] == 1.0
    assert r["negated"] == 0
    assert [t["term"] for t in r["terms"]] == ["拖欠工资", "工友们", "政府门口", "拉横幅", "跳楼"]
    assert all(set(t) == {"term", "category", "weight", "context"} for t in r["terms"])


def test_longest_match_wins(matcher):
    r = matcher.match("开发商卷款跑路了")
    assert [t["term"] for t in r["terms"]] == ["卷款跑路"]
    assert r["hits"] == {"维权/经济": 1}


def test_empty_and_plain_text(matcher):
    empty = {"hits": {}, "max_weight": 0.0, "terms": [], "negated": 0}
    assert matcher.match("") == empty
    assert matcher.match("请问社保卡在哪里办理") == empty


@pytest.mark.parametrize(
    "text",
    [
        "我不会跳楼的，请放心",
        "他说没有自杀的想法",
        "小区并没有发生火灾",
        "物业要做好防止火灾的工作",
        "经检查未发现燃气泄漏",
        "我们绝不会堵路",
        "本人从未参与集体上访",
        "不存在拖欠工资的情况",
        # hedges: the speaker marks the words as not meant
        "孩子最近压力大，说过不想活了的气话，想咨询附近有没有心理咨询热线",
        "他开玩笑说要跳楼",
    ],
)
def test_negation(matcher, text):
    r = matcher.match(text)
    assert r["hits"] == {}, r
    assert r["negated"] == 1


@pytest.mark.parametrize(
    "text, category",
    [
        ("再不给钱就跳楼", "极端/人身"),  # conditional threat
        ("不解决问题我们就集体上访", "群体/聚集"),
        ("无法讨薪，只能求助", "维权/经济"),  # 无法 is not a negation
        ("不得不拉横幅", "群体/聚集"),  # double negation
        ("我不同意，跳楼也要讨个说法", "极端/人身"),  # the negation is in another clause
        ('他说"再拖下去我就跳楼"', "极端/人身"),  # reported speech still counts
        ("非法集资导致血本无归", "维权/经济"),
    ],
)
def test_not_negated(matcher, text, category):
    r = matcher.match(text)
    assert r["hits"].get(category, 0) >= 1, r


@pytest.mark.parametrize(
    "text",
    [
        '网友问"小区是否发生过火灾"',
        "请问小区是否存在燃气泄漏隐患？",
        "有没有人因为停暖投诉过",
        "难道要等到有人跳楼吗？",
        "根据《关于防止电梯困人的应急预案》执行",
        '所谓"跑路"只是谣言',
    ],
)
def test_questions_and_quotes(matcher, text):
    r = matcher.match(text)
    assert r["hits"] == {}, r
    assert r["negated"] >= 1


@pytest.mark.parametrize("text", ["再不给钱我就跳楼，这不是气话", "他说不想活了，气话也不能这么说"])
def test_hedge_cue_in_another_clause_keeps_the_hit(matcher, text):
    assert matcher.match(text)["hits"] == {"极端/人身": 1}


def test_rhetorical_question_in_a_later_clause_keeps_the_threat(matcher):
    r = matcher.match("再不解决我就在村委会门口点火自焚，老百姓的事就没人当回事吗？")
    assert r["hits"].get("极端/人身") == 1, r
    assert matcher.match("难道要等到有人跳楼吗？")["hits"] == {}


def test_question_only_discounts_its_own_clause(matcher):
    r = matcher.match("请问是否可以补办？楼道里燃气泄漏了")
    assert r["hits"] == {"公共安全": 1}


def test_max_terms_and_context(tmp_path):
    matcher = RiskMatcher(Lexicon.default(), context_chars=2, max_terms=2)
    r = matcher.match("停水停电停暖，停水")
    assert r["hits"] == {"民生急难": 4}
    assert len(r["terms"]) == 2
    assert r["terms"][0]["context"] == "停水停电"


def test_context_is_masked():
    enricher = TextEnricher.from_config({"context_chars": 20})
    sig = enricher.enrich("我叫张小明，电话13812345678要跳楼")
    ctx = sig.risk["terms"][0]["context"]
    assert ctx == "我叫张**，电话138****5678要跳楼"


# ------------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not (SHARED / "gov" / "messages_a.csv").is_file(), reason="shared gov data not present")
def test_gov_messages_sanity(matcher):
    with open(SHARED / "gov" / "messages_a.csv", encoding="utf-8", newline="") as f:
        texts = [row["留言详情"] for row in csv.DictReader(f)]
    totals: dict[str, int] = {}
    negated = flagged = 0
    for text in texts:
        r = matcher.match(text)
        negated += r["negated"]
        flagged += bool(r["hits"])
        for cat, n in r["hits"].items():
            totals[cat] = totals.get(cat, 0) + n
    print(f"\ngov messages={len(texts)} flagged={flagged} hits={totals} negated={negated}")
    assert set(totals) == set(CATEGORIES)
    assert 0.05 < flagged / len(texts) < 0.8
    assert negated > 0
