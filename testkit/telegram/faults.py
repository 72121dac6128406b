"""Faults and flood limits the simulated Telegram applies on demand, before acting on a call."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from testkit.telegram.parsing import error_body, too_many_requests_body

JSONDict = dict[str, Any]
FaultKind = Literal["error", "delay", "hang"]
RandomKind = Literal["429", "500", "timeout"]

# Methods that put a new message in a chat; the flood limits count these.
SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendLocation",
        "sendDocument",
        "sendPhoto",
        "sendContact",
        "sendSticker",
        "sendVenue",
        "sendMediaGroup",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})


@dataclass
class FaultRule:
    """A scripted fault: which calls it hits, what it does, and how many times."""

    method: str | None
    kind: FaultKind
    status: int = 0
    description: str | None = None
    retry_after: int | None = None
    seconds: float = 0.0
    times: int | None = 1
    chat_id: int | None = None
    deliver: bool = False
    used: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the rule has fired as many times as it was told to."""
        return self.times is not None and self.used >= self.times

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Whether the rule applies to a call of `method` for `chat_id`."""
        if self.exhausted:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def action(self) -> FaultAction:
        """Fire once and say what to do."""
        self.used += 1
        if self.kind == "error":
            parameters = {"retry_after": self.retry_after} if self.status == 429 else None
            body = error_body(self.status, self.description, parameters=parameters)
            return FaultAction("error", "rule", status=self.status, body=body)
        return FaultAction(self.kind, "rule", seconds=self.seconds, deliver=self.deliver)


@dataclass(frozen=True)
class FaultAction:
    """What the fake does to one call instead of (or before) answering it normally."""

    kind: FaultKind
    source: str
    status: int = 0
    body: JSONDict | None = None
    seconds: float = 0.0
    deliver: bool = False

    @property
    def label(self) -> str:
        """Short name for the call log, e.g. "rule:429" or "limits:429"."""
        what = str(self.status) if self.kind == "error" else self.kind
        return f"{self.source}:{what}"


@dataclass
class TokenBucket:
    """A token bucket: `capacity` sends at once, refilled at `per_second`."""

    capacity: float
    per_second: float
    tokens: float = math.nan
    updated: float | None = None

    def __post_init__(self) -> None:
        if math.isnan(self.tokens):
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        if self.updated is None or now > self.updated:
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one send is allowed (0 when allowed now)."""
        self._refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.per_second

    def take(self, now: float) -> None:
        """Spend one send."""
        self._refill(now)
        self.tokens -= 1


