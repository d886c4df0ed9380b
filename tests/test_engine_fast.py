"""The fast engine: lazy per-key counts equal the eager ones, a run split by snapshots at random
points (quiet hours included) equals an unsplit run, dirty tracking covers every changed street,
and the observer hook (``Engine.watch`` / ``Engine.series``) only observes."""

from __future__ import annotations

import pickle
import random

import pytest
from detect_helpers import HOUR, T0, background, engine, event, run

from warning.core.scan import CountRing, HourRing

SURGE_STREET = "110105001"
QUIET_STREET = "110101001"


def _stream() -> list:
    """Three days of background; a quiet street with a few records a day (long gaps between its
    hours with counts) and a surge on day three."""
    busy = background(3.0, seed=11, streets=("110105001", "110105002", "110108001"))
    rnd = random.Random(5)
    quiet = [event(T0 + rnd.random() * 3 * 24 * HOUR, "hotline", QUIET_STREET, category=rnd.choice(("住房", "教育")))
             for _ in range(12)]
    surge = [event(T0 + 2 * 24 * HOUR + 10 * HOUR + 300 + i * 60, "hotline", SURGE_STREET, category="供暖",
                   text="供暖不热") for i in range(30)]
    out = busy + quiet + surge
    out.sort(key=lambda e: (e.ts, e.event_id))
    return out


def _dump(alerts: list[dict]) -> list[tuple]:
    return [(a["alert_id"], a["status"], a["level"], a["signal"], a["starts_at"], a.get("ends_at"), a.get("score"))
            for a in alerts]


@pytest.fixture(scope="module")
def stream() -> list:
    return _stream()


@pytest.fixture(scope="module")
def reference(stream: list) -> list[dict]:
    return run(stream)


def test_count_ring_equals_the_eager_ring() -> None:
    """Random adds, sets and hour gaps (short, long, past the ring), pickled in between: every
    window, current value, leaving hour and key set equals :class:`HourRing`'s."""
    for seed in range(8):
        rnd = random.Random(seed)
        eager, lazy = HourRing((6, 24, 72), "H"), CountRing((6, 24, 72), "H")
        hour = 1000
        eager.advance(hour)
        lazy.advance(hour)
        for _ in range(600):
            op = rnd.random()
            if op < 0.15:
                nxt = hour + rnd.choice((1, 1, 2, 3, 5, 7, 20, 71, 72, 73, 200))
                assert eager.leaving(nxt) == lazy.leaving(nxt)
                eager.advance(nxt)
                lazy.advance(nxt)
                hour = nxt
            elif op < 0.6:
                ks = tuple(rnd.choice("abcdef") for _ in range(rnd.randint(1, 3)))
                eager.add_keys(ks)
                lazy.add_keys(ks)
            elif op < 0.7:
                k, v = rnd.choice("abcdef"), rnd.randint(0, 5)
                eager.add(k, v)
                lazy.add(k, v)
            elif op < 0.75:
                k, v = rnd.choice("abcdef"), float(rnd.randint(0, 3))
                eager.set(k, v)
                lazy.set(k, v)
            else:
                lazy = pickle.loads(pickle.dumps(lazy))
            for k in "abcdef":
                assert eager.current(k) == lazy.current(k)
                for w in (6, 24, 72):
                    assert eager.window(k, w) == lazy.window(k, w)
            assert sorted(eager.keys()) == sorted(lazy.keys())


def test_split_by_snapshots_at_random_points_equals_an_unsplit_run(stream: list, reference: list[dict]) -> None:
    """The stream's way of checkpointing (engine meta + the dirty streets written to a table),
    restored into a fresh engine at random points — some in the middle of a street's quiet
    hours: the alerts and the final state of every street equal an uninterrupted run; a street
    not marked dirty has exactly the state last written for it."""
    assert any(a["status"] == "firing" for a in reference), "the surge must alert (test precondition)"
    ref = engine()
    run(stream, ref)
    rnd = random.Random(3)
    cuts = sorted(rnd.sample(range(1, len(stream)), 6))
    table: dict[str, bytes] = {}
    e = engine()
    out: list[dict] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += run(stream[prev:cut], e, flush=cut == len(stream))
        if cut == len(stream):
            break
        meta = e.snapshot_meta()
        dirty = e.take_dirty()
        for key, st in e.streets.items():  # what was not rewritten must not have changed
            if key not in dirty:
                assert pickle.dumps(st, protocol=5) == table[key], key
        table.update(dirty)
        e = engine()
        e.restore(meta, dict(table))
        prev = cut
    assert _dump(out) == _dump(reference)
    assert set(e.streets) == set(ref.streets)
    for key in ref.streets:
        a, b = ref.streets[key], e.streets[key]
        assert a.baseline.hours_learned == b.baseline.hours_learned
        assert a.last_closed_hour == b.last_closed_hour
        for f, m in a.baseline.models.items():
            assert (m.A, m.B, m.D_num, m.D_den, m.a, m.b) == (b.baseline.models[f].A, b.baseline.models[f].B,
                                                             b.baseline.models[f].D_num, b.baseline.models[f].D_den,
                                                             b.baseline.models[f].a, b.baseline.models[f].b)
        assert a.baseline.shares == b.baseline.shares
        for k in set(a.baseline.ring.keys()) | set(b.baseline.ring.keys()):
            for w in (6, 24, 72):
                assert a.baseline.ring.window(k, w) == b.baseline.ring.window(k, w)


