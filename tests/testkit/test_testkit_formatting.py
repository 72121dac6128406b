"""Parse modes of the simulated Telegram: text and entities as Telegram would store them."""

from __future__ import annotations

import pytest

from testkit.telegram import EntityParseError, apply_parse_mode, utf16_len


def test_offsets_are_utf16_code_units() -> None:
    text, entities = apply_parse_mode("🚲 <b>vélo</b>", "HTML")
    assert text == "🚲 vélo"
    # The bicycle takes two UTF-16 code units, as in Telegram's offsets.
    assert entities == [{"type": "bold", "offset": 3, "length": 4}]
    assert utf16_len("🚲") == 2


def test_html_nesting_links_pre_and_spoilers() -> None:
    source = (
        '<b>a <i>b</i></b> <a href="https://x.org/?a=1&amp;b=2">lien</a> '
        '<pre><code class="language-python">print(1)</code></pre> '
        '<span class="tg-spoiler">secret</span> <blockquote expandable>cité</blockquote>'
    )
    text, entities = apply_parse_mode(source, "HTML")
    assert text == "a b lien print(1) secret cité"
    assert {"type": "bold", "offset": 0, "length": 3} in entities
    assert {"type": "italic", "offset": 2, "length": 1} in entities
    assert {"type": "text_link", "offset": 4, "length": 4, "url": "https://x.org/?a=1&b=2"} in (
        entities
    )
    assert {"type": "pre", "offset": 9, "length": 8, "language": "python"} in entities
    assert {"type": "spoiler", "offset": 18, "length": 6} in entities
    assert {"type": "expandable_blockquote", "offset": 25, "length": 4} in entities


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x <3", "Unclosed start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_html_errors(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as failure:
        apply_parse_mode(source, "HTML")
    assert str(failure.value) == error


def test_html_entities_and_stray_ampersand() -> None:
    text, entities = apply_parse_mode("A &amp; B &lt;&gt; &quot;&#233;&#x41; &nbsp; R&D", "HTML")
    # Only lt/gt/amp/quot and numeric entities are decoded; an unknown one stays as it is.
    assert text == 'A & B <> "éA &nbsp; R&D'
    assert entities == []


def test_markdown_v2() -> None:
    text, entities = apply_parse_mode(
        r"*gras* _ita_ __sous__ ~barré~ ||spoil|| `a\`b` [lien](https://x.org/\(1\)) 1\+1",
        "MarkdownV2",
    )
    assert text == "gras ita sous barré spoil a`b lien 1+1"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://x.org/(1)"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("Tel: 06-12", "Character '-' is reserved"),
        ("*gras", "Can't find end of Bold entity at byte offset 0"),
        ("Salut !", "Character '!' is reserved"),
        ("[lien]", "Can't find end of TextUrl entity"),
    ],
)
def test_markdown_v2_errors(source: str, fragment: str) -> None:
    with pytest.raises(EntityParseError, match=fragment.replace("*", r"\*")):
        apply_parse_mode(source, "MarkdownV2")


def test_markdown_v2_code_keeps_reserved_characters() -> None:
    text, entities = apply_parse_mode("```python\nx = a - b.c!\n```", "MarkdownV2")
    assert text == "x = a - b.c!\n"
    assert entities == [{"type": "pre", "offset": 0, "length": 13, "language": "python"}]


def test_legacy_markdown() -> None:
    text, entities = apply_parse_mode("*gras* _ita_ `code` [lien](https://x.org) 1-2.", "Markdown")
    assert text == "gras ita code lien 1-2."
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(EntityParseError, match="Can't find end of the entity"):
        apply_parse_mode("user_name", "Markdown")
