"""Every route of the web app, in one list the app factory mounts.

Each controller is one resource: its path, access rule (`opt = access(rule)`) and dependencies sit on the class; handlers stay short.
Other areas add their controllers to ROUTES in the marked block at the end.
"""

from __future__ import annotations

from server.controllers.auth import HomeController, SignInController
from server.controllers.cohorts import CohortController
from server.controllers.people import PeopleController
from server.controllers.plans import PlanController
from server.controllers.profile import ProfileController
from server.controllers.programs import ProgramController

ROUTES: list = [
    HomeController,
    SignInController,
    ProfileController,
]

# --- designer pages ---------------------------------------------------------------------------------------
ROUTES += [ProgramController, CohortController, PlanController, PeopleController]
from server.controllers.plan_views import CohortViewController, PlanViewController  # noqa: E402

ROUTES += [PlanViewController, CohortViewController]  # the week calendar, the heat map, what-if variants
# --- end of designer pages --------------------------------------------------------------------------------

# --- learner / facilitator / manager pages and calendar feeds: append below (one line per controller) ---
from server.controllers.learner import LearnerController  # noqa: E402

ROUTES.append(LearnerController)
from server.controllers.facilitator import FacilitatorController  # noqa: E402

ROUTES.append(FacilitatorController)
from server.controllers.manager import ManagerController  # noqa: E402

ROUTES.append(ManagerController)
from server.controllers.feeds import FeedController, FeedSettingsController  # noqa: E402

ROUTES += [FeedController, FeedSettingsController]
from server.controllers.my_absences import MyAbsenceController  # noqa: E402

ROUTES.append(MyAbsenceController)
from server.controllers.roster import RosterController  # noqa: E402

ROUTES.append(RosterController)
from server.controllers.board import BoardController  # noqa: E402

ROUTES.append(BoardController)
from server.controllers.feedback import FeedbackController  # noqa: E402

ROUTES.append(FeedbackController)
from server.controllers.email import OutboxController, PreferencesController, UnsubscribeController  # noqa: E402

ROUTES += [PreferencesController, UnsubscribeController, OutboxController]
# --- end of appended routes -------------------------------------------------------------------------------
