"""The watch register: referents and coordinators add, list, read, edit and remove people.

Who sees whom: a coordinator every entry, a referent the people they registered. Every reading
of one person's record is an audit event ("view"), as are additions, changes (the field's name,
never its value) and removals. A removal deletes the row: the person's details are gone at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.reach import Centre, reach_of
from bot.domain.vocabulary import Role
from bot.domain.watch import (
    MAX_ADDRESS,
    MAX_BEST_TIME,
    MAX_EMERGENCY,
    MAX_NAME,
    MAX_NOTES,
    Consent,
    RegisteredBy,
    WatchField,
)
from bot.messages.base import Reader
from bot.messages.messenger import Letter
from bot.messages.watch_calls import CallerList
from bot.services.base import Notifying
from bot.services.outcomes import Outcome
from bot.services.watch.campaigns import caller_lines, restated
from bot.services.watch.needs import withdraw_drafts
from storage import audit
from storage import members as member_store
from storage.models import (
    Beneficiary,
    HelpRequest,
    Member,
    Neighbourhood,
    OutboxMessage,
)
from storage.watch_models import WatchCall, WatchCampaign, WatchList, WatchPerson
from storage.writes import created, view_of

ENTITY = "watch_person"
LANGUAGES = ("fr", "en", "nl")
# The column each editable field is stored in, and its width (None: a choice, not typed).
COLUMNS: dict[WatchField, tuple[str, int | None]] = {
    WatchField.NAME: ("name", MAX_NAME),
    WatchField.PHONE: ("phone", 32),
    WatchField.ADDRESS: ("address", MAX_ADDRESS),
    WatchField.REGISTERED_BY: ("registered_by", None),
    WatchField.CONSENT: ("consent", None),
    WatchField.BEST_TIME: ("best_time", MAX_BEST_TIME),
    WatchField.LANGUAGE: ("language", None),
    WatchField.NOTES: ("notes", MAX_NOTES),
    WatchField.EMERGENCY: ("emergency_contact", MAX_EMERGENCY),
}
# Fields that may be left empty.
OPTIONAL = frozenset({WatchField.BEST_TIME, WatchField.NOTES, WatchField.EMERGENCY})


@dataclass(frozen=True)
class Entry:
    """What is known of a person to register (a draft, or a record read back)."""

    name: str
    phone: str
    address: str
    registered_by: RegisteredBy
    consent: Consent
    language: str
    best_time: str | None = None
    notes: str | None = None
    emergency_contact: str | None = None
    beneficiary_id: int | None = None
    # Where the address was found (None: not found, or the geocoder was away).
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Record:
    """One person's record, as their referent or a coordinator reads it."""

    id: int
    entry: Entry
    referent_name: str | None


@dataclass(frozen=True)
class RegisterPage:
    """A page of the register: (id, name) of each person, and how many there are in all."""

    people: tuple[tuple[int, str], ...]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Known:
    """A beneficiary the referent helped, to register without typing their details again."""

    id: int
    name: str
    phone: str | None
    address: str | None


async def nearest_neighbourhood(
    session: AsyncSession, latitude: float | None, longitude: float | None
) -> int | None:
    """The active neighbourhood whose centre is nearest the place, as sign-up finds a
    volunteer's (bot/domain/reach.py); None without a place or a neighbourhood."""
    if latitude is None or longitude is None:
        return None
    rows = (
        await session.execute(
            select(
                Neighbourhood.id,
                Neighbourhood.name,
                Neighbourhood.latitude,
                Neighbourhood.longitude,
            ).where(Neighbourhood.archived_at.is_(None))
        )
    ).all()
    reach = reach_of(
        latitude, longitude, 0.0, (Centre(name, lat, lon) for _, name, lat, lon in rows)
    )
    return None if reach is None else next(id_ for id_, name, *_ in rows if name == reach.nearest)


def valid(field: WatchField, value: str | None) -> bool:
    """Whether `value` may be stored in `field` (choices among their words, texts within width)."""
    if value is None or value == "":
        return field in OPTIONAL
    if field is WatchField.REGISTERED_BY:
        return value in set(RegisteredBy)
    if field is WatchField.CONSENT:
        return value in set(Consent)
    if field is WatchField.LANGUAGE:
        return value in LANGUAGES
    width = COLUMNS[field][1]
    return width is not None and len(value) <= width


