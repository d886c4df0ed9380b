"""The fast paths of the text signals give exactly what the patterns they stand for give (issue 13).

Each fast path (a pattern tried only where its anchor word stands, a rewritten pattern, an
Aho–Corasick pass for an alternation of words, numpy for the tagger's search, a shared n-gram
sort for two sentiment models, a cached anger head) is compared here with the plain form on
random texts built from the words and characters the patterns care about, so an edit to a word
list or a pattern that breaks the equivalence fails here.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from warning.core.text import _names, entity, mask, normalize, person
from warning.core.text.risk import Lexicon

N_TEXTS = 3000


def _fragments() -> list[str]:
    words = list(_names.STRONG_CUES + _names.WEAK_CUES + _names.ROLE_CUES + _names.GIVEN_STOP_WORDS)
    words += list(person.TITLES) + list(person._ORGS) + list(person._ROLES_BEFORE) + list(entity.SUFFIXES)
    words += list(entity._CUTS) + list(entity._DESCRIPTORS) + sorted(entity.GENERIC)[:100] + list(Lexicon.default().terms)[:100]
    words += ["电话", "手机", "身份证", "联系方式", "联系", "方式", "（网格员）", "（", "）", "(", ")", "等3人", "与2名", "男", "女",
              "，男，", "（女，", "某", "X", "x", "Ｘ", "ｘ", "人：", "者:", "员：", "方:", "*", "**", "、", "，", "。", "：", " ",
              "\n", "号楼", "栋", "幢", "座", "号院", "#", "单元", "室", "房间", "层", "12", "3", "501", "２", "三", "十", "A",
              "TEL", "tel", "QQ", "微信", "VX"]
    return words


def _texts(seed: int, n: int = N_TEXTS) -> list[str]:
    rng = random.Random(seed)
    frags = _fragments()
    sur = _names.SINGLE_SURNAMES
    given = "伟芳敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红文斌辉鹏宇浩德春卫东梅龙小先其元和"
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 18)):
            k = rng.random()
            if k < 0.45:
                parts.append(rng.choice(frags))
            elif k < 0.75:
                parts.append(rng.choice(sur) + "".join(rng.choice(given + "X") for _ in range(rng.randint(0, 2))))
            elif k < 0.85:
                parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4))))
            else:
                parts.append(rng.choice("，。、；：！？ （）()*\n的了是在有人我他们这那"))
        out.append("".join(parts))
    return out


TEXTS = _texts(13)


def spans(ms) -> list[tuple]:
    return [(m.span(), m.groups()) for m in ms]


@pytest.mark.parametrize("pattern, family, back", person._RULES)
def test_rules_tried_at_anchors_match_as_finditer(pattern, family, back):
    for t in TEXTS:
        hits = person.Anchors(t)
        assert spans(person._finditer_at(pattern, t, hits.starts(family, back))) == spans(pattern.finditer(t)), t


def test_anchor_families_are_the_hints():
    for t in TEXTS:
        hits = person.Anchors(t)
        assert bool(hits.flags & person.F_HINT) == (person._HINT.search(t) is not None), t
        assert bool(hits.flags & person.F_ROLE) == (person._ROLE_HINT.search(t) is not None), t
        assert bool(hits.flags & person.F_CUE) == (mask._NAME_CUE_HINT.search(t) is not None), t
        assert hits.still(person.F_CONTACT_HINT, t) == (mask._CONTACT_HINT.search(t) is not None), t
        assert spans(person._finditer_at(person._AFTER_ROLE, t, hits.starts(person.F_ROLE))) == spans(person._AFTER_ROLE.finditer(t))
        assert spans(person._finditer_at(mask._NAME_AFTER_CUE, t, hits.starts(person.F_CUE))) == spans(mask._NAME_AFTER_CUE.finditer(t))
        at = hits.starts(person.F_CONTACT_AT, (2, 3, 4))
        assert spans(person._finditer_at(mask._NAME_BEFORE_CONTACT, t, at)) == spans(mask._NAME_BEFORE_CONTACT.finditer(t)), t


def test_anchors_of_a_text_cover_its_masked_forms():
    """Masking stars characters in place: the anchors found before still propose every start."""
    rng = random.Random(5)
    for t in TEXTS[:1000]:
        hits = person.Anchors(t)
        chars = list(t)
        for i in rng.sample(range(len(chars)), k=min(len(chars), 3)):
            chars[i] = "*"
        m = "".join(chars)
        now = person.Anchors(m)
        assert {p for _, p, _ in now.hits} <= {p for _, p, _ in hits.hits}
        assert hits.still(person.F_CONTACT_HINT, m) == (mask._CONTACT_HINT.search(m) is not None)


def test_candidate_starts_and_word_tests():
    for t in TEXTS:
        want = [m.start() for m in person._CAND.finditer(t) if m.group(2) not in person._G1_STOP]
        assert person._cand_starts(t) == want
        for pos in range(len(t) + 1):
            assert person._stop_after(t, pos) == (person._STOP_AFTER.match(t, pos) is not None)
            assert person._place_after(t, pos) == (person._PLACE_AFTER.match(t, pos) is not None)


def test_list_item_pattern():
    rng = random.Random(9)
    alpha = list("、，,；;/ \t（(）)。*\n1a") + list(_names.SINGLE_SURNAMES[:40]) + list("明华伟芳的了一二")
    for _ in range(5000):
        t = "".join(rng.choice(alpha) for _ in range(rng.randint(1, 25)))
        assert spans(person._LIST_ITEM_FAST.finditer(t)) == spans(person._LIST_ITEM.finditer(t)), t


def test_beam_search_with_numpy_equals_the_reference():
    freq, states, tag, wtag = person._tagger()
    import jieba.posseg as posseg

    tables = (posseg.char_state_tab_P, posseg.start_P, posseg.trans_P, posseg.emit_P)
    search = person._Viterbi.of(*tables)
    assert search is not None
    rng = random.Random(3)
    chars = "".join(TEXTS[:200]) + "王李张刘陈杨黄赵吴周明华伟芳X😀a1，"
    for _ in range(1500):
        w = "".join(rng.choice(chars) for _ in range(rng.randint(1, 4)))
        closed = rng.random() < 0.5
        assert search.beam(w, closed=closed) == person._beam(w, *tables, closed=closed), w


def test_entity_fast_paths():
    for t in TEXTS:
        assert [(s, e) for _, s, e in entity._SUFFIX_AC.find_matches_as_indexes(t)] == [m.span() for m in entity._SUFFIX_RE.finditer(t)]
        assert [(s, e) for _, s, e in entity._CUT_AC.find_matches_as_indexes(t)] == [m.span() for m in entity._CUT_RE.finditer(t)]
        assert spans(entity._building_matches(t)) == spans(entity._BUILDING_RE.finditer(t)), t
        bad = list(entity._NOT_NAME_RE.finditer(t))
        last = entity._LAST_NOT_NAME_RE.match(t)
        assert (last.end() if last else None) == (bad[-1].end() if bad else None)
        core = entity._NOT_NAME_RE.sub("", t)[-8:]
        m = entity._DESC_RE.search(core)
        assert entity._desc_start(core) == (m.start() if m else -1)
        assert (core in entity._DESC_SET) == (entity._DESC_RE.fullmatch(core) is not None)


def test_rewritten_number_patterns():
    rng = random.Random(7)
    alpha = list("0123456789０１２３４５６７８９+＋(（)）-－— \t\n*XxＸｘ号a")
    pairs = [
        (r"(?<![0-9０-９*])(?<!\*[-－—\s])[+＋(（0-9０-９](?:[0-9０-９]|[-－—\s()（）](?=[0-9０-９(（])){5,}[XxＸｘ]?"
         r"(?![0-9０-９*]|[-－—\s]\*)", mask._NUM_TOKEN_FAST),
        (r"(?<![0-9０-９])1[3-9][0-9](?:[-\s]?[0-9]){8}(?![0-9０-９])", mask._LEAK_MOBILE),
        (r"(?<![0-9０-９])[1-9][0-9]{16}[0-9Xx](?![0-9０-９])", mask._LEAK_ID),
        (r"(?<![0-9０-９])0[1-9][0-9]{1,2}[-－—\s)）]?[2-9][0-9]{6,7}(?![0-9０-９])", mask._LEAK_LANDLINE),
    ]
    assert pairs[0][0] == mask._NUM_TOKEN.pattern
    for ref, fast in pairs:
        ref = re.compile(ref)
        for _ in range(4000):
            t = "".join(rng.choice(alpha) if rng.random() < 0.4 else rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
            assert spans(fast.finditer(t)) == spans(ref.finditer(t)), t
            if fast is not mask._NUM_TOKEN_FAST and fast.search(t):
                assert mask._LEAK_HINT.search(t), t  # the safety net's pre-check never skips a leak


def test_house_starts():
    rng = random.Random(11)
    alpha = ["号楼", "栋", "幢", "座", "号院", "#", "单元", "楼", "层", "室", "房", "号", " ", "\u3000", "-", "A", "b", "一", "三",
             "十", "平", "米", "，"] + list("0123456789０１")
    hint, pattern = mask._HOUSE[0]
    for _ in range(5000):
        t = "".join(rng.choice(alpha) for _ in range(rng.randint(1, 24)))
        assert spans(person._finditer_at(pattern, t, mask._building_starts(t, hint))) == spans(pattern.finditer(t)), t


def test_normalize_classes():
    cp = np.arange(0, 0x10000, dtype=np.uint32)
    bmp = cp[(cp < 0xD800) | (cp > 0xDFFF)].tobytes().decode("utf-32-le")
    assert normalize._WIDE_BMP.findall(bmp) == normalize._WIDE.findall(bmp)
    for t in ("１３８\u200b１２３４", "𝟏𝟑𝟖٣", "普通文本", "a\u200db", "Ｑ＠"):
        slow = normalize._WIDE.sub(normalize._ascii, normalize._DROP.sub("", t))
        assert normalize.normalize(t) == slow


def test_shared_sentiment_equals_each_model(tmp_path, monkeypatch):
    from warning.core.text import mood
    from warning.core.text.sentiment import SentimentModel

    monkeypatch.setenv(mood.CACHE_ENV, str(tmp_path))
    mood.anger_head.cache_clear()
    try:
        trained = mood.anger_head()
        assert list(tmp_path.glob("anger_head-*.npz"))
        mood.anger_head.cache_clear()
        cached = mood.anger_head()  # from the cache file
    finally:
        mood.anger_head.cache_clear()
    texts = [mask.mask_pii(t)[0] for t in TEXTS[:500]] + ["", "好", "太差了！！"]
    seed = SentimentModel.seed()
    p, h = SentimentModel.predict_shared([seed, cached], texts)
    assert np.array_equal(p, seed.predict_many(texts))
    assert np.array_equal(h, trained.predict_many(texts))
    assert np.array_equal(h, cached.predict_many(texts))
