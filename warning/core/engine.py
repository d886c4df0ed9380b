"""The detection engine of one partition of ``warning.events``: watermark, reorder, windows.

* Events enter a reorder buffer. Each feed (hotline, petition, public safety, grid … as
  configured) has its own newest event time; the watermark is the *slowest active feed's* newest time minus the allowed
  lateness, so a replay that reads one feed faster than another makes nobody late. A feed with no
  records for ``idle_s`` of wall time stops holding the watermark back (stream only; a backtest
  passes no wall time). Events at or below the watermark are released in ``(event time, event
  id)`` order, so the result does not depend on how feeds interleaved on the way in — only on
  the records.
* An event older than the watermark whose hourly window is already closed is *late*: it is
  counted (per street and in total) and kept in the daily rollup when that is still open; it is
  never silently dropped.
* The buffer is bounded: with ``max_buffered`` set (``windows.max_buffered``; the stream and
  ``warning backtest`` set the same), an event that makes it hold more than that many releases
  the oldest by moving the watermark up to its event time — so a burst, a backlog or a feed
  that stops cannot make a worker hold the whole backlog in memory (and unacked). The limit is a
  function of the events in arrival order, never of the wall clock; events it makes late are
  counted late like any other. Reaching it is counted in :attr:`forced`.
* Hourly windows close when the watermark passes their end (all streets share aligned windows);
  a quiet partition is closed by :meth:`idle` (the stream layer calls it with the wall time
  elapsed since the last event) and everything by :meth:`flush` at the end of a backtest.
  Closing an hour costs little per street: the per-key trailing counts move on lazily
  (:class:`~warning.core.scan.CountRing`), each feed model learns the hour once and predicts the
  next once.
* :attr:`watch` names streets whose hourly series (observed vs expected records) is kept in
  :attr:`series` as their hours close — e.g. for incident timelines in reports; nothing is kept
  for other streets.

The same class runs in the Faust agent (one per partition) and in ``warning backtest`` (one per
partition as Kafka's default partitioner would assign the street keys), so both give the same
alerts for the same records.
"""

from __future__ import annotations

import heapq
import logging
import pickle
from typing import Any, Mapping

from warning.core.decide import Detection
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.events import Alert, Event
from warning.core.feeds import Feed, default_feeds
from warning.core.keys import KeyTable
from warning.core.budget import BudgetCalibrator
from warning.core.partition import PartitionContext
from warning.core.registry import Registry
from warning.core.signals import feed_signals
from warning.core.street import StreetEnv, StreetState
from warning.core.timeutil import DAY, HOUR
from warning.core.window import LOCAL_OFFSET_S, window_start
from warning.models.multi_source import MultiSource
from warning.models.registry import DETECTORS, check, selected

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 3
#: a backtest (no wall clock) stops waiting for a configured feed it has not seen after this much
#: event time (a file or a replay without that feed must not be buffered whole). Inputs are
#: expected in event-time order within this span across feeds (the simulator's files and
#: ``--from-kafka`` are); records of a feed first seen later than that count as late.
UNSEEN_FEED_WAIT_S = 86400.0
_HOUR_S = int(HOUR)
_DAY_S = int(DAY)


def street_env(det: DetectSettings, feeds: Mapping[str, Feed]) -> StreetEnv:
    """The detectors ``detect.detectors`` selects, in registry order, for these feeds."""
    keys = KeyTable(feeds)
    for f in feeds.values():
        feed_signals(f.name, f.name_zh, f.group, f.volume_signal, f.theme_signal)
    problems = check(det)
    if problems:
        raise ValueError("; ".join(f"{k}: {m}" for k, m in problems))
    chosen = selected(det)
    detectors = tuple(DETECTORS[n](det, keys) for n in chosen if n != "multi_source")
    multi = MultiSource(det.multi_source_hours) if "multi_source" in chosen else None
    group_zh = {f.group: f.group_zh for f in feeds.values()}
    return StreetEnv(keys, detectors, multi, group_zh, windows=tuple(det.scan_windows_hours))


