"""Translations: gettext catalogs managed with Babel, French by default, English and Dutch too.

Message ids are English. Catalogs are read from the `.po` files at start and compiled in memory,
so there is no compile step to forget and no binary file in the repository.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.formats import typeset
from bot.settings import SUPPORTED_LANGUAGES

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "brigade"

# What each language is called in itself, for the /language buttons.
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "nl": "Nederlands"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (translated where shown)."""
    return message


def load_catalog(language: str, locales_dir: Path = LOCALES_DIR) -> gettext.GNUTranslations:
    """Compile one language's `.po` file into a gettext translations object, each entry with its
    language's typography (French non-breaking spaces: `bot.formats`)."""
    po_path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    for message in catalog:
        if not message.id:
            continue  # the header
        if isinstance(message.string, tuple):
            message.string = tuple(typeset(language, form) for form in message.string)
        elif isinstance(message.string, str) and message.string:
            message.string = typeset(language, message.string)
    buffer = BytesIO()
    # Fuzzy entries are drafts: they must not reach users.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """Translations for one language, with the usual short names."""

    language: str
    translations: gettext.NullTranslations

    def gettext(self, message: str, /, **values: object) -> str:
        """Translate `message` and fill its `{placeholders}`."""
        text = self.translations.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """Translate a message whose form depends on `count` (available as `{count}`)."""
        text = self.translations.ngettext(singular, plural, count)
        return text.format(count=count, **values)

    __call__ = gettext


class I18n:
    """All catalogs, loaded once when the application is built."""

    def __init__(self, default_language: str, languages: Iterable[str] = SUPPORTED_LANGUAGES):
        self.default_language = default_language
        self.languages = tuple(languages)
        self._translators = {
            language: Translator(language, load_catalog(language)) for language in self.languages
        }

    def resolve(self, chosen: str | None, telegram_code: str | None = None) -> str:
        """The language to speak: the member's choice, else Telegram's, else the town's default."""
        for candidate in (chosen, telegram_code):
            if candidate:
                # Telegram sends IETF tags such as "nl-BE" or "fr-FR".
                base = candidate.split("-", 1)[0].lower()
                if base in self._translators:
                    return base
        return self.default_language

    def translator(self, language: str | None) -> Translator:
        """The translator for `language`, or the default language's."""
        return self._translators.get(language or "", self._translators[self.default_language])

    def for_user(self, chosen: str | None, telegram_code: str | None) -> Translator:
        """Shortcut: resolve then return the translator."""
        return self.translator(self.resolve(chosen, telegram_code))

    def in_every_language(self, message: str) -> dict[str, str]:
        """The message in each supported language (for per-language command menus)."""
        return {language: t.gettext(message) for language, t in self._translators.items()}


Gettext = Callable[..., str]


def with_town(_: Translator, town: str, named: str, unnamed: str, /, **values: object) -> str:
    """`named` with `{town}` filled in, or `unnamed` while the town has no name of its own
    (`Settings.town`): "the brigade" rather than "the brigade of Brigade". Mark both with N_."""
    return _(named, town=town, **values) if town else _(unnamed, **values)
