"""Replacing the town's charter: a coordinator writes it per language, previews, publishes.

It starts from a "✏️ Replace" button of /charter (`cha:replace:<language>`). Steps: the text (one
text message of at most MAX_CHARTER_LENGTH characters, so that the charter and its question fit
the one message a volunteer reads; a file or a photo is refused with a clear answer), a preview
exactly as volunteers reading that language will see it, then Publish — which asks for a
confirmation, publishing cannot be undone — Rewrite, another language, or Discard (✖). Only
coordinators get through (the route checks the role at every step). Publishing ends the
conversation, so that a second tap finds nothing to publish.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import ConversationHandler, filters

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import LANGUAGE_NAMES, N_, Translator
from bot.messages.base import Town
from bot.messages.charters import CharterToAccept, long_date
from bot.services.charters import MAX_CHARTER_LENGTH, Published
from bot.services.outcomes import Outcome
from bot.settings import SUPPORTED_LANGUAGES
from bot.text import several_lines
from conversations.base import END, PRIVATE, Conversation, State, Texts, Turn
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR


class Step(StrEnum):
    """The steps of replacing the charter (stored between updates: keep the values)."""

    TEXT = "ch_text"
    PREVIEW = "ch_preview"
    CONFIRM = "ch_confirm"


@dataclass
class CharterDraft:
    """The language being written, and the new text of each language written so far."""

    language: str | None = None
    fr: str | None = None
    en: str | None = None
    nl: str | None = None

    def texts(self) -> dict[str, str]:
        """The new texts by language."""
        written = {"fr": self.fr, "en": self.en, "nl": self.nl}
        return {language: text for language, text in written.items() if text}


CHARTER_EDIT = Conversation(
    "charter",
    Action.CHARTER_ADMIN,
    CharterDraft,
    Texts(
        cancelled=N_("Discarded: the charter in force is unchanged."),
        not_understood=N_("Please use the buttons above, or send /cancel to stop."),
        ended=(NO_LONGER_VALID, N_("Send /charter to replace the charter.")),
    ),
    role=Role.COORDINATOR,
)
Turn_ = Turn[CharterDraft]


def replace_buttons(_: Translator) -> list[InlineKeyboardButton]:
    """ "✏️ Replace (fr)", one per language."""
    return [
        CHARTER_EDIT.button(_("✏️ Replace ({language})", language=language), "replace", language)
        for language in SUPPORTED_LANGUAGES
    ]


async def on_replace(turn: Turn_, button: Callback) -> State:
    """✏️ Replace (language): ask for that language's new text."""
    language = button.str_arg(1)
    if language not in SUPPORTED_LANGUAGES:
        return await turn.stale()
    turn.draft.language = language
    await turn.answer()
    await turn.say(
        turn._(
            "Send the new charter in {language} as one text message of at most {limit} "
            "characters; volunteers will read it exactly as you write it. /cancel to stop.",
            language=LANGUAGE_NAMES[language],
            limit=MAX_CHARTER_LENGTH,
        )
    )
    return Step.TEXT


async def on_text(turn: Turn_) -> State:
    """Keep the text if it fits; show the preview."""
    _, draft = turn._, turn.draft
    text = several_lines(turn.message.text or "")
    if not text:
        return await not_text(turn)
    if len(text) > MAX_CHARTER_LENGTH:
        await turn.say(
            _(
                "This text is too long ({length}/{limit} characters): the charter must fit in "
                "one message. Please send a shorter one.",
                length=len(text),
                limit=MAX_CHARTER_LENGTH,
            )
        )
        return None
    if draft.language not in SUPPORTED_LANGUAGES:
        return await turn.stale()
    setattr(draft, draft.language, text)
    return await _preview(turn)


async def not_text(turn: Turn_) -> State:
    """A file, a photo, a sticker where the charter's text is expected."""
    await turn.say(
        turn._(
            "Please send the charter as a text message (a file is not read), or /cancel to stop."
        )
    )
    return None


def _next_version(current: int) -> int:
    return current + 1


