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
    assert "Vous êtes désormais référent·e de la brigade de Chambéry" in transcript
    assert "Cette invitation a déjà été utilisée" in transcript
    assert "Bonne nouvelle : votre candidature a été validée" in transcript
    assert "Taal ingesteld: Nederlands." in transcript
    assert transcript.rstrip().endswith("every step above succeeded.")
