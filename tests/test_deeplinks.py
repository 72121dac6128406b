"""/start payloads: what the bot encodes it parses back, and nothing else parses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import deeplinks
from bot.deeplinks import Invitation, NeighbourhoodSignup, RelayReport
from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite


@pytest.mark.parametrize(
    ("link", "payload"),
    [
        (NeighbourhoodSignup(12), "n-12"),
        (Invitation("Zx_9-aB"), "i-Zx_9-aB"),
        (RelayReport(), "relay"),
    ],
)
def test_round_trip(link: deeplinks.DeepLink, payload: str) -> None:
    assert deeplinks.encode(link) == payload
    assert deeplinks.parse(payload) == link
    assert deeplinks.url("brigade_bot", link) == f"https://t.me/brigade_bot?start={payload}"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "n-",
        "n-x1",
        "n-1\n",
        "n-\u0661",  # ARABIC-INDIC DIGIT ONE
        "n-" + "9" * 19,
        "i-",
        "i-a b",
        "i-" + "a" * 63,
        "relay2",
        "Relay",
        "something-else",
    ],
)
def test_cut_forged_or_unknown_payloads_parse_to_none(payload: str | None) -> None:
    assert deeplinks.parse(payload) is None


def test_encode_refuses_what_telegram_would_not_carry() -> None:
    with pytest.raises(ValueError, match="cannot be carried"):
        deeplinks.encode(NeighbourhoodSignup(-1))
    with pytest.raises(ValueError, match="cannot be carried"):
        deeplinks.encode(Invitation("a:b"))


def test_an_invitation_link_is_the_payload_the_invite_service_announces() -> None:
    created = CreatedInvite(
        token="dGhpcyBpcyAxNiBieXRl",
        role=Role.REFERENT,
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert deeplinks.encode(Invitation(created.token)) == created.start_payload


@given(st.text(max_size=80))
def test_parse_never_raises(payload: str) -> None:
    link = deeplinks.parse(payload)
    if link is not None:
        assert deeplinks.parse(deeplinks.encode(link)) == link
