"""PTB's webhook server, made to answer 400 (not 500) to a body that is not JSON.

PTB's `TelegramHandler` checks the content type and the secret header (403), then parses the body
with `json.loads` outside any `try`: a malformed body raises and tornado answers 500, a server
error that invites retries. PTB offers no hook for this, and its `WebhookAppClass` looks the
handler class up by name when the server starts, so `use_strict_webhook_handler()` swaps that
name for a subclass that parses first. tests/e2e/test_webhook.py pins the behaviour (an upgrade
of PTB that moves the name fails there, not in production).
"""

from __future__ import annotations

import json
from http import HTTPStatus

import tornado.web
from telegram.ext._utils import webhookhandler


class StrictTelegramHandler(webhookhandler.TelegramHandler):
    """PTB's webhook handler; a body that is not JSON gets 400 after the secret is checked."""

    async def post(self) -> None:
        """Refuse a body that is not JSON, then hand the request to PTB."""
        self._validate_post()  # the secret first: a stranger learns nothing more than a 403
        try:
            json.loads(self.request.body.decode())
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
            raise tornado.web.HTTPError(
                HTTPStatus.BAD_REQUEST, reason="The body is not JSON"
            ) from error
        await super().post()


def use_strict_webhook_handler() -> None:
    """Make PTB's webhook server (started after this call) use `StrictTelegramHandler`."""
    webhookhandler.TelegramHandler = StrictTelegramHandler  # type: ignore[misc]  # the swap
