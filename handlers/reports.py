"""Coordinators' views and figures: /open, /stuck, /stats, /export and their buttons (`rp:`).

Buttons: `rp:open:<page>` and `rp:stuck:<page>` page through the lists, `rp:remind:<claim id>`
reminds a referent, `rp:stats:<period>` (or `pick`) chooses the period, `rp:show:<period>-<nb>`
(nb: a neighbourhood id or `all`) shows the figures, `rp:export:<period>` sends the files.

Every service call checks the role in the database and ends its transaction before these
handlers talk to Telegram; files and the chart are built in memory and sent directly to the
coordinator who asked (`context.bot`), as an answer rather than a broadcast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_percent
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot import callbacks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.outcomes import Outcome
from bot.services.reports import (
    ExportFile,
    OpenRequest,
    Period,
    ReportService,
    RequestCounts,
    Stats,
    StuckClaim,
    StuckKind,
    Window,
    signals_table,
)
from bot.skills import skill_label
from handlers.common import Speaker, speaker
from handlers.vetting import NOT_A_COORDINATOR

PAGE_SIZE = 5
MAX_BREAKDOWN_LINES = 12
MAX_TEXT = 4000
NO_LONGER_VALID = N_("This button is no longer valid.")

PERIOD_LABELS = {
    Period.THIS_MONTH: N_("This month"),
    Period.LAST_MONTH: N_("Last month"),
    Period.THIS_YEAR: N_("This year"),
    Period.ALL_TIME: N_("All time"),
}
REMIND_ANSWERS = {
    Outcome.DONE: N_("Reminder sent to the referent."),
    Outcome.ALREADY_DONE: N_("This claim is no longer waiting."),
    Outcome.NOT_FOUND: N_("There is no referent to remind for this claim."),
    Outcome.NOT_ALLOWED: NOT_A_COORDINATOR,
}


def report_service(context: BrigadeContext) -> ReportService:
    """The application's ReportService."""
    return context.services.reports


async def _coordinator(update: Update, context: BrigadeContext) -> Speaker | None:
    """The speaker if they are a coordinator; otherwise answer politely and return None."""
    who = await speaker(update, context)
    if who is None:
        return None
    if Role.COORDINATOR in who.member.roles:
        return who
    if update.callback_query is not None:
        await update.callback_query.answer(who._(NOT_A_COORDINATOR), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(who._(NOT_A_COORDINATOR))
    return None


async def _show(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None, *, edit: bool
) -> None:
    """Edit the tapped message, or answer the command with a new one."""
    text = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    query = update.callback_query
    if edit and query is not None:
        with contextlib.suppress(BadRequest):  # "message is not modified": same page again
            await query.edit_message_text(text, reply_markup=keyboard)
        return
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=keyboard)


def _button(text: str, action: Action, *args: int | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callbacks.encode(action, *args))


def _nav_row(remaining: int, number: int, verb: str, _: Translator) -> list[InlineKeyboardButton]:
    row: list[InlineKeyboardButton] = []
    if number > 0:
        row.append(_button(_("◀ Previous"), Action.REPORT, verb, str(number - 1)))
    row.append(_button(_("🔄 Refresh"), Action.REPORT, verb, str(number)))
    if remaining:
        row.append(_button(_("Next ▶"), Action.REPORT, verb, str(number + 1)))
    return row


def _age(since: datetime, now: datetime, _: Translator) -> str:
    return str(format_timedelta(now - since, locale=_.language))


def _where(area: str, neighbourhood: str | None, _: Translator) -> str:
    if neighbourhood and neighbourhood not in area:
        return f"{area}, {neighbourhood}" if area else neighbourhood
    return area or _("no neighbourhood")


# --- /open -------------------------------------------------------------------------------------


def open_card(item: OpenRequest, now: datetime, context: BrigadeContext, _: Translator) -> str:
    """What a coordinator reads about one open request."""
    tz = context.services.settings.tz
    lines = [
        _(
            "#{id} · {skill} · {where}",
            id=item.id,
            skill=skill_label(item.skill_label, _),
            where=_where(item.area_label, item.neighbourhood, _),
        ),
        _(
            "Posted {age} ago ({date}) · {left} of {needed} place(s) left",
            age=_age(item.created_at, now, _),
            date=format_datetime(item.created_at, "d MMM HH:mm", tzinfo=tz, locale=_.language),
            left=item.places_left,
            needed=item.places_needed,
        ),
        _(
            "Tried: {offers} volunteer(s) in {waves} wave(s), {groups} group post(s); "
            "{declined} said it was not for them.",
            offers=item.offered,
            waves=item.waves,
            groups=item.group_posts,
            declined=item.declined,
        ),
    ]
    if item.escalated:
        lines.append(_("The referent and the coordinators were alerted."))
    return "\n".join(lines)


