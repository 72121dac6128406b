"""Keyed hashes of Telegram ids, for limits that must survive /forget without naming anyone.

A person who erases their data with /forget must not thereby reset a limit set against abuse
(five reports a day, a cool-down after a rejected application). The limit keeps a mark under
HMAC(key, Telegram id): the same person always gives the same mark, and without the key the
mark names nobody. The key comes from the bot's token, which never enters the database: a copy
of the database alone cannot tell whose marks they are. A new token starts the limits afresh.
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonyms:
    """Turn Telegram ids into stable marks that only this bot can recompute."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 128 bits")
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> Pseudonyms:
        """A key derived from a secret the bot already keeps (its token)."""
        return cls(hashlib.sha256(b"brigade limit marks\x00" + secret.encode()).digest())

    def of(self, telegram_id: int) -> str:
        """The mark of one person (64 hexadecimal characters)."""
        return hmac.new(self._key, str(telegram_id).encode(), hashlib.sha256).hexdigest()
