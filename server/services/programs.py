"""Programs: the list, one program with its units and cohorts, creating and editing a program, and adding,
changing and removing its units — each write one transaction.

A unit's id (slug) is made from its title by the planner's one slug rule (`planner.slots.slug`), so a unit
made in the browser exports to a program file the loader reads. Units are fixed while a cohort of the
program is published: its sessions and modules point at them.

`program_file` writes a program back out as program.toml text in the loader's format (docs/file-formats.md),
so a program built in the browser loads from its own export.
"""

from __future__ import annotations

import tomli_w

from models.tables import Cohort, Program, Unit, UnitRequirement
from planner import problem as p
from planner.loading import PROGRAM_NUMBERS
from planner.slots import slug
from server.db import fetch, fetch_one, write_transaction
from server.errors import UserError
from server.services.planning import program_from_db

UNIT_SLUG_LENGTH = 90  # Unit.slug holds 100 characters: room for a "-NN" that keeps two titles apart
LOCKED = "A cohort of this program is published; its units cannot change now."


class UnitsLocked(UserError):
    """A unit change to a program with a published cohort."""

    def __init__(self) -> None:
        super().__init__(LOCKED)


async def programs() -> list[dict]:
    """Every program by name, with its numbers of `units` and `cohorts`."""
    # one query, not two counts per program
    return await fetch(
        "SELECT g.*, (SELECT COUNT(*) FROM unit u WHERE u.program = g.id) AS units,"
        " (SELECT COUNT(*) FROM cohort c WHERE c.program = g.id) AS cohorts FROM program g ORDER BY g.name")


async def program(program_id: int) -> dict | None:
    return await fetch_one("SELECT * FROM program WHERE id = {}", program_id)


async def choices() -> list[dict]:
    """Programs as (id, name), by name: what a cohort form offers."""
    return await fetch("SELECT id, name FROM program ORDER BY name")


async def units_of(program_id: int) -> list[dict]:
    """Units in order, each with `requires`: the ids of the units it needs (in the order they were added). One
    query: a row per requirement, or one with `required` null for a unit that needs none."""
    units: dict[int, dict] = {}
    for row in await fetch(
            "SELECT u.*, r.requires AS required"
            " FROM unit u LEFT JOIN unit_requirement r ON r.unit = u.id WHERE u.program = {}"
            " ORDER BY u.position, u.id, r.id", program_id):
        required = row.pop("required")
        unit = units.setdefault(row["id"], {**row, "requires": []})
        if required is not None:
            unit["requires"].append(required)
    return list(units.values())


async def cohorts_of(program_id: int) -> list[dict]:
    return await fetch("SELECT * FROM cohort WHERE program = {} ORDER BY name", program_id)


async def units_locked(program_id: int) -> bool:
    """True while a cohort of the program is published."""
    return await fetch_one("SELECT id FROM cohort WHERE program = {} AND status = {} LIMIT 1", program_id,
                           Cohort.Status.published.value) is not None


async def create_program(values: dict) -> int | None:
    """A new program from checked `values` (name, slug and the numbers); its id, or None when the slug is
    taken."""
    async with write_transaction():
        if await Program.exists().where(Program.slug == values["slug"]):
            return None
        row = Program(**values)
        await row.save()
    return row.id


async def update_program(program_id: int, values: dict) -> None:
    """The program's name and numbers."""
    async with write_transaction():
        await Program.update({getattr(Program, k): v for k, v in values.items()}).where(Program.id == program_id)


async def add_unit(program_id: int, values: dict) -> int:
    """A unit at the end of the program (title, minutes, mode, `requires`: unit ids); its id. Its slug is
    made from the title, with `-2`, `-3`, ... when another unit has it."""
    async with write_transaction():
        await _check_unlocked(program_id)
        units = await Unit.select(Unit.slug, Unit.position).where(Unit.program == program_id)
        taken = {u["slug"] for u in units}
        base = unit_slug = slug(values["title"])[:UNIT_SLUG_LENGTH]
        n = 2
        while unit_slug in taken:
            unit_slug, n = f"{base}-{n}", n + 1
        position = max((u["position"] for u in units), default=-1) + 1  # from 0, as an import numbers them
        row = Unit(program=program_id, slug=unit_slug, title=values["title"], minutes=values["minutes"],
                   mode=values["mode"], position=position)
        await row.save()
        await _insert_requirements(row.id, values["requires"])
    return row.id


async def update_unit(program_id: int, unit_id: int, values: dict) -> None:
    """A unit's title, minutes, mode and prerequisites (its slug stays)."""
    async with write_transaction():
        await _check_unlocked(program_id)
        await Unit.update({Unit.title: values["title"], Unit.minutes: values["minutes"],
                           Unit.mode: values["mode"]}).where((Unit.id == unit_id) & (Unit.program == program_id))
        await UnitRequirement.delete().where(UnitRequirement.unit == unit_id)
        await _insert_requirements(unit_id, values["requires"])


async def delete_unit(program_id: int, unit_id: int) -> None:
    async with write_transaction():
        await _check_unlocked(program_id)
        await Unit.delete().where((Unit.id == unit_id) & (Unit.program == program_id))


async def _check_unlocked(program_id: int) -> None:
    if await units_locked(program_id):
        raise UnitsLocked()


async def _insert_requirements(unit_id: int, requires: list[int]) -> None:
    if requires:
        await UnitRequirement.insert(*[UnitRequirement(unit=unit_id, requires=r) for r in requires])


async def export_program(program_id: int) -> str:
    """The program (which must exist) and its units from the database as program.toml text."""
    return program_file(await program_from_db(program_id))


def program_file(program: p.Program) -> str:
    """program.toml text that `planner.loading.parse_program` reads back as this same Program: every key
    written, in the order the format describes them (an empty `requires` is left out, as files leave it)."""
    units = []
    for unit in program.units:
        table = {"id": unit.id, "title": unit.title, "minutes": unit.minutes, "mode": unit.mode.value}
        if unit.requires:
            table["requires"] = list(unit.requires)
        units.append(table)
    doc = {"name": program.name, "id": program.id, **{key: getattr(program, key) for key in PROGRAM_NUMBERS}}
    if program.support:  # optional; TOML has no empty value the loader accepts
        doc["support"] = program.support
    if program.purpose:
        doc["purpose"] = program.purpose
    doc["unit"] = units
    return tomli_w.dumps(doc)
