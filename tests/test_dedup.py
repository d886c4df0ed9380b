from hypothesis import given, settings, strategies as st

from warning.core.dedup import Deduplicator


def test_horizon_and_restore():
    d = Deduplicator(horizon_s=100, deltas=True)
    assert not d.seen("x", 0)
    assert d.seen("x", 50)
    delta = d.take_delta()
    assert delta == [("x", 0)]
    d2 = Deduplicator(horizon_s=100)
    d2.restore(delta)
    assert d2.seen("x", 10)
    assert not d2.seen("y", 500)  # pushes x out
    assert not d2.seen("x", 501)


def test_a_filter_without_deltas_stays_bounded():
    """A backtest's filter (no deltas taken): nothing grows with the records but the ids within the
    horizon. It kept every accepted id as a delta before (~6 GB per job over a simulated year)."""
    import tracemalloc

    d = Deduplicator(horizon_s=10.0)
    tracemalloc.start()
    try:
        for i in range(200_000):
            d.seen(f"id-{i}", float(i))
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(d) <= 11
    assert current < 1_000_000, current


def test_bounded():
    d = Deduplicator(horizon_s=1e9, max_ids=1000)
    for i in range(5000):
        d.seen(str(i), float(i))
    assert len(d) <= 1000


@settings(deadline=None)  # a scheduler pause is not a failure (the suite runs two processes)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1000)), max_size=200))
def test_matches_reference(items):
    """Against a brute-force reference with a huge horizon: a duplicate iff the id occurred before."""
    d = Deduplicator(horizon_s=1e12)
    seen = set()
    for rid, ts in items:
        assert d.seen(str(rid), float(ts)) == (rid in seen)
        seen.add(rid)
