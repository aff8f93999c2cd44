"""Materials a facilitator leaves on a live session (a recording, slides, notes, any link; a short text), and
who may see them: the learners of the session's section, its facilitators and designers.

Only http(s) links are stored (javascript:, data:, file: ... are refused with one readable line); pages open
them in a new tab with rel="noopener noreferrer nofollow". The text is Markdown, shown sanitised.
`materials_for_sessions` is the plain-data view other services use (the "missed session" email).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from models.tables import LiveSession, SessionMaterial
from server.db import fetch, in_list, write_transaction
from server.errors import UserError
from server.services.clock import check_aware
from server.services.rich_text import render_markdown
from server.services.schedule import learner_memberships

KINDS = tuple(kind.value for kind in SessionMaterial.Kind)
KIND_LABELS = {"recording": "Recording", "slides": "Slides", "notes": "Notes", "link": "Link"}
TITLE_LENGTH = 200
URL_LENGTH = 2000
TEXT_LENGTH = 5000
RECENT_DAYS = 30  # how far back the facilitator's page lists ended sessions to leave materials on


@dataclass(frozen=True)
class Material:
    id: int
    session_id: int
    kind: str
    title: str
    url: str
    text: str  # Markdown as written
    html: str  # the text rendered and sanitised
    added_by_name: str
    created_at: datetime


def check_link(url: str) -> str:
    """The URL when it is an absolute http(s) link with a host; otherwise UserError naming the problem."""
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UserError("Link: a web address has no spaces or control characters.")
    if len(url) > URL_LENGTH:
        raise UserError(f"Link: at most {URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UserError("Link: expected a web address such as https://example.org/recording.") from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise UserError(f"Link: only http:// and https:// links are accepted (got {shown}).")
    if not parts.hostname:
        raise UserError("Link: the address needs a host, such as https://example.org/recording.")
    return url


async def add_material(session_id: int, *, kind: str, title: str, url: str, text: str, added_by: int,
                       now: datetime) -> int:
    """Attach one material to the session (which must exist); its id. A material has a link, a text or both;
    without a title it is named after its kind."""
    check_aware(now)
    if kind not in KINDS:
        raise UserError(f"Kind: choose one of {', '.join(KINDS)}.")
    title, text, url = title.strip(), text.strip(), url.strip()
    if len(title) > TITLE_LENGTH:
        raise UserError(f"Title: at most {TITLE_LENGTH} characters.")
    if len(text) > TEXT_LENGTH:
        raise UserError(f"Text: at most {TEXT_LENGTH} characters.")
    if not url and not text:
        raise UserError("Give a link, a short text, or both.")
    if url:
        url = check_link(url)
    async with write_transaction():
        if not await LiveSession.exists().where(LiveSession.id == session_id):
            raise UserError("That session does not exist.")
        row = SessionMaterial(session=session_id, kind=kind, title=title or KIND_LABELS[kind], url=url, text=text,
                              added_by=added_by, created_at=now)
        await row.save()
    return row.id


async def delete_material(session_id: int, material_id: int) -> bool:
    """Remove a material of that session; False when there is none."""
    async with write_transaction():
        where = (SessionMaterial.id == material_id) & (SessionMaterial.session == session_id)
        if not await SessionMaterial.exists().where(where):
            return False
        await SessionMaterial.delete().where(where)
    return True


# A session's materials as columns of a read (`m` the material, `mp` who added it): for a page that reads them
# in the same statement as its sessions (LEFT JOIN: a session without materials gives NULLs).
MATERIAL_COLUMNS = (", m.id AS material_id, m.session AS material_session, m.kind AS material_kind,"
                    " m.title AS material_title, m.url AS material_url, m.text AS material_text,"
                    " m.created_at AS material_created_at, mp.name AS material_added_by")
MATERIAL_JOINS = (" LEFT JOIN session_material m ON m.session = s.id"
                  " LEFT JOIN person mp ON mp.id = m.added_by")
MATERIAL_ORDER = ", m.created_at, m.id"  # oldest first


def material_of(row: dict) -> Material:
    """The material of a row read with MATERIAL_COLUMNS (its `material_id` not null)."""
    text = row["material_text"] or ""
    return Material(
        id=row["material_id"], session_id=row["material_session"], kind=row["material_kind"],
        title=row["material_title"], url=row["material_url"] or "", text=text, html=render_markdown(text),
        added_by_name=row["material_added_by"] or "", created_at=row["material_created_at"],
    )


async def session_materials(session_ids: list[int]) -> dict[int, list[Material]]:
    """Each session's materials, oldest first (one query whatever the number of sessions)."""
    if not session_ids:
        return {}
    ids = sorted(set(session_ids))
    rows = await fetch(
        f"SELECT {MATERIAL_COLUMNS[2:]} FROM session_material m LEFT JOIN person mp ON mp.id = m.added_by"
        f" WHERE m.session IN ({in_list(ids)}) ORDER BY m.created_at, m.id", *ids)
    by_session: dict[int, list[Material]] = defaultdict(list)
    for row in rows:
        by_session[row["material_session"]].append(material_of(row))
    return dict(by_session)


async def materials_for_sessions(session_ids) -> dict[int, list]:
    """{session id: [{"title", "url", "kind", "text"}, ...]} as plain data (for emails and other front doors);
    sessions without materials are left out."""
    found = await session_materials(list(session_ids))
    return {session_id: [{"title": m.title, "url": m.url, "kind": m.kind, "text": m.text} for m in materials]
            for session_id, materials in found.items()}


async def learner_sees_session(person_id: int, session_id: int) -> bool:
    """A learner sees a session (its materials, its feedback form) when it is one of their sections'."""
    row = await LiveSession.select(LiveSession.section, LiveSession.cohort).where(LiveSession.id == session_id).first()
    if row is None:
        return False
    return any(m["cohort"] == row["cohort"] and m["section"] == row["section"]
               for m in await learner_memberships(person_id))
