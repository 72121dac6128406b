"""The simulated Telegram: Bot API state and methods, and the people who use the bot.

`FakeTelegram` is the single place implementing Bot API methods; transports (in-process
request, HTTP server) only decode requests and hand them to `FakeTelegram.call`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from testkit.telegram.faults import EDIT_METHODS, SEND_METHODS, Faults
from testkit.telegram.models import (
    CallbackAnswer,
    CallRecord,
    InlineButton,
    MessageVersion,
    Stats,
    StoredFile,
    StoredMessage,
    UploadedFile,
)
from testkit.telegram.parsing import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    ApiError,
    Params,
    ReplyMarkup,
    bad_request,
    check_callback_answer_text,
    error_body,
    formatted_text,
    reply_markup,
)
from testkit.telegram.people import FakeGroup, FakeUser

JSONDict = dict[str, Any]
ChatRef: TypeAlias = int | FakeUser | FakeGroup

SUPPORTED_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "answerCallbackQuery",
    "sendLocation",
    "sendDocument",
    "sendPhoto",
    "sendChatAction",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "getChat",
    "getChatMember",
    "getFile",
    "close",
    "logOut",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_QUERY_EXPIRED = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a message content and reply markup of the old message"
)
_ACCEPTED_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


def _now() -> int:
    return int(time.time())


@dataclass
class ChatState:
    """One chat as the server sees it: its messages and the keyboard shown to its users."""

    chat: JSONDict
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: JSONDict | None = None
    actions: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    @property
    def is_group(self) -> bool:
        """Whether this is a group or supergroup."""
        return self.chat["type"] in ("group", "supergroup")


@dataclass
class PendingQuery:
    """A callback query sent to the bot and not answered yet."""

    query_id: str
    user_id: int
    data: str | None
    answered: bool = False


class FakeTelegram:
    """In-memory Bot API: users, chats, messages, updates, and a log of every call."""

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int = 7_000_000_001,
        bot_username: str = "brigade_test_bot",
        bot_name: str = "Brigade",
        privacy_mode: bool = True,
        first_update_id: int = 1,
    ) -> None:
        self.bot_id = bot_id
        self.token = token or f"{bot_id}:AAF-fake-token-for-brigade-tests_0123456789"
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.privacy_mode = privacy_mode
        self.faults = Faults()
        self.stats = Stats()
        self.calls: list[CallRecord] = []
        # Calls being answered right now (e.g. a long poll), oldest first.
        self.active_calls: list[CallRecord] = []
        self.unsupported_calls: list[CallRecord] = []
        self.internal_errors: list[tuple[CallRecord, BaseException]] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.users: dict[int, FakeUser] = {}
        self.groups: dict[int, FakeGroup] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[tuple[Any, ...], str], list[JSONDict]] = {}
        self.webhook_url: str | None = None
        self.webhook_params: JSONDict = {}
        self._chats: dict[int, ChatState] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = first_update_id
        self._queries: dict[str, PendingQuery] = {}
        self._user_ids = itertools.count(100_000_001)
        self._supergroup_ids = itertools.count(1_000_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(4_200_000_000_000_000_001)
        # What each person did, on a phone's terms: messages sent and buttons tapped (by user id).
        self.actions: collections.Counter[int] = collections.Counter()
        self._changed = asyncio.Event()
        self._updates_changed = asyncio.Event()
        self._poll_generation = 0
        self._canonical = {name.lower(): name for name in SUPPORTED_METHODS}
        self._handlers: dict[str, Callable[[Params], Any]] = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendLocation": self._send_location,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "copyMessage": self._copy_message,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getFile": self._get_file,
            "close": lambda _p: True,
            "logOut": lambda _p: True,
        }

    # ------------------------------------------------------------------ people and chats

    @property
    def bot_user(self) -> JSONDict:
        """The bot's own User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def check_token(self, token: str) -> bool:
        """Whether `token` is this bot's token."""
        return token == self.token

    def add_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        language_code: str | None = "fr",
        username: str | None = None,
        last_name: str | None = None,
        phone_number: str | None = None,
        started: bool = True,
    ) -> FakeUser:
        """Create a person with a private chat with the bot (chat id == user id)."""
        uid = user_id if user_id is not None else next(self._user_ids)
        if uid in self.users:
            raise ValueError(f"user id {uid} already exists")
        user = FakeUser(
            self,
            uid,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number,
            started=started,
        )
        self.users[uid] = user
        chat: JSONDict = {"id": uid, "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        if username:
            chat["username"] = username
        self._chats[uid] = ChatState(chat)
        return user

    def add_group(
        self,
        title: str,
        members: Iterable[FakeUser],
        *,
        chat_id: int | None = None,
        kind: str = "supergroup",
        username: str | None = None,
        bot_status: str = "administrator",
    ) -> FakeGroup:
        """Create a group (negative id) with these members; the bot is an administrator."""
        if chat_id is None:
            if kind == "supergroup":
                chat_id = -(1_000_000_000_000 + next(self._supergroup_ids))
            else:
                chat_id = -next(self._group_ids)
        if chat_id >= 0 or chat_id in self._chats:
            raise ValueError(f"bad or duplicate group id {chat_id}")
        group = FakeGroup(
            self, chat_id, title, members, kind=kind, username=username, bot_status=bot_status
        )
        self.groups[chat_id] = group
        self._chats[chat_id] = ChatState(group.to_api())
        return group

    def chat_state(self, chat: ChatRef) -> ChatState:
        """Server-side state of a chat; fails the test for an unknown chat."""
        chat_id = chat if isinstance(chat, int) else chat.id
        state = self._chats.get(chat_id)
        if state is None:
            raise AssertionError(f"the fake knows no chat {chat_id}")
        return state

    def messages_in(
        self, chat: ChatRef, *, include_deleted: bool = False, include_users: bool = False
    ) -> list[StoredMessage]:
        """Messages of a chat in order: the bot's, current state, deleted ones left out."""
        return [
            m
            for m in self.chat_state(chat).messages.values()
            if (include_users or m.from_bot) and (include_deleted or not m.deleted)
        ]

    def chats_containing(self, needle: str) -> set[int]:
        """Every chat where `needle` appears in a message's text or caption, now or in an earlier
        version, deleted messages included (a negative check of who was shown something)."""
        found = set()
        for chat_id, state in self._chats.items():
            for message in state.messages.values():
                texts = [message.text, message.caption]
                for version in message.history:
                    texts += [version.text, version.caption]
                if any(needle in text for text in texts if text):
                    found.add(chat_id)
        return found

    def message(self, chat: ChatRef, message_id: int) -> StoredMessage:
        """One message of a chat by id (whoever sent it)."""
        found = self.chat_state(chat).messages.get(message_id)
        if found is None:
            raise AssertionError(f"no message #{message_id} in chat {chat}")
        return found

    def find_button(self, chat_id: int, label: str) -> tuple[StoredMessage, InlineButton]:
        """Newest bot message in the chat with a button labelled `label` (exact, else substring)."""
        messages = list(reversed(self.messages_in(chat_id)))
        for message in messages:
            for button in message.buttons:
                if button.text == label:
                    return message, button
        for message in messages:
            for button in message.buttons:
                if label in button.text:
                    return message, button
        raise AssertionError(
            f"no bot message in chat {chat_id} has a button {label!r}\n{self.describe()}"
        )

    def menu_for(self, user: FakeUser, chat: FakeGroup | None = None) -> list[JSONDict]:
        """The command menu `user` sees (private chat, or `chat`), by Telegram's scope rules."""
        if chat is None:
            keys: list[tuple[Any, ...]] = [("chat", user.id), ("all_private_chats",), ("default",)]
        else:
            admin = chat.status_of(user) in ("administrator", "creator")
            keys = [("chat_member", chat.id, user.id)]
            if admin:
                keys.append(("chat_administrators", chat.id))
            keys.append(("chat", chat.id))
            if admin:
                keys.append(("all_chat_administrators",))
            keys += [("all_group_chats",), ("default",)]
        languages = [user.language_code, ""] if user.language_code else [""]
        for key in keys:
            for language in languages:
                commands = self.commands.get((key, language or ""))
                if commands:
                    return [dict(c) for c in commands]
        return []

    # ------------------------------------------------------------------ updates

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet acknowledged (a copy)."""
        return list(self._updates)

    def pop_updates(self) -> list[JSONDict]:
        """Take every queued update (for tests that feed the application themselves)."""
        updates, self._updates = self._updates, []
        return updates

    def enqueue(self, kind: str, payload: JSONDict) -> JSONDict:
        """Queue an Update of the given kind ("message", "callback_query"...) and return it."""
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()
        self._tick()
        return update

    def post_user_message(
        self,
        user: FakeUser,
        group: FakeGroup | None,
        content: JSONDict,
        *,
        entities: list[JSONDict] | None = None,
        caption: str | None = None,
        reply_to: StoredMessage | None = None,
    ) -> JSONDict:
        """Store a message a user wrote and queue it; {} when privacy mode hides it from the bot."""
        if group is not None and all(m.id != user.id for m in group.members):
            raise AssertionError(f"{user} is not a member of {group}")
        self.actions[user.id] += 1
        state = self.chat_state(group.id if group else user.id)
        text = content.get("text")
        message = self._store_message(
            state,
            user.to_api(),
            from_bot=False,
            text=text if isinstance(text, str) else None,
            entities=entities or [],
            caption=caption,
            content={k: v for k, v in content.items() if k != "text"},
            reply_to=reply_to,
        )
        if group is None:
            user.started = True
        elif not self._bot_sees(group, message):
            return {}
        return self.enqueue("message", message.to_api())

    def post_callback_query(self, user: FakeUser, message: StoredMessage, data: str) -> JSONDict:
        """Queue a callback_query from `user` on `message` carrying `data`."""
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted; nothing to tap")
        group = self.groups.get(message.chat_id)
        visible = message.chat_id == user.id or (
            group is not None and any(m.id == user.id for m in group.members)
        )
        if not visible:
            raise AssertionError(f"{user} cannot see message #{message.message_id}")
        self.actions[user.id] += 1
        query_id = str(next(self._query_ids))
        self._queries[query_id] = PendingQuery(query_id, user.id, data)
        payload = {
            "id": query_id,
            "from": user.to_api(),
            "message": message.to_api(),
            # Stable per chat, like Telegram's global chat identifier.
            "chat_instance": str(abs(message.chat_id) * 7_919 + 1_000_003),
            "data": data,
        }
        return self.enqueue("callback_query", payload)

    def post_my_chat_member(self, user: FakeUser, old: str, new: str) -> JSONDict:
        """Queue the my_chat_member update Telegram sends when a user (un)blocks the bot."""
        bot = self.bot_user
        new_member: JSONDict = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: JSONDict = {"user": bot, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        payload = {
            "chat": dict(self.chat_state(user.id).chat),
            "from": user.to_api(),
            "date": _now(),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return self.enqueue("my_chat_member", payload)

    def _bot_sees(self, group: FakeGroup, message: StoredMessage) -> bool:
        # Privacy mode: in groups where it is not an admin, a bot only gets commands,
        # replies to itself and mentions.
        if not self.privacy_mode or group.bot_status in ("administrator", "creator"):
            return group.bot_status not in ("left", "kicked")
        if group.bot_status in ("left", "kicked"):
            return False
        text = message.text or ""
        if text.startswith("/") or f"@{self.bot_username}" in text:
            return True
        return message.reply_to is not None and message.reply_to.from_bot

    # ------------------------------------------------------------------ waiting

    def _tick(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors asyncio.wait_for; fails with a report
        *,
        what: str | None = None,
    ) -> None:
        """Wait until `predicate()` holds, re-checking after every call and user action."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            name = what or getattr(predicate, "__name__", "condition")
            raise AssertionError(
                f"timed out after {timeout}s waiting for {name}\n{self.describe()}"
            ) from None

    async def expect_message(
        self,
        chat_id: int,
        after_id: int,
        contains: str | None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - passed on to wait_for
    ) -> StoredMessage:
        """Wait for a bot message in the chat with id > `after_id` (containing `contains`)."""

        def find() -> StoredMessage | None:
            for message in self.messages_in(chat_id, include_deleted=True):
                body = message.text or message.caption or ""
                if message.message_id > after_id and (contains is None or contains in body):
                    return message
            return None

        what = f"a bot message in chat {chat_id}" + (
            f" containing {contains!r}" if contains else ""
        )
        await self.wait_for(lambda: find() is not None, timeout, what=what)
        found = find()
        assert found is not None
        return found

    def calls_to(self, method: str) -> list[CallRecord]:
        """Logged calls of one method (case-insensitive name)."""
        name = self._canonical.get(method.lower(), method)
        return [c for c in self.calls if c.method == name]

    def assert_sound(self) -> None:
        """Fail if the bot called unsupported methods or the fake itself crashed."""
        problems = [f"unsupported: {c.method} {c.params}" for c in self.unsupported_calls]
        problems += [f"fake crashed on {c.method}: {exc!r}" for c, exc in self.internal_errors]
        if problems:
            raise AssertionError("\n".join(problems))

    def describe(self) -> str:
        """Human-readable dump of chats, recent calls and problems, for failure messages."""
        lines = ["Fake Telegram state:"]
        for state in self._chats.values():
            name = state.chat.get("title") or state.chat.get("first_name")
            lines.append(f"  chat {state.id} ({state.chat['type']}, {name}):")
            lines.extend(f"    {m.summary()}" for m in state.messages.values())
        lines.append(f"  pending updates: {len(self._updates)}")
        lines.append("  last calls:")
        for record in self.calls[-12:]:
            outcome = "ok" if record.ok else f"{record.status} {record.description}"
            fault = f" [{record.fault}]" if record.fault else ""
            lines.append(f"    {record.method} {record.chat_id} -> {outcome}{fault}")
        for record in self.unsupported_calls:
            lines.append(f"  UNSUPPORTED call: {record.method}")
        for record, exc in self.internal_errors:
            lines.append(f"  FAKE CRASHED on {record.method}: {exc!r}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ Bot API entry point

    async def call(self, method: str, params: Mapping[str, Any]) -> tuple[int, JSONDict]:
        """Run one Bot API method; returns (HTTP status, JSON body)."""
        name = self._canonical.get(method.lower(), method)
        record = CallRecord(method=name, params=dict(params), started_at=time.monotonic())
        self.stats.calls += 1
        self.active_calls.append(record)
        self._tick()
        try:
            try:
                status, body = await self._call(name, record, Params(record.params))
            except Exception as exc:
                # A bug in the fake must not look like a Telegram answer the bot can shrug off.
                self.internal_errors.append((record, exc))
                status, body = 500, error_body(500, f"Internal Server Error: fake crashed: {exc!r}")
            record.status, record.response = status, body
        except asyncio.CancelledError:
            record.cancelled = True
            raise
        finally:
            record.finished_at = time.monotonic()
            self.active_calls.remove(record)
            self.calls.append(record)
            self._count(record)
            self._tick()
        return status, body

    async def _call(self, name: str, record: CallRecord, params: Params) -> tuple[int, JSONDict]:
        if name not in self._handlers and name != "getUpdates":
            self.unsupported_calls.append(record)
            return 400, error_body(
                400, f"Not Found: method '{name}' is not supported by the fake Bot API"
            )
        chat_id, is_group = self._fault_target(params)
        actions = self.faults.decide(name, chat_id=chat_id, is_group=is_group, now=time.monotonic())
        for action in actions:
            record.fault = action.label
            if action.kind == "delay":
                await asyncio.sleep(action.seconds)
            elif action.kind == "error":
                assert action.body is not None
                return action.status, action.body
            else:
                self.stats.timeouts += 1
                if action.deliver:
                    outcome = await self._perform(name, params)
                    await asyncio.sleep(action.seconds)
                    return outcome
                await asyncio.sleep(action.seconds)
                return 504, error_body(504)
        return await self._perform(name, params)

    async def _perform(self, name: str, params: Params) -> tuple[int, JSONDict]:
        try:
            if name == "getUpdates":
                result = await self._get_updates(params)
            else:
                result = self._handlers[name](params)
        except ApiError as exc:
            return exc.status, exc.body()
        return 200, {"ok": True, "result": result}

    def _fault_target(self, params: Params) -> tuple[int | None, bool]:
        try:
            state = self._resolve_chat(params.chat_id()) if params.has("chat_id") else None
        except ApiError:
            return None, False
        if state is None:
            return None, False
        return state.id, state.is_group

    def _count(self, record: CallRecord) -> None:
        stats = self.stats
        chat_id = record.chat_id if isinstance(record.chat_id, int) else None
        chat = stats.chat(chat_id) if chat_id is not None else None
        if record.cancelled:
            return
        if record.status == 429:
            stats.too_many_requests += 1
            if record.fault and record.fault.startswith("limits"):
                stats.limit_429s += 1
            if chat:
                chat.too_many_requests += 1
        elif record.status >= 500:
            # A hang's late 504 reaches nobody: it is counted as a timeout only.
            if not (record.fault and record.fault.endswith(":hang")):
                stats.server_errors += 1
        elif record.status == 403:
            stats.forbidden += 1
            if chat:
                chat.forbidden += 1
        elif record.ok:
            if record.method in SEND_METHODS:
                stats.sends += 1
                if chat:
                    chat.sends += 1
            elif record.method in EDIT_METHODS:
                stats.edits += 1
                if chat:
                    chat.edits += 1
            elif record.method == "deleteMessage":
                stats.deletes += 1
                if chat:
                    chat.deletes += 1

    # ------------------------------------------------------------------ helpers for methods

    def _resolve_chat(self, ref: int | str) -> ChatState | None:
        if isinstance(ref, int):
            return self._chats.get(ref)
        name = ref.lstrip("@").lower()
        for state in self._chats.values():
            if str(state.chat.get("username", "")).lower() == name:
                return state
        return None

    def _chat(self, params: Params, *, access: bool = True) -> ChatState:
        state = self._resolve_chat(params.chat_id())
        if state is None:
            raise bad_request("chat not found")
        if access:
            self._check_access(state)
        return state

    def _check_access(self, state: ChatState) -> None:
        if state.is_group:
            status = self.groups[state.id].bot_status
            if status == "kicked":
                raise ApiError(403, "Forbidden: bot was kicked from the group chat")
            if status == "left":
                raise ApiError(403, "Forbidden: bot is not a member of the group chat")
            return
        user = self.users[state.id]
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not user.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def _store_message(
        self,
        state: ChatState,
        sender: JSONDict,
        *,
        from_bot: bool,
        text: str | None = None,
        entities: list[JSONDict] | None = None,
        caption: str | None = None,
        caption_entities: list[JSONDict] | None = None,
        content: JSONDict | None = None,
        reply_markup: JSONDict | None = None,
        reply_to: StoredMessage | None = None,
        params: JSONDict | None = None,
        file: StoredFile | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            chat_id=state.id,
            message_id=state.next_message_id,
            date=_now(),
            chat=dict(state.chat),
            sender=sender,
            from_bot=from_bot,
            text=text,
            entities=entities or [],
            caption=caption,
            caption_entities=caption_entities or [],
            content=content or {},
            reply_markup=reply_markup,
            reply_to=reply_to,
            params=params or {},
            file=file,
        )
        state.next_message_id += 1
        state.messages[message.message_id] = message
        return message

    def _reply_target(self, state: ChatState, params: Params) -> StoredMessage | None:
        target_id = params.opt_int("reply_to_message_id")
        allow_missing = params.flag("allow_sending_without_reply")
        reply_parameters = params.json_value("reply_parameters")
        if isinstance(reply_parameters, dict):
            target_id = int(reply_parameters.get("message_id", 0)) or target_id
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
        if target_id is None:
            return None
        target = state.messages.get(target_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _bot_message(
        self,
        state: ChatState,
        params: Params,
        *,
        markup: ReplyMarkup,
        text: str | None = None,
        entities: list[JSONDict] | None = None,
        caption: tuple[str, list[JSONDict]] | None = None,
        content: JSONDict | None = None,
        file: StoredFile | None = None,
    ) -> JSONDict:
        reply_to = self._reply_target(state, params)
        if markup.keyboard is not None:
            state.reply_keyboard = markup.keyboard
        elif markup.remove_keyboard:
            state.reply_keyboard = None
        message = self._store_message(
            state,
            self.bot_user,
            from_bot=True,
            text=text,
            entities=entities,
            caption=caption[0] if caption else None,
            caption_entities=caption[1] if caption else None,
            content=content,
            reply_markup=markup.inline,
            reply_to=reply_to,
            params=dict(params.raw),
            file=file,
        )
        return message.to_api()

    def _caption(self, params: Params) -> tuple[str, list[JSONDict]] | None:
        return formatted_text(
            params, "caption", "caption_entities", limit=CAPTION_LIMIT, kind="message caption"
        )

    def store_file(
        self,
        content: bytes,
        kind: str,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Keep a file so it can be sent again by file_id and downloaded by file_path."""
        number = next(self._file_ids)
        extension = ""
        if filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"{kind[:2].upper()}ACAgQAAxkBAAI{number:06d}fake",
            file_unique_id=f"AgAD{number:06d}",
            content=content,
            file_path=f"{kind}s/file_{number}{extension}",
            filename=filename,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        """The file downloadable at `path` (as given by getFile)."""
        return next((f for f in self.files.values() if f.file_path == path), None)

    def photo_sizes(self, content: bytes, stored: StoredFile | None = None) -> list[JSONDict]:
        """PhotoSize list for a photo, small then large, as Telegram returns it."""
        small = self.store_file(content, "photo", filename="photo.jpg")
        large = stored or self.store_file(content, "photo", filename="photo.jpg")
        return [
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "width": width,
                "height": height,
                "file_size": f.size,
            }
            for f, width, height in ((small, 90, 68), (large, 1280, 960))
        ]

    def _input_file(self, params: Params, name: str, kind: str) -> StoredFile:
        value = params.file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            return self.store_file(
                value.content, kind, filename=value.filename, mime_type=value.mime_type
            )
        if value in self.files:
            return self.files[value]
        if value.startswith(("http://", "https://")):
            # Telegram would download the URL; the fake cannot, so it keeps an empty file.
            return self.store_file(b"", kind, filename=value.rsplit("/", 1)[-1] or None)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _editable(self, state: ChatState, params: Params) -> StoredMessage:
        message = state.messages.get(params.req_int("message_id"))
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _edit_target(self, params: Params) -> ChatState:
        if params.has("inline_message_id"):
            raise bad_request("inline_message_id is not supported by the fake Bot API")
        return self._chat(params)

    @staticmethod
    def _inline_only(markup: ReplyMarkup) -> JSONDict | None:
        if markup.keyboard is not None or markup.remove_keyboard or markup.force_reply:
            raise bad_request("inline keyboard expected")
        return markup.inline

    @staticmethod
    def _apply_edit(
        message: StoredMessage,
        *,
        text: tuple[str, list[JSONDict]] | None = None,
        caption: tuple[str, list[JSONDict]] | None = None,
        markup: JSONDict | None,
    ) -> None:
        message.history.append(
            MessageVersion(
                text=message.text,
                entities=tuple(message.entities),
                caption=message.caption,
                reply_markup=message.reply_markup,
                date=message.edit_date or message.date,
            )
        )
        if text is not None:
            message.text, message.entities = text
        if caption is not None:
            message.caption, message.caption_entities = caption
        message.reply_markup = markup
        message.edit_date = _now()

    # ------------------------------------------------------------------ Bot API methods

    def _get_me(self, _params: Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.opt_int("offset")
        limit = min(max(params.opt_int("limit") or 100, 1), 100)
        timeout = max(params.opt_float("timeout") or 0.0, 0.0)
        if offset is not None and offset > 0:
            # Acknowledged updates are forgotten for good.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        self._tick()
        self._poll_generation += 1
        generation = self._poll_generation
        # Wake an older long poll so it can see it has been superseded (409, as on Telegram).
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()
        if not self._updates and timeout > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not self._updates:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        await self._updates_changed.wait()
                except TimeoutError:
                    break
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
        return [dict(u) for u in self._updates[:limit]]

    def _set_webhook(self, params: Params) -> bool:
        url = params.opt_str("url") or ""
        if url:
            if not url.startswith("https://"):
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            match = re.match(r"https://[^/:]+(?::(\d+))?", url)
            port = match.group(1) if match else None
            if port is not None and port not in ("80", "88", "443", "8443"):
                raise bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = url or None
        self.webhook_params = {k: v for k, v in params.raw.items() if k != "certificate"}
        return True

    def _delete_webhook(self, params: Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = None
        self.webhook_params = {}
        return True

    def _get_webhook_info(self, _params: Params) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url:
            info["max_connections"] = int(self.webhook_params.get("max_connections", 40))
        return info

    def _send_message(self, params: Params) -> JSONDict:
        state = self._chat(params)
        formatted = formatted_text(params, "text", "entities", limit=TEXT_LIMIT, kind="message")
        if formatted is None or not formatted[0]:
            raise bad_request("message text is empty")
        markup = reply_markup(params)
        return self._bot_message(
            state, params, markup=markup, text=formatted[0], entities=formatted[1]
        )

    def _edit_message_text(self, params: Params) -> JSONDict:
        state = self._edit_target(params)
        message = self._editable(state, params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        formatted = formatted_text(params, "text", "entities", limit=TEXT_LIMIT, kind="message")
        if formatted is None or not formatted[0]:
            raise bad_request("message text is empty")
        # Without reply_markup Telegram removes the inline keyboard.
        markup = self._inline_only(reply_markup(params))
        if (
            formatted[0] == message.text
            and formatted[1] == message.entities
            and markup == message.reply_markup
        ):
            raise bad_request(_NOT_MODIFIED)
        self._apply_edit(message, text=formatted, markup=markup)
        return message.to_api()

    def _edit_message_reply_markup(self, params: Params) -> JSONDict:
        state = self._edit_target(params)
        message = self._editable(state, params)
        markup = self._inline_only(reply_markup(params))
        if markup == message.reply_markup:
            raise bad_request(_NOT_MODIFIED)
        self._apply_edit(message, markup=markup)
        return message.to_api()

    def _edit_message_caption(self, params: Params) -> JSONDict:
        state = self._edit_target(params)
        message = self._editable(state, params)
        if message.text is not None:
            raise bad_request("there is no caption in the message to edit")
        caption = self._caption(params) or ("", [])
        markup = self._inline_only(reply_markup(params))
        if (
            caption[0] == (message.caption or "")
            and caption[1] == message.caption_entities
            and markup == message.reply_markup
        ):
            raise bad_request(_NOT_MODIFIED)
        self._apply_edit(message, caption=(caption[0], caption[1]), markup=markup)
        if not caption[0]:
            message.caption = None
        return message.to_api()

    def _delete_message(self, params: Params) -> bool:
        state = self._chat(params)
        message = state.messages.get(params.req_int("message_id"))
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        if (
            not message.from_bot
            and state.is_group
            and self.groups[state.id].bot_status not in ("administrator", "creator")
        ):
            raise bad_request("message can't be deleted")
        message.deleted = True
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.req_str("callback_query_id")
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(_QUERY_EXPIRED)
        text = params.opt_str("text")
        check_callback_answer_text(text)
        query.answered = True
        answer = CallbackAnswer(
            query_id=query_id,
            data=query.data,
            text=text,
            show_alert=params.flag("show_alert"),
            url=params.opt_str("url"),
        )
        self.callback_answers.append(answer)
        user = self.users.get(query.user_id)
        if user is not None:
            user.callback_answers.append(answer)
        return True

    def _send_location(self, params: Params) -> JSONDict:
        state = self._chat(params)
        latitude = params.req_float("latitude")
        longitude = params.req_float("longitude")
        if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
            raise bad_request("wrong coordinates specified")
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        for extra in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            value = params.opt_float(extra)
            if value is not None:
                location[extra] = value
        markup = reply_markup(params)
        return self._bot_message(state, params, markup=markup, content={"location": location})

    def _send_document(self, params: Params) -> JSONDict:
        state = self._chat(params)
        stored = self._input_file(params, "document", "document")
        caption = self._caption(params)
        markup = reply_markup(params)
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.filename:
            document["file_name"] = stored.filename
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return self._bot_message(
            state,
            params,
            markup=markup,
            caption=caption,
            content={"document": document},
            file=stored,
        )

    def _send_photo(self, params: Params) -> JSONDict:
        state = self._chat(params)
        stored = self._input_file(params, "photo", "photo")
        caption = self._caption(params)
        markup = reply_markup(params)
        sizes = self.photo_sizes(stored.content, stored)
        return self._bot_message(
            state, params, markup=markup, caption=caption, content={"photo": sizes}, file=stored
        )

    def _copy_message(self, params: Params) -> JSONDict:
        """copyMessage: the message again, sent by the bot, without a "forwarded from" header."""
        state = self._chat(params)
        source = self._resolve_chat(params.req_int("from_chat_id"))
        original = source.messages.get(params.req_int("message_id")) if source else None
        if original is None or original.deleted:
            raise bad_request("message to copy not found")
        if original.content.get("poll") is not None:
            raise bad_request("message can't be copied")
        markup = reply_markup(params)
        caption = self._caption(params)
        if caption is None and original.caption is not None:
            caption = (original.caption, original.caption_entities)
        copied = self._bot_message(
            state,
            params,
            markup=markup,
            text=original.text,
            entities=original.entities,
            caption=caption,
            content=dict(original.content),
            file=original.file,
        )
        return {"message_id": copied["message_id"]}

    def _send_chat_action(self, params: Params) -> bool:
        state = self._chat(params)
        action = params.req_str("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        state.actions.append(action)
        return True

    def _scope_key(self, params: Params) -> tuple[Any, ...]:
        scope = params.json_value("scope", what="BotCommandScope")
        if scope is None:
            return ("default",)
        if not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope.get("type")
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return (kind,)
        if kind in ("chat", "chat_administrators", "chat_member"):
            ref = scope.get("chat_id")
            state = self._resolve_chat(ref if isinstance(ref, str) else int(str(ref)))
            if state is None:
                raise bad_request("chat not found")
            if kind != "chat_member":
                return (kind, state.id)
            if not state.is_group:
                raise bad_request("can't use chat_member scope in private chats")
            return (kind, state.id, int(str(scope.get("user_id"))))
        raise bad_request("wrong bot command scope type specified")

    def _language(self, params: Params) -> str:
        language = params.opt_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return language

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.json_value("commands", what="commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be an Array")
        if len(commands) > 100:
            raise bad_request("too many commands")
        checked: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _COMMAND.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("command description is empty or too long")
            checked.append({"command": name, "description": description})
        key = (self._scope_key(params), self._language(params))
        if checked:
            self.commands[key] = checked
        else:
            self.commands.pop(key, None)
        return True

    def _delete_my_commands(self, params: Params) -> bool:
        self.commands.pop((self._scope_key(params), self._language(params)), None)
        return True

    def _get_my_commands(self, params: Params) -> list[JSONDict]:
        key = (self._scope_key(params), self._language(params))
        return [dict(c) for c in self.commands.get(key, [])]

    def _get_chat(self, params: Params) -> JSONDict:
        state = self._chat(params, access=False)
        info: JSONDict = {
            **state.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict(_ACCEPTED_GIFTS),
        }
        return info

    def _get_chat_member(self, params: Params) -> JSONDict:
        state = self._chat(params, access=False)
        user_id = params.req_int("user_id")
        if user_id == self.bot_id:
            user = self.bot_user
        elif user_id in self.users:
            user = self.users[user_id].to_api()
        else:
            raise bad_request("user not found")
        if state.is_group:
            status = self.groups[state.id].status_of(user_id)
        else:
            status = "member" if user_id in (state.id, self.bot_id) else "left"
        return _member(user, status)

    def _get_file(self, params: Params) -> JSONDict:
        stored = self.files.get(params.req_str("file_id"))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }


def _member(user: JSONDict, status: str) -> JSONDict:
    """A ChatMember object with the fields PTB requires for each status."""
    member: JSONDict = {"user": user, "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
            }
        )
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        member.update(
            {
                "is_member": True,
                "until_date": 0,
                **{
                    flag: False
                    for flag in (
                        "can_change_info",
                        "can_invite_users",
                        "can_pin_messages",
                        "can_send_messages",
                        "can_send_polls",
                        "can_send_other_messages",
                        "can_add_web_page_previews",
                        "can_manage_topics",
                        "can_send_audios",
                        "can_send_documents",
                        "can_send_photos",
                        "can_send_videos",
                        "can_send_video_notes",
                        "can_send_voice_notes",
                        "can_edit_tag",
                        "can_react_to_messages",
                    )
                },
            }
        )
    return member
