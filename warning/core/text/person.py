"""Person names of third parties in Chinese citizen texts: context rules plus jieba's tagger.

:func:`find_names` returns the spans of person names that the cue rules of
:mod:`warning.core.text.mask` (我叫, 姓名, 联系人 …) do not cover because nobody introduces
themselves: the doctor, the official, the neighbour a message talks about. Two layers:

1. **context rules** (regular expressions, microseconds per text) — a surname and one or two
   given-name characters

   * followed by a title or form of address: ``何X高医生``, ``李X少同志``, ``张伟经理``,
     ``王芳等同志``;
   * followed by the person's sex: ``乐X逵，男``, ``胡某清（女，``;
   * after a form label ending in 人/者/员/方 and a colon: ``请求人：肖X梁``, ``甲方：王伟，``;
   * after an organisation word and closed by punctuation: ``…中学陈X，``, ``派出所刘洋、``;
   * partly redacted at the source: ``罗x雄``, ``何X高``, ``文XX`` (``X`` stands for a character);

2. **jieba's person-name model** (the part-of-speech HMM of ``jieba.posseg`` that tags ``nr``):
   run only at *candidates* — a surname (not one of the function-word surnames 和, 于, 向 …)
   followed by a character that can be part of a given name, forming no dictionary word with
   it or with the character before (高度, 提高 are words). The HMM decodes just those 3–4
   characters (jieba's Viterbi search with a beam of 12 states per character: 99.7 % the same
   states as the full search, five times faster); a name tagged B-nr M-nr E-nr (3 characters)
   or B-nr E-nr (2 characters, not for ambiguous surnames, followed by punctuation, a function
   word or a verb of saying — or right after a cue word) counts unless it is a dictionary word,
   a risk-lexicon term, crosses a dictionary word (明目张胆, 采沙许可证), or is a place (its last
   character or what follows: 湖, 村, 小区, 公司 …). The full ``jieba.posseg`` tagger handles about
   20,000 characters/s; this costs about 0.4 ms per candidate and under one candidate per
   typical text.

3. **a name right after a role word** (干部, 管理员, 股东, 控制人, 组长, 民警 …) running straight
   into the next word — "干部李X再侵占", "原股东费X刚拿走", "控制人于X跑路": the role announces a
   person, so ambiguous surnames count and no punctuation need close the name; jieba's HMM
   decides between two and three characters;

4. **names listed beside names already masked** (:func:`listed_names`, run by the masker after
   the other layers): "张**、高X、彭*", or with no separators "刘*曾**熊X高X唐**".

Every candidate is checked against jieba's dictionary-derived list of ordinary words that start
like a name (利益, 高度, 文明 …), so place names (朝阳区, 海淀), organisations and risk terms stay.

A span is ``(start, surname_length, given_length)``; the masker keeps the surname and stars the
given name (``何**``), the style :mod:`warning.core.text.entity` relies on.

>>> [(s, k, g) for s, k, g in find_names("看诊的何X高医生说没事，请求人：肖X梁。")]
[(3, 1, 2), (16, 1, 2)]
>>> find_names("代表人基本情况乐X逵，男")
[(7, 1, 2)]
>>> find_names("朝阳区海淀区人民政府高度重视，")
[]
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import ahocorasick_rs
import numpy as np

from warning.core.text import _names

__all__ = ["find_names", "listed_names", "other_mentions", "TITLES"]

_SINGLE = "".join(dict.fromkeys(_names.SINGLE_SURNAMES))
_SUR = "(?:" + "|".join(_names.COMPOUND_SURNAMES) + "|[" + _SINGLE + "])"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# a given-name character: a CJK character that is no function word, unit or address word, or an X
# standing for a redacted one
_GCH = "(?:[XxＸｘ]|[^\\W\\d_A-Za-z" + _names.GIVEN1_STOP_CHARS + "])"
_G2_STOP = frozenset(_names.GIVEN2_STOP_CHARS)
_STOPW = "(?!" + "|".join(_names.GIVEN_STOP_WORDS) + ")"
_REDACT = "XxＸｘ"

#: titles and forms of address that follow a person's name
TITLES: tuple[str, ...] = (
    "同志", "医生", "医师", "大夫", "老师", "教授", "先生", "女士", "小姐", "律师", "警官", "法官", "检察官",
    "记者", "师傅", "主任", "书记", "局长", "处长", "科长", "院长", "校长", "所长", "站长", "队长", "部长",
    "乡长", "镇长", "村长", "县长", "区长", "市长", "厅长", "董事长", "总经理", "经理", "主席", "会计",
    "护士", "民警", "辅警", "等同志", "等人", "等几人", "等三人", "等两人", "等二人", "一家",
)
_TITLE_ALT = "|".join(sorted(TITLES, key=len, reverse=True))
# organisation words right before a name closed by punctuation ("…中学陈X，")
_ORGS = (
    "中学", "小学", "学校", "大学", "学院", "幼儿园", "医院", "卫生院", "诊所", "公司", "集团", "派出所", "公安局",
    "分局", "政府", "街道办", "居委会", "村委会", "社区", "物业", "法院", "检察院", "银行", "支行", "酒店",
)
_ORG_ALT = "|".join(sorted(_ORGS, key=len, reverse=True))
_CLOSE = r"[\s，,。；;、（()）：:！!？?“”\"》]|$"

_NAME = "(?P<sur>" + _SUR + ")(?P<given>" + _STOPW + _GCH + "(?:" + _STOPW + _GCH + ")?)"
_TITLED = re.compile(_NAME + "(?=" + _TITLE_ALT + ")")
_SEXED = re.compile(_NAME + r"(?=[，,、\s]?[（(]?[男女](?:[，,。；;、\s）)]|性|$|\d))")
_LABELLED = re.compile(r"(?:人|者|员|方)[:：]\s*" + _NAME + "(?=" + _CLOSE + "|电话|手机|联系|身份证)")
_AFTER_ORG = re.compile("(?:" + _ORG_ALT + ")" + _NAME + "(?=[，,。；;、（(])")
_REDACTED = re.compile(
    "(?<![A-Za-z0-9])(?P<sur>" + _SUR + ")(?P<given>[" + _REDACT + "][" + _REDACT + _HAN + "]?|[" + _HAN + "][" + _REDACT + "](?![" + _HAN + "]))"
    "(?![A-Za-z0-9])"
)
# a name with 某 for one character (黄某纯, 吴某敏): not 某某, 某些, 李某称, 王某说
_MOU = re.compile("(?P<sur>" + _SUR + ")某(?P<last>[" + _HAN + "])")
_MOU_NOT = frozenset("某些种个位地处家人方天年月日时项次件样类称说讲表示告认要将把被对在于与和及等的了也是因曾已未不均都就又还再")
# what a redacted "name" must not be followed by: X光, x线, x年x月, X型
_REDACT_NOT = frozenset("光线射年月日号型")

_HINT = re.compile(
    _TITLE_ALT + "|[男女某]|[人者员方][:：]|" + _ORG_ALT + "|[" + _SINGLE + "][" + _REDACT + "]|[" + _REDACT + "]"
)


def _common(word: str) -> bool:
    return word in _names.NON_NAMES or word in _names.common_words() or word in _lexicon()


@lru_cache(maxsize=1)
def _lexicon() -> frozenset[str]:
    """Risk-lexicon terms: never part of a name."""
    try:
        from warning.core.text.risk import Lexicon

        return frozenset(Lexicon.default().terms)
    except Exception:  # pragma: no cover - the lexicon is optional for masking
        return frozenset()


def _given_len(sur: str, given: str) -> int:
    """How many of the (one or two) matched given-name characters belong to the name (0: none).

    The match is anchored at its end (a title, the sex, punctuation follows), so a two-character
    given name is taken unless the full name or its first two characters are ordinary words;
    when it is not, there is no name (the one-character reading would not end at the anchor).
    """
    if len(given) == 2:
        if not _common(sur + given) and not _common(sur + given[0]) and given[1] not in _G2_STOP:
            return 2
        return 0
    return 0 if _common(sur + given) else 1


def _rule_spans(text: str, hits: "Anchors | None" = None) -> list[tuple[int, int, int]]:
    """Names found by the context rules (titles, sex, form labels, organisations, redactions, 某).

    ``hits``: the :class:`Anchors` of ``text`` (or of a text it was masked from); each rule is
    tried only where its anchor word stands (see :func:`_finditer_at`)."""
    if hits is None:
        hits = Anchors(text)
    spans: list[tuple[int, int, int]] = []
    freq = None
    for pattern, family, back in _RULES:
        if not hits.flags & family:
            continue  # the rule's anchor word is not in the text: it cannot match
        for m in _finditer_at(pattern, text, hits.starts(family, back)):
            sur, given = m.group("sur"), m.group("given")
            i = m.start("sur")
            if pattern is not _LABELLED:
                if sur in _NOT_FOR_TAGGER:
                    continue  # 时教育局长, 向办案警官: a function word, not a surname
                if freq is None:
                    freq = _tagger()[0]
                if given in _lexicon() or (sur in _names.AMBIGUOUS_SURNAMES and freq.get(given, 0) >= _FREQ_CROSS) or (
                    i and freq.get(text[i - 1] + sur, 0) >= _FREQ_CROSS
                ):
                    continue  # 公安局长 (安局?), 教育: everyday words
            k = _given_len(sur, given)
            if k == 0 and len(given) == 2 and pattern is not _LABELLED:
                # "高李明医生": try the name starting one character later (李明)
                continue
            if k:
                spans.append((m.start("sur"), len(sur), k))
    for m in _REDACTED.finditer(text) if hits.flags & F_REDACT else ():
        given = m.group("given")
        after = text[m.end() : m.end() + 1]
        if after in _REDACT_NOT or (len(given) == 1 and given in _REDACT and after and after not in "，,。；;、（()）：: \n"):
            continue
        if given[-1] in _REDACT_NOT:
            continue
        prev = text[m.start() - 1 : m.start() + 1]
        if (len(prev) == 2 and _common(prev)) or (given[0] not in _REDACT and _common(m.group("sur") + given[0])):
            continue  # 关于x
        spans.append((m.start("sur"), len(m.group("sur")), len(given)))
    if "某" in text:
        for m in _MOU.finditer(text):
            last = m.group("last")
            if last in _MOU_NOT or last in _G2_STOP or _common(m.group()):
                continue
            if freq is None:
                freq = _tagger()[0]
            if freq.get(text[m.end() - 1 : m.end() + 1], 0) or freq.get(text[m.end() - 1 : m.end() + 2], 0):
                continue  # 郑某|车位, 余某|交涉: the character starts the next word
            spans.append((m.start(), len(m.group("sur")), 2))
    return spans


# ---------------------------------------------------------------------------------------------
# layer 2: jieba's person-name model on candidates

# surnames that are, far more often, function words or word parts: never proposed to the tagger
_NOT_FOR_TAGGER = frozenset("和于向由都时成区门商原但应万路车关管单包全平云来普初计位楼盘满闻将从为与及或等"
                            "只其此该并且且就也还又再更最很太乃以之所被把让给对")
_TAG_SUR = "".join(c for c in dict.fromkeys(_names.SINGLE_SURNAMES) if c not in _NOT_FOR_TAGGER)
_CAND = re.compile("(?=([" + _TAG_SUR + "])([" + _HAN + "])([" + _HAN + "]?)([" + _HAN + "]?))")
# 其 is a function word but also a given-name character (王其加, 邓峰其): the HMM decides
_G1_STOP = frozenset(_names.GIVEN1_STOP_CHARS) - {"其"}
# where _CAND matches with a second character that is no stop character (the only candidates
# _tagged_spans looks at): one character consumed per match, so finditer finds every start
_CAND_START = re.compile(
    "[" + _TAG_SUR + "](?=(?![" + "".join(sorted(_G1_STOP)) + "])[" + _HAN + "])"
)


def _cand_starts(text: str) -> list[int]:
    """Starts of the :data:`_CAND` matches whose second character is not in :data:`_G1_STOP`."""
    return [m.start() for m in _CAND_START.finditer(text)]


def _is_han(ch: str) -> bool:
    """Whether ``ch`` is in the CJK ranges of :data:`_HAN`."""
    return "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff"

_G2_STOP_TAG = _G2_STOP - {"其"}
# what follows a place or an organisation, not a person (欧莱雅郡, 荣台悦小区, 朱桥良乡)
_PLACE_AFTER = re.compile(
    "[郡乡镇村阁苑园庄湾湖桥港寺庙坊厦府塘坪冲岭坡岗垸洲城庭]|华庭|体育|小区|社区|街道|物业|公司|集团|大厦|花园|广场|中心|"
    "学校|小学|中学|医院|酒店|宾馆|商场|超市|市场|工业|公园|大道|置业|地产|房产|实业|中队|大队|支队|"
    "路|街|巷|站|馆|店|厂|所|局|院|委|办|区|县|市|省|山|江|河"
)


# a title right after the surname: 曾书记, 胡书记 are no name 曾书, 胡书
_STOP_AFTER = re.compile("|".join(_names.GIVEN_STOP_WORDS + TITLES))
# _STOP_AFTER.match as a test: its alternatives are plain words, so it matches at a position
# exactly when one of them starts there (checked by first character, then str.startswith)
_STOP_WORDS: tuple[str, ...] = _names.GIVEN_STOP_WORDS + TITLES
_STOP_FIRST = frozenset(w[0] for w in _STOP_WORDS)
assert all(re.escape(w) == w for w in _STOP_WORDS)


def _stop_after(text: str, pos: int) -> bool:
    """``_STOP_AFTER.match(text, pos) is not None``: a stop word or title starts at ``pos``."""
    return text[pos : pos + 1] in _STOP_FIRST and text.startswith(_STOP_WORDS, pos)


# the characters _PLACE_AFTER can start with (a class, then words): a test before the pattern
_PLACE_FIRST = frozenset("郡乡镇村阁苑园庄湾湖桥港寺庙坊厦府塘坪冲岭坡岗垸洲城庭") | frozenset(
    w[0] for w in _PLACE_AFTER.pattern.split("|")[1:]
)


def _place_after(text: str, pos: int) -> bool:
    """``_PLACE_AFTER.match(text, pos) is not None``."""
    return text[pos : pos + 1] in _PLACE_FIRST and _PLACE_AFTER.match(text, pos) is not None
# the two given-name characters form a frequent word: 梅溪湖 → 溪湖? (jieba counts; names such as
# 建华, 志强 are rarer than this)
_FREQ_WORD = 2000
# a word jieba tags as a name but that is this frequent is an everyday word (许可, 谢谢, 高峰)
_FREQ_CROSS = 500
# what may follow a name: punctuation, digits, function words and verbs of saying and acting
_ENDS = frozenset("，,。.；;：:、！!？?（）()“”\"‘’《》【】[] \t\n\r0123456789*")
_ENDS2 = _ENDS | frozenset("的在于说称讲问等和与及同跟是对也已曾就到把被向将为因从给让叫告找带去来要会能")
# right before a name: cue words of the masker, role and title words, a conjunction or preposition
_CUE_BEFORE = re.compile(
    "(?:" + "|".join(sorted(set(_names.STRONG_CUES + _names.WEAK_CUES + _names.ROLE_CUES + TITLES), key=len, reverse=True))
    + "|[如由与和及跟同给对向找让叫被、，,：:！!。；;])$"
)
_BEAM = 12  # states kept per character in the tagger's search
# after a role word, the third state of a three-character name: its end, or the middle of a
# longer run the model reads as one name (主任刘光曙|介绍: B M M E) — taken with three characters
_MID_END = (("E", "nr"), ("M", "nr"))
# stop characters never taken as the third one even before punctuation (王明和，李四今，张三家。)
_NOT_THIRD = frozenset("和为有向以自家人公中今昨前后上下左右内外间现才再只仅共计约近多少每各些个次处月日时元"
                       "老师同阿叔伯爷奶婆姐哥弟妹妈爸儿女子曾经已也来")
# a name does not end in a place character (梅溪湖, 星沙大道)
_PLACE_LAST = frozenset("线湖道郡乡镇村阁苑园庄湾桥港寺庙坊厦府塘坪冲岭坡岗垸洲路街巷区县市省山江河城庭委局办厅处所院站部")


@lru_cache(maxsize=1)
def _tagger():
    """jieba's dictionary and its part-of-speech HMM (``jieba.posseg``), loaded on first use."""
    import logging

    import jieba
    import jieba.posseg as posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.check_initialized()
    tables = (posseg.char_state_tab_P, posseg.start_P, posseg.trans_P, posseg.emit_P)
    search = _Viterbi.of(*tables)

    @lru_cache(maxsize=32768)  # a few MB; windows recur across texts (names, common phrases)
    def tag(chars: str, closed: bool = False) -> list[tuple[str, str]]:
        if search is None:  # tables numpy cannot mirror exactly: the reference search
            return _beam(chars, *tables, closed=closed)
        return search.beam(chars, closed=closed)

    return jieba.dt.FREQ, posseg.char_state_tab_P, tag, posseg.dt.word_tag_tab


