"""What every guided conversation shares, in PTB's own shape.

A conversation module declares one `Conversation` (its name, its buttons' action, its draft type,
its texts), registers the question of each step with `@FLOW.question(STATE)`, and builds its
ConversationHandler as PTB's examples do: `states={STATE: [handlers…]}`, one handler per state and
verb (`FLOW.on(verb, step)`) or kind of message (`FLOW.text(step)`, `.pin(…)`, `.contact(…)`).

A step receives a `Turn`: the person (identified once), their typed draft, and the state the
update arrived in; it returns the next state (None: stay where it was; END: finished). The state
is PTB's alone: `build` binds each handler to the state it is listed under, which is how a
re-ask, ⬅ or a command sent mid-way know where the person is. `build` also gives every state the
same tail, after its own handlers:

- ⬅ (the button `back`, or the reply keyboard's "⬅ Back") → the step `previous` names;
- ✖ (the button `cancel`) and /cancel → nothing is kept, `texts.cancelled` is said;
- a tap on one of this conversation's buttons that the state does not expect → "no longer valid";
- a command → `texts.busy` and the question again (without `busy`, commands go to their handlers);
- anything else → `texts.not_understood` ("yes" or "no" typed: use the buttons), and the
  question again if the state has one.

A question with inline buttons (`Turn.say` with an inline keyboard) is the current question: its
message id is kept in `user_data`; the next question (or /cancel) takes its buttons away, and a
tap on any older message of the conversation (an earlier step's ⬅, on a client that still shows
it) is answered "this button is from an earlier step", its buttons taken away, the step kept.

Every tap passes through `handlers.buttons.tap` (parsed, person identified, stale or forged data
answered, role checked) and is answered once. `user_data[name]` holds the draft as a plain dict
(conversations/codec.py): a step's changes to `turn.draft` are stored when it returns a state, the
draft is dropped when it returns END, and a step that raises leaves the stored answers as they
were (Post can be tapped again after a failure). A draft stored in another shape (by an older
version of the bot) cannot be loaded: the person is told to start again, and the conversation ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

from telegram import (
    InlineKeyboardButton,
    Message,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.messages.drafts import RESTART_COMMANDS
from conversations import codec
from conversations.keyboards import (
    Buttons,
    Keyboard,
    back,
    back_or_cancel,
    choices,
    chunks,
    reply_keyboard,
)
from conversations.turn import (
    BACK_LABEL,
    CANCEL_LABEL,
    END,
    NOT_UNDERSTOOD,
    SKIP_LABEL,
    D,
    Markup,
    Previous,
    State,
    Step,
    TapStep,
    Turn,
)
from handlers.buttons import inline_button, query_of, tap
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Speaker, said

# The conversations read these from here (the base); they live in `turn` and `keyboards`.
__all__ = [
    "BACK_LABEL",
    "CANCEL_LABEL",
    "END",
    "PRIVATE",
    "SKIP_LABEL",
    "TEXT",
    "Buttons",
    "Conversation",
    "Keyboard",
    "Markup",
    "State",
    "Texts",
    "Turn",
    "back",
    "back_or_cancel",
    "choices",
    "chunks",
    "reply_keyboard",
]

Handler = BaseHandler[Update, BrigadeContext, Any]
PRIVATE = filters.ChatType.PRIVATE
TEXT = PRIVATE & filters.TEXT & ~filters.COMMAND
START_AGAIN = N_("Sorry, your answers so far could not be kept. Please start again: {command}.")
EARLIER_STEP = N_("This button is from an earlier step. Please answer the last question.")


@dataclass(frozen=True)
class Texts:
    """What a conversation says in the situations every conversation meets (message ids)."""

    # After /cancel or ✖: nothing was kept.
    cancelled: str
    # To a command sent mid-way (then the question again); None leaves commands to their handlers.
    busy: str | None = None
    # To a message the step does not expect (then the question again, if the step has one).
    not_understood: str = NOT_UNDERSTOOD
    # To a tap on one of its buttons once the conversation is over (message ids joined by a
    # space), unless the conversation expired (then that is said) or `finished` names the verb.
    ended: tuple[str, ...] = (NO_LONGER_VALID,)
    finished: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """A handler of `states`, made once `build` knows the state it is listed under."""

    make: Callable[[str | None], Handler]


class _UnlessOwnCommand(MessageHandler[BrigadeContext, Any]):
    """Commands sent mid-way, except those the conversation's fallbacks take (/cancel…)."""

    def __init__(self, callback: Any, fallbacks: Sequence[Handler]) -> None:
        super().__init__(PRIVATE & filters.COMMAND, callback)
        self._fallbacks = fallbacks

    def check_update(self, update: object) -> Any:
        """A command none of the fallbacks would take."""
        if any(handler.check_update(update) not in (None, False) for handler in self._fallbacks):
            return False
        return super().check_update(update)


