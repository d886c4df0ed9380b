"""The protocol between a street and its detectors.

A street (:class:`warning.core.street.StreetState`) owns what is normal for it (its
:class:`~warning.core.baseline.StreetBaseline`), its open windows and its alert lifecycle; its
detectors turn those into :class:`~warning.core.decide.Detection` objects. A detector is a small
stateless object made once per engine from the detection settings, with up to four hooks, each
optional (the base class returns nothing):

* :meth:`Detector.on_arrival` — single-event rules decided the moment an event arrives (before
  the reorder buffer: no waiting for the watermark);
* :meth:`Detector.on_event` — rules over the street's open windows, at every released event;
* :meth:`Detector.claims` / :meth:`Detector.describe` — the street scans each of the event's keys
  over the trailing windows with one count test (negative binomial against the baseline × mix ×
  common mode, :mod:`warning.models.significance`); a detector *claims* the (key, window) pairs it
  reports on under a signal name of the catalogue (:mod:`warning.core.signals`), and describes a
  significant one as a detection. The street keeps the strongest evidence per signal per event;
* :meth:`Detector.after_scan` — tests of other statistics at every released event (e.g. the mean
  sentiment of the windows' texts).

A detector that needs memory of its own per street (e.g. which places the street's records name)
makes it in :meth:`Detector.new_state`; ``street.state_of(detector)`` returns it, and it is saved
and restored with the street. Its evidence is leveled with ``street.level(signal, s, det, ctx)``,
which applies the signal's share of the false-alert budget.

Register a new detector with one line in :mod:`warning.models.registry`; ``detect.detectors``
selects them (all by default). A detector's own settings are a pydantic ``Params`` class in its
module, configured under ``detect.detector_params.<name>`` and validated at start (the
built-in detectors read the ``detect:`` section's keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from warning.core.decide import Detection
from warning.core.detect_config import DetectSettings
from warning.core.events import Event
from warning.core.keys import KeyInfo, KeyTable
from warning.core.timeutil import HOUR
from warning.core.window import WindowAgg
from warning.models._tails import score_from_log10p

if TYPE_CHECKING:
    from warning.core.street import StreetState


@dataclass
class ScanHit:
    """One significant trailing window of one key."""

    key: KeyInfo
    window_hours: int
    t: float  # event time of the test
    observed: float
    expected: float  # the street model's expectation (before the common-mode ratio)
    ratio: float  # common-mode ratio
    phi: float  # dispersion used
    log10p: float
    level: str


class Detector:
    """Base class: every hook returns nothing. Subclasses set ``name`` and ``signals``."""

    name: ClassVar[str] = ""
    signals: ClassVar[tuple[str, ...]] = ()
    #: a pydantic model of the detector's own settings (``detect.detector_params.<name>``), or None
    Params: ClassVar[Any] = None

    def __init__(self, det: DetectSettings, keys: KeyTable) -> None:
        self.det = det
        self.keys = keys
        model = type(self).Params
        self.params = model.model_validate(det.detector_params.get(self.name, {})) if model is not None else None

    def new_state(self) -> Any:
        """A new street's state of this detector, for detectors that keep their own (picklable,
        small: it is saved with the street). ``street.state_of(self)`` returns it."""
        return None

    def on_arrival(self, ev: Event) -> list[Detection]:
        return []

    def on_event(self, ev: Event, street: "StreetState") -> list[Detection]:
        return []

    def claims(self, key: KeyInfo, window_hours: int) -> str | None:
        """The signal under which this detector reports scans of ``key`` over ``window_hours``."""
        return None

    def describe(self, signal: str, hit: ScanHit, street: "StreetState") -> Detection:
        raise NotImplementedError

    def after_scan(self, ev: Event, street: "StreetState", ctx: Any) -> list[Detection]:
        return []

    # ------------------------------------------------------------------ helpers for subclasses
    def long(self, window_hours: int) -> bool:
        return window_hours >= self.det.long_window_hours

    def score(self, signal: str, level: str) -> float:
        """The score of a rule detection: that of the level's threshold."""
        return score_from_log10p(getattr(self.det.thresholds_for(signal), level))


def span_zh(window_hours: int) -> str:
    return "近1小时" if window_hours == 1 else f"近{window_hours}小时"


def scan_detection(signal: str, hit: ScanHit, street: "StreetState", what_zh: str, evidence: dict[str, Any],
                   group: str) -> Detection:
    """A detection from a scan hit: the common evidence plus the detector's own."""
    o, e, r, wh = hit.observed, hit.expected, hit.ratio, hit.window_hours
    exp = e * r
    ev: dict[str, Any] = {"key": hit.key.key, "window_hours": wh, "log10p": round(hit.log10p, 3), "early": True,
                          "expected_street_model": round(e, 3), "common_mode_ratio": round(r, 3),
                          "dispersion": round(hit.phi, 4), **evidence}
    cm = f"，全区同期为常态的 {r:.1f} 倍" if abs(r - 1.0) >= 0.2 else ""
    ev["detail_zh"] = f"{span_zh(wh)}{what_zh} {o:g} 件，为预期的 {o / max(exp, 0.01):.1f} 倍{cm}"
    win = street.hour if wh <= 6 else street.day
    return Detection(signal=signal, level=hit.level, t=hit.t, window_start=hit.t - wh * HOUR, window_end=hit.t,
                     observed=o, expected=round(exp, 3), score=score_from_log10p(hit.log10p), evidence=ev,
                     samples=win.texts() if win is not None else [], group=group)


def feed_evidence(feed: Any, w: WindowAgg | None) -> dict[str, Any]:
    """What the open hour says about one feed's records: severity and people for feeds with a
    severity, people and repeats for feeds with people, record kinds otherwise."""
    if w is None:
        return {}
    f = feed.name
    if feed.severity_field:
        return {"severity_sum": w.severity.get(f, 0), "severe": w.severe.get(f, 0), "people": w.people.get(f, 0)}
    if feed.people_field:
        return {"people": w.people.get(f, 0), "repeats": w.repeats.get(f, 0)}
    return {"types": dict(sorted(w.kinds.get(f, {}).items()))}