_MIN = -3.14e100


_STATES_PER_CHAR = 40
_char_cache: dict[str, tuple] = {}


def _char_states(ch: str, states, emit, trans) -> tuple:
    """The states a character can take, its ``_STATES_PER_CHAR`` likeliest by emission, always
    with its name states (cached per character)."""
    got = _char_cache.get(ch)
    if got is None:
        cand = states.get(ch) or tuple(trans.keys())
        top = sorted(cand, key=lambda y: emit[y].get(ch, _MIN), reverse=True)[:_STATES_PER_CHAR]
        got = tuple(dict.fromkeys(top + [y for y in cand if y[1] == "nr"]))
        if len(_char_cache) < 20000:
            _char_cache[ch] = got
    return got


def _beam(chars: str, states, start, trans, emit, width: int = _BEAM, closed: bool = False) -> list[tuple[str, str]]:
    """The most likely (position, tag) states of ``chars`` under jieba's part-of-speech HMM —
    jieba's own Viterbi search (``jieba.posseg.viterbi``) kept to the ``width`` best states
    per character (a beam), several times faster on the few characters it is given here."""
    v = {y: start[y] + emit[y].get(chars[0], _MIN) for y in _char_states(chars[0], states, emit, trans)}
    paths = {y: (y,) for y in v}
    for ch in chars[1:]:
        prev = sorted(v, key=v.__getitem__, reverse=True)[:width]
        nv: dict = {}
        npaths: dict = {}
        for y in _char_states(ch, states, emit, trans):
            e = emit[y].get(ch, _MIN)
            best = arg = None
            for y0 in prev:
                tp = trans[y0].get(y)
                if tp is not None and (best is None or v[y0] + tp > best):
                    best, arg = v[y0] + tp, y0
            if arg is not None:
                nv[y] = best + e
                npaths[y] = paths[arg] + (y,)
        if not nv:
            return []
        v, paths = nv, npaths
    if closed:  # the characters end a run (punctuation follows): the last one ends a word
        v = {y: p for y, p in v.items() if y[0] in "ES"} or v
    return list(paths[max(v, key=v.__getitem__)])


