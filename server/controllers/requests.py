"""What a handler reads from a request besides its fields — is it htmx, what time it is, the settings the app
was created with — and how it answers with a page or its fragment. The one place each is decided."""

from __future__ import annotations

from datetime import datetime

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.response import Template

from server.settings import Settings


def is_htmx(request: ASGIConnection) -> bool:
    """Any request htmx sends (a boosted page load included)."""
    return request.headers.get("hx-request") == "true"


def wants_fragment(request: ASGIConnection) -> bool:
    """An htmx request that swaps a region (not a boosted page load, which wants the whole page)."""
    return is_htmx(request) and request.headers.get("hx-boosted") != "true"


def now(request: Request) -> datetime:
    """The app's clock (`create_app(clock=...)`), read once per request."""
    return request.app.state.clock()


def settings(request: Request) -> Settings:
    return request.app.state.settings


def page_or_fragment(request: Request, page: str, fragment: str, context: dict, *, failed: bool) -> Template:
    """The whole page for a plain form post (400 when it failed), just the fragment for htmx (always 200:
    htmx 2 does not swap error statuses by default, and the fragment carries the messages)."""
    if is_htmx(request):
        return Template(fragment, context=context, status_code=200)
    return Template(page, context=context, status_code=400 if failed else 200)
