"""Every instant in a table is an aware UTC datetime: written in any zone, read back as the same instant in
UTC; defaults are aware too; and passwords hash with argon2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import ON_POSTGRES

from models.tables import Cohort, FeedToken, Person, PlannerRun, Program, WebSession
from server.passwords import hash_password, needs_rehash, verify_password


def timestamptz_columns():
    from piccolo.columns import Timestamptz

    from models.migrate import all_tables

    return [(table, column) for table in all_tables() for column in table._meta.columns
            if isinstance(column, Timestamptz)]


def test_every_instant_column_is_a_timestamptz():
    from piccolo.columns import Timestamp

    from models.migrate import all_tables

    naive_columns = [f"{t._meta.tablename}.{c._meta.name}" for t in all_tables() for c in t._meta.columns
                     if isinstance(c, Timestamp)]
    assert naive_columns == []
    names = {f"{t._meta.tablename}.{c._meta.name}" for t, c in timestamptz_columns()}
    assert {"live_session.starts_at", "attendance.marked_at", "module_completion.completed_at"} <= names


@pytest.mark.anyio
async def test_instants_written_in_any_zone_read_back_as_aware_utc(db):
    singapore = datetime(2027, 3, 8, 9, 30, tzinfo=ZoneInfo("Asia/Singapore"))
    await WebSession(key="k", data="{}", expires_at=singapore).save()

    row = await WebSession.select(WebSession.expires_at).first()

    assert row["expires_at"] == singapore
    assert row["expires_at"].utcoffset() == timedelta(0)
    assert row["expires_at"] == datetime(2027, 3, 8, 1, 30, tzinfo=UTC)
    if not ON_POSTGRES:  # SQLite keeps text: it must carry the UTC offset, never a bare local time
        raw = await WebSession.raw("SELECT expires_at FROM web_session")
        assert str(raw[0]["expires_at"]).endswith("+00:00")


@pytest.mark.anyio
async def test_defaults_and_objects_give_aware_utc_instants(db):
    person = Person(email="a@x.org", name="A")
    await person.save()
    program = Program(slug="p", name="P")
    await program.save()
    await Cohort(program=program.id, name="C", start_date=datetime(2027, 3, 1, tzinfo=UTC).date(), weeks=1).save()
    await FeedToken(person=person.id, nonce="n", token_hash="h").save()
    await PlannerRun(program=program.id).save()

    for table, column in timestamptz_columns():
        for row in await table.select(column):
            value = row[column._meta.name]
            if value is None:  # nullable instants not set yet (published_at, cancelled_at, ...)
                continue
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0), (table, column, value)
    fetched = await Person.objects().get(Person.email == "a@x.org")
    assert fetched.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - fetched.created_at) < timedelta(minutes=5)


def test_passwords_hash_with_argon2_and_verify():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert hashed != hash_password("correct horse")  # salted
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "Correct horse")
    assert not verify_password("", "anything")
    assert not verify_password("not-a-hash", "anything")
    assert not needs_rehash(hashed)
    assert needs_rehash("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")


@pytest.mark.anyio
async def test_a_naive_datetime_cannot_be_stored(db):
    naive = datetime(2027, 3, 8, 9, 30)
    if ON_POSTGRES:  # the column type is timestamptz: PostgreSQL keeps instants only
        rows = await WebSession.raw(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'web_session' "
            "AND column_name = 'expires_at'")
        assert rows == [{"data_type": "timestamp with time zone"}]
        return
    with pytest.raises(ValueError, match="naive datetime 2027-03-08T09:30:00 refused"):
        await WebSession(key="k", data="{}", expires_at=naive).save()
    await WebSession(key="k", data="{}", expires_at=naive.replace(tzinfo=UTC)).save()
    with pytest.raises(ValueError, match="naive datetime"):
        await WebSession.update({WebSession.expires_at: naive}).where(WebSession.key == "k")
    assert (await WebSession.select(WebSession.expires_at).first())["expires_at"] == naive.replace(tzinfo=UTC)