class _Viterbi:
    """:func:`_beam` with numpy: the same search, the same additions in the same order, the same
    choices (the first of equal scores, as ``sorted``/``max`` and the strict ``>`` keep it), so the
    same states — about ten times faster, which matters on real text where most candidate
    windows are new (the results are cached per window).

    States are numbered; a missing transition is ``-inf`` (every real score is finite: log
    probabilities and the ``_MIN`` floor, summed over at most four characters).
    """

    def __init__(self, states: dict, start: dict, trans: dict, emit: dict) -> None:
        self.states, self.emit, self.trans_d = states, emit, trans
        self.names: list[tuple[str, str]] = list(trans.keys())
        self.index = {y: i for i, y in enumerate(self.names)}
        size = len(self.names)
        self.start = np.array([start[y] for y in self.names], dtype=np.float64)
        self.trans = np.full((size, size), -np.inf)
        for y0, row in trans.items():
            for y, p in row.items():
                self.trans[self.index[y0], self.index[y]] = p
        self.ends = np.array([y[0] in "ES" for y in self.names])
        self._chars: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def of(cls, states: dict, start: dict, trans: dict, emit: dict) -> "_Viterbi | None":
        """The search for these tables, or None when they hold anything but finite scores of
        known states (then only the reference :func:`_beam` is exact)."""
        names = set(trans)
        finite = all(math.isfinite(p) and y in names for row in trans.values() for y, p in row.items())
        finite = finite and all(y in start and math.isfinite(start[y]) and y in emit for y in names)
        finite = finite and all(y in names for cand in states.values() for y in cand)
        return cls(states, start, trans, emit) if finite else None

    def _char(self, ch: str) -> tuple[np.ndarray, np.ndarray]:
        """State numbers of :func:`_char_states` (same order) and their emission scores."""
        got = self._chars.get(ch)
        if got is None:
            cand = _char_states(ch, self.states, self.emit, self.trans_d)
            got = (np.array([self.index[y] for y in cand], dtype=np.intp),
                   np.array([self.emit[y].get(ch, _MIN) for y in cand], dtype=np.float64))
            if len(self._chars) < 20000:
                self._chars[ch] = got
        return got

    def beam(self, chars: str, width: int = _BEAM, closed: bool = False) -> list[tuple[str, str]]:
        """:func:`_beam` of ``chars``."""
        cur, e = self._char(chars[0])
        v = self.start[cur] + e
        back: list[tuple[np.ndarray, np.ndarray]] = []  # per step: states, index of each one's predecessor
        for ch in chars[1:]:
            order = np.argsort(-v, kind="stable")[:width]  # sorted(..., reverse=True): stable
            cand, e = self._char(ch)
            scores = v[order][:, None] + self.trans[cur[order][:, None], cand[None, :]]
            arg = np.argmax(scores, axis=0)  # the first best predecessor, as the strict > keeps it
            best = scores[arg, np.arange(cand.size)]
            ok = best > -np.inf
            if not ok.any():
                return []
            back.append((cur, order[arg[ok]]))
            cur, v = cand[ok], best[ok] + e[ok]
        pick = np.arange(cur.size)
        if closed:  # the characters end a run (punctuation follows): the last one ends a word
            ends = np.flatnonzero(self.ends[cur])
            if ends.size:
                pick = ends
        j = int(pick[np.argmax(v[pick])])  # max(): the first of equal scores
        path = [self.names[cur[j]]]
        for states, pred in reversed(back):
            j = int(pred[j])
            path.append(self.names[states[j]])
        return path[::-1]


