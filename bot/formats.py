"""Numbers, dates, times and punctuation as each language writes them: the one place for it.

- Numbers go through Babel: "0,8" in French and Dutch, "0.8" in English; percentages "73 %"
  (French, with its non-breaking space), "73%" (Dutch, English).
- Times: French as its administrations write them, "14 h 30" and "14 h" on the hour (the
  Imprimerie nationale's rule, the one service-public.fr follows); Dutch and English "14:30".
- French punctuation (`french_typography`) is applied once, to every French entry of the catalog
  as it is loaded (`bot.i18n.load_catalog`): a narrow non-breaking space (U+202F) before ; : ! ?
  and inside « », a non-breaking space (U+00A0) between a number and its unit ("3 km", "2 h").
  Only the translators' text is touched: what people type (names, descriptions, addresses) is
  filled in afterwards and kept as they wrote it. English and Dutch put no space there.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal, format_percent

if TYPE_CHECKING:
    from bot.i18n import Translator

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"

# A space (or none) before the high punctuation: the space becomes a narrow non-breaking one.
# After a letter, a closing bracket or a placeholder, a missing space is added (only where the
# mark ends a phrase: "14:30", "https://" and "?id=" are left alone).
_SPACE_BEFORE_MARK = re.compile(r"[ \u00a0\u202f]+([;:!?])")
_MISSING_BEFORE_MARK = re.compile(r"(?<=[\w})»%])([;:!?])(?=\s|$|<|\)|»)")
_OPENING_GUILLEMET = re.compile(r"«[ \u00a0\u202f]*")
_CLOSING_GUILLEMET = re.compile(r"[ \u00a0\u202f]*»")
# A number or a placeholder, a space, a unit: the space must not break.
_NUMBER_AND_UNIT = re.compile(r"(?<=[\d}]) (km|h|min|€|%)(?![\w’'])")
# …and "12 h 05": the minutes stay with their hour.
_HOUR_AND_MINUTES = re.compile(r"(?<=[\d}]\u00a0h) (?=[\d{])")


def french_typography(text: str) -> str:
    """`text` with French non-breaking spaces (see the module's docstring)."""
    text = _SPACE_BEFORE_MARK.sub(NARROW_NBSP + r"\1", text)
    text = _MISSING_BEFORE_MARK.sub(NARROW_NBSP + r"\1", text)
    text = _OPENING_GUILLEMET.sub("«" + NARROW_NBSP, text)
    text = _CLOSING_GUILLEMET.sub(NARROW_NBSP + "»", text)
    text = _NUMBER_AND_UNIT.sub(NBSP + r"\1", text)
    return _HOUR_AND_MINUTES.sub(NBSP, text)


# The typography each language's catalog entries get as they are loaded.
TYPOGRAPHY = {"fr": french_typography}


def typeset(language: str, text: str) -> str:
    """A catalog entry with its language's typography."""
    rule = TYPOGRAPHY.get(language)
    return rule(text) if rule else text


def number(value: float, _: Translator, *, decimals: int = 1) -> str:
    """A number with at most `decimals` decimals: "0,8", "12", "1 250,5" (French)."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return str(format_decimal(value, format=pattern, locale=_.language))


def duration(span: timedelta, _: Translator) -> str:
    """A length of time in its largest whole unit, rounded: "2 jours", "36 hours", "90 minuten"."""
    return str(format_timedelta(span, threshold=2, locale=_.language))


def distance(km: float, _: Translator) -> str:
    """A distance in kilometres, one decimal: "0,8", "1,0" (the unit is in the sentence)."""
    return str(format_decimal(km, format="#,##0.0", locale=_.language))


def kilometres(km: float, _: Translator) -> str:
    """A distance with its unit, for a button: "0,5 km" (French, unbreakable), "0.5 km"."""
    return typeset(_.language, f"{number(km, _)} km")


def percent(ratio: float, _: Translator) -> str:
    """A ratio as a percentage: "73 %" (French), "73%" (English, Dutch)."""
    return str(format_percent(ratio, locale=_.language))


def clock(moment: time | datetime, _: Translator, tz: tzinfo | None = None) -> str:
    """A time of day: "14 h 30", "9 h" (French), "14:30", "09:00" (Dutch, English)."""
    if isinstance(moment, datetime) and tz is not None:
        moment = moment.astimezone(tz)
    if _.language == "fr":
        if moment.minute == 0:
            return f"{moment.hour}{NBSP}h"
        return f"{moment.hour}{NBSP}h{NBSP}{moment.minute:02d}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def minute_of_day(minute: int, _: Translator) -> str:
    """A time given as minutes after midnight (quiet hours, a series' hour): see `clock`."""
    return clock(time(minute // 60 % 24, minute % 60), _)


def day(value: date | datetime, _: Translator, tz: tzinfo | None = None) -> str:
    """A day in full: "jeudi 26 novembre", "Thursday 26 November", "donderdag 26 november"."""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return str(format_date(value, "EEEE d MMMM", locale=_.language))


def day_and_time(moment: datetime, _: Translator, tz: tzinfo) -> str:
    """A moment in full: "jeudi 26 novembre, 14 h", "donderdag 26 november, 14:00"."""
    return f"{day(moment, _, tz)}, {clock(moment, _, tz)}"


def short_date_and_time(moment: datetime, _: Translator, tz: tzinfo) -> str:
    """A moment in short: "26 nov. 14 h 30" (French), "26 Nov 14:30"."""
    short_day = format_datetime(moment, "d MMM", tzinfo=tz, locale=_.language)
    return f"{short_day} {clock(moment, _, tz)}"