async def _preview(turn: Turn_) -> State:
    """The new charter exactly as volunteers reading the language just written will see it."""
    _, draft = turn._, turn.draft
    services = turn.services
    current = await services.charters.current()
    language = draft.language or services.settings.default_language
    accept_by = services.clock() + timedelta(days=services.settings.charter_grace_days)
    notice = CharterToAccept(
        _next_version(current.number),
        tuple(sorted((current.by_language | draft.texts()).items())),
        accept_by,
    )
    rendered = notice.render(services.i18n.translator(language), Town.of(services.settings))
    heading = _(
        "Preview — as volunteers reading in {language} will see it:",
        language=LANGUAGE_NAMES[language],
    )
    others = [
        CHARTER_EDIT.button(LANGUAGE_NAMES[other], "replace", other)
        for other in SUPPORTED_LANGUAGES
        if other != language
    ]
    keyboard = InlineKeyboardMarkup(
        [
            [CHARTER_EDIT.button(_("📜 Publish"), "publish")],
            [CHARTER_EDIT.button(_("✏️ Rewrite"), "replace", language), *others],
            [CHARTER_EDIT.button(_("✖ Discard"), "cancel")],
        ]
    )
    await turn.say(f"{heading}\n\n{rendered.text}", keyboard)
    return Step.PREVIEW


async def on_publish(turn: Turn_, button: Callback) -> State:
    """📜 Publish: the confirmation first (it cannot be undone)."""
    _, services = turn._, turn.services
    if not turn.draft.texts():
        return await turn.stale()
    await turn.answer()
    await turn.drop_buttons()
    current = await services.charters.current()
    accept_by = services.clock() + timedelta(days=services.settings.charter_grace_days)
    written = ", ".join(LANGUAGE_NAMES[language] for language in turn.draft.texts())
    keyboard = InlineKeyboardMarkup(
        [
            [CHARTER_EDIT.button(_("✅ Yes, publish"), "confirm", "yes")],
            [CHARTER_EDIT.button(_("⬅ Back to the preview"), "confirm", "no")],
        ]
    )
    await turn.say(
        _(
            "Publish version {version} of the charter (new text: {languages})? Every approved "
            "volunteer will be asked to accept it; those who have not accepted it by {date} "
            "receive no request until they do. This cannot be undone.",
            version=_next_version(current.number),
            languages=written,
            date=long_date(accept_by, _, Town.of(services.settings)),
        ),
        keyboard,
    )
    return Step.CONFIRM


async def on_back_to_preview(turn: Turn_, button: Callback) -> State:
    """⬅ Back to the preview: nothing published."""
    await turn.answer()
    await turn.drop_buttons()
    return await _preview(turn)


async def on_confirm(turn: Turn_, button: Callback) -> State:
    """✅ Yes, publish: a new version, and every approved volunteer asked to accept it."""
    _ = turn._
    result = await turn.services.charters.publish(turn.user_id, turn.draft.texts())
    await turn.answer()
    if not isinstance(result, Published):
        texts = {
            Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
            Outcome.ALREADY_DONE: _(
                "Another coordinator published a version at the same moment: send /charter "
                "to see it, then replace it again if needed."
            ),
        }
        await _show(turn, texts.get(result, _("The charter could not be published.")))
        return END
    await _show(
        turn,
        _.ngettext(
            "📜 Version {version} of the charter is published: {count} volunteer is asked to "
            "accept it.",
            "📜 Version {version} of the charter is published: {count} volunteers are asked to "
            "accept it.",
            result.asked,
            version=result.charter.number,
        ),
    )
    return END


async def _show(turn: Turn_, text: str) -> None:
    """The decision in the confirmation message itself (or anew, if it cannot be edited)."""
    query = turn.update.callback_query
    if query is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(text)
            return
    await turn.say(text)


def build_charter_conversation() -> ConversationHandler[BrigadeContext]:
    """Replacing the charter, persistent across restarts."""
    replace = CHARTER_EDIT.on("replace", on_replace, values=SUPPORTED_LANGUAGES)
    return CHARTER_EDIT.build(
        entry_points=[
            CHARTER_EDIT.start_tap(on_replace, verb="replace", values=SUPPORTED_LANGUAGES)
        ],
        states={
            Step.TEXT: [
                CHARTER_EDIT.text(on_text),
                replace,
                CHARTER_EDIT.message(PRIVATE & ~filters.COMMAND, not_text),
            ],
            Step.PREVIEW: [CHARTER_EDIT.on("publish", on_publish), replace],
            Step.CONFIRM: [
                CHARTER_EDIT.on("confirm", on_confirm, values=["yes"]),
                CHARTER_EDIT.on("confirm", on_back_to_preview, values=["no"]),
                replace,
            ],
        },
    )
