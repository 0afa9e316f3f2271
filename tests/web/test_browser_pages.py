"""The pages added for the administrator's overrides, meetings and the quarterly picture, in
Debian's chromium: axe-core finds no serious or critical problem, and the charts load under the
strict CSP (an image blocked would fail the test through the page fixture)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from pipeline.app import App
from pipeline.config import SmtpConfig
from pipeline.intake.poll import deliver_configured
from pipeline.jobs import run_due
from pipeline.panel.decisions.sheets import sheet_jobs
from pipeline.states import Outcome
from pipeline.store.models import Decision
from pipeline.web.users import Role
from tests.helpers import attachments, parse_sent
from tests.panel.test_decision_sheets import docx_text, pdf_text
from tests.servers import SmtpCapture
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
    page.get_by_label(f"What is to be done (action 1 for {FIRST})").fill("Ring the school")
    page.get_by_label(f"By when (action 1 for {FIRST})").fill("soon")
    page.get_by_role("button", name="Record the decisions").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    # The action line's problems are by its fields, and the summary leads to them.
    expect(page.locator("#a2-1-e-error")).to_contain_text('"soon" is not a date')
    expect(page.locator("#a2-1-c-error")).to_contain_text("The action has no owner")
    page.get_by_role("link", name="The action has no owner").click()
    assert page.evaluate("() => document.activeElement.id") == "a2-1-c"
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


def test_decisions_with_two_action_lines_are_entered_and_their_sheet_lists_them(
    page: Page, after_the_meeting: Console, smtp_server: SmtpCapture
) -> None:
    """Typed into the form in the browser (room for more lines asked for on the way), the
    decision and its two actions are recorded, and the decision sheet the referrer receives
    at the SMTP server sets the actions out."""
    state = after_the_meeting.web.state
    before: App = state.masp
    smtp = SmtpConfig(host="127.0.0.1", port=smtp_server.port, security="none")
    mailbox = before.config.mailbox.model_copy(update={"backend": "imap", "smtp": smtp})
    service = dataclasses.replace(
        before, config=before.config.model_copy(update={"mailbox": mailbox})
    )
    state.masp = service
    try:
        sign_in(page, after_the_meeting, Role.ADMINISTRATOR)
        page.goto(f"{after_the_meeting.url}{FORM}")
        page.get_by_label(f"Outcome for {FIRST}").select_option(Outcome.ACCEPTED.value)
        page.get_by_label(f"Lead Professional name for {FIRST}").fill("Lee Lead")
        page.get_by_label(f"Lead Professional email for {FIRST}").fill(LEAD)
        page.get_by_label(f"Review date for {FIRST}").fill("12/01/2027")
        for n, (what, owner, agency, due) in enumerate(BROWSER_LINES, start=1):
            suffix = f"(action {n} for {FIRST})"
            page.get_by_label(f"What is to be done {suffix}").fill(what)
            page.get_by_label(f"Owner {suffix}").fill(owner)
            page.get_by_label(f"Agency {suffix}").fill(agency)
            page.get_by_label(f"By when {suffix}").fill(due)
        page.get_by_role("button", name="Add more action lines").click()
        # Nothing recorded yet: the lines typed are back, with blank ones below them.
        expect(page.get_by_label(f"Owner (action 2 for {FIRST})")).to_have_value("Sam Social")
        expect(page.get_by_label(f"Owner (action 4 for {FIRST})")).to_have_value("")
        assert axe_problems(page) == []
        page.get_by_role("button", name="Record the decisions").click()
        banner = page.locator(".govuk-notification-banner")
        expect(banner).to_contain_text("The decisions are recorded")
        with service.store.session() as session:
            decision = session.scalars(select(Decision)).one()
            lines = [(a.text, a.owner, a.agency, a.due) for a in decision.actions]
        assert lines == [
            (BROWSER_LINES[0][0], "Lee Lead", "Education", date(2026, 12, 15)),
            (BROWSER_LINES[1][0], "Sam Social", "Health", date(2027, 1, 5)),
        ]
        # The service's next pass makes the sheet and sends it.
        run_due(service, [sheet_jobs])
        deliver_configured(service)
        [sheet] = [
            parse_sent(raw, REFERRER)
            for _, to, raw in smtp_server.messages
            if REFERRER in to and "decision sheet" in parse_sent(raw, REFERRER).subject
        ]
        assert FIRST in sheet.subject
        for words in (
            pdf_text(attachments(sheet, ".pdf")[0]),
            docx_text(*attachments(sheet, ".docx")),
        ):
            for what, owner, agency, _ in BROWSER_LINES:
                assert what in words and owner in words and agency in words, words
            assert "15 December 2026" in words and "5 January 2027" in words, words
    finally:
        state.masp = before


LEAD = "lee.lead@school.example.org"
REFERRER = "ref1@school.example.org"
BROWSER_LINES = (
    ("Hold a team around the family meeting", "Lee Lead", "Education", "15/12/2026"),
    ("Share the health assessment", "Sam Social", "Health", "05/01/2027"),
)
