"""Risk terms: an operator-editable lexicon matched with Aho–Corasick, aware of negation.

The lexicon (``configs/lexicon.yaml``; a copy ships in the package as
``warning/data/lexicon.yaml``) maps terms to categories (极端/人身, 群体/聚集, 维权/经济,
公共安全, 民生急难 …) and weights in [0, 1]. All terms go into one Aho–Corasick
automaton; matches are leftmost-longest and non-overlapping, so the cost does not grow with the
number of terms (``ahocorasick-rs``, a Rust automaton: ~3x faster than ``pyahocorasick``
on long texts here).

A match is *discounted* — not counted as a hit, but added to ``negated`` — when

* **negation**: a negation cue (不会, 没有, 未, 防止 …) ends at most ``negation.max_gap``
  characters before the term in the same clause — "不会跳楼", "没有发生火灾", "防止火灾".
  Words that contain a cue character without negating (不然, 不得不, 无法, 非法 …) are ignored,
  and a conditional word in the gap keeps the hit: "不给钱就跳楼" is a threat.
* **question**: an inquiry cue (是否, 有没有, 会不会 …) precedes the term within
  ``inquiry.max_gap`` characters in the same clause — "请问小区是否存在燃气泄漏隐患" — or the
  sentence ends in 吗？ ("难道要等到有人跳楼吗？").
* **hedge**: the speaker marks the words as not meant — a hedge cue follows the term within
  ``hedge.max_gap`` characters in the same clause ("说过不想活了的气话") or precedes it
  ("开玩笑说要跳楼").
* **quote**: the term is inside 《…》 (titles of documents and laws), or inside quotes opened right
  after a quoting cue — 问"是否有人自杀", 所谓"跑路".

A clause ends at ``，。！？；,!?;`` or a line break.

The result is a plain dict (it travels on ``warning.events``)::

    {"hits": {category: count}, "max_weight": float, "negated": int,
     "terms": [{"term", "category", "weight", "context"}]}

``context`` is a short window around the match taken from the text given to :meth:`match` —
the enricher passes the *masked* text, so contexts carry no personal data.

Examples
--------

>>> from warning.core.text.risk import Lexicon, RiskMatcher
>>> matcher = RiskMatcher(Lexicon.default())
>>> r = matcher.match("再不发工资我们就去政府门口拉横幅，有人说要跳楼")
>>> r["hits"]
{'维权/经济': 1, '群体/聚集': 2, '极端/人身': 1}
>>> r["max_weight"], r["negated"]
(1.0, 0)
>>> r["terms"][0]
{'term': '不发工资', 'category': '维权/经济', 'weight': 0.6, 'context': '再不发工资我们就去政府门口'}
>>> matcher.match("我不会跳楼，也没有自杀的想法")["hits"], matcher.match("我不会跳楼，也没有自杀的想法")["negated"]
({}, 2)
>>> matcher.match('他问"小区是否发生过火灾"')["negated"]
1
>>> matcher.match("不给钱就跳楼")["hits"]
{'极端/人身': 1}

"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import ahocorasick_rs
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["Lexicon", "RiskMatcher", "default_lexicon_path", "packaged_lexicon_text"]

_REPO_LEXICON = Path(__file__).resolve().parents[3] / "configs" / "lexicon.yaml"


def default_lexicon_path() -> Path | None:
    """``configs/lexicon.yaml`` of a source checkout, if there is one (operators edit that file)."""
    return _REPO_LEXICON if _REPO_LEXICON.is_file() else None


def packaged_lexicon_text() -> str:
    """The lexicon shipped inside the package (``warning/data/lexicon.yaml``)."""
    return (importlib.resources.files("warning") / "data" / "lexicon.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# lexicon file model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Category(_Strict):
    weight: float = Field(0.5, ge=0.0, le=1.0)
    terms: dict[str, float | None] = Field(default_factory=dict)

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: dict[str, float | None]) -> dict[str, float | None]:
        for term, w in v.items():
            if not isinstance(term, str) or not term.strip():
                raise ValueError(f"empty term {term!r}")
            if w is not None and not (0.0 <= w <= 1.0):
                raise ValueError(f"weight of {term!r} must be in [0, 1], got {w}")
        return v


class _Negation(_Strict):
    max_gap: int = Field(2, ge=0, le=20)
    cues: list[str] = Field(default_factory=list)
    exceptions: list[str] = Field(default_factory=list)
    conditional: list[str] = Field(default_factory=list)


class _Inquiry(_Strict):
    max_gap: int = Field(10, ge=0, le=50)
    cues: list[str] = Field(default_factory=list)


class _Quote(_Strict):
    cues: list[str] = Field(default_factory=list)


class _Hedge(_Strict):
    max_gap: int = Field(2, ge=0, le=20)
    after: list[str] = Field(default_factory=list)
    before: list[str] = Field(default_factory=list)


class _LexiconFile(_Strict):
    version: int = 1
    categories: dict[str, _Category]
    negation: _Negation = _Negation()
    inquiry: _Inquiry = _Inquiry()
    quote: _Quote = _Quote()
    hedge: _Hedge = _Hedge()


@dataclass(frozen=True)
class Lexicon:
    """Validated lexicon: ``terms`` maps each term to ``(category, weight)``.

    >>> lex = Lexicon.from_dict({"categories": {"极端/人身": {"weight": 0.9, "terms": {"跳楼": 1.0, "轻生": None}}}})
    >>> lex.terms
    {'跳楼': ('极端/人身', 1.0), '轻生': ('极端/人身', 0.9)}
    >>> Lexicon.from_dict({"categories": {"A": {"terms": {"x": 2}}}})
    Traceback (most recent call last):
    ...
    ValueError: lexicon: categories.A.terms: Value error, weight of 'x' must be in [0, 1], got 2.0
    """

    terms: dict[str, tuple[str, float]]
    categories: tuple[str, ...]
    negation_cues: tuple[str, ...] = ()
    negation_exceptions: tuple[str, ...] = ()
    conditional: tuple[str, ...] = ()
    negation_max_gap: int = 2
    inquiry_cues: tuple[str, ...] = ()
    inquiry_max_gap: int = 10
    quote_cues: tuple[str, ...] = ()
    hedge_after: tuple[str, ...] = ()
    hedge_before: tuple[str, ...] = ()
    hedge_max_gap: int = 2
    source: str = field(default="", compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "lexicon") -> "Lexicon":
        try:
            f = _LexiconFile.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{source}: {loc}: {err['msg']}") from None
        terms: dict[str, tuple[str, float]] = {}
        for cat, spec in f.categories.items():
            for term, w in spec.terms.items():
                term = term.strip()
                if term in terms:
                    raise ValueError(f"{source}: term {term!r} is in both {terms[term][0]!r} and {cat!r}")
                terms[term] = (cat, float(spec.weight if w is None else w))
        return cls(
            terms=terms,
            categories=tuple(f.categories),
            negation_cues=tuple(f.negation.cues),
            negation_exceptions=tuple(f.negation.exceptions),
            conditional=tuple(f.negation.conditional),
            negation_max_gap=f.negation.max_gap,
            inquiry_cues=tuple(f.inquiry.cues),
            inquiry_max_gap=f.inquiry.max_gap,
            quote_cues=tuple(f.quote.cues),
            hedge_after=tuple(f.hedge.after),
            hedge_before=tuple(f.hedge.before),
            hedge_max_gap=f.hedge.max_gap,
            source=source,
        )

    @classmethod
    def from_yaml(cls, text: str, source: str = "lexicon") -> "Lexicon":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{source}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping with 'categories'")
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"lexicon file not found: {p}")
        return cls.from_yaml(p.read_text(encoding="utf-8"), str(p))

    @classmethod
    def default(cls) -> "Lexicon":
        """``configs/lexicon.yaml`` of a checkout, else the copy shipped in the package."""
        path = default_lexicon_path()
        if path is not None:
            return cls.load(path)
        return cls.from_yaml(packaged_lexicon_text(), "warning/data/lexicon.yaml")


# ---------------------------------------------------------------------------------------------
# matcher

_CLAUSE_DELIMS = "，,。！？!?；;\n\r"
_SENTENCE_END = re.compile(r"[。！？!?；;\n\r]")
_CLAUSE_END = re.compile("[" + re.escape(_CLAUSE_DELIMS) + "]")
_LAST_DELIM = re.compile(r".*[" + re.escape(_CLAUSE_DELIMS) + "]", re.S)
_WS = re.compile(r"\s+")
_QUOTES = {"“": "”", '"': '"', "「": "」", "『": "』", "‘": "’", "《": "》", "〈": "〉"}
_QUOTE_SPAN = re.compile(r"“[^”]{0,300}”|\"[^\"]{0,300}\"|「[^」]{0,300}」|『[^』]{0,300}』|‘[^’]{0,300}’|《[^》]{0,100}》|〈[^〉]{0,100}〉")
_QUESTION_END = re.compile(r"[吗么嘛][\s”\"」』]*[？?]")


def _alt(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))


class RiskMatcher:
    """Finds lexicon terms in a text and reports them per category.

    Parameters
    ----------
    lexicon
        The :class:`Lexicon`.
    context_chars
        Characters of context kept on each side of a match.
    max_terms
        At most this many matched terms are listed (all are counted).
    """

    def __init__(self, lexicon: Lexicon, *, context_chars: int = 8, max_terms: int = 20) -> None:
        self.lexicon = lexicon
        self.context_chars = context_chars
        self.max_terms = max_terms
        self._entries = [(term, cat, weight) for term, (cat, weight) in lexicon.terms.items()]
        self._empty = not self._entries
        self._automaton = None
        if not self._empty:
            self._automaton = ahocorasick_rs.AhoCorasick(
                [e[0] for e in self._entries],
                matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                implementation=ahocorasick_rs.Implementation.DFA,
            )
        self._neg = _alt(lexicon.negation_cues)
        self._neg_exc = _alt(lexicon.negation_exceptions)
        self._cond = _alt(lexicon.conditional)
        self._inq = _alt(lexicon.inquiry_cues)
        self._quote_cue = re.compile("(?:" + _alt(lexicon.quote_cues).pattern + r")[\s:：]*$") if lexicon.quote_cues else None
        self._hedge_after = _alt(lexicon.hedge_after)
        self._hedge_before = _alt(lexicon.hedge_before)
        self._hedge_len = max((len(c) for c in lexicon.hedge_after + lexicon.hedge_before), default=0)
        self._neg_len = max((len(c) for c in lexicon.negation_cues), default=0)
        self._exc_len = max((len(c) for c in lexicon.negation_exceptions), default=0)

    # -- discounting rules

    def _clause_start(self, text: str, start: int, lookback: int) -> int:
        lo = max(0, start - lookback)
        m = _LAST_DELIM.match(text, lo, start)
        return m.end() if m else lo

    def _negated(self, text: str, start: int) -> bool:
        if self._neg is None:
            return False
        gap = self.lexicon.negation_max_gap
        reach = self._neg_len + gap
        lo = self._clause_start(text, start, reach + self._exc_len)
        window = text[lo:start]
        if not window:
            return False
        if self._neg_exc is not None:
            window = self._neg_exc.sub(lambda m: "\x00" * len(m.group()), window)
        n = len(window)
        for m in self._neg.finditer(window, max(0, n - reach)):
            between = window[m.end() :]
            if len(between) > gap:
                continue
            if "\x00" in between or (self._cond is not None and self._cond.search(between)):
                continue
            return True
        return False

    def _question(self, text: str, start: int, end: int) -> bool:
        if self._inq is not None:
            gap = self.lexicon.inquiry_max_gap
            lo = self._clause_start(text, start, gap + 5)
            if self._inq.search(text, lo, start) is not None:
                return True
        # a rhetorical 吗？ discounts only the clause it ends ("难道要等到有人跳楼吗？"), not an
        # earlier clause of the sentence ("我就自焚，老百姓的事就没人当回事吗？" is a threat)
        m = _CLAUSE_END.search(text, end)
        stop = m.end() if m else len(text)
        tail = text[end:stop]
        return ("?" in tail or "？" in tail) and _QUESTION_END.search(tail) is not None

    def _hedged(self, text: str, start: int, end: int) -> bool:
        gap = self.lexicon.hedge_max_gap
        if self._hedge_after is not None:
            m = self._hedge_after.search(text, end, end + gap + self._hedge_len)
            if m is not None and not any(ch in _CLAUSE_DELIMS for ch in text[end : m.start()]) and m.start() - end <= gap:
                return True
        if self._hedge_before is not None:
            lo = self._clause_start(text, start, self._hedge_len + gap)
            for m in self._hedge_before.finditer(text, lo, start):
                if start - m.end() <= gap:
                    return True
        return False

    def _quote_spans(self, text: str) -> list[tuple[int, int, bool]]:
        spans = []
        for m in _QUOTE_SPAN.finditer(text):
            s = m.start()
            title = text[s] in "《〈"
            cued = title or (self._quote_cue is not None and self._quote_cue.search(text, max(0, s - 6), s) is not None)
            if cued:
                spans.append((s, m.end(), True))
        return spans

    # -- public

    def match(self, text: str) -> dict[str, Any]:
        """Risk signals of ``text``: hits per category, max weight, terms with context, negated."""
        hits: dict[str, int] = {}
        terms: list[dict[str, Any]] = []
        max_weight = 0.0
        negated = 0
        if self._empty or not text:
            return {"hits": hits, "max_weight": max_weight, "terms": terms, "negated": negated}
        quotes: list[tuple[int, int, bool]] | None = None
        entries = self._entries
        for idx, start, end in self._automaton.find_matches_as_indexes(text):
            term, cat, weight = entries[idx]
            if quotes is None:
                quotes = self._quote_spans(text) if any(q in text for q in _QUOTES) else []
            if any(s < start and end < e for s, e, _ in quotes) or self._negated(text, start) or self._question(text, start, end) \
                    or self._hedged(text, start, end):
                negated += 1
                continue
            hits[cat] = hits.get(cat, 0) + 1
            if weight > max_weight:
                max_weight = weight
            if len(terms) < self.max_terms:
                c = self.context_chars
                ctx = _WS.sub(" ", text[max(0, start - c) : end + c]).strip()
                terms.append({"term": term, "category": cat, "weight": weight, "context": ctx})
        return {"hits": hits, "max_weight": max_weight, "terms": terms, "negated": negated}
