"""The request lifecycle: post, offer in waves, claim, give back, done, confirm, cancel, timers.

Every state change is one transaction that also writes the audit event and the notices (outbox
rows), so a crash can never leave a claim without its notifications or the reverse. One module
per stage; `RequestService` gathers them for the handlers:

- `posting`: a referent posts a request, a member asks for themselves; `beneficiaries`: whom
  for, and the purge of their data; `validation`: what waits for a validator before it is offered;
- `waves`: offers to the group and the nearest volunteers, then the others; "Not for me";
- `claims`: the claim race, the details, and the claimer's steps (release, could not, concern);
- `closing`: done, confirmed or not done, cancelled; `conduct`: a referent's concern about a
  volunteer's conduct, for the coordinators; `admin`: offer again, widen;
- `visits`: "When will you go?" after a claim, and the visit report after Done;
- `timers`: waves, alerts, expiry, follow-up and removals that are due;
- `mine`, `tasks`, `nearby`: what each person sees of their own commitments — a referent's
  requests (/mine, and their edits before any claim), a volunteer's claims (/tasks), the open
  requests a volunteer may take now (/nearby);
- `watch_drafts`: ✅ on a watch call's request draft, posted as /new posts;
- `base`: what they share, among which the one way a place is given back (`_give_back`).
"""

from bot.services.outcomes import ClaimOutcome, StepOutcome
from bot.services.requests.admin import AdminActions
from bot.services.requests.base import RELEASE_WINDOW, GiveBack, load_request_view
from bot.services.requests.claims import Claims
from bot.services.requests.closing import Closing
from bot.services.requests.conduct import Conduct
from bot.services.requests.drafts import (
    Asked,
    BeneficiaryDetails,
    ClaimResult,
    Posted,
    RequestDraft,
)
from bot.services.requests.mine import (
    MineAnswer,
    MineGroup,
    MineVerb,
    MyRequest,
    MyRequests,
    RequestEdit,
)
from bot.services.requests.nearby import Nearby, NearbyPage, NearbyRequest
from bot.services.requests.tasks import Directions, MyTask, MyTasks, TaskAnswer, TaskGroup, TaskVerb
from bot.services.requests.timers import Timers
from bot.services.requests.validation import Decision
from bot.services.requests.visits import Visits
from bot.services.requests.watch_drafts import DraftPosted, WatchDrafts


class RequestService(
    MyRequests,
    MyTasks,
    Nearby,
    Timers,
    WatchDrafts,
    Claims,
    Closing,
    Conduct,
    Visits,
    AdminActions,
):
    """Use cases of the request lifecycle; no Telegram here, only notices."""


__all__ = [
    "RELEASE_WINDOW",
    "Asked",
    "BeneficiaryDetails",
    "ClaimOutcome",
    "ClaimResult",
    "Decision",
    "Directions",
    "DraftPosted",
    "GiveBack",
    "MineAnswer",
    "MineGroup",
    "MineVerb",
    "MyRequest",
    "MyTask",
    "NearbyPage",
    "NearbyRequest",
    "Posted",
    "RequestDraft",
    "RequestEdit",
    "RequestService",
    "StepOutcome",
    "TaskAnswer",
    "TaskGroup",
    "TaskVerb",
    "load_request_view",
]
