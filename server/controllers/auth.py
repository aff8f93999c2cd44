"""Sign-in, sign-out and the home page that sends each role to its own page."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from server.auth import AccountDeactivated, access, authenticate, safe_next, sign_in, sign_out, signed_in

WRONG = "Email or password is incorrect."
DEACTIVATED = "This account has been deactivated. Ask a program designer to reactivate it."
# Light brake on password guessing: per client address, per process (the store is the app's "rate_limit").
SIGNIN_LIMIT = RateLimitConfig(rate_limit=("minute", 20), store="rate_limit")

HOME_BY_ROLE = {
    "designer": None,  # the designer's home is the dashboard below
    "facilitator": "/facilitator",
    "learner": "/learner",
    "manager": "/manager",
}


class HomeController(Controller):
    path = "/"
    opt = access(signed_in)

    @get("/", sync_to_thread=False)
    def home(self, request: Request) -> Response:
        target = HOME_BY_ROLE.get(request.user.role)
        if target is not None and _has_route(request, target):
            return Redirect(target, status_code=303)
        return Template("home.html", context={})


def _has_route(request: Request, path: str) -> bool:
    """The role pages are mounted by other modules; until they are, home shows the dashboard."""
    return any(route.path == path for route in request.app.routes)


class SignInController(Controller):
    path = "/"

    @get("/signin", sync_to_thread=False)
    def page(self, request: Request, next: FromQuery[str | None] = None) -> Response:
        if request.scope.get("user") is not None:
            return Redirect(safe_next(next), status_code=303)
        return Template("signin.html", context={"next": safe_next(next, ""), "email": "", "error": None})

    @post("/signin", middleware=[SIGNIN_LIMIT.middleware], status_code=303)
    async def submit(self, request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:1024]
        target = safe_next(str(form.get("next", "")) or None)
        try:
            person = await authenticate(email, password)
        except AccountDeactivated:
            context = {"next": target if target != "/" else "", "email": email, "error": DEACTIVATED}
            return Template("signin.html", context=context, status_code=403)
        if person is None:
            context = {"next": target if target != "/" else "", "email": email, "error": WRONG}
            return Template("signin.html", context=context, status_code=401)
        await sign_in(request, person, request.app.state.session_config)
        return Redirect(target, status_code=303)

    @post("/signout", status_code=303)
    async def signout(self, request: Request) -> Response:
        sign_out(request)
        return Redirect("/signin", status_code=303)
