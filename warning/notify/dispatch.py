"""Dispatcher: route each alert, deliver it to every receiver independently, retry, report.

Delivery guarantees (with ``warning.alerts`` as the outbox, wired by the stream worker):

* **at least once** — an alert is reported done for a receiver only after a 2xx (robots: errcode 0)
  or a final failure; the caller commits the alert's offset when :class:`Delivery` is complete and
  dead-letters the failures (``outcome.status != "ok"``, with ``outcome.result`` = HTTP status and
  truncated response body). A crash before that means redelivery, never loss; receivers
  deduplicate on ``Idempotency-Key: <alert_id>:<status>``.
* **isolation** — one queue and one task per receiver: a slow, failing or dead receiver only delays
  its own alerts, never other receivers nor :meth:`Dispatcher.submit` (which never blocks).
* **retries** — transient results (network error, timeout, 5xx, 408/425/429, robot busy codes)
  are retried with exponential backoff and full jitter (``delay = uniform(0, min(cap, base·2ⁿ⁻¹))``),
  per alert, until ``max_attempts`` or ``max_age_s`` → outcome ``expired``. While a receiver keeps
  failing, a receiver-wide pause (same formula over the failure streak, at least ``Retry-After``)
  keeps us from hammering it; on recovery the alerts that were waiting become due at once, in
  their original order.
* **rate limits** — receivers with a rate limit (robots: 20/min) go through
  :mod:`.ratelimit`: overflow is folded into one digest message instead of being dropped. A
  budget shared between processes (:mod:`warning.streams.budget`) restores the spends of the
  previous owner (:meth:`Dispatcher.restore_spent`), records each spend before its message is
  sent (the ``on_spend(receiver)`` hook, awaited) and what each accepted message carried (the
  ``on_sent(receiver, alerts)`` hook, awaited before the alerts' outcomes).

A dispatcher may serve only some of the router's receivers (``receivers=``), and
:meth:`Dispatcher.submit` may name the receivers of an alert instead of routing it (the stream
worker routes once and hands robot receivers on to the one process that owns their budget).

Outcome statuses (per alert and receiver): ``ok``, ``permanent`` (the receiver refused: other 4xx,
robot errcode), ``expired`` (gave up retrying), ``overflow`` (the receiver's queue was full —
``max_pending``). Hooks for metrics: ``on_attempt(receiver, result, seconds, n_alerts)`` per HTTP
message (→ ``warning_notification_seconds``), ``on_done(alert, receiver, outcome)`` per alert and
receiver (→ ``warning_notifications_total{receiver,outcome}``); :attr:`Dispatcher.stats` counts both.
Hooks may be plain functions or coroutines; exceptions in them are logged, never propagated.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import logging
import random
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterable, Callable, Iterable, Literal, Mapping, Sequence

from warning.core.events import Alert
from warning.core.signals import level_rank
from warning.notify.base import DeliveryResult, Notifier
from warning.notify.ratelimit import RateLimiter, plan
from warning.notify.redact import redact_text
from warning.notify.router import Router
from warning.notify.wiring import build_notifier

log = logging.getLogger("warning.notify")

OutcomeStatus = Literal["ok", "permanent", "expired", "overflow"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter. ``max_attempts=None`` and ``max_age_s=None`` retry
    forever (the outbox keeps the alert uncommitted meanwhile)."""

    base_s: float = 0.5
    cap_s: float = 60.0
    max_attempts: int | None = None
    max_age_s: float | None = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("need 0 < base_s <= cap_s")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before attempt ``attempt + 1`` (``attempt`` ≥ 1 failures so far)."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(max(attempt, 1) - 1, 62)))
        return rng.uniform(0.0, ceiling)

    def exhausted(self, attempts: int, age_s: float) -> bool:
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return self.max_age_s is not None and age_s >= self.max_age_s


@dataclass(frozen=True)
class Outcome:
    """Final state of one alert at one receiver."""

    receiver: str
    status: OutcomeStatus
    result: DeliveryResult | None  # last HTTP result (None for overflow)
    attempts: int
    seconds: float  # submit → outcome
    digest: bool = False  # delivered folded into a digest message

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """For a dead letter: secret-free."""
        return {
            "receiver": self.receiver,
            "status": self.status,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
            "digest": self.digest,
            "result": self.result.to_dict() if self.result is not None else None,
        }


