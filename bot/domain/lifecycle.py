"""The request and claim state machines: which transitions are legal.

Services change states with conditional UPDATEs (`WHERE status IN (...)`) built from these tables,
so a stale button or a concurrent tap can never take a request or a claim through an illegal move.
"""

from __future__ import annotations

from bot.domain.vocabulary import ClaimStatus, RequestStatus, VolunteerStatus

R, C, V = RequestStatus, ClaimStatus, VolunteerStatus

# request: open (places left) → full → completed (every claimer said done) → closed (confirmed)
# (to validate → open once a validator approves it, or declined; nothing is offered before).
# A completed request left unconfirmed for the confirmation window ends unconfirmed: "not done"
# can no longer reopen it, a late confirmation still closes it.
REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    R.TO_VALIDATE: frozenset({R.OPEN, R.DECLINED, R.CANCELLED}),
    R.OPEN: frozenset({R.FULL, R.CANCELLED, R.EXPIRED, R.COMPLETED}),
    R.FULL: frozenset({R.OPEN, R.COMPLETED, R.CANCELLED}),
    R.COMPLETED: frozenset({R.CLOSED, R.OPEN, R.FULL, R.UNCONFIRMED}),
    R.UNCONFIRMED: frozenset({R.CLOSED}),
    R.CLOSED: frozenset(),
    R.CANCELLED: frozenset(),
    R.EXPIRED: frozenset(),
    R.DECLINED: frozenset(),
}

# claim: active → done → confirmed, or released / failed / not_done / cancelled
CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    C.ACTIVE: frozenset({C.DONE, C.RELEASED, C.FAILED, C.CANCELLED}),
    C.DONE: frozenset({C.CONFIRMED, C.NOT_DONE}),
    C.RELEASED: frozenset({C.ACTIVE}),  # the same volunteer may take the place again
    C.FAILED: frozenset(),
    C.NOT_DONE: frozenset(),
    C.CONFIRMED: frozenset(),
    C.CANCELLED: frozenset(),
}

# volunteer: pending → approved or rejected (rejected may apply again: pending); approved ⇄
# suspended. A suspended volunteer cannot apply again: only a coordinator brings them back.
VOLUNTEER_TRANSITIONS: dict[VolunteerStatus, frozenset[VolunteerStatus]] = {
    V.PENDING: frozenset({V.APPROVED, V.REJECTED}),
    V.APPROVED: frozenset({V.SUSPENDED}),
    V.REJECTED: frozenset({V.PENDING}),
    V.SUSPENDED: frozenset({V.APPROVED}),
}

# Requests that still accept claims, and requests that are over.
CLAIMABLE = frozenset({R.OPEN})
FINISHED_REQUESTS = frozenset({R.CLOSED, R.CANCELLED, R.EXPIRED, R.DECLINED, R.UNCONFIRMED})
# Requests whose service was given (every claimer said done), confirmed or not.
DONE_REQUESTS = frozenset({R.COMPLETED, R.CLOSED, R.UNCONFIRMED})
# Claims that hold a place on the request.
HOLDING_PLACE = frozenset({C.ACTIVE, C.DONE})


def volunteer_may_go(current: VolunteerStatus | None, target: VolunteerStatus) -> bool:
    """Whether a volunteer may move from `current` (None: never applied) to `target`."""
    if current is None:
        return target is V.PENDING
    return target in VOLUNTEER_TRANSITIONS[current]


def request_may_go(current: RequestStatus, target: RequestStatus) -> bool:
    """Whether a request may move from `current` to `target`."""
    return target in REQUEST_TRANSITIONS[current]


def claim_may_go(current: ClaimStatus, target: ClaimStatus) -> bool:
    """Whether a claim may move from `current` to `target`."""
    return target in CLAIM_TRANSITIONS[current]


def sources_of_claim(target: ClaimStatus) -> frozenset[ClaimStatus]:
    """The claim states from which `target` can be reached (for conditional UPDATEs)."""
    return frozenset(state for state, nexts in CLAIM_TRANSITIONS.items() if target in nexts)


def sources_of_request(target: RequestStatus) -> frozenset[RequestStatus]:
    """The request states from which `target` can be reached (for conditional UPDATEs)."""
    return frozenset(state for state, nexts in REQUEST_TRANSITIONS.items() if target in nexts)


def status_after_places_change(places_taken: int, places_needed: int) -> RequestStatus:
    """Open while places remain, full otherwise."""
    return R.FULL if places_taken >= places_needed else R.OPEN