@dataclass
class TelegramLimits:
    """Telegram-like flood limits: overall, per private chat (with bursts) and per group."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    counted_methods: frozenset[str] = SEND_METHODS | EDIT_METHODS
    _overall: TokenBucket | None = field(default=None, init=False, repr=False)
    _chats: dict[int, TokenBucket] = field(default_factory=dict, init=False, repr=False)

    def counts(self, method: str) -> bool:
        """Whether calls of `method` are subject to the limits."""
        return method in self.counted_methods

    def _buckets(self, chat_id: int | None, is_group: bool) -> list[TokenBucket]:
        if self._overall is None:
            self._overall = TokenBucket(self.overall_per_second, self.overall_per_second)
        buckets = [self._overall]
        if chat_id is not None:
            bucket = self._chats.get(chat_id)
            if bucket is None:
                if is_group:
                    bucket = TokenBucket(self.group_per_minute, self.group_per_minute / 60)
                else:
                    bucket = TokenBucket(self.private_burst, self.private_per_second)
                self._chats[chat_id] = bucket
            buckets.append(bucket)
        return buckets

    def check(self, chat_id: int | None, *, is_group: bool, now: float) -> int | None:
        """Record one send at `now`; None if allowed, else the retry_after (whole seconds)."""
        buckets = self._buckets(chat_id, is_group)
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait > 0:
            # A refused send does not spend anything, as with Telegram.
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take(now)
        return None


@dataclass
class RandomFaults:
    """Seeded random faults hitting a share of calls."""

    rate: float
    seed: int = 0
    kinds: tuple[RandomKind, ...] = ("429", "500", "timeout")
    methods: frozenset[str] | None = None
    retry_after: int = 1
    hang_seconds: float = 30.0
    rng: random.Random = field(init=False, repr=False)
    hits: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def pick(self, method: str) -> FaultAction | None:
        """Maybe a fault for this call."""
        if self.methods is None:
            # Polling is left alone by default: a 429 there only slows the test down.
            if method == "getUpdates":
                return None
        elif method not in self.methods:
            return None
        if self.rng.random() >= self.rate:
            return None
        self.hits += 1
        kind = self.rng.choice(self.kinds)
        if kind == "429":
            body = too_many_requests_body(self.retry_after)
            return FaultAction("error", "random", status=429, body=body)
        if kind == "500":
            return FaultAction("error", "random", status=500, body=error_body(500))
        return FaultAction("hang", "random", seconds=self.hang_seconds)


class Faults:
    """The fault plan of one FakeTelegram: scripted rules, random faults and flood limits."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.random: RandomFaults | None = None
        self.limits: TelegramLimits | None = None

    def fail(
        self,
        method: str | None,
        status: int = 429,
        *,
        retry_after: int = 1,
        times: int | None = 1,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> FaultRule:
        """Answer the next `times` calls of `method` (None: any) with an error."""
        rule = FaultRule(
            method,
            "error",
            status=status,
            description=description,
            retry_after=retry_after,
            times=times,
            chat_id=chat_id,
        )
        self.rules.append(rule)
        return rule

    def delay(
        self,
        method: str | None,
        seconds: float,
        *,
        times: int | None = None,
        chat_id: int | None = None,
    ) -> FaultRule:
        """Answer calls of `method` normally, but only after `seconds`."""
        rule = FaultRule(method, "delay", seconds=seconds, times=times, chat_id=chat_id)
        self.rules.append(rule)
        return rule

    def hang(
        self,
        method: str | None,
        seconds: float = 30.0,
        *,
        times: int | None = 1,
        deliver: bool = False,
        chat_id: int | None = None,
    ) -> FaultRule:
        """Do not answer for `seconds` (longer than the client timeout, so it times out).

        With `deliver=True` the call takes effect at once and only the answer is withheld,
        the case where a bot that retries after a timeout sends a message twice.
        """
        rule = FaultRule(
            method, "hang", seconds=seconds, times=times, deliver=deliver, chat_id=chat_id
        )
        self.rules.append(rule)
        return rule

    def random_faults(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Iterable[RandomKind] = ("429", "500", "timeout"),
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        hang_seconds: float = 30.0,
    ) -> RandomFaults:
        """Hit a share `rate` of calls (all but getUpdates by default) with random faults."""
        self.random = RandomFaults(
            rate,
            seed=seed,
            kinds=tuple(kinds),
            methods=None if methods is None else frozenset(methods),
            retry_after=retry_after,
            hang_seconds=hang_seconds,
        )
        return self.random

    def enable_limits(self, limits: TelegramLimits | None = None) -> TelegramLimits:
        """Turn on Telegram-like flood limits (429 with retry_after past them)."""
        self.limits = limits or TelegramLimits()
        return self.limits

    def disable_limits(self) -> None:
        """Turn the flood limits off."""
        self.limits = None

    def clear(self) -> None:
        """Remove every rule, random faults and limits."""
        self.rules.clear()
        self.random = None
        self.limits = None

    def decide(
        self, method: str, *, chat_id: int | None, is_group: bool, now: float
    ) -> list[FaultAction]:
        """Actions for one call: any delays, then at most one error or hang."""
        actions: list[FaultAction] = []
        terminal: FaultAction | None = None
        for rule in self.rules:
            if not rule.matches(method, chat_id):
                continue
            if rule.kind == "delay":
                actions.append(rule.action())
            elif terminal is None:
                terminal = rule.action()
        if terminal is None and self.random is not None:
            terminal = self.random.pick(method)
        if terminal is None and self.limits is not None and self.limits.counts(method):
            retry_after = self.limits.check(chat_id, is_group=is_group, now=now)
            if retry_after is not None:
                body = too_many_requests_body(retry_after)
                terminal = FaultAction("error", "limits", status=429, body=body)
        if terminal is not None:
            actions.append(terminal)
        return actions
