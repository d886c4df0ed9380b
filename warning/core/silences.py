"""Silences of a street+signal, as delivery obeys them (pure: no Kafka, no clock of its own).

Staff silence a street+signal for some hours (``静默 N 小时``) or lift it (``解除静默``) with a
record on ``warning.alerts.feedback`` (:mod:`warning.core.alert_feedback`). While a street+signal
is silenced, its alerts — firing and resolved — are still produced to ``warning.alerts`` (the
dashboard and the history show them); only their webhooks are not sent.

:meth:`Silences.feed` takes one raw record and the time now and says what it did (the outcome,
a bounded set — see :data:`OUTCOMES`):

* ``disabled`` — no ``alerts_feedback.sources`` configured: nothing is obeyed;
* ``unsigned`` / ``unknown_source`` / ``bad_signature`` / ``bad_time`` / ``stale`` / ``future`` —
  :func:`~warning.core.signed_records.verify` with the sources, ``purpose`` =
  :data:`~warning.core.alert_feedback.PURPOSE`, the source named in ``source``, and freshness
  judged against ``now`` (a silence signed long ago never starts to count now);
* ``invalid`` — signed, but not the contract (:func:`~warning.core.alert_feedback.parse_feedback`);
* ``replay`` — a copy of a record already obeyed (:class:`~warning.core.signed_records.ReplayGuard`);
* ``ignored`` — 确认/误报/已处置: verdicts are not delivery's business;
* ``silenced`` / ``unsilenced`` — in force; ``expired`` — a silence whose hours are already over
  (kept, so an older record cannot win over it); ``superseded`` — older (``at``) than the
  decision in force for that street+signal;
* ``unknown_alert`` — the record names neither street nor signal and the alert it names has not
  been seen (yet): it is kept (bounded) and takes effect when that alert comes by
  (:meth:`Silences.silenced` sees it).

**Latest wins, by the signed time.** For each street+signal the decision with the latest ``at``
holds (equal ``at``: the one fed last). So the order records are read in (several partitions, a
rebuild from the topic) does not matter, and a replayed copy of an old record can never undo a
newer one. A silence lasts ``silence_hours`` from its ``at``.

The street+signal of a record is its ``street_code``/``signal``; a missing one is taken from the
alert it names (``alert_id``), from a bounded map of the alerts seen by delivery.

Example
-------

>>> from warning.core.alert_feedback import AlertFeedbackSettings
>>> from warning.core.signed_records import sign_record
>>> cfg = AlertFeedbackSettings.model_validate({"sources": {"dashboard": {"secret": "s3cret-0123456789abcdef"}}})
>>> t0 = 1_780_000_000.0
>>> def signed(at, **rec):
...     return sign_record({"alert_id": "a1", "by": "王科长", "source": "dashboard", **rec},
...                        cfg.secret_of("dashboard"), at, PURPOSE, source_field=SOURCE_FIELD)
>>> alert = {"alert_id": "a1", "street_code": "110105001", "signal": "hotline_volume"}
>>> s = Silences(cfg)
>>> s.feed(signed(t0, action="silence", silence_hours=4), t0)       # names the alert only
'unknown_alert'
>>> s.silenced(alert, t0 + 60) == t0 + 4 * 3600                     # resolved when it comes by
True
>>> s.feed(signed(t0 + 120, action="unsilence", street_code="110105001", signal="hotline_volume"), t0 + 120)
'unsilenced'
>>> s.silenced(alert, t0 + 180) is None
True
>>> s.feed(signed(t0 + 60, action="silence", silence_hours=1, street_code="110105001", signal="hotline_volume"), t0 + 200)
'superseded'
>>> rec = signed(t0 + 300, action="silence", silence_hours=1, street_code="110105001", signal="hotline_volume")
>>> s.feed(rec, t0 + 300), s.feed(rec, t0 + 301), s.silenced(alert, t0 + 400) == t0 + 300 + 3600
('silenced', 'replay', True)
>>> s.silenced(alert, t0 + 300 + 3600) is None                      # over
True
>>> s.feed({**rec, "silence_hours": 720}, t0 + 302), s.feed({**rec, "sig": None}, t0 + 302)
('bad_signature', 'unsigned')
>>> Silences(AlertFeedbackSettings()).feed(rec, t0 + 300)
'disabled'
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, NamedTuple

import msgspec

from warning.core.alert_feedback import PURPOSE, SOURCE_FIELD, AlertFeedback, parse_feedback
from warning.core.signed_records import REASONS, ReplayGuard, SignedSources, verify

#: every outcome :meth:`Silences.feed` may give (metric labels stay bounded)
OUTCOMES = ("disabled", *REASONS, "invalid", "replay", "ignored", "unknown_alert", "superseded", "expired",
            "silenced", "unsilenced")

Key = tuple[str, str]  # (street_code, signal)


class Decision(NamedTuple):
    """The decision in force for one street+signal: ``until`` is None for an unsilence."""

    action: str  # "silence" | "unsilence"
    at: float
    until: float | None
    alert_id: str


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class Silences:
    """The silences delivery obeys; see the module doc.

    ``max_alerts`` bounds the map alert_id → (street_code, signal); ``max_pending`` the records
    kept until the alert they name is seen (oldest forgotten first).
    """

    def __init__(self, settings: SignedSources, max_alerts: int = 100_000, max_pending: int = 10_000) -> None:
        self.settings = settings
        self.guard = ReplayGuard(settings.max_age_s, settings.max_future_s)
        self.decisions: dict[Key, Decision] = {}
        self.alerts: OrderedDict[str, Key] = OrderedDict()
        self.pending: OrderedDict[str, AlertFeedback] = OrderedDict()
        self.max_alerts = max_alerts
        self.max_pending = max_pending
        #: the street+signal the last decision was about (for a log line)
        self.last_key: Key | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.sources)

    # ------------------------------------------------------------------ feedback in
    def feed(self, record: Any, now: float) -> str:
        """Verify one raw record (a decoded JSON value) at wall time ``now`` and apply it if it is
        trusted and new; returns the outcome (one of :data:`OUTCOMES`)."""
        if not self.enabled:
            return "disabled"
        if not isinstance(record, Mapping):
            return "invalid"
        v = verify(record, self.settings, now, purpose=PURPOSE, source_field=SOURCE_FIELD)
        if not v.ok:
            return v.reason
        try:
            fb = parse_feedback(record)
        except ValueError:
            return "invalid"
        if self.guard.seen(v, now):
            return "replay"
        return self.apply(fb, now)

    def apply(self, fb: AlertFeedback, now: float) -> str:
        """Apply one *trusted* record (verified and not a replay: :meth:`feed` does that)."""
        self.prune(now)
        if fb.action not in ("silence", "unsilence"):
            return "ignored"
        key = self._key(fb)
        if key is None:
            old = self.pending.get(fb.alert_id)
            if old is None or old.at_s <= fb.at_s:
                self.pending[fb.alert_id] = fb
                self.pending.move_to_end(fb.alert_id)
                while len(self.pending) > self.max_pending:
                    self.pending.popitem(last=False)
            return "unknown_alert"
        return self._decide(key, fb, now)

    def _key(self, fb: AlertFeedback) -> Key | None:
        street, signal = fb.street_code, fb.signal
        if street is None or signal is None:
            known = self.alerts.get(fb.alert_id)
            if known is None:
                return None
            street, signal = street or known[0], signal or known[1]
        return street, signal

    def _decide(self, key: Key, fb: AlertFeedback, now: float) -> str:
        self.last_key = key
        cur = self.decisions.get(key)
        if cur is not None and cur.at > fb.at_s:
            return "superseded"
        if fb.action == "unsilence":
            self.decisions[key] = Decision("unsilence", fb.at_s, None, fb.alert_id)
            return "unsilenced"
        until = fb.at_s + float(fb.silence_hours or 0.0) * 3600.0
        self.decisions[key] = Decision("silence", fb.at_s, until, fb.alert_id)
        return "silenced" if until > now else "expired"

    # ------------------------------------------------------------------ alerts
    def silenced(self, alert: Any, now: float) -> float | None:
        """Until when (epoch s) ``alert``'s street+signal is silenced, or None. ``alert`` is an
        :class:`~warning.core.events.Alert` or a mapping with ``alert_id``, ``street_code`` and
        ``signal``; it is remembered, and a kept record naming it takes effect first."""
        alert_id, street, signal = _field(alert, "alert_id"), _field(alert, "street_code"), _field(alert, "signal")
        if not isinstance(street, str) or not isinstance(signal, str):
            return None
        key = (street, signal)
        if isinstance(alert_id, str):
            self.alerts[alert_id] = key
            self.alerts.move_to_end(alert_id)
            while len(self.alerts) > self.max_alerts:
                self.alerts.popitem(last=False)
            fb = self.pending.pop(alert_id, None)
            if fb is not None:
                self._decide((fb.street_code or street, fb.signal or signal), fb, now)
        d = self.decisions.get(key)
        if d is not None and d.until is not None and d.until > now:
            return d.until
        return None

    def active(self, now: float) -> dict[Key, float]:
        """(street_code, signal) → until, of the silences in force at ``now``."""
        return {k: d.until for k, d in self.decisions.items() if d.until is not None and d.until > now}

    def prune(self, now: float) -> None:
        """Forget decisions no longer in force whose ``at`` is beyond the freshness window (any
        record older than them is stale, so they can decide nothing any more), and kept records
        whose silence would be over."""
        horizon = now - self.settings.max_age_s - self.settings.max_future_s
        for k in [k for k, d in self.decisions.items() if (d.until is None or d.until <= now) and d.at < horizon]:
            del self.decisions[k]
        for a in [a for a, fb in self.pending.items()
                  if (fb.at_s + float(fb.silence_hours or 0.0) * 3600.0 <= now) and fb.at_s < horizon]:
            del self.pending[a]

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """JSON-able state (no person's name nor note: ``by``/``note`` are not kept).

        >>> from warning.core.alert_feedback import AlertFeedbackSettings
        >>> s = Silences(AlertFeedbackSettings())
        >>> s.silenced({"alert_id": "a1", "street_code": "110105001", "signal": "v"}, 0.0)
        >>> s.decisions[("110105001", "v")] = Decision("silence", 10.0, 3610.0, "a1")
        >>> t = Silences(AlertFeedbackSettings()); t.load_state(s.to_state())
        >>> t.silenced({"alert_id": "a2", "street_code": "110105001", "signal": "v"}, 20.0), list(t.alerts)
        (3610.0, ['a1', 'a2'])
        """
        return {
            "decisions": [[k[0], k[1], *d] for k, d in self.decisions.items()],
            "alerts": [[a, k[0], k[1]] for a, k in self.alerts.items()],
            # kept records without the person and the free-text note (delivery needs neither)
            "pending": [msgspec.to_builtins(msgspec.structs.replace(fb, by="", note=None)) for fb in self.pending.values()],
            "guard": self.guard.to_state(),
        }

    def load_state(self, state: Mapping[str, Any] | None) -> None:
        state = state or {}
        self.decisions = {(str(s), str(g)): Decision(str(act), float(at), None if until is None else float(until), str(aid))
                          for s, g, act, at, until, aid in state.get("decisions") or []}
        self.alerts = OrderedDict((str(a), (str(s), str(g))) for a, s, g in state.get("alerts") or [])
        self.pending = OrderedDict()
        for raw in state.get("pending") or []:
            fb = msgspec.convert(raw, AlertFeedback)
            self.pending[fb.alert_id] = fb
        self.guard.load_state(state.get("guard"))
