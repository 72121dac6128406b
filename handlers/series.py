"""Recurring care: /series lists and stops series; "🔁 Make it recurring" turns a request into one.

Buttons (Action.SERIES, word + id), one handler per verb, each tap answered once; the tapped
message shows the next step:
- ("make", request id): how often? → ("f7" | "f14", request id)
- for a request without a chosen day: which weekday? ("f7d3", id) → what time? ("f7d3h14", id)
- ("stop", series id): no further occurrence; the ones already posted are listed with a
  Cancel button each (Action.REQUEST_ADMIN "cancel", handled by handlers.requests).

Occurrences are posted by `SeriesService.run_due`, swept with the request timers (bot/app.py).
"""

from __future__ import annotations

import contextlib
import logging
import re

from babel.dates import get_day_names
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot import formats
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.messages.series import schedule_text
from bot.services.outcomes import Outcome
from bot.services.series import SeriesService, SeriesSource, SeriesView
from bot.skills import skill_label
from bot.text import one_line
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, Speaker

log = logging.getLogger(__name__)

# Times of day offered when the request had none: (hour, label).
HOURS = (9, 11, 14, 16, 18)
_CHOICE = re.compile(r"^f(7|14)(?:d([0-6])(?:h(\d{1,2}))?)?$")

NOT_ALLOWED = N_("Recurring requests are managed by their referent and the coordinators.")
OUTCOME_TEXTS = {
    Outcome.NOT_FOUND: NO_LONGER_VALID,
    Outcome.NOT_ALLOWED: NOT_ALLOWED,
    Outcome.ALREADY_DONE: N_("This request is already recurring."),
    Outcome.INVALID: N_("This request cannot be made recurring (cancelled, or nobody to help)."),
}


def series_service(context: BrigadeContext) -> SeriesService:
    """The application's SeriesService."""
    return context.services.series


def make_recurring_button(request_id: int, _: Translator) -> InlineKeyboardButton:
    """The button a referent's notice can carry to turn its request into a series."""
    return inline_button(_("🔁 Make it recurring"), Action.SERIES, "make", request_id)


def _button(label: str, word: str, value: int) -> InlineKeyboardButton:
    return inline_button(label, Action.SERIES, word, value)


def _when(view: SeriesView, context: BrigadeContext, _: Translator) -> str:
    return formats.day_and_time(view.next_occurrence_at, _, context.services.settings.tz)


def series_line(view: SeriesView, context: BrigadeContext, _: Translator) -> str:
    """One series in a list."""
    lines = [
        _(
            "🔁 #{id} {skill}, {schedule}",
            id=view.id,
            skill=skill_label(view.skill_label, _),
            schedule=schedule_text(view.interval_days, view.weekday, view.local_minute, _),
        )
    ]
    if view.description:
        # One line in a list: a line break in it would read as the next series' lines.
        lines.append("   " + one_line(view.description))
    lines.append(
        "   "
        + _(
            "Next: {when}. Usual volunteer: {name}.",
            when=_when(view, context, _),
            name=view.regular_name or _("none yet"),
        )
    )
    return "\n".join(lines)


