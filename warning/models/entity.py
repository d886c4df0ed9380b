"""One place named by many records (同一地点或单位被集中反映): the ``entity_repeat`` signal.

The same 小区, 村, 工地 or company named across many calls, petitions and reports of one street
within a day or three often comes before a group visit. Each record's text (masked) gives its
specific names (:func:`warning.core.text.entity.entities`); each street remembers, for the names
its records use, how often it names each of them, and tests the trailing 24 h and 72 h:

* **state** (per street, ``street.state_of(detector)``, saved with the street): a table of at most
  ``max_entities`` names, each with the times of its recent records (the last 72 h, at most
  ``max_recent``) and a long-run count of its older records, decayed with ``halflife_days`` by
  *event time* (lazily, when the name is touched: deterministic, no wall clock); plus the street's
  decayed count of all name mentions. When the table is full, a new name evicts the weakest
  (smallest decayed count, recent records included);
* **expectation** of a name over ``w`` hours: its long-run rate × ``w`` — its (decayed) records
  before the window over the (decayed) hours the street was watched before it — floored by a
  prior rate, the street's overall mention rate spread over ``max(prior_entities, names in the
  table)`` names, so a name never seen before is not surprising in itself;
* **common mode**: the expectation is multiplied by how far the street's *other* names are above
  their own rate in the window (``(others observed + common_prior) / (others expected +
  common_prior)``, at least 1): a snow day that makes every caller name their 小区 is not one
  place's burst;
* **test**: records naming it in the window (each record once) against that expectation with the
  negative-binomial count test, dispersion ``phi`` plus ``1 / (records + prior_records)`` (the
  uncertainty of a rate known from few records, as in a gamma posterior), at least ``min_records`` records; the level
  comes from ``street.level`` (the signal's calibrated share of the false-alert budget). At most
  one detection per event: the strongest name and window.

Parameters (``detect.detector_params.entity``): ``min_records`` (3), ``halflife_days`` (7),
``max_entities`` (64), ``max_recent`` (32), ``prior_entities`` (64), ``prior_records`` (2),
``phi`` (0.1),
``min_history_hours`` (96: a window is tested once the street was watched that long before it),
``common_prior`` (10).

Names of places and companies are not personal data; person names are masked before (``张**``)
and never extracted.

>>> from warning.core.detect_config import DetectSettings
>>> from warning.core.feeds import default_feeds
>>> from warning.core.keys import KeyTable
>>> d = EntityRepeat(DetectSettings(detector_params={"entity": {"min_records": 4}}), KeyTable(default_feeds()))
>>> d.params.min_records, d.params.max_entities
(4, 64)
>>> st = d.new_state()
>>> for i in range(5):   # one name, five records in five hours
...     _ = d.learn(st, 1_700_000_000 + i * 3600.0, "hotline", ["天恒嘉园"])
>>> st.window_count("天恒嘉园", 1_700_000_000 + 4 * 3600.0, 24), len(st.table)
(5, 1)
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from warning.core.decide import Detection
from warning.core.events import Event
from warning.core.text.entity import entities
from warning.core.timeutil import HOUR
from warning.models._tails import score_from_log10p
from warning.models.detector import Detector
from warning.models.significance import count_test

if TYPE_CHECKING:
    from warning.core.street import StreetState

RECENT_HOURS = 72
WINDOWS = (24, 72)
_SRC_BITS = 4  # a recent record is packed as (minute << 4) | feed index


class EntityState:
    """One street's memory of the names its records use (picklable, small).

    ``table[name] = [aged, ref, recent]``: ``aged`` is the decayed count of its records older than
    72 h as of event time ``ref`` (int seconds), ``recent`` the packed recent records
    (``uint32`` each: minute of the record << 4 | index of its feed in ``feeds``).
    """

    __slots__ = ("t0", "ref", "total", "table", "feeds", "lam", "ring")

    def __init__(self, halflife_days: float = 7.0) -> None:
        self.t0: float | None = None  # first event time seen
        self.ref = 0.0  # event time of ``total``
        self.total = 0.0  # decayed count of all name mentions
        self.table: dict[str, list[Any]] = {}
        self.feeds: list[str] = []
        self.lam = math.log(2.0) / (halflife_days * 24.0)  # per hour
        self.ring: dict[int, int] = {}  # hour index → name mentions of the street (last 72 h)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.t0, self.ref, self.total, self.table, self.feeds, self.lam, self.ring)

    def __setstate__(self, s: tuple[Any, ...]) -> None:
        self.t0, self.ref, self.total, self.table, self.feeds, self.lam = s[:6]
        self.ring = s[6] if len(s) > 6 else {}

    def note_mentions(self, t: float, n: int) -> None:
        """Count ``n`` name mentions of the street in the hour of ``t`` (keeps the last 72 h)."""
        h = int(t // HOUR)
        self.ring[h] = self.ring.get(h, 0) + n
        if len(self.ring) > RECENT_HOURS + 1:
            for k in [k for k in self.ring if k <= h - RECENT_HOURS]:
                del self.ring[k]

    def mentions(self, t: float, hours: int) -> int:
        """Name mentions of the street in the ``hours`` hourly slots up to the one of ``t``."""
        h = int(t // HOUR)
        return sum(v for k, v in self.ring.items() if k > h - hours)

    # ------------------------------------------------------------------ recent records
    @staticmethod
    def unpack(b: bytes) -> list[int]:
        return list(struct.unpack(f"<{len(b) // 4}I", b)) if b else []

    @staticmethod
    def pack(xs: list[int]) -> bytes:
        return struct.pack(f"<{len(xs)}I", *xs)

    def _decay(self, hours: float) -> float:
        return math.exp(-self.lam * max(0.0, hours))

    def refresh(self, name: str, t: float) -> list[int]:
        """Bring ``name``'s entry to event time ``t``: decay its long-run count and fold in its
        records older than 72 h. Returns its recent records."""
        keep, changed = self._refresh(name, t)
        if changed:
            self.table[name][2] = self.pack(keep)
        return keep

    def _refresh(self, name: str, t: float) -> tuple[list[int], bool]:
        """:meth:`refresh` without writing back the recent records: (them, whether any left)."""
        e = self.table[name]
        aged = e[0] * self._decay((t - e[1]) / HOUR)
        recent = self.unpack(e[2])
        cut = (t - RECENT_HOURS * HOUR) / 60.0
        if not recent or (recent[0] >> _SRC_BITS) > cut:  # sorted: none is older than 72 h
            e[0], e[1] = aged, int(t)
            return recent, False
        keep = []
        for x in recent:
            m = x >> _SRC_BITS
            if m <= cut:
                aged += self._decay((t - m * 60.0) / HOUR)
            else:
                keep.append(x)
        e[0], e[1] = aged, int(t)
        return keep, True

    def window_count(self, name: str, t: float, hours: float) -> int:
        """Records naming ``name`` in the ``hours`` before ``t`` (as far as the recent list holds)."""
        e = self.table.get(name)
        if e is None:
            return 0
        lo = (t - hours * HOUR) / 60.0
        return sum(1 for x in self.unpack(e[2]) if (x >> _SRC_BITS) > lo)

    def weight(self, name: str, t: float) -> float:
        e = self.table[name]
        return e[0] * self._decay((t - e[1]) / HOUR) + len(e[2]) // 4

    # ------------------------------------------------------------------ rates
    def street_rate(self, t: float) -> float:
        """All name mentions of the street per hour (decayed)."""
        if self.t0 is None:
            return 0.0
        span = (t - self.t0) / HOUR
        expo = (1.0 - math.exp(-self.lam * span)) / self.lam if span > 0 else 0.0
        return self.total * self._decay((t - self.ref) / HOUR) / expo if expo > 1.0 else 0.0

    def history(self, name: str, t: float, before_hours: float) -> tuple[float, float]:
        """``name``'s (decayed) records older than ``before_hours`` and the (decayed) hours the street
        was watched before then: its long-run rate is their ratio (call :meth:`refresh` first)."""
        if self.t0 is None:
            return 0.0, 0.0
        span = (t - before_hours * HOUR - self.t0) / HOUR
        if span <= 0.0:
            return 0.0, 0.0
        expo = math.exp(-self.lam * before_hours) * (1.0 - math.exp(-self.lam * span)) / self.lam
        e = self.table[name]
        lo = (t - before_hours * HOUR) / 60.0
        n = e[0] * self._decay((t - e[1]) / HOUR)
        n += sum(self._decay((t - (x >> _SRC_BITS) * 60.0) / HOUR) for x in self.unpack(e[2]) if (x >> _SRC_BITS) <= lo)
        return n, expo


class EntityRepeat(Detector):
    name = "entity"
    signals = ("entity_repeat",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_records: int = Field(3, ge=2, description="records naming the place in the window")
        halflife_days: float = Field(7.0, gt=0, description="memory of how often the street names a place")
        max_entities: int = Field(64, ge=4, le=1024, description="names remembered per street")
        max_recent: int = Field(32, ge=4, le=256, description="recent records remembered per name")
        prior_entities: float = Field(64.0, ge=1, description="the street's mention rate spread over at least this many names is a name's prior rate")
        prior_records: float = Field(2.0, gt=0, description="pseudo-records of a name's rate: its uncertainty is that of records + prior_records")
        phi: float = Field(0.1, ge=0, description="over-dispersion of a name's counts")
        min_history_hours: float = Field(96.0, ge=0, description="hours a street must have been watched before a tested window")
        common_prior: float = Field(10.0, gt=0, description="pseudo-mentions that keep the street's common-mode ratio near 1")

    def __init__(self, det: Any, keys: Any) -> None:
        super().__init__(det, keys)
        self._last: tuple[str, str, list[str]] = ("", "", [])  # (street, event id, names): on_event → after_scan

    def new_state(self) -> EntityState:
        return EntityState(self.params.halflife_days)

    def learn(self, st: EntityState, t: float, source: str, names: list[str]) -> list[str]:
        """Add one record naming ``names`` (each once) at event time ``t``; returns them."""
        p = self.params
        if st.t0 is None:
            st.t0 = t
        names = names[: p.max_entities // 2]  # a text listing many places cannot flush the table
        if not names:
            return names
        st.total = st.total * st._decay((t - st.ref) / HOUR) + len(names)
        st.ref = t
        st.note_mentions(t, len(names))
        if source not in st.feeds:
            if len(st.feeds) >= (1 << _SRC_BITS):
                source = st.feeds[-1]
            else:
                st.feeds.append(source)
        src = st.feeds.index(source)
        packed = (int(t // 60) << _SRC_BITS) | src
        for n in names:
            if n not in st.table:
                if len(st.table) >= p.max_entities:
                    weakest = self._weakest(st, t, names)
                    if weakest is None:
                        continue
                    del st.table[weakest]
                st.table[n] = [0.0, int(t), b""]
            recent, _ = st._refresh(n, t)
            recent.append(packed)
            recent.sort()
            if len(recent) > p.max_recent:  # the oldest go to the long-run count
                e = st.table[n]
                for x in recent[: len(recent) - p.max_recent]:
                    e[0] += st._decay((t - (x >> _SRC_BITS) * 60.0) / HOUR)
                recent = recent[len(recent) - p.max_recent:]
            st.table[n][2] = st.pack(recent)
        return names

    @staticmethod
    def _weakest(st: EntityState, t: float, names: list[str]) -> str | None:
        """The name (not in ``names``) with the smallest (:meth:`EntityState.weight`, name): the
        one a full table evicts (None if every name is in ``names``). One pass, the weights
        computed as :meth:`EntityState.weight` does (same numbers)."""
        lam = st.lam
        exp = math.exp
        best: tuple[float, str] | None = None
        for k, e in st.table.items():
            if k in names:
                continue
            w = e[0] * exp(-lam * max(0.0, (t - e[1]) / HOUR)) + len(e[2]) // 4
            if best is None or (w, k) < best:
                best = (w, k)
        return best[1] if best is not None else None

    @staticmethod
    def names_of(ev: Event) -> list[str]:
        """The event's place names: found at ingest, else (records from before) found here."""
        if ev.entities is not None:
            return ev.entities
        return entities(ev.text) if ev.text else []

    def on_event(self, ev: Event, street: "StreetState") -> list[Detection]:
        names = self.names_of(ev)
        names = self.learn(street.state_of(self), ev.ts, ev.source, names)
        self._last = (street.place.get("street_code", ""), ev.event_id, names)
        return []

    def after_scan(self, ev: Event, street: "StreetState", ctx: Any) -> list[Detection]:
        code = street.place.get("street_code", "")
        if self._last[:2] == (code, ev.event_id):
            names = self._last[2]
        else:  # not seen by on_event (should not happen): extract without learning
            names = self.names_of(ev)
        if not names:
            return []
        st: EntityState = street.state_of(self)
        p = self.params
        t = ev.ts
        if st.t0 is None or t - st.t0 < (p.min_history_hours + WINDOWS[0]) * HOUR:
            return []
        street_rate = st.street_rate(t)
        prior = max(street_rate / max(p.prior_entities, float(len(st.table))), 1e-4)
        young = street.baseline.young_margin(self.det)
        best: tuple[float, str, int, int, float, list[int]] | None = None
        for n in names:
            if n not in st.table:
                continue
            recent = st.refresh(n, t)
            for wh in WINDOWS:
                if t - st.t0 < (p.min_history_hours + wh) * HOUR:
                    continue  # too little history before the window
                k, expo = st.history(n, t, wh)
                # the name's own rate, floored by the prior; a rate known from few records is
                # uncertain: the count over the window is then negative binomial with (about) the
                # dispersion of a gamma posterior of k + prior_records records
                rate = max(k / expo if expo > 1.0 else 0.0, prior)
                phi = p.phi + 1.0 / (k + p.prior_records)
                lo = (t - wh * HOUR) / 60.0
                inwin = [x for x in recent if (x >> _SRC_BITS) > lo]
                o = len(inwin)
                if o < p.min_records:
                    continue
                e = rate * wh
                # the street's own common mode: when its records name *every* place more than usual
                # (a snow day, a busy Monday), the other names' excess lifts this one's expectation
                others_o = st.mentions(t, wh) - o
                others_e = max(street_rate * wh - e, 0.0)
                e *= max(1.0, (others_o + p.common_prior) / (others_e + p.common_prior))
                s = count_test(float(o), e, phi)
                if s > 0.0 and (best is None or s > best[0]):
                    best = (s, n, wh, o, e, inwin)
        if best is None:
            return []
        s, n, wh, o, e, inwin = best
        level = street.level("entity_repeat", s - young, self.det, ctx)
        if level is None:
            return []
        sources = sorted({st.feeds[x & ((1 << _SRC_BITS) - 1)] for x in inwin})
        win = street.day
        samples = [ev.text[:200]] if ev.text else []
        if win is not None:
            samples += [x for x in win.texts() if n in x and x not in samples]
        span = "近24小时" if wh == 24 else f"近{wh}小时"
        return [Detection(
            signal="entity_repeat", level=level, t=t, window_start=t - wh * HOUR, window_end=t, observed=float(o),
            expected=round(e, 3), score=score_from_log10p(s), samples=samples[:3], evidence={
                "entity": n, "window_hours": wh, "records": o, "expected": round(e, 3), "log10p": round(s, 3),
                "sources": sources, "early": True,
                "detail_zh": f"{span} {o} 条诉求/上报提及「{n}」（常态约 {e:.1f} 条）"})]