class RegisterService(Notifying):
    """The watch register's use cases; each checks the actor's role in the database."""

    @staticmethod
    async def _actor(session: AsyncSession, telegram_id: int) -> tuple[Member, bool] | None:
        """The referent or coordinator behind `telegram_id`, and whether they coordinate."""
        member = await member_store.get_by_telegram_id(session, telegram_id)
        if member is None:
            return None
        roles = await member_store.roles_of(session, member.id)
        if not roles & {Role.REFERENT, Role.COORDINATOR}:
            return None
        return member, Role.COORDINATOR in roles

    async def _person(
        self, session: AsyncSession, telegram_id: int, person_id: int
    ) -> tuple[Member, WatchPerson] | Outcome:
        """The actor and the person they act on: NOT_ALLOWED unless a coordinator or the person's
        referent; NOT_FOUND once removed."""
        actor = await self._actor(session, telegram_id)
        if actor is None:
            return Outcome.NOT_ALLOWED
        member, coordinates = actor
        person = await session.get(WatchPerson, person_id)
        if person is None:
            return Outcome.NOT_FOUND
        if not coordinates and person.referent_id != member.id:
            return Outcome.NOT_ALLOWED
        return member, person

    async def may_register(self, telegram_id: int) -> bool:
        """Whether the person is a referent or a coordinator."""
        async with self._db.read() as session:
            return await self._actor(session, telegram_id) is not None

    async def may_edit(self, telegram_id: int, person_id: int) -> Outcome:
        """DONE when the person may change this record (its referent, or a coordinator)."""
        async with self._db.read() as session:
            found = await self._person(session, telegram_id, person_id)
            return found if isinstance(found, Outcome) else Outcome.DONE

    async def page(self, telegram_id: int, page: int, size: int) -> RegisterPage | Outcome:
        """A page of the people the actor may see, by name."""
        async with self._db.read() as session:
            actor = await self._actor(session, telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            member, coordinates = actor
            where = [] if coordinates else [WatchPerson.referent_id == member.id]
            total = int(
                (
                    await session.execute(select(func.count(WatchPerson.id)).where(*where))
                ).scalar_one()
            )
            pages = max(1, -(-total // size))
            page = min(max(page, 0), pages - 1)
            rows = await session.execute(
                select(WatchPerson.id, WatchPerson.name)
                .where(*where)
                .order_by(WatchPerson.name, WatchPerson.id)
                .offset(page * size)
                .limit(size)
            )
            people = tuple((row_id, name) for row_id, name in rows.all())
            return RegisterPage(people, total, page, pages)

    async def known(self, telegram_id: int) -> list[Known]:
        """The actor's own beneficiaries whose details are still kept, most recent first."""
        async with self._db.read() as session:
            actor = await self._actor(session, telegram_id)
            if actor is None:
                return []
            rows = await session.execute(
                select(Beneficiary)
                .where(Beneficiary.referent_id == actor[0].id, Beneficiary.purged_at.is_(None))
                .order_by(Beneficiary.created_at.desc(), Beneficiary.id.desc())
                .limit(10)
            )
            return [view_of(Known, row) for row in rows.scalars()]

    async def add(self, telegram_id: int, entry: Entry) -> int | Outcome:
        """Register a person; their id. The actor becomes their referent."""
        fields = {field: getattr(entry, COLUMNS[field][0]) for field in WatchField}
        if not all(valid(field, value) for field, value in fields.items()):
            return Outcome.INVALID
        async with self._transaction() as session:
            actor = await self._actor(session, telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            member = actor[0]
            latitude, longitude = entry.latitude, entry.longitude
            neighbourhood_id: int | None = None
            if entry.beneficiary_id is not None:
                known = await session.get(Beneficiary, entry.beneficiary_id)
                if known is None or known.referent_id != member.id:
                    return Outcome.NOT_ALLOWED
                # Their neighbourhood: the one their latest request was posted in.
                neighbourhood_id = (
                    await session.execute(
                        select(HelpRequest.neighbourhood_id)
                        .where(HelpRequest.beneficiary_id == known.id)
                        .order_by(HelpRequest.id.desc())
                        .limit(1)
                    )
                ).scalar_one_or_none()
                if latitude is None and known.latitude is not None:
                    latitude, longitude = known.latitude, known.longitude
            if neighbourhood_id is None:
                neighbourhood_id = await nearest_neighbourhood(session, latitude, longitude)
            # An empty optional answer is stored as nothing.
            optional = {COLUMNS[field][0]: fields[field] or None for field in OPTIONAL}
            row = WatchPerson(
                **{**asdict(entry), **optional, "latitude": latitude, "longitude": longitude},
                referent_id=member.id,
                neighbourhood_id=neighbourhood_id,
            )
            await created(session, row, ENTITY, "register", by=member.id)
            return row.id

    async def record(self, telegram_id: int, person_id: int) -> Record | Outcome:
        """One person's record; the reading is written in the audit log."""
        async with self._transaction() as session:
            found = await self._person(session, telegram_id, person_id)
            if isinstance(found, Outcome):
                return found
            actor, person = found
            await audit.record(session, ENTITY, person.id, "view", by=actor.id)
            referent = await session.get(Member, person.referent_id) if person.referent_id else None
            return Record(
                person.id,
                view_of(Entry, person),
                None if referent is None or referent.forgotten_at else referent.display_name,
            )

    async def edit(
        self,
        telegram_id: int,
        person_id: int,
        field: WatchField,
        value: str | None,
        *,
        place: tuple[float, float] | None = None,
    ) -> Outcome:
        """Change one part of a record (the audit log says which, not what it became); a new
        address brings its `place` (None: not found), and so its neighbourhood."""
        if not valid(field, value):
            return Outcome.INVALID
        async with self._transaction() as session:
            found = await self._person(session, telegram_id, person_id)
            if isinstance(found, Outcome):
                return found
            actor, person = found
            stored: str | None = value or None
            if field is WatchField.REGISTERED_BY and stored:
                stored = RegisteredBy(stored)
            elif field is WatchField.CONSENT and stored:
                stored = Consent(stored)
            setattr(person, COLUMNS[field][0], stored)
            if field is WatchField.ADDRESS:
                person.latitude, person.longitude = place or (None, None)
                person.neighbourhood_id = await nearest_neighbourhood(
                    session, person.latitude, person.longitude
                )
            await session.flush()
            await audit.record(
                session, ENTITY, person.id, "edit", by=actor.id, detail={"field": field.value}
            )
            return Outcome.DONE

    async def remove(self, telegram_id: int, person_id: int) -> Outcome:
        """Take a person off the register: their row is deleted, their details erased at once,
        today's lists that named them are edited without them, and their request drafts not
        decided yet are withdrawn."""
        async with self._transaction() as session:
            found = await self._person(session, telegram_id, person_id)
            if isinstance(found, Outcome):
                return found
            actor, person = found
            lists = (
                await session.execute(
                    select(WatchList, OutboxMessage, Member, WatchCampaign)
                    .join(OutboxMessage, OutboxMessage.id == WatchList.outbox_id)
                    .join(Member, Member.id == WatchList.caller_id)
                    .join(WatchCampaign, WatchCampaign.id == WatchList.campaign_id)
                    .join(
                        WatchCall,
                        (WatchCall.campaign_id == WatchList.campaign_id)
                        & (WatchCall.day == WatchList.day)
                        & (WatchCall.caller_id == WatchList.caller_id),
                    )
                    .where(WatchCall.person_id == person.id, WatchList.removed_at.is_(None))
                )
            ).all()
            # Their request drafts not decided yet name them: withdrawn, every copy neutral.
            await withdraw_drafts(session, self._messenger, person.id)
            await session.execute(delete(WatchPerson).where(WatchPerson.id == person.id))
            await session.execute(
                update(WatchCall).where(WatchCall.person_id == person.id).values(person_id=None)
            )
            await audit.record(session, ENTITY, person_id, "remove", by=actor.id)
            letters: list[Letter] = []
            for listed, row, caller, campaign in lists:
                reader = Reader.in_chat(row.chat_id, caller)
                lines = await caller_lines(session, campaign.id, listed.day, {caller.id})
                updated = CallerList(
                    listed.day, campaign.window_start, campaign.window_end, lines.get(caller.id, ())
                )
                letter = restated(self._messenger, row, reader, updated)
                if letter is not None:
                    letters.append(letter)
            await self._messenger.post(session, letters)
            return Outcome.DONE
