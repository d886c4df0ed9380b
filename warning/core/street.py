"""State of one street: what is normal for it, its open windows, its alert lifecycle — and the
loop that asks its detectors.

Events arrive in event-time order (the engine's reorder buffer sees to that). At each one:

1. the open hourly and daily windows and the trailing-window counters take it;
2. the *rules* of the detectors (risk-term rules, group petitions, crowds) look at it;
3. once the street has learned ``warmup_hours`` hours, its *scan*: every key the event counts for
   (feed volume, theme, risk category, negative tail; see :mod:`warning.core.keys`) is tested
   over each trailing window (1 h exact, 6/24/72 h in hourly slots) against its expectation —
   the street's learned hourly expectation for the key's feeds (:class:`SeasonalCount`), times
   the key's learned share, times the partition's *common-mode* ratio (how far every other street
   of the partition is above its own expectation for the same key and window: a heating season,
   a holiday or a Monday morning is not one street's anomaly). Evidence is ``-log10 P(X >=
   observed)`` under a negative binomial whose dispersion includes the model's uncertainty. The
   detector that *claims* the (key, window) names the signal; the strongest evidence per signal
   is kept. A window is tested when it gets an event, so an anomaly is seen while it builds;
4. the detectors' other tests (mean sentiment);
5. each detection goes to the lifecycle (:class:`~warning.core.decide.StreetAlerts`) unless the
   same signal already reached that level in the open hour.

At hour close (every street, every hour) the baseline learns the hour and episodes without a
detection count a quiet window; at day close it learns the day. Until ``young_hours`` the
street's model tests need ``young_extra_log10p`` more evidence (its own weekly rhythm is known
only through the partition's common mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from warning.core.baseline import StreetBaseline
from warning.core.decide import Detection, StreetAlerts
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.events import Alert, Event
from warning.core.keys import MAX_CACHED_KEYS, KeyInfo, KeyTable
from warning.core.signals import LEVEL_RANK, hourly_signals
from warning.core.timeutil import DAY, HOUR
from warning.core.window import WindowAgg
from warning.models.detector import Detector, ScanHit
from warning.models.multi_source import MultiSource
from warning.models.significance import count_test


@dataclass
class StreetEnv:
    """What every street of an engine shares and does not own (not part of its saved state):
    the key table of the configured feeds, the selected detectors, the multi-source rule."""

    keys: KeyTable
    detectors: tuple[Detector, ...] = ()
    multi: MultiSource | None = None
    group_zh: Mapping[str, str] = field(default_factory=dict)
    windows: tuple[int, ...] = (1, 6, 24, 72)
    _claims: dict[str, list[tuple[int, str, Detector]]] = field(default_factory=dict)
    _plans: dict[str, tuple[KeyInfo, list[tuple[int, str, Detector]], bool]] = field(default_factory=dict)
    #: the detectors that define each per-event hook (registry order): the others are not asked
    on_event_hooks: tuple[Detector, ...] = field(init=False, default=())
    after_scan_hooks: tuple[Detector, ...] = field(init=False, default=())

    on_arrival_hooks: tuple[Detector, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        def hooked(name: str) -> tuple[Detector, ...]:
            return tuple(d for d in self.detectors if getattr(type(d), name) is not getattr(Detector, name))

        self.on_arrival_hooks = hooked("on_arrival")
        self.on_event_hooks = hooked("on_event")
        self.after_scan_hooks = hooked("after_scan")

    def plan(self, key: str) -> tuple[KeyInfo, list[tuple[int, str, Detector]], bool]:
        """What the scan needs of a key, once: its info, its claims, and whether it is a
        category theme (tested with ``category_min_count``)."""
        p = self._plans.get(key)
        if p is None:
            if len(self._plans) >= MAX_CACHED_KEYS:  # themes are free text: stay bounded
                self._plans.clear()
            ki = self.keys.info(key)
            cat = ki.family == "theme" and self.keys.feeds[ki.feeds[0]].theme == "category"
            p = self._plans[key] = (ki, self.claims(ki), cat)
        return p

    def claims(self, ki: KeyInfo) -> list[tuple[int, str, Detector]]:
        """(window, signal, detector) for each window of ``ki`` some detector claims — the first
        detector (registry order) that claims a window reports it (cached per kind of key: a
        theme's claims depend on its pool, not its name)."""
        ck = ki.key if ki.family in ("volume", "risk", "tail") else ki.prefix
        c = self._claims.get(ck)
        if c is None:
            c = []
            for wh in self.windows:
                for d in self.detectors:
                    sig = d.claims(ki, wh)
                    if sig is not None:
                        c.append((wh, sig, d))
                        break
            self._claims[ck] = c
        return c


class StreetState:
    VERSION = 5  # 5: counts per key and hour in a lazily advanced CountRing (4: mood is the anger score)

    def __init__(self, place: dict[str, str], env: StreetEnv, det: DetectSettings) -> None:
        self.place = place
        self.env = env  # not pickled: the engine sets it back on restore
        self.baseline = StreetBaseline(env.keys, det)
        self.explained: set[str] = set()  # keys whose burst in the open hour already raised an alert
        self.hour: WindowAgg | None = None
        self.day: WindowAgg | None = None
        self.last_closed_hour: float | None = None  # start of the last hour learned
        self.last_closed_day: float | None = None
        self.alerts = StreetAlerts()
        self.late = 0
        self.fired: dict[str, int] = {}  # signal → highest level rank detected in the open hour
        self.daymax: dict[str, float] = {}  # signal → strongest evidence of the open day (for the budget)
        self.ext: dict[str, Any] = {}  # detector name → that detector's own state of this street
        self.version = self.VERSION

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("env", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("daymax", {})  # saved before the false-alert budget
        self.__dict__.setdefault("ext", {})  # saved before detectors kept state of their own

    @property
    def keys(self) -> KeyTable:
        return self.env.keys

    @property
    def hours_learned(self) -> int:
        return self.baseline.hours_learned

    # ------------------------------------------------------------------ events
    def add(self, ev: Event, hour_start: float, day_start: float, keys: tuple[str, ...], mood: float | None,
            det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[Alert]:
        """One released event; ``keys`` are its scan keys and ``mood`` its P(negative) if its feed's
        texts count for mood (both computed once by the engine)."""
        hw = self.hour
        if hw is None or hw.start != hour_start:
            hw = self.hour = WindowAgg(hour_start)
        dw = self.day
        if dw is None or dw.start != day_start:
            dw = self.day = WindowAgg(day_start)
        b = self.baseline
        env = self.env
        mus = b.hour_mu(hour_start, env.keys)  # opens the hour (once); the scan reuses it
        risk = ev.risk
        hits = risk.hits if risk is not None else None
        salience = (risk.max_weight if risk is not None else 0.0) + (ev.sentiment_neg or 0.0)
        src, kind, people, severity, repeat, text = ev.source, ev.kind, ev.people_count, ev.severity, ev.is_repeat, ev.text
        hw.add_event(src, kind, people, severity, repeat, hits, text, salience)
        dw.add_event(src, kind, people, severity, repeat, hits, text, salience)
        b.add(ev.ts, hour_start, keys, hits, mood)
        dets: list[Detection] = []
        for d in env.on_event_hooks:
            dets += d.on_event(ev, self)
        if det.early_firing and b.hours_learned >= det.warmup_hours:
            dets += self._scan(ev.ts, hour_start, keys, det, ctx, mus)
            for d in env.after_scan_hooks:
                dets += d.after_scan(ev, self, ctx)
        if not dets:
            return []
        out: list[Alert] = []
        for d in dets:
            out += self.emit(d, det, cfg)
        return out

    def emit(self, d: Detection, det: DetectSettings, cfg: AlertSettings) -> list[Alert]:
        """Hand a detection to the lifecycle unless the same signal already reached this level (or
        higher) in the open hour — the lifecycle would not send it anyway."""
        r = LEVEL_RANK[d.level]
        if self.fired.get(d.signal, 0) >= r:
            return []
        self.fired[d.signal] = r
        return self.detected(d, det, cfg)

    def detected(self, d: Detection, det: DetectSettings, cfg: AlertSettings) -> list[Alert]:
        """The lifecycle's answer to a detection (no open-hour gate: on-arrival rules use this)."""
        return self.alerts.on_detection(d, self.place, det, cfg, self.env.multi, self.env.group_zh)

    def state_of(self, detector: Detector) -> Any:
        """The detector's own state of this street (made by its ``new_state`` on first use; saved
        and restored with the street)."""
        st = self.ext.get(detector.name)
        if st is None:
            st = self.ext[detector.name] = detector.new_state()
        return st

    def level(self, signal: str, s: float, det: DetectSettings, ctx: Any) -> str | None:
        """The level evidence ``s`` (``-log10 p``, young margin taken off) reaches for ``signal``:
        against the thresholds the partition's false-alert budget calibrated, else the configured
        ones. Every test counts toward the signal's strongest evidence of the day."""
        if s > self.daymax.get(signal, 0.0):
            self.daymax[signal] = s
        budget = ctx.budget if ctx is not None else None
        t = det.thresholds_for(signal)
        return (budget.thresholds(signal, t) if budget is not None else t).level(s)

    # ------------------------------------------------------------------ scan
    def _scan(self, t: float, hour_start: float, keys: tuple[str, ...], det: DetectSettings, ctx: Any,
              mus: tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]] | None = None) -> list[Detection]:
        """Test the trailing windows of the event's keys (hot path: kept lean); the strongest
        evidence per signal, in the order the signals first appear. ``mus``: the baseline's
        ``hour_mu(hour_start)`` if the caller has it."""
        b = self.baseline
        kt = self.keys
        cur, prev = mus if mus is not None else b.hour_mu(hour_start, kt)
        frac = (t - hour_start) / HOUR
        best: dict[str, tuple[float, ScanHit, Detector]] = {}
        min_n = det.min_count_for_alert
        min_c = det.category_min_count
        recent = b.recent.counts
        ring = b.ring
        wi = ring.wi
        ecl = b.exp.closed
        long_from = det.long_window_hours
        lo = det.common_mode_min
        use_ctx = ctx is not None and det.common_mode
        fam_e: dict[tuple[tuple[str, ...], int], float] = {}
        young = b.young_margin(det)
        phi_day = b.phi_day
        vk = kt.volume_key
        plan = self.env.plan
        for key in keys:
            ki, claims, cat = plan(key)
            if not claims:
                continue
            now_n, cl = ring.now(key)
            if ki.shared:
                sh, sh_phi = b.share(key, ki.prefix), b.share_phi(key)
                need = min_c if cat else min_n
            else:
                sh, sh_phi, need = 1.0, 0.0, min_n
            for wh, signal, d in claims:
                if wh == 1:
                    o = float(recent.get(key, 0))
                else:
                    o = (cl[wi[wh]] if cl is not None else 0.0) + now_n
                if o < need:
                    continue
                fk = (ki.feeds, wh)
                eb = fam_e.get(fk)
                if eb is None:
                    eb = 0.0
                    for f in ki.feeds:
                        if wh == 1:
                            eb += prev[f][0] * (1.0 - frac) + cur[f][0] * frac
                        else:
                            c2 = ecl.get(vk[f])
                            eb += (c2[wi[wh]] if c2 is not None else 0.0) + cur[f][0] * frac
                    fam_e[fk] = eb
                e = eb * sh
                # dispersion: the hourly model's for short windows; for a day or more, that of day
                # totals around the hourly expectations (hour-of-week uncertainty averages out)
                pd = phi_day.get(ki.pool) if wh >= 24 and phi_day is not None else None
                phi = (pd if pd is not None else cur[ki.feeds[0]][1]) + sh_phi
                el = e * lo
                if o <= el + 2.5 * math.sqrt(el + phi * el * el):
                    continue  # cannot pass even with the most favourable common-mode ratio
                r = ctx.ratio(key, wh, t, hour_start, o, e) if use_ctx else 1.0
                s = count_test(o, e * r, phi)
                if s <= 0.0:
                    continue
                level = self.level(signal, s - young, det, ctx)
                if level is None:
                    continue
                if wh < long_from and LEVEL_RANK[level] >= 2:
                    self.explained.add(key)
                if signal in best and best[signal][0] >= s:
                    continue
                best[signal] = (s, ScanHit(ki, wh, t, o, e, r, phi, s, level), d)
        return [d.describe(signal, hit, self) for signal, (_, hit, d) in best.items()]

    # ------------------------------------------------------------------ closes
    def _learn_zero_hours(self, until: float, det: DetectSettings, cfg: AlertSettings) -> list[Alert]:
        """Learn quiet hours after the last closed one, up to (excluding) ``until`` (only needed when
        the engine skipped hours, e.g. after a restore)."""
        out: list[Alert] = []
        if self.last_closed_hour is None:
            return out
        h = self.last_closed_hour + HOUR
        while h < until:
            out += self._close(h, None, det, cfg)
            h += HOUR
        return out

    def close_hour(self, start: float, det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[Alert]:
        """Close the hour starting at ``start`` (whether or not the street had events in it)."""
        last = self.last_closed_hour
        out = self._learn_zero_hours(start, det, cfg) if last is not None and last + HOUR < start else []
        if self.last_closed_hour is not None and start <= self.last_closed_hour:
            return out
        w = self.hour if self.hour is not None and self.hour.start == start else None
        out += self._close(start, w, det, cfg, ctx)
        return out

    def _close(self, start: float, w: WindowAgg | None, det: DetectSettings, cfg: AlertSettings,
               ctx: Any = None) -> list[Alert]:
        """Learn the hour starting at ``start`` from its window ``w`` (None: no records)."""
        out: list[Alert] = []
        self.baseline.hour_mu(start, self.keys)
        if self.alerts.episodes:
            t_end = start + HOUR
            hourly = hourly_signals()
            for sig in list(self.alerts.episodes):
                if sig in hourly and sig not in self.fired:
                    out += self.alerts.on_quiet(sig, t_end, self.place, cfg)
        self.baseline.learn_hour(start, w, self.keys, det, ctx, self.explained)
        if self.explained:
            self.explained = set()
        self.last_closed_hour = start
        if self.hour is not None and self.hour.start <= start:
            self.hour = None
        if self.fired:
            self.fired = {}
        return out

    def open_hour(self, start: float) -> dict[str, float]:
        """Expectations of the hour starting at ``start``, per key (for the common-mode sums)."""
        return self.baseline.open_hour(start, self.keys)

    def close_day(self, start: float, det: DetectSettings, cfg: AlertSettings, ctx: Any = None) -> list[Alert]:
        """Close the local day starting at ``start`` (hours must be closed first)."""
        out = self._learn_zero_hours(start + DAY, det, cfg)
        if self.last_closed_day is not None and start <= self.last_closed_day:
            return out
        w = self.day if self.day is not None and self.day.start == start else WindowAgg(start)
        self.baseline.learn_day(w, self.keys, det)
        budget = ctx.budget if ctx is not None else None
        if budget is not None and self.hours_learned >= det.warmup_hours:
            budget.learn_day(self.daymax)
        self.daymax = {}
        self.last_closed_day = start
        self.day = None
        return out
