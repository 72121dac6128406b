"""The skills catalogue's seeded labels, marked for translation (the rows come from migration 0002).

Labels typed by a coordinator for a new skill are shown as typed; seeded labels are English msgids
translated at display.
"""

from __future__ import annotations

from bot.i18n import N_, Translator

SEEDED_LABELS = (
    N_("Small electrical work"),
    N_("Plumbing"),
    N_("Odd jobs"),
    N_("Shopping"),
    N_("Going to an appointment"),
    N_("Friendly visit"),
    N_("Phone call"),
    N_("Outing"),
    N_("Digital help"),
    N_("Paperwork"),
    N_("Gardening"),
)


def skill_label(label: str, _: Translator) -> str:
    """A skill's label in the reader's language (typed labels come back unchanged)."""
    return _(label) if label in SEEDED_LABELS else label
