"""The request lifecycle: post, offer in waves, claim, give back, done, confirm, cancel, timers.

Every state change is one transaction that also writes the audit event and the notices (outbox
rows), so a crash can never leave a claim without its notifications or the reverse. One module
per stage; `RequestService` gathers them for the handlers:

- `posting`: a referent posts a request; `beneficiaries`: whom for, and the purge of their data;
- `waves`: offers to the group and the nearest volunteers, then the others; "Not for me";
- `claims`: the claim race, the details, and the claimer's steps (release, could not, concern);
- `closing`: done, confirmed or not done, cancelled; `conduct`: a referent's concern about a
  volunteer's conduct, for the coordinators; `admin`: offer again, widen;
- `timers`: waves, alerts, expiry, follow-up and removals that are due;
- `base`: what they share, among which the one way a place is given back (`_give_back`).
"""

from bot.services.outcomes import ClaimOutcome, StepOutcome
from bot.services.requests.admin import AdminActions
from bot.services.requests.base import RELEASE_WINDOW, GiveBack, load_request_view
from bot.services.requests.claims import Claims
from bot.services.requests.closing import Closing
from bot.services.requests.conduct import Conduct
from bot.services.requests.drafts import BeneficiaryDetails, ClaimResult, Posted, RequestDraft
from bot.services.requests.posting import Posting
from bot.services.requests.timers import Timers


class RequestService(Posting, Claims, Closing, Conduct, AdminActions, Timers):
    """Use cases of the request lifecycle; no Telegram here, only notices."""


__all__ = [
    "RELEASE_WINDOW",
    "BeneficiaryDetails",
    "ClaimOutcome",
    "ClaimResult",
    "GiveBack",
    "Posted",
    "RequestDraft",
    "RequestService",
    "StepOutcome",
    "load_request_view",
]