async def series_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/series: running series (with Stop) and recent requests that can be made recurring."""
    _ = who._
    service = series_service(context)
    views = await service.active(who.member.telegram_id)
    if isinstance(views, Outcome):
        await message.reply_text(_(NOT_ALLOWED))
        return
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    if views:
        lines.append(_("Recurring requests:"))
        for view in views:
            lines.append(series_line(view, context, _))
            rows.append([_button(_("⏹ Stop #{id}", id=view.id), "stop", view.id)])
    else:
        lines.append(_("No recurring request is running."))
    if Role.REFERENT in who.member.roles:
        candidates = await service.recurring_candidates(who.member.telegram_id)
        if candidates:
            lines += ["", _("Requests of yours that a volunteer took, which can repeat:")]
            for request_id, label in candidates:
                rows.append(
                    [
                        _button(
                            _(
                                "🔁 Make #{id} ({skill}) recurring",
                                id=request_id,
                                skill=skill_label(label, _),
                            ),
                            "make",
                            request_id,
                        )
                    ]
                )
    await message.reply_text(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def _edit(update: Update, text: str, rows: list[list[InlineKeyboardButton]]) -> None:
    """Show the next step in the tapped message (a new message if it cannot be edited)."""
    query = query_of(update)
    markup = InlineKeyboardMarkup(rows) if rows else None
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError:
        if query.message is not None:
            await query.get_bot().send_message(query.message.chat.id, text, reply_markup=markup)


async def on_schedule(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """How often, which day, what time (`f7`, `f7d3`, `f7d3h14`…): the next question, or done."""
    query = query_of(update)
    _ = who._
    word, target = button.str_arg(0), button.int_arg(1)
    choice = _CHOICE.match(word)
    if choice is None:
        await query.answer(_(NO_LONGER_VALID))
        return
    interval = int(choice.group(1))
    weekday = int(choice.group(2)) if choice.group(2) is not None else None
    hour = int(choice.group(3)) if choice.group(3) is not None else None
    if hour is not None and hour not in HOURS:
        await query.answer(_(NO_LONGER_VALID))
        return
    source = await series_service(context).source(who.member.telegram_id, target)
    if isinstance(source, Outcome):
        await query.answer(_(OUTCOME_TEXTS.get(source, NO_LONGER_VALID)), show_alert=True)
        return
    if source.weekday is None and weekday is None:
        await query.answer()
        await _ask_weekday(update, who, source, interval)
        return
    if source.weekday is None and hour is None:
        assert weekday is not None
        await query.answer()
        await _ask_hour(update, who, source, interval, weekday)
        return
    await _create(update, context, who, source, interval, weekday, hour)


async def on_make(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """🔁 Make it recurring: ask how often, in a new message."""
    query = query_of(update)
    _ = who._
    request_id = button.int_arg(1)
    source = await series_service(context).source(who.member.telegram_id, request_id)
    if isinstance(source, Outcome):
        await query.answer(_(OUTCOME_TEXTS.get(source, NO_LONGER_VALID)), show_alert=True)
        return
    await query.answer()
    text = _(
        "Make request #{id} ({skill}) recurring: the same request will be posted again, "
        "a few days ahead, and offered first to the volunteer who took it last ({name}). "
        "How often?",
        id=source.request_id,
        skill=skill_label(source.skill_label, _),
        name=source.regular_name or _("nobody yet"),
    )
    # The tapped message may be a notice worth keeping: the choice comes as a new message.
    assert query.message is not None
    await query.get_bot().send_message(
        query.message.chat.id,
        text,
        reply_markup=InlineKeyboardMarkup(
            [
                [_button(_("Every week"), "f7", request_id)],
                [_button(_("Every two weeks"), "f14", request_id)],
            ]
        ),
    )


async def _ask_weekday(update: Update, who: Speaker, source: SeriesSource, interval: int) -> None:
    _ = who._
    names = get_day_names("wide", locale=_.language)
    rows = [[_button(names[day], f"f{interval}d{day}", source.request_id)] for day in range(7)]
    await _edit(update, _("On which day of the week?"), rows)


async def _ask_hour(
    update: Update, who: Speaker, source: SeriesSource, interval: int, weekday: int
) -> None:
    _ = who._
    rows = [
        [
            _button(
                formats.minute_of_day(hour * 60, _),
                f"f{interval}d{weekday}h{hour}",
                source.request_id,
            )
        ]
        for hour in HOURS
    ]
    day = get_day_names("wide", locale=_.language)[weekday]
    await _edit(update, _("At what time, on {day}?", day=day), rows)


async def _create(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    source: SeriesSource,
    interval: int,
    weekday: int | None,
    hour: int | None,
) -> None:
    query = query_of(update)
    _ = who._
    if source.weekday is not None:
        weekday = hour = None  # the request's own day and time
    created = await series_service(context).create(
        who.member.telegram_id,
        source.request_id,
        interval,
        weekday=weekday,
        local_minute=hour * 60 if hour is not None else None,
    )
    if isinstance(created, Outcome):
        await query.answer(_(OUTCOME_TEXTS.get(created, NO_LONGER_VALID)), show_alert=True)
        return
    await query.answer(_("Done: the request is now recurring."))
    text = _(
        "🔁 Request #{id} is now recurring ({schedule}). The next one, {when}, will be posted "
        "a few days ahead and offered first to {name}. Stop it at any time with the button "
        "below or with /series.",
        id=source.request_id,
        schedule=schedule_text(created.interval_days, created.weekday, created.local_minute, _),
        when=_when(created, context, _),
        name=created.regular_name or _("the volunteer who takes it"),
    )
    await _edit(update, text, [[_button(_("⏹ Stop the series"), "stop", created.id)]])


async def on_stop(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """⏹ Stop: no further occurrence; the ones already posted can be cancelled one by one."""
    query = query_of(update)
    _ = who._
    series_id = button.int_arg(1)
    stopped = await series_service(context).stop(who.member.telegram_id, series_id)
    if stopped.outcome in {Outcome.NOT_FOUND, Outcome.NOT_ALLOWED}:
        await query.answer(_(OUTCOME_TEXTS[stopped.outcome]), show_alert=True)
        return
    await query.answer(
        _("Stopped: no further request will be posted.")
        if stopped.outcome is Outcome.DONE
        else _("This series was already stopped.")
    )
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    if stopped.outcome is not Outcome.DONE:
        return
    assert query.message is not None
    text = _("The series #{id} is stopped: no further request will be posted.", id=series_id)
    rows: list[list[InlineKeyboardButton]] = []
    if stopped.open_request_ids:
        text += "\n" + _(
            "Already posted and still open: {ids}. They stay offered unless you cancel them.",
            ids=", ".join(f"#{request_id}" for request_id in stopped.open_request_ids),
        )
        rows = [
            [
                inline_button(
                    _("Cancel request #{id}", id=request_id),
                    Action.REQUEST_ADMIN,
                    "cancel",
                    request_id,
                )
            ]
            for request_id in stopped.open_request_ids
        ]
    await query.get_bot().send_message(
        query.message.chat.id, text, reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )
