"""Rate limiter and digest planning, deterministic with an injected clock; backoff bounds."""

from __future__ import annotations

import random

import pytest

from warning.notify.dispatch import RetryPolicy
from warning.notify.ratelimit import RateLimiter, plan

RANK = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}


def simulate(arrivals: list[tuple[float, str, str]], limit: int = 20, window: float = 60.0, tick: float = 0.05, end: float = 900.0):
    """The dispatcher's robot loop in virtual time: (send time, [alert ids], is_digest) list."""
    rl = RateLimiter(limit, window)
    pending: list[tuple[str, str]] = []
    sends = []
    arrivals = sorted(arrivals)
    i = 0
    now = 0.0
    while now <= end:
        while i < len(arrivals) and arrivals[i][0] <= now:
            pending.append(arrivals[i][1:])
            i += 1
        while pending and rl.available(now) > 0:
            batch, digest = plan(pending, rl.available(now), lambda a: RANK[a[1]], max_digest=25)
            rl.acquire(now)
            sends.append((now, [a[0] for a in batch], digest))
            pending = [a for a in pending if a not in batch]
        now = round(now + tick, 6)
    return sends


def test_burst_of_30_is_20_messages_with_one_digest():
    arrivals = [(0.0, f"a{i}", "red" if i < 2 else "blue") for i in range(30)]
    sends = simulate(arrivals)
    assert len(sends) == 20
    assert sum(d for _, _, d in sends) == 1
    digest = next(ids for _, ids, d in sends if d)
    assert len(digest) == 11
    assert sorted(x for _, ids, _ in sends for x in ids) == sorted(a[1] for a in arrivals)
    assert all(not d for _, ids, d in sends if {"a0", "a1"} & set(ids))  # reds go alone


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_never_more_than_limit_in_any_window_and_nothing_lost(seed):
    rng = random.Random(seed)
    arrivals = []
    t = 0.0
    for n in range(400):
        # bursts and quiet spells
        t += rng.expovariate(1 / 0.2) if rng.random() < 0.7 else rng.expovariate(1 / 10)
        arrivals.append((round(t, 3), f"a{n}", rng.choice(list(RANK))))
    sends = simulate(arrivals, end=t + 300)
    times = [s for s, _, _ in sends]
    assert all(sum(1 for x in times if t0 <= x < t0 + 60.0) <= 20 for t0 in times)
    sent = [x for _, ids, _ in sends for x in ids]
    assert sorted(sent) == sorted(a[1] for a in arrivals)  # each exactly once
    when = {a[1]: a[0] for a in arrivals}
    delay = max(s - when[x] for s, ids, _ in sends for x in ids)
    assert delay <= 60.0 + 0.1  # at worst one window behind
    # the most severe alerts are not buried in digests while tokens allow
    assert len(sends) < len(arrivals)


def test_limiter_deterministic_window_edges():
    rl = RateLimiter(2, 10.0)
    rl.acquire(0.0)
    rl.acquire(5.0)
    assert rl.available(9.999) == 0 and rl.next_free(9.999) == 10.0
    assert rl.available(10.0) == 1 and rl.next_free(10.0) == 10.0
    one = RateLimiter(1, 10.0)
    one.acquire(0.0)
    with pytest.raises(RuntimeError):
        one.acquire(1.0)
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_plan_rules():
    rank = lambda a: RANK[a.split("-")[0]]  # noqa: E731
    assert plan([], 5, rank) == ([], False)
    assert plan(["blue-1", "red-2"], 2, rank) == (["blue-1"], False)  # enough tokens: FIFO
    assert plan(["blue-1", "red-2", "blue-3"], 2, rank) == (["red-2"], False)  # scarce: most severe
    assert plan(["blue-1"], 1, rank) == (["blue-1"], False)
    items = [f"blue-{i}" for i in range(40)]
    batch, digest = plan(items, 1, rank, max_digest=25)
    assert digest and batch == items[:25]  # capped, the rest stays for the next digest


def test_full_jitter_backoff_bounds():
    p = RetryPolicy(base_s=0.5, cap_s=8.0, max_attempts=5, max_age_s=100)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0), (200, 8.0)]:
        ds = [p.delay(attempt, rng) for _ in range(2000)]
        assert 0 <= min(ds) and max(ds) <= ceiling
        assert 0.4 * ceiling < sum(ds) / len(ds) < 0.6 * ceiling  # uniform over [0, ceiling]
    assert not p.exhausted(4, 10) and p.exhausted(5, 10) and p.exhausted(1, 100)
    assert not RetryPolicy(max_age_s=None).exhausted(10**6, 10**9)
