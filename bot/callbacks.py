"""The one place that encodes and parses inline-button callback data.

Format: `<action>:<arg>:<arg>…`, ASCII, at most 64 bytes (Telegram's limit). Each action declares
the kinds of its arguments; anything else — a stale layout, a forged payload — parses to None,
and handlers answer such taps with a clear message instead of acting on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

MAX_CALLBACK_BYTES = 64
# fullmatch, ASCII only: `str.isdigit()` takes "١" or "²", and `$` lets a trailing newline in.
_WORD = re.compile(r"[a-z0-9_-]{1,24}")
_INT = re.compile(r"[0-9]{1,18}")


class Action(StrEnum):
    """Every kind of inline button the bot shows."""

    SET_LANGUAGE = "lang"
    JOIN = "join"  # start the volunteer sign-up
    SIGNUP = "su"  # a step of the sign-up: (step, value)
    VET = "vet"  # a coordinator's decision: (approve|reject|verify, member id)
    VERIFY_SKILL = "vsk"  # a coordinator verifies a skill: (member id, skill id)
    INVITE = "inv"  # a coordinator creates an invitation: (role)
    PROFILE = "pf"  # a step of profile editing: (field or step, value)
    PAUSE = "pz"  # pause offers for a while: (duration word)
    FORGET = "fg"  # confirm or cancel erasing one's data: (yes|no)
    LINK_GROUP = "lnk"  # attach this group to a neighbourhood: (neighbourhood id)
    NEIGHBOURHOOD = "nbh"  # neighbourhood admin: (verb, neighbourhood id)
    SKILL_ADMIN = "ska"  # skills catalogue admin: (verb, skill id)
    CLAIM = "cl"  # a volunteer takes a place on a request: (request id)
    DECLINE = "no"  # "not for me": (request id)
    UNDO_DECLINE = "un"  # ↩️ Undo "not for me", for a minute: (request id)
    # The claimer's follow-up: (done|release|concern|notyet|failed|go<when>, claim id).
    CLAIM_STEP = "cs"
    VISIT = "vr"  # the visit report after Done: (answer, claim id)
    REFERENT_STEP = "rs"  # the referent's follow-up: (confirm|notdone, claim id)
    REQUEST_ADMIN = "ra"  # on a request: (cancel|cancelyes|cancelno|resend|widen, id)
    POST = "rq"  # a step of posting a request: (step, value)
    SIGNAL = "sg"  # a step of reporting an isolated person: (step, value)
    CASE = "cs2"  # a coordinator/referent on a reported case: (assign|close|outcome, case id)
    REPORT = "rp"  # coordinators' views and figures: (verb, value)
    ANNOUNCE = "an"  # an announcement: (step, value)
    SERIES = "sr"  # recurring care: (stop|skip|keep|decline, series id)
    # Write through the bot: (claim, claim id) to the other side of a claim, (coord, member id)
    # a coordinator answers someone, (help, 0) someone writes to the coordinators.
    WRITE = "wr"
    SUPPORT = "sup"  # "send this to the coordinators?": (send|no, the message's id in the chat)
    PHONE = "ph"  # a new referent's phone for their claimers: (ask|no, 0)
    ASK = "ak"  # a step of asking for oneself (/ask): (step, value)
    VALIDATE = "va"  # a validator on a request waiting for validation: (approve|edit|decline, id)
    VALIDATION_STEP = "vd"  # a step of editing or declining it: (step, value)
    MINE = "mi"  # a referent's /mine: (page|show|cancel|cancelyes|resend|widen|edit…, id or page)
    TASK = "tk"  # a volunteer's /tasks: (page|show|done|release|releaseyes|where, id or page)
    NEARBY = "nb"  # a volunteer's /nearby: (page, page number)
    EDIT_REQUEST = "re"  # a step of editing a request nobody claimed yet: (step, value)
    CHARTER = "chr"  # a volunteer on the town's charter: (accept|later, version)
    CHARTER_ADMIN = "cha"  # a coordinator replacing the charter: (step, value)
    CHECKIN = "ci"  # "Still with us?": (yes|pause|leave)
    MEMBERS = "mb"  # the directory: (list, filter word) | (card, member id) | (search, x)
    STANDING = "st"  # a coordinator on a member: (suspend|reinstate|unref|uncoord|yes|no, id)
    MENU = "mn"  # a /start button: the command it opens (new|mine|pending|open|stats|nearby|tasks)
    # The watch register (/register): (page, page) | (card|edit|remove|removeyes, person id) |
    # (add, 0); referents see their own people, coordinators everyone.
    REGISTER = "wg"
    REGISTER_STEP = "wgs"  # a step of adding a person or changing a record: (step, value)
    # Watch campaigns (/watch, coordinators): (stop|stopyes|show|report, campaign id) |
    # (start, 0).
    WATCH = "wt"
    WATCH_STEP = "wts"  # a step of starting a campaign: (step, value)
    WATCH_CALL = "wc"  # a caller's outcome on their list: (well|needs|none|sos|list, call id)
    WATCH_ALERT = "wa"  # on a person nobody reached: (go|police|reached, call id)
    WATCH_NEED = "wn"  # a caller says what a person needs: (skill id, or 0 for a worry; call id)
    WATCH_DRAFT = "wd"  # the request draft of a 🙋: (post|edit|dismiss, call id)


class Arg(StrEnum):
    """The kind of one callback argument."""

    INT = "int"
    WORD = "word"


# Buttons only coordinators may use; tests walk each of them as a volunteer and as a referent.
COORDINATOR_ACTIONS = frozenset(
    {
        Action.VET,
        Action.VERIFY_SKILL,
        Action.INVITE,
        Action.LINK_GROUP,
        Action.NEIGHBOURHOOD,
        Action.SKILL_ADMIN,
        Action.REPORT,
        Action.ANNOUNCE,
        Action.CHARTER_ADMIN,
        Action.MEMBERS,
        Action.STANDING,
        Action.WATCH,
        Action.WATCH_STEP,
    }
)

# Buttons the bot shows in neighbourhood groups; every other action works in a private chat only
# (handlers/gate.py refuses the others anywhere else).
GROUP_ACTIONS = frozenset({Action.CLAIM, Action.LINK_GROUP})

# Taps handled without the person's conversation state: on PostgreSQL they skip the person's
# lock and the read-back of their states and drafts (bot/shared_state.py). A claim is checked and
# written in a transaction of its own, whatever step of a conversation the tapper is at, no
# conversation takes its button (tests/handlers/test_registry_lock_free.py), and its handler
# keeps no draft. It is the tap a crowd sends: three statements less for each.
LOCK_FREE_ACTIONS = frozenset({Action.CLAIM})

# The argument kinds of each action, in order.
_SIGNATURES: dict[Action, tuple[Arg, ...]] = {
    Action.SET_LANGUAGE: (Arg.WORD,),
    Action.JOIN: (),
    Action.SIGNUP: (Arg.WORD, Arg.WORD),
    Action.VET: (Arg.WORD, Arg.INT),
    Action.VERIFY_SKILL: (Arg.INT, Arg.INT),
    Action.INVITE: (Arg.WORD,),
    Action.PROFILE: (Arg.WORD, Arg.WORD),
    Action.PAUSE: (Arg.WORD,),
    Action.FORGET: (Arg.WORD,),
    Action.LINK_GROUP: (Arg.INT,),
    Action.NEIGHBOURHOOD: (Arg.WORD, Arg.INT),
    Action.SKILL_ADMIN: (Arg.WORD, Arg.INT),
    Action.CLAIM: (Arg.INT,),
    Action.DECLINE: (Arg.INT,),
    Action.UNDO_DECLINE: (Arg.INT,),
    Action.CLAIM_STEP: (Arg.WORD, Arg.INT),
    Action.VISIT: (Arg.WORD, Arg.INT),
    Action.REFERENT_STEP: (Arg.WORD, Arg.INT),
    Action.REQUEST_ADMIN: (Arg.WORD, Arg.INT),
    Action.POST: (Arg.WORD, Arg.WORD),
    Action.SIGNAL: (Arg.WORD, Arg.WORD),
    Action.CASE: (Arg.WORD, Arg.INT),
    Action.REPORT: (Arg.WORD, Arg.WORD),
    Action.ANNOUNCE: (Arg.WORD, Arg.WORD),
    Action.SERIES: (Arg.WORD, Arg.INT),
    Action.WRITE: (Arg.WORD, Arg.INT),
    Action.SUPPORT: (Arg.WORD, Arg.INT),
    Action.PHONE: (Arg.WORD, Arg.INT),
    Action.ASK: (Arg.WORD, Arg.WORD),
    Action.VALIDATE: (Arg.WORD, Arg.INT),
    Action.VALIDATION_STEP: (Arg.WORD, Arg.WORD),
    Action.MINE: (Arg.WORD, Arg.INT),
    Action.TASK: (Arg.WORD, Arg.INT),
    Action.NEARBY: (Arg.WORD, Arg.INT),
    Action.EDIT_REQUEST: (Arg.WORD, Arg.WORD),
    Action.CHARTER: (Arg.WORD, Arg.INT),
    Action.CHARTER_ADMIN: (Arg.WORD, Arg.WORD),
    Action.CHECKIN: (Arg.WORD,),
    Action.MEMBERS: (Arg.WORD, Arg.WORD),
    Action.STANDING: (Arg.WORD, Arg.INT),
    Action.MENU: (Arg.WORD,),
    Action.REGISTER: (Arg.WORD, Arg.INT),
    Action.REGISTER_STEP: (Arg.WORD, Arg.WORD),
    Action.WATCH: (Arg.WORD, Arg.INT),
    Action.WATCH_STEP: (Arg.WORD, Arg.WORD),
    Action.WATCH_CALL: (Arg.WORD, Arg.INT),
    Action.WATCH_ALERT: (Arg.WORD, Arg.INT),
    Action.WATCH_NEED: (Arg.INT, Arg.INT),
    Action.WATCH_DRAFT: (Arg.WORD, Arg.INT),
}


@dataclass(frozen=True)
class Callback:
    """A parsed callback: its action and typed arguments."""

    action: Action
    args: tuple[int | str, ...] = ()

    def int_arg(self, index: int) -> int:
        """The argument at `index`, which the signature says is an integer."""
        value = self.args[index]
        if not isinstance(value, int):
            raise TypeError(f"argument {index} of {self.action} is not an integer")
        return value

    def str_arg(self, index: int) -> str:
        """The argument at `index`, which the signature says is a word."""
        return str(self.args[index])


def encode(action: Action, *args: int | str) -> str:
    """Build callback data for a button; raises if it breaks the format or the size limit."""
    signature = _SIGNATURES[action]
    if len(args) != len(signature):
        raise ValueError(f"{action} takes {len(signature)} arguments, got {len(args)}")
    parts = [action.value]
    for kind, value in zip(signature, args, strict=True):
        if kind is Arg.INT:
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{action}: {value!r} is not a non-negative integer")
            parts.append(str(value))
        else:
            if not isinstance(value, str) or not _WORD.fullmatch(value):
                raise ValueError(f"{action}: {value!r} is not a word")
            parts.append(value)
    data = ":".join(parts)
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def kinds(action: Action) -> tuple[Arg, ...]:
    """The kinds of an action's arguments, in order."""
    return _SIGNATURES[action]


