"""Read the planner's input files (Program TOML, Cohort TOML, roster CSV) into a `Problem`.

Every problem with the input raises `InputError(file, where, what)`: one line naming the file, the field
and what is wrong. The formats are described in docs/file-formats.md.
"""

from __future__ import annotations

import re
from datetime import time

from planner.problem import WEEKDAYS, WorkingHours

DEFAULT_HOURS = "09:00-17:00"
DEFAULT_DAYS = "Mon-Fri"

_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-17:00` -> (09:00, 17:00). Raises ValueError when malformed or overnight."""
    problem = f"expected HH:MM-HH:MM with start before end, got {text!r}"
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(problem)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(problem)
    start, end = time(h1, m1), time(h2, m2)
    if not start < end:
        raise ValueError(problem + " (overnight hours are not supported: split them or shift the zone)")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """`Mon-Fri`, `Sun-Thu` (ranges wrap around the week) or `Mon,Tue,Thu` -> weekday numbers."""
    names = {name.lower(): index for index, name in enumerate(WEEKDAYS)}
    days: set[int] = set()
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise ValueError(f"expected days like 'Mon-Fri' or 'Mon,Tue,Thu', got {text!r}")
    for part in parts:
        ends = [end.strip().lower() for end in part.split("-")]
        if len(ends) > 2 or any(end not in names for end in ends):
            raise ValueError(f"expected days like 'Mon-Fri' or 'Mon,Tue,Thu', got {text!r}")
        first, last = names[ends[0]], names[ends[-1]]
        day = first
        days.add(day)
        while day != last:
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def working_hours(hours: str = DEFAULT_HOURS, days: str = DEFAULT_DAYS) -> WorkingHours:
    start, end = parse_hours(hours)
    return WorkingHours(start=start, end=end, days=parse_days(days))
