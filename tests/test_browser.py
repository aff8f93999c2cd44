"""End to end in Debian's Chromium against a real `cadence serve` on a fresh database.

A designer uploads the example program, both cohorts and the roster, plans and publishes; a learner marks
her next session's prework done; the facilitator marks her attendance (and, with JavaScript off, another
learner's through the form's own button); the manager's readiness for that session goes up by one. Each page is photographed at 1280 px and 390 px under test-output/screenshots/,
and the learner and facilitator pages must not scroll sideways at 390 px.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    DESKTOP,
    PHONE,
    create_designer,
    launch_chromium,
    running_server,
    set_passwords,
    sign_in_page,
)
from conftest import need_chromium

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"
DESIGNER = "dana.designer@example.com"
LEARNER = "ines.costa@example.com"  # Atlantic, reports to Jon Baker
FACILITATOR = "maya.okafor@example.com"  # runs the Atlantic cohort
MANAGER = "jon.baker@example.com"
LEARNER_NAME = "Inês Costa"


@pytest.fixture
def shots(output_dir):
    folder = output_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page, base: str, email: str) -> None:
    sign_in_page(page, base, email, PASSWORD)


def photograph(page, shots, name: str, *, check_width: bool = False) -> None:
    """Full-page screenshots at desktop and phone widths; at 390 px optionally assert no sideways scroll."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(shots / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    if check_width:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} scrolls sideways at 390 px: scrollWidth {width}"
    page.set_viewport_size(DESKTOP)


def ready_share(page, base: str) -> tuple[int, int, str]:
    """(ready, reports, session label) of the first upcoming session on the manager's page."""
    page.goto(f"{base}/manager")
    first = page.locator("details.readiness").first
    text = first.locator(".share").inner_text()
    match = re.fullmatch(r"(\d+) of (\d+) ready", text.strip())
    assert match, text
    return int(match.group(1)), int(match.group(2)), first.get_attribute("id")


def test_plan_publish_then_learner_facilitator_manager(database_url, tmp_path, shots, examples):
    chromium = need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with running_server(database_url, tmp_path) as server, sync_playwright() as playwright:
        base = server.url
        create_designer(server, DESIGNER, PASSWORD)
        browser = launch_chromium(playwright, chromium)
        try:
            # --- the designer uploads, plans and publishes --------------------------------------------
            designer = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(designer, base, DESIGNER)
            designer.goto(f"{base}/programs/upload")
            designer.get_by_label("Program file (.toml)").set_input_files(str(examples / "program.toml"))
            designer.get_by_label("Cohort files (.toml)").set_input_files(
                [str(examples / "cohort-apac.toml"), str(examples / "cohort-atlantic.toml")]
            )
            designer.get_by_label("Roster files (.csv)").set_input_files(str(examples / "roster-apac.csv"))
            designer.get_by_role("button", name="Upload and import").click()
            imported = designer.get_by_role("status").filter(has_text="Imported")
            expect(imported).to_be_visible(timeout=30_000)
            photograph(designer, shots, "designer-upload")
            imported.get_by_role("link").click()

            designer.get_by_label("Time limit (seconds, 1–60)").fill("5")
            designer.get_by_role("button", name="Plan", exact=True).click()
            publish = designer.get_by_role("button", name="Publish this plan")
            expect(publish).to_be_visible(timeout=60_000)
            publish.click()
            expect(designer.get_by_text("Published.")).to_be_visible(timeout=30_000)
            photograph(designer, shots, "designer-plan")

            set_passwords(server, [LEARNER, FACILITATOR, MANAGER], PASSWORD)

            # --- the manager's starting point ---------------------------------------------------------
            manager = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(manager, base, MANAGER)
            ready_before, reports, first_id = ready_share(manager, base)
            assert reports == 7 and ready_before < reports
            expect(manager.locator(f"#{first_id} table.not-ready")).to_contain_text(LEARNER_NAME)

            # --- the learner marks the next session's prework done -------------------------------------
            learner = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(learner, base, LEARNER)
            assert learner.url.endswith("/learner")
            prework = learner.locator("#next-session ul.prework a")
            anchors = [prework.nth(i).get_attribute("href") for i in range(prework.count())]
            assert anchors, "the next session has no prework, so readiness could not change"
            progress = learner.locator("#progress label")
            before = progress.inner_text()
            for anchor in anchors:
                row = learner.locator(anchor)
                row.get_by_role("button", name=re.compile(r"^Mark done")).click()
                expect(row.get_by_role("button", name=re.compile(r"^Undo"))).to_be_visible()
            expect(learner.locator("#next-session h3")).to_have_text(
                f"Prework: {len(anchors)} of {len(anchors)} done"
            )
            assert progress.inner_text() != before  # the bar was swapped out of band, without a reload
            learner.reload()
            expect(learner.locator("#next-session h3")).to_have_text(
                f"Prework: {len(anchors)} of {len(anchors)} done"
            )
            photograph(learner, shots, "learner", check_width=True)

            # --- the facilitator marks attendance -------------------------------------------------------
            facilitator = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(facilitator, base, FACILITATOR)
            assert facilitator.url.endswith("/facilitator")
            photograph(facilitator, shots, "facilitator", check_width=True)
            facilitator.locator("table.sessions a").first.click()
            row = facilitator.get_by_role("row").filter(has_text=LEARNER_NAME)
            expect(row).to_contain_text(f"{len(anchors)} of {len(anchors)}")
            row.get_by_label("Present").check()
            expect(row.get_by_role("status")).to_contain_text("Saved: Present, marked by Maya Okafor")
            facilitator.reload()
            row = facilitator.get_by_role("row").filter(has_text=LEARNER_NAME)
            expect(row.get_by_label("Present")).to_be_checked()
            expect(row.get_by_role("status")).to_contain_text("Present, marked by Maya Okafor")
            photograph(facilitator, shots, "facilitator-roster", check_width=True)

            # --- and without JavaScript the same form saves through its button --------------------------
            plain = browser.new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
            sign_in(plain, base, FACILITATOR)
            plain.goto(facilitator.url)
            other = plain.get_by_role("row").filter(has_text="Lukas Weber")
            other.get_by_label("Excused").check()
            other.get_by_role("button", name="Save attendance of Lukas Weber").click()
            other = plain.get_by_role("row").filter(has_text="Lukas Weber")
            expect(other.get_by_label("Excused")).to_be_checked()
            expect(other.get_by_role("status")).to_contain_text("Excused, marked by Maya Okafor")

            # --- the manager sees one more report ready --------------------------------------------------
            ready_after, reports_after, first_after = ready_share(manager, base)
            assert first_after == first_id and reports_after == reports
            assert ready_after == ready_before + 1
            expect(manager.locator(f"#{first_id}")).not_to_contain_text(LEARNER_NAME)
            photograph(manager, shots, "manager", check_width=True)
            csv_link = manager.get_by_role("link", name="Download readiness as CSV")
            with manager.expect_download() as download:
                csv_link.click()
            text = download.value.path().read_text(encoding="utf-8")
            assert text.startswith("session,start_utc,learner,email,ready,missing")
            assert f"{LEARNER_NAME},{LEARNER},yes," in text
        finally:
            browser.close()
