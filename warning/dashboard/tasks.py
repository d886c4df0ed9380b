"""Background tasks of the dashboard app (the Kafka feed, the worker scraper)."""

from __future__ import annotations

import asyncio


async def stop_task(task: asyncio.Task | None) -> None:
    """Cancel ``task`` and wait for it to end; whatever it raised on the way out is dropped
    (shutdown must go on).

    >>> async def demo():
    ...     t = asyncio.create_task(asyncio.sleep(10))
    ...     await stop_task(t)
    ...     await stop_task(None)
    ...     return t.cancelled()
    >>> asyncio.run(demo())
    True
    """
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
