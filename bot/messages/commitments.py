"""How each person's own commitments read: a referent's requests (/mine), a volunteer's claims
(/tasks), the open requests near a volunteer (/nearby) — lists, cards and their confirmations.

The handlers fetch a page or a card (`bot.services.requests`) and show what these render, in the
message the person tapped (edited) or as the answer to their command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import formats
from bot.callbacks import Action
from bot.i18n import N_, Translator
from bot.messages.base import Rendered, Town, button
from bot.messages.claims import DONE_ANSWERS, step_answer
from bot.messages.correspondence import Side, write_button
from bot.messages.offers import RequestView, offer_text, places_text, skill_of, when_text
from bot.services.outcomes import StepOutcome
from bot.services.reports import Page
from bot.services.requests import (
    MineGroup,
    MyRequest,
    MyTask,
    NearbyPage,
    TaskGroup,
)
from bot.text import escaped

T = TypeVar("T")
K = TypeVar("K", bound=StrEnum)

MINE_HEADINGS = {
    MineGroup.OPEN: N_("🟢 Waiting for volunteers"),
    MineGroup.TAKEN: N_("🤝 Taken"),
    MineGroup.TO_CONFIRM: N_("✅ Said done: to confirm"),
    MineGroup.CLOSED: N_("🗂 Ended in the last 30 days"),
}
TASK_HEADINGS = {
    TaskGroup.UPCOMING: N_("⏳ Coming up"),
    TaskGroup.TO_REPORT: N_("📝 Is it done? Tell the referent"),
    TaskGroup.WAITING: N_("⌛ Waiting for the referent's confirmation"),
}
# What the tapped card says once a step is done (the toast says it too).
TASK_DONE = {
    "done": DONE_ANSWERS["done"],
    "releaseyes": DONE_ANSWERS["release"],
}
NOT_A_VOLUNTEER = N_("This is for approved volunteers.")
NOT_A_REFERENT = N_("This is for referents: /mine lists the requests you posted.")
BACK_TO_MINE = N_("⬅ My requests")
BACK_TO_TASKS = N_("⬅ My tasks")


def _short(view: RequestView, _: Translator, town: Town) -> str:
    """One line about a request: number, need, place, when."""
    where = view.area_label or view.neighbourhood or ""
    return _(
        "#{id} · {skill} · {where} · {when}",
        id=view.id,
        skill=skill_of(view, _),
        where=where,
        when=when_text(view, _, town.tz),
    )


def _nav(page: Page[T], number: int, action: Action, _: Translator) -> list[InlineKeyboardButton]:
    """◀ Previous / 🔄 Refresh / Next ▶ for a paged list."""
    nav = [button(_("🔄 Refresh"), action, "page", number)]
    if number > 0:
        nav.insert(0, button(_("◀ Previous"), action, "page", number - 1))
    if page.remaining:
        nav.append(button(_("Next ▶"), action, "page", number + 1))
    return nav


def _opening(
    view: RequestView, action: Action, target: int, _: Translator
) -> list[InlineKeyboardButton]:
    """The row of a page that opens one item's card: its number and need."""
    label = _("#{id}: {skill}", id=view.id, skill=skill_of(view, _))
    return [button(label, action, "show", target)]


def _grouped(
    items: Sequence[T],
    group_of: Callable[[T], K],
    headings: Mapping[K, str],
    line: Callable[[T], str],
    _: Translator,
) -> list[str]:
    """The lines of a page under the heading of each group, in the order the items come."""
    lines: list[str] = []
    current: K | None = None
    for item in items:
        group = group_of(item)
        if group != current:
            if lines:
                lines.append("")
            lines.append(escaped(_(headings[group])))
            current = group
        lines.append(escaped(line(item)))
    return lines


def _card(
    lines: list[str],
    note: str | None,
    rows: list[list[InlineKeyboardButton]],
    back: InlineKeyboardButton,
) -> Rendered:
    """A card of /mine or /tasks: its lines, what was just done under them, the buttons that fit
    its state, then the way back to the list."""
    if note:
        lines = [*lines, "", escaped(note)]
    return Rendered("\n".join(lines), InlineKeyboardMarkup([*rows, [back]]), html=True)


# --- /mine -------------------------------------------------------------------------------------


def mine_page(page: Page[MyRequest], number: int, _: Translator, town: Town) -> Rendered:
    """A page of a referent's requests by state, a button to open each one."""
    if page.total == 0:
        return Rendered(
            _(
                "You have no request in progress, and none ended in the last 30 days. "
                "Send /new to post one."
            )
        )
    head = escaped(_("Your requests: {count}. Tap one to see what you can do.", count=page.total))

    def line(item: MyRequest) -> str:
        text = _short(item.request, _, town) + " · " + places_text(item.request, _)
        if item.claimers:
            text += " · " + ", ".join(item.claimers)
        return text

    lines = _grouped(page.items, lambda item: item.group, MINE_HEADINGS, line, _)
    rows = [_opening(item.request, Action.MINE, item.request.id, _) for item in page.items]
    rows.append(_nav(page, number, Action.MINE, _))
    return Rendered("\n".join([head, "", *lines]), InlineKeyboardMarkup(rows), html=True)


