"""How the directory reads (/members): a page of members with its filters, a member card, the
confirmation of a suspension, a reinstatement or a role withdrawn, and the answers to them.

The filters travel in the buttons' data as one word (`FilterWord`); a search's text does not
(it is not a word and could name someone): its results are one page, narrowed by typing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from babel.dates import format_date
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import formats
from bot.availability import availability_text
from bot.callbacks import Action
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_, Translator
from bot.messages.base import Rendered, Town, button
from bot.messages.reach import card_reach_line
from bot.messages.standing import ROLE_NAMES
from bot.services.directory import Choices, MemberCard, MemberFilter, MemberRow
from bot.services.reports.views import Page
from bot.services.standing import Standing
from bot.skills import skill_label
from bot.text import escaped, quoted

STATUS_NAMES = {
    VolunteerStatus.PENDING: N_("waiting for a decision"),
    VolunteerStatus.APPROVED: N_("approved"),
    VolunteerStatus.REJECTED: N_("not accepted"),
    VolunteerStatus.SUSPENDED: N_("suspended"),
}
ROLE_ICONS = {Role.COORDINATOR: "🧭", Role.REFERENT: "📋", Role.VOLUNTEER: "🙋"}
ROLE_CODES = {"c": Role.COORDINATOR, "r": Role.REFERENT, "v": Role.VOLUNTEER}
STATUS_CODES = {
    "p": VolunteerStatus.PENDING,
    "a": VolunteerStatus.APPROVED,
    "j": VolunteerStatus.REJECTED,
    "s": VolunteerStatus.SUSPENDED,
}
ANY = "x"
MAX_ID = 999_999  # six digits: the filter word stays within a callback argument (24 characters)

# The card's actions, by the verb of their buttons.
SUSPEND, REINSTATE, UNREF, UNCOORD = "suspend", "reinstate", "unref", "uncoord"


@dataclass(frozen=True)
class StandingWords:
    """What a coordinator reads about one of the card's actions: its button, the question asked
    before it, the reason asked for, and the card's note once it is done (by {name})."""

    label: str
    question: str
    ask_reason: str
    done: str


STANDING_WORDS = {
    SUSPEND: StandingWords(
        label=N_("⛔ Suspend"),
        question=N_("Suspend {name}?"),
        ask_reason=N_(
            "Why is {name} suspended? Send the reason in one message: it will be passed on to "
            "them. Or /skip to give none, /cancel to go back."
        ),
        done=N_("Suspended by {name}."),
    ),
    REINSTATE: StandingWords(
        label=N_("✅ Reinstate"),
        question=N_("Reinstate {name}?"),
        ask_reason=N_(
            "Why is {name} reinstated? Send a word for them in one message, or /skip, or /cancel."
        ),
        done=N_("Reinstated by {name}."),
    ),
    UNREF: StandingWords(
        label=N_("Withdraw the referent role"),
        question=N_("Withdraw {name}'s referent role?"),
        ask_reason=N_(
            "Why is {name}'s referent role withdrawn? Send the reason in one message (it will "
            "be passed on to them), or /skip, or /cancel."
        ),
        done=N_("Referent role withdrawn by {name}."),
    ),
    UNCOORD: StandingWords(
        label=N_("Withdraw the coordinator role"),
        question=N_("Withdraw {name}'s coordinator role?"),
        ask_reason=N_(
            "Why is {name}'s coordinator role withdrawn? Send the reason in one message (it "
            "will be passed on to them), or /skip, or /cancel."
        ),
        done=N_("Coordinator role withdrawn by {name}."),
    ),
}
ANSWERS = {
    Standing.ALREADY_DONE: N_("This was already done."),
    Standing.NOT_FOUND: N_("This member no longer exists."),
    Standing.NOT_APPLICABLE: N_("This no longer applies to this member."),
    Standing.LAST_COORDINATOR: N_(
        "This is the brigade's last coordinator: appoint another one first (/invite)."
    ),
    Standing.BY_SETTINGS: N_(
        "This coordinator is named in the bot's settings (BRIGADE_COORDINATOR_IDS): only the "
        "settings can change that."
    ),
}


@dataclass(frozen=True)
class Listing:
    """A directory screen's filter and page number (what its buttons carry)."""

    wanted: MemberFilter
    number: int = 0


