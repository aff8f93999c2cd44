"""The cohort page reads its cohort, facilitators and their upcoming absences in one query
(`cohorts.cohort_with_staff`): it must give what the three separate reads give (`cohorts.cohort`,
`cohorts.facilitators`, `absences.upcoming`) in the edge cases — no facilitator, a facilitator with no absence,
several absences, past absences, a facilitator who left, a learner's absence, a cohort that does not exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from web_helpers import make_person, run

from models.tables import Absence, Cohort, Membership, Program
from server.services import absences, cohorts

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def _separately(cohort_id: int) -> tuple:
    async def read() -> tuple:
        facilitators = await cohorts.facilitators(cohort_id)
        return (await cohorts.cohort(cohort_id), facilitators,
                await absences.upcoming([f["id"] for f in facilitators], NOW))

    return run(read())


def _together(cohort_id: int) -> tuple | None:
    head = run(cohorts.cohort_with_staff(cohort_id, NOW))
    return None if head is None else (head.cohort, head.facilitators, head.absences)


def _cohort(name: str) -> int:
    async def build() -> int:
        program = await Program.objects().first()
        if program is None:
            program = Program(slug="p", name="Program")
            await program.save()
        cohort = Cohort(program=program.id, name=name, start_date=date(2027, 3, 8), weeks=2, timezone="UTC")
        await cohort.save()
        return cohort.id

    return run(build())


def _member(cohort_id: int, person_id: int, role: str, *, left: bool = False) -> None:
    run(Membership(cohort=cohort_id, person=person_id, role=role, left_at=NOW if left else None).save())


def _away(person_id: int, days_from_now: int, length: int = 1) -> None:
    starts_at = NOW + timedelta(days=days_from_now)
    run(Absence(person=person_id, starts_at=starts_at, ends_at=starts_at + timedelta(days=length), note="n").save())


def test_the_cohort_with_its_staff_is_what_the_three_reads_give(db):
    bare, staffed = _cohort("Bare"), _cohort("Staffed")
    zed = make_person("zed@example.org", "facilitator", name="Zed", timezone="Asia/Tokyo")
    amy = make_person("amy@example.org", "facilitator", name="Amy", timezone="America/New_York")
    quiet = make_person("quiet@example.org", "facilitator", name="Quiet")
    gone = make_person("gone@example.org", "facilitator", name="Gone")
    lea = make_person("lea@example.org", name="Lea")
    for person in (zed, amy, quiet):
        _member(staffed, person.id, "facilitator")
    _member(staffed, gone.id, "facilitator", left=True)
    _member(staffed, lea.id, "learner")
    _away(zed.id, 10, 3)
    _away(zed.id, 2)
    _away(zed.id, -5)  # over: not listed
    _away(amy.id, 5, 2)
    _away(amy.id, -1, 2)  # started, not over: listed
    _away(gone.id, 3)  # left the cohort: not listed
    _away(lea.id, 4)  # not a facilitator: not listed

    together = _together(staffed)
    assert together == _separately(staffed)
    _, facilitators, upcoming = together
    assert [f["name"] for f in facilitators] == ["Amy", "Quiet", "Zed"]
    assert [(a["name"], a["starts_at"]) for a in upcoming] == [
        ("Amy", NOW - timedelta(days=1)), ("Zed", NOW + timedelta(days=2)), ("Amy", NOW + timedelta(days=5)),
        ("Zed", NOW + timedelta(days=10))]
    assert all(a["first_day"] and a["last_day"] and a["timezone"] for a in upcoming)

    assert _together(bare) == _separately(bare)
    assert _together(bare)[1:] == ([], [])
    assert _together(staffed + bare + 1) is None


def test_former_members_count_their_modules_and_attended_sessions_in_this_cohort_only(db):
    """`lifecycle.former_members` counts in one query (subqueries per row): present and late count as attended,
    absent and excused do not; another cohort's sessions and modules do not count; current members are not
    listed; a former member with no history counts zero."""
    from models.tables import AsyncModule, Attendance, LiveSession, ModuleCompletion, Section, Unit
    from server.services import lifecycle

    here, there = _cohort("Here"), _cohort("There")
    fay = make_person("fay@example.org", "facilitator", name="Fay")
    left_busy = make_person("busy@example.org", name="Busy")
    left_idle = make_person("idle@example.org", name="Idle")
    staying = make_person("stay@example.org", name="Stay")
    _member(here, left_busy.id, "learner", left=True)
    _member(here, left_idle.id, "learner", left=True)
    _member(here, staying.id, "learner")
    _member(there, left_busy.id, "learner")

    async def history() -> None:
        unit = Unit(program=(await Program.objects().first()).id, slug="u", title="U", minutes=30)
        await unit.save()
        for cohort, statuses, modules in ((here, ["present", "late", "absent", "excused", "present"], 2),
                                          (there, ["present", "late"], 1)):
            section = Section(cohort=cohort, key=f"s{cohort}")
            await section.save()
            for n, status in enumerate(statuses):
                session = LiveSession(cohort=cohort, section=section.id, key=f"k{n}", uid=f"{cohort}-{n}@x",
                                      starts_at=NOW, ends_at=NOW + timedelta(hours=1), facilitator=fay.id)
                await session.save()
                await Attendance(session=session.id, person=left_busy.id, status=status).save()
                await Attendance(session=session.id, person=staying.id, status="present").save()
            for n in range(modules):
                module = AsyncModule(cohort=cohort, unit=unit.id, key=f"m{n}", uid=f"m{cohort}-{n}@x", title="M",
                                     minutes=30, release_at=NOW, due_at=NOW + timedelta(days=7))
                await module.save()
                await ModuleCompletion(module=module.id, person=left_busy.id).save()

    run(history())
    former = run(lifecycle.former_members(here))
    assert [(f["name"], f["modules_done"], f["sessions_attended"]) for f in former] == [
        ("Idle", 0, 0), ("Busy", 2, 3)]  # newest first: same left_at, then the later membership
    assert run(lifecycle.former_members(there)) == []