def _in_word(text: str, i: int, e: int, wtag: dict[str, str], freq: dict[str, int]) -> bool:
    """Whether a dictionary word crosses the edge of ``text[i:e]`` or starts there longer:
    明目张胆, 马王堆, 宁永健康 (健康), 采沙许可证 (许可), 金茂梅溪湖 (…湖)."""
    for j in range(max(0, i - 3), i):
        for k in range(i + 1, min(len(text), i + 3) + 1):
            t = wtag.get(text[j:k])
            if t is not None and (not t.startswith("nr") or freq.get(text[j:k], 0) >= _FREQ_CROSS):
                return True
    for k in (e + 1, e + 2):
        if k <= len(text):
            t = wtag.get(text[i:k])
            if t is not None and not t.startswith("nr"):
                return True
    if e < len(text):
        w = text[e - 1 : e + 1]
        t = wtag.get(w)
        if t is not None and (not t.startswith("nr") or freq.get(w, 0) >= _FREQ_CROSS):
            return True
        if e + 1 < len(text) and text[e + 1] in _PLACE_LAST and text[e] not in _ENDS:
            return True  # 金茂梅|溪湖: the name's last character starts a place name
    return False


def _tagged_spans(text: str) -> list[tuple[int, int, int]]:
    """Names that jieba's part-of-speech HMM tags ``nr`` at a candidate: a surname whose first
    given-name character forms no dictionary word with it, in a character run that is no word."""
    spans: list[tuple[int, int, int]] = []
    freq = states = tag = wtag = None
    end = -1
    n = len(text)
    for i in _cand_starts(text):
        if i < end:
            continue
        a, b = text[i], text[i + 1]
        if freq is None:
            freq, states, tag, wtag = _tagger()
        if freq.get(a + b) or (i and freq.get(text[i - 1] + a)):
            continue  # 高度, 提高: a word, not a name
        # the groups of _CAND: up to two more CJK characters
        c = text[i + 2] if i + 2 < n and _is_han(text[i + 2]) else ""
        d = text[i + 3] if c and i + 3 < n and _is_han(text[i + 3]) else ""
        # cheap checks before the HMM: which readings can the characters have at all?
        sb = states.get(b, ())
        # a third character from the longer stop list (先, 刚) only when a function word or
        # punctuation follows it: 邓兆先与…, 费志刚，
        three = ("M", "nr") in sb and c and ("E", "nr") in states.get(c, ()) and (
            c not in _G2_STOP_TAG or (c not in _G1_STOP and c not in _NOT_THIRD and (not d or d in _ENDS2))
        )
        two = ("E", "nr") in sb and a not in _names.AMBIGUOUS_SURNAMES and not _stop_after(text, i + 1)
        if not (three or two) or (three and freq.get(b + c, 0) > _FREQ_WORD):
            continue
        st = tag(a + b + c + d, not d)
        if len(st) < 2 or st[0] != ("B", "nr"):
            continue
        if three and len(st) >= 3 and st[1] == ("M", "nr") and st[2] == ("E", "nr"):
            k = 2
        elif (
            st[1] == ("E", "nr") and c and c not in _G2_STOP_TAG and a not in _names.AMBIGUOUS_SURNAMES
            and (i + 3 >= len(text) or text[i + 3] in _ENDS2) and text[i + 3 : i + 4] not in _G2_STOP_TAG - _ENDS2
            and (not d or not freq.get(c + d)) and not freq.get(b + c) and not _stop_after(text, i + 1)
            and not (i + 3 < len(text) and text[i + 3] in _ENDS2 - _ENDS and text[i + 2] in _G1_STOP)
        ):
            # 朱阳|付，, 陈烨|皓在: a two-character reading that cannot end there (no punctuation or
            # function word follows), closed after the third character
            k = 2
        elif two and st[1] == ("E", "nr"):
            k = 1
        else:
            continue
        name = text[i : i + 1 + k]
        e = i + 1 + k
        if _common(name) or freq.get(name) or name[-1] in _PLACE_LAST:
            continue
        if _place_after(text, e) and not _stop_after(text, e):
            continue  # 朱桥良乡, 荣台悦小区 — but 王其加站长 is a person
        if name[1:] in _lexicon() or text[i + 1 : e + 1] in _lexicon():
            continue  # 钟|维权代表: a risk term, never a given name
        if _in_word(text, i, e, wtag, freq):
            continue
        if k == 1 and e < len(text) and text[e] not in _ENDS2 and not _stop_after(text, e):
            if _CUE_BEFORE.search(text[max(0, i - 6) : i]) is None and not freq.get(text[e : e + 2], 0):
                continue  # a two-character name runs on: only after a cue (法人孙胡违规) or before a word (孙开|多次)
        spans.append((i, 1, k))
        end = i + 1 + k
    return spans


