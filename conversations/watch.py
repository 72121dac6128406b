"""Starting a watch campaign (▶️ Start on /watch, coordinators): the kind (heat, cold, other),
the daily call window, how often, until when; then a summary and Start.

The window is chosen among common ones or typed ("9-12", "9h30-11h30"); it is in the town's time
zone. ⬅ and /cancel work at every step (conversations/base.py); the service checks the role in
the database and that no other campaign runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from babel.dates import format_date
from telegram import InlineKeyboardMarkup
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.domain.watch import CampaignKind
from bot.i18n import N_
from bot.messages import watch as screens
from bot.messages.watch_calls import KIND_NAMES, hhmm
from bot.services.outcomes import Outcome
from bot.services.watch.campaigns import CampaignPlan, CampaignView, valid_plan
from conversations.base import END, Conversation, State, Texts, Turn, choices
from handlers.common import NO_LONGER_VALID
from handlers.watch_calls import card_screen


class Step(StrEnum):
    """The steps (stored between updates: keep the values)."""

    KIND = "wt_kind"
    WINDOW = "wt_window"
    FREQUENCY = "wt_freq"
    END = "wt_end"
    CONFIRM = "wt_confirm"


# Common call windows (minutes after local midnight), as button words "540-720".
WINDOWS = [(9 * 60, 12 * 60), (10 * 60, 13 * 60), (14 * 60, 17 * 60), (17 * 60, 20 * 60)]
DURATIONS = [3, 7, 14]
TYPED_WINDOW = re.compile(
    r"^(\d{1,2})(?:[:h.](\d{2}))?\s*h?\s*[-–à]\s*(\d{1,2})(?:[:h.](\d{2}))?\s*h?$"
)
BAD_WINDOW = N_(
    "Please tap a window, or type one like 9-12 or 9:30-11:30 (the end after the start)."
)


@dataclass
class CampaignDraft:
    """The answers so far."""

    kind: str = ""
    window_start: int = 0
    window_end: int = 0
    interval_days: int = 1
    # Days the campaign lasts (0: until it is stopped).
    days: int = 0


WATCH = Conversation(
    "watch",
    Action.WATCH_STEP,
    CampaignDraft,
    Texts(
        cancelled=N_("No campaign was started."),
        busy=N_("You are starting a watch campaign. Answer the question above, or /cancel."),
        ended=(NO_LONGER_VALID, N_("Send /watch to see the campaign.")),
    ),
    role=Role.COORDINATOR,
    refusal=screens.NOT_A_COORDINATOR_WATCH,
)
Turn_ = Turn[CampaignDraft]
ORDER = [Step.KIND, Step.WINDOW, Step.FREQUENCY, Step.END, Step.CONFIRM]


@WATCH.previous
def _previous(turn: Turn_) -> str | None:
    """The step before; out from the first."""
    state = Step(str(turn.state))
    return None if state is Step.KIND else ORDER[ORDER.index(state) - 1]


@WATCH.leaving
async def _leave(turn: Turn_) -> State:
    """⬅ from the first question: nothing is kept."""
    return await turn.cancel()


def _ends_on(draft: CampaignDraft, today: date) -> date | None:
    """The last day of the campaign (None: until stopped)."""
    return today + timedelta(draft.days - 1) if draft.days else None


def _today(turn: Turn_) -> date:
    """The town's date now."""
    services = turn.services
    return services.clock().astimezone(services.settings.tz).date()


WATCH.prompt(
    Step.KIND,
    N_("Which alert is the campaign for?"),
    choices("kind", [(kind.value, label) for kind, label in KIND_NAMES.items()], per_row=3),
)
WATCH.prompt(
    Step.FREQUENCY,
    N_("How often is everyone called?"),
    choices("freq", [(days, label) for days, label in screens.FREQUENCIES.items()]),
)


@WATCH.question(Step.WINDOW)
async def ask_window(turn: Turn_) -> State:
    """The daily call window: common ones, or typed."""
    _ = turn._
    buttons = [
        WATCH.button(f"{hhmm(start)}–{hhmm(end)}", "win", f"{start}-{end}")
        for start, end in WINDOWS
    ]
    rows = [buttons[:2], buttons[2:], WATCH.back_row(_, cancel=True)]
    await turn.say(
        _(
            "Between which hours are people called each day ({zone} time)? Tap a window or "
            "type one, e.g. 9-12.",
            zone=turn.services.settings.timezone,
        ),
        InlineKeyboardMarkup(rows),
    )
    return None


@WATCH.question(Step.END)
async def ask_end(turn: Turn_) -> State:
    """Until when: a few days, or until it is stopped."""
    _, today = turn._, _today(turn)
    rows = [
        [
            WATCH.button(
                _(
                    "Until {day}",
                    day=format_date(today + timedelta(days - 1), "EEEE d MMMM", locale=_.language),
                ),
                "end",
                days,
            )
        ]
        for days in DURATIONS
    ]
    rows.append([WATCH.button(_("Until I stop it"), "end", 0)])
    rows.append(WATCH.back_row(_, cancel=True))
    await turn.say(_("Until when?"), InlineKeyboardMarkup(rows))
    return None


