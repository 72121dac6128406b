"""/profile: the volunteer's answers, one ✏️ button per field, and ⏸ or ▶️."""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import StrEnum

from babel.dates import format_date
from telegram import (
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
    Update,
)

from bot import formats
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import N_, Translator
from bot.messages.applications import skill_mark
from bot.messages.reach import reach_line
from bot.services.outcomes import Outcome
from bot.services.profile import ProfileView
from conversations.base import chunks
from conversations.pickers import slots_text
from handlers.buttons import inline_button
from handlers.common import Speaker


class Field(StrEnum):
    """The fields, each a step of the edit conversation (conversations/profile/edit.py), and the
    place found for a typed address, to confirm. Stored between updates: keep the values."""

    NAME = "name"
    PHONE = "phone"
    PLACE = "place"
    CONFIRM_PLACE = "confirm"
    NEIGHBOURHOOD = "nb"
    RADIUS = "radius"
    SKILLS = "skills"
    AVAILABILITY = "avail"
    QUIET = "quiet"
    CAP = "cap"


# The edit buttons of the profile, in the order of the card: (field, label).
EDIT_BUTTONS: tuple[tuple[Field, str], ...] = (
    (Field.NAME, N_("✏️ Name")),
    (Field.PHONE, N_("✏️ Phone")),
    (Field.PLACE, N_("✏️ Place")),
    (Field.NEIGHBOURHOOD, N_("✏️ Neighbourhood")),
    (Field.RADIUS, N_("✏️ Distance")),
    (Field.SKILLS, N_("✏️ Skills")),
    (Field.AVAILABILITY, N_("✏️ Availability")),
    (Field.QUIET, N_("✏️ Quiet hours")),
    (Field.CAP, N_("✏️ Weekly limit")),
)
NOT_A_VOLUNTEER = N_("This is for the brigade's volunteers. To become one, send /join.")


def quiet_hours_label(start: int | None, end: int | None, _: Translator) -> str:
    """Quiet hours as "22 h–8 h" (French), "22:00–08:00", or "none"."""
    if start is None or end is None:
        return _("none")
    return f"{formats.minute_of_day(start, _)}–{formats.minute_of_day(end, _)}"


def long_date(moment: datetime, _: Translator, tz: tzinfo) -> str:
    """A date in the town's time zone, spelled in the reader's language."""
    return str(format_date(moment.astimezone(tz).date(), "long", locale=_.language))


def _pause_state(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None:
        return _("receiving requests")
    if view.paused_indefinitely:
        return _("paused until you send /resume")
    return _("paused until {date}", date=long_date(view.paused_until, _, tz))


def profile_card(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    """Every answer of the volunteer's profile."""
    skills = [skill_mark(skill, _) for skill in view.skills]
    place = view.address or (_("location pin") if view.latitude is not None else _("not given"))
    status = (
        _("approved") if view.status is VolunteerStatus.APPROVED else _("waiting for a decision")
    )
    cap = (
        _("no limit")
        if view.weekly_cap is None
        else _.ngettext("{count} request a week", "{count} requests a week", view.weekly_cap)
    )
    accepted = (
        format_date(view.charter_accepted_at, "medium", locale=_.language)
        if view.charter_accepted_at
        else "—"
    )
    lines = [
        _("Your volunteer profile"),
        _("Status: {value}", value=status),
        "",
        _("Name: {value}", value=view.display_name),
        _("Phone: {value}", value=view.phone or _("not given")),
        _("Place: {value}", value=place),
        _("Neighbourhood: {value}", value=view.neighbourhood or _("none")),
        _("Distance: up to {value} km", value=formats.number(view.radius_km, _)),
        *filter(None, [reach_line(view.reach, _)]),
        _("Skills: {value}", value=", ".join(skills)),
        _(
            "Availability: {value}",
            value=slots_text(list(view.availability), _) or _("to be agreed each time"),
        ),
        _("Requests: {value}", value=_pause_state(view, _, tz)),
        _(
            "Quiet hours: {value}",
            value=quiet_hours_label(view.quiet_start_minute, view.quiet_end_minute, _),
        ),
        _("Weekly limit: {value}", value=cap),
        _(
            "Charter version {version} accepted on {date}",
            version=view.charter_version or "—",
            date=accepted,
        ),
        "",
        _("Tap a button to change an answer."),
    ]
    return "\n".join(lines)


def profile_keyboard(view: ProfileView, _: Translator) -> InlineKeyboardMarkup:
    """One edit button per field, then pause or resume."""
    edits = [
        inline_button(_(label), Action.PROFILE, "edit", field) for field, label in EDIT_BUTTONS
    ]
    word, label = ("resume", _("▶️ Resume")) if view.paused else ("menu", _("⏸ Pause"))
    toggle = inline_button(label, Action.PAUSE, word)
    return InlineKeyboardMarkup([*chunks(edits, 2), [toggle]])


async def profile_message(
    context: BrigadeContext, who: Speaker
) -> tuple[str, InlineKeyboardMarkup | ReplyKeyboardRemove]:
    """The card and its buttons, or (for someone who is not a volunteer) what it is for."""
    view = await context.services.profile.view(who.member.telegram_id)
    if isinstance(view, Outcome):
        return who._(NOT_A_VOLUNTEER), ReplyKeyboardRemove()
    tz = context.services.settings.tz
    return profile_card(view, who._, tz), profile_keyboard(view, who._)


async def show_profile(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/profile: every answer with its edit button (volunteers only)."""
    text, keyboard = await profile_message(context, who)
    await message.reply_text(text, reply_markup=keyboard)