class Delivery:
    """Handle of one submitted alert: complete when every routed receiver has an outcome.
    ``await delivery`` returns it once complete (raises ``CancelledError`` if the dispatcher was
    closed first — the alert was then not fully delivered: do not commit it)."""

    __slots__ = ("alert", "receivers", "outcomes", "_future", "submitted_at", "_hooks_done")

    def __init__(self, alert: Alert, receivers: tuple[str, ...], future: asyncio.Future, submitted_at: float) -> None:
        self.alert = alert
        self.receivers = receivers
        self.outcomes: dict[str, Outcome] = {}
        self._future = future
        self.submitted_at = submitted_at
        self._hooks_done = 0

    def __await__(self):
        yield from asyncio.shield(self._future).__await__()
        return self

    def done(self) -> bool:
        return self._future.done() and not self._future.cancelled()

    @property
    def ok(self) -> bool:
        """Complete and delivered everywhere."""
        return self.done() and all(o.ok for o in self.outcomes.values())

    def failures(self) -> list[Outcome]:
        """Outcomes to dead-letter (permanent / expired / overflow)."""
        return [o for o in self.outcomes.values() if not o.ok]

    def __repr__(self) -> str:
        return f"Delivery(alert_id={self.alert.alert_id!r}, receivers={self.receivers}, outcomes={ {k: v.status for k, v in self.outcomes.items()} })"


@dataclass
class DispatchStats:
    submitted: int = 0
    unrouted: int = 0  # alerts that matched no route
    attempts: Counter = field(default_factory=Counter)  # (receiver, ok|retry|permanent) per HTTP message
    outcomes: Counter = field(default_factory=Counter)  # (receiver, ok|permanent|expired|overflow) per alert
    digests: Counter = field(default_factory=Counter)  # receiver → digest messages sent
    seconds: Counter = field(default_factory=Counter)  # receiver → total seconds spent in HTTP
    messages: Counter = field(default_factory=Counter)  # receiver → HTTP messages sent

    def snapshot(self) -> dict[str, Any]:
        return {
            "submitted": self.submitted,
            "unrouted": self.unrouted,
            "attempts": {f"{r}:{s}": n for (r, s), n in sorted(self.attempts.items())},
            "outcomes": {f"{r}:{s}": n for (r, s), n in sorted(self.outcomes.items())},
            "digests": dict(self.digests),
            "messages": dict(self.messages),
        }


@dataclass(eq=False)
class _Item:
    alert: Alert
    delivery: Delivery
    seq: int
    first_at: float
    next_at: float
    attempts: int = 0
    last: DeliveryResult | None = None


Hook = Callable[..., Any]


async def _call(hook: Hook | None, *args: Any) -> None:
    if hook is None:
        return
    try:
        r = hook(*args)
        if inspect.isawaitable(r):
            await r
    except Exception:  # noqa: BLE001 - a hook must not kill delivery
        log.exception("notification hook %r failed", getattr(hook, "__name__", hook))


