"""Every user-facing string is in every catalog, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, I18n
from bot.settings import SUPPORTED_LANGUAGES

REPO = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("bot", "handlers", "conversations", "storage")
MARKERS = {"_", "N_", "gettext"}


def _messages_in_source() -> dict[str, str]:
    """Every literal passed to a translation marker, found by walking the syntax trees.

    An AST walk also sees calls inside f-strings, which Babel's extractor skips.
    """
    found: dict[str, str] = {}
    for package in SOURCE_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                first = node.args[0]
                if (
                    name in MARKERS
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                ):
                    found[first.value] = f"{path.relative_to(REPO)}:{node.lineno}"
                if name == "ngettext" and len(node.args) >= 2:
                    for arg in node.args[:1]:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            found[arg.value] = f"{path.relative_to(REPO)}:{node.lineno}"
    return found


def _catalog(language: str) -> dict[str, str | tuple[str, ...]]:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "brigade.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    entries: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        entries[key] = message.string
    return entries


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_the_source_has_messages() -> None:
    assert len(_messages_in_source()) >= 10


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_catalog_translates_every_message_with_the_same_placeholders(language: str) -> None:
    catalog = _catalog(language)
    missing, broken = [], []
    for message, where in _messages_in_source().items():
        translation = catalog.get(message)
        texts = translation if isinstance(translation, tuple) else (translation,)
        if not translation or not all(texts):
            missing.append(f"{where}: {message!r}")
            continue
        for text in texts:
            if text is not None and _placeholders(text) != _placeholders(message):
                broken.append(f"{where}: {message!r} -> {text!r}")
    assert missing == [], f"{language} catalog lacks translations"
    assert broken == [], f"{language} translations change the placeholders"


def test_french_really_is_french() -> None:
    translator = I18n("fr").translator("fr")
    # French punctuation: a narrow non-breaking space before ":" and "!" (bot/formats.py).
    assert translator("Choose your language:") == "Choisissez votre langue\u202f:"
    assert translator("Hello {name}!", name="Zoé") == "Bonjour Zoé\u202f!"


def test_no_stray_braces_in_translations() -> None:
    """A lone `{` or `}` would make str.format raise at the moment a user needs the text."""
    for language in SUPPORTED_LANGUAGES:
        for text in _catalog(language).values():
            for part in text if isinstance(text, tuple) else (text,):
                list(string.Formatter().parse(part))  # raises ValueError on a stray brace


@pytest.mark.parametrize(
    ("chosen", "telegram", "expected"),
    [
        (None, None, "fr"),
        (None, "nl-BE", "nl"),
        (None, "en", "en"),
        (None, "de", "fr"),
        ("en", "nl", "en"),
        ("xx", "NL", "nl"),
    ],
)
def test_language_resolution(chosen: str | None, telegram: str | None, expected: str) -> None:
    assert I18n("fr").resolve(chosen, telegram) == expected


def test_unknown_language_falls_back_to_the_default() -> None:
    assert I18n("fr").translator("de").language == "fr"


def test_catalog_files_declare_plural_forms() -> None:
    for language in SUPPORTED_LANGUAGES:
        text = (LOCALES_DIR / language / "LC_MESSAGES" / "brigade.po").read_text()
        assert re.search(r"Plural-Forms: nplurals=2", text), language
