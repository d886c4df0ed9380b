"""Alert feedback (DESIGN.md contract on ``warning.alerts.feedback``): who said what about an alert.

Staff mark an alert 确认 (``confirmed``), 误报 (``false_alarm``), 已处置 (``handled``), or silence a
street+signal for some hours (``silence`` / ``unsilence``). The dashboard (or any client holding a
source key) writes one JSON record per action::

    {"alert_id": str, "action": "confirmed"|"false_alarm"|"handled"|"silence"|"unsilence",
     "by": str (the person), "at": time, "note": str?, "silence_hours": number? (for "silence"),
     "street_code": str?, "signal": str?,
     "source": str (the signing source), "sig": str (see warning.core.signed_records)}

``source``/``sig`` are additions to the contract: a silence stops webhooks, so the worker obeys only
records signed by a source configured in ``alerts_feedback.sources`` (the signing source is named in
``source`` because ``by`` names the person).

>>> fb = parse_feedback({"alert_id": "a1", "action": "silence", "by": "王科长", "at": "2025-03-01T09:00:00+08:00",
...                      "silence_hours": 4, "street_code": "110105001", "signal": "volume_hotline"})
>>> fb.action, fb.silence_hours, fb.at_s
('silence', 4.0, 1740790800.0)
>>> parse_feedback({"alert_id": "a1", "action": "silence", "by": "x", "at": "2025-03-01T09:00:00+08:00"})
Traceback (most recent call last):
...
ValueError: silence_hours: a silence needs 0 < silence_hours <= 720
>>> parse_feedback({"alert_id": "a1", "action": "like", "by": "x", "at": "2025-03-01T09:00:00+08:00"})
Traceback (most recent call last):
...
ValueError: action: 'like' is not one of confirmed, false_alarm, handled, silence, unsilence
>>> parse_feedback({"alert_id": "a1", "action": "handled", "by": "x", "at": "2025-03-01T09:00:00+08:00", "note": "a\\x00b"})
Traceback (most recent call last):
...
ValueError: note: NUL character
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

import msgspec
from pydantic import Field

from warning.core.signed_records import PURPOSE_ALERT_FEEDBACK, SignedSources, SourceKey, parse_time

ACTIONS = ("confirmed", "false_alarm", "handled", "silence", "unsilence")
ACTION_ZH = {"confirmed": "确认", "false_alarm": "误报", "handled": "已处置", "silence": "静默", "unsilence": "解除静默"}
VERDICTS = ("confirmed", "false_alarm")
MAX_SILENCE_HOURS = 720.0
MAX_NOTE_CHARS = 500
SOURCE_FIELD = "source"
PURPOSE = PURPOSE_ALERT_FEEDBACK

Action = Literal["confirmed", "false_alarm", "handled", "silence", "unsilence"]


class AlertFeedback(msgspec.Struct, frozen=True):
    """One parsed feedback record (unknown fields dropped; ``at_s`` is ``at`` in epoch seconds)."""

    alert_id: str
    action: Action
    by: str
    at: str
    at_s: float
    note: str | None = None
    silence_hours: float | None = None
    street_code: str | None = None
    signal: str | None = None
    source: str | None = None


def parse_feedback(rec: Mapping[str, Any]) -> AlertFeedback:
    """Validate one record against the contract; ``ValueError`` naming the field otherwise."""
    if not isinstance(rec, Mapping):
        raise ValueError("record: not a JSON object")
    for k in ("alert_id", "by"):
        if not isinstance(rec.get(k), str) or not rec[k].strip():
            raise ValueError(f"{k}: a non-empty string is required")
    action = rec.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")
    at_s = parse_time(rec.get("at"))
    if at_s is None:
        raise ValueError("at: an ISO 8601 time with offset is required")
    hours = rec.get("silence_hours")
    if action == "silence":
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= MAX_SILENCE_HOURS:
            raise ValueError(f"silence_hours: a silence needs 0 < silence_hours <= {MAX_SILENCE_HOURS:g}")
        hours = float(hours)
    else:
        hours = None
    note = rec.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
        raise ValueError(f"note: a string of at most {MAX_NOTE_CHARS} characters")
    opt = {}
    for k in ("street_code", "signal", "source"):
        v = rec.get(k)
        if v is not None and not isinstance(v, str):
            raise ValueError(f"{k}: must be a string")
        opt[k] = v or None
    # PostgreSQL text cannot hold NUL: such a record could not enter the history, so no reader
    # (delivery included) may obey it either
    for k, v in (("alert_id", rec["alert_id"]), ("by", rec["by"]), ("note", note), *opt.items()):
        if isinstance(v, str) and "\x00" in v:
            raise ValueError(f"{k}: NUL character")
    return AlertFeedback(alert_id=rec["alert_id"], action=action, by=rec["by"], at=rec["at"], at_s=at_s,
                         note=note, silence_hours=hours, **opt)


class AlertFeedbackSettings(SignedSources):
    """The ``alerts_feedback:`` config section: sources whose signed records the pipeline obeys
    (silences in delivery, verdicts counted in precision). Empty: silences are not honoured and
    verdicts are stored as untrusted (the dashboard refuses actions without a key to sign with).
    Records may be older than ``max_age_s`` only in history, never for a silence taking effect."""

    sources: dict[str, SourceKey] = Field(default_factory=dict, description="source id (the records' `source`) → its key")

    @property
    def enabled(self) -> bool:
        return bool(self.sources)
