"""Money volunteers advance: read an amount as people type it, write it in the reader's locale.

Amounts are kept as integer cents. People type "12,50", "12.5", "12 €", "€12", "1 250,00" or
"1,250.00"; the decimal separator is the last "," or "." followed by one or two digits, and a
separator followed by exactly three digits is a thousands separator. Anything else is refused
rather than guessed.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency

# Beyond this, a typo is likelier than an errand (1,000.00 in the town's currency).
MAX_EXPENSE_CENTS = 100_000
_CURRENCY = r"(?:€|\$|£|eur(?:os?)?|chf)"
# A currency sign or word before or after the number, never inside it.
_TYPED = re.compile(rf"(?i)\s*{_CURRENCY}?\s*(?P<number>.*?)\s*{_CURRENCY}?\s*")
_AMOUNT = re.compile(
    r"(?P<units>\d{1,3}(?:[ \u00a0\u202f'.,]\d{3})+|\d+)(?:[.,](?P<cents>\d{1,2}))?"
)


def parse_amount(text: str) -> int | None:
    """The amount typed, in cents (1 to MAX_EXPENSE_CENTS), or None if it is not one."""
    typed = _TYPED.fullmatch(text)
    match = _AMOUNT.fullmatch(typed["number"]) if typed else None
    if match is None:
        return None
    units = re.sub(r"\D", "", match["units"])
    cents = (match["cents"] or "0").ljust(2, "0")
    value = int(units) * 100 + int(cents)
    return value if 0 < value <= MAX_EXPENSE_CENTS else None


def money_text(cents: int, currency: str, language: str) -> str:
    """An amount in the reader's locale: "12,50 €" in French, "€12.50" in English."""
    return format_currency(Decimal(cents) / 100, currency, locale=language)
