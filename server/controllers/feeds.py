"""Calendar feeds over HTTP: GET/HEAD /feed/<token>.ics with conditional requests, and the feed box on the
profile (show it, rotate the secret URL, switch reminders). What a feed holds is server/services/feed_content.py (read) and feed_ical.py (written)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

from litestar import Controller, Request, Response, get, head, post
from litestar.exceptions import ClientException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_304_NOT_MODIFIED, HTTP_404_NOT_FOUND

from server.auth import access, safe_next, signed_in
from server.controllers.requests import now, settings, wants_fragment
from server.services.feed_tokens import feed_state, last_modified_for, person_for_token, rotate_token
from server.services.feeds import BuiltFeed, build_feed, feed_box, feed_version, set_alarms

# Shared caches must never keep a feed (its URL is a credential): "private". Five minutes spares the database
# when a client polls in bursts, and is far below REFRESH; a re-plan shows within the client's own interval.
CACHE_CONTROL = "private, max-age=300"


def not_modified(feed: BuiltFeed, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 §13.1: If-None-Match wins when present (weak comparison); else If-Modified-Since."""
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or feed.etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since is None or since.tzinfo is None:
            return False
        return feed.last_modified <= since
    return False


def _not_found(with_body: bool = True) -> Response:
    return Response(content=b"Not found\n" if with_body else b"", status_code=HTTP_404_NOT_FOUND,
                    media_type="text/plain")


class FeedController(Controller):
    """GET (and HEAD) /feed/<token>.ics — no sign-in: the unguessable token is the credential."""

    path = "/feed"
    include_in_schema = False
    opt = {"exclude_from_csrf": True, "skip_session": True}  # a feed is not a page: no cookies

    @get("/{filename:str}")
    async def feed(self, request: Request, filename: FromPath[str]) -> Response:
        return await _answer(request, filename, with_body=True)

    @head("/{filename:str}")
    async def feed_head(self, request: Request, filename: FromPath[str]) -> Response[None]:
        return await _answer(request, filename, with_body=False)


async def _answer(request: Request, filename: str, *, with_body: bool) -> Response:
    token = filename.removesuffix(".ics")
    config = settings(request)
    state = await feed_state(token, config.secret_key) if filename.endswith(".ics") else None
    if state is None:
        return _not_found(with_body)  # wrong, rotated and garbled tokens all look the same
    at = now(request)
    if_none_match, if_modified_since = request.headers.get("if-none-match"), request.headers.get("if-modified-since")
    # The generation was read before building: a write during the build only means a rebuild next time.
    version = feed_version(state["generation"], config.base_url)
    if (state["etag"] and state["changed_at"] and state["version"] == version
            and (state["valid_until"] is None or at < state["valid_until"])):
        # nothing a feed shows was written since this ETag was built, and no cancelled session left it
        known = BuiltFeed(b"", state["etag"], state["changed_at"])
        if not_modified(known, if_none_match, if_modified_since):
            return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=_headers(known))
    person = await person_for_token(token, config.secret_key)
    if person is None:
        return _not_found(with_body)  # revoked or deactivated in between
    feed = await build_feed(person, now=at, base_url=config.base_url)
    modified = await last_modified_for(token, feed.etag, feed.last_modified, now=at, version=version,
                                       valid_until=feed.valid_until)
    feed = replace(feed, last_modified=modified)
    headers = _headers(feed)
    if not_modified(feed, if_none_match, if_modified_since):
        return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="cadence.ics"'
    if not with_body:
        headers["Content-Length"] = str(len(feed.body))
    # Litestar appends "; charset=utf-8" to text/* media types.
    return Response(content=feed.body if with_body else b"", media_type="text/calendar", headers=headers)


@lru_cache(maxsize=4096)  # a feed's Last-Modified stays the same across the polls its 304s answer
def _http_date(instant: datetime) -> str:
    return format_datetime(instant, usegmt=True)


def _headers(feed: BuiltFeed) -> dict[str, str]:
    return {
        "ETag": feed.etag,
        "Last-Modified": _http_date(feed.last_modified),
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }


async def _my_box(request: Request) -> dict:
    return await feed_box(request.user.id, settings(request), now=now(request))


def _fragment_or_back(request: Request, feed: dict, back: str | None) -> Response:
    if wants_fragment(request):
        return Template(template_name="partials/feed_link.html", context={"feed": feed})
    return Redirect(path=safe_next(back, "/profile"), status_code=303)


class FeedSettingsController(Controller):
    """The feed box: show it, rotate the secret URL, switch reminders on or off. Any signed-in person, for
    their own feed only (the person is always request.user; no id comes from the client)."""

    path = "/profile/feed"
    opt = access(signed_in)
    include_in_schema = False

    @get("/")
    async def show(self, request: Request) -> Response:
        """The box alone for htmx; without JavaScript, the box on a page of its own (the same partial)."""
        template = "partials/feed_link.html" if wants_fragment(request) else "feed.html"
        return Template(template_name=template, context={"feed": await _my_box(request)})

    @post("/rotate", status_code=200)
    async def rotate(self, request: Request) -> Response:
        form = await request.form()
        await rotate_token(request.user.id, settings(request).secret_key, now=now(request))
        return _fragment_or_back(request, await _my_box(request), form.get("next"))

    @post("/alarms", status_code=200)
    async def alarms(self, request: Request) -> Response:
        form = await request.form()
        choice = form.get("alarms", "")
        if choice not in ("on", "off"):
            raise ClientException(detail="alarms: expected 'on' or 'off'")
        await set_alarms(request.user.id, choice == "on")
        return _fragment_or_back(request, await _my_box(request), form.get("next"))
