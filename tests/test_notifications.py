"""Emails end to end on a real SMTP server (aiosmtpd on 127.0.0.1), with a pinned clock: invitations at
publish (METHOD, UID, SEQUENCE, the recipient's local times across the March 2027 DST changes), updates and
cancellations after a re-plan, reminders at their times and inside working hours, the managers' digest and
escalation, preferences and one-click unsubscribe, SMTP failures retried then recorded, and a crash after the
server accepted a message never sending it again.

The world is tests/feed_helpers.py: Fatima (London) runs every session; section a is Nia (New York, manager
Mo) and Liam (London); section b is Sofia (Sydney).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from feed_helpers import SESSIONS, seed_feed_world, session_uid, world_plan
from icalendar import Calendar
from mail_helpers import mail_settings, parts, smtp_server

from models.tables import Attendance, Notification, NotificationPreference
from server.mailer import notify
from server.services.notifications import content, delivery, due, preferences
from server.services.publishing import publish_plan

SCHEDULED = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday, before every session
START = {key: start for key, _section, start in SESSIONS}
HOUR = timedelta(hours=1)


async def job(now: datetime, settings) -> delivery.SendReport:
    _scheduled, report, _interrupted = await notify(now, settings, worker="test")
    return report


async def rows(**where) -> list[dict]:
    query = Notification.select()
    for column, value in where.items():
        query = query.where(getattr(Notification, column) == value)
    return await query.order_by(Notification.id)


def invitation(message) -> tuple[str, dict]:
    """The text/calendar part's method parameter and its one event, read back with icalendar."""
    part = parts(message)["text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    assert part.get_param("method") == str(calendar["METHOD"])
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


@pytest.mark.anyio
async def test_publish_sends_invitations_in_each_recipients_zone_across_dst(db):
    world = await seed_feed_world()
    with smtp_server() as smtp:
        report = await job(SCHEDULED, mail_settings(smtp.url))

        invitations = [m for m in smtp.messages if "text/calendar" in parts(m)]
        # section a: Nia, Liam and Fatima x 3 sessions; section b: Sofia and Fatima x 3
        assert len(invitations) == 15 and not report.failed
        for message in invitations:
            method, event = invitation(message)
            assert method == "REQUEST" and event["SEQUENCE"] == 0
            key = next(k for k in START if session_uid(k) == str(event["UID"]))  # the feed's UID
            assert event.decoded("DTSTART").astimezone(UTC) == START[key]  # the plan's instant
            assert event.decoded("DTEND").astimezone(UTC) == START[key] + HOUR
            assert "fatima@example.com" in str(event["ORGANIZER"])
            attendees = event.get("ATTENDEE", [])
            attendees = attendees if isinstance(attendees, list) else [attendees]
            recipient = str(message["To"]).split("<")[1].rstrip(">")
            assert f"mailto:{recipient}" in [str(a) for a in attendees] + [str(event["ORGANIZER"])]
            assert message["List-Unsubscribe"].startswith("<https://cadence.example.org/unsubscribe/")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html",
                                                                            "text/calendar"]

        def local_start(address: str, key: str):
            for message in smtp.to(address):
                if "text/calendar" in parts(message):
                    _method, event = invitation(message)
                    if str(event["UID"]) == session_uid(key):
                        return event["DTSTART"].params["TZID"], event.decoded("DTSTART"), message
            raise AssertionError(f"no invitation to {address} for {key}")

        # New York moves to EDT on 14 March: the same 14:00 UTC is 09:00 then 10:00 local
        zone, start, message = local_start("nia@example.com", "a-1")
        assert zone == "America/New_York" and start.strftime("%H:%M %Z") == "09:00 EST"
        assert "Wed 10 Mar, 09:00 EST" in parts(message)["text/plain"].get_content()
        zone, start, message = local_start("nia@example.com", "a-2")
        assert start.strftime("%H:%M %Z") == "10:00 EDT"
        assert "Wed 17 Mar, 10:00 EDT" in parts(message)["text/html"].get_content()
        # London moves to BST on 28 March; Sydney leaves AEDT on 4 April
        assert local_start("liam@example.com", "a-2")[1].strftime("%H:%M %Z") == "14:00 GMT"
        assert local_start("liam@example.com", "a-3")[1].strftime("%H:%M %Z") == "15:00 BST"
        assert local_start("sofia@example.com", "b-2")[1].strftime("%H:%M %Z") == "09:00 AEDT"
        assert local_start("sofia@example.com", "b-3")[1].strftime("%H:%M %Z") == "08:00 AEST"
        calendar_text = parts(local_start("sofia@example.com", "b-3")[2])["text/calendar"].get_content()
        assert "BEGIN:VTIMEZONE" in calendar_text and "TZID:Australia/Sydney" in calendar_text

        # the enrolment email: the program's purpose, first session and due date, the feed link
        assignments = [m for m in smtp.to("nia@example.com") if m["Subject"].startswith("You are enrolled")]
        assert len(assignments) == 1
        text = parts(assignments[0])["text/plain"].get_content()
        assert "Wed 10 Mar, 09:00 EST" in text and "/feed/" in text

        # a second pass, and a third, send nothing again
        before = len(smtp.messages)
        await job(SCHEDULED + timedelta(minutes=1), mail_settings(smtp.url))
        await job(SCHEDULED + timedelta(minutes=2), mail_settings(smtp.url))
        assert len(smtp.messages) == before
    assert world.cohort


