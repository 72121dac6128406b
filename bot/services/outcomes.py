"""Outcomes a use case reports instead of raising, so handlers can answer each case clearly."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How a staff or member action ended."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"  # the actor lacks the role
    NOT_FOUND = "not_found"  # the target does not exist (or was forgotten)
    ALREADY_DONE = "already_done"  # somebody (maybe the actor) did it already
    EXPIRED = "expired"
    TOO_SOON = "too_soon"  # a limit holds for now (a cool-down after a rejected application)
    INVALID = "invalid"  # the input breaks a rule (name taken, bad radius…)


class ClaimOutcome(StrEnum):
    """How a tap on "I'll do it" ended."""

    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"
    FULL = "full"
    CLOSED = "closed"  # cancelled, expired, done
    NOT_ALLOWED = "not_allowed"  # not an approved volunteer with the skill
    NOT_OFFERED = "not_offered"  # no offer of this request in the chat tapped (forged data)
    RELEASING_TOO_OFTEN = "releasing_too_often"  # gave back too many claims in a day
    NOT_FOUND = "not_found"


class StepOutcome(StrEnum):
    """How a follow-up action (release, done, confirm, cancel…) ended."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    STALE = "stale"  # the claim or request is no longer in a state where this applies
    TOO_LATE = "too_late"  # its time has passed (a "not done" after the confirmation window)
    ALREADY_DONE = "already_done"  # this very step was taken before (a concern already sent)
    NOT_FOUND = "not_found"
