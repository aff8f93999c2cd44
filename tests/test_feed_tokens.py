"""Feed tokens: entropy, what the database keeps, lookup, rotation, and `cadence feed rotate EMAIL`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feed_helpers import seed_feed_world

from models.tables import FeedToken, Person
from server.cli import rotate_feed
from server.services.feed_tokens import (
    feed_token_for,
    feed_urls_for,
    make_token,
    person_for_token,
    rotate_token,
    token_hash,
)
from server.settings import Settings

SECRET = Settings.from_env().secret_key  # the key the app signs tokens with (tests/conftest.py)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


def _decoded_length(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


async def test_a_token_carries_256_bits_and_the_database_keeps_only_its_hash_and_nonce(db):
    world = await seed_feed_world()
    token = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    assert _decoded_length(token) == 32
    rows = await FeedToken.select()
    assert len(rows) == 1
    row = rows[0]
    assert row["token_hash"] == token_hash(token)
    assert len(row["nonce"]) == 64  # 32 random bytes, hex
    assert token not in repr(rows)
    # The nonce alone does not give the token: it takes the secret key.
    assert make_token("some-other-key-that-an-attacker-might-guess!!", row["person"], row["nonce"]) != token


async def test_the_same_token_comes_back_until_rotated(db):
    world = await seed_feed_world()
    first = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    assert await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC)) == first
    other = await feed_token_for(world.people["liam"], SECRET, now=datetime.now(UTC))
    assert other != first
    assert (await person_for_token(first, SECRET))["id"] == world.people["nia"]
    assert (await person_for_token(other, SECRET))["id"] == world.people["liam"]


async def test_rotation_revokes_the_old_token(db):
    world = await seed_feed_world()
    old = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    new = await rotate_token(world.people["nia"], SECRET, now=datetime.now(UTC))
    assert new != old
    assert await person_for_token(old, SECRET) is None
    assert (await person_for_token(new, SECRET))["id"] == world.people["nia"]
    assert await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC)) == new
    assert await FeedToken.count().where(FeedToken.revoked_at.is_null()) == 1


@pytest.mark.parametrize("garbage", ["", "x", "A" * 43, "../../etc/passwd", "%00", "é" * 20, "A" * 5000])
async def test_garbage_tokens_find_nobody(db, garbage):
    world = await seed_feed_world()
    await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    assert await person_for_token(garbage, SECRET) is None


async def test_a_row_with_a_tampered_nonce_finds_nobody(db):
    world = await seed_feed_world()
    token = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    await FeedToken.update({FeedToken.nonce: "0" * 64}).where(FeedToken.token_hash == token_hash(token))
    assert await person_for_token(token, SECRET) is None


async def test_an_inactive_person_has_no_feed(db):
    world = await seed_feed_world()
    token = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    await Person.update({Person.active: False}).where(Person.id == world.people["nia"])
    assert await person_for_token(token, SECRET) is None


async def test_feed_urls_offer_https_and_webcal(db):
    world = await seed_feed_world()
    at = datetime.now(UTC)
    urls = await feed_urls_for(world.people["nia"], secret_key=SECRET, base_url="https://cadence.example.org", now=at)
    token = await feed_token_for(world.people["nia"], SECRET, now=datetime.now(UTC))
    assert urls == {
        "https": f"https://cadence.example.org/feed/{token}.ics",
        "webcal": f"webcal://cadence.example.org/feed/{token}.ics",
    }
    assert await feed_urls_for(world.people["nia"], secret_key=SECRET, base_url="https://cadence.example.org",
                               now=at) == urls


async def test_rotate_from_cli_names_an_unknown_email(db):
    await seed_feed_world()
    with pytest.raises(LookupError) as raised:
        await rotate_feed("nobody@example.com")
    assert raised.value.cadence_user_error is True
    assert "nobody@example.com" in str(raised.value)


def _cadence(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CADENCE_BASE_URL="https://cadence.example.org")
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def test_cadence_feed_rotate_prints_a_working_url_and_revokes_the_old_one(db):
    world = await seed_feed_world()
    old = await feed_token_for(world.people["sofia"], SECRET, now=datetime.now(UTC))
    done = _cadence("feed", "rotate", "sofia@example.com")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("https://cadence.example.org/feed/") and url.endswith(".ics")
    token = url.removeprefix("https://cadence.example.org/feed/").removesuffix(".ics")
    assert (await person_for_token(token, SECRET))["id"] == world.people["sofia"]
    assert await person_for_token(old, SECRET) is None


async def test_cadence_feed_rotate_with_an_unknown_email_is_one_line_and_exit_2(db):
    await seed_feed_world()
    done = _cadence("feed", "rotate", "nobody@example.com")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: ") and "nobody@example.com" in done.stderr
    assert "Traceback" not in done.stderr


async def test_concurrent_first_requests_issue_one_token(db):
    import asyncio

    world = await seed_feed_world()
    tokens = await asyncio.gather(*[feed_token_for(world.people["liam"], SECRET, now=datetime.now(UTC)) for _ in range(6)])
    assert len(set(tokens)) == 1
    assert await FeedToken.count().where(FeedToken.person == world.people["liam"]) == 1