def pattern(action: Action, *verbs: str, values: Iterable[str] = ()) -> str:
    """The regex a CallbackQueryHandler routes by: one action's buttons, or those of some verbs.

    A verb is the first argument of an action whose first argument is a word; `values` restricts
    the argument after it to a fixed choice (other data then goes to another handler). The regex
    only routes: the handler still parses the data, which is what refuses a forged payload.
    """
    if not verbs:
        return rf"^{action.value}(?::|\Z)"
    signature = _SIGNATURES[action]
    if not signature or signature[0] is not Arg.WORD:
        raise ValueError(f"{action} takes no verb")
    words = [*verbs, *values]
    if not all(_WORD.fullmatch(word) or _INT.fullmatch(word) for word in words):
        raise ValueError(f"{action}: {words!r} are not all words")
    chosen = "|".join(values)
    after = rf":(?:{chosen})\Z" if chosen else r"(?::|\Z)"
    return rf"^{action.value}:(?:{'|'.join(verbs)}){after}"


def parse(data: str | None) -> Callback | None:
    """Parse callback data; None for anything this version of the bot did not produce."""
    if not data or not data.isascii() or len(data) > MAX_CALLBACK_BYTES:
        return None
    head, *raw_args = data.split(":")
    try:
        action = Action(head)
    except ValueError:
        return None
    signature = _SIGNATURES[action]
    if len(raw_args) != len(signature):
        return None
    args: list[int | str] = []
    for kind, raw in zip(signature, raw_args, strict=True):
        if kind is Arg.INT:
            if not _INT.fullmatch(raw):
                return None
            args.append(int(raw))
        elif _WORD.fullmatch(raw):
            args.append(raw)
        else:
            return None
    return Callback(action, tuple(args))