def test_watch_keeps_the_hourly_series_of_watched_streets_only(stream: list, reference: list[dict]) -> None:
    e = engine()
    e.watch = {SURGE_STREET, QUIET_STREET}
    out = run(stream, e)
    assert _dump(out) == _dump(reference)  # observing changes nothing
    assert set(e.series) == {SURGE_STREET, QUIET_STREET}
    rows = e.series[SURGE_STREET]
    hours = [h for h, _, _ in rows]
    assert hours == sorted(hours) and all(b - a == HOUR for a, b in zip(hours, hours[1:]))
    counts: dict[float, int] = {}
    for ev in stream:
        if ev.key == SURGE_STREET:
            h = ev.ts - (ev.ts + 8 * 3600) % 3600
            counts[h] = counts.get(h, 0) + 1
    for h, observed, expected in rows:
        assert observed == counts.get(h, 0)
        assert expected > 0.0
    surge_hour = T0 + 2 * 24 * HOUR + 10 * HOUR
    row = next(r for r in rows if r[0] == surge_hour)
    assert row[1] > 3 * row[2]  # the surge is far above its expectation
    assert sum(o for _, o, _ in e.series[QUIET_STREET]) <= 12


# ---------------------------------------------------------------------- the hot paths' shortcuts
def test_unrolled_three_window_rings_equal_one_window_rings() -> None:
    """The usual 6/24/72 h rings take unrolled steps (:class:`CountRing` catching up, the float
    :class:`HourRing` advancing and clamping drift); each window equals a ring of that window
    alone (the generic loop), value for value."""
    for seed in range(4):
        rnd = random.Random(seed)
        lazy3, lazy1 = CountRing((6, 24, 72)), {w: CountRing((w,)) for w in (6, 24, 72)}
        flt3, flt1 = HourRing((6, 24, 72), "f"), {w: HourRing((w,), "f") for w in (6, 24, 72)}
        rings = [lazy3, *lazy1.values(), flt3, *flt1.values()]
        hour = 500
        for r in rings:
            r.advance(hour)
        for _ in range(400):
            op = rnd.random()
            if op < 0.2:
                hour += rnd.choice((1, 1, 2, 3, 4, 5, 9, 30))
                for r in rings:
                    r.advance(hour)
            else:
                k, v = rnd.choice("abc"), rnd.randint(1, 4)
                f = rnd.choice((0.1, 0.7, 1e-10, 3.3))
                for r in (lazy3, *lazy1.values()):
                    r.add(k, v)
                for r in (flt3, *flt1.values()):
                    r.add(k, f * v)
            for k in "abc":
                for w in (6, 24, 72):
                    assert lazy3.window(k, w) == lazy1[w].window(k, w)
                    assert flt3.window(k, w) == flt1[w].window(k, w)


def test_recent_expires_only_when_due_with_the_same_result() -> None:
    """:meth:`Recent.add` skips :meth:`Recent.expire` when nothing is due: the same events, counts
    and value sums as expiring after every add."""
    from warning.core.scan import Recent

    for seed in range(4):
        rnd = random.Random(seed)
        fast, ref = Recent(cap=7), Recent(cap=7)
        t = 0.0
        for _ in range(2000):
            t += rnd.choice((0.0, 1.0, 60.0, 900.0, 3599.0, 3600.0, 5000.0))
            keys = tuple(rnd.choice("abcd") for _ in range(rnd.randint(1, 3)))
            v = rnd.choice((None, 0.25, 0.5, 0.9))
            fast.add(t, keys, v)
            ref.add(t, keys, v)
            ref.expire(t)  # what add always did
            assert list(fast.events) == list(ref.events)
            assert (fast.counts, fast.vn, fast.vsum) == (ref.counts, ref.vn, ref.vsum)


