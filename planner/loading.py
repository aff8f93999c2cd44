"""Read the planner's input files (Program TOML, Cohort TOML, roster CSV) into a `Problem`.

Every problem with the input raises `InputError(file, where, what)`: one line naming the file, the field
and what is wrong, e.g. `cohort-apac.toml: member[3].timezone: unknown time zone 'Asia/Mumbia'`. Positions
in arrays of tables count from 1, as a designer counts. The formats are described in docs/file-formats.md.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import available_timezones

from planner.errors import InputError
from planner.problem import WEEKDAYS, Cohort, Member, Mode, Person, Problem, Program, Role, Unit, WorkingHours
from planner.slots import slug

DEFAULT_HOURS = "09:00-17:00"
DEFAULT_DAYS = "Mon-Fri"

PROGRAM_KEYS = ("name", "id", "live_minutes", "module_max_minutes", "weekly_async_minutes",
                "live_sessions_per_week", "prework_lead_hours", "support", "purpose", "unit")
UNIT_KEYS = ("id", "title", "minutes", "mode", "requires")
COHORT_KEYS = ("name", "start", "weeks", "timezone", "max_sections", "min_section_size", "blackout", "roster",
               "member")
MEMBER_KEYS = ("email", "name", "role", "timezone", "hours", "days", "manager")
ROSTER_COLUMNS = MEMBER_KEYS
ROSTER_REQUIRED = ("email", "name", "timezone")

# (low, high) for the program's numbers; the defaults are Program's.
PROGRAM_NUMBERS = {
    "live_minutes": (1, 600),
    "module_max_minutes": (1, 600),
    "weekly_async_minutes": (1, 7 * 24 * 60),
    "live_sessions_per_week": (1, 35),
    "prework_lead_hours": (0, 14 * 24),
}
PURPOSE_LENGTH = 1000  # characters: a sentence or two for the assignment email
UNIT_MINUTES = (1, 600)
WEEKS = (1, 52)
MAX_UNITS = 200  # a program is a few dozen units; the cap keeps a pathological upload from reaching the database

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_TOML_POSITION = re.compile(r"^(?P<what>.*?) \(at (?P<where>line \d+, column \d+|end of document)\)$")

K = TypeVar("K")  # a unit id: a file's string, or a database row's integer
RosterSource = Callable[[str], tuple[str, bytes]]  # roster name from the cohort file -> (file name, bytes)


# --- entry points ------------------------------------------------------------------------------------------

def load_problem(program_path: Path, cohort_paths: list[Path]) -> Problem:
    """Read a program file and cohort files (rosters next to their cohort file) into one planning run."""
    program = parse_program(program_path.name, _read_file(program_path))
    cohorts = []
    for path in cohort_paths:
        cohorts.append(parse_cohort(path.name, _read_file(path), _rosters_beside(path)))
    return assemble_problem(program, cohorts)


def load_problem_from_texts(
    program: tuple[str, bytes], cohorts: list[tuple[str, bytes]], files: dict[str, bytes]
) -> Problem:
    """The same from uploaded files: `(file name, bytes)` pairs; rosters are looked up by name in `files`."""
    parsed_program = parse_program(*program)
    parsed = [parse_cohort(name, data, _rosters_in(name, files)) for name, data in cohorts]
    return assemble_problem(parsed_program, parsed)


# --- program -----------------------------------------------------------------------------------------------

def parse_program(file: str, data: bytes) -> Program:
    doc = _parse_toml(file, data)
    _check_keys(file, "", doc, PROGRAM_KEYS, required=("name", "unit"))
    name = _text(file, "name", doc["name"])
    program_id = _unit_id(file, "id", doc["id"]) if "id" in doc else _program_id(file, name)
    numbers = {key: _integer(file, key, doc[key], *PROGRAM_NUMBERS[key]) for key in PROGRAM_NUMBERS if key in doc}
    tables = _tables(file, "unit", doc["unit"], minimum=1)
    if len(tables) > MAX_UNITS:
        raise InputError(file, "unit", f"at most {MAX_UNITS} [[unit]] tables, got {len(tables)}")
    units = _parse_units(file, tables)
    if "support" in doc:
        support = _text(file, "support", doc["support"])
        problem = support_problem(support)
        if problem:
            raise InputError(file, "support", problem)
        numbers["support"] = support
    purpose = _purpose(file, doc["purpose"]) if "purpose" in doc else ""
    return Program(name=name, id=program_id, units=units, purpose=purpose, **numbers)


def _purpose(file: str, value: object) -> str:
    if not isinstance(value, str):
        raise InputError(file, "purpose", f"expected a string, got {_show(value)}")
    value = value.strip()
    if len(value) > PURPOSE_LENGTH:
        raise InputError(file, "purpose", f"at most {PURPOSE_LENGTH} characters, got {len(value)}")
    return value


SUPPORT_LENGTH = 500


def support_problem(value: str) -> str | None:
    """What is wrong with a support contact (an email address or an http(s) URL), or None when it is fine.
    The one rule for the program file and the program settings form."""
    if len(value) > SUPPORT_LENGTH:
        return f"at most {SUPPORT_LENGTH} characters"
    if _EMAIL.match(value):
        return None
    lowered = value.lower()
    if lowered.startswith(("http://", "https://")) and not any(ch.isspace() for ch in value):
        host = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if host and "@" not in host:
            return None
    return f"expected an email address or an http(s) URL, got {_show(value)}"


def _parse_units(file: str, tables: list[dict]) -> tuple[Unit, ...]:
    units: list[Unit] = []
    first_seen: dict[str, int] = {}
    for position, table in enumerate(tables, start=1):
        at = f"unit[{position}]"
        _check_keys(file, at, table, UNIT_KEYS, required=("id", "title", "minutes"))
        unit_id = _unit_id(file, f"{at}.id", table["id"])
        if unit_id in first_seen:
            raise InputError(file, f"{at}.id", f"duplicate unit id {unit_id!r} (also unit[{first_seen[unit_id]}])")
        first_seen[unit_id] = position
        mode = _choice(file, f"{at}.mode", table.get("mode", Mode.EITHER.value), [m.value for m in Mode])
        requires = _string_list(file, f"{at}.requires", table.get("requires", []))
        for index, required in enumerate(requires):
            if requires.index(required) != index:
                raise InputError(file, f"{at}.requires", f"{required!r} is listed twice")
        units.append(Unit(
            id=unit_id,
            title=_text(file, f"{at}.title", table["title"]),
            minutes=_integer(file, f"{at}.minutes", table["minutes"], *UNIT_MINUTES),
            mode=Mode(mode),
            requires=tuple(requires),
        ))
    for position, unit in enumerate(units, start=1):
        for required in unit.requires:
            if required not in first_seen:
                raise InputError(file, f"unit[{position}].requires", f"unknown unit {required!r}{_hint(required, first_seen)}")
    cycle = find_cycle({unit.id: unit.requires for unit in units})
    if cycle:
        position = first_seen[cycle[0]]
        raise InputError(file, f"unit[{position}].requires", "cyclic prerequisites: " + " -> ".join(cycle))
    return tuple(units)


def find_cycle(requires: Mapping[K, Iterable[K]]) -> list[K] | None:
    """The first prerequisite cycle found, walking `requires` (unit -> the units it needs) in its order, as
    `[a, b, a]`; None when acyclic. Also used by the program form, on unit ids of the database."""
    done: set[K] = set()

    def visit(unit_id: K, path: list[K]) -> list[K] | None:
        if unit_id in path:
            return path[path.index(unit_id):] + [unit_id]
        if unit_id in done:
            return None
        for required in requires.get(unit_id, ()):
            cycle = visit(required, path + [unit_id])
            if cycle:
                return cycle
        done.add(unit_id)
        return None

    for unit_id in requires:
        cycle = visit(unit_id, [])
        if cycle:
            return cycle
    return None


def _program_id(file: str, name: str) -> str:
    """The program id made from its name when the file gives none: the planner's one slug rule."""
    if not any(char.isascii() and char.isalnum() for char in name):
        raise InputError(file, "id", f"cannot make an id from the name {name!r}: give an id")
    return slug(name)