@dataclass(eq=False)
class Conversation(Generic[D]):
    """One guided conversation: its name, buttons, draft type, texts and questions."""

    name: str
    # The action of its buttons (None: a conversation without buttons).
    action: Action | None
    draft_type: type[D]
    texts: Texts
    # Who may take part (the route refuses others with `refusal`).
    role: Role | None = None
    refusal: str = NOT_A_COORDINATOR
    # Whether every button of `action` belongs to this conversation (else only its verbs).
    owns_action: bool = True
    per_chat: bool = True
    allow_reentry: bool = False
    questions: dict[str, Step[D]] = field(default_factory=dict, init=False)
    _previous: Previous[D] | None = field(default=None, init=False)
    _leave: Step[D] | None = field(default=None, init=False)
    _verbs: dict[Action, set[str]] = field(default_factory=dict, init=False)

    @property
    def _stores(self) -> bool:
        """Whether there is anything to keep between updates (/verify keeps nothing)."""
        return bool(dataclasses.fields(self.draft_type))  # type: ignore[arg-type]

    # --- declarations --------------------------------------------------------------------------

    def prompt(
        self,
        state: str,
        text: str,
        keyboard: Keyboard | None = None,
        **values: Callable[[Turn[D]], object],
    ) -> None:
        """Register a question that is one message: `text` (a message id, its placeholders filled
        with `values` read from the turn) and `keyboard` (see `back`, `choices`…; it may be read
        from the services: then it is a coroutine function)."""

        async def ask(turn: Turn[D]) -> None:
            filled = {key: value(turn) for key, value in values.items()}
            markup = keyboard(turn) if keyboard else None
            if inspect.isawaitable(markup):
                markup = await markup
            await turn.say(turn._(text, **filled), markup)

        self.questions[state] = ask

    def question(self, state: str) -> Callable[[Step[D]], Step[D]]:
        """Register the question of a step (it returns None, or the state it leads to instead)."""

        def register(ask: Step[D]) -> Step[D]:
            self.questions[state] = ask
            return ask

        return register

    def previous(self, rule: Previous[D]) -> Previous[D]:
        """Register where ⬅ leads from a step (None: out, through `leaving`)."""
        self._previous = rule
        return rule

    def leaving(self, step: Step[D]) -> Step[D]:
        """Register what ⬅ does where `previous` leads out of the conversation."""
        self._leave = step
        return step

    @property
    def has_back(self) -> bool:
        """Whether the conversation's steps offer ⬅."""
        return self._previous is not None

    def previous_of(self, turn: Turn[D]) -> str | None:
        """Where ⬅ leads from the turn's state."""
        assert self._previous is not None
        return self._previous(turn)

    async def leave(self, turn: Turn[D]) -> State:
        """⬅ out of the conversation."""
        return END if self._leave is None else await self._leave(turn)

    # --- drafts --------------------------------------------------------------------------------

    def load(self, context: BrigadeContext) -> D | None:
        """The person's draft; None if there is none or it was stored in another shape."""
        if not self._stores:
            return self.draft_type()
        return codec.load(self.draft_type, (context.user_data or {}).get(self.name))

    def store(self, context: BrigadeContext, draft: D) -> None:
        """Keep the draft (as JSON values) until the next update."""
        if self._stores and context.user_data is not None:
            context.user_data[self.name] = codec.dump(draft)

    def drop(self, context: BrigadeContext) -> None:
        """Forget the draft."""
        if context.user_data is not None:
            context.user_data.pop(self.name, None)
            context.user_data.pop(self._question_key, None)

    # --- the current question ------------------------------------------------------------------

    @property
    def _question_key(self) -> str:
        """Where `user_data` keeps the id of the message asking the current question."""
        return f"{self.name}.question"

    async def retire_question(self, context: BrigadeContext, message: Message) -> None:
        """Take the current question's buttons away (a new question comes; an old message may
        refuse it)."""
        asked = (context.user_data or {}).get(self._question_key)
        if isinstance(asked, int):
            with contextlib.suppress(TelegramError):
                await message.get_bot().edit_message_reply_markup(
                    message.chat.id, asked, reply_markup=None
                )

    def asked_in(self, context: BrigadeContext, message: Message) -> None:
        """Remember that `message` (with buttons) asks the current question."""
        if context.user_data is not None:
            context.user_data[self._question_key] = message.message_id

    def from_earlier_step(self, context: BrigadeContext, update: Update) -> bool:
        """Whether a tap is on a message older than the current question's."""
        query = update.callback_query
        current = (context.user_data or {}).get(self._question_key)
        if query is None or query.message is None or not isinstance(current, int):
            return False
        return query.message.message_id < current

    # --- buttons -------------------------------------------------------------------------------

    def button(
        self, label: str, verb: str, value: str | int = "x", *, action: Action | None = None
    ) -> InlineKeyboardButton:
        """An inline button of this conversation: (verb, value) in its callback data."""
        action = action or self._action()
        if callbacks.kinds(action)[1:] != (callbacks.Arg.INT,):
            value = str(value)
        return inline_button(label, action, verb, value)

    def back_row(self, _: Translator, *, cancel: bool = False) -> list[InlineKeyboardButton]:
        """The ⬅ button row every step shows (with ✖ where the conversation offers it)."""
        row = [self.button(_(BACK_LABEL), "back")]
        if cancel:
            row.append(self.button(_(CANCEL_LABEL), "cancel"))
        return row

    # --- handlers of `states`, `entry_points` and `fallbacks` ----------------------------------

    def on(
        self,
        verb: str,
        step: TapStep[D],
        *,
        values: Sequence[str | int] = (),
        action: Action | None = None,
    ) -> Spec:
        """The handler of one verb of this conversation's buttons, in the state it is listed in;
        with `values`, only for those values (any other is answered as no longer valid)."""
        action = action or self._action()
        self._verbs.setdefault(action, set()).add(verb)
        regex = callbacks.pattern(action, verb, values=[str(value) for value in values])
        return Spec(lambda state: CallbackQueryHandler(self._tapped(step, state), pattern=regex))

    def text(self, step: Step[D]) -> Spec:
        """The handler of a typed answer (the reply keyboard's ⬅ Back goes back instead)."""
        return self.message(TEXT, step)

    def keep_text(
        self,
        attribute: str,
        max_length: int,
        refusal: str,
        *,
        then: str,
        lines: bool = False,
    ) -> Spec:
        """The handler of a typed answer kept as it is in the draft's `attribute` (a dotted path
        for a part of it: "beneficiary.name"), then the question of `then`. The answer has 1 to
        `max_length` characters (on one line, or several with `lines`); else `refusal` is said."""
        *parents, name = attribute.split(".")

        async def keep(turn: Turn[D]) -> State:
            text = await turn.typed(max_length, refusal, lines=lines)
            if text is None:
                return None
            setattr(functools.reduce(getattr, parents, turn.draft), name, text)
            return await turn.ask(then)

        keep.__doc__ = f"Keep the text typed in the draft's {attribute}."
        return self.text(keep)

    def pin(self, step: Step[D]) -> Spec:
        """The handler of a location (a pin)."""
        return self.message(PRIVATE & filters.LOCATION, step)

    def contact(self, step: Step[D]) -> Spec:
        """The handler of a shared contact."""
        return self.message(PRIVATE & filters.CONTACT, step)

    def message(self, accepted: filters.BaseFilter, step: Step[D]) -> Spec:
        """The handler of messages that pass `accepted`."""
        return Spec(lambda state: MessageHandler(accepted, self._said(step, state)))

    def command(
        self,
        name: str,
        step: Step[D],
        *,
        restart: bool = False,
        accepted: filters.BaseFilter | None = None,
    ) -> Spec:
        """The handler of a command (with `accepted`); `restart`: it starts over, fresh draft."""
        only = PRIVATE if accepted is None else PRIVATE & accepted
        return Spec(
            lambda state: CommandHandler(name, self._said(step, state, fresh=restart), only)
        )

    def start_command(
        self, name: str, step: Step[D], *, accepted: filters.BaseFilter | None = None
    ) -> Handler:
        """An entry point: the command (with `accepted`) starts the conversation, fresh draft."""
        return self.command(name, step, restart=True, accepted=accepted).make(None)

    def start_tap(
        self,
        step: TapStep[D],
        *,
        action: Action | None = None,
        verb: str = "",
        values: Sequence[str] = (),
    ) -> Handler:
        """An entry point: a button (of `verb`, with one of `values`) starts the conversation."""
        return self.restart_tap(step, action=action, verb=verb, values=values).make(None)

    def restart_tap(
        self,
        step: TapStep[D],
        *,
        action: Action | None = None,
        verb: str = "",
        values: Sequence[str] = (),
    ) -> Spec:
        """A button that starts the conversation over, fresh draft: an entry point (`start_tap`)
        or, among the fallbacks, the button's answer mid-way (as `command(restart=True)`)."""
        action = action or self._action()
        if verb:
            self._verbs.setdefault(action, set()).add(verb)
        regex = callbacks.pattern(action, *([verb] if verb else []), values=values)
        return Spec(
            lambda state: CallbackQueryHandler(self._tapped(step, state, fresh=True), pattern=regex)
        )

    def build(
        self,
        entry_points: Sequence[Handler],
        states: Mapping[str, Sequence[Spec]],
        fallbacks: Sequence[Spec] = (),
    ) -> ConversationHandler[BrigadeContext]:
        """The ConversationHandler: each state's handlers, then the shared tail (see above)."""
        ends = [
            # Private only: a conversation kept per person (per_chat=False) must not end in a group.
            CommandHandler(
                "cancel", self._said(_cancel_command, None, any_draft=True), filters=PRIVATE
            ),
            *(spec.make(None) for spec in fallbacks),
        ]
        if self.action is not None:
            self._verbs.setdefault(self.action, set()).update(
                {"back", "cancel"} if self.has_back else {"cancel"}
            )
        with_tail: dict[object, list[Handler]] = {
            state: [*(spec.make(state) for spec in specs), *self._tail(state, ends)]
            for state, specs in states.items()
        }
        with warnings.catch_warnings():
            # PTB warns that per_message=False does not track buttons per message: intended, the
            # state is per person, and a button of another step is answered as no longer valid.
            warnings.simplefilter("ignore")
            return ConversationHandler(
                entry_points=list(entry_points),
                states=with_tail,
                fallbacks=ends,
                name=self.name,
                persistent=True,
                per_chat=self.per_chat,
                allow_reentry=self.allow_reentry,
            )

    def ended_taps(self) -> Handler:
        """Taps on this conversation's buttons once it is over (registered after conversations)."""
        assert self._verbs, "build the conversation first"
        return CallbackQueryHandler(
            tap(self._on_ended_tap, role=self.role, refusal=self.refusal), pattern=self._own()
        )

    # --- the machinery -------------------------------------------------------------------------

    def _own(self) -> str:
        """The regex of this conversation's buttons."""
        if self.owns_action:
            return callbacks.pattern(self._action())
        return "|".join(
            f"(?:{callbacks.pattern(action, *sorted(verbs))})"
            for action, verbs in self._verbs.items()
        )

    def _action(self) -> Action:
        """The action of the conversation's buttons (it has some)."""
        assert self.action is not None, f"the {self.name} conversation has no buttons"
        return self.action

    def _tail(self, state: str, ends: Sequence[Handler]) -> Iterable[Handler]:
        """The handlers every state ends with (see the module's docstring)."""
        if self.action is not None:
            if self.has_back:
                yield CallbackQueryHandler(self._tapped(_back, state), pattern=self._verb("back"))
            yield CallbackQueryHandler(self._tapped(_cancel, state), pattern=self._verb("cancel"))
            yield CallbackQueryHandler(self._tapped(_stale, state), pattern=self._own())
        if self.texts.busy is not None:
            yield _UnlessOwnCommand(self._said(_busy, state), ends)
        yield MessageHandler(PRIVATE & ~filters.COMMAND, self._said(_not_understood, state))

    def _verb(self, verb: str) -> str:
        """The regex of one verb of the conversation's own action."""
        return callbacks.pattern(self._action(), verb)

    def _tapped(
        self, step: TapStep[D], state: str | None, *, fresh: bool = False
    ) -> Callable[[Update, BrigadeContext], Coroutine[Any, Any, State]]:
        """A step answering a button, as a PTB callback through the tap route."""

        async def run(
            update: Update, context: BrigadeContext, who: Speaker, button: Callback
        ) -> State:
            if state is not None and self.from_earlier_step(context, update):
                # ⬅ (or any button) of a question already answered: the step stays.
                query = query_of(update)
                await query.answer(who._(EARLIER_STEP))
                with contextlib.suppress(TelegramError):
                    await query.edit_message_reply_markup(None)
                return None
            return await self._run(
                update, context, who, state, lambda turn: step(turn, button), fresh=fresh
            )

        return tap(run, role=self.role, refusal=self.refusal)

    def _said(
        self, step: Step[D], state: str | None, *, fresh: bool = False, any_draft: bool = False
    ) -> Callable[[Update, BrigadeContext], Coroutine[Any, Any, State]]:
        """A step answering a message, as a PTB callback through the said route."""

        async def run(
            update: Update, context: BrigadeContext, who: Speaker, message: Message
        ) -> State:
            return await self._run(
                update, context, who, state, step, fresh=fresh, any_draft=any_draft
            )

        return said(run, role=self.role, refusal=self.refusal)

    async def _run(
        self,
        update: Update,
        context: BrigadeContext,
        who: Speaker,
        state: str | None,
        step: Step[D],
        *,
        fresh: bool = False,
        any_draft: bool = False,
    ) -> State:
        """Load the draft, run the step, answer the tap, keep or drop the draft."""
        draft = self.draft_type() if fresh else self.load(context)
        if draft is None and any_draft:
            draft = self.draft_type()
        if draft is None:
            return await self._start_again(update, context, who)
        turn = Turn(self, update, context, who, draft, state)
        if state is not None and self.has_back and turn.is_back():
            led = await turn.back()
        else:
            led = await step(turn)
        await turn.answer()
        if led == END:
            self.drop(context)
        elif isinstance(led, str) or (led is None and not fresh):
            self.store(context, turn.draft)
        return led

    async def _start_again(self, update: Update, context: BrigadeContext, who: Speaker) -> State:
        """A draft of another shape (an older version's): start again, cleanly."""
        self.drop(context)
        if update.callback_query is not None:
            await update.callback_query.answer()
        message = update.effective_message
        assert message is not None
        await message.get_bot().send_message(
            message.chat.id,
            who._(START_AGAIN, command=RESTART_COMMANDS.get(self.name, "/help")),
            reply_markup=ReplyKeyboardRemove(),
        )
        return END

    async def _on_ended_tap(
        self, update: Update, context: BrigadeContext, who: Speaker, button: Callback
    ) -> None:
        """A tap on a button of this conversation once it is over."""
        query = query_of(update)
        _ = who._
        verb = button.str_arg(0) if button.args and isinstance(button.args[0], str) else ""
        if verb in self.texts.finished:
            await query.answer(_(self.texts.finished[verb]))
        else:
            await query.answer(" ".join(_(text) for text in self.texts.ended))


async def _back(turn: Turn[Any], button: Callback) -> State:
    """⬅: the step before (or out of the conversation)."""
    return await turn.back()


async def _cancel(turn: Turn[Any], button: Callback) -> State:
    """✖: nothing is kept."""
    return await turn.cancel()


async def _cancel_command(turn: Turn[Any]) -> State:
    """/cancel: nothing is kept."""
    return await turn.cancel()


async def _stale(turn: Turn[Any], button: Callback) -> State:
    """A button of this conversation the step does not expect: no longer valid."""
    return await turn.stale()


async def _busy(turn: Turn[Any]) -> State:
    """A command sent mid-way: it waits; the question again."""
    busy = turn.flow.texts.busy
    assert busy is not None
    await turn.say(turn._(busy))
    return await _ask_again(turn)


async def _not_understood(turn: Turn[Any]) -> State:
    """Anything else: ⬅ typed goes back; otherwise the question again."""
    if turn.flow.has_back and turn.is_back():
        return await turn.back()
    return await turn.not_understood()


async def _ask_again(turn: Turn[Any]) -> State:
    """The question of the turn's step again, if it has one; else stay."""
    if turn.state is None or turn.state not in turn.flow.questions:
        return None
    return await turn.ask(turn.state)
