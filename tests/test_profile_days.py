"""The profile reads working days with the planner's own syntax, so a Sun-Thu week survives a save."""

import re

from web_helpers import make_person, post_form, run, sign_in, web_client

from models.tables import Person


def checked_days(html: str) -> list[str]:
    return re.findall(r'name="work_days" value="(\w+)" checked', html)


def test_a_sun_to_thu_week_shows_and_saves_unchanged(db):
    make_person("omar@example.com", work_days="Sun-Thu", timezone="Asia/Riyadh")
    with web_client() as client:
        sign_in(client, "omar@example.com")
        page = client.get("/profile")
        assert checked_days(page.text) == ["Mon", "Tue", "Wed", "Thu", "Sun"]
        saved = post_form(client, "/profile", {"timezone": "Asia/Riyadh", "work_start": "09:00",
                                                "work_end": "17:00", "work_days": checked_days(page.text)})
        assert saved.status_code == 200
    row = run(Person.select(Person.work_days).where(Person.email == "omar@example.com").first())
    assert row["work_days"] == "Mon,Tue,Wed,Thu,Sun"
