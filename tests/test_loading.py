"""planner.loading: the shipped examples load with the documented defaults, and every kind of bad input
gives one line naming the file, the field and what is wrong."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from planner.errors import InputError
from planner.loading import (
    find_cycle,
    load_problem,
    load_problem_from_texts,
    parse_days,
    parse_hours,
    parse_program,
)
from planner.problem import Mode, Role
from planner.slots import slug

PROGRAM = """\
name = "Tiny Program"

[[unit]]
id = "welcome"
title = "Welcome"
minutes = 10
mode = "async"

[[unit]]
id = "kickoff"
title = "Kickoff"
minutes = 60
requires = ["welcome"]
"""

COHORT = """\
name = "Tiny Cohort"
start = 2027-03-01
weeks = 2

[[member]]
email = "fac@example.com"
name = "Fay Cole"
role = "facilitator"
timezone = "Europe/London"

[[member]]
email = "boss@example.com"
name = "Bo Ss"
role = "manager"
timezone = "UTC"

[[member]]
email = "lea@example.com"
name = "Lea Rner"
timezone = "America/New_York"
manager = "boss@example.com"
"""

ROSTER = """\
email,name,role,timezone,hours,days,manager
ray@example.com,Ray Ster,learner,Asia/Kolkata,09:30-18:30,Mon-Fri,boss@example.com
sun@example.com,Sun Day,,Asia/Riyadh,,Sun-Thu,
"""


def load(tmp_path: Path, program: str | bytes = PROGRAM, cohorts: dict[str, str | bytes] | None = None,
         files: dict[str, str | bytes] | None = None):
    cohorts = {"cohort.toml": COHORT} if cohorts is None else cohorts
    for name, text in {"program.toml": program, **cohorts, **(files or {})}.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_problem(tmp_path / "program.toml", [tmp_path / name for name in cohorts])


def error(tmp_path: Path, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        load(tmp_path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the shipped examples ----------------------------------------------------------------------------------

def test_the_shipped_examples_load_with_their_defaults(examples):
    problem = load_problem(examples / "program.toml", [examples / "cohort-apac.toml", examples / "cohort-atlantic.toml"])
    program = problem.program
    assert (program.id, program.live_minutes, program.module_max_minutes) == ("support-onboarding", 60, 15)
    assert (program.weekly_async_minutes, program.live_sessions_per_week, program.prework_lead_hours) == (120, 2, 24)
    assert [u.id for u in program.units][:3] == ["welcome", "product-tour", "ticketing-basics"]
    assert program.unit("tone-and-empathy").mode is Mode.EITHER
    assert program.unit("case-review").requires == ("difficult-calls", "escalations", "data-privacy")

    apac, atlantic = problem.cohorts
    assert [c.name for c in problem.cohorts] == ["Support APAC - March 2027", "Support Atlantic - March 2027"]
    assert sum(len(c.learners) for c in problem.cohorts) == 15
    assert (apac.timezone, apac.max_sections, apac.min_section_size, apac.blackout) == ("Asia/Singapore", 2, 3, ())
    assert (atlantic.timezone, atlantic.max_sections, atlantic.min_section_size) == ("Europe/London", 1, 1)
    assert atlantic.blackout == (date(2027, 3, 26),)
    assert [m.email for m in apac.facilitators] == ["wei.tan@example.com", "hana.sato@example.com"]
    by_email = {m.email: m for c in problem.cohorts for m in c.members}
    omar = by_email["omar.said@example.com"]
    assert omar.person.hours.days == frozenset({6, 0, 1, 2, 3})
    assert omar.manager == "grace.lim@example.com"
    grace = by_email["grace.lim@example.com"]
    assert grace.role is Role.MANAGER
    assert (grace.person.hours.start, grace.person.hours.end) == (time(9), time(17))
    assert by_email["ines.costa@example.com"].person.name == "Inês Costa"
    assert by_email["priya.nair@example.com"].person.hours.start == time(7)


def test_the_same_files_give_the_same_problem(examples):
    paths = (examples / "program.toml", [examples / "cohort-apac.toml", examples / "cohort-atlantic.toml"])
    assert load_problem(*paths) == load_problem(*paths)


def test_members_keep_file_order_then_roster_order(tmp_path):
    cohort = COHORT.replace('weeks = 2', 'weeks = 2\nroster = "roster.csv"')
    problem = load(tmp_path, cohorts={"cohort.toml": cohort}, files={"roster.csv": ROSTER})
    members = problem.cohorts[0].members
    assert [m.email for m in members] == [
        "fac@example.com", "boss@example.com", "lea@example.com", "ray@example.com", "sun@example.com"]
    sun = members[-1]
    assert (sun.role, sun.manager, sun.person.hours.start) == (Role.LEARNER, None, time(9))
    assert sun.person.hours.days == frozenset({6, 0, 1, 2, 3})


def test_defaults_of_a_minimal_program_and_cohort(tmp_path):
    problem = load(tmp_path)
    program, cohort = problem.program, problem.cohorts[0]
    assert program.id == "tiny-program"
    assert program.unit("kickoff").mode is Mode.EITHER
    assert (cohort.timezone, cohort.max_sections, cohort.min_section_size, cohort.blackout) == ("UTC", 1, 1, ())
    lea = cohort.members[2]
    assert (lea.role, lea.person.hours.start, lea.person.hours.end) == (Role.LEARNER, time(9), time(17))
    assert lea.person.hours.days == frozenset({0, 1, 2, 3, 4})


def test_ids_made_from_names_follow_the_planners_one_slug_rule():
    """One slug rule (planner.slots.slug) for program ids made from names, the program form's unit ids and
    the planner's cohort keys: runs of anything but a-z and 0-9 become one dash — accented letters too."""
    assert slug("Tiny Program") == "tiny-program"
    assert slug("  Café Onboarding — Week 1! ") == "caf-onboarding-week-1"
    assert slug("???") == "cohort"
    named = PROGRAM.replace('name = "Tiny Program"', 'name = "Café Onboarding"')
    assert parse_program("program.toml", named.encode()).id == "caf-onboarding"
    nameless = PROGRAM.replace('name = "Tiny Program"', 'name = "¿?"')
    with pytest.raises(InputError, match=r"^program.toml: id: cannot make an id from the name '¿\?': give an id$"):
        parse_program("program.toml", nameless.encode())


