"""How recurring care reads: its schedule, and what the regular volunteer and referent are told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from babel.dates import get_day_names

from bot import formats
from bot.i18n import N_, Translator
from bot.messages.base import Notice, Rendered, Town
from bot.skills import skill_label
from storage import outbox

FREQUENCY_LABELS = {7: N_("every week"), 14: N_("every two weeks")}


def schedule_text(interval_days: int, weekday: int, local_minute: int, _: Translator) -> str:
    """ "every week, on Thursday at 14:00", in the reader's language."""
    day = get_day_names("wide", locale=_.language)[weekday]
    frequency = _(FREQUENCY_LABELS[interval_days]) if interval_days in FREQUENCY_LABELS else ""
    if not frequency:
        frequency = _("every {days} days", days=interval_days)
    return _(
        "{frequency}, on {day} at {time}",
        frequency=frequency,
        day=day,
        time=formats.minute_of_day(local_minute, _),
    )


@dataclass(frozen=True)
class Schedule:
    """When a series comes back: every `interval_days`, on `weekday` at `local_minute`."""

    interval_days: int
    weekday: int
    local_minute: int

    def text(self, _: Translator) -> str:
        """The schedule in words."""
        return schedule_text(self.interval_days, self.weekday, self.local_minute, _)


@dataclass(frozen=True)
class SeriesStarted(Notice):
    """To the regular volunteer: a request they took becomes recurring."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    skill: str
    referent_name: str
    schedule: Schedule

    def render(self, _: Translator, town: Town) -> Rendered:
        """They will be offered each occurrence first."""
        return Rendered(
            _(
                "{name} made request #{id} ({skill}) recurring: {schedule}. As its usual "
                "volunteer, you will be offered each occurrence first, a few days ahead.",
                name=self.referent_name,
                id=self.request_id,
                skill=skill_label(self.skill, _),
                schedule=self.schedule.text(_),
            )
        )


@dataclass(frozen=True)
class SeriesStopped(Notice):
    """To the referent and the regular volunteer (whoever did not stop it)."""

    priority: ClassVar[int] = outbox.NOTICE

    skill: str
    stopped_by: str
    schedule: Schedule

    def render(self, _: Translator, town: Town) -> Rendered:
        """No further request will be posted."""
        return Rendered(
            _(
                "{name} stopped the recurring {skill} ({schedule}): no further request will be "
                "posted for it.",
                name=self.stopped_by,
                skill=skill_label(self.skill, _),
                schedule=self.schedule.text(_),
            )
        )


@dataclass(frozen=True)
class RegularUnavailable(Notice):
    """To the referent: the regular could not be offered this occurrence, so it went wide."""

    priority: ClassVar[int] = outbox.NOTICE

    request_id: int
    skill: str
    regular_name: str | None
    starts_at: datetime | None

    def render(self, _: Translator, town: Town) -> Rendered:
        """Who, which occurrence, and that the others get it."""
        when = formats.day_and_time(self.starts_at, _, town.tz) if self.starts_at else ""
        return Rendered(
            _(
                "{name}, the usual volunteer, cannot be offered the next {skill} ({when}) right "
                "now (paused or unavailable): request #{id} is offered to the other volunteers.",
                name=self.regular_name or _("someone"),
                skill=skill_label(self.skill, _),
                when=when,
                id=self.request_id,
            )
        )


@dataclass(frozen=True)
class SeriesHalted(Notice):
    """To the referent: the scheduler had to stop one of their series."""

    priority: ClassVar[int] = outbox.NOTICE

    def render(self, _: Translator, town: Town) -> Rendered:
        """Why it could not be posted."""
        return Rendered(
            _(
                "A recurring request of yours could not be posted any more (you are no longer a "
                "referent, or the person's details were erased): it is stopped."
            )
        )