# --- cohort ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Place:
    """Where a member was described, to name it in messages."""

    file: str
    where: str  # "member[3]" or "line 5"
    in_csv: bool = False

    def at(self, field: str) -> str:
        return f"{self.where}, column {field}" if self.in_csv else f"{self.where}.{field}"

    def __str__(self) -> str:
        return f"{self.file} {self.where}"


@dataclass(frozen=True)
class ParsedCohort:
    file: str
    cohort: Cohort
    places: dict[str, _Place]  # email -> where the member was described


def parse_cohort(file: str, data: bytes, rosters: RosterSource) -> ParsedCohort:
    doc = _parse_toml(file, data)
    _check_keys(file, "", doc, COHORT_KEYS, required=("name", "start", "weeks"))
    name = _text(file, "name", doc["name"])
    start = _date(file, "start", doc["start"])
    weeks = _integer(file, "weeks", doc["weeks"], *WEEKS)
    home = _zone(file, "timezone", doc.get("timezone", "UTC"))
    max_sections = _integer(file, "max_sections", doc.get("max_sections", 1), 1, 100)
    min_section_size = _integer(file, "min_section_size", doc.get("min_section_size", 1), 1, 10_000)
    blackout_list = doc.get("blackout", [])
    if not isinstance(blackout_list, list):
        raise InputError(file, "blackout", f"expected a list of dates like [2027-03-26], got {_show(blackout_list)}")
    end = start + timedelta(days=7 * weeks)
    # Dates outside the program window cannot matter; they are dropped rather than refused.
    blackout = sorted({d for i, v in enumerate(blackout_list, 1) if start <= (d := _date(file, f"blackout[{i}]", v)) < end})

    members: list[Member] = []
    places: dict[str, _Place] = {}
    tables = _tables(file, "member", doc["member"], minimum=0) if "member" in doc else []
    for position, table in enumerate(tables, start=1):
        _add_member(members, places, _member_from_table(file, position, table))
    if "roster" in doc:
        roster_name = _text(file, "roster", doc["roster"])
        roster_file, roster_data = rosters(roster_name)
        for row in _roster_rows(roster_file, roster_data):
            _add_member(members, places, row)

    _check_managers(members, places)
    if not any(m.role is Role.LEARNER for m in members):
        raise InputError(file, "member", f"cohort {name!r} has no learners")
    if not any(m.role is Role.FACILITATOR for m in members):
        raise InputError(file, "member", f"cohort {name!r} has no facilitator")
    cohort = Cohort(
        name=name, start=start, weeks=weeks, members=tuple(members), timezone=home,
        max_sections=max_sections, min_section_size=min_section_size, blackout=tuple(blackout),
    )
    return ParsedCohort(file=file, cohort=cohort, places=places)


