"""Keep a consumer session alive for the life of the worker: run it again after an error, backing
off 1 s, 2 s, 4 s … up to 30 s (the silence reader and the delivery budget's owner use it).

>>> import asyncio, logging
>>> calls = []
>>> async def session():
...     calls.append(1)
...     if len(calls) == 1:
...         raise OSError("broker gone")
...     raise asyncio.CancelledError
>>> async def main():
...     try:
...         await run_forever(session, "demo", logging.getLogger("demo"), first_delay_s=0.0)
...     except asyncio.CancelledError:
...         return len(calls)
>>> asyncio.run(main())
2
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

MAX_DELAY_S = 30.0


async def run_forever(session: Callable[[], Awaitable[None]], what: str, log: logging.Logger,
                      first_delay_s: float = 1.0) -> None:
    """Await ``session()`` again and again; an exception is logged (``what`` names the consumer) and
    followed by a growing pause; cancellation ends it."""
    delay = first_delay_s
    while True:
        try:
            await session()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - keep the consumer alive whatever happens
            log.error("%s failed (%s: %s); retrying in %.0f s", what, type(e).__name__, e, delay)
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 1.0), MAX_DELAY_S)
