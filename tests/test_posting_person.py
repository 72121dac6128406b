"""/new reads the person's name and phone from one message: what counts as a number, what is
kept as the name, and when the number must be asked again."""

from __future__ import annotations

import pytest

from conversations.posting.answers import name_and_phone


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Odette Martin 06 12 34 56 78", ("Odette Martin", "06 12 34 56 78", False)),
        ("Odette Martin, 06.12.34.56.78", ("Odette Martin", "06.12.34.56.78", False)),
        ("+33 6 12 34 56 78 Odette", ("Odette", "+33 6 12 34 56 78", False)),
        ("Mme Jeanne Martin 04 79 00 00 00", ("Mme Jeanne Martin", "04 79 00 00 00", False)),
        ("Jan Peeters - 0470 12 34 56", ("Jan Peeters", "0470 12 34 56", False)),
        ("J. M. (0612345678)", ("J. M.", "0612345678", False)),
        ("06 12 34 56 78", ("", "06 12 34 56 78", False)),
        ("Odette", ("Odette", None, False)),
        ("Odette Martin 06 12", ("Odette Martin", None, True)),
        ("Odette 1234567890123456789", ("Odette", None, True)),
    ],
)
def test_the_name_and_the_number_are_told_apart(
    typed: str, expected: tuple[str, str | None, bool]
) -> None:
    assert name_and_phone(typed) == expected