def filter_word(listing: Listing) -> str:
    """The filter and page as one callback word: page_role_status_inactive_neighbourhood_skill."""
    wanted = listing.wanted
    role = next((code for code, role in ROLE_CODES.items() if role is wanted.role), ANY)
    status = next((code for code, st in STATUS_CODES.items() if st is wanted.status), ANY)

    def small(value: int | None) -> str:
        return str(value) if value is not None and value <= MAX_ID else ANY

    parts = [
        str(min(listing.number, 9999)),
        role,
        status,
        "1" if wanted.inactive else "0",
        small(wanted.neighbourhood_id),
        small(wanted.skill_id),
    ]
    return "_".join(parts)


def parse_filter_word(word: str) -> Listing | None:
    """The listing a filter word describes; None for a word this version did not make."""
    parts = word.split("_")
    if len(parts) != 6:
        return None
    number, role, status, inactive, neighbourhood, skill = parts

    def optional_id(value: str) -> int | bool | None:
        if value == ANY:
            return None
        return int(value) if value.isdigit() and len(value) <= 6 else False

    neighbourhood_id, skill_id = optional_id(neighbourhood), optional_id(skill)
    if (
        not (number.isdigit() and len(number) <= 4)
        or (role != ANY and role not in ROLE_CODES)
        or (status != ANY and status not in STATUS_CODES)
        or inactive not in {"0", "1"}
        or neighbourhood_id is False
        or skill_id is False
    ):
        return None
    wanted = MemberFilter(
        role=ROLE_CODES.get(role),
        status=STATUS_CODES.get(status),
        inactive=inactive == "1",
        neighbourhood_id=neighbourhood_id if isinstance(neighbourhood_id, int) else None,
        skill_id=skill_id if isinstance(skill_id, int) else None,
    )
    return Listing(wanted, int(number))


EVERYONE = Listing(MemberFilter())


def _list_button(label: str, listing: Listing) -> InlineKeyboardButton:
    return button(label, Action.MEMBERS, "list", filter_word(listing))


def _next(options: Sequence[object], current: object) -> object:
    """The option after `current` in `options`, cycling through None ("all")."""
    cycle = [None, *options]
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else None


def date_of(value: datetime | None, _: Translator, town: Town) -> str:
    """A date in the reader's language, in the town's calendar ("—" for none)."""
    if value is None:
        return "—"
    return str(format_date(value.astimezone(town.tz).date(), "medium", locale=_.language))


def roles_text(roles: frozenset[Role], _: Translator) -> str:
    """The roles held, in a fixed order, translated."""
    held = [_(ROLE_NAMES[role]) for role in (Role.COORDINATOR, Role.REFERENT, Role.VOLUNTEER)]
    kept = [name for name, role in zip(held, Role, strict=True) if role in roles]
    return ", ".join(kept) or _("no role")


def _row_label(row: MemberRow, _: Translator) -> str:
    icons = "".join(ROLE_ICONS[role] for role in Role if role in row.roles)
    status = _(STATUS_NAMES[row.status]) if row.status else ""
    suffix = f" · {status}" if status else ""
    return f"{icons} {row.display_name}{suffix}"[:60]


def members_page(
    page: Page[MemberRow],
    listing: Listing,
    choices: Choices,
    _: Translator,
    town: Town,
    *,
    searched: str | None = None,
) -> Rendered:
    """A page of the directory: the members as buttons to their cards, the filters, the pages."""
    wanted = listing.wanted
    lines = [
        _("👥 Members of the brigade: {count}", count=page.total)
        if searched is None
        else _("🔎 Members matching “{text}”: {count}", text=searched, count=page.total),
    ]
    if searched is None:
        lines.append(filters_text(wanted, choices, _))
    for row in page.items:
        lines.append(
            _(
                "• {name} — {roles}; {neighbourhood}; {claims} claims; seen {date}",
                name=row.display_name,
                roles=roles_text(row.roles, _),
                neighbourhood=row.neighbourhood or _("no neighbourhood"),
                claims=row.claims_taken,
                date=date_of(row.last_seen, _, town),
            )
        )
    if not page.items:
        lines.append(_("Nobody matches."))
    if page.remaining and searched is not None:
        lines.append(
            _("… not shown: {count}. Type more of the name to narrow.", count=page.remaining)
        )
    rows = [
        [button(_row_label(row, _), Action.MEMBERS, "card", str(row.member_id))]
        for row in page.items
    ]
    if searched is None:
        rows += _filter_rows(listing, choices, _)
        nav = []
        if listing.number > 0:
            nav.append(_list_button(_("◀ Previous"), replace(listing, number=listing.number - 1)))
        if page.remaining:
            nav.append(_list_button(_("Next ▶"), replace(listing, number=listing.number + 1)))
        if nav:
            rows.append(nav)
    else:
        rows.append([_list_button(_("👥 All members"), EVERYONE)])
    rows.append([button(_("🔎 Search"), Action.MEMBERS, "search", ANY)])
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


