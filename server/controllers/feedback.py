"""Designer: session feedback averaged per unit, per facilitator and per cohort, with response counts, and
the same as CSV. Groups of fewer than 3 learners show their counts only (server/services/feedback.py)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.response import Template

from server.auth import access, designer_only
from server.services import feedback


class FeedbackController(Controller):
    path = "/feedback"
    opt = access(designer_only)
    include_in_schema = False

    @get("/")
    async def page(self) -> Template:
        return Template("designer/feedback.html",
                        context={"report": await feedback.feedback_report(), "min_group": feedback.MIN_GROUP})

    @get("/feedback.csv")
    async def csv(self) -> Response:
        return Response(feedback.report_csv(await feedback.feedback_report()), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="feedback.csv"',
                                 "Cache-Control": "no-store"})
