"""The people of the simulated Telegram: users and groups, as handles on a FakeTelegram.

Every action of a simulated person stores a message (or a tap...) in the world and queues the
Update Telegram would send the bot; reading helpers show what the bot made of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from testkit.telegram.formatting import utf16_len
from testkit.telegram.models import CallbackAnswer, StoredMessage

if TYPE_CHECKING:
    from testkit.telegram.world import FakeTelegram

JSONDict = dict[str, Any]
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
# A few bytes starting like a JPEG: enough for a bot that only stores or forwards photos.
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-photo\xff\xd9"
_FAKE_WEBP = b"RIFF\x10\x00\x00\x00WEBPfake-sticker"
_FAKE_OGG = b"OggS\x00fake-voice"


class FakeUser:
    """A simulated person: acts on Telegram (each action queues an Update) and reads the bot."""

    def __init__(
        self,
        world: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
        phone_number: str | None = None,
        started: bool = True,
    ) -> None:
        self.world = world
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.phone_number = phone_number or f"+3361{user_id % 10**7:07d}"
        self.blocked = False
        self.started = started
        self.callback_answers: list[CallbackAnswer] = []
        self._seen_message_id = 0

    def __repr__(self) -> str:
        return f"FakeUser({self.first_name!r}, id={self.id})"

    def to_api(self) -> JSONDict:
        """The Bot API User object."""
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    @property
    def chat_id(self) -> int:
        """Id of the private chat with the bot (the user id, as on Telegram)."""
        return self.id

    @property
    def inbox(self) -> list[StoredMessage]:
        """Messages the bot has in the private chat with this user (current state)."""
        return self.world.messages_in(self.id)

    @property
    def actions(self) -> int:
        """How many messages this user sent and buttons they tapped, on a phone's terms."""
        return self.world.actions[self.id]

    @property
    def last_message(self) -> StoredMessage:
        """The newest bot message in the private chat; fails the test when there is none."""
        inbox = self.inbox
        if not inbox:
            raise AssertionError(f"{self.first_name} has no message from the bot")
        return inbox[-1]

    @property
    def reply_keyboard(self) -> list[list[str]]:
        """Labels of the custom keyboard the bot currently shows this user."""
        keyboard = self.world.chat_state(self.id).reply_keyboard
        if not keyboard:
            return []
        return [[str(b.get("text", "")) for b in row] for row in keyboard["keyboard"]]

    @property
    def menu(self) -> list[JSONDict]:
        """The command menu this user sees in the private chat."""
        return self.world.menu_for(self)

    def send_text(
        self, text: str, *, chat: FakeGroup | None = None, reply_to: StoredMessage | None = None
    ) -> JSONDict:
        """Write a text message (private chat by default); returns the queued Update.

        In a group where privacy mode hides the message from the bot, returns {}.
        """
        entities: list[JSONDict] = []
        if text.startswith("/"):
            # Telegram marks a leading /command with a bot_command entity.
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        return self.world.post_user_message(
            self, chat, {"text": text}, entities=entities, reply_to=reply_to
        )

    def send_command(
        self, command: str, args: str = "", *, chat: FakeGroup | None = None
    ) -> JSONDict:
        """Send "/command args" with its bot_command entity."""
        command = command.lstrip("/")
        text = f"/{command} {args}".rstrip()
        return self.send_text(text, chat=chat)

    def start(self, payload: str = "") -> JSONDict:
        """Press Start (/start with an optional deep-link payload)."""
        return self.send_command("start", payload)

    def send_location(
        self, latitude: float, longitude: float, *, chat: FakeGroup | None = None
    ) -> JSONDict:
        """Share a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return self.world.post_user_message(self, chat, {"location": location})

    def send_contact(self, phone: str | None = None, first_name: str | None = None) -> JSONDict:
        """Share one's own contact, as a request_contact button does (user_id = the sender)."""
        contact = {
            "phone_number": phone or self.phone_number,
            "first_name": first_name or self.first_name,
            "user_id": self.id,
        }
        if self.last_name:
            contact["last_name"] = self.last_name
        return self.world.post_user_message(self, None, {"contact": contact})

    def send_sticker(self, *, emoji: str = "👍", chat: FakeGroup | None = None) -> JSONDict:
        """Send a sticker."""
        stored = self.world.store_file(_FAKE_WEBP, "sticker", filename="sticker.webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.size,
        }
        return self.world.post_user_message(self, chat, {"sticker": sticker})

    def send_photo(
        self,
        content: bytes = _FAKE_JPEG,
        *,
        caption: str | None = None,
        chat: FakeGroup | None = None,
    ) -> JSONDict:
        """Send a photo (two sizes, like Telegram) with an optional caption."""
        return self.world.post_user_message(
            self, chat, {"photo": self.world.photo_sizes(content)}, caption=caption
        )

    def send_voice(self, duration: int = 3, *, chat: FakeGroup | None = None) -> JSONDict:
        """Send a voice message (an OGG file of `duration` seconds)."""
        stored = self.world.store_file(_FAKE_OGG, "voice", filename="voice.ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self.world.post_user_message(self, chat, {"voice": voice})

    def press(self, label: str) -> JSONDict:
        """Press a button of the custom (reply) keyboard the bot shows in the private chat."""
        state = self.world.chat_state(self.id)
        keyboard = state.reply_keyboard
        buttons = [b for row in (keyboard or {}).get("keyboard", []) for b in row]
        found = next((b for b in buttons if b.get("text") == label), None) or next(
            (b for b in buttons if label in str(b.get("text", ""))), None
        )
        if keyboard is None or found is None:
            raise AssertionError(
                f"{self.first_name} sees no keyboard button {label!r}: {self.reply_keyboard}"
            )
        if keyboard.get("one_time_keyboard"):
            state.reply_keyboard = None
        if found.get("request_contact"):
            return self.send_contact()
        if found.get("request_location"):
            raise AssertionError("a request_location button needs coordinates: use send_location")
        return self.send_text(str(found["text"]))

    def tap(
        self,
        message_or_label: StoredMessage | str,
        label: str | None = None,
        *,
        chat: FakeGroup | None = None,
    ) -> JSONDict:
        """Tap an inline button (exact label, else substring) and queue the callback_query."""
        if isinstance(message_or_label, StoredMessage):
            if label is None:
                raise TypeError("tap(message, label): the label is missing")
            message = message_or_label
            button = message.button(label)
        else:
            label = message_or_label
            message, button = self.world.find_button(chat.id if chat else self.id, label)
        if button.callback_data is None:
            raise AssertionError(f"button {button.text!r} has no callback_data: {button.raw}")
        return self.world.post_callback_query(self, message, button.callback_data)

    def tap_data(self, message: StoredMessage, data: str) -> JSONDict:
        """Queue a callback_query with arbitrary (possibly forged) data for `message`."""
        return self.world.post_callback_query(self, message, data)

    def block_bot(self) -> JSONDict:
        """Block the bot: sends to this user now fail with 403."""
        self.blocked = True
        return self.world.post_my_chat_member(self, "member", "kicked")

    def unblock_bot(self) -> JSONDict:
        """Unblock the bot."""
        self.blocked = False
        return self.world.post_my_chat_member(self, "kicked", "member")

    async def answer_to(
        self,
        tap: JSONDict,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline argument reads best in tests
    ) -> str:
        """Wait for the bot's answer to this very tap (the update `tap` returned) and give its text.

        Waiting on "some answer arrived" races when the person tapped before: an earlier tap's
        answer already satisfies it.
        """
        query_id = tap["callback_query"]["id"]

        def answered() -> CallbackAnswer | None:
            return next((a for a in self.callback_answers if a.query_id == query_id), None)

        await self.world.wait_for(lambda: answered() is not None, timeout, what=f"answer to {tap}")
        answer = answered()
        assert answer is not None
        return answer.text or ""

    async def expect_message(
        self,
        contains: str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline argument reads best in tests
    ) -> StoredMessage:
        """Wait for a bot message in the private chat not returned before (and containing text)."""
        message = await self.world.expect_message(
            self.id, self._seen_message_id, contains, timeout=timeout
        )
        self._seen_message_id = message.message_id
        return message


class FakeGroup:
    """A simulated group or supergroup with its members and their statuses."""

    def __init__(
        self,
        world: FakeTelegram,
        chat_id: int,
        title: str,
        members: Iterable[FakeUser],
        *,
        kind: str = "supergroup",
        username: str | None = None,
        bot_status: str = "administrator",
    ) -> None:
        self.world = world
        self.id = chat_id
        self.title = title
        self.kind = kind
        self.username = username
        self.members: list[FakeUser] = list(members)
        self.statuses: dict[int, str] = {}
        self.bot_status = bot_status
        self._seen_message_id = 0

    def __repr__(self) -> str:
        return f"FakeGroup({self.title!r}, id={self.id})"

    def to_api(self) -> JSONDict:
        """The Bot API Chat object."""
        data: JSONDict = {"id": self.id, "type": self.kind, "title": self.title}
        if self.username:
            data["username"] = self.username
        return data

    @property
    def messages(self) -> list[StoredMessage]:
        """Bot messages in the group (current state)."""
        return self.world.messages_in(self.id)

    @property
    def last_message(self) -> StoredMessage:
        """The newest bot message in the group; fails the test when there is none."""
        messages = self.messages
        if not messages:
            raise AssertionError(f"group {self.title!r} has no message from the bot")
        return messages[-1]

    def status_of(self, user: FakeUser | int) -> str:
        """Chat member status of a user ("member", "left", "administrator"...)."""
        user_id = user if isinstance(user, int) else user.id
        if user_id == self.world.bot_id:
            return self.bot_status
        if user_id in self.statuses:
            return self.statuses[user_id]
        return "member" if any(m.id == user_id for m in self.members) else "left"

    def set_status(self, user: FakeUser, status: str) -> None:
        """Give a user a member status (e.g. "administrator", "creator", "kicked")."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        self.statuses[user.id] = status
        if status in ("left", "kicked"):
            self.members = [m for m in self.members if m.id != user.id]
        elif all(m.id != user.id for m in self.members):
            self.members.append(user)

    def set_bot_status(self, status: str) -> None:
        """Change the bot's own status in the group (default "administrator")."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        self.bot_status = status

    def add_member(self, user: FakeUser) -> None:
        """Make a user a plain member."""
        self.set_status(user, "member")

    def remove_member(self, user: FakeUser) -> None:
        """Make a user leave the group."""
        self.set_status(user, "left")

    def menu_for(self, user: FakeUser) -> list[JSONDict]:
        """The command menu `user` sees in this group."""
        return self.world.menu_for(user, self)

    async def expect_message(
        self,
        contains: str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline argument reads best in tests
    ) -> StoredMessage:
        """Wait for a bot message in the group not returned before (and containing text)."""
        message = await self.world.expect_message(
            self.id, self._seen_message_id, contains, timeout=timeout
        )
        self._seen_message_id = message.message_id
        return message