# -- a name right after a role word, running straight into the next word ("干部李祥再侵占",
# "污水管理员雷喜外负责", "总经理颜楗身为", "原股东费志刚拿走", "控制人于帅跑路"): the role word
# announces a person, so ambiguous surnames (于, 费, 高) count and no punctuation need close the
# name; jieba's HMM decides between two and three characters. Titles that end a place (区长, 市长:
# "A3区长房云时代") are left out.
_ROLES_BEFORE: tuple[str, ...] = (
    "干部", "管理员", "工作人员", "负责人", "股东", "控制人", "法人", "总经理", "副总经理", "经理", "董事长",
    "董事", "监事", "会长", "理事长", "主任", "副主任", "书记", "副书记", "支书", "局长", "副局长", "处长",
    "科长", "所长", "站长", "队长", "院长", "校长", "厂长", "行长", "主管", "总监", "组长", "村干部",
    "网格员", "业务员", "销售员", "安全员", "保安", "司机", "老板", "老板娘", "包工头", "承包人", "实际控制人", "法定代表人", "职员", "员工", "医生", "护士", "教师", "老师", "班主任", "民警",
    "辅警", "城管", "执法人员", "专干", "专员", "办事员", "科员", "文书", "出纳", "联络员", "村民", "居民", "邻居", "业主", "租户", "房东", "嫌疑人", "犯罪嫌疑人",
)
# one-character forms of address after a surname (彭总, 贺姐, 张工)
_ADDRESS = frozenset("总姐哥叔姨嫂伯婶爷奶婆工师董")
_AFTER_ROLE = re.compile(
    "(?:" + "|".join(sorted(_ROLES_BEFORE, key=len, reverse=True)) + ")"
    "(?=([" + _SINGLE + "])([" + _HAN + "])([" + _HAN + "]?)([" + _HAN + "]?))"
)
_ROLE_HINT = re.compile("|".join(sorted(_ROLES_BEFORE, key=len, reverse=True)))


