"""The console in a real browser: Debian's chromium driven by Playwright (never Playwright's own
browser download, which cannot be reached here). Sign in, see the board, open a case; the
GOV.UK scripts run under the strict CSP; axe-core (npm, tests/web/package.json) finds no
serious or critical accessibility problem on any page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from pipeline.web.users import Role
from tests.web.conftest import ACCOUNTS, FIRST, PASSWORD, Console

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        # Fail, never skip: scripts/test.sh installs Debian's chromium.
        pytest.fail("Debian's chromium is missing: apt-get install chromium", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies), which fails the test on any console error: a
    script or style the CSP blocked, a file that did not load."""
    context = browser.new_context()
    opened = context.new_page()
    problems: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        # A refusal page's own 403 is the answer the test asked for, not a broken page.
        own_status = message.location.get("url") == opened.url
        if message.type == "error" and not (own_status and "Failed to load" in message.text):
            problems.append(f"{message.text} ({message.location.get('url')})")

    opened.on("console", heard)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == []


def sign_in(page: Page, console: Console, role: Role) -> None:
    page.goto(f"{console.url}/sign-in")
    page.get_by_label("Email address").fill(ACCOUNTS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def axe_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run npm ci --prefix tests/web", pytrace=False)
    # Evaluated through the DevTools protocol, not as a <script>: the page's CSP stays strict.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} element(s))"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_sign_in_see_the_board_and_open_a_case(page: Page, console: Console) -> None:
    sign_in(page, console, Role.ADMINISTRATOR)
    assert page.url == f"{console.url}/board"
    assert page.get_by_role("heading", level=1).inner_text() == "Board"
    # GOV.UK Frontend's module started, under the CSP, from its own file.
    assert "govuk-frontend-supported" in (page.locator("body").get_attribute("class") or "")
    page.get_by_role("link", name=FIRST).click()
    page.wait_for_load_state()
    assert page.url == f"{console.url}/cases/{FIRST}"
    assert page.get_by_role("heading", level=1).inner_text() == FIRST
    assert page.get_by_role("heading", name="Referral form.docx").is_visible()
    assert page.get_by_role("heading", name="Audit trail").is_visible()


def test_the_skip_link_is_the_first_stop_for_the_keyboard(page: Page, console: Console) -> None:
    sign_in(page, console, Role.CHAIR)
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main-content"


def test_a_childs_name_holding_a_script_does_not_run(page: Page, console: Console) -> None:
    sign_in(page, console, Role.ADMINISTRATOR)
    page.goto(f"{console.url}/cases/{console.references['script']}")
    assert page.title() != "pwned"
    name = page.locator("dt", has_text=re.compile("^Child$")).locator("xpath=following-sibling::dd")
    assert name.inner_text() == '<script>document.title="pwned"</script> Scriptkid'


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (None, "/sign-in"),
        (Role.ADMINISTRATOR, "/board"),
        (Role.ADMINISTRATOR, "/board/masp/2026-12-08"),
        (Role.ADMINISTRATOR, f"/cases/{FIRST}"),
        (Role.ADMINISTRATOR, "/mail"),
        (Role.ADMINISTRATOR, "/screening"),
        (Role.SERVICE_MANAGER, "/screening"),
        (Role.MEMBER, "/packs"),
        # The refusal page is a page people see too.
        (Role.MEMBER, "/board"),
    ],
    ids=lambda value: str(value),
)
def test_no_serious_accessibility_problem(
    page: Page, console: Console, role: Role | None, path: str
) -> None:
    if role is not None:
        sign_in(page, console, role)
    page.goto(f"{console.url}{path}")
    assert axe_problems(page) == []
