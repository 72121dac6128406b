"""How the watch register and /watch read: the register's pages, a person's record, the
removal's question; the running campaign's card, its figures, the stop's question.

Direct answers to /register and its buttons (nothing here goes through the outbox): a record is
shown only to the referent or coordinator who opened it, in the message they tapped.
"""

from __future__ import annotations

from babel.dates import format_date

from bot.callbacks import Action
from bot.domain.watch import Consent, RegisteredBy
from bot.i18n import N_, Translator
from bot.messages.base import Rendered, button, keyboard
from bot.messages.watch_calls import KIND_NAMES, hhmm
from bot.services.watch.campaigns import CampaignView, DayFigures
from bot.services.watch.register import Entry, Record, RegisterPage
from bot.services.watch.report import CampaignReport

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


# --- /watch: the campaign card -------------------------------------------------------------------

NOT_A_COORDINATOR_WATCH = N_("This is for the brigade's coordinators.")
FREQUENCIES = {
    1: N_("every day"),
    2: N_("every other day"),
    3: N_("every three days"),
}


def campaign_lines(view: CampaignView, _: Translator) -> list[str]:
    """What a campaign is: its kind, window, frequency and end."""
    ends = (
        format_date(view.ends_on, "EEEE d MMMM", locale=_.language)
        if view.ends_on
        else _("no end date")
    )
    return [
        _("Campaign: {value}", value=_(KIND_NAMES[view.kind])),
        _(
            "Calls: {frequency}, between {start} and {end}",
            frequency=_(FREQUENCIES.get(view.interval_days, FREQUENCIES[1])),
            start=hhmm(view.window_start),
            end=hhmm(view.window_end),
        ),
        _("Until: {value}", value=ends),
    ]


def campaign_card(view: CampaignView, figures: DayFigures, _: Translator) -> Rendered:
    """The running campaign and today's figures, 🔄 to refresh them, ⏹ to stop it."""
    lines = [
        "🌡 " + _("A watch campaign is running."),
        *campaign_lines(view, _),
        "",
        _("Today:"),
        _("Registered: {count}", count=figures.registered),
        _("✅ Reached, all well: {count}", count=figures.reached),
        _("🙋 Reached, needs something: {count}", count=figures.needs),
        _("🚑 Emergency called: {count}", count=figures.emergency),
        _("📵 No answer yet: {count}", count=figures.no_answer),
        _("⚠️ Escalated: {count}", count=figures.escalated),
        _("⬜ Not called yet: {count}", count=figures.not_called),
    ]
    if figures.areas:
        lines += ["", _("By neighbourhood (registered · ✅ · 🙋 · 🚑 · 📵 · ⚠️ · ⬜):")]
        lines += [
            _(
                "{name}: {registered} · {reached} · {needs} · {emergency} · {no_answer} · "
                "{escalated} · {not_called}",
                name=area.name or _("no neighbourhood"),
                registered=area.figures.registered,
                reached=area.figures.reached,
                needs=area.figures.needs,
                emergency=area.figures.emergency,
                no_answer=area.figures.no_answer,
                escalated=area.figures.escalated,
                not_called=area.figures.not_called,
            )
            for area in figures.areas
        ]
    rows = [
        [button(_("🔄 Refresh"), Action.WATCH, "show", view.id)],
        [button(_("⏹ Stop the campaign"), Action.WATCH, "stop", view.id)],
    ]
    return Rendered("\n".join(lines), keyboard(rows))


def no_campaign(_: Translator, last_campaign: int | None = None) -> Rendered:
    """No campaign runs: ▶️ to start one; the last one's report, if there was one."""
    rows = [[button(_("▶️ Start a campaign"), Action.WATCH, "start", 0)]]
    if last_campaign is not None:
        rows.append(
            [button(_("📊 The last campaign's report"), Action.WATCH, "report", last_campaign)]
        )
    return Rendered(
        _(
            "No watch campaign is running. During a heat or cold alert, start one: every "
            "person on the register (/register) is called every day by a volunteer."
        ),
        keyboard(rows),
    )


def report_summary(report: CampaignReport, _: Translator) -> str:
    """The campaign's totals, above its file (counts only: no name, no phone)."""
    rows = report.days
    return "\n".join(
        [
            _("📊 The watch campaign's report (the file has one line a day):"),
            _("Days: {count}", count=len(rows)),
            _("Calls: {count}", count=sum(row.calls for row in rows)),
            _("✅ Reached, all well: {count}", count=sum(row.well for row in rows)),
            _("🙋 Reached, needs something: {count}", count=sum(row.needs for row in rows)),
            _("🚑 Emergency called: {count}", count=sum(row.emergency for row in rows)),
            _("⚠️ Escalated: {count}", count=sum(row.escalated for row in rows)),
        ]
    )


def stop_question(view: CampaignView, _: Translator) -> Rendered:
    """Asked in the card: stopping cannot be undone."""
    text = "\n".join(
        [
            _(
                "Stop the campaign? No more lists will be sent and nobody will be escalated. "
                "This cannot be undone: you would have to start a new campaign."
            ),
            "",
            *campaign_lines(view, _),
        ]
    )
    rows = [
        [
            button(_("Yes, stop it"), Action.WATCH, "stopyes", view.id),
            button(_("No, keep it"), Action.WATCH, "show", view.id),
        ]
    ]
    return Rendered(text, keyboard(rows))


def stopped(_: Translator) -> Rendered:
    """The card once the campaign is stopped."""
    return Rendered(
        _("The campaign is stopped. Send /watch to start a new one."),
    )
