"""The worker's record delivery past Faust's task per record (warning.streams.faust_compat._Rest):
a callback run by hand up to its first wait goes on from there, with its result, its errors and its
cancellation, as if it had been awaited from the start. (Every broker test runs the delivery loop
itself; these check the resumption, which a test worker rarely reaches: the callback seldom waits.)"""

from __future__ import annotations

import asyncio

import pytest

from warning.streams.faust_compat import _finish


def started(coro):  # noqa: ANN001, ANN201
    """Run ``coro`` by hand to its first suspension, as the delivery loop does."""
    try:
        first = coro.send(None)
    except StopIteration:
        pytest.fail("the callback did not wait")
    return first


def test_a_callback_that_waits_goes_on_with_what_it_waited_for() -> None:
    async def main() -> list[str]:
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        got: list[str] = []

        async def callback() -> str:
            got.append(await gate)
            await asyncio.sleep(0)
            got.append("after")
            return "delivered"

        coro = callback()
        task = asyncio.ensure_future(_finish(coro, started(coro)))
        await asyncio.sleep(0)
        assert not task.done() and got == []
        gate.set_result("value")
        assert await task == "delivered"
        return got

    assert asyncio.run(main()) == ["value", "after"]


def test_an_error_of_what_it_waited_for_reaches_the_callback() -> None:
    async def main() -> str:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def callback() -> str:
            try:
                await gate
            except KeyError:
                return "handled"
            return "not raised"

        coro = callback()
        task = asyncio.ensure_future(_finish(coro, started(coro)))
        await asyncio.sleep(0)
        gate.set_exception(KeyError("x"))
        return await task

    assert asyncio.run(main()) == "handled"


def test_cancelling_the_delivery_cancels_the_callback_where_it_waits() -> None:
    async def main() -> list[str]:
        seen: list[str] = []

        async def callback() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
            finally:
                seen.append("cleaned up")

        coro = callback()
        task = asyncio.ensure_future(_finish(coro, started(coro)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(main()) == ["cancelled", "cleaned up"]


def test_a_delivery_closed_before_it_ran_closes_the_callback() -> None:
    closed: list[bool] = []

    async def callback() -> None:
        try:
            await asyncio.sleep(0)
        finally:
            closed.append(True)

    coro = callback()
    rest = _finish(coro, started(coro))
    rest.send(None)  # (the task's first step: the rest yields what the callback yielded)
    rest.close()
    assert closed == [True]