async def open_screen(
    context: BrigadeContext, who: Speaker, number: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of open requests, each with Offer again / Widen / Cancel."""
    _ = who._
    page = await report_service(context).open_requests(
        who.member.telegram_id, offset=number * PAGE_SIZE, limit=PAGE_SIZE
    )
    if isinstance(page, Outcome):
        return _(NOT_A_COORDINATOR), None
    if page.total == 0:
        return _("Every request has its volunteers. 🎉"), None
    now = context.services.clock()
    parts = [_("Requests not yet fully taken: {count}, oldest first.", count=page.total)]
    rows: list[list[InlineKeyboardButton]] = []
    for item in page.items:
        parts.append(open_card(item, now, context, _))
        rows.append(
            [
                _button(
                    _("#{id}: offer again", id=item.id), Action.REQUEST_ADMIN, "resend", item.id
                ),
                _button(_("Widen"), Action.REQUEST_ADMIN, "widen", item.id),
                _button(_("Cancel"), Action.REQUEST_ADMIN, "cancel", item.id),
            ]
        )
    if not page.items:
        parts.append(_("Nothing on this page any more."))
    if page.remaining:
        parts.append(_("… and {count} more.", count=page.remaining))
    rows.append(_nav_row(page.remaining, number, "open", _))
    return "\n\n".join(parts), InlineKeyboardMarkup(rows)


async def open_requests(update: Update, context: BrigadeContext) -> None:
    """/open: requests still waiting for volunteers."""
    who = await _coordinator(update, context)
    if who is None:
        return
    text, keyboard = await open_screen(context, who, 0)
    await _show(update, text, keyboard, edit=False)


# --- /stuck ------------------------------------------------------------------------------------


def stuck_card(item: StuckClaim, now: datetime, _: Translator) -> str:
    """What a coordinator reads about one stuck claim."""
    volunteer = item.volunteer_name or _("a former volunteer")
    referent = item.referent_name or _("no referent")
    head = _(
        "#{id} ({skill}): {volunteer} → referent {referent}",
        id=item.request_id,
        skill=skill_label(item.skill_label, _),
        volunteer=volunteer,
        referent=referent,
    )
    if item.kind is StuckKind.UNCONFIRMED:
        body = _(
            "Said done {age} ago, not confirmed by the referent.", age=_age(item.since, now, _)
        )
    else:
        body = _('Taken {age} ago; no answer to "is it done?".', age=_age(item.since, now, _))
    return head + "\n" + body


async def stuck_screen(
    context: BrigadeContext, who: Speaker, number: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of stuck claims, each with a reminder button for its referent."""
    _ = who._
    page = await report_service(context).stuck_claims(
        who.member.telegram_id, offset=number * PAGE_SIZE, limit=PAGE_SIZE
    )
    if isinstance(page, Outcome):
        return _(NOT_A_COORDINATOR), None
    if page.total == 0:
        return _("No claim is waiting too long. 🎉"), None
    now = context.services.clock()
    parts = [
        _(
            "Claims waiting too long: {count}, oldest first (said done but unconfirmed for 48 h, "
            "or no answer from the volunteer after their time).",
            count=page.total,
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for item in page.items:
        parts.append(stuck_card(item, now, _))
        if item.can_remind:
            rows.append(
                [
                    _button(
                        _("🔔 Remind the referent of #{id}", id=item.request_id),
                        Action.REPORT,
                        "remind",
                        str(item.claim_id),
                    )
                ]
            )
    if not page.items:
        parts.append(_("Nothing on this page any more."))
    if page.remaining:
        parts.append(_("… and {count} more.", count=page.remaining))
    rows.append(_nav_row(page.remaining, number, "stuck", _))
    return "\n\n".join(parts), InlineKeyboardMarkup(rows)


async def stuck(update: Update, context: BrigadeContext) -> None:
    """/stuck: claims waiting too long for an answer."""
    who = await _coordinator(update, context)
    if who is None:
        return
    text, keyboard = await stuck_screen(context, who, 0)
    await _show(update, text, keyboard, edit=False)


# --- /stats ------------------------------------------------------------------------------------


def _period_keyboard(verb: str, _: Translator) -> InlineKeyboardMarkup:
    buttons = [
        _button(_(label), Action.REPORT, verb, period.value)
        for period, label in PERIOD_LABELS.items()
    ]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:]])


def period_text(window: Window, _: Translator) -> str:
    """The period in words: "November 2026", "2026", "all time"."""
    if window.first_day is None:
        return _("all time")
    if window.period is Period.THIS_YEAR:
        return f"{window.first_day:%Y}"
    return str(format_date(window.first_day, "LLLL yyyy", locale=_.language))