def filters_text(wanted: MemberFilter, choices: Choices, _: Translator) -> str:
    """The filters in force, in one line."""
    neighbourhoods, skills = dict(choices.neighbourhoods), dict(choices.skills)
    parts = [
        _(ROLE_NAMES[wanted.role]) if wanted.role else None,
        _(STATUS_NAMES[wanted.status]) if wanted.status else None,
        neighbourhoods.get(wanted.neighbourhood_id) if wanted.neighbourhood_id else None,
        skill_label(skills[wanted.skill_id], _) if wanted.skill_id in skills else None,
        _("inactive for 6 months") if wanted.inactive else None,
    ]
    shown = [part for part in parts if part]
    return _("Filters: {value}", value=", ".join(shown) if shown else _("none"))


def _filter_rows(
    listing: Listing, choices: Choices, _: Translator
) -> list[list[InlineKeyboardButton]]:
    """One button per filter; a tap moves it to its next value (back to "all" at the end)."""
    wanted = listing.wanted
    neighbourhoods, skills = dict(choices.neighbourhoods), dict(choices.skills)

    def tapped(**changes: object) -> Listing:
        return Listing(replace(wanted, **changes), 0)  # type: ignore[arg-type]

    role = _next(list(ROLE_CODES.values()), wanted.role)
    status = _next(list(STATUS_CODES.values()), wanted.status)
    neighbourhood = _next([n for n, _name in choices.neighbourhoods], wanted.neighbourhood_id)
    skill = _next([s for s, _label in choices.skills], wanted.skill_id)
    every = _("all")
    return [
        [
            _list_button(
                _("Role: {value}", value=_(ROLE_NAMES[wanted.role]) if wanted.role else every),
                tapped(role=role),
            ),
            _list_button(
                _(
                    "Status: {value}",
                    value=_(STATUS_NAMES[wanted.status]) if wanted.status else every,
                ),
                tapped(status=status),
            ),
        ],
        [
            _list_button(
                _(
                    "Neighbourhood: {value}",
                    value=neighbourhoods.get(wanted.neighbourhood_id or -1, every),
                ),
                tapped(neighbourhood_id=neighbourhood),
            ),
            _list_button(
                _(
                    "Skill: {value}",
                    value=skill_label(skills[wanted.skill_id], _)
                    if wanted.skill_id in skills
                    else every,
                ),
                tapped(skill_id=skill),
            ),
        ],
        [
            _list_button(
                ("✓ " if wanted.inactive else "") + _("Inactive for 6 months"),
                tapped(inactive=not wanted.inactive),
            )
        ],
    ]


