"""The readiness world plus a few learners whose names the example meeting reports use (examples/attendance/):
Ana Souza, Sam Rivera and two Alex Kims (so a bare "Alex Kim" is ambiguous), all in Alpha's section. The
reports are of Alpha's session `next` (2027-03-12 12:00-13:00 UTC), in Fay's zone (Europe/London, GMT then)."""

from __future__ import annotations

from pathlib import Path

from readiness_helpers import build_world

from models.tables import Membership, Person, Section

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "attendance"
SECRET = "test-secret-key-not-for-production-0123456789"  # conftest's CADENCE_SECRET_KEY
EXTRA = (("ana.souza@example.com", "Ana Souza"), ("sam.rivera@example.com", "Sam Rivera"),
         ("alex.kim@example.com", "Alex Kim"), ("alex.kim2@example.com", "Alex Kim"))


async def build_attendance_world(password_hash: str = ""):
    world = await build_world(password_hash=password_hash)
    section = (await Section.select(Section.id).where(Section.cohort == world.alpha).first())["id"]
    ids = {}
    for email, name in EXTRA:
        person = Person(email=email, name=name, role="learner", timezone="America/Sao_Paulo",
                        password_hash=password_hash)
        await person.save()
        await Membership(cohort=world.alpha, person=person.id, role="learner", section=section).save()
        ids[email] = person.id
    return world, ids