def _add_member(members: list[Member], places: dict[str, _Place], described: tuple[Member, _Place]) -> None:
    member, place = described
    if member.email in places:
        raise InputError(place.file, place.at("email"), f"duplicate email {member.email!r} (also {places[member.email]})")
    places[member.email] = place
    members.append(member)


def _member_from_table(file: str, position: int, table: object) -> tuple[Member, _Place]:
    place = _Place(file, f"member[{position}]")
    _check_keys(file, place.where, table, MEMBER_KEYS, required=("email", "name", "timezone"))
    values = {key: table[key] for key in MEMBER_KEYS if key in table}
    for key, value in values.items():
        if not isinstance(value, str):
            raise InputError(file, place.at(key), f"expected a string, got {_show(value)}")
    return _member(place, values), place


def _roster_rows(file: str, data: bytes) -> list[tuple[Member, _Place]]:
    text = _decode(file, data, allow_bom=True)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InputError(file, "line 1", f"missing header: expected {','.join(ROSTER_COLUMNS)}")
        columns = [cell.strip().lower() for cell in header]
        for column in columns:
            if column not in ROSTER_COLUMNS:
                raise InputError(file, "line 1", f"unknown column {column!r}{_hint(column, ROSTER_COLUMNS)}; "
                                 f"expected {','.join(ROSTER_COLUMNS)}")
            if columns.count(column) > 1:
                raise InputError(file, "line 1", f"column {column!r} appears twice")
        for column in ROSTER_REQUIRED:
            if column not in columns:
                raise InputError(file, "line 1", f"missing column {column!r}; expected {','.join(ROSTER_COLUMNS)}")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, as spreadsheets leave them
            place = _Place(file, f"line {reader.line_num}", in_csv=True)
            if len(cells) != len(columns):
                raise InputError(file, place.where, f"expected {len(columns)} fields, got {len(cells)}")
            values = {column: cell.strip() for column, cell in zip(columns, cells, strict=True) if cell.strip()}
            for column in ROSTER_REQUIRED:
                if column not in values:
                    raise InputError(file, place.at(column), "required, but the cell is empty")
            rows.append((_member(place, values), place))
    except csv.Error as error:
        raise InputError(file, f"line {reader.line_num}", f"unreadable CSV: {error}") from None
    return rows


