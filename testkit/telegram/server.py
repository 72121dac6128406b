"""HTTP transport: an aiohttp server on 127.0.0.1 speaking the Bot API for a FakeTelegram."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any

from aiohttp import web

from testkit.telegram.models import UploadedFile
from testkit.telegram.parsing import error_body
from testkit.telegram.world import FakeTelegram

# Telegram accepts uploads up to 50 MB; aiohttp's default body limit is 1 MB.
_MAX_BODY = 50 * 1024 * 1024


class FakeBotApiServer:
    """Serves /bot{token}/{method} and /file/bot{token}/{path} from a FakeTelegram."""

    def __init__(self, world: FakeTelegram, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._inflight: set[asyncio.Task[tuple[int, dict[str, Any]]]] = set()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if not self._port:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for ApplicationBuilder().base_url(): PTB appends "{token}/{method}"."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ApplicationBuilder().base_file_url()."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._runner is not None

    async def start(self) -> None:
        """Listen on the configured port (an ephemeral one the first time by default)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        # Short shutdown timeout: in-flight requests are cancelled by stop() anyway.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening; pending long polls and hanging calls are cut off."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for task in list(self._inflight):
            task.cancel()
        await runner.cleanup()

    async def restart(self, *, attempts: int = 20) -> None:
        """Stop and start again, on the same port if possible, keeping the world's state.

        Should the old port stay busy, a fresh one is used: `base_url` then changes and a bot
        configured with the old one can no longer connect, which a test will notice.
        """
        port = self._port
        await self.stop()
        for _ in range(attempts):
            try:
                await self.start()
                return
            except OSError:
                # The port may stay busy for a moment after closing.
                await asyncio.sleep(0.05)
        self._port = 0
        try:
            await self.start()
        except BaseException:
            self._port = port
            raise

    async def __aenter__(self) -> FakeBotApiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not self.world.check_token(token):
            return web.json_response(error_body(401, "Unauthorized"), status=401)
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return web.json_response(error_body(400, f"Bad Request: {exc}"), status=400)
        call = asyncio.ensure_future(self.world.call(request.match_info["method"], params))
        self._inflight.add(call)
        try:
            status, body = await call
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # stop() cut the call off: answer like a proxy whose backend went away.
            return web.json_response(error_body(502), status=502)
        finally:
            self._inflight.discard(call)
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self.world.file_by_path(request.match_info["path"])
        if not self.world.check_token(request.match_info["token"]) or stored is None:
            return web.json_response(error_body(404, "Not Found"), status=404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from the query string and a form, multipart or JSON body."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise ValueError("can't parse JSON request body") from None
        if not isinstance(data, dict):
            raise ValueError("JSON request body must be an object")
        params.update(data)
        return params
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            with contextlib.closing(value.file):
                content = value.file.read()
            params[name] = UploadedFile(
                filename=value.filename, content=content, mime_type=value.content_type
            )
        else:
            params[name] = value
    return params
