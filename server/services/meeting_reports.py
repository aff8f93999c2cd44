"""Reading a video meeting's participants report (Zoom, Microsoft Teams) into per-person attendance time.

Plain parsing, no database: bytes in, `Participant`s out, or one `UserError` line ("report.csv: line 7: ...").
Supported layouts and columns are listed in docs/file-formats.md:

- Zoom "Participants" export (comma-separated, UTF-8, optionally after a meeting block): Name (Original
  Name) or Name, User Email or Email, Join Time, Leave Time, Duration (Minutes) (ignored: time is recomputed
  from the intervals);
- Teams attendance report (UTF-16 with tabs, or UTF-8 with commas or tabs): a summary block, then "2.
  Participants" (Name, First Join, Last Leave, In-Meeting Duration, Email, ...) and, in newer reports, "3.
  In-Meeting Activities" (Name, Join Time, Leave Time, Duration, Email, ...); the older single-table layout
  (Full Name, Join Time, Leave Time, Duration, Email, ...) too. Join/leave rows are used when present,
  otherwise each person's first join and in-meeting duration.

Reports carry local times without a zone: they are read in the zone the facilitator chooses, with zoneinfo on
the actual date, and dates are month-first (US, Zoom's) or day-first as chosen.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from server.errors import UserError

LARGEST_REPORT = 2_000_000  # bytes
NAME_COLUMNS = ("name (original name)", "name", "full name", "participant", "display name")
EMAIL_COLUMNS = ("user email", "email", "participant id (upn)", "upn")
JOIN_COLUMNS = ("join time", "first join", "first join time")
LEAVE_COLUMNS = ("leave time", "last leave", "last leave time")
DURATION_COLUMNS = ("in-meeting duration", "duration", "attendance duration")
DATE_ORDERS = ("month-first", "day-first")
_TIME_FORMATS = ("%I:%M:%S %p", "%I:%M %p", "%H:%M:%S", "%H:%M")
_DATE_FORMATS = {"month-first": ("%m/%d/%Y", "%m/%d/%y"), "day-first": ("%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y")}


@dataclass
class Participant:
    """One person of the report: every name they appeared under, their email if given, and their time."""

    key: str  # email, or the normalised name when there is none
    names: list[str]
    email: str
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)  # aware instants
    minutes_reported: float | None = None  # from a duration column, when there are no join/leave rows
    first_line: int = 0

    @property
    def first_join(self) -> datetime:
        return min(start for start, _ in self.intervals)

    def minutes_in(self, starts_at: datetime, ends_at: datetime) -> float:
        """Minutes inside [starts_at, ends_at], overlapping intervals counted once (two devices, rejoins)."""
        clipped = sorted((max(a, starts_at), min(b, ends_at)) for a, b in self.intervals if b > starts_at
                         and a < ends_at)
        total, current_start, current_end = 0.0, None, None
        for a, b in clipped:
            if current_end is None or a > current_end:
                if current_end is not None:
                    total += (current_end - current_start).total_seconds()
                current_start, current_end = a, b
            else:
                current_end = max(current_end, b)
        if current_end is not None:
            total += (current_end - current_start).total_seconds()
        minutes = total / 60
        if self.minutes_reported is not None:  # first join .. last leave is only an outer bound here
            minutes = min(minutes, self.minutes_reported)
        return minutes


@dataclass(frozen=True)
class Report:
    kind: str  # "Zoom" or "Teams"
    participants: tuple[Participant, ...]


def normalise_name(name: str) -> str:
    """Case, accents and spacing do not count: "  José  Díaz" matches "jose diaz"."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def names_of(cell: str) -> list[str]:
    """Zoom's "Sam (Sam Rivera)": the name shown, and the original one in parentheses."""
    cell = cell.strip()
    match = re.fullmatch(r"(.+?)\s*\((.+)\)", cell)
    names = [match.group(1).strip(), match.group(2).strip()] if match else [cell]
    return [n for n in dict.fromkeys(names) if n]


def decode(data: bytes, filename: str) -> str:
    if not data.strip():
        raise UserError(f"{filename}: the file is empty.")
    if len(data) > LARGEST_REPORT:
        raise UserError(f"{filename}: the file is larger than {LARGEST_REPORT // 1_000_000} MB; is it a participants report?")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif len(data) > 1 and (data[1:2] == b"\x00" or data[0:1] == b"\x00"):
        encoding = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise UserError(f"{filename}: not UTF-8 or UTF-16 text; export the report again as CSV.") from None


def _cells(line: str) -> list[str]:
    delimiter = "\t" if "\t" in line else ","
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]


