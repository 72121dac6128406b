"""Typed text made safe: no invisible characters, names on one line, free text quoted."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import escaped, one_line, quoted, several_lines


def _hidden(text: str, allowed: str = "") -> list[str]:
    return [
        c
        for c in text
        if unicodedata.category(c) in {"Cf", "Cc", "Cs", "Zl", "Zp"} and c not in allowed
    ]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Ana\u202e\u200b  Mar\u00adtin", "Ana Martin"),
        ("\ufeffZoé\u2066 \u2069Dupont\u200f", "Zoé Dupont"),
        ("Jean\nReported by: Police", "Jean Reported by: Police"),
        ("tab\there\x00\x1b[31m", "tab here [31m"),
        ("line\u2028sep\u2029para\x85next", "line sep para next"),
    ],
)
def test_one_line(typed: str, kept: str) -> None:
    assert one_line(typed) == kept


def test_several_lines_keeps_breaks_and_drops_the_rest() -> None:
    typed = "\n fine\r\nReported by:\u200b Police \u2028\n\n\n\nPhone: 1\u202e12 \n"
    assert several_lines(typed) == "fine\nReported by: Police\n\nPhone: 112"


def test_quoted_is_html_escaped_inside_a_blockquote() -> None:
    assert quoted("a <b>&</b>\n'x'") == "<blockquote>a &lt;b&gt;&amp;&lt;/b&gt;\n'x'</blockquote>"
    assert escaped("1 < 2 & 3") == "1 &lt; 2 &amp; 3"


@given(st.text(max_size=200))
def test_nothing_invisible_survives(text: str) -> None:
    line = one_line(text)
    assert not _hidden(line)
    assert line == line.strip()
    assert not _hidden(several_lines(text), allowed="\n")
