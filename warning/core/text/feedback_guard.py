"""Which sentiment labels on ``warning.feedback`` may train the model, and how much.

A label is ``{"text" or "event_id", "label": "negative"|"neutral"|"positive", "by": source,
"at": time, "sig": hex}``, signed as :mod:`warning.core.signed_records` describes (purpose
:data:`~warning.core.signed_records.PURPOSE_SENTIMENT_LABEL`). :class:`FeedbackGuard` decides,
record by record, with these outcomes (the ``outcome`` label of ``warning_feedback_total``):

=================  ==========================================================================
``disabled``       no source is configured: learning from feedback is off (safe by default)
``invalid``        not a JSON object, or (signed but) no valid ``label``
``unsigned`` …     not authenticated: ``unsigned``, ``unknown_source``, ``bad_signature``,
                   ``bad_time``, ``stale``, ``future`` (see :func:`~warning.core.signed_records.verify`)
``replay``         a copy of a signed record already seen within the window
``unknown_event``  an ``event_id`` label for an event this worker does not know
``capped``         this source already gave ``per_text`` labels for this (normalised) text
``rate_limited``   this source already gave ``per_source_per_hour`` labels in this hour (of ``at``)
``learned``        the model learned it; ``ignored``: accepted, but the model is frozen
=================  ==========================================================================

Only signed, fresh, first-seen labels within both caps reach the model, so one source — even one
whose key leaked — moves a text at most ``per_text`` labels' worth, and the model at most
``per_source_per_hour`` labels an hour. Texts are compared normalised (:func:`normalise`: PII
masked as the model sees it, NFKC, case-folded, only letters and digits), so "坏了！！" and
"坏了" are one text. The guard's memory is bounded (``remember_texts`` (source, text) pairs,
``remember_signatures`` digests; the oldest are forgotten first) and serialisable, so it is saved
with the model.

Examples
--------

>>> from warning.core.signed_records import sign_record
>>> cfg = FeedbackSettings.model_validate({"sources": {"ops": {"secret": "0123456789abcdef-ops"}}})
>>> guard, now, learned = FeedbackGuard(cfg), 1_780_000_000.0, []
>>> learn = lambda text, label: learned.append((text, label)) or True
>>> def signed(**fields):
...     return sign_record({**fields, "by": "ops"}, cfg.secret_of("ops"), now, PURPOSE_SENTIMENT_LABEL)
>>> guard.process({"text": "快递柜坏了", "label": "positive", "by": "nobody"}, now, learn).outcome
'unsigned'
>>> guard.process({"text": "快递柜坏了", "label": "positive", "by": "nobody", "sig": "0" * 64}, now, learn).outcome
'unknown_source'
>>> rec = signed(text="快递柜坏了", label="negative")
>>> [guard.process(rec, now, learn).outcome for _ in range(2)]
['learned', 'replay']
>>> guard.process(signed(text="快递柜坏了！！", label="negative", note="again"), now, learn).outcome
'capped'
>>> learned
[('快递柜坏了', 'negative')]
>>> d = guard.process(signed(event_id="hotline:1", label="neutral"), now, learn, lookup={}.get)
>>> d.outcome, d.by, d.label
('unknown_event', 'ops', 'neutral')
>>> FeedbackGuard(FeedbackSettings()).process(rec, now, learn).outcome
'disabled'
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import OrderedDict
from typing import Any, Callable, Mapping, NamedTuple

from pydantic import Field

from warning.core.signed_records import PURPOSE_SENTIMENT_LABEL, ReplayGuard, SignedSources, verify
from warning.core.text.mask import mask_pii

LABELS = ("negative", "neutral", "positive")
OUTCOMES = ("disabled", "invalid", "unsigned", "unknown_source", "bad_signature", "bad_time", "stale", "future",
            "replay", "unknown_event", "capped", "rate_limited", "learned", "ignored", "error")
MAX_BY_CHARS = 64


class FeedbackSettings(SignedSources):
    """The ``feedback:`` config section: trusted sources (see :class:`SignedSources`) and caps."""

    per_text: int = Field(1, ge=1, le=1000, description="labels applied per (source, normalised text)")
    per_source_per_hour: int = Field(120, ge=1, description="labels applied per source and hour (of the records' `at`)")
    remember_texts: int = Field(200_000, ge=1000, description="(source, text) pairs remembered for per_text")
    remember_signatures: int = Field(100_000, ge=1000, description="signature digests remembered against replays")

    @property
    def enabled(self) -> bool:
        return bool(self.sources)


def normalise(text: str) -> str:
    """The text as the per-text cap compares it: masked, NFKC, case-folded, letters and digits only.

    >>> normalise("ＡＢＣ小区 快递柜坏了！！") == normalise("abc小区快递柜坏了") == "abc小区快递柜坏了"
    True
    """
    masked, _ = mask_pii(text)
    folded = unicodedata.normalize("NFKC", masked).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of the text as given: audit entries name a text by this, never by its words."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Decision(NamedTuple):
    """The outcome for one record and what the audit trail keeps of it (no text)."""

    outcome: str
    by: str | None = None
    label: str | None = None
    text_sha256: str | None = None
    event_id: str | None = None
    at: str | None = None


class FeedbackGuard:
    """Authenticate, de-duplicate and cap feedback labels (see the module doc)."""

    def __init__(self, settings: FeedbackSettings) -> None:
        self.settings = settings
        self.replays = ReplayGuard(settings.max_age_s, settings.max_future_s, settings.remember_signatures)
        self._per_text: OrderedDict[str, int] = OrderedDict()
        self._per_hour: dict[tuple[str, int], int] = {}

    def process(self, fb: Any, now: float, learn: Callable[[str, str], bool],
                lookup: Callable[[str], str | None] | None = None) -> Decision:
        """Decide on one parsed record; call ``learn(text, label)`` only when it may train."""
        if not isinstance(fb, Mapping):
            return Decision("invalid")
        by = fb.get("by") if isinstance(fb.get("by"), str) else None
        by = by[:MAX_BY_CHARS] if by is not None else None
        label = fb.get("label") if fb.get("label") in LABELS else None
        eid = fb.get("event_id") if isinstance(fb.get("event_id"), str) else None
        text = fb.get("text") if isinstance(fb.get("text"), str) and fb.get("text") else None
        at = fb.get("at") if isinstance(fb.get("at"), str) else None
        base = Decision("", by, label, text_sha256(text) if text else None, eid[:200] if eid else None, at[:40] if at else None)
        if not self.settings.enabled:
            return base._replace(outcome="disabled")
        verdict = verify(fb, self.settings, now, PURPOSE_SENTIMENT_LABEL)
        if not verdict.ok:
            return base._replace(outcome=verdict.reason)
        if self.replays.seen(verdict, now):
            return base._replace(outcome="replay")
        if label is None:
            return base._replace(outcome="invalid")
        if text is None:
            text = lookup(eid) if (lookup is not None and eid) else None
            if not text:
                return base._replace(outcome="unknown_event")
            base = base._replace(text_sha256=text_sha256(text))
        assert by is not None and verdict.at is not None  # verified
        key = hashlib.sha256(f"{by}\x00{normalise(text)}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if self._per_text.get(key, 0) >= self.settings.per_text:
            self._per_text.move_to_end(key)
            return base._replace(outcome="capped")
        hour = int(verdict.at // 3600)
        self._expire_hours(now)
        if self._per_hour.get((by, hour), 0) >= self.settings.per_source_per_hour:
            return base._replace(outcome="rate_limited")
        if not learn(text, label):
            return base._replace(outcome="ignored")
        self._per_text[key] = self._per_text.pop(key, 0) + 1
        while len(self._per_text) > self.settings.remember_texts:
            self._per_text.popitem(last=False)
        self._per_hour[(by, hour)] = self._per_hour.get((by, hour), 0) + 1
        return base._replace(outcome="learned")

    def _expire_hours(self, now: float) -> None:
        oldest = int((now - self.settings.max_age_s) // 3600) - 1
        for k in [k for k in self._per_hour if k[1] < oldest]:
            del self._per_hour[k]

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """JSON-able memory (saved with the model, so caps hold across restarts)."""
        return {"per_text": [[k, n] for k, n in self._per_text.items()],
                "per_hour": [[s, h, n] for (s, h), n in self._per_hour.items()],
                "seen": self.replays.to_state()}

    def load_state(self, state: Mapping[str, Any] | None) -> None:
        state = state or {}
        self._per_text = OrderedDict((str(k), int(n)) for k, n in state.get("per_text", []))
        self._per_hour = {(str(s), int(h)): int(n) for s, h, n in state.get("per_hour", [])}
        self.replays.load_state(state.get("seen"))
