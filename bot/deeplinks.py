"""The one place that encodes and parses `/start` payloads: the links `t.me/<bot>?start=<payload>`.

Telegram passes the payload as `/start <payload>`: at most 64 characters of A-Z a-z 0-9 _ -.
Each kind of link has one typed value; anything else — a link cut when copied, a forged or an
older payload — parses to None, and the bot says the link is not valid instead of guessing.

- `n-<id>`: a neighbourhood's sign-up link, shared by coordinators (the sign-up pre-selects it);
- `i-<token>`: a single-use invitation (the invite service checks the token);
- `relay`: the relay link on posters, to report someone who seems isolated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PAYLOAD_LENGTH = 64
NEIGHBOURHOOD_PREFIX = "n-"
INVITATION_PREFIX = "i-"
RELAY_PAYLOAD = "relay"
# fullmatch, ASCII only (as in bot/callbacks.py: `str.isdigit()` takes "²").
_ID = re.compile(r"[0-9]{1,18}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,62}")


@dataclass(frozen=True)
class NeighbourhoodSignup:
    """Sign up as a volunteer of this neighbourhood."""

    neighbourhood_id: int


@dataclass(frozen=True)
class Invitation:
    """Redeem a coordinator's invitation (the token is checked by the invite service)."""

    token: str


@dataclass(frozen=True)
class RelayReport:
    """Report someone who seems isolated (the link printed on posters)."""


DeepLink = NeighbourhoodSignup | Invitation | RelayReport


def encode(link: DeepLink) -> str:
    """The payload of a link; raises if it breaks Telegram's format."""
    if isinstance(link, NeighbourhoodSignup):
        payload = f"{NEIGHBOURHOOD_PREFIX}{link.neighbourhood_id}"
    elif isinstance(link, Invitation):
        payload = INVITATION_PREFIX + link.token
    else:
        payload = RELAY_PAYLOAD
    if parse(payload) != link:
        raise ValueError(f"{link!r} cannot be carried by a /start link")
    return payload


def parse(payload: str | None) -> DeepLink | None:
    """The link a payload stands for; None for anything this version of the bot did not make."""
    if not payload or len(payload) > MAX_PAYLOAD_LENGTH or not payload.isascii():
        return None
    if payload == RELAY_PAYLOAD:
        return RelayReport()
    if payload.startswith(NEIGHBOURHOOD_PREFIX):
        raw = payload.removeprefix(NEIGHBOURHOOD_PREFIX)
        return NeighbourhoodSignup(int(raw)) if _ID.fullmatch(raw) else None
    if payload.startswith(INVITATION_PREFIX):
        token = payload.removeprefix(INVITATION_PREFIX)
        return Invitation(token) if _TOKEN.fullmatch(token) else None
    return None


def url(bot_username: str | None, link: DeepLink) -> str:
    """The t.me link that opens the bot with this payload."""
    return f"https://t.me/{bot_username}?start={encode(link)}"
