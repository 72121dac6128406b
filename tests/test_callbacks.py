"""Callback data: what the bot encodes it can parse back, and nothing else parses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import callbacks
from bot.callbacks import Action, Callback


def test_round_trip() -> None:
    data = callbacks.encode(Action.SET_LANGUAGE, "nl")
    assert data == "lang:nl"
    assert callbacks.parse(data) == Callback(Action.SET_LANGUAGE, ("nl",))


@pytest.mark.parametrize(
    "data",
    [None, "", "lang", "lang:", "lang:nl:extra", "nope:1", "lang:NL!", "lang:" + "x" * 70, ":"],
)
def test_foreign_or_stale_data_parses_to_none(data: str | None) -> None:
    assert callbacks.parse(data) is None


@pytest.mark.parametrize(
    "data",
    [
        "cl:\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes, int() reads 1
        "cl:\u0967\u0968",  # DEVANAGARI 1 2
        "cl:\uff11",  # FULLWIDTH DIGIT ONE
        "cl:\u00b2",  # SUPERSCRIPT TWO: isdigit(), and int() raises
        "cl:1\n",
        "lang:nl\n",  # a regex `$` matches before a final newline
        "cs:done\n:1",
    ],
)
def test_only_ascii_digits_and_words_parse(data: str) -> None:
    assert callbacks.parse(data) is None


def test_encode_refuses_what_telegram_would_refuse() -> None:
    with pytest.raises(ValueError, match="arguments"):
        callbacks.encode(Action.SET_LANGUAGE)
    with pytest.raises(ValueError, match="not a word"):
        callbacks.encode(Action.SET_LANGUAGE, "a:b")


@given(st.text(max_size=80))
def test_parse_never_raises(data: str) -> None:
    parsed = callbacks.parse(data)
    if parsed is not None:
        assert callbacks.encode(parsed.action, *parsed.args) == data


@pytest.mark.parametrize(
    ("action", "verbs", "matched", "not_matched"),
    [
        (Action.JOIN, (), ["join"], ["joined", "join2:x"]),
        (Action.CLAIM, (), ["cl:12", "cl:"], ["cls:12", "c:12"]),
        (Action.POST, ("benef",), ["rq:benef:new", "rq:benef:"], ["rq:benefit:x", "rq:skip:x"]),
        (Action.ANNOUNCE, ("to", "edit"), ["an:to:all", "an:edit:text"], ["an:count:3"]),
    ],
)
def test_a_pattern_routes_one_action_or_some_of_its_verbs(
    action: Action, verbs: tuple[str, ...], matched: list[str], not_matched: list[str]
) -> None:
    regex = re.compile(callbacks.pattern(action, *verbs))
    assert all(regex.match(data) for data in matched)
    assert not any(regex.match(data) for data in not_matched)


def test_a_pattern_names_real_verbs_only() -> None:
    with pytest.raises(ValueError, match="no verb"):
        callbacks.pattern(Action.CLAIM, "x")
    with pytest.raises(ValueError, match="not all words"):
        callbacks.pattern(Action.POST, "a|b")
    with pytest.raises(ValueError, match="not all words"):
        callbacks.pattern(Action.POST, "places", values=["1", ".*"])


def test_a_pattern_can_restrict_the_value_after_the_verb() -> None:
    regex = re.compile(callbacks.pattern(Action.POST, "places", values=["1", "2", "3"]))
    assert regex.match("rq:places:2")
    assert not regex.match("rq:places:4")
    assert not regex.match("rq:places:22")
    assert not regex.match("rq:places:2\n")
