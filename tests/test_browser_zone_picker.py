"""The time-zone picker in Debian's Chromium at 390 px against a real `cadence serve`: the browser's own zone is
offered first, the filter box narrows the list and picks the match, the choice is saved; with JavaScript off
the plain <select> (every zone with its offset and local time) saves just the same; no sideways scrolling."""

from __future__ import annotations

import re

import pytest
from browser_helpers import PHONE, create_designer, launch_chromium, running_server, sign_in_page
from conftest import need_chromium

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"
DESIGNER = "dana.designer@example.com"


def _sign_in(page, base: str) -> None:
    sign_in_page(page, base, DESIGNER, PASSWORD)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways at 390 px: scrollWidth {width}"


def test_zone_picker_at_390_px_with_and_without_javascript(database_url, tmp_path, output_dir):
    chromium = need_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(database_url, tmp_path) as server, sync_playwright() as playwright:
        base = server.url
        create_designer(server, DESIGNER, PASSWORD, timezone="UTC")
        browser = launch_chromium(playwright, chromium)
        try:
            # --- with JavaScript, in a browser set to Chicago (ICU names Kolkata by its old name, Asia/Calcutta) -------------------------------------------------
            page = browser.new_context(viewport=PHONE, timezone_id="America/Chicago").new_page()
            _sign_in(page, base)
            page.goto(f"{base}/profile")
            select = page.locator("select#timezone")
            expect(select).to_have_value("UTC")
            first = select.locator("optgroup").first
            expect(first).to_have_attribute("label", "Your browser's zone")
            expect(first.locator("option")).to_have_text(re.compile(r"^America/Chicago \(UTC-0[56]:00, now \d\d:\d\d\)$"))
            search = page.get_by_role("searchbox", name="Search time zones")
            expect(search).to_be_visible()
            _no_sideways_scroll(page)
            page.screenshot(path=str(shots / "zone-picker-390.png"), full_page=True)

            search.fill("berlin")
            expect(page.locator(".zone-match")).to_have_text("1 zone matches")
            expect(select).to_have_value("Europe/Berlin")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
            page.reload()
            expect(page.locator("select#timezone")).to_have_value("Europe/Berlin")
            expect(page.locator(".who")).to_contain_text("Europe/Berlin")

            # the browser's zone, offered first, is one choice away
            page.locator("select#timezone").select_option(index=0)
            expect(page.locator("select#timezone")).to_have_value("America/Chicago")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

            # --- without JavaScript: the plain select, and a real form post ------------------------------------
            plain = browser.new_context(viewport=PHONE, java_script_enabled=False).new_page()
            _sign_in(plain, base)
            plain.goto(f"{base}/profile")
            expect(plain.locator("input.zone-filter")).to_be_hidden()
            options = plain.locator("select#timezone option")
            assert options.count() > 300
            expect(plain.locator("select#timezone")).to_have_value("America/Chicago")
            plain.locator("select#timezone").select_option("Pacific/Auckland")
            plain.get_by_role("button", name="Save").click()
            expect(plain.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
            plain.goto(f"{base}/profile")
            expect(plain.locator("select#timezone")).to_have_value("Pacific/Auckland")
            _no_sideways_scroll(plain)

            plain.goto(f"{base}/people")  # the new-person form has the same picker
            expect(plain.locator("[data-zone-picker] select[name=timezone]")).to_have_count(1)
            _no_sideways_scroll(plain)
        finally:
            browser.close()
