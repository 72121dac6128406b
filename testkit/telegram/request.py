"""In-process transport: PTB requests go straight to `FakeTelegram.call`, without HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import unquote

from telegram import Update
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from testkit.telegram.models import UploadedFile
from testkit.telegram.parsing import error_body
from testkit.telegram.world import FakeTelegram

_API_URL = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/?]+)$")
_FILE_URL = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


def decode_request_data(request_data: RequestData | None) -> dict[str, Any]:
    """Parameters as Telegram receives them from PTB: strings, plus uploaded file parts."""
    if request_data is None:
        return {}
    # json_parameters is exactly what PTB puts in the form: plain strings stay as they are,
    # everything else (ints, bools, reply_markup, entities...) is JSON-encoded.
    params: dict[str, Any] = dict(request_data.json_parameters)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        params[name] = UploadedFile(filename=filename, content=data, mime_type=mime_type)
    return params


class InProcessRequest(BaseRequest):
    """PTB request backend handing each call to a FakeTelegram; honours the read timeout."""

    def __init__(self, world: FakeTelegram, *, read_timeout: float | None = 5.0) -> None:
        self.world = world
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout, used by PTB to size getUpdates long polls."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Run the call on the fake and return (status, JSON bytes) like an HTTP backend."""
        timeout = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        file_match = _FILE_URL.search(url)
        if file_match:
            # PTB percent-encodes the file URL path, token included.
            return self._download(unquote(file_match["token"]), unquote(file_match["path"]))
        api_match = _API_URL.search(url)
        if api_match is None:
            return 404, json.dumps(error_body(404, "Not Found")).encode()
        if not self.world.check_token(unquote(api_match["token"])):
            return 401, json.dumps(error_body(401, "Unauthorized")).encode()
        params = decode_request_data(request_data)
        try:
            async with asyncio.timeout(timeout):
                status, body = await self.world.call(api_match["method"], params)
        except TimeoutError:
            # Same exception PTB's httpx backend raises when the server does not answer in time.
            raise TimedOut from None
        return status, json.dumps(body).encode()

    def _download(self, token: str, path: str) -> tuple[int, bytes]:
        stored = self.world.file_by_path(path)
        if not self.world.check_token(token) or stored is None:
            return 404, json.dumps(error_body(404, "Not Found")).encode()
        return 200, stored.content


async def process_pending_updates(
    application: Application[Any, Any, Any, Any, Any, Any],
    world: FakeTelegram,
    *,
    concurrently: bool = False,
) -> list[Update]:
    """Take the queued updates and run them through the application's handlers."""
    updates = [Update.de_json(data, application.bot) for data in world.pop_updates()]
    if concurrently:
        await asyncio.gather(*(application.process_update(u) for u in updates))
    else:
        for update in updates:
            await application.process_update(update)
    return updates
