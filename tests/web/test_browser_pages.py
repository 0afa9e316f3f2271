"""The pages added for the administrator's overrides, meetings and the quarterly picture, in
Debian's chromium: axe-core finds no serious or critical problem, and the charts load under the
strict CSP (an image blocked would fail the test through the page fixture)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from pipeline.states import Outcome
from pipeline.web.users import Role
from tests.web import test_browser
from tests.web.conftest import FIRST, Console
from tests.web.test_browser import axe_problems, sign_in
from tests.web.test_decisions_form import FORM, after_the_meeting

# The browser fixtures of test_browser: Debian's chromium, a fresh profile per test.
browser = test_browser.browser
page = test_browser.page
__all__ = ["after_the_meeting", "browser", "page"]


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.ADMINISTRATOR, f"/cases/{FIRST}"),
        (Role.ADMINISTRATOR, "/meetings"),
        (Role.ADMINISTRATOR, "/meetings/masp/2026-12-08"),
        (Role.CHAIR, "/meetings/masp/2026-12-08"),
        (Role.CHAIR, "/quarterly"),
    ],
    ids=lambda value: str(value),
)
def test_no_serious_accessibility_problem(
    page: Page, console: Console, role: Role, path: str
) -> None:
    sign_in(page, console, role)
    page.goto(f"{console.url}{path}")
    assert axe_problems(page) == []


def test_the_charts_load_from_the_console_itself(page: Page, console: Console) -> None:
    sign_in(page, console, Role.CHAIR)
    page.goto(f"{console.url}/quarterly")
    charts = page.locator("img.console-chart")
    assert charts.count() > 0
    for i in range(charts.count()):
        loaded = charts.nth(i).evaluate("(img) => img.complete && img.naturalWidth > 0")
        assert loaded, charts.nth(i).get_attribute("src")


def test_the_override_forms_work_from_the_keyboard(page: Page, console: Console) -> None:
    sign_in(page, console, Role.ADMINISTRATOR)
    page.goto(f"{console.url}/cases/{FIRST}")
    page.get_by_label("Correct email address").focus()
    page.keyboard.type("not an address")
    page.keyboard.press("Enter")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    # GOV.UK Frontend moves focus to the summary, so a screen reader reads it first.
    expect(summary).to_be_focused()
    assert page.get_by_label("Correct email address").input_value() == "not an address"


def test_the_decisions_form_has_no_serious_accessibility_problem(
    page: Page, after_the_meeting: Console
) -> None:
    sign_in(page, after_the_meeting, Role.ADMINISTRATOR)
    page.goto(f"{after_the_meeting.url}{FORM}")
    assert axe_problems(page) == []
    # Sent with a problem: the summary and the field's message are accessible too.
    page.get_by_label(f"Outcome for {FIRST}").select_option(Outcome.ACCEPTED.value)
    page.get_by_role("button", name="Record the decisions").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    assert axe_problems(page) == []


def test_the_document_pages_load_on_the_case_page(page: Page, console: Console) -> None:
    sign_in(page, console, Role.CHAIR)
    page.goto(f"{console.url}/cases/{FIRST}")
    previews = page.locator("img.console-preview")
    assert previews.count() > 0
    for i in range(previews.count()):
        shown = previews.nth(i)
        # Drawn lazily: brought into view, each is fetched (under the strict CSP) and decoded.
        shown.scroll_into_view_if_needed()
        expect(shown).to_have_js_property("complete", True)
        assert shown.evaluate("(img) => img.naturalWidth") > 0, shown.get_attribute("src")
        assert (shown.get_attribute("alt") or "").startswith("Page 1 of the ")
