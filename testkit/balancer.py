"""A round-robin load balancer and a Telegram-like webhook deliverer, for several bot processes.

`RoundRobinProxy` stands for nginx or Caddy in front of N webhook processes: each POST goes to
the next upstream in turn; an upstream that refuses the connection is skipped for that request
(nginx's `proxy_next_upstream error`), and `drop`/`add` take one out of rotation or put one in
(a rolling restart). `WebhookDelivery` stands for Telegram: it takes the fake world's updates in
order and POSTs each to one URL with the secret header, again after a failure, until some process
answers 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from types import TracebackType

import aiohttp
from aiohttp import web

from testkit.telegram import FakeTelegram

# A guard for a proxied call that never ends, not a performance requirement.
_UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=30)
# Telegram retries a failed delivery after a while; the tests do not wait that long.
_RETRY_PAUSE = 0.05
_FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class RoundRobinProxy:
    """POSTs to 127.0.0.1:<port>/<path> go to each upstream in turn (base URLs, no path)."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = list(upstreams)
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._port = 0
        # Which upstream answered each update (update_id, upstream), in order; refused tries.
        self.routed: list[tuple[int, str]] = []
        self.refused: Counter[str] = Counter()

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self._port}"

    def drop(self, upstream: str) -> None:
        """Take an upstream out of rotation (before stopping it)."""
        self.upstreams.remove(upstream)

    def add(self, upstream: str) -> None:
        """Put an upstream (back) into rotation."""
        self.upstreams.append(upstream)

    def served_by(self, upstream: str) -> int:
        """How many updates this upstream answered."""
        return sum(1 for _, answered in self.routed if answered == upstream)

    async def __aenter__(self) -> RoundRobinProxy:
        self._client = aiohttp.ClientSession(timeout=_UPSTREAM_TIMEOUT)
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        body = await request.read()
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        for _ in range(len(self.upstreams)):
            upstream = self.upstreams[self._next % len(self.upstreams)]
            self._next += 1
            try:
                async with self._client.post(
                    f"{upstream}/{request.match_info['path']}", data=body, headers=headers
                ) as answer:
                    text = await answer.read()
                    if answer.status == 200:
                        self.routed.append((int(json.loads(body).get("update_id", 0)), upstream))
                    return web.Response(status=answer.status, body=text)
            except aiohttp.ClientConnectionError:
                self.refused[upstream] += 1  # down: the next one, as nginx does
        return web.Response(status=502, text="no upstream answered")


class WebhookDelivery:
    """Telegram's side: every update of the world POSTed to `url`, in order, until answered 200."""

    def __init__(self, world: FakeTelegram, url: str, secret: str) -> None:
        self.world = world
        self.url = url
        self.headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": secret,
        }
        self.delivered = 0
        self.retries = 0
        self._task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookDelivery:
        self._client = aiohttp.ClientSession(timeout=_UPSTREAM_TIMEOUT)
        self._task = asyncio.create_task(self._deliver())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.close()

    async def _deliver(self) -> None:
        while True:
            await self.world.wait_for(lambda: bool(self.world.pending_updates), 3600.0)
            for update in self.world.pop_updates():
                while not await self._post(update):
                    self.retries += 1
                    await asyncio.sleep(_RETRY_PAUSE)
                self.delivered += 1

    async def _post(self, update: dict[str, object]) -> bool:
        assert self._client is not None
        try:
            async with self._client.post(
                self.url, data=json.dumps(update), headers=self.headers
            ) as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False
