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
