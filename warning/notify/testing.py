"""Test helpers: a real HTTP server on loopback that records requests (no HTTP mocking).

Usage (async, not run as a doctest)::

    srv = RecordingServer(); url = await srv.start()
    srv.respond = lambda req: web.json_response({"errcode": 0}, status=200)
    await srv.stop(); await srv.start()   # same port again: "receiver down, then back"

"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import orjson
from aiohttp import web


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


Responder = Callable[[Recorded], "web.StreamResponse | Awaitable[web.StreamResponse]"]


def ok_response(_req: Recorded) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok"})


class RecordingServer:
    """aiohttp server on 127.0.0.1 recording every request; ``respond`` decides the answer."""

    def __init__(self, respond: Responder | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.respond: Responder = respond or ok_response
        self.host = host
        self.port = port
        self.requests: list[Recorded] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = Recorded(
            path=request.path,
            query={k: v[0] for k, v in parse_qs(request.query_string, keep_blank_values=True).items()},
            raw_query=request.query_string,
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.requests.append(rec)
        r = self.respond(rec)
        if inspect.isawaitable(r):
            r = await r
        return r

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "RecordingServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


async def wait_for(pred: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``pred`` until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()
