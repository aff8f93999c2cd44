"""Per-person iCalendar feeds as served: the body with its validators (`build_feed`), what a stored ETag
depends on (`feed_version`), and the feed box of a person's pages. What a feed holds is
server/services/feed_content.py; how it is written, server/services/feed_ical.py; the HTTP side,
server/controllers/feeds.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from models.tables import Person
from server.db import fetch_one
from server.services.feed_content import CANCELLED_VISIBLE, collect, utc
from server.services.feed_ical import render
from server.services.feed_tokens import feed_urls, feed_urls_for, make_token
from server.settings import Settings


@dataclass(frozen=True)
class BuiltFeed:
    body: bytes
    etag: str  # strong, quoted
    last_modified: datetime  # UTC, whole seconds
    valid_until: datetime | None = None  # the body changes then with no write (a cancelled session leaves)


# The feed's code is part of what its stored ETag was built from: a deploy that renders differently rebuilds.
_CODE = [Path(__file__).with_name(name) for name in ("feeds.py", "feed_content.py", "feed_ical.py")]
CODE_VERSION = hashlib.sha256(b"".join(path.read_bytes() for path in _CODE)).hexdigest()[:12]


def feed_version(generation: int, base_url: str) -> str:
    """What a stored feed ETag depends on besides the rows and the clock (see feed_tokens.stored_feed)."""
    return f"{generation}:{hashlib.sha256(base_url.encode()).hexdigest()[:12]}:{CODE_VERSION}"


async def build_feed(person: dict, *, now: datetime, base_url: str) -> BuiltFeed:
    """The person's feed as bytes with its validators. `person` is a Person row as a dict."""
    content = await collect(person, now=now)
    body = render(content, base_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # RFC 9110 8.8.2.1: never a Last-Modified later than the server's clock.
    last_modified = min(content.last_modified(), now).replace(microsecond=0)
    leaving = [utc(s.row["cancelled_at"]) + CANCELLED_VISIBLE for s in content.sessions if s.row["cancelled_at"]]
    # what a person left leaves their feed too, with no write to mark it
    leaving += [utc(s.withdrawn_at) + CANCELLED_VISIBLE for s in content.sessions if s.withdrawn_at]
    leaving += [utc(m["withdrawn_at"]) + CANCELLED_VISIBLE for m in content.modules if m.get("withdrawn_at")]
    return BuiltFeed(body, etag, last_modified, min(leaving, default=None))


# ------------------------------------------------------------------------------------------- the feed box


async def feed_box(person_id: int, settings: Settings, *, now: datetime, alarms: bool | None = None,
                   nonce: str | None = None) -> dict:
    """What partials/feed_link.html expects as `feed`: the person's feed URLs plus "feed_alarms" (read here
    unless the caller passes the person row's `alarms`, as a page does with the row it signed in with).
    `nonce`: the current token's, when the page read it with its own rows (feed_tokens.CURRENT_NONCE as a
    subquery); without it (or when the person has no token yet) it is read here, and a token issued if needed."""
    if alarms is None:
        row = await fetch_one("SELECT feed_alarms FROM person WHERE id = {}", person_id)
        alarms = bool(row and row["feed_alarms"])
    if nonce is not None:
        urls = feed_urls(settings.base_url, make_token(settings.secret_key, person_id, nonce))
    else:
        urls = await feed_urls_for(person_id, secret_key=settings.secret_key, base_url=settings.base_url, now=now)
    return {**urls, "feed_alarms": bool(alarms)}


async def set_alarms(person_id: int, on: bool) -> None:
    await Person.update({Person.feed_alarms: on}).where(Person.id == person_id)