def test_minute_bins_roll_only_when_due_with_the_same_result() -> None:
    from warning.core.scan import MinuteBins

    rnd = random.Random(2)
    fast, ref = MinuteBins(), MinuteBins()
    t = 1_000_000.0
    for _ in range(3000):
        t += rnd.choice((0.0, 10.0, 200.0, 301.0, 1800.0, 4000.0))
        ref._roll(int(t // ref.width))  # what add always did
        if rnd.random() < 0.5:
            keys = tuple(rnd.choice("abc") for _ in range(2))
            fast.add(t, keys)
            ref.add(t, keys)
        else:
            pairs = (("n", 1), ("z", rnd.random()))
            fast.add_pairs(t, pairs)
            ref.add_pairs(t, pairs)
        assert list(fast.bins) == list(ref.bins) and fast.counts == ref.counts


def test_seasonal_count_reuses_its_prediction_only_while_unchanged() -> None:
    """``learn_bucket`` after ``predict_bucket`` of the same window reuses that prediction; any
    other order (another window learned in between, a pickle) recomputes it: the state equals
    that of a model that never predicted."""
    from warning.models import SeasonalCount

    rnd = random.Random(4)
    a, b = SeasonalCount(level_halflife=72.0), SeasonalCount(level_halflife=72.0)
    bucket = 1000
    for _ in range(600):
        op = rnd.random()
        c = rnd.choice((0, 0, 1, 2, 5, 30))
        if op < 0.5:
            assert a.predict_bucket(bucket) == b.predict_bucket(bucket)
        elif op < 0.6:
            a.predict_bucket(bucket + 1)  # a stale prediction of another window
        elif op < 0.7:
            a.predict_bucket(bucket)
            a.learn_bucket(bucket - 1, c)  # learned in between: the prediction is stale
            b.learn_bucket(bucket - 1, c)
        elif op < 0.75:
            a = pickle.loads(pickle.dumps(a))
            assert a._pred is None
        a.learn_bucket(bucket, c)
        b.learn_bucket(bucket, c)
        bucket += rnd.choice((1, 1, 1, 2, 5))
        sa, sb = a.__getstate__(), b.__getstate__()
        assert "_pred" not in sa
        assert sa == sb


def test_entity_eviction_picks_the_weakest_name() -> None:
    """The one-pass eviction choice equals ``min`` over (weight, name) of the names not in the record."""
    from warning.core.detect_config import DetectSettings
    from warning.core.feeds import default_feeds
    from warning.core.keys import KeyTable
    from warning.models.entity import EntityRepeat

    d = EntityRepeat(DetectSettings(detector_params={"entity": {"max_entities": 8}}), KeyTable(default_feeds()))
    st = d.new_state()
    rnd = random.Random(6)
    t = 1_700_000_000.0
    for _ in range(400):
        t += rnd.choice((60.0, 600.0, 3600.0, 20 * 3600.0))
        names = sorted({f"小区{rnd.randint(0, 20)}" for _ in range(rnd.randint(1, 3))})
        want = min((k for k in st.table if k not in names), key=lambda k: (st.weight(k, t), k), default=None)
        assert d._weakest(st, t, names) == want
        d.learn(st, t, "hotline", names)
    assert d._weakest(st, t, list(st.table)) is None


def test_key_info_shared_and_per_text_follow_the_family() -> None:
    from warning.core.feeds import default_feeds
    from warning.core.keys import KeyInfo, KeyTable

    kt = KeyTable(default_feeds())
    got = {k: (kt.info(k).family, kt.info(k).shared, kt.info(k).per_text) for k in ("H", "C供暖", "K极端/人身", "N")}
    assert got == {"H": ("volume", False, False), "C供暖": ("theme", True, False),
                   "K极端/人身": ("risk", True, True), "N": ("tail", True, True)}
    ki = kt.info("C供暖")
    same = KeyInfo(ki.key, ki.family, ki.name, ki.feeds, ki.prefix, ki.pool)
    assert same == ki and hash(same) == hash(ki) and pickle.loads(pickle.dumps(ki)) == ki
