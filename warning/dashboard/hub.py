"""Fan-out of live events to the pages' server-sent-event streams.

Each client has a bounded queue; a client that does not keep up (its queue is full) is dropped —
its page reconnects (EventSource does so by itself) and refetches, so a slow wall screen never
holds the others or the Kafka consumer back. ``overview`` notices (no data, "refetch") are
coalesced to at most one every ``overview_every_s``.

>>> async def demo():
...     hub = Hub(queue_size=2, overview_every_s=0.01)
...     a, b = hub.subscribe(), hub.subscribe()
...     hub.publish("alert", {"n": 0})
...     first = b.queue.get_nowait()
...     for i in range(1, 3):
...         hub.publish("alert", {"n": i})
...     return first, a.queue.get_nowait(), a.dropped, b.dropped, len(hub)
>>> asyncio.run(demo())
(b'event: alert\\ndata: {"n":0}\\n\\n', None, True, False, 1)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(eq=False)
class Subscriber:
    """A client's queue of encoded frames; ``None`` in it means "you were dropped: end the stream"."""

    queue: asyncio.Queue[bytes | None]
    dropped: bool = False

    def drop(self) -> None:
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


def sse_frame(event: str, data: Any = None) -> bytes:
    """One SSE frame (``data`` JSON-encoded on one line; none for a bare notice)."""
    out = b"event: " + event.encode() + b"\n"
    out += b"data: " + (orjson.dumps(data) if data is not None else b"{}") + b"\n\n"
    return out


class Hub:
    def __init__(self, queue_size: int = 256, max_clients: int = 500, overview_every_s: float = 2.0) -> None:
        self.queue_size, self.max_clients, self.overview_every_s = queue_size, max_clients, overview_every_s
        self._subs: set[Subscriber] = set()
        self._last_overview = 0.0
        self._overview_pending: asyncio.TimerHandle | None = None
        self.dropped_total = 0

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscriber:
        """A new client's queue; raises OverflowError when ``max_clients`` are connected."""
        if len(self._subs) >= self.max_clients:
            raise OverflowError("too many stream clients")
        s = Subscriber(asyncio.Queue(self.queue_size))
        self._subs.add(s)
        return s

    def unsubscribe(self, s: Subscriber) -> None:
        self._subs.discard(s)

    def _send(self, frame: bytes) -> None:
        for s in list(self._subs):
            try:
                s.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._subs.discard(s)
                s.drop()
                self.dropped_total += 1

    def publish(self, event: str, data: Any) -> None:
        """Send ``event`` with ``data`` to every client (encoded once)."""
        if self._subs:
            self._send(sse_frame(event, data))

    def poke_overview(self) -> None:
        """Tell pages to refetch the overview — at most once every ``overview_every_s``."""
        if self._overview_pending is not None:
            return
        now = time.monotonic()
        delay = self._last_overview + self.overview_every_s - now
        if delay <= 0:
            self._fire_overview()
        else:
            self._overview_pending = asyncio.get_running_loop().call_later(delay, self._fire_overview)

    def _fire_overview(self) -> None:
        self._overview_pending = None
        self._last_overview = time.monotonic()
        self.publish("overview", None)

    def close(self) -> None:
        if self._overview_pending is not None:
            self._overview_pending.cancel()
            self._overview_pending = None
        for s in list(self._subs):
            s.drop()
        self._subs.clear()
