"""The plan views in Debian's Chromium against a real `cadence run` (web + worker) on a fresh database: the week
calendar and the heat map of the published Atlantic example (blocks present with their labels, the zone switched
through htmx, a DST week marked), and two variants planned, compared and one published from the comparison.
Every page is photographed at 1280 px and 390 px under the test's tmp dir, and none scrolls sideways at 390 px.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    DESKTOP,
    PHONE,
    create_designer,
    launch_chromium,
    run_python,
    running_server,
    sign_in_page,
)
from conftest import need_chromium

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-password"
DESIGNER = "dana.designer@example.com"
ATLANTIC = "Support Atlantic - March 2027"

SEED = """
from datetime import UTC, datetime
from pathlib import Path

from models.tables import Cohort
from planner.loading import load_problem
from planner.solve import solve
from server.services.importing import import_problem
from server.services.publishing import publish_plan

async def main():
    examples = Path("examples/support-onboarding")
    problem = load_problem(examples / "program.toml", [examples / "cohort-atlantic.toml"])
    imported = await import_problem(problem, now=datetime(2027, 1, 10, tzinfo=UTC))
    await publish_plan(solve(problem, time_limit=3, workers=1), imported.cohort_ids,
                       now=datetime(2027, 1, 10, tzinfo=UTC))
    print((await Cohort.select(Cohort.id).first())["id"])
"""


def sign_in(page, base: str, email: str) -> None:
    sign_in_page(page, base, email, PASSWORD)


def photograph(page, shots, name: str) -> None:
    """Full-page screenshots at both widths; at 390 px the page must not scroll sideways."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(shots / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} scrolls sideways at 390 px: scrollWidth {width}"
    page.set_viewport_size(DESKTOP)


def test_calendar_heat_map_and_variants_in_chromium(database_url, tmp_path):
    chromium = need_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_server(database_url, tmp_path) as server, sync_playwright() as playwright:
        base = server.url
        create_designer(server, DESIGNER, PASSWORD, timezone="America/New_York")
        cohort_id = int(run_python(server, SEED).strip().splitlines()[-1])
        browser = launch_chromium(playwright, chromium)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(page, base, DESIGNER)

            # --- the week calendar: blocks with their units' titles, facilitator and share inside ---------
            page.goto(f"{base}/cohorts/{cohort_id}/calendar")
            expect(page.get_by_role("heading", name=re.compile("Week calendar"))).to_be_visible()
            blocks = page.locator(".weekgrid .block")
            assert blocks.count() >= 1
            first = blocks.first
            expect(first).to_contain_text("Maya Okafor")
            expect(first).to_contain_text(re.compile(r"\d+ of \d+ inside"))
            label = first.locator("strong").inner_text()
            assert label and "/" not in label  # a name, not a session id
            expect(page.locator("table.agenda")).to_contain_text(label)
            photograph(page, shots, "week-calendar")
            # on a phone the grid gives way to the table, which still names every session
            page.set_viewport_size(PHONE)
            expect(page.locator(".weekgrid")).to_be_hidden()
            expect(page.locator("table.agenda")).to_contain_text(label)
            page.set_viewport_size(DESKTOP)

            # --- switching the zone swaps the region (htmx) and the URL follows ---------------------------
            page.get_by_label("Show times in").select_option("Asia/Dubai")
            expect(page.locator("table.agenda caption")).to_contain_text("times in Asia/Dubai")
            assert "zone=Asia%2FDubai" in page.url or "zone=Asia/Dubai" in page.url

            # --- the heat map of a DST week (US clocks go forward on 14 March, in week 1) ------------------
            page.goto(f"{base}/cohorts/{cohort_id}/heatmap?week=1&zone=America/Chicago")
            expect(page.get_by_text("Clocks change this week.")).to_be_visible()
            expect(page.locator(".heatgrid .dayhead.dst")).to_contain_text("Sun 14 Mar")
            assert page.locator(".heatgrid .cell").count() > 7 * 10
            assert page.locator(".heatgrid .cell.chosen").count() >= 2  # a 60-minute session covers two cells
            expect(page.locator("table.learner-rows")).to_contain_text("Priya Nair")
            expect(page.locator("table.stretches")).to_contain_text("of 7")
            photograph(page, shots, "heat-map")

            # --- two variants, compared, and the second published from the comparison ---------------------
            page.goto(f"{base}/plans/variants?cohort={cohort_id}")
            page.get_by_label("Time limit per variant (seconds, 1–60)").fill("2")
            page.get_by_role("button", name="Plan the variants").click()
            publish = page.get_by_role("button", name="Publish this variant")
            expect(publish).to_have_count(2, timeout=90_000)
            table = page.locator(".compare table")
            expect(table).to_contain_text("up to 2 sections")
            expect(table).to_contain_text("Maya Okafor: ")
            photograph(page, shots, "variants")
            publish.nth(1).click()
            expect(page.get_by_text("Published.")).to_be_visible(timeout=30_000)
            page.get_by_role("link", name="← All variants of this comparison").click()
            expect(page.locator(".compare table")).to_contain_text("Published")
            expect(page.get_by_role("button", name="Publish this variant")).to_have_count(0)
            expect(page.locator(".compare table")).to_contain_text("another variant is published")
        finally:
            browser.close()
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{name}-{width}.png" for name in ("week-calendar", "heat-map", "variants") for width in (1280, 390))
