"""Availability in words: the presets' and the parts of day's labels, and the summary of a
volunteer's slots as presets ("weekday evenings, weekends") that the profile and the application
card show. The presets themselves are bot/domain/availability.py's.
"""

from __future__ import annotations

from collections.abc import Iterable

from babel.dates import get_day_names

from bot.domain.availability import Slot, summarise
from bot.i18n import N_, Translator

# The week grid's parts of day, and the same inside a sentence.
PERIOD_LABELS = {"morning": N_("Morning"), "afternoon": N_("Afternoon"), "evening": N_("Evening")}
PERIOD_SHORT = {"morning": N_("morning"), "afternoon": N_("afternoon"), "evening": N_("evening")}
# The picker's quick buttons (bot.domain.availability.PICKER_PRESETS).
PICKER_LABELS = {
    "weekdays": N_("Weekdays"),
    "weekends": N_("Weekends"),
    "evenings": N_("Evenings"),
    "anytime": N_("Any time"),
}
# The words of a summary (bot.domain.availability.SUMMARY_PRESETS).
SUMMARY_LABELS = {
    "anytime": N_("any time"),
    "weekdays": N_("weekdays"),
    "weekends": N_("weekends"),
    "mornings": N_("mornings"),
    "afternoons": N_("afternoons"),
    "evenings": N_("evenings"),
    "weekday-mornings": N_("weekday mornings"),
    "weekday-afternoons": N_("weekday afternoons"),
    "weekday-evenings": N_("weekday evenings"),
    "weekend-mornings": N_("weekend mornings"),
    "weekend-afternoons": N_("weekend afternoons"),
    "weekend-evenings": N_("weekend evenings"),
}


def availability_text(slots: Iterable[Slot], _: Translator) -> str:
    """The slots as presets, then what no preset says as "Wed morning" ("" for none)."""
    presets, left = summarise(slots)
    day_names = get_day_names("abbreviated", locale=_.language)
    words = [_(SUMMARY_LABELS[key]) for key in presets]
    words += [f"{day_names[day]} {_(PERIOD_SHORT[period])}" for day, period in left]
    return ", ".join(words)
