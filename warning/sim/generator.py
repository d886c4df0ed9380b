"""Day-by-day generation of the simulated feeds, merged with the injected incidents.

Background structure (which street, when, which category/type/form/event type, severity) is
sampled with vectorised numpy (PCG64); the Chinese texts are composed per record with a
:class:`random.Random`. Both are seeded from ``SeedSequence(seed)`` and the local date, so a day's
background depends only on (seed, date, scale, region) and every run with the same arguments
gives byte-identical output. The original three feeds share the day's stream, in order; a feed
added later (grid) has a stream of its own keyed by its name, so it never moves the others.

Per-feed facts (event-time field, id prefix) come from the feed descriptors
(:func:`warning.core.feeds.default_feeds`); each simulated feed has one ``_<feed>`` method here.

Memory stays bounded: one local day (≈84 k records at scale 1) is built, sorted and handed to the
sink before the next.

Tone: besides the 5 % of complaints that are angry in the risk lexicon's stock words, each street
has a normal share of fed-up callers who speak *outside* the lexicon
(:func:`warning.sim.profiles.angry_baseline`, 10–20 % of its hotline records in all), so a
sentiment turn shows as a change in that share, not as new words.

Weather days (not incidents, no label: a false-alert trap). A run of at least 7 days gets one
city-wide weather day per 30 days (at least one), on a whole local day after the warm-up, picked
from the seed: 暴雪 in the heating season, 暴雨 from June to September, else 大风
(:func:`warning.sim.profiles.weather_kind`). For 12–24 h (snow from the small hours, storms from
the afternoon, wind from the morning; 2 h rise, 3 h fall) *every* street's hotline volume of the
weather's categories (:data:`warning.sim.texts.WEATHER_CATEGORY_WEIGHT`: roads/traffic, 城乡建设
— trees, drains, snow clearing —, heating, power/water, housing) rises: by a city-wide factor
of 1.5–3× (a street's own factor varies ±12 % around it, kept in 1.5–3×), scaled by the
category's weight. The extra calls are added records with weather wording
(:data:`warning.sim.texts.WEATHER`), drawn from a stream of their own; the day's other records
are untouched. ``summary.json`` lists the weather days (``weather_days``), and
``SimParams.weather=False`` (``--no-weather``) leaves them out.
"""

from __future__ import annotations

import copy
import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterator

import numpy as np

from warning.core.feeds import default_feeds
from warning.core.timeutil import BEIJING, iso
from warning.sim import incidents as I
from warning.sim import profiles as P
from warning.sim import texts as T

SOURCES = P.FEEDS
SOURCE_RANK = {s: k for k, s in enumerate(SOURCES)}
FEEDS = {s: default_feeds()[s] for s in SOURCES}  # descriptors of the simulated feeds
ID_PREFIX = {s: f.id_prefix for s, f in FEEDS.items()}
TIME_FIELD = {s: f.time_field for s, f in FEEDS.items()}

# Day-to-day variation on top of Poisson: city-wide (weather, news) and per street.
CITY_CV = {"hotline": 0.03, "petition": 0.06, "public_safety": 0.03, "grid": 0.04}
STREET_CV = {"hotline": 0.10, "petition": 0.20, "public_safety": 0.10, "grid": 0.15}
# Values that break a kind/type enum (bad_enum); other enums get "other".
BAD_ENUM_VALUES = {"type": ("吐槽", "表扬", "other"), "form": ("微信", "传真")}

CLUSTER_NOTICES = (
    ("公共服务", "停电通知", "{community}贴了停电通知，想确认一下具体停电时间"),
    ("公共服务", "停电通知", "{community}明天计划停电检修，想问问电梯能不能用"),
    ("公共服务", "停水通知", "{community}贴了停水通知，想问停水期间有没有送水"),
    ("公共服务", "燃气检修", "{community}燃气公司通知入户检修，想确认是不是真的燃气公司"),
    ("城乡建设", "道路施工", "{community}门口要修路了，想问一下施工期间怎么出行"),
    ("住房", "电梯维保", "{community}{bld}号楼电梯维保停运，想问要停几天"),
)
BAD_MODES = ("missing_id", "time_no_offset", "time_garbage", "bad_enum", "bad_count", "bad_street_code",
             "missing_content", "content_not_string")


