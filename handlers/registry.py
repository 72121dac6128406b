"""The one place where every handler is attached, in the order PTB must try them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import Action
from bot.context import BrigadeApplication, BrigadeContext
from bot.updates import DEDUPLICATION_GROUP, build_deduplication_handler
from conversations import profile
from conversations.admin import build_admin_conversation
from conversations.announce import build_announce_conversation, on_announce_button
from conversations.posting import build_posting_conversation
from conversations.signal import build_signal_conversation, cases_command, on_case_button
from conversations.signup import build_signup_conversation
from handlers import (
    admin,
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
    vetting,
)
from handlers.badges import badge, build_verify_conversation
from handlers.gate import TapGate
from handlers.series import on_series_button, series_command

# Handlers in this group run after every other group, for every update.
AFTER_EVERYTHING = 100


def _pattern(action: Action) -> str:
    """A regex that matches the callback data of one action (see bot.callbacks)."""
    return rf"^{action.value}(:|$)"


async def flush_persistence(update: Update, context: BrigadeContext) -> None:
    """Write conversation states and drafts now rather than on PTB's timer (crash safety)."""
    await context.application.update_persistence()


def register_handlers(application: BrigadeApplication) -> None:
    """Attach every handler; within a group PTB stops at the first one that matches."""
    private = filters.ChatType.PRIVATE

    # 0. Before anything: an update Telegram delivered twice is handled once.
    application.add_handler(build_deduplication_handler(), group=DEDUPLICATION_GROUP)

    # 0b. Taps nothing below may see: empty callback data (PTB matches it with every pattern),
    # and private-only buttons outside a private chat (only Claim and Link work in groups).
    application.add_handler(TapGate())

    # 1. Conversations first: while someone is in one, it takes their messages and buttons.
    application.add_handler(build_signup_conversation())
    application.add_handler(vetting.build_rejection_conversation())
    application.add_handler(build_admin_conversation())
    # (posting a request: /new)
    application.add_handler(build_posting_conversation())
    # (self-service conversations: profile editing)
    application.add_handler(profile.build_profile_conversation())
    # Relays: /signal and the relay link /start relay (before the generic /start); /verify.
    application.add_handler(build_signal_conversation())
    application.add_handler(build_verify_conversation())
    # (announcements: /announce conversation)
    application.add_handler(build_announce_conversation())
    # (privacy: /forget confirmation)
    # (not a conversation: the pending confirmation is a timestamp in user_data)

    # 2. Commands, private chats only.
    application.add_handler(CommandHandler("start", start.start, filters=private))
    application.add_handler(CommandHandler("help", start.help_command, filters=private))
    application.add_handler(CommandHandler("language", language.ask_language, filters=private))
    application.add_handler(CommandHandler("pending", vetting.pending, filters=private))
    application.add_handler(CommandHandler("invite", invites.ask_role, filters=private))
    application.add_handler(CommandHandler("neighbourhoods", admin.neighbourhoods, filters=private))
    application.add_handler(CommandHandler("skills", admin.skills, filters=private))
    # In groups: attach the group to a neighbourhood.
    application.add_handler(CommandHandler("link", groups.link, filters=filters.ChatType.GROUPS))
    # (coordinator views and figures: /open /stuck /stats /export)
    application.add_handler(CommandHandler("open", reports.open_requests, filters=private))
    application.add_handler(CommandHandler("stuck", reports.stuck, filters=private))
    application.add_handler(CommandHandler("stats", reports.stats, filters=private))
    application.add_handler(CommandHandler("export", reports.export, filters=private))
    # Relays, badges and recurring care (/signal and /verify are conversations, above).
    application.add_handler(CommandHandler("badge", badge, filters=private))
    application.add_handler(CommandHandler("cases", cases_command, filters=private))
    application.add_handler(CommandHandler("series", series_command, filters=private))
    # (self-service commands: /profile /pause /resume)
    application.add_handler(CommandHandler("profile", profile.show_profile, filters=private))
    application.add_handler(CommandHandler("pause", profile.pause_command, filters=private))
    application.add_handler(CommandHandler("resume", profile.resume_command, filters=private))
    # (privacy commands: /mydata /forget)
    application.add_handler(CommandHandler("mydata", privacy.my_data, filters=private))
    application.add_handler(CommandHandler("forget", privacy.ask_forget, filters=private))

    # 3. Inline buttons outside conversations, one handler per callback action.
    application.add_handler(
        CallbackQueryHandler(language.set_language, pattern=_pattern(Action.SET_LANGUAGE))
    )
    application.add_handler(
        CallbackQueryHandler(vetting.on_verify_skill, pattern=_pattern(Action.VERIFY_SKILL))
    )
    application.add_handler(
        CallbackQueryHandler(invites.create_invite, pattern=_pattern(Action.INVITE))
    )
    application.add_handler(
        CallbackQueryHandler(groups.on_link_button, pattern=_pattern(Action.LINK_GROUP))
    )
    application.add_handler(
        CallbackQueryHandler(admin.on_neighbourhood_button, pattern=_pattern(Action.NEIGHBOURHOOD))
    )
    application.add_handler(
        CallbackQueryHandler(admin.on_skill_button, pattern=_pattern(Action.SKILL_ADMIN))
    )
    # The request lifecycle: offers (in private chats and groups), follow-up, referent's steps.
    lifecycle = [
        (Action.CLAIM, requests.on_claim),
        (Action.DECLINE, requests.on_decline),
        (Action.CLAIM_STEP, requests.on_claim_step),
        (Action.REFERENT_STEP, requests.on_referent_step),
        (Action.REQUEST_ADMIN, requests.on_request_admin),
    ]
    for action, callback in lifecycle:
        application.add_handler(CallbackQueryHandler(callback, pattern=_pattern(action)))
    # (coordinator views and figures buttons: Action.REPORT)
    application.add_handler(
        CallbackQueryHandler(reports.on_report_button, pattern=_pattern(Action.REPORT))
    )
    # Announcement buttons outside the /announce conversation: Refresh, or a stale step.
    application.add_handler(
        CallbackQueryHandler(on_announce_button, pattern=_pattern(Action.ANNOUNCE))
    )
    # Reported cases and recurring series.
    application.add_handler(CallbackQueryHandler(on_case_button, pattern=_pattern(Action.CASE)))
    application.add_handler(CallbackQueryHandler(on_series_button, pattern=_pattern(Action.SERIES)))
    # (self-service buttons: Action.PROFILE, Action.PAUSE)
    application.add_handler(
        CallbackQueryHandler(profile.on_stale_profile_button, pattern=_pattern(Action.PROFILE))
    )
    application.add_handler(
        CallbackQueryHandler(profile.on_pause_button, pattern=_pattern(Action.PAUSE))
    )
    # (privacy buttons: Action.FORGET)
    application.add_handler(
        CallbackQueryHandler(privacy.on_forget_button, pattern=_pattern(Action.FORGET))
    )

    # 4. The bot's own membership in private chats: blocked / unblocked.
    application.add_handler(
        ChatMemberHandler(reachability.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )

    # 5. Fallbacks, last: a tap or message nothing above took still gets an answer.
    application.add_handler(CallbackQueryHandler(fallback.stale_button))
    application.add_handler(MessageHandler(private & filters.COMMAND, fallback.unknown_command))
    application.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & ~filters.StatusUpdate.ALL, fallback.unexpected_message
        )
    )

    # 6. After every update, whatever handled it: persist conversation states and drafts.
    application.add_handler(TypeHandler(Update, flush_persistence), group=AFTER_EVERYTHING)

    # 7. Errors anywhere above: log and apologise.
    application.add_error_handler(errors.on_error)
