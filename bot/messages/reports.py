"""How the coordinators' views read: /open and /stuck pages, /stats figures, /export's words.

The handlers fetch a page or the figures (`bot.services.reports`) and show what these render.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from babel.dates import format_date, format_timedelta
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import formats
from bot.callbacks import Action
from bot.i18n import N_, Translator, with_town
from bot.messages.base import Rendered, Town, button, keyboard
from bot.messages.closing import tried_line
from bot.money import money_text
from bot.services.outcomes import Outcome
from bot.services.reports import (
    OpenRequest,
    Page,
    Period,
    RequestCounts,
    Stats,
    StuckClaim,
    StuckKind,
    Window,
)
from bot.skills import skill_label

MAX_BREAKDOWN_LINES = 12

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
}


def _age(since: datetime, now: datetime, _: Translator) -> str:
    return str(format_timedelta(now - since, locale=_.language))


def _where(area: str, neighbourhood: str | None, _: Translator) -> str:
    if neighbourhood and neighbourhood not in area:
        return f"{area}, {neighbourhood}" if area else neighbourhood
    return area or _("no neighbourhood")


def _page(
    page: Page[OpenRequest] | Page[StuckClaim],
    head: str,
    cards: list[str],
    rows: list[list[InlineKeyboardButton]],
    number: int,
    verb: str,
    _: Translator,
) -> Rendered:
    """A page of cards under its heading, with Previous / Refresh / Next."""
    parts = [head, *cards]
    if not page.items:
        parts.append(_("Nothing on this page any more."))
    if page.remaining:
        parts.append(_.ngettext("… and {count} more.", "… and {count} more.", page.remaining))
    nav = [button(_("🔄 Refresh"), Action.REPORT, verb, str(number))]
    if number > 0:
        nav.insert(0, button(_("◀ Previous"), Action.REPORT, verb, str(number - 1)))
    if page.remaining:
        nav.append(button(_("Next ▶"), Action.REPORT, verb, str(number + 1)))
    return Rendered("\n\n".join(parts), InlineKeyboardMarkup([*rows, nav]))


# --- /open -------------------------------------------------------------------------------------


def open_card(item: OpenRequest, now: datetime, tz: tzinfo, _: Translator) -> str:
    """What a coordinator reads about one open request."""
    lines = [
        _(
            "#{id} · {skill} · {where}",
            id=item.id,
            skill=skill_label(item.skill_label, _),
            where=_where(item.area_label, item.neighbourhood, _),
        ),
        _(
            "Posted {age} ago ({date}) · places left: {left}/{needed}",
            age=_age(item.created_at, now, _),
            date=formats.short_date_and_time(item.created_at, _, tz),
            left=item.places_left,
            needed=item.places_needed,
        ),
        tried_line(item.offered, item.waves, item.group_posts, item.declined, _),
    ]
    if item.escalated:
        lines.append(_("The referent and the coordinators were alerted."))
    return "\n".join(lines)


def open_page(
    page: Page[OpenRequest], number: int, now: datetime, _: Translator, town: Town
) -> Rendered:
    """One page of open requests, each with Offer again / Widen / Cancel."""
    if page.total == 0:
        return Rendered(_("Every request has its volunteers. 🎉"))
    head = _("Requests not yet fully taken: {count}, oldest first.", count=page.total)
    rows = [
        [
            button(_("#{id}: offer again", id=item.id), Action.REQUEST_ADMIN, "resend", item.id),
            button(_("Widen"), Action.REQUEST_ADMIN, "widen", item.id),
            button(_("Cancel"), Action.REQUEST_ADMIN, "cancel", item.id),
        ]
        for item in page.items
    ]
    cards = [open_card(item, now, town.tz, _) for item in page.items]
    return _page(page, head, cards, rows, number, "open", _)


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


def stuck_page(page: Page[StuckClaim], number: int, now: datetime, _: Translator) -> Rendered:
    """One page of stuck claims, each with a reminder button for its referent."""
    if page.total == 0:
        return Rendered(_("No claim is waiting too long. 🎉"))
    head = _(
        "Claims waiting too long: {count}, oldest first (said done but unconfirmed for 48 h, "
        "or no answer from the volunteer after their time).",
        count=page.total,
    )
    rows = [
        [
            button(
                _("🔔 Remind the referent of #{id}", id=item.request_id),
                Action.REPORT,
                "remind",
                str(item.claim_id),
            )
        ]
        for item in page.items
        if item.can_remind
    ]
    cards = [stuck_card(item, now, _) for item in page.items]
    return _page(page, head, cards, rows, number, "stuck", _)


# --- /stats ------------------------------------------------------------------------------------


def period_keyboard(verb: str, _: Translator) -> InlineKeyboardMarkup:
    """The four periods, two by two."""
    buttons = [
        button(_(label), Action.REPORT, verb, period.value)
        for period, label in PERIOD_LABELS.items()
    ]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:]])


def which_period(_: Translator) -> Rendered:
    """/stats: the figures of which period?"""
    return Rendered(_("Figures: which period?"), period_keyboard("stats", _))


def which_neighbourhood(
    period: Period, window: Window, neighbourhoods: Sequence[tuple[int, str]], _: Translator
) -> Rendered:
    """The figures of the period: for all neighbourhoods, or one (id, name)."""
    choices = [button(_("All neighbourhoods"), Action.REPORT, "show", f"{period.value}-all")]
    choices += [
        button(name, Action.REPORT, "show", f"{period.value}-{nb_id}")
        for nb_id, name in neighbourhoods
    ]
    rows = [choices[i : i + 2] for i in range(0, len(choices), 2)]
    rows.append([button(_("◀ Other period"), Action.REPORT, "stats", "pick")])
    text = _("Figures for {period}: which neighbourhood?", period=period_text(window, _))
    return Rendered(text, InlineKeyboardMarkup(rows))


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
    """Time given, in hours and minutes: a town counts volunteer hours, never 24-hour days."""
    if minutes < 60:
        return _("{minutes} min", minutes=minutes) if minutes else _("0 h")
    hours, minutes = divmod(minutes, 60)
    return _("{hours} h {minutes}", hours=hours, minutes=f"{minutes:02d}")


def _counts_line(counts: RequestCounts, _: Translator) -> str:
    return _(
        "created: {created}, taken: {claimed}, confirmed: {closed}",
        created=counts.created,
        claimed=counts.claimed,
        closed=counts.closed,
    )


def _capped(lines: Sequence[str], _: Translator) -> list[str]:
    if len(lines) <= MAX_BREAKDOWN_LINES:
        return list(lines)
    rest = len(lines) - MAX_BREAKDOWN_LINES
    return [
        *lines[:MAX_BREAKDOWN_LINES],
        _.ngettext("… and {count} more.", "… and {count} more.", rest),
    ]


def stats_text(stats: Stats, _: Translator, town: Town) -> str:
    """The figures as a coordinator reads them (definitions: ReportService.stats)."""
    counts = stats.requests
    rate = stats.completion_rate
    median = stats.median_first_claim
    lines = [
        with_town(
            _,
            town.name,
            N_("📊 {town} — {period} — {where}"),
            N_("📊 {period} — {where}"),
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
        _("• waiting for validation: {count}", count=counts.to_validate),
        _("• declined at validation: {count}", count=counts.declined),
        _(
            "Median time to first claim: {value}",
            value=duration_text(median, _) if median is not None else "—",
        ),
        _(
            "Completion rate: {value} (requests confirmed done, cancelled ones left out)",
            value=formats.percent(rate, _) if rate is not None else "—",
        ),
        _("Active volunteers: {count}", count=stats.active_volunteers),
        _(
            "Hours given: {hours} — services done: {count}",
            hours=hours_text(stats.minutes_given, _),
            count=stats.services_done,
        ),
    ]
    lines += visits_lines(stats, _, town)
    if stats.by_skill:
        lines += ["", _("By skill:")]
        lines += _capped(
            [
                _(
                    "• {skill} — {counts}",
                    skill=skill_label(item.label, _),
                    counts=_counts_line(item.requests, _),
                )
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
                    "{name} — {counts}; active volunteers: {volunteers}; hours: {hours}",
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


def visits_lines(stats: Stats, _: Translator, town: Town) -> list[str]:
    """How the people seemed at the visits, and the money advanced by month."""
    visits = stats.visits
    if visits is None:
        return []
    lines = [
        "",
        _("Visit reports: {count}", count=visits.visits),
        _(
            "• 😊 fine: {fine} · 🙂 would like more visits: {more} · 😟 worried: {worried} · "
            "no answer: {none}",
            fine=visits.fine,
            more=visits.more_visits,
            worried=visits.worried,
            none=visits.unanswered,
        ),
    ]
    spent = [month for month in stats.visit_months if month.expenses]
    if not spent:
        return [*lines, _("Money advanced: none")]
    lines.append(_("Money advanced:"))
    lines += _capped(
        [
            "• "
            + _(
                "{month}: {amount} (visits: {count})",
                month=format_date(month.month, "LLLL yyyy", locale=_.language),
                amount=money_text(month.expense_cents, town.currency, _.language),
                count=month.expenses,
            )
            for month in spent
        ],
        _,
    )
    return lines


def stats_screen(stats: Stats, _: Translator, town: Town) -> Rendered:
    """The figures, with a way back to the choice of period."""
    back = keyboard([[button(_("◀ Other figures"), Action.REPORT, "stats", "pick")]])
    return Rendered(stats_text(stats, _, town), back)


# --- /export -----------------------------------------------------------------------------------


def which_export(_: Translator) -> Rendered:
    """/export: which period, and what will come."""
    return Rendered(
        _(
            "Export which period? You will receive the requests, the claims, the visit reports by "
            "month and the volunteers as CSV files (no name, phone or address), and a monthly "
            "chart.",
        ),
        period_keyboard("export", _),
    )


def export_progress(done: int, steps: int, _: Translator) -> str:
    """ "Preparing… n/N" while the files are built and sent."""
    return _("Preparing the export… {done}/{steps}", done=done, steps=steps)


def file_caption(filename: str, rows: int, _: Translator) -> str:
    """Under each CSV file."""
    return _.ngettext("{name}: {count} row", "{name}: {count} rows", rows, name=filename)


def workbook_caption(_: Translator) -> str:
    """Under the .xlsx workbook."""
    return _("The same tables in one workbook, in your language (Excel, LibreOffice).")


def chart_caption(window: Window, _: Translator) -> str:
    """Under the chart."""
    return _(
        "Requests created and completed per neighbourhood and month — {period}",
        period=period_text(window, _),
    )


def export_ready(window: Window, files: int, timezone: str, _: Translator) -> str:
    """The last word of an export."""
    period = period_text(window, _)
    return _.ngettext(
        "Export ready ({period}): {count} CSV file, the workbook and the monthly chart "
        "(times: {tz}).",
        "Export ready ({period}): {count} CSV files, the workbook and the monthly chart "
        "(times: {tz}).",
        files,
        period=period,
        tz=timezone,
    )