def _crossed(text: str, s: int, i: int) -> bool:
    """Whether jieba's dictionary segmentation of the text around the role word ``text[s:i]``
    puts a word across its end ``i`` (乡村|民宿 for 村民 + 宿)."""
    import jieba

    j = max(0, s - 2)
    for w in jieba.dt.cut(text[j : i + 4], HMM=False):
        if j < i < j + len(w):
            return True
        j += len(w)
        if j > i:
            break
    return False


def _role_spans(text: str, hits: "Anchors | None" = None) -> list[tuple[int, int, int]]:
    """Names right after a role word (see ``_ROLES_BEFORE``), two or three characters as jieba's
    person-name model reads them; not when the surname starts a dictionary word (经理高度重视,
    业主代表, 村民和居民).

    >>> _role_spans("A6区正处级干部李祥再侵占国有资产")
    [(8, 1, 1)]
    >>> _role_spans("总经理高度重视，业主代表与村民和居民")
    []
    """
    if hits is None:
        hits = Anchors(text)
    spans: list[tuple[int, int, int]] = []
    freq = states = tag = wtag = None
    for m in _finditer_at(_AFTER_ROLE, text, hits.starts(F_ROLE)):
        i = m.end()
        a, b, c, d = m.groups()
        if b in _G1_STOP or b in _ADDRESS or (a in _NOT_FOR_TAGGER and a != "于") or _stop_after(text, i + 1):
            continue  # 张警官, 彭总, 李姐: a form of address; 和, 区: a function word
        if freq is None:
            freq, states, tag, wtag = _tagger()
        if freq.get(a + b) or freq.get(b + c, 0) > _FREQ_WORD or (c and freq.get(a + b + c)):
            continue  # 高度, 代表: a word, not a name
        if _crossed(text, m.start(), i):
            continue  # 乡村|民宿|元素: the role word is part of other words
        if (d and freq.get(a + b + c + d)) or (a == "于" and (freq.get(b + c) or freq.get(b + c + d))):
            continue  # 胡作非为, 于百忙之中
        st = tag(a + b + c + d, not d)
        if len(st) < 2 or st[0] != ("B", "nr"):
            continue
        if len(st) >= 3 and st[1] == ("M", "nr") and st[2] in _MID_END and c not in _G1_STOP:
            k = 2  # after a role the model is trusted with 刚, 先 (费志刚, 邓兆先)
        elif st[1] == ("E", "nr") and a not in _NOT_FOR_TAGGER - {"于"}:
            k = 1
        else:
            continue
        name = text[i : i + 1 + k]
        e = i + 1 + k
        if _common(name) or freq.get(name) or name[-1] in _PLACE_LAST or name[1:] in _lexicon():
            continue
        if _place_after(text, e) and not _stop_after(text, e):
            continue  # 业主王家湾小区: a place
        spans.append((i, 1, k))
    return spans


# -- names listed beside names already masked: "、李*、汤**、张**、高威、彭*）" or, with no
# separators, "刘*曾**熊疆高谊唐**" (the masker's stars mark the neighbours as names)
_SEP = "、，,；;/ \t"
_MASKED = "[" + _SINGLE + "]\\*{1,3}"
_LIST_ITEM = re.compile("(?<=[" + _SEP + "])([" + _SINGLE + "][" + _HAN + "]{1,2})(?=[" + _SEP + "（(）)。]|$)")
# a note in brackets may follow a listed name: "杨*(杨**之女)、滕X(…)"
_NOTE = "(?:[（(][^（()）]{0,16}[）)])?"
_BEFORE_MASKED = re.compile(_NOTE + "[" + _SEP + "]" + _MASKED + "(?=[" + _SEP + "（(）)。]|$)")
_AFTER_MASKED = re.compile(_MASKED + _NOTE + "[" + _SEP + "]$")
_RUN = re.compile("(?<=\\*)([" + _HAN + "]{2,6})(?=[" + _SINGLE + "]\\*)")
# _LIST_ITEM with its look-behind after the first character (covering it too): the same matches,
# but tried only where a surname stands instead of at every position
_LIST_ITEM_FAST = re.compile(
    "([" + _SINGLE + "](?<=[" + _SEP + "][" + _SINGLE + "])[" + _HAN + "]{1,2})(?=[" + _SEP + "（(）)。]|$)"
)
_MASKED_END = re.compile(_MASKED + "$")


def _plain_name(word: str) -> bool:
    """A surname and one or two characters that make no ordinary word or place."""
    if word[0] not in _SINGLE or word[-1] in _PLACE_LAST or _common(word) or word[1:] in _lexicon() or word[1:] in _KIN:
        return False  # 莫同学: a form of address
    freq = _tagger()[0]
    return not freq.get(word) and not freq.get(word[:2])