@dataclass
class SimParams:
    start: int  # epoch seconds
    days: float
    seed: int = 0
    scale: float = 1.0
    region: str = "110000"
    incidents_per_week: float = 1.0
    warmup_days: float | None = None  # None: min(7, days // 4)
    bad_fraction: float = 0.0
    cluster_rate: float = 0.05  # benign bursts of 2–4 notice questions, per street per day
    benign_risky_rate: float = 1 / 4000  # background records with a risk-like word (negations …)
    weather: bool = True  # city-wide weather day(s) in runs of ≥ 7 days (no label)

    @property
    def end(self) -> int:
        return int(self.start + round(self.days * 86400))

    @property
    def warmup_s(self) -> int:
        w = self.warmup_days if self.warmup_days is not None else min(7.0, float(int(self.days) // 4))
        return int(max(0.0, w) * 86400)


@dataclass
class WeatherDay:
    """A city-wide weather day: extra hotline calls of the weather's categories on every street."""

    date: date
    kind: str  # 暴雪 | 暴雨 | 大风
    start: int
    end: int
    multiplier: float  # city-wide factor on the weather's categories at full strength
    street_mult: np.ndarray = field(repr=False)  # per street, in [1.5, 3]
    rise: int = 2 * 3600
    fall: int = 3 * 3600
    extra_by_date: dict = field(default_factory=dict)  # local date → extra calls generated that day

    def level(self, t: np.ndarray) -> np.ndarray:
        """0..1: trapezoid over [start, end)."""
        t = t.astype(float)
        up = np.clip((t - self.start) / self.rise, 0.0, 1.0)
        down = np.clip((self.end - t) / self.fall, 0.0, 1.0)
        return np.minimum(up, down)

    def info(self) -> dict:
        return {"date": self.date.isoformat(), "kind": self.kind, "start": iso(self.start), "end": iso(self.end),
                "multiplier": round(self.multiplier, 2),
                "street_multiplier_range": [round(float(self.street_mult.min()), 2),
                                            round(float(self.street_mult.max()), 2)],
                "categories": T.WEATHER_CATEGORY_WEIGHT[self.kind], "extra_records": sum(self.extra_by_date.values()),
                "labelled": False}


@dataclass
class DayStats:
    date: str
    counts: dict[str, int] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    incident_events: int = 0
    bad: int = 0


def _fmt_time(ts: int, day_start: int, prefix: str) -> str:
    s = ts - day_start
    if 0 <= s < 86400:
        return f"{prefix}{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08:00"
    return iso(ts)


def _nn(**fields) -> dict:
    """The fields that are not None (optional fields are omitted, never null)."""
    return {k: v for k, v in fields.items() if v is not None}


def _cum_pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse CDF: ``cum`` (N, K) cumulative probabilities, ``u`` (N,) uniforms."""
    k = (u[:, None] > cum).sum(axis=1)
    return np.minimum(k, cum.shape[1] - 1)


class Simulator:
    def __init__(self, params: SimParams) -> None:
        self.p = params
        self.pl = T.places(params.region)
        self.prof = P.street_profile(params.region)
        self.n = len(self.prof.codes)
        self.root = np.random.SeedSequence(params.seed)
        plan_seed = int(np.random.SeedSequence(params.seed, spawn_key=(2,)).generate_state(2, np.uint64)[0])
        planner = I.Planner(params.region, params.scale, params.start, params.end, params.warmup_s,
                            params.incidents_per_week, random.Random(plan_seed))
        self.incidents = planner.plan()
        # grid reports that go with the incidents: drawn from a stream of their own (see P.ORIGINAL_FEEDS)
        companions = copy.copy(planner)
        companions.rnd = random.Random(int(np.random.SeedSequence(params.seed, spawn_key=(6,)).generate_state(1)[0]))
        companions.add_grid_reports(self.incidents)
        self.turns = [inc for inc in self.incidents if inc.turn is not None]
        self._angry_unlexical = np.clip(P.angry_baseline(params.region) - P.LEXICAL_ANGRY, 0.0, 1.0)
        self.weather = self._plan_weather()
        self._by_day: dict[date, list[dict]] = {}
        for inc in self.incidents:
            for e in inc.events:
                self._by_day.setdefault(I.local_date(e["_ts"]), []).append(e)

    def labels(self) -> list[dict]:
        return [I.label(inc, self.pl) for inc in self.incidents]

    def weather_info(self) -> list[dict]:
        """The weather days (for ``summary.json``; they have no label)."""
        return [w.info() for w in self.weather]

    def _plan_weather(self) -> list[WeatherDay]:
        p = self.p
        if not p.weather or p.days < 7:
            return []
        r = random.Random(int(np.random.SeedSequence(p.seed, spawn_key=(7,)).generate_state(1)[0]))
        lo = p.start + p.warmup_s

        def day_start(d: date) -> int:
            return int(datetime(d.year, d.month, d.day, tzinfo=BEIJING).timestamp())

        # whole local days after the warm-up, with the next day in the run too (the weather may
        # last into it)
        days = [d for d in self.dates() if day_start(d) >= lo and day_start(d) + 2 * 86400 <= p.end]
        if not days:
            return []
        n = min(len(days), max(1, round(p.days / 30)))
        out = []
        for d in sorted(r.sample(days, n)):
            kind = P.weather_kind(d)
            onset_h = {"暴雪": (0, 8), "暴雨": (12, 18)}.get(kind, (6, 12))
            t0 = day_start(d) + int(r.uniform(*onset_h) * 3600)
            t1 = t0 + int(r.uniform(12, 24) * 3600)
            mult = r.uniform(1.5, 3.0)
            gen = np.random.default_rng(r.getrandbits(64))
            street = np.clip(mult * np.exp(0.12 * gen.standard_normal(self.n)), 1.5, 3.0)
            out.append(WeatherDay(d, kind, t0, t1, mult, street))
        return out

    # ------------------------------------------------------------------ days
    def dates(self) -> list[date]:
        d0 = I.local_date(self.p.start)
        d1 = I.local_date(self.p.end - 1)
        return [d0 + timedelta(days=k) for k in range((d1 - d0).days + 1)]

    def iter_days(self) -> Iterator[tuple[DayStats, list[dict], list[int]]]:
        for d in self.dates():
            yield self.day(d)

    def day(self, d: date) -> tuple[DayStats, list[dict], list[int]]:
        """All records of local date ``d`` within [start, end), sorted by event time, final form,
        with their event times (epoch seconds)."""
        p = self.p
        ss = np.random.SeedSequence(p.seed, spawn_key=(1, d.toordinal()))
        rng = np.random.Generator(np.random.PCG64(ss))
        rnd = random.Random(int(ss.generate_state(2, np.uint64)[1]))
        # Incidents draw from their own streams, so the background of a day is the same with or
        # without them (only the records a sentiment turn rewrites differ).
        ss_turn = np.random.SeedSequence(p.seed, spawn_key=(3, d.toordinal()))
        self._rng_turn = np.random.Generator(np.random.PCG64(ss_turn))
        self._rnd_turn = random.Random(int(ss_turn.generate_state(2, np.uint64)[1]))
        rnd_bad = random.Random(int(np.random.SeedSequence(p.seed, spawn_key=(4, d.toordinal())).generate_state(1)[0]))
        day_start = int(datetime(d.year, d.month, d.day, tzinfo=BEIJING).timestamp())
        t_lo, t_hi = max(p.start, day_start), min(p.end, day_start + 86400)
        stats = DayStats(d.isoformat())
        frac = (t_hi - t_lo) / 86400
        for f in SOURCES:
            stats.expected[f] = round(P.expected_daily(f, d, p.scale) * frac, 1)

        recs: list[dict] = []
        for f in SOURCES:
            f_rng, f_rnd = (rng, rnd) if f in P.ORIGINAL_FEEDS else self._own_streams(f, d)
            recs += getattr(self, "_" + f)(d, day_start, t_lo, t_hi, f_rng, f_rnd)
        for w in self.weather:
            if w.start < t_hi and w.end > t_lo:
                recs += self._weather_calls(w, d, day_start, t_lo, t_hi)
        if p.bad_fraction > 0:
            for r in recs:
                if rnd_bad.random() < p.bad_fraction:
                    r["_bad"] = rnd_bad.getrandbits(32)
                    stats.bad += 1
        inc_events = [e for e in self._by_day.get(d, ()) if t_lo <= e["_ts"] < t_hi]
        stats.incident_events = len(inc_events)
        recs.extend(inc_events)
        order = sorted(range(len(recs)), key=lambda k: (recs[k]["_ts"], SOURCE_RANK[recs[k]["source"]], k))
        prefix = d.isoformat() + "T"
        # Ids number a day's records per feed. A run that starts in the middle of a day numbers its
        # part of the day apart (the second of the day it starts at is in the id): another run over
        # the earlier part of that day (e.g. the demo's replayed history before its live feed)
        # must not produce the same ids, or ingest drops the later records as duplicates.
        ymd = d.strftime("%Y%m%d") + (f"{int(t_lo - day_start):05d}" if t_lo > day_start else "")
        seq = {s: 0 for s in SOURCES}
        out = []
        times = []
        for k in order:
            r = recs[k]
            src = r["source"]
            seq[src] += 1
            rec = {"id": f"{ID_PREFIX[src]}{ymd}{seq[src]:07d}", "source": src,
                   TIME_FIELD[src]: _fmt_time(r["_ts"], day_start, prefix)}
            for key, val in r.items():
                if key[0] != "_" and key != "source":
                    rec[key] = val
            if "_bad" in r:
                self._corrupt(rec, random.Random(r["_bad"]))
            out.append(rec)
            times.append(r["_ts"])
        for s in SOURCES:
            stats.counts[s] = seq[s]
        return stats, out, times

    # ------------------------------------------------------------------ feeds
    def _own_streams(self, feed: str, d: date) -> tuple[np.random.Generator, random.Random]:
        """The day's random streams of a feed added after the original three (keyed by its name)."""
        ss = np.random.SeedSequence(self.p.seed, spawn_key=(5, d.toordinal(), zlib.crc32(feed.encode())))
        return np.random.Generator(np.random.PCG64(ss)), random.Random(int(ss.generate_state(2, np.uint64)[1]))

    def _street_counts(self, feed: str, d: date, rng: np.random.Generator) -> np.ndarray:
        lam = P.expected_daily(feed, d, self.p.scale) * self.prof.share[feed]
        k_city = 1.0 / CITY_CV[feed] ** 2
        k_st = 1.0 / STREET_CV[feed] ** 2
        city = rng.gamma(k_city, 1.0 / k_city)
        noise = rng.gamma(k_st, 1.0 / k_st, size=self.n)
        return rng.poisson(lam * city * noise)

    def _streets(self, feed: str, d: date, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """The street of each of the day's records of ``feed`` (counts drawn per street), and their number."""
        st = np.repeat(np.arange(self.n), self._street_counts(feed, d, rng))
        return st, len(st)

    @staticmethod
    def _in_order(ts: np.ndarray, keep: np.ndarray) -> list[int]:
        """Indices of the kept records, in event-time order."""
        idx = np.flatnonzero(keep)
        return idx[np.argsort(ts[idx], kind="stable")].tolist()

    def _record(self, source: str, ts: int, i: int, rnd: random.Random, **fields) -> dict:
        """A record of ``source`` at street ``i``: place fields in one of the mixed forms, then ``fields``."""
        rec = {"source": source, "_ts": ts, "_street": i}
        rec.update(T.place_fields(self.pl, i, source, rnd))
        rec.update(_nn(**fields))
        return rec

    def _hotline(self, d, day_start, t_lo, t_hi, rng, rnd) -> list[dict]:
        st, n = self._streets("hotline", d, rng)
        hours = rng.choice(24, size=n, p=P.hotline_hours(d))
        ts = day_start + hours * 3600 + rng.integers(0, 3600, size=n)
        w = P.hotline_category_weights(d)[None, :] * self.prof.hotline_tilt
        cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        cat = _cum_pick(cum[st], rng.random(n))
        typ = _cum_pick(P.HOTLINE_TYPE_CUM[cat], rng.random(n))
        complaint = P.HOTLINE_TYPES.index("投诉")
        mood = ((typ == complaint) & (rng.random(n) < 0.05)).astype(np.int8)
        benign = rng.random(n) < self.p.benign_risky_rate
        # the street's normal share of fed-up callers who speak outside the lexicon (P.angry_baseline)
        angry = (rng.random(n) < self._angry_unlexical[st]) & (mood == 0) & ~benign
        keep = (ts >= t_lo) & (ts < t_hi)
        turned = np.full(n, -1, dtype=np.int32)
        for j, inc in enumerate(self.turns):
            t0, t1 = inc.turn[0], inc.turn[1]
            if t1 < t_lo or t0 >= t_hi:
                continue
            m = np.flatnonzero(keep & (st == inc.street) & (ts >= t0) & (ts <= t1))
            if len(m):
                prob = I.turn_probability(inc.turn, ts[m])
                # records angry already count towards the turn's share (and the draw is made for
                # every record, so the turn's stream does not depend on the background's tone)
                hit = m[(self._rng_turn.random(len(m)) < prob) & ~angry[m] & (mood[m] == 0)]
                turned[hit] = j
        pl = self.pl
        cats, types = P.HOTLINE_CATEGORIES, P.HOTLINE_TYPES
        out = []
        st_l, ts_l, cat_l, typ_l = st.tolist(), ts.tolist(), cat.tolist(), typ.tolist()
        mood_l, ben_l, turn_l, angry_l = mood.tolist(), benign.tolist(), turned.tolist(), angry.tolist()
        for k in self._in_order(ts, keep):
            i = st_l[k]
            c, ty = cats[cat_l[k]], types[typ_l[k]]
            if ben_l[k]:
                c, ty, content = T.benign_risky_text(pl, i, rnd)
                title, caller = None, ({"phone": T.mobile(rnd)} if rnd.random() < 0.5 else None)
            else:
                title, content, caller = T.hotline_text(pl, i, c, ty, rnd, mood_l[k], angry=angry_l[k])
            if turn_l[k] >= 0:  # (its own random stream: the place fields below draw the same)
                c, ty, title, content, caller = I.turned_text(pl, i, self._rnd_turn, self.turns[turn_l[k]].turn,
                                                              c, ty)
            out.append(self._record("hotline", ts_l[k], i, rnd, type=ty, category=c, title=title, content=content,
                                    caller=caller))
        # benign bursts: several people asking about the same posted notice
        n_cl = rng.poisson(self.p.cluster_rate * self.n * (t_hi - t_lo) / 86400)
        if n_cl:
            w_st = np.sqrt(self.prof.share["hotline"])
            cl_st = rng.choice(self.n, size=n_cl, p=w_st / w_st.sum())
            cl_t = rng.integers(t_lo, max(t_lo + 1, t_hi - 3 * 3600), size=n_cl)
            for i, t in zip(cl_st.tolist(), cl_t.tolist()):
                cat_, kw, sent = rnd.choice(CLUSTER_NOTICES)
                slots = {"community": rnd.choice(pl.communities[i]), "bld": str(rnd.randint(1, 20))}
                span = rnd.uniform(1, 3) * 3600
                for _ in range(rnd.randint(2, 4)):
                    te = int(t + rnd.random() * span)
                    if te >= t_hi:
                        continue
                    title, content, caller = T.hotline_text(pl, i, cat_, "咨询", rnd, sentence=sent, keyword=kw, **slots)
                    out.append(self._record("hotline", te, i, rnd, type="咨询", category=cat_, title=title,
                                            content=content, caller=caller))
        return out

    def _weather_calls(self, w: WeatherDay, d: date, day_start: int, t_lo: int, t_hi: int) -> list[dict]:
        """The extra hotline calls of weather day ``w`` within local date ``d`` (its own streams)."""
        rng, rnd = self._own_streams("weather:" + w.kind, d)
        cats = list(T.WEATHER_CATEGORY_WEIGHT[w.kind].items())
        idx = [P.HOTLINE_CATEGORIES.index(c) for c, _ in cats]
        cw = P.hotline_category_weights(d)[None, :] * self.prof.hotline_tilt
        cw = (cw / cw.sum(axis=1, keepdims=True))[:, idx] * np.array([x for _, x in cats])[None, :]  # (streets, cats)
        daily = P.expected_daily("hotline", d, self.p.scale) * self.prof.share["hotline"]  # (streets,)
        hours = P.hotline_hours(d)
        lo, hi = max(t_lo, w.start), min(t_hi, w.end)
        out: list[dict] = []
        pl = self.pl
        t = lo - (lo - day_start) % 3600
        while t < hi:
            a, b = max(t, lo), min(t + 3600, hi)
            h = (a - day_start) // 3600
            level = float(w.level(np.array([0.5 * (a + b)]))[0])
            lam = ((w.street_mult - 1.0) * level * daily * float(hours[h]) * (b - a) / 3600)[:, None] * cw
            counts = rng.poisson(lam)
            for i, c in zip(*np.nonzero(counts)):
                for _ in range(int(counts[i, c])):
                    te = int(a + rng.random() * (b - a))
                    typ, title, content, caller = T.weather_text(pl, int(i), w.kind, cats[c][0], rnd)
                    out.append(self._record("hotline", te, int(i), rnd, type=typ, category=cats[c][0], title=title,
                                            content=content, caller=caller))
            t += 3600
        w.extra_by_date[d.isoformat()] = len(out)
        return out

    def _petition(self, d, day_start, t_lo, t_hi, rng, rnd) -> list[dict]:
        st, n = self._streets("petition", d, rng)
        form = rng.choice(4, size=n, p=P.petition_form_weights(d))
        online = (form == 2) | ((form == 3) & P.is_rest_day(d))  # phone at weekends: daytime line
        h_on = rng.choice(24, size=n, p=P.PET_HOURS_ONLINE)
        h_off = rng.choice(24, size=n, p=P.PET_HOURS_OFFICE)
        hours = np.where(online, h_on, h_off)
        ts = day_start + hours * 3600 + rng.integers(0, 3600, size=n)
        # letters are logged when opened: round to the minute
        ts = np.where(form == 0, ts - ts % 60, ts)
        w = P.petition_category_weights(d)[None, :] * self.prof.petition_tilt
        cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        cat = _cum_pick(cum[st], rng.random(n))
        u = rng.random(n)
        multi_ok = (form == 0) | (form == 1)
        people = np.where(multi_ok, 1 + (u > 0.88).astype(int) + (u > 0.95) + (u > 0.98),
                          1 + (u > 0.97).astype(int) + (u > 0.99))
        ur = rng.random(n)
        repeat = np.where(ur < 0.18, 1, np.where(ur < 0.9, 0, -1))  # -1: field omitted
        out = []
        pl = self.pl
        st_l, ts_l, form_l, cat_l = st.tolist(), ts.tolist(), form.tolist(), cat.tolist()
        ppl_l, rep_l = people.tolist(), repeat.tolist()
        for k in self._in_order(ts, (ts >= t_lo) & (ts < t_hi)):
            i = st_l[k]
            fm = P.PETITION_FORMS[form_l[k]]
            c = P.PETITION_CATEGORIES[cat_l[k]]
            rep = None if rep_l[k] < 0 else bool(rep_l[k])
            content, pet = T.petition_text(pl, i, c, fm, ppl_l[k], rep, rnd)
            out.append(self._record("petition", ts_l[k], i, rnd, form=fm, people_count=ppl_l[k], is_repeat=rep,
                                    category=c, content=content, petitioner=pet))
        return out

    def _public_safety(self, d, day_start, t_lo, t_hi, rng, rnd) -> list[dict]:
        st, n = self._streets("public_safety", d, rng)
        et = rng.choice(len(P.PS_TYPES), size=n, p=P.ps_type_weights(d))
        hour_cum = np.cumsum(P.PS_HOURS_BY_TYPE, axis=1)
        hours = _cum_pick(hour_cum[et], rng.random(n))
        ts = day_start + hours * 3600 + rng.integers(0, 3600, size=n)
        sev = 1 + _cum_pick(P.PS_SEVERITY_CUM[et], rng.random(n))
        out = []
        pl = self.pl
        st_l, ts_l, et_l, sev_l = st.tolist(), ts.tolist(), et.tolist(), sev.tolist()
        for k in self._in_order(ts, (ts >= t_lo) & (ts < t_hi)):
            i = st_l[k]
            typ = P.PS_TYPES[et_l[k]]
            desc, people = T.ps_text(pl, i, typ, sev_l[k], rnd)
            if rnd.random() < 0.1:
                people = None  # optional field, sometimes absent
            out.append(self._record("public_safety", ts_l[k], i, rnd, event_type=typ, severity=sev_l[k],
                                    people_count=people, description=desc))
        return out

    def _grid(self, d, day_start, t_lo, t_hi, rng, rnd) -> list[dict]:
        st, n = self._streets("grid", d, rng)
        hours = rng.choice(24, size=n, p=P.grid_hours(d))
        ts = day_start + hours * 3600 + rng.integers(0, 3600, size=n)
        it = rng.choice(len(P.GRID_ISSUE_TYPES), size=n, p=P.grid_issue_weights(d))
        urg = 1 + _cum_pick(P.GRID_URGENCY_CUM[it], rng.random(n))
        urg = np.where(rng.random(n) < 0.05, 0, urg)  # urgency is optional: sometimes absent
        out = []
        pl = self.pl
        st_l, ts_l, it_l, urg_l = st.tolist(), ts.tolist(), it.tolist(), urg.tolist()
        for k in self._in_order(ts, (ts >= t_lo) & (ts < t_hi)):
            i = st_l[k]
            issue = P.GRID_ISSUE_TYPES[it_l[k]]
            u = urg_l[k] or None
            cat, content, reporter, grid_id, people = T.grid_text(pl, i, issue, u, rnd)
            out.append(self._record("grid", ts_l[k], i, rnd, grid_id=grid_id, issue_type=issue, category=cat,
                                    people_count=people, urgency=u, content=content, reporter=reporter))
        return out

    # ------------------------------------------------------------------ records
    def _corrupt(self, rec: dict, rnd: random.Random) -> str:
        """Break the contract in one of several ways (for dead-letter testing); which field each way
        breaks comes from the feed's descriptor."""
        mode = rnd.choice(BAD_MODES)
        feed = FEEDS[rec["source"]]
        tf = feed.time_field
        if mode == "missing_id":
            rec.pop("id", None)
        elif mode == "time_no_offset":
            rec[tf] = rec[tf][:19].replace("T", " ")
        elif mode == "time_garbage":
            rec[tf] = rnd.choice(("昨天下午", "2024/13/45 25:61", "", "N/A"))
        elif mode == "bad_enum":
            kind = feed.fields.get(feed.kind_field or "")
            if kind is not None and kind.enum:
                rec[feed.kind_field] = rnd.choice(BAD_ENUM_VALUES.get(feed.kind_field, ("other",)))
            elif feed.severity_field:
                top = feed.fields[feed.severity_field].le
                rec[feed.severity_field] = rnd.choice((0, (top or 9) + 1, 9, "高"))
            else:
                rec[tf] = "N/A"
        elif mode == "bad_count":
            people = feed.fields.get(feed.people_field or "")
            if people is not None:
                rec[feed.people_field] = (people.ge or 0) - 1
            else:
                rec[feed.kind_field or "id"] = 0
        elif mode == "bad_street_code":
            rec["street_code"] = rnd.choice(("1101A5001", "11010", "110105001001"))
        else:
            # the first required free text (else the category field): removed, or not a string
            key = next((k for k, f in feed.fields.items() if f.type == "text" and f.required), feed.category_field)
            if mode == "missing_content":
                rec.pop(key, None)
            else:
                rec[key] = rnd.randint(1, 9999)
        return mode