def duration_text(value: timedelta, _: Translator) -> str:
    """A duration as minutes, hours and minutes, or days and hours."""
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return _("{minutes} min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes}", hours=hours, minutes=f"{minutes:02d}")
    days, hours = divmod(hours, 24)
    return _("{days} d {hours} h", days=days, hours=hours)


def hours_text(minutes: int, _: Translator) -> str:
    """Time given, in hours and minutes."""
    return duration_text(timedelta(minutes=minutes), _) if minutes else _("0 h")


def _counts_line(counts: RequestCounts, _: Translator) -> str:
    return _(
        "{created} created, {claimed} taken, {closed} confirmed",
        created=counts.created,
        claimed=counts.claimed,
        closed=counts.closed,
    )


def _capped(lines: Sequence[str], _: Translator) -> list[str]:
    if len(lines) <= MAX_BREAKDOWN_LINES:
        return list(lines)
    rest = len(lines) - MAX_BREAKDOWN_LINES
    return [*lines[:MAX_BREAKDOWN_LINES], _("… and {count} more.", count=rest)]


def stats_text(stats: Stats, context: BrigadeContext, _: Translator) -> str:
    """The figures as a coordinator reads them (definitions: ReportService.stats)."""
    counts = stats.requests
    rate = stats.completion_rate
    lines = [
        _(
            "📊 {town} — {period} — {where}",
            town=context.services.settings.town_name,
            period=period_text(stats.window, _),
            where=stats.neighbourhood or _("all neighbourhoods"),
        ),
        "",
        _("Requests created: {count}", count=counts.created),
        _("• taken by a volunteer: {count}", count=counts.claimed),
        _("• done: {count}", count=counts.done),
        _("• confirmed (closed): {count}", count=counts.closed),
        _("• cancelled: {count}", count=counts.cancelled),
        _("• expired: {count}", count=counts.expired),
        _(
            "Median time to first claim: {value}",
            value=(
                duration_text(stats.median_first_claim, _)
                if stats.median_first_claim is not None
                else "—"
            ),
        ),
        _(
            "Completion rate: {value} (confirmed ÷ (created − cancelled))",
            value=format_percent(rate, locale=_.language) if rate is not None else "—",
        ),
        _("Active volunteers: {count}", count=stats.active_volunteers),
        _(
            "Hours given: {hours} ({count} service(s) done)",
            hours=hours_text(stats.minutes_given, _),
            count=stats.services_done,
        ),
    ]
    if stats.by_skill:
        lines += ["", _("By skill:")]
        lines += _capped(
            [
                f"• {skill_label(item.label, _)}: {_counts_line(item.requests, _)}"
                for item in stats.by_skill
            ],
            _,
        )
    if stats.by_neighbourhood and stats.neighbourhood_id is None:
        lines += ["", _("By neighbourhood:")]
        lines += _capped(
            [
                "• "
                + _(
                    "{name}: {counts}; {volunteers} volunteer(s), {hours}",
                    name=item.name or _("no neighbourhood"),
                    counts=_counts_line(item.requests, _),
                    volunteers=item.active_volunteers,
                    hours=hours_text(item.minutes_given, _),
                )
                for item in stats.by_neighbourhood
            ],
            _,
        )
    return "\n".join(lines)


async def stats(update: Update, context: BrigadeContext) -> None:
    """/stats: choose a period (then a neighbourhood) for the figures."""
    who = await _coordinator(update, context)
    if who is None:
        return
    await _show(
        update, who._("Figures: which period?"), _period_keyboard("stats", who._), edit=False
    )


async def _choose_neighbourhood(
    update: Update, context: BrigadeContext, who: Speaker, period: Period
) -> None:
    _ = who._
    views = await context.services.neighbourhoods.all()
    if not views:
        await _show_stats(update, context, who, period, None)
        return
    buttons = [_button(_("All neighbourhoods"), Action.REPORT, "show", f"{period.value}-all")]
    buttons += [_button(v.name, Action.REPORT, "show", f"{period.value}-{v.id}") for v in views]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_button(_("◀ Other period"), Action.REPORT, "stats", "pick")])
    window = report_service(context).window(period)
    await _show(
        update,
        _("Figures for {period}: which neighbourhood?", period=period_text(window, _)),
        InlineKeyboardMarkup(rows),
        edit=True,
    )


async def _show_stats(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    period: Period,
    neighbourhood_id: int | None,
) -> None:
    _ = who._
    result = await report_service(context).stats(who.member.telegram_id, period, neighbourhood_id)
    if result is Outcome.NOT_FOUND:
        await _show(update, _("This neighbourhood no longer exists."), None, edit=True)
        return
    if isinstance(result, Outcome):
        await _show(update, _(NOT_A_COORDINATOR), None, edit=True)
        return
    keyboard = InlineKeyboardMarkup(
        [[_button(_("◀ Other figures"), Action.REPORT, "stats", "pick")]]
    )
    await _show(update, stats_text(result, context, _), keyboard, edit=True)