def _column(headers: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in headers:
            return headers.index(name)
    return None


def _tables(lines: list[str]) -> list[tuple[int, list[str], list[tuple[int, list[str]]]]]:
    """Each table that has a join column: (header line number, lowercased headers, [(line number, cells)])."""
    tables = []
    current = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            current = None
            continue
        cells = _cells(line)
        lowered = [c.casefold() for c in cells]
        if _column(lowered, JOIN_COLUMNS) is not None and _column(lowered, NAME_COLUMNS) is not None:
            current = (number, lowered, [])
            tables.append(current)
        elif current is not None:
            if sum(1 for c in cells if c) <= 1:  # a section heading such as "3. In-Meeting Activities"
                current = None
            else:
                current[2].append((number, cells))
    return tables


def parse_instant(text: str, zone: ZoneInfo, date_order: str) -> datetime | None:
    """A report's local date and time in `zone` (zoneinfo on that date), or None when it is not one."""
    text = " ".join(text.replace(",", " ").split())
    if not text:
        return None
    formats = [f"{d} {t}" for d in ("%Y-%m-%d", *_DATE_FORMATS[date_order]) for t in _TIME_FORMATS]
    for fmt in formats:
        try:
            local = datetime.strptime(text, fmt)  # noqa: DTZ007 (made aware on the next line)
        except ValueError:
            continue
        return local.replace(tzinfo=zone)
    return None


def parse_duration(text: str) -> float | None:
    """Teams' "1h 4m 8s", "52m", "45s", or a plain number of minutes (Zoom); None when it is neither."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+)\s*([hms])", text)
    if not parts or re.sub(r"[\dhms\s]", "", text):
        return None
    scale = {"h": 60, "m": 1, "s": 1 / 60}
    return sum(int(n) * scale[u] for n, u in parts)


def parse_report(data: bytes, *, filename: str, timezone: str, date_order: str = "month-first") -> Report:
    if date_order not in DATE_ORDERS:
        raise UserError(f"Date order: choose one of {', '.join(DATE_ORDERS)}.")
    zone = ZoneInfo(timezone)
    lines = decode(data, filename).splitlines()
    tables = _tables(lines)
    if not tables:
        raise UserError(f"{filename}: not a Zoom or Teams participants report: no header row with a name and "
                        "'Join Time' (or 'First Join') column.")
    intervals = [t for t in tables if _column(t[1], LEAVE_COLUMNS) is not None and "join time" in t[1]]
    table = intervals[-1] if intervals else tables[0]
    header_line, headers, rows = table
    kind = "Zoom" if "name (original name)" in headers or "user email" in headers else "Teams"
    name_col, email_col = _column(headers, NAME_COLUMNS), _column(headers, EMAIL_COLUMNS)
    join_col, leave_col = _column(headers, JOIN_COLUMNS), _column(headers, LEAVE_COLUMNS)
    duration_col = None if intervals else _column(headers, DURATION_COLUMNS)
    if leave_col is None and duration_col is None:
        raise UserError(f"{filename}: line {header_line}: the report has no 'Leave Time' or duration column.")
    people: dict[str, Participant] = {}
    example = "03/12/2027 07:59:02 AM" if date_order == "month-first" else "12/03/2027 07:59:02"
    for number, cells in rows:
        cells = cells + [""] * (len(headers) - len(cells))
        name = cells[name_col]
        if not name:
            raise UserError(f"{filename}: line {number}: the name is empty.")
        joined = parse_instant(cells[join_col], zone, date_order)
        if joined is None:
            raise UserError(f"{filename}: line {number}: {cells[join_col]!r} is not a date and time such as "
                            f"{example} (dates {date_order}).")
        left = parse_instant(cells[leave_col], zone, date_order) if leave_col is not None else None
        if leave_col is not None and left is None:
            raise UserError(f"{filename}: line {number}: {cells[leave_col]!r} is not a date and time such as "
                            f"{example} (dates {date_order}).")
        reported = None
        if duration_col is not None:
            reported = parse_duration(cells[duration_col])
            if reported is None:
                raise UserError(f"{filename}: line {number}: {cells[duration_col]!r} is not a duration such as "
                                "1h 4m 8s.")
        if left is None:
            left = joined + timedelta(minutes=reported or 0)
        if left < joined:
            raise UserError(f"{filename}: line {number}: {name} leaves before joining.")
        email = cells[email_col].strip().lower() if email_col is not None else ""
        email = email if "@" in email else ""
        key = email or normalise_name(names_of(name)[-1])
        person = people.get(key)
        if person is None:
            person = people[key] = Participant(key=key, names=[], email=email, first_line=number)
        for n in names_of(name):
            if n not in person.names:
                person.names.append(n)
        person.intervals.append((joined, left))
        if reported is not None:
            person.minutes_reported = (person.minutes_reported or 0) + reported
    if not people:
        raise UserError(f"{filename}: the report lists no participants.")
    return Report(kind=kind, participants=tuple(people.values()))