def card_text(card: MemberCard, _: Translator, town: Town) -> str:
    """A member's card (HTML: every value escaped, the reason quoted)."""
    e = escaped
    counts = card.counts
    skills = ", ".join(
        skill_label(skill.label, _)
        + (
            " " + _("(verified)")
            if skill.verified
            else (" " + _("(to verify)") if skill.requires_verification else "")
        )
        for skill in card.skills
    )
    status = _(STATUS_NAMES[card.status]) if card.status else _("not a volunteer")
    lines = [
        f"<b>{e(card.display_name)}</b>",
        e(_("Roles: {value}", value=roles_text(card.roles, _))),
        e(_("Status: {value}", value=status)),
    ]
    if card.decided_by or card.decided_at:
        lines.append(
            e(
                _(
                    "Decided by {name} on {date}",
                    name=card.decided_by or _("someone who left"),
                    date=date_of(card.decided_at, _, town),
                )
            )
        )
    if card.status_reason:
        lines.append(e(_("Reason:")) + quoted(card.status_reason))
    lines += [
        e(_("Phone: {value}", value=card.phone or _("not given"))),
        e(_("Neighbourhood: {value}", value=card.neighbourhood or _("none"))),
        e(
            _(
                "Distance: up to {value} km",
                value=formats.number(card.radius_km, _),
            )
        ),
        *([e(line)] if (line := card_reach_line(card.reach, _)) else []),
        e(_("Skills: {value}", value=skills or _("none"))),
        e(
            _(
                "Availability: {value}",
                value=availability_text(card.availability, _) or _("to be agreed each time"),
            )
        ),
        e(
            _(
                "Charter version {version} accepted on {date}",
                version=card.charter_version or "—",
                date=date_of(card.charter_accepted_at, _, town),
            )
        ),
        e(_("Joined on {date}", date=date_of(card.joined_at, _, town))),
        e(
            _(
                "Last seen on {date}; last claim: {claim}",
                date=date_of(card.last_seen, _, town),
                claim=date_of(card.last_claim_at, _, town),
            )
        ),
        e(
            _(
                "Claims — taken: {taken} · done: {done} · released: {released} · "
                "could not: {failed}",
                taken=counts.taken,
                done=counts.done,
                released=counts.released,
                failed=counts.could_not,
            )
        ),
        e(
            _.ngettext(
                "{count} concern about their conduct",
                "{count} concerns about their conduct",
                len(card.concerns),
            )
        ),
    ]
    for concern in card.concerns[:10]:
        lines.append(
            e(
                _(
                    "• {date}: request #{id}, raised by {name}",
                    date=date_of(concern.raised_at, _, town),
                    id=concern.request_id,
                    name=concern.raised_by or _("someone who left"),
                )
            )
        )
    if card.coordinator_by_settings:
        lines.append(
            e(
                _(
                    "Coordinator named in the bot's settings (BRIGADE_COORDINATOR_IDS): this "
                    "role cannot be withdrawn from the chat."
                )
            )
        )
    return "\n".join(lines)


def card_actions(card: MemberCard) -> list[str]:
    """The actions the card offers, by verb."""
    verbs = []
    if card.status is VolunteerStatus.APPROVED:
        verbs.append(SUSPEND)
    if card.status is VolunteerStatus.SUSPENDED:
        verbs.append(REINSTATE)
    if Role.REFERENT in card.roles:
        verbs.append(UNREF)
    if Role.COORDINATOR in card.roles and not card.coordinator_by_settings:
        verbs.append(UNCOORD)
    return verbs


def member_card(card: MemberCard, _: Translator, town: Town, note: str = "") -> Rendered:
    """The card with its actions and a way back to the list."""
    rows = [
        [button(_(STANDING_WORDS[verb].label), Action.STANDING, verb, card.member_id)]
        for verb in card_actions(card)
    ]
    rows.append([_list_button(_("⬅ Members"), EVERYONE)])
    text = card_text(card, _, town)
    if note:
        text += "\n\n" + escaped(note)
    return Rendered(text, InlineKeyboardMarkup(rows), html=True)


def confirmation(
    verb: str, card: MemberCard, reason: str | None, _: Translator, town: Town
) -> Rendered:
    """The card turned into its question: the action, the reason, Yes / No."""
    lines = [f"<b>{escaped(_(STANDING_WORDS[verb].question, name=card.display_name))}</b>"]
    if verb == SUSPEND:
        lines.append(
            escaped(
                _.ngettext(
                    "They hold {count} claim: it will be offered again at once.",
                    "They hold {count} claims: they will be offered again at once.",
                    card.counts.active,
                )
            )
        )
    lines.append(escaped(_("Reason:")) + (quoted(reason) if reason else " —"))
    keys = InlineKeyboardMarkup(
        [
            [
                button(_("✅ Yes"), Action.STANDING, "yes", card.member_id),
                button(_("✖ No"), Action.STANDING, "no", card.member_id),
            ]
        ]
    )
    return Rendered("\n".join(lines), keys, html=True)
