"""The volunteers' charter of conduct, shown in full and accepted explicitly at sign-up.

The version is stored with each acceptance: when the town changes the text, bump the version so
it is known who accepted which text.
"""

from __future__ import annotations

from bot.i18n import N_, Translator

CHARTER_VERSION = "2026-11"

_CHARTER_PARTS = (
    N_("Charter of the volunteers of the brigade of {town}"),
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
    title, *articles = _CHARTER_PARTS
    return "\n\n".join([_(title, town=town), *(_(article) for article in articles)])
