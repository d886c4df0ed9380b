"""Text enrichment: mask personal data, find risk terms, score negative sentiment and anger.

:class:`TextEnricher` bundles the steps for the ingest path. Risk terms, sentiment and anger
(:mod:`warning.core.text.mood`: DUTIR emotion words + exclamations, scaled by P(negative)) are
computed on the **masked** text, so contexts, stored texts and model inputs never carry personal
data, and a label that arrives later with an event's (masked) text trains on what was scored.

Configuration is the ``text:`` section of the YAML config (``Settings.text``), typed by
:class:`TextConfig`:

===================  ========================================================================
key                  meaning
===================  ========================================================================
``lexicon``          path of the risk lexicon YAML. Default: ``configs/lexicon.yaml`` of a
                     source checkout, else the copy shipped as ``warning/data/lexicon.yaml``.
``model_path``       sentiment state file (e.g. ``<worker.data_dir>/text/sentiment.npz``).
                     Loaded at start when it exists, else the shipped seed is used;
                     :meth:`TextEnricher.save` writes it.
``neutral_weight``   how a ``neutral`` feedback label trains the model (default 0.5): as
                     *not negative* with this sample weight — the output is P(negative), and a
                     neutral text is not negative, but it is weaker evidence than a positive
                     one. 0 ignores neutral labels.
``learn``            false freezes the model (``learn`` becomes a no-op).
``context_chars``    characters of masked context kept around each risk term (default 8).
``max_terms``        at most this many risk terms listed per text (default 20; all counted).
===================  ========================================================================

Examples
--------

>>> from warning.core.text import TextEnricher
>>> enricher = TextEnricher.from_config({"context_chars": 4})
>>> sig = enricher.enrich("业主们在3号楼2单元501室门口拉横幅，联系人王芳13812345678")
>>> sig.masked
'业主们在3号楼*单元***室门口拉横幅，联系人王*138****5678'
>>> {k: v for k, v in sig.pii.items() if v}
{'name': 1, 'mobile': 1, 'house_number': 1}
>>> sig.risk["hits"], [t["context"] for t in sig.risk["terms"]]
({'群体/聚集': 2}, ['业主们在3号楼', '*室门口拉横幅，联系人'])
>>> [round(s.sentiment_neg, 6) for s in enricher.enrich_many([sig.masked])] == [round(sig.sentiment_neg, 6)]
True
>>> 0.0 <= sig.anger <= 1.0
True
>>> TextEnricher.from_config({"neutral_weight": 2})
Traceback (most recent call last):
...
ValueError: text.neutral_weight: Input should be less than or equal to 1

"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import msgspec
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warning.core.text.mask import mask_pii
from warning.core.text.mood import AngerScorer
from warning.core.text.risk import Lexicon, RiskMatcher
from warning.core.text.sentiment import SentimentModel

__all__ = ["LABELS", "TextConfig", "TextEnricher", "TextSignals"]

LABELS = ("negative", "neutral", "positive")


class TextConfig(BaseModel):
    """The ``text:`` section of the configuration."""

    model_config = ConfigDict(extra="forbid")

    lexicon: str | None = Field(None, description="risk lexicon YAML path (default: configs/lexicon.yaml or the packaged copy)")
    model_path: str | None = Field(None, description="sentiment state file; loaded when present, else the shipped seed")
    neutral_weight: float = Field(0.5, ge=0.0, le=1.0, description="sample weight of a 'neutral' label, learned as not-negative")
    learn: bool = Field(True, description="false freezes the sentiment model")
    context_chars: int = Field(8, ge=0, le=200)
    max_terms: int = Field(20, ge=0, le=10_000)

    @classmethod
    def parse(cls, data: "Mapping[str, Any] | TextConfig | None") -> "TextConfig":
        """Validate; a bad value raises ``ValueError('text.<key>: <problem>')``."""
        if isinstance(data, TextConfig):
            return data
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "<section>"
            raise ValueError(f"text.{loc}: {err['msg']}") from None


class TextSignals(msgspec.Struct, frozen=True):
    """What the text of one event contributes.

    ``masked``: the text with personal data masked. ``pii``: masked items by kind.
    ``sentiment_neg``: P(negative) in [0, 1]. ``risk``: ``{"hits": {category: count},
    "max_weight": float, "terms": [{"term", "category", "weight", "context"}], "negated": int}``.
    ``anger``: anger/arousal in [0, 1] (:class:`~warning.core.text.mood.AngerScorer`).
    """

    masked: str
    pii: dict[str, int]
    sentiment_neg: float
    risk: dict[str, Any]
    anger: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"masked": self.masked, "pii": self.pii, "sentiment_neg": self.sentiment_neg, "anger": self.anger,
                "risk": self.risk}


class TextEnricher:
    """Masking + risk terms + sentiment + anger, with online learning and persistent state.

    Build it with :meth:`from_config` (or :meth:`from_state` to resume from bytes kept in a
    Faust table / changelog).
    """

    def __init__(self, matcher: RiskMatcher, model: SentimentModel, config: TextConfig | None = None,
                 mood: AngerScorer | None = None) -> None:
        self.config = config or TextConfig()
        self.matcher = matcher
        self.model = model
        self.mood = mood if mood is not None else AngerScorer.default()

    # ---------------------------------------------------------------- construction

    @staticmethod
    def _matcher(cfg: TextConfig) -> RiskMatcher:
        try:
            lexicon = Lexicon.load(cfg.lexicon) if cfg.lexicon else Lexicon.default()
        except ValueError as e:
            raise ValueError(f"text.lexicon: {e}") from None
        return RiskMatcher(lexicon, context_chars=cfg.context_chars, max_terms=cfg.max_terms)

    @classmethod
    def from_config(cls, text_cfg: "Mapping[str, Any] | TextConfig | None" = None) -> "TextEnricher":
        """Lexicon from config (or default); model from ``model_path`` if it exists, else the seed."""
        cfg = TextConfig.parse(text_cfg)
        matcher = cls._matcher(cfg)
        if cfg.model_path and Path(cfg.model_path).is_file():
            try:
                model = SentimentModel.load(cfg.model_path)
            except ValueError as e:
                raise ValueError(f"text.model_path: {e}") from None
        else:
            model = SentimentModel.seed()
        return cls(matcher, model, cfg)

    @classmethod
    def from_state(cls, data: bytes, text_cfg: "Mapping[str, Any] | TextConfig | None" = None) -> "TextEnricher":
        """Resume from :meth:`state_bytes` (the sentiment state; the lexicon comes from config)."""
        cfg = TextConfig.parse(text_cfg)
        return cls(cls._matcher(cfg), SentimentModel.from_bytes(data), cfg)

    def state_bytes(self) -> bytes:
        """Versioned sentiment state (see :class:`~warning.core.text.sentiment.SentimentModel`)."""
        return self.model.to_bytes()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the state to ``path`` or ``text.model_path`` (atomically); returns the path."""
        target = path or self.config.model_path
        if not target:
            raise ValueError("text.model_path is not set and no path was given")
        self.model.save(target)
        return Path(target)

    @classmethod
    def load(cls, path: str | os.PathLike[str], text_cfg: "Mapping[str, Any] | TextConfig | None" = None) -> "TextEnricher":
        return cls.from_state(Path(path).read_bytes(), text_cfg)

    # ---------------------------------------------------------------- enrichment

    def enrich(self, text: str) -> TextSignals:
        """Signals of one text (same numbers as :meth:`enrich_many`)."""
        return self.enrich_many([text])[0]

    def enrich_many(self, texts: Sequence[str]) -> list[TextSignals]:
        """Signals of many texts; sentiment is scored in one numpy batch."""
        masked: list[str] = []
        piis: list[dict[str, int]] = []
        for t in texts:
            m, c = mask_pii(t or "")
            masked.append(m)
            piis.append(c)
        head = self.mood.head
        if head is not None:  # sentiment and the anger head share the n-gram extraction
            probs, head_p = SentimentModel.predict_shared([self.model, head], masked)
        else:
            probs, head_p = self.model.predict_many(masked), None
        angers = self.mood.score_many(masked, probs, head_p).tolist()
        match = self.matcher.match
        return [TextSignals(m, c, p, match(m), a) for m, c, p, a in zip(masked, piis, probs.tolist(), angers)]

    def sentiment_many(self, texts: Sequence[str]) -> np.ndarray:
        """P(negative) of each text (masked first, as in :meth:`enrich_many`)."""
        return self.model.predict_many([mask_pii(t or "")[0] for t in texts])

    # ---------------------------------------------------------------- learning

    def learn(self, text: str, label: str) -> bool:
        """Online update from a feedback label; returns whether the model changed.

        ``negative`` → negative; ``positive`` → not negative; ``neutral`` → not negative with
        sample weight ``text.neutral_weight`` (skipped when 0). The text is masked first (a
        no-op for event texts, which are already masked).
        """
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {label!r}")
        if not self.config.learn:
            return False
        weight = 1.0
        if label == "neutral":
            weight = self.config.neutral_weight
            if weight <= 0:
                return False
        masked, _ = mask_pii(text or "")
        self.model.learn_one(masked, label == "negative", weight)
        return True
