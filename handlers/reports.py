"""Coordinators' views and figures: /open, /stuck, /stats, /export and their buttons (`rp:`).

Buttons: `rp:open:<page>` and `rp:stuck:<page>` page through the lists, `rp:remind:<claim id>`
reminds a referent, `rp:stats:<period>` (or `pick`) chooses the period, `rp:show:<period>-<nb>`
(nb: a neighbourhood id or `all`) shows the figures, `rp:export:<period>` sends the files.

Every service call checks the role in the database and ends its transaction before these
handlers talk to Telegram; files and the chart are built in memory and sent directly to the
coordinator who asked (`context.bot`), as an answer rather than a broadcast. How each screen
reads is `bot.messages.reports`'.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import BadRequest

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages import reports as screens
from bot.messages import spreadsheets
from bot.messages.base import Rendered, Town
from bot.services.outcomes import Outcome
from bot.services.reports import ExportFile, Period, ReportService, signals_table
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Speaker

PAGE_SIZE = 5
MAX_TEXT = 4000


def report_service(context: BrigadeContext) -> ReportService:
    """The application's ReportService."""
    return context.services.reports


async def _show(update: Update, screen: Rendered, *, edit: bool) -> None:
    """Edit the tapped message, or answer the command with a new one."""
    text = screen.text if len(screen.text) <= MAX_TEXT else screen.text[: MAX_TEXT - 1] + "…"
    query = update.callback_query
    if edit and query is not None:
        with contextlib.suppress(BadRequest):  # "message is not modified": same page again
            await query.edit_message_text(text, reply_markup=screen.keyboard)
        return
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=screen.keyboard)


# --- /open and /stuck --------------------------------------------------------------------------


async def open_screen(context: BrigadeContext, who: Speaker, number: int) -> Rendered:
    """One page of open requests, each with Offer again / Widen / Cancel."""
    page = await report_service(context).open_requests(
        who.member.telegram_id, offset=number * PAGE_SIZE, limit=PAGE_SIZE
    )
    if isinstance(page, Outcome):
        return Rendered(who._(NOT_A_COORDINATOR))
    town = Town.of(context.services.settings)
    return screens.open_page(page, number, context.services.clock(), who._, town)


async def stuck_screen(context: BrigadeContext, who: Speaker, number: int) -> Rendered:
    """One page of stuck claims, each with a reminder button for its referent."""
    page = await report_service(context).stuck_claims(
        who.member.telegram_id, offset=number * PAGE_SIZE, limit=PAGE_SIZE
    )
    if isinstance(page, Outcome):
        return Rendered(who._(NOT_A_COORDINATOR))
    return screens.stuck_page(page, number, context.services.clock(), who._)


async def open_requests(
    update: Update, context: BrigadeContext, who: Speaker, _message: Message
) -> None:
    """/open: requests still waiting for volunteers."""
    await _show(update, await open_screen(context, who, 0), edit=False)


async def stuck(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/stuck: claims waiting too long for an answer."""
    await _show(update, await stuck_screen(context, who, 0), edit=False)


# --- /stats ------------------------------------------------------------------------------------


async def stats(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/stats: choose a period (then a neighbourhood) for the figures."""
    await _show(update, screens.which_period(who._), edit=False)


async def _choose_neighbourhood(
    update: Update, context: BrigadeContext, who: Speaker, period: Period
) -> None:
    views = await context.services.neighbourhoods.all()
    if not views:
        await _show_stats(update, context, who, period, None)
        return
    window = report_service(context).window(period)
    choices = [(view.id, view.name) for view in views]
    await _show(update, screens.which_neighbourhood(period, window, choices, who._), edit=True)


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
        screen = Rendered(_("This neighbourhood no longer exists."))
    elif isinstance(result, Outcome):
        screen = Rendered(_(NOT_A_COORDINATOR))
    else:
        screen = screens.stats_screen(result, _, Town.of(context.services.settings))
    await _show(update, screen, edit=True)


# --- /export -----------------------------------------------------------------------------------


async def export(update: Update, context: BrigadeContext, who: Speaker, _message: Message) -> None:
    """/export: choose the period of the files."""
    await _show(update, screens.which_export(who._), edit=False)


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
        lambda: service.export_claims(telegram_id, period, _),
        lambda: service.export_visits(telegram_id, period, _),
        lambda: service.export_volunteers(telegram_id, _),
    ]
    if signals_table() is not None:
        builders.append(lambda: service.export_signals(telegram_id, period, _))
    steps = len(builders) + 2  # the files, the workbook, then the chart
    progress = await context.bot.send_message(telegram_id, screens.export_progress(0, steps, _))
    sent = 0
    built: list[ExportFile] = []
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
                caption=screens.file_caption(file.filename, file.rows, _),
            )
            sent += 1
            built.append(file)
        await _progress(progress, screens.export_progress(done, steps, _))
    # The same tables in one workbook, in the reader's words (the CSV files keep stable names).
    await context.bot.send_document(
        telegram_id,
        spreadsheets.workbook(built, _),
        filename=spreadsheets.workbook_name(window),
        caption=screens.workbook_caption(_),
    )
    await _progress(progress, screens.export_progress(len(builders) + 1, steps, _))
    chart = await service.monthly_chart(telegram_id, period, _)
    if isinstance(chart, Outcome):
        await _progress(progress, _(NOT_A_COORDINATOR))
        return
    await context.bot.send_photo(
        telegram_id,
        chart,
        filename=f"brigade-chart-{period.value}.png",
        caption=screens.chart_caption(window, _),
    )
    timezone = context.services.settings.timezone
    await _progress(progress, screens.export_ready(window, sent, timezone, _))


# --- buttons -----------------------------------------------------------------------------------


def _period(word: str) -> Period | None:
    try:
        return Period(word)
    except ValueError:
        return None


def _page_number(word: str) -> int:
    return int(word) if word.isdigit() and len(word) <= 6 else 0


async def on_report_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Every `rp:` button: pages, reminders, the figures' choices, exports."""
    query = query_of(update)
    _ = who._
    verb, value = button.str_arg(0), button.str_arg(1)
    if verb in {"open", "stuck"}:
        await query.answer()
        screen = open_screen if verb == "open" else stuck_screen
        await _show(update, await screen(context, who, _page_number(value)), edit=True)
    elif verb == "remind" and value.isdigit():
        outcome = await report_service(context).remind_referent(who.member.telegram_id, int(value))
        answer = NOT_A_COORDINATOR if outcome is Outcome.NOT_ALLOWED else NO_LONGER_VALID
        await query.answer(_(screens.REMIND_ANSWERS.get(outcome, answer)))
    elif verb == "stats" and value == "pick":
        await query.answer()
        await _show(update, screens.which_period(_), edit=True)
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
