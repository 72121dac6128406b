"""Delivery of the outbox: lease due rows, send them within Telegram's limits, record outcomes.

`limiter` paces (token buckets, 429 pauses, backoff), `outcomes` classifies each call's answer,
`sender` runs the background task that leases, sends and records.
"""

from bot.outbox.limiter import Backoff, SendLimiter, SendLimits, TokenBucket
from bot.outbox.outcomes import (
    Outcome,
    Verdict,
    call_arguments,
    classify_error,
    classify_result,
    retry_after_seconds,
)
from bot.outbox.sender import HALT_SECONDS, ORIGINAL_WAIT, OutboxSender, SenderStats

__all__ = [
    "HALT_SECONDS",
    "ORIGINAL_WAIT",
    "Backoff",
    "OutboxSender",
    "Outcome",
    "SendLimiter",
    "SendLimits",
    "SenderStats",
    "TokenBucket",
    "Verdict",
    "call_arguments",
    "classify_error",
    "classify_result",
    "retry_after_seconds",
]
