"""The volunteers' charter of conduct: at sign-up, a few lines and "read it all", then an explicit
acceptance.

The text below, in the catalogs, is the default. A town replaces it with its own (`/charter`,
bot/services/charters.py): published versions are numbered from 1 and stored in the database;
the version accepted is stored with each acceptance, so it is known who accepted which text.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import N_, Translator, with_town

# The version of the default text below, accepted while the town has published none of its own.
CHARTER_VERSION = "2026-11"

# The title, with the town's name and without (while it has none).
_TITLE = N_("Charter of the volunteers of the brigade of {town}")
_TITLE_UNNAMED = N_("Charter of the brigade's volunteers")
_CHARTER_PARTS = (
    N_(
        "1. I help for free. I accept no money, no gift of value and no tip, and I sell nothing "
        "to the people I visit."
    ),
    N_(
        "2. I respect the privacy of the people I help. What I see and hear at their home stays "
        "there; I never share their name, address or phone number."
    ),
    N_(
        "3. I do small, occasional services within my abilities. I do not replace the "
        "professionals (care, home help, tradespeople) and I refuse what could put anyone in "
        "danger: when in doubt, I tell the referent."
    ),
    N_(
        "4. I keep my word: I only take a request I can do, I come at the agreed time, and I "
        "release the request at once if I cannot."
    ),
    N_(
        "5. I show my brigade card when I arrive, and I tell the referent when the service is "
        "done or if something worries me."
    ),
    N_(
        "6. The coordinators may end my participation if this charter is not respected. I can "
        "leave the brigade at any time."
    ),
)


def charter_text(_: Translator, town: str) -> str:
    """The whole charter in the reader's language."""
    title = with_town(_, town, _TITLE, _TITLE_UNNAMED)
    return "\n\n".join([title, *(_(article) for article in _CHARTER_PARTS)])


def charter_for(_: Translator, town: str, texts: Mapping[str, str]) -> str:
    """The charter a reader is asked to accept: the town's text in their language, if it wrote
    one, else the text shipped in the catalogs."""
    return texts.get(_.language) or charter_text(_, town)


# The default charter in a few lines, as the sign-up shows it before "Read the whole charter".
_SUMMARY_LINES = (
    N_("• I help for free: no money, no gift, no tip."),
    N_("• What I see and hear at people's homes stays there."),
    N_("• Small services only; in doubt, I tell the referent."),
    N_("• I keep my word, or release the request at once."),
)
# A town's own text is not summed up by the bot: its beginning is shown, cut at a paragraph or a
# sentence, about this long.
EXCERPT_LENGTH = 300


def charter_summary(_: Translator, texts: Mapping[str, str]) -> str:
    """The charter in a few lines: the catalogs' summary of the default text, or the beginning
    of the town's own text ("…" where it is cut)."""
    own = texts.get(_.language)
    if own is None:
        return "\n".join(_(line) for line in _SUMMARY_LINES)
    return excerpt(own, EXCERPT_LENGTH)


def excerpt(text: str, length: int) -> str:
    """The beginning of a text, cut after a paragraph or a sentence near `length` characters."""
    text = text.strip()
    if len(text) <= length:
        return text
    head = text[:length]
    cut = max(head.rfind("\n"), head.rfind(". ") + 1)
    if cut < length // 3:
        cut = head.rfind(" ")
    return head[: cut if cut > 0 else length].rstrip() + " …"