@WATCH.question(Step.CONFIRM)
async def ask_confirm(turn: Turn_) -> State:
    """The summary and Start."""
    _, draft = turn._, turn.draft
    view = CampaignView(
        id=0,
        kind=CampaignKind(draft.kind),
        window_start=draft.window_start,
        window_end=draft.window_end,
        interval_days=draft.interval_days,
        ends_on=_ends_on(draft, _today(turn)),
        started_at=turn.services.clock(),
        next_window_at=turn.services.clock(),
    )
    text = "\n".join(
        [
            _("Please check before starting:"),
            *screens.campaign_lines(view, _),
            "",
            _(
                "At the start of each window, every person on the register gets a caller among "
                "the volunteers who make phone calls, and each caller gets their list."
            ),
        ]
    )
    keyboard = InlineKeyboardMarkup(
        [[WATCH.button(_("▶️ Start"), "start")], WATCH.back_row(_, cancel=True)]
    )
    await turn.say(text, keyboard)
    return None


async def start_campaign(turn: Turn_, button: Callback) -> State:
    """▶️ Start a campaign on /watch: its kind first."""
    return await turn.ask(Step.KIND)


async def on_kind(turn: Turn_, button: Callback) -> State:
    """Heat, cold or other."""
    turn.draft.kind = button.str_arg(1)
    return await turn.ask(Step.WINDOW)


def _window(start: int, end: int) -> tuple[int, int] | None:
    """A window within one day, the end after the start."""
    return (start, end) if 0 <= start < end <= 24 * 60 - 1 else None


async def on_window_button(turn: Turn_, button: Callback) -> State:
    """A common window tapped."""
    start, _sep, end = button.str_arg(1).partition("-")
    window = _window(int(start), int(end)) if start.isdigit() and end.isdigit() else None
    if window is None:
        return await turn.stale()
    turn.draft.window_start, turn.draft.window_end = window
    return await turn.ask(Step.FREQUENCY)


async def on_window_text(turn: Turn_) -> State:
    """A window typed: 9-12, 9h30-11h30, 9:30–11:30."""
    found = TYPED_WINDOW.match(turn.text.replace(" ", ""))
    window = None
    if found is not None:
        start_h, start_m, end_h, end_m = (int(part or 0) for part in found.groups())
        if start_h < 24 and end_h < 24 and start_m < 60 and end_m < 60:
            window = _window(start_h * 60 + start_m, end_h * 60 + end_m)
    if window is None:
        await turn.say(turn._(BAD_WINDOW))
        return None
    turn.draft.window_start, turn.draft.window_end = window
    return await turn.ask(Step.FREQUENCY)


async def on_frequency(turn: Turn_, button: Callback) -> State:
    """Every day, every other day, every three days."""
    turn.draft.interval_days = int(button.str_arg(1))
    return await turn.ask(Step.END)


async def on_end(turn: Turn_, button: Callback) -> State:
    """A few days, or until stopped."""
    turn.draft.days = int(button.str_arg(1))
    return await turn.ask(Step.CONFIRM)


async def on_start(turn: Turn_, button: Callback) -> State:
    """Start it, once; the card with today's figures follows."""
    _, draft = turn._, turn.draft
    plan = CampaignPlan(
        kind=CampaignKind(draft.kind),
        window_start=draft.window_start,
        window_end=draft.window_end,
        interval_days=draft.interval_days,
        ends_on=_ends_on(draft, _today(turn)),
    )
    if not valid_plan(plan, _today(turn)):
        await turn.answer(_(BAD_WINDOW), alert=True)
        return await turn.ask(Step.WINDOW)
    started = await turn.services.watch.start(turn.user_id, plan)
    await turn.answer()
    await turn.drop_buttons()
    if started is Outcome.ALREADY_DONE:
        await turn.say(_("A campaign is already running: stop it first to start another."))
    elif isinstance(started, Outcome):
        await turn.say(_(screens.NOT_A_COORDINATOR_WATCH))
        return END
    else:
        await turn.say(_("The campaign is started."))
    screen = await card_screen(turn.context, turn.who)
    await turn.say(screen.text, screen.keyboard)
    return END


def build_watch_conversation() -> ConversationHandler[BrigadeContext]:
    """▶️ Start a campaign, persistent across restarts."""
    return WATCH.build(
        entry_points=[WATCH.start_tap(start_campaign, action=Action.WATCH, verb="start")],
        states={
            Step.KIND: [WATCH.on("kind", on_kind, values=list(CampaignKind))],
            Step.WINDOW: [WATCH.on("win", on_window_button), WATCH.text(on_window_text)],
            Step.FREQUENCY: [
                WATCH.on("freq", on_frequency, values=[str(days) for days in screens.FREQUENCIES])
            ],
            Step.END: [WATCH.on("end", on_end, values=[str(days) for days in (*DURATIONS, 0)])],
            Step.CONFIRM: [WATCH.on("start", on_start)],
        },
    )