class _Worker:
    """One receiver's queue and delivery loop."""

    def __init__(self, d: "Dispatcher", notifier: Notifier) -> None:
        self.d = d
        self.notifier = notifier
        self.name = notifier.name
        rate = notifier.receiver.rate_limit
        self.limiter = RateLimiter(rate, notifier.receiver.rate_limit_window_s) if rate else None
        self.heap: list[tuple[float, int, _Item]] = []
        # Per alert_id order: a later notification of the same alert (escalation, resolved) waits
        # until the earlier one is done, so a receiver never sees "resolved" before "firing".
        self.live: set[str] = set()
        self.parked: dict[str, deque[_Item]] = {}
        self.wake = asyncio.Event()
        self.streak = 0  # consecutive transient failures
        self.not_before = 0.0
        self.in_flight = 0
        self.task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self.heap) + self.in_flight + sum(len(q) for q in self.parked.values())

    def _redact(self, text: str) -> str:
        rcv = self.notifier.receiver
        return rcv.redact(text) if hasattr(rcv, "redact") else redact_text(text)

    def _traceback(self, e: BaseException) -> str:
        """A formatted traceback without the receiver's secrets (exception texts may quote URLs)."""
        return self._redact("".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip())

    def push(self, item: _Item) -> None:
        key = item.alert.alert_id
        if key in self.live:
            self.parked.setdefault(key, deque()).append(item)
            return
        self.live.add(key)
        heapq.heappush(self.heap, (item.next_at, item.seq, item))
        self.wake.set()

    def _release(self, item: _Item) -> None:
        """``item`` is done: let the next notification of the same alert go."""
        key = item.alert.alert_id
        q = self.parked.get(key)
        if q:
            nxt = q.popleft()
            if not q:
                del self.parked[key]
            nxt.next_at = min(nxt.next_at, self.d.clock())
            heapq.heappush(self.heap, (nxt.next_at, nxt.seq, nxt))
            self.wake.set()
        else:
            self.live.discard(key)

    async def _sleep(self, timeout: float | None) -> None:
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def run(self) -> None:
        while True:
            try:
                await self._loop()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - keep the receiver alive whatever happens
                log.error("receiver %s: delivery loop failed; restarting it in 1s\n%s", self.name, self._traceback(e))
                await asyncio.sleep(1.0)

    async def _loop(self) -> None:
        clock = self.d.clock
        while True:
            if not self.heap:
                await self._sleep(None)
                continue
            now = clock()
            ready_at = max(self.heap[0][0], self.not_before)
            if self.limiter is not None and self.limiter.available(now) <= 0:
                ready_at = max(ready_at, self.limiter.next_free(now))
            if ready_at > now:
                await self._sleep(ready_at - now)
                continue
            if self.limiter is None:
                # Earliest due first (arrival order among never-tried alerts).
                batch = []
                while self.heap and self.heap[0][0] <= now and len(batch) < max(1, self.notifier.max_batch):
                    batch.append(heapq.heappop(self.heap)[2])
                await self._send(batch, False)
                continue
            # Rate-limited: look at everything due to decide between single messages and a digest.
            due: list[_Item] = []
            while self.heap and self.heap[0][0] <= now:
                due.append(heapq.heappop(self.heap)[2])
            due.sort(key=lambda it: it.seq)
            batch, digest = plan(due, self.limiter.available(now), lambda it: level_rank(it.alert.level), self.notifier.max_batch)
            self.limiter.acquire(now)
            chosen = {id(it) for it in batch}
            for it in due:
                if id(it) not in chosen:
                    heapq.heappush(self.heap, (it.next_at, it.seq, it))
            # A shared budget records the spend durably before the message leaves (a crash after
            # this point over-counts, never under-counts, what the receiver saw).
            if self.d.on_spend is not None:
                self.in_flight = len(batch)
                await _call(self.d.on_spend, self.name)
            await self._send(batch, digest)

    async def _send(self, batch: list[_Item], digest: bool) -> None:
        d = self.d
        for it in batch:
            it.attempts += 1
        self.in_flight = len(batch)
        t0 = time.perf_counter()
        try:
            result = await self.notifier.notify([it.alert for it in batch])
        except asyncio.CancelledError:
            # Closing: the alerts were not (known to be) delivered; the caller must not commit.
            self.in_flight = 0
            raise
        except Exception as e:  # noqa: BLE001 - a bug rendering one alert must not stop the receiver
            log.error("receiver %s: notifier failed on alert(s) %s\n%s", self.name, [it.alert.alert_id for it in batch], self._traceback(e))
            # Deterministic for this input: retrying cannot help; report it for the dead letter.
            result = DeliveryResult("permanent", error=f"internal error: {type(e).__name__}: {e}")
        # Whatever a notifier returns goes to logs, hooks and dead letters: without the receiver's
        # secrets (a URL with its key quoted in an error text, an echoing response body).
        result = result.redacted(self._redact)
        seconds = time.perf_counter() - t0
        self.in_flight = 0
        if result.ok and d.on_sent is not None:
            await _call(d.on_sent, self.name, [it.alert for it in batch])
        d.stats.attempts[(self.name, result.status)] += 1
        d.stats.messages[self.name] += 1
        d.stats.seconds[self.name] += seconds
        if digest and result.ok:
            d.stats.digests[self.name] += 1
        await _call(d.on_attempt, self.name, result, seconds, len(batch))
        now = d.clock()
        if result.status == "retry":
            self.streak += 1
            pause = d.retry.delay(self.streak, d.rng)
            if result.retry_after is not None:
                pause = max(pause, min(result.retry_after, 3600.0))
            self.not_before = now + pause
            log.warning("receiver %s: %s (attempt %d of %d alert(s)); pausing %.2fs",
                        self.name, result.describe(), batch[0].attempts, len(batch), pause)
            for it in batch:
                it.last = result
                if d.retry.exhausted(it.attempts, now - it.first_at):
                    await self._finish(it, "expired", result, digest)
                else:
                    it.next_at = now + d.retry.delay(it.attempts, d.rng)
                    heapq.heappush(self.heap, (it.next_at, it.seq, it))
            return
        # The receiver answered: it is up. After an outage, everything waiting is due now.
        if self.streak >= 2 and self.heap:
            self.heap = [(min(at, now), seq, it) for at, seq, it in self.heap]
            heapq.heapify(self.heap)
        self.streak = 0
        self.not_before = 0.0
        status: OutcomeStatus = "ok" if result.ok else "permanent"
        if status == "permanent":
            log.error("receiver %s refused alert(s) %s: %s", self.name, [it.alert.alert_id for it in batch], result.describe())
        for it in batch:
            it.last = result
            await self._finish(it, status, result, digest)

    async def _finish(self, it: _Item, status: OutcomeStatus, result: DeliveryResult | None, digest: bool) -> None:
        d = self.d
        outcome = Outcome(self.name, status, result, it.attempts, d.clock() - it.first_at, digest and status == "ok")
        d.stats.outcomes[(self.name, status)] += 1
        if status != "overflow":
            self._release(it)
        dl = it.delivery
        dl.outcomes[self.name] = outcome
        await _call(d.on_done, it.alert, self.name, outcome)
        # Complete only after every receiver's on_done hook has returned (a dead letter written
        # by one hook must be durable before on_complete commits the offset). The counter moves
        # after the await, so exactly one worker sees it reach the total.
        dl._hooks_done += 1
        if dl._hooks_done == len(dl.receivers):
            await d._complete(dl)


