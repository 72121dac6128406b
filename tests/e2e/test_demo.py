"""The offline demo plays to the end, as `make demo` runs it."""

from __future__ import annotations

import io

import pytest

from testkit.demo import play

pytestmark = pytest.mark.e2e


async def test_the_demo_plays_its_whole_scenario() -> None:
    out = io.StringIO()
    assert await play(out) == 0
    transcript = out.getvalue()
    assert "Vous êtes désormais personne référente de la brigade (Chambéry)" in transcript
    assert "Cette invitation a déjà été utilisée" in transcript
    assert "Bonne nouvelle\u202f: votre candidature a été validée" in transcript
    assert "Taal ingesteld: Nederlands." in transcript
    # The request lifecycle: one of the two simultaneous taps wins, the other is told.
    wins = transcript.count("Elle est pour vous, merci\u202f!") + transcript.count(
        "It's yours, thank you!"
    )
    losses = transcript.count("plus rapides") + transcript.count("were quicker")
    assert (wins, losses) == (1, 1)
    # /new played as Nora types it: someone new in 8 actions.
    assert "8 actions from /new to the posted request" in transcript
    posting, race = transcript.split("=== Marc and Hugo tap at the same moment")
    assert "Personne\u202f: Mme Jeanne Martin" in posting  # Nora's preview
    assert (
        race.count("Person: Mme Jeanne Martin") + race.count("Personne\u202f: Mme Jeanne Martin")
        == 1
    )  # only the winner saw the private details
    # Narrated once the bot is idle: the group's copy has been edited by then.
    taken = race.split("now says it is taken:)\n", 1)[1].splitlines()[0]
    assert taken == "  (✅ Prise en charge. Merci\u202f!)"
    assert transcript.rstrip().endswith("every step above succeeded.")
