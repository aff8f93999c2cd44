"""The Litestar application: templates, static files, sessions in the database, CSRF, error pages.

`create_app()` is the factory uvicorn calls in each worker (`serve(...)` starts uvicorn with factory=True).
Routes are listed in `server/controllers/__init__.py` (ROUTES).
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig

from models.engine import request_connection
from models.tables import Person
from server.auth import LoadUserMiddleware, signin_url
from server.controllers.requests import is_htmx
from server.db import connection_pool, is_row_id
from server.services.clock import Clock, utc_now
from server.session_store import DatabaseStore, RotatingSessionConfig
from server.settings import ConfigError, Settings
from server.templating import template_engine

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "web" / "templates"
STATIC = ROOT / "web" / "static"
HTMX_DIST = ROOT / "node_modules" / "htmx.org" / "dist"
SESSION_MAX_AGE = 60 * 60 * 12  # a working day and a bit
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

log = logging.getLogger("cadence.app")


def _check_assets() -> None:
    if not (HTMX_DIST / "htmx.min.js").is_file():
        raise ConfigError(f"htmx is missing ({HTMX_DIST / 'htmx.min.js'}): run `make install`")


@get("/healthz", media_type=MediaType.TEXT, sync_to_thread=False, opt={"skip_session": True})
def healthz() -> str:
    return "ok"


@asynccontextmanager
async def _database(app: Litestar) -> AsyncGenerator[None, None]:
    async with connection_pool():
        yield


def _one_connection_per_request(app):
    """Outermost: each HTTP request's PostgreSQL queries share one pool connection (models/engine.py)."""

    async def middleware(scope, receive, send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        async with request_connection(Person._meta.db):
            await app(scope, receive, send)

    return middleware


async def _refuse_what_the_database_cannot_hold(request: Request) -> None:
    """Checked before any handler runs, so no query ever sees it: every `{..._id:int}` path parameter names a
    row, and one the database cannot hold is not found; a form field with a NUL character (PostgreSQL text
    cannot store one) is a bad request."""
    for value in request.path_params.values():
        if isinstance(value, int) and not is_row_id(value):
            raise NotFoundException()
    if request.method == "POST" and request.content_type[0] in FORM_TYPES:
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and "\x00" in value:
                raise ValidationException(extra=[{"key": name, "message": "contains a NUL character"}])


# --- error pages ------------------------------------------------------------------------------------------


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return Template(
        "errors/error.html",
        context={"status": status, "title": title, "message": message, "htmx": is_htmx(request)},
        status_code=status,
    )


def _not_authorized(request: Request, exc: NotAuthorizedException) -> Response:
    target = signin_url(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if is_htmx(request):
        # htmx follows HX-Redirect with a full page load; a plain 303 would be swapped into the page.
        return Response("Please sign in.", status_code=401, headers={"HX-Redirect": target},
                        media_type=MediaType.TEXT)
    return Redirect(target, status_code=303)


def _forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    message = exc.detail or "You may not do that."
    if "CSRF" in message:
        message = "The form had expired or did not come from this site. Reload the page and try again."
    return _error_page(request, 403, "Not allowed", message)


def _not_found(request: Request, exc: NotFoundException) -> Response:
    return _error_page(request, 404, "Not found", "There is nothing at this address.")


def _validation(request: Request, exc: ValidationException) -> Response:
    problems = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("source") or "input"
            problems.append(f"{key}: {item.get('message', 'invalid')}")
    message = "; ".join(problems) or (exc.detail or "The request could not be read.")
    return _error_page(request, 400, "Bad request", message)


def _http_error(request: Request, exc: HTTPException) -> Response:
    return _error_page(request, exc.status_code, "Error", exc.detail or "The request failed.")


def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_page(request, 500, "Something went wrong", "The server hit an error. Nothing was changed.")


# --- the app ----------------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Litestar:
    """The app for these settings (default: from the environment) and this clock (default: the system's)."""
    from server.controllers import ROUTES

    settings = settings or Settings.from_env()
    _check_assets()
    session_config = RotatingSessionConfig(
        key="cadence_session",
        max_age=SESSION_MAX_AGE,
        secure=settings.base_url.startswith("https://"),
        samesite="lax",
        httponly=True,
    )
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_secure=settings.base_url.startswith("https://"),
        cookie_httponly=True,  # pages carry the token (form field, hx-headers); scripts never read the cookie
        exclude=["^/feed/", "^/healthz$"],
    )
    templates = TemplateConfig(engine=template_engine(TEMPLATES))
    static = create_static_files_router(
        path="/static", directories=[STATIC, HTMX_DIST], include_in_schema=False, opt={"skip_session": True}
    )
    app = Litestar(
        route_handlers=[healthz, static, *ROUTES],
        request_class=HTMXRequest,
        plugins=[HTMXPlugin()],
        template_config=templates,
        csrf_config=csrf,
        middleware=[_one_connection_per_request, session_config.middleware, LoadUserMiddleware()],
        stores={"sessions": DatabaseStore(clock=clock), "rate_limit": MemoryStore()},
        lifespan=[_database],
        before_request=_refuse_what_the_database_cannot_hold,
        openapi_config=None,
        response_headers=[
            ResponseHeader(name="X-Frame-Options", value="DENY"),
            ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
            # feed URLs carry a secret token: never leak a page address to other sites
            ResponseHeader(name="Referrer-Policy", value="same-origin"),
        ],
        exception_handlers={
            NotAuthorizedException: _not_authorized,
            PermissionDeniedException: _forbidden,
            NotFoundException: _not_found,
            ValidationException: _validation,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        state=State({"settings": settings, "clock": clock, "session_config": session_config}),
        debug=False,
    )
    return app


def create_served_app() -> Litestar:
    """What each `cadence serve` worker runs: the app, and once it has started, every object made so far moved
    out of the garbage collector's way (`gc.freeze`). A worker holds over 100,000 objects once started (modules,
    routes, the zone data); each full collection walked them all, 20-60 ms with the requests waiting, about once
    per 200 requests: the p99 of every page. Frozen objects are never collected, which suits what lives as long as
    the process; tests build an app per test with `create_app`, so nothing is frozen there."""
    app = create_app()
    app.on_startup.append(_load_zone_picker)
    app.on_startup.append(_freeze_start_up_objects)
    return app


def _load_zone_picker() -> None:
    """The zone picker's ~600 zones, loaded before the first page needs them (40 ms) and frozen with the rest."""
    from server.templating import zone_choices

    zone_choices()


def _freeze_start_up_objects() -> None:
    gc.collect()  # start-up's garbage goes first, so none of it is kept for good
    gc.freeze()


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> int:
    """Run uvicorn on the app factory; several workers share sessions and planner state through the DB."""
    import uvicorn

    settings = Settings.from_env()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    _check_assets()
    create_app(settings)  # fail here, in one readable line, rather than in each worker
    sys.stderr.write(f"Cadence is running at http://{host}:{port}/ (workers: {workers}; Ctrl+C stops it)\n")
    from server.access_log import uvicorn_log_config
    from server.http_protocol import NoDelayHTTPProtocol
    from server.listening import OwnSocketEach, balanced_listening, bind_own_socket

    options = dict(factory=True, host=host, port=port, workers=workers, log_level="info", proxy_headers=True,
                   log_config=uvicorn_log_config(), http=NoDelayHTTPProtocol)
    if workers > 1 and balanced_listening():  # each worker on a socket of its own (server/listening.py)
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config("server.app:create_served_app", **options)
        try:
            bind_own_socket(host, port, config.backlog)[0].close()  # the port is free: say so once, here
        except OSError as error:
            sys.stderr.write(f"cadence serve: cannot listen on {host}:{port}: {error.strerror or error}\n")
            return 1
        Multiprocess(config, sockets=OwnSocketEach(host, port, config.backlog)).run()
        return 0
    uvicorn.run("server.app:create_served_app", **options)
    return 0