class Dispatcher:
    """Deliver alerts to their routed receivers.

    Usage (async, not run as a doctest)::

        async with Dispatcher(Router.from_config(receivers, routes), on_done=commit_or_deadletter) as d:
            delivery = d.submit(alert)        # never blocks
            await delivery                    # complete: every receiver ok / failed for good

    """

    def __init__(
        self,
        router: Router,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
        retry: RetryPolicy | None = None,
        on_done: Callable[[Alert, str, Outcome], Any] | None = None,
        on_attempt: Callable[[str, DeliveryResult, float, int], Any] | None = None,
        on_complete: Callable[[Delivery], Any] | None = None,
        on_spend: Callable[[str], Any] | None = None,
        on_sent: Callable[[str, list[Alert]], Any] | None = None,
        receivers: Iterable[str] | None = None,
        max_pending: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.router = router
        self.retry = retry or RetryPolicy()
        self.on_done = on_done
        self.on_attempt = on_attempt
        self.on_complete = on_complete
        self.on_spend = on_spend
        self.on_sent = on_sent
        self.max_pending = max_pending
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = DispatchStats()
        given = dict(notifiers or {})
        served = list(router.receivers) if receivers is None else list(dict.fromkeys(receivers))
        unknown = [n for n in served if n not in router.receivers]
        if unknown:
            raise ValueError(f"unknown receiver(s) {', '.join(map(repr, unknown))}")
        self.notifiers: dict[str, Notifier] = {
            name: given.get(name) or build_notifier(router.receivers[name]) for name in served
        }
        self._workers: dict[str, _Worker] = {}
        self._open: set[Delivery] = set()
        self._side_tasks: set[asyncio.Task] = set()
        self._idle = asyncio.Event()
        self._seq = 0
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "Dispatcher":
        if self._started:
            return self
        self._started = True
        self._idle.set()
        for name, n in self.notifiers.items():
            w = _Worker(self, n)
            w.task = asyncio.create_task(w.run(), name=f"notify:{name}")
            self._workers[name] = w
        return self

    async def close(self) -> None:
        """Stop delivering. Alerts not yet complete stay uncommitted (their ``Delivery`` is
        cancelled) and will be redelivered from the outbox after a restart."""
        if self._closed:
            return
        self._closed = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for dl in list(self._open):
            dl._future.cancel()
        self._open.clear()
        self._idle.set()
        await asyncio.gather(*(n.close() for n in self.notifiers.values()), return_exceptions=True)

    async def __aenter__(self) -> "Dispatcher":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ------------------------------------------------------------------ input
    def submit(self, alert: Alert, receivers: Sequence[str] | None = None) -> Delivery:
        """Route ``alert`` (or take the given ``receivers``, which this dispatcher must serve) and
        queue it for each receiver. Never blocks, never raises on delivery problems. Returns the
        :class:`Delivery` handle (already complete if nothing routed). Routed receivers this
        dispatcher does not serve (``receivers=`` of the constructor) are left out."""
        if not self._started or self._closed:
            raise RuntimeError("dispatcher not running (use `async with Dispatcher(...)` or await start())")
        if not isinstance(alert, Alert):
            raise TypeError(f"alert must be a warning.core.events.Alert, got {type(alert).__name__}")
        now = self.clock()
        if receivers is None:
            names = [n for n in self.router.route(alert) if n in self.notifiers]
        else:
            names = list(dict.fromkeys(receivers))
            unknown = [n for n in names if n not in self.notifiers]
            if unknown:
                raise ValueError(f"receiver(s) not served by this dispatcher: {', '.join(map(repr, unknown))}")
        targets = tuple(n for n in names if self.notifiers[n].wants(alert))
        dl = Delivery(alert, targets, asyncio.get_running_loop().create_future(), now)
        self.stats.submitted += 1
        if not names:
            self.stats.unrouted += 1
            log.info("alert %s matched no route", alert.alert_id)
        if not targets:
            dl._future.set_result(None)
            return dl
        self._open.add(dl)
        self._idle.clear()
        for name in targets:
            w = self._workers[name]
            self._seq += 1
            item = _Item(alert, dl, self._seq, now, now)
            if len(w) >= self.max_pending:
                # Bounded memory: report instead of growing forever (the caller dead-letters it).
                t = asyncio.get_running_loop().create_task(w._finish(item, "overflow", None, False))
                self._side_tasks.add(t)
                t.add_done_callback(self._side_tasks.discard)
                continue
            w.push(item)
        return dl

    async def run(self, source: AsyncIterable[Alert]) -> None:
        """Submit every alert of an async iterator (returns when the source ends; use
        :meth:`drain` to wait for delivery)."""
        async for alert in source:
            self.submit(alert)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted alert is complete. False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _complete(self, dl: Delivery) -> None:
        await _call(self.on_complete, dl)
        if not dl._future.done():
            dl._future.set_result(None)
        self._open.discard(dl)
        if not self._open:
            self._idle.set()

    def restore_spent(self, receiver: str, times: Iterable[float]) -> int:
        """Count messages sent to ``receiver`` elsewhere at ``times`` (this dispatcher's clock)
        against its rate limit (see :meth:`RateLimiter.restore`). Call after :meth:`start`.
        Returns how many still count (0 for a receiver without a limit)."""
        w = self._workers.get(receiver)
        if w is None:
            raise ValueError(f"receiver {receiver!r} not served (or dispatcher not started)")
        if w.limiter is None:
            return 0
        n = w.limiter.restore(times, self.clock())
        w.wake.set()
        return n

    # ------------------------------------------------------------------ introspection
    def pending(self, receiver: str | None = None) -> int:
        """Alerts waiting (or in flight) for ``receiver``, or for all receivers."""
        if receiver is not None:
            return len(self._workers[receiver]) if receiver in self._workers else 0
        return sum(len(w) for w in self._workers.values())

    @property
    def open_deliveries(self) -> int:
        return len(self._open)


async def deliver_all(router: Router, alerts: AsyncIterable[Alert] | list[Alert], **kw: Any) -> list[Delivery]:
    """Convenience (demo, tests): deliver ``alerts`` and wait for every outcome."""
    async with Dispatcher(router, **kw) as d:
        out: list[Delivery] = []
        if isinstance(alerts, list):
            out = [d.submit(a) for a in alerts]
        else:
            async for a in alerts:
                out.append(d.submit(a))
        await d.drain()
        return out
