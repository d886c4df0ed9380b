"""Engine: determinism, arrival order, late events, restore, early firing, common mode, state size."""

from __future__ import annotations

import pickle
import random
from typing import Any

import orjson
import pytest

from detect_helpers import DAY, HOUR, STREETS, T0, background, engine, event, firing, run

SURGE_STREET = "110105001"


def _surge(start: float, n: int = 30, minutes: float = 50.0, category: str = "公共服务", street: str = SURGE_STREET,
           seed: int = 5) -> list:
    """``n`` calls of one category within ``minutes`` (ordinary wording: no sentiment signal)."""
    rnd = random.Random(seed)
    return [event(start + rnd.random() * minutes * 60, "hotline", street, category=category, text="停水了",
                  neg=0.4 + 0.2 * rnd.random()) for _ in range(n)]


@pytest.fixture(scope="module")
def stream() -> list:
    evs = background(4.0, seed=3) + _surge(T0 + 3 * DAY + 10 * HOUR + 300)
    evs.sort(key=lambda e: (e.ts, e.event_id))
    return evs


@pytest.fixture(scope="module")
def reference(stream: list) -> list[dict]:
    return run(stream)


def _dump(alerts: list[dict]) -> list[bytes]:
    return [orjson.dumps(a.to_dict(), option=orjson.OPT_SORT_KEYS) for a in alerts]


def test_same_input_twice_gives_identical_alerts(stream: list, reference: list[dict]) -> None:
    assert firing(reference, SURGE_STREET), "the surge must alert (test precondition)"
    assert _dump(run(stream)) == _dump(reference)


def test_arrival_order_within_lateness_does_not_matter(stream: list, reference: list[dict]) -> None:
    """Shuffle arrival within blocks of 4 minutes (allowed lateness is 10): the same alerts."""
    rnd = random.Random(9)
    blocks: dict[int, list] = {}
    for ev in stream:
        blocks.setdefault(int(ev.ts // 240), []).append(ev)
    shuffled = []
    for k in sorted(blocks):
        b = blocks[k][:]
        rnd.shuffle(b)
        shuffled += b
    assert [e.event_id for e in shuffled] != [e.event_id for e in stream]
    assert _dump(run(shuffled)) == _dump(reference)


def test_late_events_are_counted_never_dropped_silently() -> None:
    e = engine()
    run(background(0.5, seed=2), e, flush=False)
    street = e.streets[SURGE_STREET]
    before, before_st = e.late, street.late
    old = event(T0 + 1 * HOUR, "hotline", SURGE_STREET)  # far behind the watermark
    e.process(old)
    assert e.late == before + 1
    assert street.late == before_st + 1
    # still counted in the daily rollup that is open
    assert street.day is not None


def test_restore_from_snapshot_gives_the_same_alerts(stream: list, reference: list[dict]) -> None:
    """Checkpoint in the middle (streets + meta, as the stream does), restore into a new engine,
    continue: the alerts equal an uninterrupted run."""
    half = len(stream) // 2
    e1 = engine()
    out = run(stream[:half], e1, flush=False)
    meta = e1.snapshot_meta()
    streets = e1.take_dirty()
    assert set(streets) == set(e1.streets)
    e2 = engine()
    e2.restore(meta, streets)
    out += run(stream[half:], e2)
    assert _dump(out) == _dump(reference)


def test_surge_alerts_before_its_hour_closes(stream: list) -> None:
    """Early firing: the surge starts at 10:05; its alert is emitted while the hour 10:00–11:00 is
    still open (the watermark has not closed it), and it is dated inside that hour."""
    e = engine()
    hour_start = T0 + 3 * DAY + 10 * HOUR
    first = None
    for ev in stream:
        for a in e.process(ev):
            if (a["street_code"] == SURGE_STREET and a["status"] == "firing" and first is None
                    and a["signal"] in ("hotline_category", "hotline_volume")):
                first = (e.open_hour, a)
    assert first is not None
    open_hour, alert = first
    assert open_hour == hour_start  # the surge's hour was not closed yet
    assert "2025-03-04T10:05" <= alert["starts_at"] < "2025-03-04T11:00"
    assert alert["evidence"]["early"] is True
    assert alert["window_end"] < "2025-03-04T11:00:00+08:00"


def test_partition_wide_shift_is_not_every_streets_anomaly() -> None:
    """The same rise of one category in every street (a city-wide cause) alerts far less than the
    same rise in one street alone."""
    base = background(4.0, seed=4, per_hour=8.0)
    start = T0 + 3 * DAY + 9 * HOUR
    alone = base + _surge(start, n=14, minutes=60, category="交通管理", seed=1)
    everywhere = base + [ev for i, st in enumerate(STREETS)
                         for ev in _surge(start, n=14, minutes=60, category="交通管理", street=st, seed=10 + i)]
    for evs in (alone, everywhere):
        evs.sort(key=lambda e: (e.ts, e.event_id))
    a1 = firing(run(alone), min_level="yellow")
    a2 = firing(run(everywhere), min_level="yellow")
    assert [a["street_code"] for a in a1 if a["signal"] == "hotline_category"] == [SURGE_STREET]
    assert not [a for a in a2 if a["signal"] == "hotline_category"]


def test_state_per_street_stays_small() -> None:
    """A busy street (≈ 2,900 records a day) after two weeks: far below the 64 KB budget."""
    e = engine()
    run(background(14.0, seed=6, streets=(SURGE_STREET, "110105002"), per_hour=120.0), e)
    size = max(len(pickle.dumps(st, protocol=5)) for st in e.streets.values())
    assert size < 64 * 1024, size


def test_reorder_buffer_is_bounded_and_loses_nothing() -> None:
    """A burst of one feed only (the others unseen: the watermark waits for them) fills the reorder
    buffer; with ``max_buffered`` the buffer never holds more, every event is still released or
    counted late, and the same sequence gives the same alerts again (no wall clock involved)."""
    rnd = random.Random(4)
    burst = [event(T0 + rnd.uniform(0, 12 * HOUR), "hotline", rnd.choice(list(STREETS))) for _ in range(3000)]

    def feed(limit: int | None) -> tuple[Any, list[dict], int]:
        e = engine()
        e.max_buffered = limit
        out, peak = [], 0
        for i, ev in enumerate(burst, 1):
            out += e.process(ev)
            peak = max(peak, len(e.buffer))
            assert e.released + e.late + len(e.buffer) == i  # each one released, late or waiting
        return e, out, peak

    unbounded, _, peak_unbounded = feed(None)
    assert peak_unbounded == len(burst), "the scenario must buffer the whole burst without a limit"
    e, out, peak = feed(500)
    assert peak <= 500
    assert e.forced > 0
    assert e.released + e.late + len(e.buffer) == len(burst)
    out += e.flush()
    assert e.released + e.late == len(burst) and not e.buffer
    e2, out2, _ = feed(500)
    out2 += e2.flush()
    assert _dump(out) == _dump(out2)