def listed_names(text: str) -> list[tuple[int, int, int]]:
    """Names in a list beside names the masker has already starred (run on masked text).

    >>> listed_names("集资人为李*、汤**、张**、高威、彭*）")
    [(15, 1, 1)]
    >>> listed_names("刘*曾**熊疆高谊唐**")
    [(5, 1, 1), (7, 1, 1)]
    >>> listed_names("张**、高新区、王府井、李*")
    []
    """
    if "*" not in text:
        return []
    spans: list[tuple[int, int, int]] = []
    for m in _LIST_ITEM_FAST.finditer(text):  # _LIST_ITEM
        i, e = m.start(1), m.end(1)
        before = text[max(0, i - 24) : i]
        if _AFTER_MASKED.search(before) is None and _BEFORE_MASKED.match(text, e) is None:
            continue
        if _plain_name(m.group(1)):
            spans.append((i, 1, e - i - 1))
    for m in _RUN.finditer(text):
        run, i = m.group(1), m.start(1)
        if _MASKED_END.search(text, max(0, i - 4), i) is None:
            continue
        if run[0] not in _SINGLE or not _plain_name(run[:2]):
            run, i = run[1:], i + 1  # 唐**意|吴博张婷: the first character ends the name before
        n = len(run)
        if n < 2:
            continue
        cuts = (n,) if n <= 3 else (2, 2) if n == 4 else (3, 3) if n == 6 else (2, 3) if run[2] in _SINGLE else (3, 2)
        parts, j = [], 0
        for n in cuts:
            parts.append(run[j : j + n])
            j += n
        if all(_plain_name(w) for w in parts) and not any(ch in _G2_STOP for ch in run):  # 王*林与刘*
            j = i
            for w in parts:
                spans.append((j, 1, len(w) - 1))
                j += len(w)
    return sorted(set(spans))


# -- a name alone in brackets ("一个焊工（任X）") or an enumerated item before an amount
# ("3、周X1127.6万"): what jieba's model reads as a whole name and is no word or place
_KIN = frozenset(_names.WEAK_CUES + ("婆婆", "阿姨", "叔叔", "大爷", "大妈", "大姐", "大哥", "师傅", "同学", "小朋友"))
_BRACKETED = re.compile("(?<=[（(])([" + _SINGLE + "][" + _HAN + "]{1,2})(?=[）)])")
_ENUMERATED = re.compile("(?<=[0-9][、.．])([" + _SINGLE + "][" + _HAN + "]{1,2})(?=[0-9])")
_SHAPE_HINT = re.compile("[（(][" + _SINGLE + "]|[0-9][、.．][" + _SINGLE + "]")
# _SHAPE_HINT needs a bracket or one of 、.． (it is tried at every digit otherwise)
_SHAPE_FIRST = re.compile("[（(、.．]")


def _shaped_spans(text: str) -> list[tuple[int, int, int]]:
    """Names alone in brackets or enumerated before an amount, as jieba's person-name model
    reads them.

    >>> _shaped_spans("一个焊工（蒋鑫）在施工；3、周伍1127.6万元")
    [(5, 1, 1), (14, 1, 1)]
    >>> _shaped_spans("（高铁）（黄花）（全部）1、安全2、周边")
    []
    """
    spans: list[tuple[int, int, int]] = []
    for pattern in (_BRACKETED, _ENUMERATED):
        for m in pattern.finditer(text):
            word = m.group(1)
            if word[0] in _NOT_FOR_TAGGER or not _plain_name(word) or _stop_after(word, 1) or word[1:] in _KIN:
                continue  # 莫同学, 段婆婆: a form of address
            if word[0] in _names.AMBIGUOUS_SURNAMES:
                continue  # （文综）, 岳公(观): a word or an abbreviation
            if pattern is _ENUMERATED:  # before an amount (3、周X1127万)
                spans.append((m.start(1), 1, len(word) - 1))
                continue
            st = _tagger()[2](word, True)
            want = [("B", "nr"), ("E", "nr")] if len(word) == 2 else [("B", "nr"), ("M", "nr"), ("E", "nr")]
            if st == want:
                spans.append((m.start(1), 1, len(word) - 1))
    return spans


def other_mentions(text: str, name: str) -> list[int]:
    """Where else a two-character name found in ``text`` stands as a name: not inside a word
    (the character before and the surname, or the given name and the character after, make no
    dictionary word) and not before a place word (梅溪 → 梅溪湖 stays).

    >>> other_mentions("受害人向钱骏反映，钱骏不仅不理", "钱骏")
    [4, 9]
    >>> other_mentions("梅溪，梅溪湖小区", "梅溪")
    [0]
    >>> other_mentions("高伟说，要提高伟人", "高伟")
    [0]
    """
    freq = _tagger()[0]
    out: list[int] = []
    i = text.find(name)
    while i >= 0:
        e = i + len(name)
        nx = text[e : e + 1]
        ok = not (i and freq.get(text[i - 1] + name[0]))
        if ok and nx and "\u3400" <= nx <= "\u9fff":
            ok = not freq.get(name + nx) and not freq.get(name[-1] + nx) and nx not in _PLACE_LAST
            ok = ok and not (_place_after(text, e) and not _stop_after(text, e))
        if ok:
            out.append(i)
        i = text.find(name, e)
    return out


# ---------------------------------------------------------------------------------------------
# anchors: the literal words the patterns above (and the masker's cue patterns) need
#
# A pattern such as _TITLED starts at any surname character and only fails at its end, where a
# title must follow; ``re`` tries it at every one of the many surname characters of a text. Each
# such pattern needs a literal word at a fixed distance from its start (a title 2–4 characters
# after it, a role word at it …), so one Aho–Corasick pass over the text finds every place
# where any of these words stands, and each pattern is then tried only at the starts those
# places allow. A start that is not one of them cannot match, so the matches are the same.

