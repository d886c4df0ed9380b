"""Per-receiver rate limit and digest folding (WeCom / DingTalk robots: 20 messages a minute).

The limiter is a token bucket whose tokens come back exactly ``window_s`` after they were spent —
a sliding window: never more than ``limit`` messages in *any* ``window_s`` interval. (A classic
refill-rate bucket of 20/min would allow a burst of 20 plus one every 3 s, i.e. up to ~40 messages
in some 60 s interval, and the robots would throttle us for 10 minutes.) Every HTTP attempt spends a
token, failed ones too: the robot counts them.

When more alerts are due than tokens remain, :func:`plan` sends the most severe ones on their own
and folds the rest into ONE digest ("另有 N 条预警：…", one compact line per alert) on the last token;
alerts arriving while no token is left wait and are folded into the next digest as soon as the
window allows. Nothing is dropped and the robot is never pushed past its limit.

Both are pure and deterministic given the ``now`` passed in (no clock of their own):

>>> rl = RateLimiter(limit=3, window_s=60)
>>> [rl.available(0.0), rl.acquire(0.0), rl.acquire(1.0), rl.acquire(2.0), rl.available(30.0)]
[3, None, None, None, 0]
>>> rl.next_free(30.0), rl.available(60.0), rl.available(62.0)
(60.0, 1, 3)
>>> due = ["blue-1", "red-2", "blue-3", "blue-4"]
>>> rank = lambda a: 4 if a.startswith("red") else 1
>>> plan(due, available=3, rank=rank)        # 4 due > 3 tokens: most severe first, alone
(['red-2'], False)
>>> plan(["blue-1", "blue-3", "blue-4"], available=1, rank=rank)   # last token: one digest
(['blue-1', 'blue-3', 'blue-4'], True)
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")


class RateLimiter:
    """At most ``limit`` acquisitions in any ``window_s`` seconds (sliding-window token bucket)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.limit = limit
        self.window_s = float(window_s)
        self._spent: deque[float] = deque()  # times tokens were spent, ascending

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] + self.window_s <= now:
            self._spent.popleft()

    def available(self, now: float) -> int:
        self._expire(now)
        return self.limit - len(self._spent)

    def acquire(self, now: float) -> None:
        """Spend a token at ``now``; ``RuntimeError`` when none is available."""
        if self.available(now) <= 0:
            raise RuntimeError("rate limit exhausted")
        # Keep the log ordered even if the clock handed to us goes backwards a little.
        self._spent.append(max(now, self._spent[-1]) if self._spent else now)

    def restore(self, times: Iterable[float], now: float) -> int:
        """Count tokens spent elsewhere at ``times`` (same clock as ``now``) as well — the spends of
        a shared budget's previous owner, read back from its ledger. Those still inside the window
        hold their token until they expire (times in the future too: a margin for clock skew).
        Returns how many were taken over. More spends than ``limit`` are kept: the limiter then
        waits until enough of them have expired.

        >>> rl = RateLimiter(limit=3, window_s=60)
        >>> rl.restore([-70.0, -30.0, 5.0], now=0.0), rl.available(0.0), rl.next_free(0.0)
        (2, 1, 0.0)
        >>> rl.acquire(0.0); rl.available(0.0), rl.next_free(0.0)
        (0, 30.0)
        """
        recent = [t for t in times if t + self.window_s > now]
        if recent:
            self._spent = deque(sorted([*self._spent, *recent]))
        return len(recent)

    def next_free(self, now: float) -> float:
        """Earliest time ≥ ``now`` at which a token is available."""
        if self.available(now) > 0:
            return now
        return self._spent[0] + self.window_s

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, window_s={self.window_s:g}, spent={len(self._spent)})"


def plan(due: Sequence[T], available: int, rank: Callable[[T], int], max_digest: int = 25) -> tuple[list[T], bool]:
    """What to send now: ``(items, is_digest)``.

    ``due`` is in arrival order, ``available`` ≥ 1 tokens, ``rank`` gives severity (higher = more
    severe). Rules:

    * as many tokens as due items → the oldest item alone (plain FIFO, no folding);
    * fewer tokens, at least 2 left → the most severe (then oldest) item alone;
    * one token left and several items due → a digest of up to ``max_digest`` items (most
      severe first); the rest stay due for the next digest.
    """
    if not due:
        return [], False
    if available < 1:
        raise ValueError("no token available")
    if len(due) <= available or len(due) == 1:
        return [due[0]], False
    order = sorted(range(len(due)), key=lambda i: (-rank(due[i]), i))
    if available >= 2:
        return [due[order[0]]], False
    chosen = sorted(order[: max(1, max_digest)])
    return [due[i] for i in chosen], len(chosen) > 1