def test_the_one_cycle_finder_walks_in_order_on_any_ids():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({1: [], 2: [3], 3: [2]}) == [2, 3, 2]
    assert find_cycle({1: [2], 2: []}) is None


def test_blackout_dates_outside_the_program_are_ignored(tmp_path):
    cohort = COHORT.replace("weeks = 2", "weeks = 2\nblackout = [2027-02-01, 2027-03-05, 2030-01-01]")
    assert load(tmp_path, cohorts={"cohort.toml": cohort}).cohorts[0].blackout == (date(2027, 3, 5),)


def test_uploaded_files_find_their_roster_by_name():
    cohort = COHORT.replace('weeks = 2', 'weeks = 2\nroster = "roster.csv"').encode()
    problem = load_problem_from_texts(("program.toml", PROGRAM.encode()), [("cohort.toml", cohort)],
                                      {"roster.csv": ROSTER.encode()})
    assert len(problem.cohorts[0].learners) == 3
    with pytest.raises(InputError, match=r"^cohort\.toml: roster: roster file 'roster\.csv' was not uploaded"):
        load_problem_from_texts(("program.toml", PROGRAM.encode()), [("cohort.toml", cohort)], {})


def test_uploads_and_files_give_the_same_problem(examples):
    names = ["cohort-apac.toml", "cohort-atlantic.toml"]
    from_files = load_problem(examples / "program.toml", [examples / name for name in names])
    from_uploads = load_problem_from_texts(
        ("program.toml", (examples / "program.toml").read_bytes()),
        [(name, (examples / name).read_bytes()) for name in names],
        {"roster-apac.csv": (examples / "roster-apac.csv").read_bytes()},
    )
    assert from_uploads == from_files


def test_a_facilitator_shared_by_two_cohorts_is_one_person(tmp_path):
    other = COHORT.replace("Tiny Cohort", "Second Cohort")
    problem = load(tmp_path, cohorts={"a.toml": COHORT, "b.toml": other})
    assert problem.cohorts[0].facilitators[0].person == problem.cohorts[1].facilitators[0].person


# --- parsers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "days"), [
    ("Mon-Fri", {0, 1, 2, 3, 4}),
    ("Sun-Thu", {6, 0, 1, 2, 3}),
    ("Fri-Mon", {4, 5, 6, 0}),
    ("Mon,Tue,Thu", {0, 1, 3}),
    ("mon, wed-thu", {0, 2, 3}),
    ("Sat", {5}),
])
def test_days(text, days):
    assert parse_days(text) == frozenset(days)


