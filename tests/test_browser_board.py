"""The Q&A board in Debian's Chromium against a real `cadence serve`: a learner posts a question and the
facilitator answers and accepts it, each without a page reload (htmx); with JavaScript off, a second learner
answers through the plain form. Screenshots under test-output/screenshots/."""

from __future__ import annotations

import re

import pytest
from browser_helpers import DESKTOP, PHONE, launch_chromium, run_python, running_server, sign_in_page
from conftest import need_chromium

pytestmark = pytest.mark.browser

PASSWORD = "browser-board-password"


def sign_in(page, base: str, email: str) -> None:
    sign_in_page(page, base, email, PASSWORD)


def test_posting_a_question_and_an_answer(database_url, tmp_path, output_dir):
    chromium = need_chromium()
    from playwright.sync_api import expect, sync_playwright

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(database_url, tmp_path) as server, sync_playwright() as playwright:
        base = server.url
        alpha = run_python(server, f"""
from readiness_helpers import build_world
from server.passwords import hash_password

async def main():
    world = await build_world(password_hash=hash_password({PASSWORD!r}))
    print(world.alpha)
""".replace("from readiness_helpers", "import sys; sys.path.insert(0, 'tests')\nfrom readiness_helpers")).strip()
        browser = launch_chromium(playwright, chromium)
        try:
            # --- a learner asks, through the nav link, without a reload -----------------------------------
            learner = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(learner, base, "lea@example.com")
            learner.get_by_role("navigation").get_by_role("link", name="Q&A", exact=True).click()
            learner.wait_for_url(f"{base}/board/{alpha}")
            learner.evaluate("window.__notReloaded = true")
            learner.get_by_label("Question", exact=True).fill("How do I escalate a ticket?")
            learner.get_by_label("Details (optional, Markdown)").fill("The *tour* skipped it. <script>window.__hacked = 1</script>")
            learner.get_by_role("button", name="Post question").click()
            question = learner.locator("article.question").first
            expect(question.get_by_role("heading", name="How do I escalate a ticket?")).to_be_visible()
            expect(question.locator(".rich-text em")).to_have_text("tour")
            assert learner.evaluate("window.__notReloaded") is True  # htmx swapped the board in place
            assert learner.evaluate("window.__hacked") is None  # the script was shown as text, never run
            expect(learner.get_by_label("Question", exact=True)).to_have_value("")  # the form is fresh for the next one
            learner.set_viewport_size(PHONE)
            learner.screenshot(path=str(shots / "board-learner-390.png"), full_page=True)
            width = learner.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the board scrolls sideways at 390 px: scrollWidth {width}"

            # --- the facilitator answers and accepts it, without a reload ---------------------------------
            facilitator = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(facilitator, base, "fay@example.com")
            facilitator.goto(f"{base}/board/{alpha}")
            facilitator.evaluate("window.__notReloaded = true")
            facilitator.get_by_label("Your answer").fill("Use the **Escalate** button, see [the guide](https://help.example.org/escalate).")
            facilitator.get_by_role("button", name="Post answer to: How do I escalate a ticket?").click()
            answer = facilitator.locator(".answer").first
            expect(answer.locator("strong")).to_have_text("Escalate")
            link = answer.get_by_role("link", name="the guide")
            expect(link).to_have_attribute("target", "_blank")
            expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
            facilitator.get_by_role("button", name="Accept").click()
            expect(facilitator.get_by_text("Accepted answer")).to_be_visible()
            assert facilitator.evaluate("window.__notReloaded") is True
            facilitator.screenshot(path=str(shots / "board-facilitator-1280.png"), full_page=True)

            # --- without JavaScript, another learner answers through the plain form -----------------------
            plain = browser.new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
            sign_in(plain, base, "leo@example.com")
            plain.goto(f"{base}/board/{alpha}")
            plain.get_by_label("Your answer").fill("Or ask your lead.")
            plain.get_by_role("button", name="Post answer to: How do I escalate a ticket?").click()
            plain.wait_for_url(re.compile(rf"{re.escape(base)}/board/{alpha}#answer-\d+$"))
            expect(plain.get_by_text("Or ask your lead.")).to_be_visible()
            expect(plain.get_by_text("Accepted answer")).to_be_visible()

            # --- the learner sees both answers, the accepted one first ------------------------------------
            learner.reload()
            answers = learner.locator(".answer")
            expect(answers).to_have_count(2)
            expect(answers.first).to_contain_text("Escalate")
        finally:
            browser.close()
