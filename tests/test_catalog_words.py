"""The words of the catalogs: real plurals, short menus, French elision, Dutch key terms.

docs/language.md is the glossary these rules come from. Every failure names the language, the
rule and the entry (its English msgid), so a new string that breaks a rule is found at once.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.commands import COMMANDS
from bot.i18n import LOCALES_DIR, I18n
from bot.settings import SUPPORTED_LANGUAGES
from testkit.language_samples import samples

REPO = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("bot", "handlers", "conversations", "storage")

# Telegram's "/" menu shows about this many characters of a command's description on a phone.
MENU_DESCRIPTION_LIMIT = 40


@dataclass(frozen=True)
class Entry:
    """One catalog entry: its English msgid and the texts shown to readers."""

    msgid: str
    plural: bool
    texts: tuple[str, ...]  # the msgid (and msgid_plural) followed by every msgstr


def _entries(language: str) -> list[Entry]:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "brigade.po").open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    entries = []
    for message in catalog:
        if not message.id:
            continue
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        texts = (*ids, *(str(s) for s in strings if s))
        entries.append(Entry(ids[0], len(ids) > 1, texts))
    return entries


def _report(language: str, rule: str, found: list[tuple[str, str]]) -> str:
    """Which entries (by English msgid) break `rule`, and where."""
    entries = {msgid for msgid, _where in found}
    lines = [f"{msgid!r}: {where}" for msgid, where in dict.fromkeys(found)]
    return f"{language}: {len(entries)} entries break the rule «{rule}»:\n  " + "\n  ".join(lines)


# --- Rule 1: no "(s)" / "(en)" / "(e)s" / "·s" plural hacks --------------------------------

# "volunteer(s)", "bénévole(s)", "créée(s)", "vrijwilliger(s)", "dienst(en)", "ami(e)s",
# "bénévole·s"; the inclusive "référent·es" (feminine + plural) is not a plural hack.
PLURAL_HACK = re.compile(r"\w\((?:s|es|en|n|x)\)|\w\(e\)s\b|\w·s\b")


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_no_plural_hacks(language: str) -> None:
    found = [
        (entry.msgid, f"{hack.group()!r} in {text!r}")
        for entry in _entries(language)
        for text in entry.texts
        for hack in [PLURAL_HACK.search(text)]
        if hack
    ]
    assert found == [], _report(language, "a count uses ngettext or 'label: number'", found)


# --- Rule 2: a count placeholder only in a plural entry, or as "label: number" ---------------

# Placeholders that count people or things and so can be 1. Besides these names, the code
# itself marks a count: a placeholder given `len(…)`, `sum(…)`, `….count(…)`, an int literal or a
# name containing "count" (see _counted_in_code). Limits taken from settings ({max}, {limit},
# {length} of a text that is too long, {hours} of a timeout) are never 1 and are not counts.
COUNT_NAMES = frozenset(
    {
        "count",
        "n",
        "offers",
        "waves",
        "groups",
        "declined",
        "created",
        "claimed",
        "closed",
        "volunteers",
        "sent",
        "total",
        "pending",
        "left",
        "needed",
        "done",
    }
)
# After a number, a unit abbreviation agrees with nothing: "3 km", "5 h", "12 min".
UNITS = frozenset({"km", "m", "h", "min", "j", "d", "u", "%"})


def _counted_in_code() -> dict[str, set[str]]:
    """For each literal msgid in the code, the placeholders whose value is plainly a number."""
    counted: dict[str, set[str]] = {}
    for package in SOURCE_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                first = node.args[0]
                if name not in {"_", "gettext"} or not (
                    isinstance(first, ast.Constant) and isinstance(first.value, str)
                ):
                    continue
                for keyword in node.keywords:
                    if keyword.arg and _is_a_count(keyword.value):
                        counted.setdefault(first.value, set()).add(keyword.arg)
    return counted


def _is_a_count(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant):
        return isinstance(value.value, int) and not isinstance(value.value, bool)
    if isinstance(value, ast.Call):
        func = value.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called in {"len", "sum", "count"}:
            return True
    return "count" in ast.unparse(value).lower()


def _count_followed_by_a_word(text: str, names: set[str]) -> list[str]:
    """The count placeholders of `text` followed by a word (which would have to agree with it)."""
    found = []
    for match in re.finditer(r"\{(\w+)\}\s*([^\W\d_]+)?", text):
        name, word = match.group(1), match.group(2)
        if name in names and word and word not in UNITS:
            found.append(f"{{{name}}} {word}")
    return found


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_counts_use_plural_forms_or_label_number(language: str) -> None:
    counted = _counted_in_code()
    found = []
    for entry in _entries(language):
        if entry.plural:
            continue
        names = set(COUNT_NAMES) | counted.get(entry.msgid, set())
        for text in entry.texts:
            for trap in _count_followed_by_a_word(text, names):
                found.append((entry.msgid, f"{trap!r} in {text!r}"))
    assert found == [], _report(
        language, "a count in a non-plural entry is written 'label: {count}'", found
    )


# --- Rule 3: command descriptions fit the phone's "/" menu -----------------------------------


def test_command_descriptions_fit_the_menu() -> None:
    i18n = I18n("fr")
    found = [
        f"{language}: /{command.name}: {text!r} ({len(text)} characters)"
        for command in COMMANDS
        for language, text in i18n.in_every_language(command.description).items()
        if len(text) > MENU_DESCRIPTION_LIMIT
    ]
    assert found == [], f"descriptions over {MENU_DESCRIPTION_LIMIT} characters:\n  " + (
        "\n  ".join(found)
    )


# --- Rule 4: French, no elision trap before a placeholder ---------------------------------

# Placeholders whose value never starts with a vowel sound in French: numbers, dates, times,
# codes, lists, durations. Any other ({town}, {name}, {skill}…) may be "Ixelles" or "Odette".
NEVER_A_VOWEL = frozenset(
    {
        "id",
        "count",
        "max",
        "limit",
        "length",
        "hours",
        "minutes",
        "days",
        "date",
        "day",
        "time",
        "when",
        "until",
        "age",
        "version",
        "code",
        "distance",
        "radius",
        "value",
    }
    | COUNT_NAMES
)
ELISION_TRAP = re.compile(r"(?i)(?<![\w’'])(de|que|le|la|je|ne|me|se|ce|si|jusque)\s+\{(\w+)\}")


def test_french_has_no_elision_trap() -> None:
    found = []
    for entry in _entries("fr"):
        for text in entry.texts[1 + entry.plural :]:
            for trap in ELISION_TRAP.finditer(text):
                if trap.group(2) not in NEVER_A_VOWEL:
                    found.append((entry.msgid, f"{trap.group()!r} in {text!r}"))
    assert found == [], _report(
        "fr", "no 'de {name}' (it would read 'de Ixelles'); rephrase, e.g. 'brigade {town}'", found
    )


# --- Rule 5: Dutch, the key terms that mean something else -------------------------------

# "opname / opgenomen / opnemen" is a hospital admission to anyone in elderly care; a volunteer
# "neemt een hulpvraag aan". "doorverwijzer" is a professional who refers a client; the
# neighbour who reported someone is a "melder". "contact opnemen" (to get in touch) is fine.
DUTCH_FALSE_FRIENDS = re.compile(
    r"(?i)\b(opname\w*|opgenomen|opnemen|opneemt|opneem|doorverwijzer\w*)\b"
)
# "U neemt hulpvraag nr. 7 op": within one clause ("nr." does not end it), without "contact".
DUTCH_SEPARATED_CLAIM = re.compile(
    r"(?i)\bneem(t|en)?\b(?:(?!contact)(?:nr\.|[^.!?:;,])){0,60}?\bop\b"
)


def test_dutch_key_terms() -> None:
    found = []
    for entry in _entries("nl"):
        for text in entry.texts[1 + entry.plural :]:
            for pattern in (DUTCH_FALSE_FRIENDS, DUTCH_SEPARATED_CLAIM):
                for match in pattern.finditer(text):
                    found.append((entry.msgid, f"{match.group()!r} in {text!r}"))
    assert found == [], _report(
        "nl", "claim = aannemen/aangenomen, reporter = melder (not opnemen, doorverwijzer)", found
    )


# --- The rules catch what they are meant to catch ----------------------------------------


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("{count} bénévole(s)", True),
        ("{count} dienst(en)", True),
        ("{count} ami(e)s", True),
        ("{count} bénévole·s", True),
        ("les référent·es", False),
        ("Bénévoles : {count}", False),
    ],
)
def test_the_plural_hack_rule(text: str, caught: bool) -> None:
    assert bool(PLURAL_HACK.search(text)) is caught


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("{count} n’ont pas pu être joint·es", True),
        ("{claimed} aangenomen", True),
        ("Injoignables : {count} (bot bloqué)", False),
        ("{hours} h {minutes}", False),
        ("{name} ({count})", False),
    ],
)
def test_the_count_rule(text: str, caught: bool) -> None:
    assert bool(_count_followed_by_a_word(text, set(COUNT_NAMES) | {"hours"})) is caught


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("la brigade de {town}", True),
        ("la candidature de {name}", True),
        ("que {name} a", True),
        ("n° {id}", False),
        ("Charte des bénévoles — brigade {town}", False),
        ("Quartiers — {town}", False),
    ],
)
def test_the_elision_rule(text: str, caught: bool) -> None:
    traps = [m for m in ELISION_TRAP.finditer(text) if m.group(2) not in NEVER_A_VOWEL]
    assert bool(traps) is caught


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("Mediane tijd tot de eerste opname", True),
        ("3 dagen geleden opgenomen", True),
        ("ik neem alleen een hulpvraag op dat ik kan uitvoeren", True),
        ("Bedankt! U neemt hulpvraag nr. {id} op.", True),
        ("ik neem alleen een hulpvraag aan die ik kan doen, ik kom op tijd", False),
        ("Telefoon van de doorverwijzer", True),
        ("Neem alstublieft contact met die persoon op.", False),
        ("3 dagen geleden aangenomen", False),
    ],
)
def test_the_dutch_rule(text: str, caught: bool) -> None:
    caught_now = bool(DUTCH_FALSE_FRIENDS.search(text) or DUTCH_SEPARATED_CLAIM.search(text))
    assert caught_now is caught


def test_the_most_read_texts_use_the_key_terms() -> None:
    """The offer, the claim card and /stats (docs/language.md, "Before / after") as rendered."""
    text = samples()
    french, dutch = text.split("### nl — offer")
    hours = "Heures données\u202f: 123\xa0h\xa005 — services rendus\u202f: 1"
    for expected in ("[↩️ Me désister]", hours):
        assert expected in french
    for expected in (
        "🙋 Hulpvraag nr. 7: Loodgieterswerk",
        "U neemt hulpvraag nr. 7 aan.",
        "[✅ Uitgevoerd] | [↩️ Afzeggen]",
        "Mediane wachttijd tot de eerste vrijwilliger: 3 u 05",
        "• Loodgieterswerk — aangemaakt: 1, aangenomen: 1, bevestigd: 1",
    ):
        assert expected in dutch
    assert not PLURAL_HACK.search(text)
    assert not DUTCH_FALSE_FRIENDS.search(dutch)


@pytest.mark.parametrize(
    ("value", "counted"),
    [
        ("len(views)", True),
        ("sum(sizes)", True),
        ("3", True),
        ("counts.get(view.id, 0)", True),
        ("view.name", False),
        ("True", False),
        ("f'{radius:g}'", False),
    ],
)
def test_a_count_is_recognised_from_the_code(value: str, counted: bool) -> None:
    """Newcomers' placeholders count when the code fills them with a number, whatever the name."""
    expression = ast.parse(value, mode="eval").body
    assert _is_a_count(expression) is counted