@pytest.mark.parametrize("text", ["", "Mon-", "Mon--Fri", "Monday", "Mon,,Tue", "Mon-Tue-Wed"])
def test_bad_days(text):
    with pytest.raises(ValueError, match="expected days"):
        parse_days(text)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("09:00-17:00", time(9), time(17)),
    ("9:30-18:30", time(9, 30), time(18, 30)),
    ("08:00 - 16:00", time(8), time(16)),
    ("00:00-23:59", time(0), time(23, 59)),
])
def test_hours(text, start, end):
    assert parse_hours(text) == (start, end)


@pytest.mark.parametrize("text", ["9-17", "09:00", "18:00-09:00", "09:00-09:00", "24:00-25:00", "09:60-17:00"])
def test_bad_hours(text):
    with pytest.raises(ValueError, match="expected HH:MM-HH:MM with start before end"):
        parse_hours(text)


# --- one line per mistake ----------------------------------------------------------------------------------

def unit_edit(old: str, new: str) -> dict:
    return {"program": PROGRAM.replace(old, new, 1)}


def cohort_edit(old: str, new: str) -> dict:
    assert old in COHORT
    return {"cohorts": {"cohort.toml": COHORT.replace(old, new, 1)}}


def with_roster(roster: str, cohort: str = COHORT) -> dict:
    return {"cohorts": {"cohort.toml": cohort.replace("weeks = 2", 'weeks = 2\nroster = "roster.csv"')},
            "files": {"roster.csv": roster}}