def mine_card(item: MyRequest, _: Translator, town: Town, note: str | None = None) -> Rendered:
    """One of a referent's requests with what fits its state (and what was just done)."""
    view = item.request
    lines = [offer_text(view, _, town.tz), escaped(_(MINE_HEADINGS[item.group]))]
    if item.claimers:
        lines.append(escaped(_("Taken by: {names}", names=", ".join(item.claimers))))
    rows: list[list[InlineKeyboardButton]] = []
    if item.editable:
        rows.append(
            [
                button(_("✏️ Description"), Action.MINE, "editdesc", view.id),
                button(_("✏️ When"), Action.MINE, "editwhen", view.id),
                button(_("✏️ Volunteers"), Action.MINE, "editplaces", view.id),
            ]
        )
    if item.may_offer_again:
        rows.append(
            [
                button(_("🔁 Offer again"), Action.MINE, "resend", view.id),
                button(_("📡 Widen the area"), Action.MINE, "widen", view.id),
            ]
        )
    rows.extend(
        [write_button(_, claim_id, to=Side.VOLUNTEER, name=name)]
        for claim_id, name in item.correspondents
    )
    if item.may_cancel:
        rows.append([button(_("❌ Cancel the request"), Action.MINE, "cancel", view.id)])
    return _card(lines, note, rows, button(_(BACK_TO_MINE), Action.MINE, "page", 0))


def mine_cancel_question(item: MyRequest, _: Translator) -> Rendered:
    """Before cancelling: are you sure (the tapped card becomes this question)."""
    text = _("Cancel request #{id} ({skill})?", id=item.request.id, skill=skill_of(item.request, _))
    if item.claimers:
        text += "\n" + _("The volunteers who took it will be told.")
    rows = [
        [
            button(_("Yes, cancel it"), Action.MINE, "cancelyes", item.request.id),
            button(_("No, keep it"), Action.MINE, "show", item.request.id),
        ]
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


def mine_step_note(verb: str, outcome: StepOutcome, _: Translator) -> str | None:
    """What a card of /mine says after a step (None after just opening it)."""
    if verb == "show":
        return None
    words = {"cancelyes": "cancel", "resend": "resend", "widen": "widen"}
    return step_answer(words.get(verb, verb), outcome, _).text


# --- /tasks ------------------------------------------------------------------------------------


def tasks_page(page: Page[MyTask], number: int, _: Translator, town: Town) -> Rendered:
    """A page of a volunteer's claims by state, a button to open each one."""
    if page.total == 0:
        return Rendered(
            _("You have no request in progress. /nearby shows the open requests near you.")
        )
    head = escaped(
        _("The requests you took: {count}. Tap one to see what you can do.", count=page.total)
    )
    lines = _grouped(
        page.items,
        lambda item: item.group,
        TASK_HEADINGS,
        lambda item: _short(item.request, _, town),
        _,
    )
    rows = [_opening(item.request, Action.TASK, item.claim_id, _) for item in page.items]
    rows.append(_nav(page, number, Action.TASK, _))
    return Rendered("\n".join([head, "", *lines]), InlineKeyboardMarkup(rows), html=True)


def task_card(item: MyTask, _: Translator, town: Town, note: str | None = None) -> Rendered:
    """One of a volunteer's claims: Done, Release and Directions while it is active."""
    lines = [offer_text(item.request, _, town.tz), escaped(_(TASK_HEADINGS[item.group]))]
    rows: list[list[InlineKeyboardButton]] = []
    if item.active:
        rows.append(
            [
                # Taken by the visit report's conversation (conversations/visit.py).
                button(_("✅ Done"), Action.TASK, "done", item.claim_id),
                button(_("↩️ Release"), Action.TASK, "release", item.claim_id),
            ]
        )
        rows.append([button(_("📍 Directions"), Action.TASK, "where", item.claim_id)])
        rows.append([write_button(_, item.claim_id, to=Side.REFERENT)])
    return _card(lines, note, rows, button(_(BACK_TO_TASKS), Action.TASK, "page", 0))


def task_release_question(item: MyTask, _: Translator) -> Rendered:
    """Before giving a claim back: are you sure (the tapped card becomes this question)."""
    text = _(
        "Give request #{id} ({skill}) back? It will be offered to other volunteers, and its "
        "referent will be told.",
        id=item.request.id,
        skill=skill_of(item.request, _),
    )
    rows = [
        [
            button(_("Yes, give it back"), Action.TASK, "releaseyes", item.claim_id),
            button(_("No, keep it"), Action.TASK, "show", item.claim_id),
        ]
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


def task_step_note(verb: str, outcome: StepOutcome, _: Translator) -> str | None:
    """What a card of /tasks says after a step (None after just opening it)."""
    if verb == "show":
        return None
    if outcome is StepOutcome.DONE and verb in TASK_DONE:
        return _(TASK_DONE[verb])
    return step_answer(verb, outcome, _).text


DIRECTIONS_STALE = N_("This request is no longer yours to go to: no directions.")


# --- /nearby -----------------------------------------------------------------------------------


# Under a /nearby card whose time is outside the volunteer's availability (listed last).
UNUSUAL_TIME = N_("🕓 At a time you are usually not free")


def nearby_page(found: NearbyPage, number: int, _: Translator, town: Town) -> Rendered:
    """Open requests a volunteer may take now, nearest first, each with ✋."""
    page = found.page
    radius = formats.number(found.radius_km, _)
    if page.total == 0:
        return Rendered(
            _(
                "Nothing open near you right now (within {radius} km). New requests come to "
                "you as soon as they are posted.",
                radius=radius,
            )
        )
    head = _.ngettext(
        "{count} open request within {radius} km of you, nearest first:",
        "{count} open requests within {radius} km of you, nearest first:",
        page.total,
        radius=radius,
    )
    cards = [
        offer_text(item.request, _, town.tz, item.distance_km)
        + ("\n" + escaped(_(UNUSUAL_TIME)) if item.unusual_time else "")
        for item in page.items
    ]
    rows = [
        [button(_("✋ #{id}: I'll do it", id=item.request.id), Action.CLAIM, item.request.id)]
        for item in page.items
    ]
    rows.append(_nav(page, number, Action.NEARBY, _))
    return Rendered("\n\n".join([escaped(head), *cards]), InlineKeyboardMarkup(rows), html=True)
