"""Self check-in end to end in Debian's Chromium against a real `cadence run`: the facilitator's session page
shows the code and QR code; a learner on a 390 px phone enters the code, another opens the QR code's URL
(which checks her in by itself); the facilitator's page, left alone, lists both as they arrive (htmx polls the
check-in box). Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from browser_helpers import DESKTOP, PHONE, launch_chromium, run_python, running_server, sign_in_page
from conftest import need_chromium

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"


def sign_in(page, base: str, email: str) -> None:
    sign_in_page(page, base, email, PASSWORD)


def test_learner_checks_in_on_a_phone_while_the_facilitator_page_updates(database_url, tmp_path, output_dir):
    chromium = need_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(database_url, tmp_path) as server:
        ids = run_python(server, f"""
import sys
from datetime import UTC, datetime, timedelta
sys.path.insert(0, "tests")
from attendance_helpers import build_attendance_world
from models.tables import LiveSession
from server.passwords import hash_password

async def main():
    world, _ = await build_attendance_world(hash_password({PASSWORD!r}))
    start = datetime.now(UTC) + timedelta(minutes=3)  # check-in is open: it opened 10 minutes before
    await LiveSession.update({{LiveSession.starts_at: start, LiveSession.ends_at: start + timedelta(hours=1)}}).where(
        LiveSession.id == world.next)
    print(world.next, world.lea, world.leo)
""").split()
        session, lea, leo = (int(x) for x in ids)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, chromium)
            try:
                facilitator = browser.new_context(viewport=DESKTOP).new_page()
                sign_in(facilitator, server.url, "fay@example.com")
                facilitator.goto(f"{server.url}/facilitator/sessions/{session}")
                expect(facilitator.locator("#checkin-count")).to_have_text("0 of 6 learners checked in.")
                expect(facilitator.locator(".qr svg")).to_be_visible()
                code = facilitator.locator("#checkin-code").inner_text().replace(" ", "")
                assert re.fullmatch(r"\d{6}", code), code

                phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
                sign_in(phone, server.url, "lea@example.com")
                phone.get_by_role("link", name="check in with the code").click()
                phone.get_by_label("Check-in code").fill(code[:3] + " " + code[3:])
                phone.get_by_role("button", name="Check in").click()
                expect(phone.locator("#checkin-result")).to_contain_text("Checked in: you are marked present")
                width = phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the check-in page scrolls sideways at 390 px: {width}"
                phone.screenshot(path=str(shots / "checkin-learner-390.png"), full_page=True)

                # the facilitator's page was not reloaded: the polled box shows the check-in
                expect(facilitator.locator(f"#checked-in-{lea}")).to_contain_text("Lea Learner: present",
                                                                                   timeout=15_000)
                expect(facilitator.locator("#checkin-count")).to_have_text("1 of 6 learners checked in.")

                # the QR code's URL checks a learner in by itself (htmx sends the filled-in form on load)
                current = facilitator.locator("#checkin-code").inner_text().replace(" ", "")
                scanner = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
                sign_in(scanner, server.url, "leo@example.com")
                scanner.goto(f"{server.url}/learner/checkin?session={session}&code={current}")
                expect(scanner.locator("#checkin-result")).to_contain_text("Checked in")
                expect(facilitator.locator(f"#checked-in-{leo}")).to_be_visible(timeout=15_000)
                expect(facilitator.locator("#checkin-count")).to_have_text("2 of 6 learners checked in.")
                facilitator.screenshot(path=str(shots / "checkin-facilitator-1280.png"), full_page=True)
            finally:
                browser.close()
