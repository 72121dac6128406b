"""The one place where every handler is attached, in the order PTB must try them."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import COORDINATOR_ACTIONS, Action, pattern
from bot.context import BrigadeApplication, BrigadeContext
from bot.domain.vocabulary import Role
from bot.messages.cases import OUTCOME_WORDS
from bot.updates import DEDUPLICATION_GROUP, build_deduplication_handler
from conversations.admin import ADMIN, build_admin_conversation
from conversations.announce import ANNOUNCE, build_announce_conversation, on_refresh
from conversations.ask import ASK, build_ask_conversation
from conversations.charter import CHARTER_EDIT, build_charter_conversation
from conversations.concern import CONCERN, build_concern_conversation
from conversations.posting import POSTING, build_posting_conversation
from conversations.profile import card, pause
from conversations.profile.edit import PROFILE, build_profile_conversation
from conversations.referent_phone import (
    NOT_A_REFERENT,
    REFERENT_PHONE,
    build_referent_phone_conversation,
)
from conversations.register import REGISTER, build_register_conversation
from conversations.rejection import build_rejection_conversation
from conversations.request_edit import EDITING, build_request_edit_conversation
from conversations.signal import SIGNAL, build_signal_conversation
from conversations.signup import SIGNUP, build_signup_conversation
from conversations.standing import (
    SEARCH,
    STANDING,
    build_search_conversation,
    build_standing_conversation,
)
from conversations.validation import VALIDATION, build_validation_conversation
from conversations.verify import build_verify_conversation
from conversations.visit import VISIT, build_visit_conversation
from conversations.watch import build_watch_conversation
from conversations.write import WRITE, build_write_conversation
from handlers import (
    admin,
    cases,
    charter,
    commitments,
    correspondence,
    directory,
    errors,
    fallback,
    groups,
    invites,
    language,
    privacy,
    reachability,
    reports,
    requests,
    start,
    validation,
    vetting,
    watch,
    watch_calls,
)
from handlers.badges import badge
from handlers.buttons import tap
from handlers.common import known_speaker, said
from handlers.gate import TapGate
from handlers.series import on_make, on_schedule, on_stop, series_command

# Handlers in this group run after every other group, for every update.
AFTER_EVERYTHING = 100
# After the command was answered: a volunteer is reminded of a charter awaiting acceptance.
AFTER_COMMANDS = 90
# Commands after which no reminder is given: /charter shows it; the others must store nothing.
WITHOUT_CHARTER_REMINDER = r"^/(charter|forget|mydata|cancel)(@\w+)?(\s|$)"


COORDINATOR = Role.COORDINATOR


async def flush_persistence(update: Update, context: BrigadeContext) -> None:
    """Write conversation states and drafts now rather than on PTB's timer (crash safety)."""
    await context.application.update_persistence()


