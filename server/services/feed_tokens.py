"""Secret calendar-feed tokens: issue, look up, rotate.

The token in a feed URL is base64url(HMAC-SHA256(secret key, "feed:<person id>:<nonce>")) with a 32-byte random
nonce. A FeedToken row keeps the nonce (so a profile page can show the same URL again) and SHA-256(token) (so a
request is looked up by an index). Without the secret key, a copy of the database reveals no working URL.
The key (Settings.secret_key) and the public base URL are arguments, never read from the environment here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from models.engine import is_sqlite
from models.tables import FeedToken, Person
from server.db import fetch_one, write_transaction

NONCE_BYTES = 32  # 256 bits of entropy; the HMAC output the URL carries is 256 bits too


@lru_cache(maxsize=4096)  # pure; each calendar client polls with the same token: one HMAC per token, not per poll
def make_token(secret_key: str, person_id: int, nonce: str) -> str:
    digest = hmac.new(secret_key.encode(), f"feed:{person_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _lock_person(person_id: int) -> None:
    """Serialise token changes per person: PostgreSQL locks the person's row; SQLite's IMMEDIATE transaction
    already holds the only write lock."""
    if not is_sqlite(Person._meta.db):
        await Person.select(Person.id).where(Person.id == person_id).lock_rows()


async def _issue(person_id: int, secret_key: str, now: datetime) -> str:
    nonce = secrets.token_hex(NONCE_BYTES)
    token = make_token(secret_key, person_id, nonce)
    await FeedToken.insert(
        FeedToken(person=person_id, nonce=nonce, token_hash=token_hash(token), created_at=now)
    )
    return token


# The nonce of the person's current token (`{}`: the person); also a subquery of pages that read it beside
# their own rows.
CURRENT_NONCE = "SELECT nonce FROM feed_token WHERE person = {} AND revoked_at IS NULL ORDER BY id DESC LIMIT 1"


async def feed_token_for(person_id: int, secret_key: str, *, now: datetime) -> str:
    """The person's current token; issues one when they have none (once, even under concurrent calls).

    Pages show the feed box on every visit, so the common case (a token exists) is one read, without the
    write transaction and the lock that issuing needs."""
    row = await fetch_one(CURRENT_NONCE, person_id)
    if row is not None:
        return make_token(secret_key, person_id, row["nonce"])
    async with write_transaction():
        await _lock_person(person_id)
        row = await (
            FeedToken.select(FeedToken.nonce)
            .where((FeedToken.person == person_id) & FeedToken.revoked_at.is_null())
            .order_by(FeedToken.id, ascending=False)
            .first()
        )
        if row is not None:
            return make_token(secret_key, person_id, row["nonce"])
        return await _issue(person_id, secret_key, now)


async def rotate_token(person_id: int, secret_key: str, *, now: datetime) -> str:
    """Revoke every active token of the person (their old URLs answer 404) and issue a fresh one."""
    async with write_transaction():
        await _lock_person(person_id)
        await FeedToken.update({FeedToken.revoked_at: now}).where(
            (FeedToken.person == person_id) & FeedToken.revoked_at.is_null()
        )
        return await _issue(person_id, secret_key, now)


async def revoke_tokens(person_id: int, *, now: datetime) -> None:
    """Revoke every active token of the person (a deactivated account): their URLs answer 404 from now on, and
    the next feed_token_for issues a new one."""
    await FeedToken.update({FeedToken.revoked_at: now}).where(
        (FeedToken.person == person_id) & FeedToken.revoked_at.is_null()
    )


async def person_for_token(token: str, secret_key: str) -> dict | None:
    """The active person row (as a dict) a token belongs to, or None — for any wrong, revoked or garbled token."""
    if not token or len(token) > 100:
        return None
    row = await (
        FeedToken.select(FeedToken.person, FeedToken.nonce, FeedToken.token_hash)
        .where((FeedToken.token_hash == token_hash(token)) & FeedToken.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    # The index found the row by hash; re-deriving the token proves it was made with our key.
    expected = make_token(secret_key, row["person"], row["nonce"])
    if not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    person = await Person.select().where((Person.id == row["person"]) & (Person.active == True)).first()  # noqa: E712
    return person


_FEED_STATE = """
SELECT t.person, t.nonce, t.content_etag, t.content_changed_at, t.content_version, t.content_valid_until,
       (SELECT g.value FROM content_generation g WHERE g.id = 1) AS generation
FROM feed_token t JOIN person p ON p.id = t.person
WHERE t.token_hash = {} AND t.revoked_at IS NULL AND p.active = {}
"""


async def feed_state(token: str, secret_key: str) -> dict | None:
    """One query for a feed request: the active token's person id, the ETag it last served with its
    Last-Modified, the version that ETag was built from and until when it holds, and the current content
    generation (the counter every write to a table a feed reads bumps: triggers of models_0006). None for any
    wrong, revoked or garbled token, or an inactive person — like person_for_token."""
    if not token or len(token) > 100:
        return None
    row = await fetch_one(_FEED_STATE, token_hash(token), True)  # not Piccolo's raw(): its query object cost more
    if row is None:
        return None
    expected = make_token(secret_key, row["person"], row["nonce"])
    if not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    return {
        "person": row["person"], "etag": row["content_etag"], "version": row["content_version"],
        "changed_at": _instant(row["content_changed_at"]), "valid_until": _instant(row["content_valid_until"]),
        "generation": int(row["generation"] or 0),
    }


def _instant(value) -> datetime | None:
    """A timestamptz from a raw query (SQLite may hand back text)."""
    if value is None or value == "":
        return None
    return _as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


async def last_modified_for(token: str, etag: str, stamped: datetime, *, now: datetime, version: str = "",
                            valid_until: datetime | None = None) -> datetime:
    """The Last-Modified to send with a feed body whose ETag is `etag`, for this (already verified) token.

    `stamped` is the latest timestamp among the rows the feed shows. Some changes leave no timestamp (an
    undone completion, the reminder switch, a new time zone), so the token remembers the ETag it last served
    and the Last-Modified it sent with it: the same body keeps its date; a new body gets the newer stamp or, if
    no stamp moved, the current second (at least a second after the previous date). A client that revalidates
    with If-Modified-Since alone therefore never gets a 304 for content it has not seen.
    `version` and `valid_until` are what the body was built from and until when it holds (see stored_feed).
    """
    digest = token_hash(token)
    row = await (FeedToken.select(FeedToken.content_etag, FeedToken.content_changed_at)
                 .where(FeedToken.token_hash == digest).first())
    previous = _as_utc(row["content_changed_at"]) if row and row["content_changed_at"] else None
    if previous is not None and row["content_etag"] == etag:
        modified = previous
    elif previous is None or stamped > previous:
        modified = stamped
    else:
        modified = max(now.replace(microsecond=0), previous + timedelta(seconds=1))
    await FeedToken.update({FeedToken.content_etag: etag, FeedToken.content_changed_at: modified,
                            FeedToken.content_version: version, FeedToken.content_valid_until: valid_until}).where(
        FeedToken.token_hash == digest
    )
    return modified


def _as_utc(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def feed_urls(base_url: str, token: str) -> dict[str, str]:
    https = f"{base_url}/feed/{token}.ics"
    webcal = "webcal://" + https.split("://", 1)[1]
    return {"https": https, "webcal": webcal}


async def feed_urls_for(person_id: int, *, secret_key: str, base_url: str, now: datetime) -> dict[str, str]:
    """{"https": ..., "webcal": ...}: the person's current feed URLs (a token is issued when they have none)."""
    return feed_urls(base_url, await feed_token_for(person_id, secret_key, now=now))