def _member(place: _Place, values: dict[str, str]) -> Member:
    file = place.file
    email = _email(file, place.at("email"), values["email"])
    name = _text(file, place.at("name"), values["name"])
    role = Role(_choice(file, place.at("role"), values.get("role", Role.LEARNER.value).lower(), [r.value for r in Role]))
    zone_name = _zone(file, place.at("timezone"), values["timezone"])
    try:
        start, end = parse_hours(values.get("hours", DEFAULT_HOURS))
    except ValueError as error:
        raise InputError(file, place.at("hours"), str(error)) from None
    try:
        days = parse_days(values.get("days", DEFAULT_DAYS))
    except ValueError as error:
        raise InputError(file, place.at("days"), str(error)) from None
    manager = values.get("manager")
    if manager is not None:
        if role is not Role.LEARNER:
            raise InputError(file, place.at("manager"), f"only learners have a manager, and this member is a {role.value}")
        manager = _email(file, place.at("manager"), manager)
    person = Person(email=email, name=name, timezone=zone_name, hours=WorkingHours(start=start, end=end, days=days))
    return Member(person=person, role=role, manager=manager)


def _check_managers(members: list[Member], places: dict[str, _Place]) -> None:
    managers = {m.email for m in members if m.role is Role.MANAGER}
    for member in members:
        if member.manager is not None and member.manager not in managers:
            place = places[member.email]
            raise InputError(place.file, place.at("manager"),
                             f"{member.manager!r} is not a manager member of this cohort")


# --- the run -----------------------------------------------------------------------------------------------

def assemble_problem(program: Program, cohorts: list[ParsedCohort]) -> Problem:
    """Cross-file checks: cohort names unique in the run; a shared facilitator described one way."""
    if not cohorts:
        raise InputError("(command line)", "", "no cohort file given")
    names: dict[str, str] = {}
    facilitators: dict[str, tuple[Person, str]] = {}
    for parsed in cohorts:
        cohort = parsed.cohort
        if cohort.name in names:
            raise InputError(parsed.file, "name", f"cohort name {cohort.name!r} is already used by {names[cohort.name]}")
        names[cohort.name] = parsed.file
        for member in cohort.facilitators:
            place = parsed.places[member.email]
            if member.email not in facilitators:
                facilitators[member.email] = (member.person, str(place))
                continue
            first, first_place = facilitators[member.email]
            difference = _difference(first, member.person)
            if difference:
                field, before, after = difference
                raise InputError(place.file, place.at(field),
                                 f"facilitator {member.email!r} is described two ways: {field} {before} in "
                                 f"{first_place} but {after} here")
    return Problem(program=program, cohorts=tuple(parsed.cohort for parsed in cohorts))


def _difference(a: Person, b: Person) -> tuple[str, str, str] | None:
    if a.name != b.name:
        return "name", repr(a.name), repr(b.name)
    if a.timezone != b.timezone:
        return "timezone", repr(a.timezone), repr(b.timezone)
    if (a.hours.start, a.hours.end) != (b.hours.start, b.hours.end):
        return "hours", repr(_hours_text(a.hours)), repr(_hours_text(b.hours))
    if a.hours.days != b.hours.days:
        return "days", repr(days_text(a.hours.days)), repr(days_text(b.hours.days))
    return None


def _hours_text(hours: WorkingHours) -> str:
    return f"{hours.start:%H:%M}-{hours.end:%H:%M}"


def days_text(days: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[d] for d in sorted(days))


# --- files -------------------------------------------------------------------------------------------------

def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "", "no such file") from None
    except OSError as error:
        raise InputError(str(path), "", f"cannot read: {error.strerror or error}") from None


def _rosters_beside(cohort_path: Path) -> RosterSource:
    def fetch(name: str) -> tuple[str, bytes]:
        path = cohort_path.parent / name
        try:
            return path.name, path.read_bytes()
        except OSError:
            raise InputError(cohort_path.name, "roster", f"roster file {name!r} not found next to this file") from None

    return fetch


def _rosters_in(cohort_file: str, files: dict[str, bytes]) -> RosterSource:
    def fetch(name: str) -> tuple[str, bytes]:
        for candidate in (name, Path(name).name):
            if candidate in files:
                return candidate, files[candidate]
        raise InputError(cohort_file, "roster", f"roster file {name!r} was not uploaded with this cohort")

    return fetch


