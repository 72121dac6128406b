"""Simulated Telegram for tests: one in-memory Bot API core, in-process and HTTP transports."""

from testkit.telegram.faults import (
    EDIT_METHODS,
    SEND_METHODS,
    FaultAction,
    FaultRule,
    Faults,
    RandomFaults,
    TelegramLimits,
    TokenBucket,
)
from testkit.telegram.formatting import EntityParseError, apply_parse_mode, utf16_len
from testkit.telegram.models import (
    CallbackAnswer,
    CallRecord,
    ChatStats,
    InlineButton,
    MessageVersion,
    Stats,
    StoredFile,
    StoredMessage,
    UploadedFile,
)
from testkit.telegram.parsing import ApiError, Params, error_body, too_many_requests_body
from testkit.telegram.people import FakeGroup, FakeUser
from testkit.telegram.request import InProcessRequest, decode_request_data, process_pending_updates
from testkit.telegram.server import FakeBotApiServer
from testkit.telegram.world import SUPPORTED_METHODS, ChatState, FakeTelegram

__all__ = [
    "EDIT_METHODS",
    "SEND_METHODS",
    "SUPPORTED_METHODS",
    "ApiError",
    "CallRecord",
    "CallbackAnswer",
    "ChatState",
    "ChatStats",
    "EntityParseError",
    "FakeBotApiServer",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
    "FaultAction",
    "FaultRule",
    "Faults",
    "InProcessRequest",
    "InlineButton",
    "MessageVersion",
    "Params",
    "RandomFaults",
    "Stats",
    "StoredFile",
    "StoredMessage",
    "TelegramLimits",
    "TokenBucket",
    "UploadedFile",
    "apply_parse_mode",
    "decode_request_data",
    "error_body",
    "process_pending_updates",
    "too_many_requests_body",
    "utf16_len",
]
