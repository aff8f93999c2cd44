"""What each kind of message says: `message_context` reads, as things are now, everything the templates need
for a row (server/mail.py renders it), or says why it is no longer worth sending."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.tables import (
    AsyncModule,
    Attendance,
    Cohort,
    LiveSession,
    Membership,
    ModuleCompletion,
    Notification,
    Person,
    SessionPrework,
    SessionUnit,
)
from server.services.feed_tokens import feed_urls_for
from server.services.notifications.kinds import DAILY_DIGEST, KIND, Mode, State
from server.services.notifications.preferences import mode_now, unsubscribe_token
from server.services.notifications.recipients import PERSON_COLUMNS, Recipient, as_recipient
from server.settings import Settings

DIGEST_SPAN = timedelta(days=1)  # a digest carries the items due up to a day after it goes out


async def message_context(row: dict, now: datetime, settings: Settings) -> dict | str:
    """Everything the templates need for this row, read as things are now; or, as a string, why it is no
    longer worth sending."""
    person_row = await Person.select(*PERSON_COLUMNS).where(Person.id == row["person"]).first()
    if person_row is None or not person_row["active"]:
        return "the person is no longer active"
    person = as_recipient(person_row)
    kind = row["kind"]
    context: dict = {
        "kind": kind, "key": row["key"], "now": now, "base_url": settings.base_url,
        "person": {"id": person.id, "name": person.name, "email": person.email, "timezone": person.timezone},
        "preferences_url": settings.base_url + "/preferences", "mail_from": settings.mail_from,
        "notification_id": row["id"],
    }
    if kind in KIND:
        if await mode_now(person.id, kind, row["cohort"]) == Mode.off.value:
            return "turned off by the person"
        token = await unsubscribe_token(person.id, kind, settings.secret_key, now=now)
        context["unsubscribe_url"] = f"{settings.base_url}/unsubscribe/{token}"
        context["kind_label"] = KIND[kind].label
    builder = _BUILDERS[kind]
    built = await builder(row, person, now, settings)
    if isinstance(built, str):
        return built
    context.update(built)
    return context


async def _session(session_id: int) -> dict | None:
    row = await LiveSession.select(
        *LiveSession.all_columns(),
        LiveSession.cohort.name.as_alias("cohort_name"),
        LiveSession.cohort.status.as_alias("cohort_status"),
        LiveSession.cohort.program.name.as_alias("program_name"),
        LiveSession.cohort.program.purpose.as_alias("program_purpose"),
        LiveSession.facilitator.name.as_alias("facilitator_name"),
        LiveSession.facilitator.email.as_alias("facilitator_email"),
    ).where(LiveSession.id == session_id).first()
    if row is None:
        return None
    units = await SessionUnit.select(SessionUnit.unit.title.as_alias("title"), SessionUnit.minutes).where(
        SessionUnit.session == session_id).order_by(SessionUnit.position)
    titles: list[str] = []
    for unit in units:
        if unit["title"] not in titles:
            titles.append(unit["title"])
    row["units"] = titles
    row["title"] = f"{row['program_name']}: {', '.join(titles) or 'live session'}"
    return row


async def _attendees(session: dict) -> list[dict]:
    rows = await Membership.select(Membership.person.id.as_alias("id"), Membership.person.name.as_alias("name"),
                                   Membership.person.email.as_alias("email"),
                                   Membership.manager.as_alias("manager")).where(
        (Membership.section == session["section"]) & (Membership.cohort == session["cohort"])
        & (Membership.role == Membership.Role.learner.value) & Membership.left_at.is_null())
    return sorted(rows, key=lambda r: (r["name"].casefold(), r["email"]))


async def _prework(session_id: int, person_ids: list[int]) -> tuple[list[dict], set[tuple[int, int]]]:
    modules = await SessionPrework.select(
        SessionPrework.module.id.as_alias("id"), SessionPrework.module.title.as_alias("title"),
        SessionPrework.module.due_at.as_alias("due_at"), SessionPrework.module.minutes.as_alias("minutes"),
    ).where(SessionPrework.session == session_id)
    modules.sort(key=lambda m: (m["due_at"], m["id"]))
    done: set[tuple[int, int]] = set()
    if modules and person_ids:
        rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
            ModuleCompletion.module.is_in([m["id"] for m in modules]) & ModuleCompletion.person.is_in(person_ids))
        done = {(r["module"], r["person"]) for r in rows}
    return modules, done


def _session_facts(session: dict) -> dict:
    keys = ("id", "uid", "sequence", "starts_at", "ends_at", "status", "join_url", "title", "units",
            "cohort_name", "program_name", "facilitator_name", "facilitator_email", "updated_at")
    return {k: session[k] for k in keys}


async def _assignment(row, person: Recipient, now, settings) -> dict | str:
    cohort = await Cohort.select(Cohort.id, Cohort.name, Cohort.status, Cohort.program.name.as_alias("program_name"),
                                 Cohort.program.purpose.as_alias("purpose")).where(Cohort.id == row["cohort"]).first()
    if cohort is None or cohort["status"] != Cohort.Status.published.value:
        return "the cohort is no longer published"
    member = await Membership.select(Membership.section).where(
        (Membership.cohort == cohort["id"]) & (Membership.person == person.id) & Membership.left_at.is_null()).first()
    if member is None:
        return "the person is no longer in the cohort"
    first = None
    if member["section"] is not None:
        first = await LiveSession.select(LiveSession.id).where(
            (LiveSession.section == member["section"]) & (LiveSession.status == "scheduled")
            & (LiveSession.starts_at > now)).order_by(LiveSession.starts_at).first()
    first_module = await AsyncModule.select(AsyncModule.title, AsyncModule.due_at).where(
        (AsyncModule.cohort == cohort["id"]) & (AsyncModule.due_at > now)).order_by(AsyncModule.due_at).first()
    urls = await feed_urls_for(person.id, secret_key=settings.secret_key, base_url=settings.base_url, now=now)
    return {
        "cohort": cohort, "purpose": cohort["purpose"] or "",
        "first_session": _session_facts(await _session(first["id"])) if first else None,
        "first_module": first_module, "feed_url": urls.get("https") or urls.get("webcal") or "",
        "schedule_url": settings.base_url + "/learner",
    }


async def _invitation(row, person: Recipient, now, settings) -> dict | str:
    session = await _session(row["session"])
    if session is None or session["cohort_status"] != "published":
        return "the session no longer exists"
    if session["sequence"] != row["sequence"]:
        return "the session changed again: a newer invitation replaces this one"
    organizer = {"name": session["facilitator_name"], "email": session["facilitator_email"]}
    attendees = [] if row["method"] == "CANCEL" else await _attendees(session)
    return {"session": _session_facts(session), "method": row["method"], "organizer": organizer,
            "attendees": attendees, "is_update": session["sequence"] > 0 and row["method"] == "REQUEST",
            "schedule_url": settings.base_url + (
                f"/facilitator/sessions/{session['id']}" if session["facilitator"] == person.id else "/learner")}


async def _live(row, person: Recipient) -> dict | str:
    session = await _session(row["session"])
    if session is None or session["cohort_status"] != "published":
        return "the session no longer exists"
    if session["status"] != "scheduled":
        return "the session was cancelled"
    if session["sequence"] != row["sequence"]:
        return "the session moved: a new reminder replaces this one"
    return session


async def _upcoming(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    if not any(a["id"] == person.id for a in await _attendees(session)):
        return "the person is no longer in this session's section"
    modules, done = await _prework(session["id"], [person.id])
    prework = [{**m, "done": (m["id"], person.id) in done} for m in modules]
    return {"session": _session_facts(session), "prework": prework, "hours": row["occasion"],
            "ready": all(m["done"] for m in prework), "schedule_url": settings.base_url + "/learner"}


async def _facilitator_soon(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    if session["facilitator"] != person.id:
        return "someone else runs this session now"
    learners = await _attendees(session)
    modules, done = await _prework(session["id"], [a["id"] for a in learners])
    ready = [a for a in learners if all((m["id"], a["id"]) in done for m in modules)]
    return {"session": _session_facts(session), "ready_count": len(ready), "learner_count": len(learners),
            "not_ready": [a["name"] for a in learners if a not in ready],
            "roster_url": settings.base_url + f"/facilitator/sessions/{session['id']}"}


async def _escalation(row, person: Recipient, now, settings) -> dict | str:
    session = await _live(row, person)
    if isinstance(session, str):
        return session
    reports = [a for a in await _attendees(session) if a["manager"] == person.id]
    if not reports:
        return "no report of this manager is in the session"
    modules, done = await _prework(session["id"], [a["id"] for a in reports])
    behind = []
    for report in reports:
        missing = [m for m in modules if (m["id"], report["id"]) not in done]
        if missing:
            behind.append({"name": report["name"], "missing": missing})
    if not behind:
        return "every report is ready"
    return {"session": _session_facts(session), "behind": behind,
            "readiness_url": settings.base_url + f"/manager#readiness-{session['id']}"}


async def _prework_module(row, person: Recipient, now, settings) -> dict | str:
    module = await AsyncModule.select(AsyncModule.id, AsyncModule.title, AsyncModule.minutes, AsyncModule.due_at,
                                      AsyncModule.sequence, AsyncModule.cohort.status.as_alias("cohort_status"),
                                      AsyncModule.cohort.program.name.as_alias("program_name")).where(
        AsyncModule.id == row["module"]).first()
    if module is None or module["cohort_status"] != "published":
        return "the module no longer exists"
    if module["sequence"] != row["sequence"]:
        return "the module's due time changed: a new reminder replaces this one"
    if await ModuleCompletion.exists().where((ModuleCompletion.module == module["id"])
                                             & (ModuleCompletion.person == person.id)):
        return "already done"
    if row["kind"] == "prework_overdue" and module["due_at"] > now:
        return "not overdue yet"
    return {"module": module, "schedule_url": settings.base_url + "/learner"}


async def _missed(row, person: Recipient, now, settings, materials: list | None = None) -> dict | str:
    absent = await Attendance.select(Attendance.status).where(
        (Attendance.session == row["session"]) & (Attendance.person == person.id)).first()
    if absent is None or absent["status"] != Attendance.Status.absent.value:
        return "no longer marked absent"
    session = await _session(row["session"])
    if session is None:
        return "the session no longer exists"
    if materials is None:
        from server.services.materials import materials_for_sessions

        materials = (await materials_for_sessions([row["session"]])).get(row["session"], [])
    return missed_context(session, materials, settings)


def missed_context(session: dict, materials: list, settings: Settings) -> dict:
    """What the missed-session email says: what the session covered, and its materials when there are any
    (a list of items with a `title` and, optionally, a `url` or `text`; services/materials.py provides them)."""
    return {"session": _session_facts(session), "materials": list(materials),
            "schedule_url": settings.base_url + "/learner"}


async def _manager_digest(row, person: Recipient, now, settings) -> dict | str:
    from server.services.readiness import manager_readiness

    readiness = await manager_readiness(person.id, now=now)
    week = [item for item in readiness.sessions if item.session.starts_at < now + timedelta(days=7)]
    sessions = [{"title": ", ".join(item.session.units) or "live session", "cohort_name": item.session.cohort_name,
                 "starts_at": item.session.starts_at,
                 "ready": [r.name for r in item.learners if r.ready],
                 "not_ready": [{"name": r.name, "missing": list(r.missing)} for r in item.learners if not r.ready]}
                for item in week if item.learners]
    reports = await Membership.select(Membership.person, Membership.cohort,
                                      Membership.person.name.as_alias("name")).where(
        (Membership.manager == person.id) & (Membership.role == Membership.Role.learner.value)
        & Membership.left_at.is_null())
    overdue = []
    if reports:
        modules = await AsyncModule.select(AsyncModule.id, AsyncModule.cohort, AsyncModule.title,
                                           AsyncModule.due_at).where(
            AsyncModule.cohort.is_in(sorted({r["cohort"] for r in reports})) & (AsyncModule.due_at < now)
            & (AsyncModule.cohort.status == "published"))
        done = set()
        if modules:
            rows = await ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person).where(
                ModuleCompletion.module.is_in([m["id"] for m in modules])
                & ModuleCompletion.person.is_in(sorted({r["person"] for r in reports})))
            done = {(r["module"], r["person"]) for r in rows}
        for report in sorted(reports, key=lambda r: r["name"].casefold()):
            late = [m for m in sorted(modules, key=lambda m: m["due_at"])
                    if m["cohort"] == report["cohort"] and (m["id"], report["person"]) not in done]
            if late:
                overdue.append({"name": report["name"], "modules": late})
    if not sessions and not overdue:
        return "nothing to report this week"
    return {"sessions": sessions, "overdue": overdue, "readiness_url": settings.base_url + "/manager"}


async def _daily_digest(row, person: Recipient, now, settings) -> dict | str:
    items = await Notification.select().where(
        (Notification.person == person.id) & (Notification.state == State.digest)
        & (Notification.due_at <= row["due_at"] + DIGEST_SPAN)).order_by(Notification.due_at).order_by(
        Notification.id)
    entries, ids, gone = [], [], []
    for item in items:
        if item["expires_at"] is not None and item["expires_at"] <= now:
            gone.append(item["id"])
            continue
        built = await _BUILDERS[item["kind"]](item, person, now, settings)
        if isinstance(built, str):
            gone.append(item["id"])
            continue
        ids.append(item["id"])
        entries.append({"kind": item["kind"], "label": KIND[item["kind"]].label, "in_digest": True, **built})
    if gone:
        await Notification.update({Notification.state: State.skipped,
                                   Notification.reason: "no longer relevant by digest time"}).where(
            Notification.id.is_in(gone) & (Notification.state == State.digest))
    if not entries:
        return "nothing left for the digest"
    return {"entries": entries, "item_ids": ids}


_BUILDERS = {
    "assignment": _assignment,
    "invitation": _invitation,
    "upcoming": _upcoming,
    "prework_due": _prework_module,
    "prework_overdue": _prework_module,
    "missed_session": _missed,
    "manager_digest": _manager_digest,
    "manager_escalation": _escalation,
    "facilitator_soon": _facilitator_soon,
    DAILY_DIGEST: _daily_digest,
}