def _decode(file: str, data: bytes, allow_bom: bool = False) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(file, f"line {line}",
                         f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        if not allow_bom:
            raise InputError(file, "line 1", "starts with a byte-order mark; save the file as UTF-8 without BOM")
        text = text[1:]
    return text


def _parse_toml(file: str, data: bytes) -> dict:
    text = _decode(file, data)
    try:
        return tomllib.loads(text)
    except RecursionError:
        # tomllib recurses once per level of nested arrays or inline tables
        raise InputError(file, "", "invalid TOML: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.match(message)
        if match:
            raise InputError(file, match["where"], f"invalid TOML: {match['what']}") from None
        raise InputError(file, "", f"invalid TOML: {message}") from None
    except ValueError:
        # tomllib lets int()'s digit limit (sys.get_int_max_str_digits) through as a plain ValueError
        raise InputError(file, "", "invalid TOML: a number has too many digits") from None


# --- field checks ------------------------------------------------------------------------------------------

def _at(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check_keys(file: str, prefix: str, table: object, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    if not isinstance(table, dict):
        raise InputError(file, prefix, f"expected a table, got {_show(table)}")
    for key in table:
        if key not in allowed:
            raise InputError(file, _at(prefix, key), f"unknown key{_hint(key, allowed)}")
    for key in required:
        if key not in table:
            raise InputError(file, _at(prefix, key), "required key is missing")


def _hint(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: object) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table", date: "a date", datetime: "a date-time", time: "a time"}.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    if isinstance(value, date | time):
        return f"{kind} {value.isoformat()}"
    shown = repr(value) if not isinstance(value, int) or len(str(abs(value))) <= 20 else "too large to show"
    return f"{kind} {shown[:60] + '...' if len(shown) > 60 else shown}"


def _text(file: str, where: str, value: object) -> str:
    if not isinstance(value, str):
        raise InputError(file, where, f"expected a string, got {_show(value)}")
    value = value.strip()
    if not value:
        raise InputError(file, where, "must not be empty")
    return value


def _integer(file: str, where: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(file, where, f"expected a whole number, got {_show(value)}")
    if not low <= value <= high:
        shown = value if len(str(abs(value))) <= 20 else "a number too large"
        raise InputError(file, where, f"must be between {low} and {high}, got {shown}")
    return value


def _choice(file: str, where: str, value: object, choices: list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(file, where, f"expected one of {' | '.join(choices)}, got {_show(value)}")
    return value


def _string_list(file: str, where: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(file, where, f"expected a list of strings, got {_show(value)}")
    return list(value)


def _tables(file: str, where: str, value: object, minimum: int) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InputError(file, where, f"expected [[{where}]] tables, got {_show(value)}")
    if len(value) < minimum:
        raise InputError(file, where, f"expected at least {minimum} [[{where}]] table")
    return value


def _unit_id(file: str, where: str, value: object) -> str:
    if not isinstance(value, str) or not _UNIT_ID.match(value):
        raise InputError(file, where, f"expected lowercase letters, digits and '-', got {_show(value)}")
    return value


def _date(file: str, where: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(file, where, f"expected a date like 2027-03-01, got {_show(value)}")


def _email(file: str, where: str, value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(file, where, f"expected an email address, got {value!r}")
    return email


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every IANA zone name this machine knows (read from disk once: available_timezones walks the tzdata)."""
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """The same, sorted, for pickers."""
    return tuple(sorted(known_zones()))


def _zone(file: str, where: str, value: object) -> str:
    if not isinstance(value, str):
        raise InputError(file, where, f"expected an IANA time zone like 'Europe/London', got {_show(value)}")
    name = value.strip()
    if name not in known_zones():
        raise InputError(file, where, f"unknown time zone {name!r}")
    return name


# --- hours and days ----------------------------------------------------------------------------------------

def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-17:00` (or `9:00 - 17:00`) -> (09:00, 17:00). Raises ValueError when malformed or overnight."""
    problem = f"expected HH:MM-HH:MM with start before end, got {text!r}"
    match = _HOURS.match(text.strip())
    if not match:
        raise ValueError(problem)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(problem)
    start, end = time(h1, m1), time(h2, m2)
    if not start < end:
        raise ValueError(problem + " (overnight hours are not supported)")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """`Mon-Fri`, `Sun-Thu` (ranges wrap around the week) or `Mon,Tue,Thu` -> weekday numbers."""
    names = {name.lower(): index for index, name in enumerate(WEEKDAYS)}
    problem = f"expected days like 'Mon-Fri', 'Sun-Thu' or 'Mon,Tue,Thu', got {text!r}"
    parts = [part.strip() for part in text.split(",")]
    if any(not part for part in parts):
        raise ValueError(problem)
    days: set[int] = set()
    for part in parts:
        ends = [end.strip().lower() for end in part.split("-")]
        if len(ends) > 2 or any(end not in names for end in ends):
            raise ValueError(problem)
        day, last = names[ends[0]], names[ends[-1]]
        days.add(day)
        while day != last:
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def working_hours(hours: str = DEFAULT_HOURS, days: str = DEFAULT_DAYS) -> WorkingHours:
    start, end = parse_hours(hours)
    return WorkingHours(start=start, end=end, days=parse_days(days))