def register_handlers(application: BrigadeApplication, *, keep_updates: timedelta) -> None:
    """Attach every handler; within a group PTB stops at the first one that matches."""
    private = filters.ChatType.PRIVATE

    # 0. Before anything: an update Telegram delivered twice is handled once.
    application.add_handler(build_deduplication_handler(keep_updates), group=DEDUPLICATION_GROUP)

    # 0b. Taps nothing below may see: empty callback data (PTB matches it with every pattern),
    # and private-only buttons outside a private chat (only Claim and Link work in groups).
    application.add_handler(TapGate())

    # 1. Conversations first: while someone is in one, it takes their messages and buttons.
    # Writing through the bot ("💬 Write to…", "↩ Reply") comes first: the tap is the person's
    # latest intent, and their next message is the one they meant to send.
    application.add_handler(build_write_conversation())
    application.add_handler(build_signup_conversation())
    application.add_handler(build_rejection_conversation())
    application.add_handler(build_admin_conversation())
    # (the directory: a card's action and its reason, the search's text)
    application.add_handler(build_standing_conversation())
    application.add_handler(build_search_conversation())
    # (posting a request: /new)
    application.add_handler(build_posting_conversation())
    # (asking for oneself: /ask; a validator's edit or reason for declining)
    application.add_handler(build_ask_conversation())
    application.add_handler(build_validation_conversation())
    # (changing an unclaimed request from its card in /mine: the card's ✏️ buttons)
    application.add_handler(build_request_edit_conversation())
    # (self-service conversations: profile editing)
    application.add_handler(build_profile_conversation())
    # Relays: /signal and the relay link /start relay (before the generic /start); /verify.
    application.add_handler(build_signal_conversation())
    application.add_handler(build_verify_conversation())
    # (announcements: /announce conversation)
    application.add_handler(build_announce_conversation())
    # (a new referent's phone for their claimers, offered when they accept their invitation)
    application.add_handler(build_referent_phone_conversation())
    # ✅ Done and the visit report (before the claimer's other follow-up buttons, in 3).
    application.add_handler(build_visit_conversation())
    # ⚠️ Report a concern, then the sentence (before the claimer's other follow-up buttons, in 3).
    application.add_handler(build_concern_conversation())
    # (the town's charter: a coordinator replaces it, from /charter's buttons)
    application.add_handler(build_charter_conversation())
    # (the watch register: ➕ Add a person, ✏️ Change a record, from /register's buttons)
    application.add_handler(build_register_conversation())
    # (a watch campaign: ▶️ Start on /watch)
    application.add_handler(build_watch_conversation())
    # (privacy: /forget confirmation)
    # (not a conversation: the pending confirmation is a timestamp in user_data)

    # 1b. Taps on the buttons of a conversation that is over (or expired): said so.
    ended = (SIGNUP, ADMIN, POSTING, EDITING, ASK, VALIDATION, PROFILE, SIGNAL, ANNOUNCE)
    enders = (WRITE, REFERENT_PHONE, VISIT, CONCERN, CHARTER_EDIT, STANDING, SEARCH, REGISTER)
    for conversation in (*ended, *enders):
        application.add_handler(conversation.ended_taps())

    # 2. Commands, private chats only; `said` identifies the sender and checks the role.
    commands = [
        ("start", said(start.start)),
        ("help", said(start.help_command)),
        ("language", said(language.ask_language)),
        ("pending", said(vetting.pending)),
        ("members", said(directory.members, role=COORDINATOR)),
        ("invite", said(invites.ask_role, role=COORDINATOR)),
        ("neighbourhoods", said(admin.neighbourhoods, role=COORDINATOR)),
        ("skills", said(admin.skills, role=COORDINATOR)),
        # (coordinator views and figures)
        ("open", said(reports.open_requests, role=COORDINATOR)),
        ("stuck", said(reports.stuck, role=COORDINATOR)),
        ("stats", said(reports.stats, role=COORDINATOR)),
        ("export", said(reports.export, role=COORDINATOR)),
        # Relays, badges and recurring care (/signal and /verify are conversations, above).
        ("badge", said(badge)),
        ("cases", said(cases.cases_command)),
        ("series", said(series_command)),
        # The watch register (the service checks: a referent or a coordinator).
        ("register", said(watch.register_command)),
        ("watch", said(watch_calls.watch_command, role=COORDINATOR)),
        # Everyone's own commitments (each use case checks the role in the database).
        ("mine", said(commitments.mine)),
        ("tasks", said(commitments.tasks)),
        ("nearby", said(commitments.nearby)),
        # (self-service: /profile /pause /resume)
        ("profile", said(card.show_profile)),
        ("pause", said(pause.pause_command)),
        ("resume", said(pause.resume_command)),
        # (the town's charter: coordinators replace it, volunteers read and accept it)
        ("charter", said(charter.charter_command)),
        # (privacy: nothing may be stored by asking what is stored)
        ("mydata", said(privacy.my_data, identify=known_speaker)),
        ("forget", said(privacy.ask_forget, identify=known_speaker)),
    ]
    for name, callback in commands:
        application.add_handler(CommandHandler(name, callback, filters=private))
    # In groups: attach the group to a neighbourhood.
    application.add_handler(
        CommandHandler("link", said(groups.link), filters=filters.ChatType.GROUPS)
    )

    # 3. Inline buttons outside conversations: `tap` parses the data, identifies the person,
    # answers a stale or forged tap and checks the role; one handler per action or verb.
    buttons = [
        (pattern(Action.SET_LANGUAGE), tap(language.set_language)),
        (pattern(Action.VET, "approve"), tap(vetting.on_approve, role=COORDINATOR)),
        (pattern(Action.VET, "reapply"), tap(vetting.on_reapply, role=COORDINATOR)),
        (pattern(Action.VERIFY_SKILL), tap(vetting.on_verify_skill, role=COORDINATOR)),
        # (the directory's pages, filters and cards; its actions are a conversation, above)
        (
            pattern(Action.MEMBERS, "list", "card"),
            tap(directory.on_members_button, role=COORDINATOR),
        ),
        (pattern(Action.INVITE), tap(invites.create_invite, role=COORDINATOR)),
        (pattern(Action.LINK_GROUP), tap(groups.on_link_button)),
        (pattern(Action.NEIGHBOURHOOD, "on", "off"), tap(admin.on_group_posts, role=COORDINATOR)),
        (
            pattern(Action.SKILL_ADMIN, "retire", "restore"),
            tap(admin.on_skill_retirement, role=COORDINATOR),
        ),
        # The request lifecycle: offers (in private chats and groups), follow-up, referent's steps.
        (pattern(Action.CLAIM), tap(requests.on_claim)),
        (pattern(Action.DECLINE), tap(requests.on_decline)),
        (pattern(Action.UNDO_DECLINE), tap(requests.on_undo_decline)),
        (pattern(Action.CLAIM_STEP), tap(requests.on_claim_step)),
        (pattern(Action.REFERENT_STEP), tap(requests.on_referent_step)),
        (pattern(Action.REQUEST_ADMIN), tap(requests.on_request_admin)),
        # Validation: approve as is (edit and decline are the conversation above); the service
        # checks the validator (a coordinator, or a referent the card was sent to).
        (pattern(Action.VALIDATE, "approve"), tap(validation.on_approve)),
        # Everyone's own commitments: /mine's cards, /tasks' cards, /nearby's pages.
        (pattern(Action.MINE), tap(commitments.on_mine_button)),
        (pattern(Action.TASK), tap(commitments.on_task_button)),
        (pattern(Action.NEARBY), tap(commitments.on_nearby_button)),
        # /start's buttons (the command each opens checks the role again; ➕ New request is
        # the posting conversation's entry point, above).
        (pattern(Action.MENU, *start.MENU), tap(start.on_menu)),
        # (coordinator views and figures)
        (pattern(Action.REPORT), tap(reports.on_report_button, role=COORDINATOR)),
        # An announcement's delivery count (outside the /announce conversation).
        (pattern(Action.ANNOUNCE, "count"), tap(on_refresh, role=COORDINATOR)),
        # Reported cases and recurring series.
        (pattern(Action.CASE, "assign"), tap(cases.on_assign)),
        (pattern(Action.CASE, "close"), tap(cases.on_close)),
        (pattern(Action.CASE, *OUTCOME_WORDS), tap(cases.on_outcome)),
        (pattern(Action.SERIES, "stop"), tap(on_stop)),
        (pattern(Action.SERIES, "make"), tap(on_make)),
        (pattern(Action.SERIES), tap(on_schedule)),
        # The watch register's pages, records and removals (➕ and ✏️ are a conversation, above).
        (pattern(Action.REGISTER), tap(watch.on_register_button)),
        # Watch campaigns: the card (▶️ Start is a conversation, above), a caller's outcomes, and
        # what a referent or coordinator does about a person nobody reached.
        (
            pattern(Action.WATCH, "show", "stop", "stopyes", "report"),
            tap(watch_calls.on_watch_button, role=COORDINATOR),
        ),
        (pattern(Action.WATCH_CALL), tap(watch_calls.on_call_button)),
        (pattern(Action.WATCH_ALERT), tap(watch_calls.on_alert_button)),
        # 🙋's need, and the request draft it makes (✏️ Edit first is /new's entry, above).
        (pattern(Action.WATCH_NEED), tap(watch_calls.on_need_button)),
        (pattern(Action.WATCH_DRAFT, "post", "dismiss"), tap(watch_calls.on_draft_button)),
        # (self-service: ⏸ and ▶️ on the profile card, the pause durations)
        (pattern(Action.PAUSE, "menu"), tap(pause.on_pause_menu)),
        (pattern(Action.PAUSE, "resume"), tap(pause.on_resume)),
        (pattern(Action.PAUSE), tap(pause.on_pause)),
        # (privacy)
        (pattern(Action.FORGET), tap(privacy.on_forget_button, identify=known_speaker)),
        # Writing to the coordinators: "Send this to them?"; a new referent hides their phone.
        (pattern(Action.SUPPORT, "send", "no"), tap(correspondence.on_support)),
        (
            pattern(Action.PHONE, "no"),
            tap(correspondence.on_phone_hidden, role=Role.REFERENT, refusal=NOT_A_REFERENT),
        ),
        # (the town's charter, and "Still with us?")
        (pattern(Action.CHARTER), tap(charter.on_charter_button)),
        (pattern(Action.CHECKIN), tap(charter.on_checkin_button)),
    ]
    # Coordinators' buttons nothing above took (a verb of a finished step, a forged one): the
    # role is checked before anything is said about them.
    buttons += [
        (pattern(action), tap(fallback.unrouted_button, role=COORDINATOR))
        for action in sorted(COORDINATOR_ACTIONS)
    ]
    for regex, on_tap in buttons:
        application.add_handler(CallbackQueryHandler(on_tap, pattern=regex))

    # 4. The bot's own membership in private chats: blocked / unblocked.
    application.add_handler(
        ChatMemberHandler(reachability.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )

    # 5. Fallbacks, last: a tap or message nothing above took still gets an answer.
    application.add_handler(CallbackQueryHandler(tap(fallback.unrouted_button)))
    application.add_handler(
        MessageHandler(private & filters.COMMAND, said(fallback.unknown_command))
    )
    application.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            said(fallback.unexpected_message),
        )
    )

    # 5b. After a volunteer's command was answered: a new charter awaiting their acceptance.
    application.add_handler(
        MessageHandler(
            private & filters.COMMAND & ~filters.Regex(WITHOUT_CHARTER_REMINDER),
            said(charter.remind_charter_after, identify=known_speaker),
        ),
        group=AFTER_COMMANDS,
    )

    # 6. After every update, whatever handled it: persist conversation states and drafts.
    application.add_handler(TypeHandler(Update, flush_persistence), group=AFTER_EVERYTHING)

    # 7. Errors anywhere above: log and apologise.
    application.add_error_handler(errors.on_error)