class Engine:
    def __init__(self, det: DetectSettings, cfg: AlertSettings, registry: Registry, idle_s: float = 60.0,
                 feeds: Mapping[str, Feed] | None = None, max_buffered: int | None = None) -> None:
        self.det = det
        self.cfg = cfg
        self.registry = registry
        self.feeds = dict(feeds) if feeds is not None else default_feeds()
        self.env = street_env(det, self.feeds)
        self.lateness = det.allowed_lateness_minutes * 60.0
        self.streets: dict[str, StreetState] = {}
        self.buffer: list[tuple[float, str, Event]] = []
        #: at most this many events wait in the reorder buffer (None: no limit); beyond it the
        #: oldest are released by moving the watermark (:meth:`_shed`) — a function of the events
        #: in arrival order only, so a backtest that sets the same limit does the same
        self.max_buffered = max_buffered
        self.forced = 0  # times the limit moved the watermark
        self.max_ts = float("-inf")
        self.src_max: dict[str, float] = {}
        self.src_wall: dict[str, float] = {}
        self.first_wall: float | None = None
        self.first_ts: float | None = None
        self.seen_sources: set[str] = set()  # feeds with at least one lane in src_max
        self.idle_s = idle_s
        self.watermark = float("-inf")
        self.open_hour: float | None = None  # start of the earliest hour not yet closed
        self.late = 0
        self.released = 0
        self.done_ids: list[str] = []
        self.track_done = False  # the stream sets it: it acks events once they are done
        self.dirty: set[str] = set()
        self.ctx = self._new_ctx()
        self._order: list[str] | None = None  # street keys in sorted order (None: to be sorted)
        self._lanes: dict[tuple[str, int, int], str] = {}  # (feed, raw partition, via) → lane name
        #: street keys whose hourly series to keep (observer hook; not part of the state)
        self.watch: set[str] = set()
        #: per watched street, per closed hour: (hour start, observed records of all feeds,
        #: expected records = the sum of the street's feed volume expectations for that hour)
        self.series: dict[str, list[tuple[float, float, float]]] = {}

    def _new_ctx(self) -> PartitionContext:
        d = self.det
        return PartitionContext(tuple(w for w in d.scan_windows_hours if w > 1) or (24,),
                                prior=d.common_mode_prior, lo=d.common_mode_min, hi=d.common_mode_max,
                                mood_halflife_hours=d.sentiment_halflife_hours, tail_quantile=d.sentiment_tail_quantile,
                                budget=self._budget(None))

    def _budget(self, learned: BudgetCalibrator | None) -> BudgetCalibrator | None:
        """The calibrator the ``alerts:`` settings ask for, keeping what ``learned`` has learned
        (a restored worker whose budget or weights changed keeps its histograms)."""
        c = self.cfg
        if not c.calibration:
            return None
        b = BudgetCalibrator(c.false_alert_budget, c.budget_weights, c.calibration_halflife_days,
                             c.calibration_min_street_days, c.calibration_min_log10p, c.calibration_max_raise,
                             max_lower=c.calibration_max_lower, cold_margin=c.calibration_cold_margin)
        b.adopt(learned)
        return b

    # ------------------------------------------------------------------ places
    def _place(self, ev: Event) -> dict[str, str] | None:
        if ev.street_code:
            return {"street_code": ev.street_code, "street_name": ev.street_name, "district": ev.district}
        if ev.district_code:  # district-level pseudo street
            return {"street_code": ev.district_code, "street_name": "（区级，未定位到街道）", "district": ev.district}
        return None

    def _street(self, ev: Event) -> StreetState | None:
        key = ev.key
        st = self.streets.get(key)
        if st is None:
            place = self._place(ev)
            if place is None:
                return None
            st = StreetState(place, self.env, self.det)
            if self.open_hour is not None:
                st.last_closed_hour = self.open_hour - HOUR
            self.streets[key] = st
            self._order = None
        return st

    # ------------------------------------------------------------------ input
    def process(self, ev: Event, wall: float | None = None) -> list[Alert]:
        """Take one canonical event; return the alerts it (and the watermark it moves) causes.

        ``wall`` is the wall-clock time of arrival (stream only), used to tell idle feeds."""
        out: list[Alert] = []
        if self.det.instant_rules:  # single-event rules: at arrival, even for a late event
            dets: list[Detection] = []
            for detector in self.env.on_arrival_hooks:
                dets += detector.on_arrival(ev)
            if dets:
                st = self._street(ev)
                if st is not None:
                    self.dirty.add(ev.key)
                    for d in dets:
                        out += st.detected(d, self.det, self.cfg)
        if self.open_hour is not None and ev.ts < self.open_hour:
            self._late(ev)
            return out
        heapq.heappush(self.buffer, (ev.ts, ev.event_id, ev))
        lk = (ev.source, ev.raw_partition, ev.via)
        lane = self._lanes.get(lk)
        if lane is None:
            lane = self._lane(lk)
        if wall is not None:
            self.src_wall[lane] = wall
        if self.first_ts is None or ev.ts < self.first_ts:
            self.first_ts = ev.ts
        if ev.ts > self.src_max.get(lane, float("-inf")):
            self.src_max[lane] = ev.ts
            self.seen_sources.add(ev.source)
            if ev.ts > self.max_ts:
                self.max_ts = ev.ts
            out += self.advance(self._source_watermark(wall))
        if self.max_buffered is not None and len(self.buffer) > self.max_buffered:
            out += self._shed()
        return out

    def _lane(self, lk: tuple[str, int, int]) -> str:
        """The lane name of (feed, raw partition, rekey partition or -1), cached (bounded)."""
        source, raw_partition, via = lk
        lane = f"{source}:{raw_partition}" if via < 0 else f"{source}:{raw_partition}>{via}"
        if len(self._lanes) >= 4096:
            self._lanes.clear()
        self._lanes[lk] = lane
        return lane

    def _source_watermark(self, wall: float | None) -> float:
        """The slowest lane's newest event time minus lateness. A lane is one feed read from one
        raw partition, directly or handed on through one rekey partition (each is in order; lanes
        are not in step with each other). A feed not seen
        yet holds the watermark back too (its first records may still be on their way) — in the
        stream only until it has been silent for ``idle_s`` since the engine started; so does a
        lane, until it has been silent for ``idle_s``."""
        if wall is not None and self.first_wall is None:
            self.first_wall = wall
        if wall is None:  # a backtest: every lane counts
            times: Any = self.src_max.values()
        else:
            times = []
            for lane, t in self.src_max.items():
                last = self.src_wall.get(lane)
                if last is not None and wall - last > self.idle_s:
                    continue  # silent lane: stop waiting for it
                times.append(t)
        if len(self.seen_sources) < len(self.feeds):
            if wall is None:
                # a backtest: wait for unseen feeds only for the first day of event time
                if self.first_ts is None or self.max_ts - self.first_ts <= UNSEEN_FEED_WAIT_S:
                    return float("-inf")
            elif self.first_wall is None or wall - self.first_wall <= self.idle_s:
                return float("-inf")
        return (min(times) if times else self.max_ts) - self.lateness

    def _late(self, ev: Event) -> None:
        if self.track_done:
            self.done_ids.append(ev.event_id)
        self.late += 1
        st = self.streets.get(ev.key)
        if st is not None:
            st.late += 1
            self.dirty.add(ev.key)
            day = window_start(ev.ts, int(DAY))
            if st.day is not None and st.day.start == day:
                st.day.add(ev.source, kind=ev.kind, people=ev.people_count, severity=ev.severity,
                           repeat=ev.is_repeat, risk_hits=ev.risk.hits if ev.risk else None, text="", text_score=0.0)

    def advance(self, watermark: float) -> list[Alert]:
        """Move the watermark forward (never back): release events, close passed hours."""
        if watermark <= self.watermark:
            return []
        self.watermark = watermark
        return self._drain()

    def _shed(self) -> list[Alert]:
        """The buffer holds more than ``max_buffered`` events: release the oldest by moving the
        watermark up to its event time (or, if it is already at or below the watermark — it came
        after the watermark had passed it, its hour still open — by releasing up to the watermark).
        Events of closed hours that arrive later are counted late, as always."""
        out: list[Alert] = []
        while self.max_buffered is not None and len(self.buffer) > self.max_buffered:
            self.forced += 1
            oldest = self.buffer[0][0]
            out += self.advance(oldest) if oldest > self.watermark else self._drain()
        return out

    def _drain(self) -> list[Alert]:
        """Release the buffered events at or below the watermark, close the hours it has passed."""
        out: list[Alert] = []
        watermark = self.watermark
        buf = self.buffer
        pop = heapq.heappop
        while buf and buf[0][0] <= watermark:
            ts, _, ev = pop(buf)
            hour = float(((int(ts) + LOCAL_OFFSET_S) // _HOUR_S) * _HOUR_S - LOCAL_OFFSET_S)  # window_start(ts, HOUR)
            if self.open_hour is None:
                self.open_hour = hour
            # close hours before this event's hour
            while self.open_hour < hour:
                out += self._close_hour(self.open_hour)
            out += self._release(ev, hour)
        if self.open_hour is not None:
            while self.open_hour + HOUR <= watermark:
                out += self._close_hour(self.open_hour)
        return out

    def rebuffer(self, ev: Event) -> None:
        """Put back an event that was buffered at the restored checkpoint (redelivered by Kafka)."""
        heapq.heappush(self.buffer, (ev.ts, ev.event_id, ev))

    def take_done(self) -> list[str]:
        """Ids of the events released or counted late since the last call (the stream acks them
        once a checkpoint holds their effect)."""
        d, self.done_ids = self.done_ids, []
        return d

    def _release(self, ev: Event, hour: float) -> list[Alert]:
        if self.track_done:
            self.done_ids.append(ev.event_id)
        st = self._street(ev)
        self.released += 1
        if st is None:
            return []
        self.dirty.add(ev.key)
        kt = self.env.keys
        keys = kt.event_keys(ev, self.det.risk_scan_min_weight, self.ctx.tail_threshold())
        mood = kt.mood_of(ev)
        self.ctx.add(ev.ts, hour, keys, mood)
        day = float(((int(ev.ts) + LOCAL_OFFSET_S) // _DAY_S) * _DAY_S - LOCAL_OFFSET_S)  # window_start(ev.ts, DAY)
        return st.add(ev, hour, day, keys, mood, self.det, self.cfg, self.ctx)

    def _close_hour(self, start: float) -> list[Alert]:
        out: list[Alert] = []
        end = start + HOUR
        day_closes = window_start(end, int(DAY)) == end
        streets = self.streets
        keys = self._order
        if keys is None:
            keys = self._order = sorted(streets)
        det, cfg, ctx = self.det, self.cfg, self.ctx
        watched = [k for k in keys if k in self.watch] if self.watch else []
        seen = {k: self._observed(streets[k], start) for k in watched}
        for key in keys:  # every street learns every hour (quiet hours are zero counts)
            alerts = streets[key].close_hour(start, det, cfg, ctx)
            if alerts:
                out += alerts
        self.dirty.update(keys)
        for k in watched:
            self._record(k, streets[k], start, seen[k])
        if day_closes:
            for key in keys:
                out += streets[key].close_day(end - DAY, det, cfg, ctx)
            if ctx.budget is not None:
                ctx.budget.commit()
        # the new hour: every street's expectations, summed for the partition-wide common mode
        total: dict[str, float] = {}
        get = total.get
        for key in keys:
            for k, v in streets[key].open_hour(end).items():
                total[k] = get(k, 0.0) + v
        ctx.open_hour(end, total)
        self.open_hour = end
        return out

    @staticmethod
    def _observed(st: StreetState, start: float) -> float:
        """Records of all feeds in the street's window of the hour starting at ``start``."""
        w = st.hour
        return float(sum(w.n.values())) if w is not None and w.start == start else 0.0

    def _record(self, key: str, st: StreetState, start: float, observed: float) -> None:
        """Append a watched street's closed hour to :attr:`series` (read-only: the state is not touched)."""
        if st.last_closed_hour != start:
            return  # the street did not learn this hour (it was closed before)
        m = st.baseline.mu.get(int(start // HOUR))
        if m is None:
            return
        expected = 0.0
        for mu, _ in m.values():
            expected += mu
        self.series.setdefault(key, []).append((start, observed, expected))

    def idle(self, elapsed_s: float) -> list[Alert]:
        """No events for ``elapsed_s`` of wall time: let event time run on with the wall clock."""
        if self.max_ts == float("-inf"):
            return []
        return self.advance(self.max_ts - self.lateness + elapsed_s)

    def flush(self) -> list[Alert]:
        """End of input: release everything and close every window that has data."""
        out: list[Alert] = []
        if self.max_ts == float("-inf"):
            return out
        end_hour = window_start(self.max_ts, int(HOUR)) + HOUR
        out += self.advance(end_hour)
        return out

    # ------------------------------------------------------------------ state
    def snapshot_meta(self, include_buffer: bool = True) -> bytes:
        """Engine-level state (watermark, counters, and the reorder buffer unless the caller can
        replay it: the stream leaves buffered events unacked, so Kafka redelivers them)."""
        return pickle.dumps({
            "v": SNAPSHOT_VERSION, "buffer": self.buffer if include_buffer else [], "max_ts": self.max_ts,
            "watermark": self.watermark,
            "src_max": self.src_max,
            "open_hour": self.open_hour, "late": self.late, "released": self.released, "ctx": self.ctx,
            "first_ts": self.first_ts, "forced": self.forced,
        }, protocol=5)

    def take_dirty(self) -> dict[str, bytes]:
        """Pickled state of the streets changed since the last call."""
        out = {k: pickle.dumps(self.streets[k], protocol=5) for k in sorted(self.dirty) if k in self.streets}
        self.dirty = set()
        return out

    def restore(self, meta: bytes | None, streets: dict[str, bytes]) -> None:
        """Take back a snapshot. State written by an incompatible older version (its models learned
        another scale) is discarded with a warning: the partition relearns from the next events
        (warm-up, cold budget) instead of failing on every start."""
        if meta:
            m = pickle.loads(meta)
            if m.get("v") != SNAPSHOT_VERSION:
                log.warning("detection state of version %s is not %s: discarded, the partition relearns "
                            "(检测状态版本不兼容，已丢弃并重新学习)", m.get("v"), SNAPSHOT_VERSION)
                return
            self.buffer = list(m.get("buffer") or [])
            heapq.heapify(self.buffer)
            self.max_ts, self.watermark, self.open_hour = m["max_ts"], m["watermark"], m["open_hour"]
            self.late, self.released = m["late"], m["released"]
            self.src_max = dict(m["src_max"])
            self.first_ts = m.get("first_ts")
            self.forced = m.get("forced", 0)
            self.seen_sources = {lane.split(":", 1)[0] for lane in self.src_max}
            ctx = m.get("ctx")
            self.ctx = ctx if isinstance(ctx, PartitionContext) else self._new_ctx()
            self.ctx.budget = self._budget(getattr(self.ctx, "budget", None))
        for k, b in streets.items():
            st = pickle.loads(b)
            if getattr(st, "version", None) != StreetState.VERSION:
                log.warning("street %s: state of version %s is not %s: discarded, the street relearns",
                            k, getattr(st, "version", None), StreetState.VERSION)
                continue
            st.env = self.env
            st.baseline.sync(self.env.keys, self.det)  # the configured feeds may have changed
            self.streets[k] = st
        self._order = None
        self.dirty = set()

    def risk_levels(self) -> dict[str, tuple[str, str, str]]:
        """street key → (active level, street name, district) for metrics."""
        return {k: (st.alerts.active_level(), st.place["street_name"], st.place["district"]) for k, st in self.streets.items()}
