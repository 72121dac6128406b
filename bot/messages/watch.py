"""How the watch register reads: its pages, a person's record, the removal's question.

Direct answers to /register and its buttons (nothing here goes through the outbox): a record is
shown only to the referent or coordinator who opened it, in the message they tapped.
"""

from __future__ import annotations

from bot.callbacks import Action
from bot.domain.watch import Consent, RegisteredBy
from bot.i18n import N_, Translator
from bot.messages.base import Rendered, button, keyboard
from bot.services.watch.register import Entry, Record, RegisterPage

NOT_REFERENT_OR_COORDINATOR = N_("This is for the brigade's referents and coordinators.")
PERSON_GONE = N_("This person is no longer on the register.")
REGISTERED_BY = {
    RegisteredBy.SELF: N_("the person themselves"),
    RegisteredBy.RELATIVE: N_("a relative"),
    RegisteredBy.PROFESSIONAL: N_("a professional (doctor, nurse, home help)"),
}
CONSENT = {
    Consent.WRITTEN: N_("in writing (the town's form)"),
    Consent.ORAL: N_("orally, noted by the referent"),
}
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "nl": "Nederlands"}


def entry_lines(entry: Entry, _: Translator) -> list[str]:
    """A person's details, one per line, as their referent or a coordinator reads them."""
    none = _("not given")
    return [
        _("Name: {value}", value=entry.name),
        _("Phone: {value}", value=entry.phone),
        _("Address: {value}", value=entry.address),
        _("Registered by: {value}", value=_(REGISTERED_BY[entry.registered_by])),
        _("Consent: {value}", value=_(CONSENT[entry.consent])),
        _("Best time to call: {value}", value=entry.best_time or none),
        _("Language: {value}", value=LANGUAGE_NAMES.get(entry.language, entry.language)),
        _("Notes: {value}", value=entry.notes or none),
        _("Emergency contact: {value}", value=entry.emergency_contact or none),
    ]


def register_page(page: RegisterPage, _: Translator) -> Rendered:
    """A page of the register: one button per person, the pages, ➕ Add."""
    if page.total == 0:
        text = _("Nobody is on the watch register yet.")
    else:
        text = _("The watch register: {count}", count=page.total)
        if page.pages > 1:
            text += "\n" + _("Page {page} of {pages}", page=page.page + 1, pages=page.pages)
    rows = [[button(name, Action.REGISTER, "card", person_id)] for person_id, name in page.people]
    moves = []
    if page.page > 0:
        moves.append(button("◀", Action.REGISTER, "page", page.page - 1))
    if page.page + 1 < page.pages:
        moves.append(button("▶", Action.REGISTER, "page", page.page + 1))
    if moves:
        rows.append(moves)
    rows.append([button(_("➕ Add a person"), Action.REGISTER, "add", 0)])
    return Rendered(text, keyboard(rows))


def record_card(record: Record, _: Translator, note: str = "") -> Rendered:
    """One person's record, with ✏️ Change, 🗑 Remove and the way back to the list."""
    lines = [*([note, ""] if note else []), *entry_lines(record.entry, _)]
    if record.referent_name:
        lines.append(_("Referent: {value}", value=record.referent_name))
    rows = [
        [
            button(_("✏️ Change"), Action.REGISTER, "edit", record.id),
            button(_("🗑 Remove"), Action.REGISTER, "remove", record.id),
        ],
        [button(_("⬅ The register"), Action.REGISTER, "page", 0)],
    ]
    return Rendered("\n".join(lines), keyboard(rows))


def removal_question(record: Record, _: Translator) -> Rendered:
    """Asked in the card before a removal, which cannot be undone."""
    text = _(
        "Remove {name} from the watch register? Their details are erased at once: this cannot "
        "be undone.",
        name=record.entry.name,
    )
    rows = [
        [
            button(_("Yes, remove"), Action.REGISTER, "removeyes", record.id),
            button(_("No, keep"), Action.REGISTER, "card", record.id),
        ]
    ]
    return Rendered(text, keyboard(rows))


def removed(_: Translator) -> Rendered:
    """The card once the person was removed: nothing of them is left to show."""
    rows = [[button(_("⬅ The register"), Action.REGISTER, "page", 0)]]
    return Rendered(_("Removed from the watch register: their details are erased."), keyboard(rows))
