"""A roster CSV updates an existing cohort: `preview_roster` compares the file (the planner loader's columns
and reading) with the current members and writes nothing; `apply_roster` applies exactly what the preview showed,
in one transaction with a RosterChange row per change, and refuses when the file or the roster changed since.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from models.tables import Membership, Person
from planner.errors import InputError
from planner.loading import _roster_rows  # the loader's one reading of a roster CSV
from server.db import write_transaction
from server.errors import UserError
from server.services import roster_changes
from server.services.clock import check_aware
from server.services.importing import hours_text
from server.services.lifecycle import current_members
from server.services.people import ROLE_RANK

MAX_ROSTER_BYTES = 1_000_000
MAX_ROSTER_ROWS = 2000


@dataclass
class RosterUpdate:
    """What a roster CSV would change in a cohort. `digest` names the CSV and the roster it was compared
    with, so applying refuses when either changed since the preview."""

    added: list[dict] = field(default_factory=list)  # {"email", "name", "role", "manager", "new_person"}
    changed: list[dict] = field(default_factory=list)  # {"email", "name", "what": [words], ...}
    removed: list[dict] = field(default_factory=list)  # current member rows
    unchanged: int = 0
    digest: str = ""

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def _read_csv(file_name: str, data: bytes):
    if not data.strip():
        raise UserError(f"{file_name}: the file is empty; expected a header such as email,name,role,timezone")
    if len(data) > MAX_ROSTER_BYTES:
        raise UserError(f"{file_name}: the file is larger than {MAX_ROSTER_BYTES // 1000} kB")
    try:
        rows = _roster_rows(file_name, data)
    except InputError as error:
        raise UserError(str(error)) from None
    if len(rows) > MAX_ROSTER_ROWS:
        raise UserError(f"{file_name}: more than {MAX_ROSTER_ROWS} members")
    seen: set[str] = set()
    for member_row, place in rows:
        if member_row.email in seen:
            raise UserError(f"{file_name}: {place.where}: {member_row.email} appears twice")
        seen.add(member_row.email)
    return [m for m, _ in rows]


async def preview_roster(cohort_id: int, file_name: str, data: bytes) -> RosterUpdate:
    """Compare a roster CSV (the loader's columns) with the cohort's current members, writing nothing."""
    members = _read_csv(file_name, data)
    current = await Membership.select(
        Membership.id, Membership.role, Membership.person.id.as_alias("person_id"),
        Membership.person.email.as_alias("email"), Membership.person.name.as_alias("name"),
        Membership.manager.email.as_alias("manager_email"),
    ).where(current_members(cohort_id))
    by_email = {row["email"]: row for row in current}
    emails = sorted({m.email for m in members} | {m.manager for m in members if m.manager})
    known = {row["email"] for row in await Person.select(Person.email).where(Person.email.is_in(emails or [""]))}
    in_file = {m.email for m in members}
    update = RosterUpdate()
    for m in members:
        if m.manager and m.manager not in known and m.manager not in in_file:
            raise UserError(f"{file_name}: {m.email}'s manager {m.manager} is neither a person nor in this file")
        row = by_email.get(m.email)
        if row is None:
            update.added.append({"email": m.email, "name": m.person.name, "role": m.role.value, "manager": m.manager,
                                 "new_person": m.email not in known})
            continue
        what = []
        if row["role"] != m.role.value:
            what.append(f"role {row['role']} → {m.role.value}")
        if (row["manager_email"] or None) != (m.manager or None):
            what.append(f"manager {row['manager_email'] or 'none'} → {m.manager or 'none'}")
        if what:
            update.changed.append({"email": m.email, "name": row["name"], "role": m.role.value,
                                   "manager": m.manager, "what": what, "membership_id": row["id"]})
        else:
            update.unchanged += 1
    update.removed = sorted((row for row in current if row["email"] not in in_file), key=lambda r: r["name"])
    state = sorted((r["id"], r["role"], r["manager_email"] or "") for r in current)
    # of what was read, not of the bytes: a browser sends the file back with its line breaks as CRLF
    update.digest = hashlib.sha256(repr((members, state)).encode()).hexdigest()[:32]
    return update


async def apply_roster(cohort_id: int, file_name: str, data: bytes, digest: str, *, actor: int,
                       now: datetime) -> RosterUpdate:
    """Apply a previewed roster CSV in one transaction: add, change and remove exactly what the preview
    showed (a 409-worthy UserError when the roster or the file changed since). New people are created with
    the CSV's zone and hours; existing people keep their own profile."""
    check_aware(now)
    members = {m.email: m for m in _read_csv(file_name, data)}
    async with write_transaction():
        update = await preview_roster(cohort_id, file_name, data)
        if update.digest != digest:
            raise UserError("The roster changed since the preview; preview the file again.")
        emails = sorted(set(members) | {m.manager for m in members.values() if m.manager})
        people = {row["email"]: row for row in await Person.select(Person.id, Person.email, Person.role).where(
            Person.email.is_in(emails or [""]))}
        for item in update.added:
            if item["new_person"]:
                m = members[item["email"]]
                start, end, days = hours_text(m.person.hours)
                person = Person(email=m.email, name=m.person.name, role=m.role.value, timezone=m.person.timezone,
                                work_start=start, work_end=end, work_days=days)
                await person.save()
                people[m.email] = {"id": person.id, "email": m.email, "role": m.role.value}
        for item in update.added:
            person = people[item["email"]]
            if ROLE_RANK.get(item["role"], 0) > ROLE_RANK.get(person["role"], 0):
                await Person.update({Person.role: item["role"]}).where(Person.id == person["id"])
            manager = people[item["manager"]]["id"] if item["manager"] else None
            values = {Membership.role: item["role"], Membership.manager: manager, Membership.left_at: None,
                      Membership.left_by: None, Membership.left_reason: "", Membership.section: None,
                      Membership.moved_from: None, Membership.moved_at: None}
            former = await Membership.select(Membership.id).where(
                (Membership.cohort == cohort_id) & (Membership.person == person["id"])).first()
            if former is not None:  # they left once and come back
                await Membership.update(values).where(Membership.id == former["id"])
            else:
                await Membership.insert(Membership(cohort=cohort_id, person=person["id"], role=item["role"],
                                                   manager=manager))
            await roster_changes.record("added", actor=actor, person=person["id"], cohort=cohort_id, now=now,
                                        details=f"added {item['name']} ({item['role']}) from {file_name}")
        for item in update.changed:
            manager = people[item["manager"]]["id"] if item["manager"] else None
            await Membership.update({Membership.role: item["role"], Membership.manager: manager}).where(
                Membership.id == item["membership_id"])
            person = people[item["email"]]
            if ROLE_RANK.get(item["role"], 0) > ROLE_RANK.get(person["role"], 0):
                await Person.update({Person.role: item["role"]}).where(Person.id == person["id"])
            await roster_changes.record("updated", actor=actor, person=person["id"], cohort=cohort_id, now=now,
                                        details=f"{item['name']}: {'; '.join(item['what'])} (from {file_name})")
        for row in update.removed:
            await Membership.update({Membership.left_at: now, Membership.left_by: actor,
                                     Membership.left_reason: f"not in {file_name}"[:200]}).where(
                Membership.id == row["id"])
            await roster_changes.record("removed", actor=actor, person=row["person_id"], cohort=cohort_id, now=now,
                                        details=f"removed {row['name']} ({row['role']}): not in {file_name}")
    return update