@pytest.mark.anyio
async def test_a_replan_sends_updates_and_cancellations_and_withdraws_old_reminders(db):
    world = await seed_feed_world()
    moved = datetime(2027, 3, 18, 15, 0, tzinfo=UTC)
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await job(SCHEDULED, settings)
        old_reminders = await rows(kind="upcoming", session=world.sessions["a-2"], state="pending")
        assert len(old_reminders) == 4  # Nia and Liam, 24 h and 1 h
        first = len(smtp.messages)

        replanned = SCHEDULED + timedelta(days=2)
        await publish_plan(world_plan(moves={"a-2": moved}, drop=frozenset({"b-3"})), [world.cohort], now=replanned)
        await job(replanned, settings)

        new = smtp.messages[first:]
        updates = [m for m in new if m["Subject"].startswith("Updated:")]
        cancels = [m for m in new if m["Subject"].startswith("Cancelled:")]
        assert sorted(str(m["To"]) for m in updates) == sorted(
            ["Fatima Khan <fatima@example.com>", "Liam Walsh <liam@example.com>", "Nia Brooks <nia@example.com>"])
        for message in updates:
            method, event = invitation(message)
            assert method == "REQUEST" and str(event["UID"]) == session_uid("a-2") and event["SEQUENCE"] == 1
            assert event.decoded("DTSTART").astimezone(UTC) == moved
        assert sorted(str(m["To"]) for m in cancels) == ["Fatima Khan <fatima@example.com>",
                                                          "Sofia Rossi <sofia@example.com>"]
        for message in cancels:
            method, event = invitation(message)
            assert method == "CANCEL" and str(event["UID"]) == session_uid("b-3") and event["SEQUENCE"] == 1
            assert str(event["STATUS"]) == "CANCELLED"
        assert len(new) == 5  # nothing else changed

        withdrawn = {r["id"]: r for r in await rows(state="withdrawn")}
        assert {r["id"] for r in old_reminders} <= set(withdrawn)
        assert not await rows(kind="upcoming", session=world.sessions["b-3"], state="pending")
        fresh = await rows(kind="upcoming", session=world.sessions["a-2"], state="pending")
        assert sorted(r["due_at"] for r in fresh if r["occasion"] == "1h") == [moved - HOUR, moved - HOUR]


