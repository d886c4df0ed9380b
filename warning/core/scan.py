"""Trailing-window counters in event time (the tests they feed are in :mod:`warning.models.significance`).

* :class:`Recent` — exact counts per key over the last 60 minutes (a deque of the events).
* :class:`HourRing` — counts (or expected counts) per key in hourly slots, with running sums
  over trailing windows of several lengths, so that "the last 24 h" costs O(1) per event.
* :class:`CountRing` — the same for integer counts, advanced *lazily*: moving to a new hour costs
  nothing per key; a key is brought up to date when it is next read or counted (integer sums are
  exact in any order, so the lazy sums equal the eager ones bit for bit).
* :class:`MinuteBins` — coarse 5-minute bins (the partition-wide last hour; cheap to snapshot).

Everything is plain Python with deterministic iteration (keys are visited in insertion order,
which only depends on the order of the events), and pickles compactly (``array`` slots).

>>> r = HourRing(windows=(6, 24))
>>> r.advance(100)
>>> r.add("C住房", 2.0)
>>> r.advance(101)
>>> r.add("C住房", 1)
>>> r.window("C住房", 6), r.window("C住房", 24)
(3.0, 3.0)
>>> r.advance(106)
>>> r.window("C住房", 6)   # hour 100 left the 6-hour window, hour 101 is still in it
1.0
>>> r.advance(200)
>>> r.window("C住房", 24)
0.0
>>> c = CountRing(windows=(6, 24))
>>> c.advance(100); c.add_keys(("C住房", "C住房")); c.advance(101); c.add("C住房")
>>> c.window("C住房", 6), c.advance(106), c.window("C住房", 6)
(3.0, None, 1.0)
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Any, Iterable

from warning.core.timeutil import HOUR



#: typecode → the largest value a slot of an integer ring holds (saturation), computed once
_TOP: dict[str, int] = {}


class _Slotted:
    """Pickles the ``__slots__`` of a subclass as a plain dict (compact and stable across versions)."""

    __slots__ = ()

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


class HourRing(_Slotted):
    """Per-key values in hourly slots (absolute hour index ``h = ts // 3600``).

    ``window(key, W)`` is the sum over the open hour and the ``W - 1`` hours before it. Slots of
    the open hour can be added to until :meth:`advance` moves on; keys that have been zero for
    the ring's whole length are dropped, so the state only holds what is active.
    """

    __slots__ = ("n", "windows", "wi", "hour", "slots", "closed", "last", "typecode")

    def __init__(self, windows: Iterable[int] = (6, 24, 72), typecode: str = "f") -> None:
        self.windows = tuple(sorted(set(int(w) for w in windows if int(w) > 1)))
        self.wi = {w: i for i, w in enumerate(self.windows)}
        self.n = max(self.windows) if self.windows else 1
        self.typecode = typecode
        self.hour: int | None = None
        self.slots: dict[str, array] = {}
        self.closed: dict[str, list[float]] = {}  # key → [sum over the closed hours of each window]
        self.last: dict[str, int] = {}  # key → last hour with a non-zero value

    def advance(self, hour: int) -> None:
        """Make ``hour`` the open hour (never moves back)."""
        if self.hour is None:
            self.hour = hour
            return
        if hour <= self.hour:
            return
        gap = hour - self.hour
        n = self.n
        if gap >= n:
            self.slots.clear()
            self.closed.clear()
            self.last.clear()
            self.hour = hour
            return
        dead = [k for k, h in self.last.items() if hour - h >= n]
        for k in dead:
            del self.slots[k], self.closed[k], self.last[k]
        wins = self.windows
        closed = self.closed
        for h in range(self.hour, hour):
            cur = h % n
            nxt = (h + 1) % n
            offs = [(h - w + 1) % n for w in wins]
            if len(offs) == 3:  # the usual 6/24/72 h: unrolled (same operations, same order)
                o0, o1, o2 = offs
                for k, sl in self.slots.items():
                    cl = closed[k]
                    v = sl[cur]
                    cl[0] += v - sl[o0]
                    cl[1] += v - sl[o1]
                    cl[2] += v - sl[o2]
                    sl[nxt] = 0
                continue
            for k, sl in self.slots.items():
                cl = closed[k]
                v = sl[cur]
                for i, o in enumerate(offs):
                    cl[i] += v - sl[o]
                sl[nxt] = 0
        if self.typecode in ("f", "d"):  # float sums: no drift below zero
            for cl in closed.values():
                if len(cl) == 3:  # unrolled
                    if cl[0] < 1e-9:
                        cl[0] = 0.0
                    if cl[1] < 1e-9:
                        cl[1] = 0.0
                    if cl[2] < 1e-9:
                        cl[2] = 0.0
                    continue
                for i in range(len(cl)):
                    if cl[i] < 1e-9:
                        cl[i] = 0.0
        self.hour = hour

    @property
    def _max(self) -> int:
        top = _TOP.get(self.typecode)
        if top is None:
            top = _TOP[self.typecode] = (1 << (8 * array(self.typecode).itemsize)) - 1 if self.typecode not in ("f", "d") else 1 << 62
        return top

    def leaving(self, hour: int) -> list[tuple[int, dict[str, float]]]:
        """The hours that advancing to ``hour`` drops out of the longest window, with their values
        (oldest first) — e.g. to learn from data once it is older than every test window."""
        n = self.n
        out = []
        for j in self.leaving_hours(hour):
            vals = {k: float(sl[j % n]) for k, sl in self.slots.items() if sl[j % n]}
            out.append((j, vals))
        return out

    def leaving_hours(self, hour: int) -> range:
        """The hours :meth:`leaving` would return for ``hour`` (without their values)."""
        if self.hour is None or hour <= self.hour:
            return range(0)
        return range(self.hour - self.n + 1, min(hour - self.n + 1, self.hour + 1))

    def _new(self, key: str) -> array:
        sl = self.slots[key] = array(self.typecode, bytes(array(self.typecode).itemsize * self.n))
        self.closed[key] = [0.0] * len(self.windows)
        return sl

    def add(self, key: str, v: float = 1) -> None:
        """Add ``v`` to the open hour of ``key`` (integer rings saturate instead of overflowing)."""
        sl = self.slots.get(key)
        if sl is None:
            sl = self._new(key)
        i = self.hour % self.n  # type: ignore[operator]
        if self.typecode in ("f", "d"):
            sl[i] += v
        else:
            x = sl[i] + int(v)
            top = self._max
            sl[i] = x if x <= top else top
        self.last[key] = self.hour  # type: ignore[assignment]

    def add_many(self, items: Iterable[tuple[str, float]]) -> None:
        """:meth:`add` of each ``(key, value)`` of a float ring, in order (the per-event path)."""
        assert self.typecode in ("f", "d")
        i = self.hour % self.n  # type: ignore[operator]
        slots, last, hour = self.slots, self.last, self.hour
        for key, v in items:
            sl = slots.get(key)
            if sl is None:
                sl = self._new(key)
            sl[i] += v
            last[key] = hour  # type: ignore[assignment]

    def add_keys(self, keys: Iterable[str]) -> None:
        """Add 1 to the open hour of each key (the per-event fast path of integer rings)."""
        hour = self.hour
        i = hour % self.n  # type: ignore[operator]
        slots, last = self.slots, self.last
        top = self._max
        for key in keys:
            sl = slots.get(key)
            if sl is None:
                sl = self._new(key)
            x = sl[i] + 1
            sl[i] = x if x <= top else top
            last[key] = hour  # type: ignore[assignment]

    def set(self, key: str, v: float) -> None:
        """Set the open hour's value of ``key`` (expected counts are set, not accumulated)."""
        assert self.hour is not None
        sl = self.slots.get(key)
        if sl is None:
            if v == 0:
                return
            sl = self.slots[key] = array(self.typecode, bytes(array(self.typecode).itemsize * self.n))
            self.closed[key] = [0.0] * len(self.windows)
        sl[self.hour % self.n] = v if self.typecode in ("f", "d") else min(int(v), self._max)
        if v:
            self.last[key] = self.hour

    def current(self, key: str) -> float:
        sl = self.slots.get(key)
        return float(sl[self.hour % self.n]) if sl is not None and self.hour is not None else 0.0

    def closed_sum(self, key: str, w: int) -> float:
        """Sum over the ``w - 1`` closed hours before the open one."""
        cl = self.closed.get(key)
        if cl is None:
            return 0.0
        return cl[self.wi[w]]

    def window(self, key: str, w: int) -> float:
        """Open hour + the ``w - 1`` hours before it."""
        return self.closed_sum(key, w) + self.current(key)

    def keys(self) -> list[str]:
        return list(self.slots)


_ZEROS: dict[tuple[str, int], array] = {}


def _zeros(typecode: str, k: int) -> array:
    """An array of ``k`` zeros (shared: only ever read)."""
    z = _ZEROS.get((typecode, k))
    if z is None:
        z = _ZEROS[(typecode, k)] = array(typecode, bytes(array(typecode).itemsize * k))
    return z


class CountRing(_Slotted):
    """Integer counts per key in hourly slots with trailing-window sums, like :class:`HourRing`
    with typecode ``"H"`` (same methods, same values), but advanced lazily.

    :meth:`advance` only moves the open hour (and forgets keys that have been zero for the
    ring's whole length, as :class:`HourRing` does); each key remembers the open hour its slots
    and closed-window sums were brought to (``at``) and catches up when it is next read or
    counted: one step per hour for a short gap, else its stale slots are cleared and the sums
    recounted. Counts are integers, so every order of additions gives the same sums: a street
    whose themes were quiet for hours costs nothing per hour, and its results are those of the
    eager ring bit for bit (also across a pickle taken in the middle of the gap).

    >>> r = CountRing(windows=(6, 24, 72))
    >>> r.advance(1000); r.add_keys(("C住房",)); r.add("C住房", 2)
    >>> r.advance(1005); r.add("C住房")
    >>> r.window("C住房", 6), r.window("C住房", 24), r.current("C住房")
    (4.0, 4.0, 1.0)
    >>> r.advance(1006); r.window("C住房", 6)   # hour 1000 left the 6-hour window
    1.0
    >>> r.advance(1071); r.leaving(1072)   # (hour, non-zero values) leaving the 72-hour window
    [(1000, {'C住房': 3.0})]
    """

    __slots__ = ("n", "windows", "wi", "hour", "slots", "closed", "at", "last", "typecode", "top")

    #: gaps up to this many hours catch up step by step; longer ones recount the window sums
    STEP_MAX = 4

    def __init__(self, windows: Iterable[int] = (6, 24, 72), typecode: str = "H") -> None:
        if typecode in ("f", "d"):
            raise ValueError("CountRing holds integer counts (use HourRing for floats)")
        self.windows = tuple(sorted(set(int(w) for w in windows if int(w) > 1)))
        self.wi = {w: i for i, w in enumerate(self.windows)}
        self.n = max(self.windows) if self.windows else 1
        self.hour: int | None = None
        self.slots: dict[str, array] = {}
        self.closed: dict[str, list[float]] = {}  # key → [sum over the closed hours of each window]
        self.at: dict[str, int] = {}  # key → the open hour its slots and sums are up to date for
        self.last: dict[str, int] = {}  # key → last hour with a non-zero value
        self.typecode = typecode
        self.top = (1 << (8 * array(typecode).itemsize)) - 1  # slots saturate here

    def advance(self, hour: int) -> None:
        """Make ``hour`` the open hour (never moves back); O(keys) only to forget dead keys."""
        if self.hour is None:
            self.hour = hour
            return
        if hour <= self.hour:
            return
        n = self.n
        if hour - self.hour >= n:
            self.slots.clear()
            self.closed.clear()
            self.at.clear()
            self.last.clear()
        else:
            dead = [k for k, h in self.last.items() if hour - h >= n]
            for k in dead:
                del self.slots[k], self.closed[k], self.at[k], self.last[k]
        self.hour = hour

    def _sync(self, key: str) -> array:
        """Bring ``key`` to the open hour: the slots of the hours since are cleared and the
        closed-window sums moved on (returns its slots)."""
        sl = self.slots[key]
        at = self.at[key]
        hour = self.hour
        assert hour is not None
        if at == hour:
            return sl
        n = self.n
        cl = self.closed[key]
        gap = hour - at
        if gap <= self.STEP_MAX:
            wins = self.windows
            if len(wins) == 3:  # the usual 6/24/72 h: unrolled (same operations, same order)
                w0, w1, w2 = wins
                for h in range(at, hour):  # the eager ring's steps
                    v = sl[h % n]
                    cl[0] += v - sl[(h - w0 + 1) % n]
                    cl[1] += v - sl[(h - w1 + 1) % n]
                    cl[2] += v - sl[(h - w2 + 1) % n]
                    sl[(h + 1) % n] = 0
            else:
                for h in range(at, hour):  # the eager ring's steps
                    v = sl[h % n]
                    for i, w in enumerate(wins):
                        cl[i] += v - sl[(h - w + 1) % n]
                    sl[(h + 1) % n] = 0
        elif gap >= n:  # every slot is stale
            sl[:] = _zeros(self.typecode, n)
            for i in range(len(cl)):
                cl[i] = 0.0
        else:
            # the slots of hours at+1 … hour still hold counts of n hours before: clear them
            a, b = (at + 1) % n, hour % n + 1
            if a < b:
                sl[a:b] = _zeros(self.typecode, b - a)
            else:
                sl[a:] = _zeros(self.typecode, n - a)
                sl[:b] = _zeros(self.typecode, b)
            # window w closed = hours hour-w+1 … hour-1, of which only those up to ``at`` counted
            for i, w in enumerate(self.windows):
                k = w - gap
                if k <= 0:
                    cl[i] = 0.0
                    continue
                lo = (hour - w + 1) % n
                hi = lo + k
                cl[i] = float(sum(sl[lo:hi]) if hi <= n else sum(sl[lo:]) + sum(sl[:hi - n]))
        self.at[key] = hour
        return sl

    def _new(self, key: str) -> array:
        sl = self.slots[key] = array(self.typecode, bytes(array(self.typecode).itemsize * self.n))
        self.closed[key] = [0.0] * len(self.windows)
        self.at[key] = self.hour  # type: ignore[assignment]
        return sl

    def add(self, key: str, v: float = 1) -> None:
        """Add ``v`` (an integer) to the open hour of ``key`` (saturating)."""
        sl = self._sync(key) if key in self.slots else self._new(key)
        i = self.hour % self.n  # type: ignore[operator]
        x = sl[i] + int(v)
        top = self.top
        sl[i] = x if x <= top else top
        self.last[key] = self.hour  # type: ignore[assignment]

    def add_keys(self, keys: Iterable[str]) -> None:
        """Add 1 to the open hour of each key (the per-event fast path)."""
        hour = self.hour
        i = hour % self.n  # type: ignore[operator]
        slots, at, last = self.slots, self.at, self.last
        top = self.top
        for key in keys:
            sl = slots.get(key)
            if sl is None:
                sl = self._new(key)
            elif at[key] != hour:
                sl = self._sync(key)
            x = sl[i] + 1
            sl[i] = x if x <= top else top
            last[key] = hour  # type: ignore[assignment]

    def set(self, key: str, v: float) -> None:
        """Set the open hour's value of ``key``."""
        assert self.hour is not None
        if key in self.slots:
            sl = self._sync(key)
        elif v == 0:
            return
        else:
            sl = self._new(key)
        sl[self.hour % self.n] = min(int(v), self.top)
        if v:
            self.last[key] = self.hour

    def current(self, key: str) -> float:
        if key not in self.slots or self.at[key] != self.hour:
            return 0.0  # not counted in the open hour
        return float(self.slots[key][self.hour % self.n])  # type: ignore[operator]

    def closed_sum(self, key: str, w: int) -> float:
        """Sum over the ``w - 1`` closed hours before the open one."""
        if key not in self.slots:
            return 0.0
        self._sync(key)
        return self.closed[key][self.wi[w]]

    def window(self, key: str, w: int) -> float:
        """Open hour + the ``w - 1`` hours before it."""
        return self.closed_sum(key, w) + self.current(key)

    def now(self, key: str) -> tuple[float, list[float] | None]:
        """(open hour's count, [closed-window sums]) of ``key`` (None: never counted)."""
        sl = self.slots.get(key)
        if sl is None:
            return 0.0, None
        if self.at[key] != self.hour:
            sl = self._sync(key)
        return float(sl[self.hour % self.n]), self.closed[key]  # type: ignore[operator]

    def leaving(self, hour: int) -> list[tuple[int, dict[str, float]]]:
        """The hours that advancing to ``hour`` drops out of the longest window, with their
        non-zero values (oldest first); as :meth:`HourRing.leaving`."""
        if self.hour is None or hour <= self.hour:
            return []
        n = self.n
        at = self.at
        out = []
        for j in range(self.hour - n + 1, min(hour - n + 1, self.hour + 1)):
            m = j % n
            vals = {k: float(sl[m]) for k, sl in self.slots.items() if at[k] >= j and sl[m]}
            out.append((j, vals))
        return out

    def keys(self) -> list[str]:
        return list(self.slots)


class Recent(_Slotted):
    """Exact per-key counts over the trailing 60 minutes ``(t - 3600, t]``, plus the count and
    sum of an optional value per event (the sentiment of texts).

    At most ``cap`` events are kept; beyond that the oldest are forgotten early (a street with
    that many events in an hour is alerting anyway), which keeps the state bounded.

    >>> r = Recent()
    >>> r.add(0.0, ("H", "C供暖"), 0.5); r.add(1800.0, ("H", "C供暖"), None); r.add(3700.0, ("H", "C住房"), 0.9)
    >>> r.counts["H"], r.counts["C供暖"], r.counts.get("C住房"), r.vn, round(r.vsum, 2)
    (2, 1, 1, 1, 0.9)
    """

    __slots__ = ("events", "counts", "cap", "span", "vn", "vsum")

    def __init__(self, cap: int = 1500, span: float = HOUR) -> None:
        self.events: deque[tuple[float, tuple[str, ...], float | None]] = deque()
        self.counts: dict[str, int] = {}
        self.cap = cap
        self.span = span
        self.vn = 0
        self.vsum = 0.0

    def expire(self, t: float) -> None:
        ev = self.events
        c = self.counts
        lo = t - self.span
        while ev and (ev[0][0] <= lo or len(ev) > self.cap):
            _, keys, v = ev.popleft()
            for k in keys:
                n = c[k] - 1
                if n:
                    c[k] = n
                else:
                    del c[k]
            if v is not None:
                self.vn -= 1
                self.vsum -= v
        if self.vn == 0:
            self.vsum = 0.0

    def add(self, t: float, keys: tuple[str, ...], v: float | None = None) -> None:
        ev = self.events
        ev.append((t, keys, v))
        c = self.counts
        for k in keys:
            c[k] = c.get(k, 0) + 1
        if v is not None:
            self.vn += 1
            self.vsum += v
        # expire only when something is due (with nothing to drop, :meth:`expire` changes nothing:
        # ``vsum`` is already 0.0 whenever ``vn`` is 0)
        if ev[0][0] <= t - self.span or len(ev) > self.cap:
            self.expire(t)


class MinuteBins(_Slotted):
    """Per-key counts over roughly the last hour, in ``width``-second bins (partition-wide).

    ``start()`` is the start of the oldest bin still counted, so callers can compute the
    expectation over exactly the span that is counted.
    """

    __slots__ = ("width", "nbins", "bins", "counts")

    def __init__(self, width: int = 300, span: float = HOUR) -> None:
        self.width = width
        self.nbins = int(span // width)
        self.bins: deque[tuple[int, dict[str, int]]] = deque()
        self.counts: dict[str, float] = {}

    def _roll(self, b: int) -> None:
        bins = self.bins
        c = self.counts
        while bins and bins[0][0] <= b - self.nbins:
            _, d = bins.popleft()
            for k, n in d.items():
                m = c[k] - n
                if abs(m) > 1e-9:
                    c[k] = m
                else:
                    del c[k]

    def _bin(self, t: float) -> dict[str, float]:
        """The counts of the bin of ``t`` (older bins rolled out, the bin opened when new)."""
        bi = int(t // self.width)
        bins = self.bins
        if bins and bins[0][0] <= bi - self.nbins:  # (:meth:`_roll` does nothing otherwise)
            self._roll(bi)
        if not bins or bins[-1][0] != bi:
            bins.append((bi, {}))
        return bins[-1][1]

    def add(self, t: float, keys: Iterable[str], v: float = 1) -> None:
        d = self._bin(t)
        c = self.counts
        for a in keys:
            d[a] = d.get(a, 0) + v
            c[a] = c.get(a, 0) + v

    def add_pairs(self, t: float, pairs: Iterable[tuple[str, float]]) -> None:
        """:meth:`add` of each ``(key, value)`` at ``t``, in order (one roll of the bins)."""
        d = self._bin(t)
        c = self.counts
        for a, v in pairs:
            d[a] = d.get(a, 0) + v
            c[a] = c.get(a, 0) + v

    def start(self, t: float) -> float:
        bi = int(t // self.width)
        self._roll(bi)
        return float((bi - self.nbins + 1) * self.width)
