"""The one rule that names a live session for people: by the titles of the units it covers, in teaching order
("Kickoff", "Difficult calls · Case review"). Ids (`support-apac-march-2027/a-s01`) are for details only.

Pages that hold unit titles already (the learner, facilitator and manager rows) use `session_label`; pages
that hold a plan (unit ids in its portions) look the titles up once per program with `unit_titles`.
"""

from __future__ import annotations

from collections.abc import Iterable

from server.db import fetch

SEPARATOR = " · "
MOST_TITLES = 3  # more than this and the label says how many more, so a block on a week grid stays short
UNNAMED = "Live session"


def session_label(titles: Iterable[str]) -> str:
    """Unit titles in teaching order, each once, joined by " · "; after three, "+ N more"."""
    seen: list[str] = []
    for title in titles:
        title = (title or "").strip()
        if title and title not in seen:
            seen.append(title)
    if not seen:
        return UNNAMED
    if len(seen) > MOST_TITLES:
        return SEPARATOR.join(seen[:MOST_TITLES]) + f" + {len(seen) - MOST_TITLES} more"
    return SEPARATOR.join(seen)


def plan_session_label(unit_ids: Iterable[str], titles: dict[str, str]) -> str:
    """A planned session (its portions' unit ids) by its units' titles; an id without a title stays an id."""
    return session_label(titles.get(unit, unit) for unit in unit_ids)


def section_label(section_id: str) -> str:
    """The section's letter ("support-apac-march-2027/a" -> "A"), the way the pages name a section."""
    return section_id.rsplit("/", 1)[-1].upper()


async def unit_titles(program_id: int) -> dict[str, str]:
    """Unit id (slug) -> title for one program (one query)."""
    rows = await fetch("SELECT slug, title FROM unit WHERE program = {}", program_id)
    return {row["slug"]: row["title"] for row in rows}