@pytest.mark.anyio
async def test_reminders_go_out_at_their_times_inside_working_hours(db):
    world = await seed_feed_world()
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await job(SCHEDULED, settings)

        reminders = {(r["person"], r["session"], r["occasion"]): r for r in await rows(kind="upcoming")}
        nia, liam, sofia = (world.people[k] for k in ("nia", "liam", "sofia"))
        # 24 h before a-1 is 09:00 EST in New York: inside Nia's hours, so exactly then
        assert reminders[(nia, world.sessions["a-1"], "24h")]["due_at"] == START["a-1"] - 24 * HOUR
        # the 1 h reminder ignores working hours: 08:00 AEDT in Sydney for b-1
        assert reminders[(sofia, world.sessions["b-1"], "1h")]["due_at"] == START["b-1"] - HOUR
        # prework due in 48 h: 48 h before 17:00 UTC Monday is a Saturday, so Monday 09:00 local
        due = {(r["person"], r["module"]): r["due_at"] for r in await rows(kind="prework_due")}
        assert due[(liam, world.modules["welcome-1"])] == datetime(2027, 3, 8, 9, 0, tzinfo=UTC)  # 09:00 GMT
        assert due[(nia, world.modules["welcome-2"])] == datetime(2027, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 EST
        assert (nia, world.modules["welcome-1"]) not in due  # done already

        at = START["a-1"] - 24 * HOUR
        sent_before = len(smtp.messages)
        await job(at - timedelta(minutes=1), settings)
        assert not [m for m in smtp.messages[sent_before:] if m["Subject"].startswith("Reminder:")]
        await job(at, settings)
        reminded = [m for m in smtp.messages[sent_before:] if m["Subject"].startswith("Reminder:")]
        assert sorted(str(m["To"]) for m in reminded) == ["Liam Walsh <liam@example.com>",
                                                           "Nia Brooks <nia@example.com>"]
        text = parts(smtp.to("nia@example.com")[-1])["text/plain"].get_content()
        assert "[done] Welcome, part 1" in text and "[not done] Welcome, part 2" in text
        assert "https://meet.example.com/a-1" in text

        # the facilitator, an hour before: 0 of 2 ready (nobody has done both prework modules)
        await job(START["a-1"] - HOUR, settings)
        soon = [m for m in smtp.to("fatima@example.com") if "learners ready" in m["Subject"]]
        assert len(soon) == 1 and "0 of 2 learners ready" in soon[0]["Subject"]


@pytest.mark.anyio
async def test_a_session_published_half_an_hour_ahead_gets_no_24h_reminder(db):
    world = await seed_feed_world()
    now = START["a-1"] - timedelta(minutes=30)
    with smtp_server() as smtp:
        await job(now, mail_settings(smtp.url))
        for row in await rows(kind="upcoming", session=world.sessions["a-1"]):
            assert row["state"] == "skipped" and "passed" in row["reason"]
        assert not [m for m in smtp.messages if m["Subject"].startswith("Reminder:")]


@pytest.mark.anyio
async def test_managers_weekly_digest_and_escalation(db):
    world = await seed_feed_world()
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await job(SCHEDULED, settings)
        monday = datetime(2027, 3, 8, 13, 0, tzinfo=UTC)  # 08:00 EST in Mo's New York
        digest = await rows(kind="manager_digest", person=world.people["mo"], occasion="2027-W10")
        assert digest[0]["due_at"] == monday
        await job(monday - timedelta(minutes=1), settings)
        assert not [m for m in smtp.to("mo@example.com") if "this week" in m["Subject"]]
        await job(monday, settings)
        (weekly,) = [m for m in smtp.to("mo@example.com") if "this week" in m["Subject"]]
        text = parts(weekly)["text/plain"].get_content()
        assert "Wed 10 Mar, 09:00 EST" in text and "Nia Brooks (Welcome, part 2)" in text
        assert "0 of 1 of your reports ready" in text

        # 24 h before a-1 Nia is still not ready: Mo hears of it
        await job(START["a-1"] - 24 * HOUR, settings)
        (escalation,) = [m for m in smtp.to("mo@example.com") if m["Subject"].startswith("Not ready")]
        assert "Nia Brooks" in escalation["Subject"]
        assert "Welcome, part 2" in parts(escalation)["text/plain"].get_content()


@pytest.mark.anyio
async def test_preferences_off_and_digest(db):
    world = await seed_feed_world()
    await preferences.set_preferences(world.people["nia"], {"invitation": "off"}, now=SCHEDULED)
    await preferences.set_preferences(world.people["liam"], {"upcoming": "digest"}, now=SCHEDULED)
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await job(SCHEDULED, settings)
        assert not [m for m in smtp.to("nia@example.com") if "text/calendar" in parts(m)]
        assert len([m for m in smtp.to("liam@example.com") if "text/calendar" in parts(m)]) == 3
        assert not await rows(kind="invitation", person=world.people["nia"])

        waiting = await rows(kind="upcoming", person=world.people["liam"])
        assert waiting and {r["state"] for r in waiting} == {"digest"}
        # the digest goes out at the start of Liam's working day on which the first item is due
        first = min(r["due_at"] for r in waiting)
        assert first == START["a-1"] - 24 * HOUR  # Tue 9 Mar 14:00 GMT
        (digest_row,) = await rows(kind="daily_digest", person=world.people["liam"])
        assert digest_row["due_at"] == datetime(2027, 3, 9, 9, 0, tzinfo=UTC)  # Tue 09:00 GMT
        await job(digest_row["due_at"] - timedelta(minutes=1), settings)
        assert not [m for m in smtp.to("liam@example.com") if "daily digest" in m["Subject"]]
        await job(digest_row["due_at"], settings)
        (digest,) = [m for m in smtp.to("liam@example.com") if "daily digest" in m["Subject"]]
        assert "A live session is coming up" in parts(digest)["text/plain"].get_content()
        assert not [m for m in smtp.to("liam@example.com") if m["Subject"].startswith("Reminder:")]


def test_the_unsubscribe_link_turns_that_kind_off_in_one_click(db):
    from web_helpers import run, web_client

    world = run(seed_feed_world())
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        run(job(SCHEDULED, settings))
        (message,) = [m for m in smtp.to("nia@example.com") if m["Subject"].startswith("You are enrolled")]
        url = message["List-Unsubscribe"].strip("<>")
        path = url.removeprefix("https://cadence.example.org")
        with web_client(now=SCHEDULED) as client:
            page = client.get(path)
            assert page.status_code == 200 and "Unsubscribe" in page.text
            assert not run(NotificationPreference.exists())  # a GET (a link scanner) changes nothing
            # what a mail provider sends (RFC 8058): no cookie, no CSRF token
            done = client.post(path, content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"})
            assert done.status_code == 200 and "no more emails" in done.text
        prefs = run(NotificationPreference.select().where(NotificationPreference.person == world.people["nia"]))
        assert [(p["kind"], p["mode"]) for p in prefs] == [("assignment", "off")]


@pytest.mark.anyio
async def test_smtp_down_is_retried_with_backoff_then_recorded(db):
    world = await seed_feed_world()
    with smtp_server() as smtp:
        down = mail_settings(smtp.url)
    # the server is stopped: connections are refused
    report = await job(SCHEDULED, down)
    assert report.retrying and not report.sent
    row = (await rows(kind="assignment", person=world.people["nia"]))[0]
    assert row["state"] == "pending" and row["attempts"] == 1 and "try 1 failed" in row["reason"]
    assert row["next_attempt_at"] == SCHEDULED + timedelta(minutes=1)
    at = SCHEDULED
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        at = (await Notification.select(Notification.next_attempt_at).where(Notification.id == row["id"]).first())[
            "next_attempt_at"]
        await job(at, down)
    row = (await rows(id=row["id"]))[0]
    assert row["state"] == "failed" and row["attempts"] == delivery.MAX_ATTEMPTS
    assert row["reason"].startswith(f"gave up after {delivery.MAX_ATTEMPTS} tries")
    assert at - SCHEDULED == timedelta(minutes=1 + 2 + 4 + 8)  # backoff doubles

    with smtp_server() as smtp:
        smtp.refuse = "550 5.1.1 mailbox unavailable"
        await Notification.update({Notification.state: "pending", Notification.attempts: 0,
                                   Notification.next_attempt_at: None}).where(Notification.id == row["id"])
        await job(at, mail_settings(smtp.url))
    row = (await rows(id=row["id"]))[0]
    assert row["state"] == "failed" and row["reason"].startswith("refused: 550")  # permanent: no retry


@pytest.mark.anyio
async def test_a_crash_after_the_server_accepted_never_sends_again(db):
    from server import mail
    from server.mailer import SmtpServer

    await seed_feed_world()
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await due.schedule(SCHEDULED)

        class WorkerDied(BaseException):
            pass

        async def deliver_then_die(rendered, context):
            SmtpServer.from_url(settings.smtp_url).send(mail.build_email(rendered, context, settings))
            raise WorkerDied  # the process is gone before it records "sent"

        with pytest.raises(WorkerDied):
            await delivery.send_due(SCHEDULED, settings, worker="doomed",
                                         render=lambda c: mail.render(c, settings), deliver=deliver_then_die)
        assert len(smtp.messages) == 1
        (left,) = await rows(state="sending")
        # another worker a minute later: not stale yet, so not touched; later: reported, never re-sent
        await job(SCHEDULED + timedelta(minutes=1), settings)
        assert (await rows(id=left["id"]))[0]["state"] == "sending"
        await job(SCHEDULED + timedelta(minutes=5), settings)
        row = (await rows(id=left["id"]))[0]
        assert row["state"] == "unknown" and "may or may not" in row["reason"]
        delivered = Counter(m["Message-ID"] for m in smtp.messages)
        assert delivered[smtp.messages[0]["Message-ID"]] == 1 and max(delivered.values()) == 1


@pytest.mark.anyio
async def test_a_missed_session_says_what_it_covered_and_its_materials(db):
    world = await seed_feed_world()
    marked = START["a-1"] + timedelta(minutes=70)
    await Attendance.insert(Attendance(session=world.sessions["a-1"], person=world.people["liam"],
                                       status="absent", marked_by=world.people["fatima"], marked_at=marked))
    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await job(marked, settings)
        (missed,) = [m for m in smtp.to("liam@example.com") if m["Subject"].startswith("You missed")]
        assert "- Product tour" in parts(missed)["text/plain"].get_content()

    from server import mail

    session = await content._session(world.sessions["a-1"])
    context = {"kind": "missed_session", "key": "k", "notification_id": 1, "now": marked,
               "person": {"id": 1, "name": "Liam", "email": "liam@example.com", "timezone": "Europe/London"},
               "preferences_url": "https://x/preferences",
               **content.missed_context(session, [{"title": "Slides", "url": "https://files.example/s.pdf"}],
                                              settings)}
    rendered = mail.render(context, settings)
    assert '<a href="https://files.example/s.pdf">Slides</a>' in rendered.html
    assert "Slides: https://files.example/s.pdf" in rendered.text


def test_without_smtp_the_designer_reads_the_outbox(db):
    from web_helpers import make_person, run, sign_in, web_client

    run(seed_feed_world())
    designer = make_person("dee@example.org", "designer", timezone="Europe/London")
    report = run(job(SCHEDULED, mail_settings("")))
    assert report.outbox and not report.sent
    invite = run(Notification.select().where((Notification.kind == "invitation")
                                             & (Notification.person.email == "nia@example.com")).first())
    assert invite["state"] == "outbox" and invite["subject"].startswith("Invitation:")
    with web_client(now=SCHEDULED) as client:
        sign_in(client, designer.email)
        listing = client.get("/outbox?state=outbox")
        assert listing.status_code == 200 and invite["subject"] in listing.text
        page = client.get(f"/outbox/{invite['id']}")
        assert page.status_code == 200
        assert "REQUEST" in page.text and "SEQUENCE 0" in page.text and "EST" in page.text
        assert "srcdoc=" in page.text and "sandbox" in page.text


def test_two_workers_scheduling_at_once_send_each_message_once(db, tmp_path):
    import os

    from web_helpers import run
    from worker_helpers import running_worker, wait_until

    from server.jobs import build_queue
    from server.settings import Settings

    run(seed_feed_world())  # its sessions are in 2027: all ahead of the real clock the workers read
    with smtp_server() as smtp:
        env = {"CADENCE_SMTP_URL": smtp.url, "CADENCE_QUEUE_NAME": f"mail-{os.getpid()}",
               "CADENCE_BASE_URL": "https://cadence.example.org"}
        settings = Settings.from_env({**os.environ, **env})
        jobs = build_queue(settings)
        with running_worker(tmp_path / "a.log", **env) as a, running_worker(tmp_path / "b.log", **env) as b:
            for _ in range(6):
                jobs.nudge_email()

            def settled():
                states = Counter(r["state"] for r in run(Notification.select(Notification.state).where(
                    Notification.kind.is_in(["invitation", "assignment"]))))
                return states if states and set(states) == {"sent"} else None

            states = wait_until(settled, 60, "every invitation and enrolment email to be sent", a, b)
        assert states["sent"] == 15 + 3
        ids = Counter(m["Message-ID"] for m in smtp.messages)
        assert len(smtp.messages) == 18 and max(ids.values()) == 1