# --- /export -----------------------------------------------------------------------------------


async def export(update: Update, context: BrigadeContext) -> None:
    """/export: choose the period of the files."""
    who = await _coordinator(update, context)
    if who is None:
        return
    await _show(
        update,
        who._(
            "Export which period? You will receive the requests, the claims and the volunteers "
            "as CSV files (no name, phone or address), and a monthly chart.",
        ),
        _period_keyboard("export", who._),
        edit=False,
    )


async def _progress(message: Message, text: str) -> None:
    with contextlib.suppress(BadRequest):
        await message.edit_text(text)


async def _send_export(
    update: Update, context: BrigadeContext, who: Speaker, period: Period
) -> None:
    """Build each file in memory and send it at once, editing a "Preparing… n/N" message."""
    _ = who._
    service = report_service(context)
    telegram_id = who.member.telegram_id
    window = service.window(period)
    builders: list[Callable[[], Awaitable[ExportFile | Outcome | None]]] = [
        lambda: service.export_requests(telegram_id, period, _),
        lambda: service.export_claims(telegram_id, period),
        lambda: service.export_volunteers(telegram_id, _),
    ]
    if signals_table() is not None:
        builders.append(lambda: service.export_signals(telegram_id, period))
    steps = len(builders) + 1  # the files, then the chart
    progress = await context.bot.send_message(
        telegram_id, _("Preparing the export… {done}/{steps}", done=0, steps=steps)
    )
    sent = 0
    for done, build in enumerate(builders, start=1):
        file = await build()  # its transaction has ended when it returns
        if isinstance(file, Outcome):
            await _progress(progress, _(NOT_A_COORDINATOR))
            return
        if file is not None:
            await context.bot.send_document(
                telegram_id,
                file.content,
                filename=file.filename,
                caption=_("{name}: {count} row(s)", name=file.filename, count=file.rows),
            )
            sent += 1
        await _progress(progress, _("Preparing the export… {done}/{steps}", done=done, steps=steps))
    chart = await service.monthly_chart(telegram_id, period, _)
    if isinstance(chart, Outcome):
        await _progress(progress, _(NOT_A_COORDINATOR))
        return
    await context.bot.send_photo(
        telegram_id,
        chart,
        filename=f"brigade-chart-{period.value}.png",
        caption=_(
            "Requests created and completed per neighbourhood and month — {period}",
            period=period_text(window, _),
        ),
    )
    await _progress(
        progress,
        _(
            "Export ready ({period}): {count} CSV file(s) and the monthly chart. Times are in "
            "the town's time zone ({tz}).",
            period=period_text(window, _),
            count=sent,
            tz=context.services.settings.timezone,
        ),
    )


# --- buttons -----------------------------------------------------------------------------------


def _period(word: str) -> Period | None:
    try:
        return Period(word)
    except ValueError:
        return None


def _page_number(word: str) -> int:
    return int(word) if word.isdigit() and len(word) <= 6 else 0


async def on_report_button(update: Update, context: BrigadeContext) -> None:
    """Every `rp:` button: pages, reminders, the figures' choices, exports."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return
    _ = who._
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.REPORT:
        await query.answer(_(NO_LONGER_VALID))
        return
    verb, value = parsed.str_arg(0), parsed.str_arg(1)
    if verb == "open":
        await query.answer()
        text, keyboard = await open_screen(context, who, _page_number(value))
        await _show(update, text, keyboard, edit=True)
    elif verb == "stuck":
        await query.answer()
        text, keyboard = await stuck_screen(context, who, _page_number(value))
        await _show(update, text, keyboard, edit=True)
    elif verb == "remind" and value.isdigit():
        outcome = await report_service(context).remind_referent(who.member.telegram_id, int(value))
        await query.answer(_(REMIND_ANSWERS.get(outcome, NO_LONGER_VALID)))
    elif verb == "stats" and value == "pick":
        await query.answer()
        await _show(update, _("Figures: which period?"), _period_keyboard("stats", _), edit=True)
    elif verb == "stats" and (period := _period(value)) is not None:
        await query.answer()
        await _choose_neighbourhood(update, context, who, period)
    elif verb == "show" and "-" in value:
        period_word, _sep, place = value.partition("-")
        period = _period(period_word)
        if period is None or not (place == "all" or place.isdigit()):
            await query.answer(_(NO_LONGER_VALID))
            return
        await query.answer()
        await _show_stats(update, context, who, period, None if place == "all" else int(place))
    elif verb == "export" and (period := _period(value)) is not None:
        await query.answer(_("Preparing the export…"))
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(None)
        await _send_export(update, context, who, period)
    else:
        await query.answer(_(NO_LONGER_VALID))