F_TITLE, F_SEX, F_LABEL, F_ORG, F_REDACT, F_MOU, F_ROLE, F_CUE, F_CONTACT_HINT, F_CONTACT_AT = (1 << k for k in range(10))
#: what person's _HINT looks for (a surname before a redaction mark needs the mark)
F_HINT = F_TITLE | F_SEX | F_LABEL | F_ORG | F_REDACT | F_MOU
_ANCHOR_FAMILIES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (F_TITLE, TITLES),
    (F_SEX, ("男", "女")),
    (F_LABEL, tuple(a + b for a in "人者员方" for b in ":：")),
    (F_ORG, _ORGS),
    (F_REDACT, tuple(_REDACT)),
    (F_MOU, ("某",)),
    (F_ROLE, _ROLES_BEFORE),
    # the masker's name cues (mask._NAME_AFTER_CUE starts with one)
    (F_CUE, _names.STRONG_CUES + _names.WEAK_CUES + _names.ROLE_CUES),
    # the words of mask._CONTACT_HINT
    (F_CONTACT_HINT, ("电话", "手机", "身份证", "联系方式", "TEL", "Tel", "tel")
     + tuple(b + r for b in "（(" for r in _names.ROLE_CUES)),
    # where mask._CONTACT_AFTER can start (a name ends there)
    (F_CONTACT_AT, ("联系", "电话", "手机", "方式", "身份证", "TEL", "Tel", "tel", "（", "(")),
)
_ANCHOR_FLAGS: dict[str, int] = {}
for _flag, _words in _ANCHOR_FAMILIES:
    for _w in _words:
        _ANCHOR_FLAGS[_w] = _ANCHOR_FLAGS.get(_w, 0) | _flag
_ANCHOR_WORDS: tuple[str, ...] = tuple(_ANCHOR_FLAGS)
_ANCHOR_WORD_FLAGS: tuple[int, ...] = tuple(_ANCHOR_FLAGS.values())
_ANCHOR_AC = ahocorasick_rs.AhoCorasick(_ANCHOR_WORDS, matchkind=ahocorasick_rs.MatchKind.Standard)


class Anchors:
    """Every occurrence (overlapping) of every anchor word in one text, by family.

    ``flags``: the families present. Masking replaces characters by ``*`` without moving the
    others, and no anchor word holds a ``*``: the anchors of a text stay a superset of those of
    its masked forms, so they can still propose where a pattern may start (the pattern itself
    decides) — :meth:`still` tells whether a family is present in a masked form.
    """

    __slots__ = ("flags", "hits")

    def __init__(self, text: str) -> None:
        flags = _ANCHOR_WORD_FLAGS
        self.hits = [(flags[i], s, i) for i, s, _ in _ANCHOR_AC.find_matches_as_indexes(text, overlapping=True)]
        f = 0
        for fl, _, _ in self.hits:
            f |= fl
        self.flags = f

    def starts(self, family: int, back: tuple[int, ...] = (0,)) -> list[int]:
        """Sorted distinct positions ``p - b`` (``b`` in ``back``, ``p - b >= 0``) over the
        positions ``p`` where a word of ``family`` starts."""
        if back == (0,):
            out = [p for fl, p, _ in self.hits if fl & family]
        else:
            out = [p - b for fl, p, _ in self.hits if fl & family for b in back if p >= b]
        return sorted(set(out)) if len(out) > 1 else out

    def still(self, family: int, text: str) -> bool:
        """Whether a word of ``family`` stands in ``text`` (the scanned text, or a masked form)."""
        if not self.flags & family:
            return False
        words = _ANCHOR_WORDS
        return any(fl & family and text.startswith(words[i], p) for fl, p, i in self.hits)


def _finditer_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> list[re.Match[str]]:
    """``list(pattern.finditer(text))`` for a pattern that matches at least one character and
    can only start at a position of ``starts`` (sorted): the leftmost match at or after the end
    of the previous one is the first start there at which the pattern matches (``match`` at a
    position sees the text before it, as ``finditer`` does)."""
    out: list[re.Match[str]] = []
    pos = 0
    for s in starts:
        if s >= pos:
            m = pattern.match(text, s)
            if m is not None:
                out.append(m)
                pos = m.end()
    return out


#: the context rules of :func:`_rule_spans`: pattern, anchor family, and how far before an
#: anchor word the pattern can start (a name is 2–4 characters: surname 1–2, given name 1–2)
_RULES: tuple[tuple[re.Pattern[str], int, tuple[int, ...]], ...] = (
    (_TITLED, F_TITLE, (2, 3, 4)),  # the title follows the name
    (_SEXED, F_SEX, (2, 3, 4, 5, 6)),  # the name, then up to a separator and a bracket, then 男/女
    (_LABELLED, F_LABEL, (0,)),  # the form label starts the match
    (_AFTER_ORG, F_ORG, (0,)),  # the organisation starts the match
)


def find_names(text: str, confident: set[str] | None = None, hits: Anchors | None = None) -> list[tuple[int, int, int]]:
    """Spans ``(start, surname_length, given_length)`` of third-party person names, sorted and
    non-overlapping (see the module docstring); the names found by a context rule rather than
    by the model alone are added to ``confident`` when it is given. ``hits``: the :class:`Anchors`
    of ``text`` or of a text it was masked from in place (computed when not given).

    >>> find_names("李X少同志于2008年任职，股东为罗x雄（持股99）")
    [(0, 1, 2), (17, 1, 2)]
    >>> find_names("业主利益受损，请物业经理处理")
    []
    """
    if not text:
        return []
    if hits is None:
        hits = Anchors(text)
    # (_HINT and _ROLE_HINT only look for anchor words: a family absent means no match)
    spans = _rule_spans(text, hits) if hits.flags & F_HINT else []
    if hits.flags & F_ROLE:
        spans += _role_spans(text, hits)
    if _SHAPE_FIRST.search(text) is not None and _SHAPE_HINT.search(text) is not None:
        spans += _shaped_spans(text)
    if confident is not None and spans:  # names with a context (title, role, form label …), not the model alone
        confident.update(text[s : s + k + g] for s, k, g in spans)
    spans += _tagged_spans(text)
    if len(spans) < 2:
        return spans
    spans.sort(key=lambda x: (x[0], -x[2]))  # at one start the longer reading (邓华新, not 邓华)
    out: list[tuple[int, int, int]] = []
    end = -1
    for s, k, g in spans:
        if s >= end:
            out.append((s, k, g))
            end = s + k + g
    return out