CASES = {
    "invalid TOML": ({"program": "name = \n"}, r"^program\.toml: line 1, column \d+: invalid TOML: "),
    "non-UTF-8": ({"program": 'name = "Caf\xe9"\n'.encode("latin-1")},
                  r"^program\.toml: line 1: not UTF-8 text \(byte 0xe9\)"),
    "missing name": (unit_edit('name = "Tiny Program"', ""), r"^program\.toml: name: required key is missing$"),
    "no units": ({"program": 'name = "x"\n'}, r"^program\.toml: unit: required key is missing$"),
    "missing title": (unit_edit('title = "Kickoff"', ""), r"^program\.toml: unit\[2\]\.title: required key is missing$"),
    "unknown program key": (unit_edit('name = "Tiny Program"', 'name = "Tiny Program"\nlive_minute = 60'),
                            r"^program\.toml: live_minute: unknown key \(did you mean 'live_minutes'\?\)$"),
    "unknown unit key": (unit_edit("requires =", "require ="),
                         r"^program\.toml: unit\[2\]\.require: unknown key \(did you mean 'requires'\?\)$"),
    "wrong type": (unit_edit("minutes = 60", 'minutes = "60"'),
                   r"^program\.toml: unit\[2\]\.minutes: expected a whole number, got a string '60'$"),
    "boolean number": (unit_edit("minutes = 60", "minutes = true"),
                       r"^program\.toml: unit\[2\]\.minutes: expected a whole number, got a boolean True$"),
    "minutes 0": (unit_edit("minutes = 60", "minutes = 0"),
                  r"^program\.toml: unit\[2\]\.minutes: must be between 1 and 600, got 0$"),
    "minutes 601": (unit_edit("minutes = 60", "minutes = 601"), r"unit\[2\]\.minutes: must be between 1 and 600, got 601"),
    "live_minutes 0": (unit_edit('name = "Tiny Program"', 'name = "T"\nlive_minutes = 0'),
                       r"^program\.toml: live_minutes: must be between 1 and 600, got 0$"),
    "module_max negative": (unit_edit('name = "Tiny Program"', 'name = "T"\nmodule_max_minutes = -5'),
                            r"^program\.toml: module_max_minutes: must be between 1 and 600, got -5$"),
    "weekly async 0": (unit_edit('name = "Tiny Program"', 'name = "T"\nweekly_async_minutes = 0'),
                       r"^program\.toml: weekly_async_minutes: must be between 1 and"),
    "sessions per week 0": (unit_edit('name = "Tiny Program"', 'name = "T"\nlive_sessions_per_week = 0'),
                            r"^program\.toml: live_sessions_per_week: must be between 1 and"),
    "bad mode": (unit_edit('mode = "async"', 'mode = "video"'),
                 r"^program\.toml: unit\[1\]\.mode: expected one of async \| live \| either, got a string 'video'$"),
    "unit id syntax": (unit_edit('id = "welcome"', 'id = "Welcome_1"'),
                       r"^program\.toml: unit\[1\]\.id: expected lowercase letters, digits and '-', got a string 'Welcome_1'$"),
    "duplicate unit": (unit_edit('id = "kickoff"', 'id = "welcome"'),
                       r"^program\.toml: unit\[2\]\.id: duplicate unit id 'welcome' \(also unit\[1\]\)$"),
    "unknown prerequisite": (unit_edit('requires = ["welcome"]', 'requires = ["welcom"]'),
                             r"^program\.toml: unit\[2\]\.requires: unknown unit 'welcom' \(did you mean 'welcome'\?\)$"),
    "cycle": (unit_edit('mode = "async"', 'mode = "async"\nrequires = ["kickoff"]'),
              r"^program\.toml: unit\[1\]\.requires: cyclic prerequisites: welcome -> kickoff -> welcome$"),
    "self cycle": (unit_edit('requires = ["welcome"]', 'requires = ["kickoff"]'),
                   r"^program\.toml: unit\[2\]\.requires: cyclic prerequisites: kickoff -> kickoff$"),
    "cohort missing weeks": (cohort_edit("weeks = 2", ""), r"^cohort\.toml: weeks: required key is missing$"),
    "weeks 53": (cohort_edit("weeks = 2", "weeks = 53"), r"^cohort\.toml: weeks: must be between 1 and 52, got 53$"),
    "weeks 0": (cohort_edit("weeks = 2", "weeks = 0"), r"^cohort\.toml: weeks: must be between 1 and 52, got 0$"),
    "max_sections 0": (cohort_edit("weeks = 2", "weeks = 2\nmax_sections = 0"),
                       r"^cohort\.toml: max_sections: must be between 1 and"),
    "min_section_size 0": (cohort_edit("weeks = 2", "weeks = 2\nmin_section_size = 0"),
                           r"^cohort\.toml: min_section_size: must be between 1 and"),
    "bad start": (cohort_edit("start = 2027-03-01", 'start = "March 1"'),
                  r"^cohort\.toml: start: expected a date like 2027-03-01, got a string 'March 1'$"),
    "start is a date-time": (cohort_edit("start = 2027-03-01", "start = 2027-03-01T09:00:00"),
                             r"^cohort\.toml: start: expected a date like 2027-03-01, got a date-time"),
    "bad blackout": (cohort_edit("weeks = 2", 'weeks = 2\nblackout = ["soon"]'),
                     r"^cohort\.toml: blackout\[1\]: expected a date like 2027-03-01, got a string 'soon'$"),
    "unknown cohort key": (cohort_edit("weeks = 2", 'weeks = 2\ntimezon = "UTC"'),
                           r"^cohort\.toml: timezon: unknown key \(did you mean 'timezone'\?\)$"),
    "unknown home zone": (cohort_edit("weeks = 2", 'weeks = 2\ntimezone = "Mars/Olympus"'),
                          r"^cohort\.toml: timezone: unknown time zone 'Mars/Olympus'"),
    "unknown member zone": (cohort_edit('timezone = "America/New_York"', 'timezone = "Asia/Mumbia"'),
                            r"^cohort\.toml: member\[3\]\.timezone: unknown time zone 'Asia/Mumbia'$"),
    "member missing zone": (cohort_edit('timezone = "America/New_York"', ""),
                            r"^cohort\.toml: member\[3\]\.timezone: required key is missing$"),
    "unknown member key": (cohort_edit('manager = "boss@example.com"', 'manger = "boss@example.com"'),
                           r"^cohort\.toml: member\[3\]\.manger: unknown key \(did you mean 'manager'\?\)$"),
    "bad role": (cohort_edit('role = "manager"', 'role = "boss"'),
                 r"^cohort\.toml: member\[2\]\.role: expected one of learner \| facilitator \| manager, got a string 'boss'$"),
    "bad member hours": (cohort_edit('timezone = "Europe/London"', 'timezone = "Europe/London"\nhours = "9-5"'),
                         r"^cohort\.toml: member\[1\]\.hours: expected HH:MM-HH:MM with start before end, got '9-5'$"),
    "overnight member hours": (cohort_edit('timezone = "Europe/London"', 'timezone = "Europe/London"\nhours = "22:00-06:00"'),
                               r"^cohort\.toml: member\[1\]\.hours: .* got '22:00-06:00' \(overnight hours are not supported\)$"),
    "bad member days": (cohort_edit('timezone = "Europe/London"', 'timezone = "Europe/London"\ndays = "Mon-Fry"'),
                        r"^cohort\.toml: member\[1\]\.days: expected days like .* got 'Mon-Fry'$"),
    "member hours not a string": (cohort_edit('timezone = "Europe/London"', 'timezone = "Europe/London"\nhours = 9'),
                                  r"^cohort\.toml: member\[1\]\.hours: expected a string, got an integer 9$"),
    "bad email": (cohort_edit('email = "lea@example.com"', 'email = "lea at example"'),
                  r"^cohort\.toml: member\[3\]\.email: expected an email address, got 'lea at example'$"),
    "duplicate email": (cohort_edit('email = "lea@example.com"', 'email = "FAC@example.com"'),
                        r"^cohort\.toml: member\[3\]\.email: duplicate email 'fac@example\.com' \(also cohort\.toml member\[1\]\)$"),
    "manager not a manager": (cohort_edit('manager = "boss@example.com"', 'manager = "fac@example.com"'),
                              r"^cohort\.toml: member\[3\]\.manager: 'fac@example\.com' is not a manager member of this cohort$"),
    "manager of a facilitator": (cohort_edit('role = "facilitator"', 'role = "facilitator"\nmanager = "boss@example.com"'),
                                 r"^cohort\.toml: member\[1\]\.manager: only learners have a manager"),
    "no learners": (cohort_edit('manager = "boss@example.com"', 'role = "manager"'),
                    r"^cohort\.toml: member: cohort 'Tiny Cohort' has no learners$"),
    "no facilitator": (cohort_edit('role = "facilitator"', 'role = "learner"'),
                       r"^cohort\.toml: member: cohort 'Tiny Cohort' has no facilitator$"),
    "member not a table": ({"cohorts": {"cohort.toml": COHORT.split("[[member]]")[0] + 'member = "x"\n'}},
                           r"^cohort\.toml: member: expected \[\[member\]\] tables, got a string 'x'$"),
    "duplicate key": (cohort_edit("weeks = 2", "weeks = 2\nweeks = 3"),
                      r"^cohort\.toml: line 4, column \d+: invalid TOML: "),
    "duplicate cohort name": ({"cohorts": {"a.toml": COHORT, "b.toml": COHORT}},
                              r"^b\.toml: name: cohort name 'Tiny Cohort' is already used by a\.toml$"),
    "facilitator described two ways": (
        {"cohorts": {"a.toml": COHORT, "b.toml": COHORT.replace("Tiny Cohort", "Other").replace(
            'timezone = "Europe/London"', 'timezone = "Europe/Paris"')}},
        r"^b\.toml: member\[1\]\.timezone: facilitator 'fac@example\.com' is described two ways: timezone "
        r"'Europe/London' in a\.toml member\[1\] but 'Europe/Paris' here$"),
    "facilitator with other hours": (
        {"cohorts": {"a.toml": COHORT, "b.toml": COHORT.replace("Tiny Cohort", "Other").replace(
            'timezone = "Europe/London"', 'timezone = "Europe/London"\nhours = "08:00-16:00"')}},
        r"^b\.toml: member\[1\]\.hours: facilitator 'fac@example\.com' is described two ways: hours '09:00-17:00' in "
        r"a\.toml member\[1\] but '08:00-16:00'"),
    "roster missing": (cohort_edit("weeks = 2", 'weeks = 2\nroster = "nowhere.csv"'),
                       r"^cohort\.toml: roster: roster file 'nowhere\.csv' not found next to this file$"),
    "roster wrong header": (with_roster("mail,name,timezone\nx@example.com,X,UTC\n"),
                            r"^roster\.csv: line 1: unknown column 'mail' \(did you mean 'email'\?\)"),
    # pathological uploads: one line each, never a crash in the loader
    "deeply nested arrays": ({"program": PROGRAM + "x = " + "[" * 5000 + "]" * 5000 + "\n"},
                             r"^program\.toml: invalid TOML: arrays or tables nested too deeply$"),
    "deeply nested tables": (cohort_edit("weeks = 2", "weeks = 2\nx = " + "{a = " * 3000 + "1" + "}" * 3000),
                             r"^cohort\.toml: invalid TOML: arrays or tables nested too deeply$"),
    "a number of 5000 digits": (unit_edit("minutes = 60", "minutes = " + "9" * 5000),
                                r"^program\.toml: invalid TOML: a number has too many digits$"),
    "a number of 40 digits": (unit_edit("minutes = 60", "minutes = " + "9" * 40),
                              r"^program\.toml: unit\[2\]\.minutes: must be between 1 and 600, got a number too large$"),
    "a huge number of weeks": (cohort_edit("weeks = 2", "weeks = " + "9" * 4000),
                               r"^cohort\.toml: weeks: must be between 1 and 52, got a number too large$"),
    "an infinite number": (unit_edit("minutes = 60", "minutes = inf"),
                           r"^program\.toml: unit\[2\]\.minutes: expected a whole number, got a number inf$"),
    "a long string where a number goes": (unit_edit("minutes = 60", 'minutes = "' + "x" * 100_000 + '"'),
                                          r"^program\.toml: unit\[2\]\.minutes: expected a whole number, got a "
                                          r"string 'x{59}\.\.\.$"),
    "thousands of units": ({"program": 'name = "Big"\n' + "".join(
        f'[[unit]]\nid = "u{i}"\ntitle = "U"\nminutes = 10\n' + (f'requires = ["u{i + 1}"]\n' if i < 2999 else "")
        for i in range(3000))}, r"^program\.toml: unit: at most 200 \[\[unit\]\] tables, got 3000$"),
    "roster missing column": (with_roster("email,name\nx@example.com,X\n"),
                              r"^roster\.csv: line 1: missing column 'timezone'"),
    "roster empty": (with_roster(""), r"^roster\.csv: line 1: missing header"),
    "roster overnight hours": (with_roster(ROSTER + "a@example.com,A,learner,UTC,18:00-09:00,,\n"),
                               r"^roster\.csv: line 4, column hours: expected HH:MM-HH:MM with start before end, got "
                               r"'18:00-09:00' \(overnight hours are not supported\)$"),
    "roster unknown zone": (with_roster(ROSTER + "a@example.com,A,learner,Asia/Mumbia,,,\n"),
                            r"^roster\.csv: line 4, column timezone: unknown time zone 'Asia/Mumbia'"),
    "roster short row": (with_roster(ROSTER + "a@example.com,A\n"), r"^roster\.csv: line 4: expected 7 fields, got 2$"),
    "roster empty name": (with_roster(ROSTER + "a@example.com,,learner,UTC,,,\n"),
                          r"^roster\.csv: line 4, column name: required, but the cell is empty$"),
    "roster duplicates toml": (with_roster(ROSTER + "Lea@Example.com,Lea,learner,UTC,,,\n"),
                               r"^roster\.csv: line 4, column email: duplicate email 'lea@example\.com' "
                               r"\(also cohort\.toml member\[3\]\)$"),
    "roster unknown manager": (with_roster(ROSTER + "a@example.com,A,learner,UTC,,,nobody@example.com\n"),
                               r"^roster\.csv: line 4, column manager: 'nobody@example\.com' is not a manager member"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_naming_file_and_field(tmp_path, case):
    kwargs, pattern = CASES[case]
    assert_matches(error(tmp_path, **kwargs), pattern)


def assert_matches(message: str, pattern: str) -> None:
    import re

    assert re.search(pattern, message), message


def test_a_roster_that_is_not_utf8(tmp_path):
    roster = (ROSTER + "a@example.com,Andr\xe9,learner,UTC,,,\n").encode("latin-1")
    message = error(tmp_path, **with_roster(roster))
    assert_matches(message, r"^roster\.csv: line 4: not UTF-8 text \(byte 0xe9\); save the file as UTF-8$")


def test_a_roster_with_a_byte_order_mark_is_read(tmp_path):
    problem = load(tmp_path, **with_roster("\ufeff" + ROSTER))
    assert problem.cohorts[0].members[-1].email == "sun@example.com"


def test_a_missing_cohort_file(tmp_path):
    (tmp_path / "program.toml").write_text(PROGRAM)
    with pytest.raises(InputError, match=r"nope\.toml: no such file$"):
        load_problem(tmp_path / "program.toml", [tmp_path / "nope.toml"])


def test_a_run_needs_a_cohort():
    with pytest.raises(InputError, match="no cohort file given"):
        load_problem_from_texts(("program.toml", PROGRAM.encode()), [], {})
