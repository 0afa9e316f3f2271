"""Issue 15's story in a real browser, over the real servers: a referral arrives by IMAP, its
chronology (written as prose) is read as "other", and at the December deadline the case is
deferred to January. The administrator signs in, finds the case on the board, reclassifies the
chronology and sees it back at the December meeting; the Service Manager's approval puts it on
the agenda; the administrator says the agenda is final, and the pack goes to the panel. The
emails are the ones that arrive at the SMTP server."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.config import parse_config
from pipeline.intake.poll import poll
from pipeline.mailbox.registry import open_sender
from pipeline.panel.screening.decisions import decide_by_administrator
from pipeline.rules.reply_text import Decision
from pipeline.service import tick
from pipeline.states import Verdict
from pipeline.web.users import Role
from tests.helpers import config_tree, outline, pack_reader, parse_sent
from tests.intake.test_reclassify_story import (
    CHILD,
    NEXT_DAY,
    PACK_DUE,
    REF,
    REFERRER,
    prose_chronology,
)
from tests.panel.test_reminders import DEADLINE, RECEIVED
from tests.servers import ImapAccount, SmtpCapture
from tests.web import test_browser
from tests.web.conftest import add_accounts, serve
from tests.web.test_browser import axe_problems, sign_in

# The browser fixtures of test_browser: Debian's chromium, a fresh profile per test.
browser = test_browser.browser
page = test_browser.page
DECEMBER = "/meetings/masp/2026-12-08"


@dataclasses.dataclass
class Story:
    app: App
    url: str
    smtp: SmtpCapture

    def at(self, moment: datetime) -> App:
        """The service with its clock at `moment` (the store shared)."""
        return dataclasses.replace(self.app, clock=Clock.frozen_at(moment))

    def tick(self, moment: datetime, times: int = 1) -> None:
        service = self.at(moment)
        sender = open_sender(service.config)
        try:
            for _ in range(times):
                tick(service, sender)
        finally:
            sender.close()

    def received_by(self, address: str) -> list[Message]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)
            for _, to, raw in self.smtp.messages
            if address in to
        ]


@pytest.fixture
def story(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture) -> Iterator[Story]:
    tree = config_tree(mailbox__backend="imap", pack__release="manual")
    tree["mailbox"]["imap"] = imap_account.config.model_dump()
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp_server.port, "security": "none"}
    app = App.open(parse_config(tree, tmp_path, env={}), Clock.frozen_at(RECEIVED))
    try:
        files = [f for f in samples.full_referral(CHILD) if f.filename != "Chronology.docx"]
        files.append(samples.File("Background.docx", samples.DOCX, prose_chronology()))
        mail = samples.Mail(REFERRER, "Referral for panel", files=files)
        imap_account.append(mail.as_bytes(), RECEIVED)
        poll(app)
        add_accounts(app)
        told = Story(app, "", smtp_server)
        # The cut-off at the December deadline defers the case: its chronology seems missing.
        told.tick(DEADLINE, times=2)
        server, thread, port = serve(told.at(NEXT_DAY))
        told.url = f"http://127.0.0.1:{port}"
        yield told
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        app.close()


def test_the_wrongly_deferred_case_is_put_right_and_its_pack_goes(story: Story, page: Page) -> None:
    # sign_in needs only the console's address.
    sign_in(page, story, Role.ADMINISTRATOR)  # type: ignore[arg-type]
    # The board: the case waits at the January meeting, deferred.
    board = page.locator("main").inner_text()
    january = board.index("12 January 2027")
    assert REF in board[january:], board
    assert axe_problems(page) == []
    page.get_by_role("link", name=REF).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(REF)
    assert axe_problems(page) == []

    # Sent without saying what the document is: the page says what to fix.
    document = page.get_by_label("Document", exact=True)
    background = document.locator("option", has_text="Background.docx").get_attribute("value")
    assert background is not None
    document.select_option(background)
    page.get_by_role("button", name="Reclassify").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_label("Document", exact=True)).to_have_value(background)
    assert axe_problems(page) == []
    page.get_by_role("link", name="Choose what kind of document it is").click()
    assert page.evaluate("() => document.activeElement.id") == "reclassify-kind"

    # Said right: the chronology is read as one, and the case is back in December.
    page.get_by_label("What it is").select_option("chronology")
    page.get_by_role("button", name="Reclassify").click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text(f"Background.docx (document {background}) is now read as")
    expect(banner).to_contain_text("2026-12-08")
    facts = page.locator("main").inner_text()
    assert "Tue 8 Dec 2026, 10:00" in facts
    subjects = [str(m["Subject"]) for m in story.received_by(CHILD.referrer_email)]
    [checked] = [s for s in subjects if "referral complete" in s]
    assert REF in checked
    assert "Audit trail" in facts and "reclassified" in facts and "admin@example.org" in facts

    # The December meeting holds it; once screened it is on the agenda.
    page.goto(f"{story.url}{DECEMBER}")
    cases = page.locator("table", has=page.locator("th", has_text="On the agenda"))
    expect(cases).to_contain_text(REF)
    story.tick(NEXT_DAY)
    service = story.at(NEXT_DAY + timedelta(hours=1))
    with service.store.session() as session:
        decide_by_administrator(service, session, REF, Decision(Verdict.APPROVE))
    page.reload()
    agenda = page.locator("main").inner_text()
    assert f"{REF}: " in agenda and "Waits for the administrator" in agenda
    assert axe_problems(page) == []

    # Slot notices go; the pack waits for the administrator's word.
    story.tick(PACK_DUE - timedelta(minutes=10))
    story.tick(PACK_DUE)
    assert not [raw for _, _, raw in story.smtp.messages if _pack(raw)]
    page.get_by_role("button", name="Agenda final — release the pack").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("the pack is released")
    expect(page.get_by_role("button", name="Agenda final — release the pack")).to_have_count(0)
    story.tick(PACK_DUE + timedelta(minutes=1))
    for member in ("admin@example.org", "chair@example.org"):
        [raw] = [raw for _, to, raw in story.smtp.messages if member in to and _pack(raw)]
        titles = [title for title, _, _ in outline(pack_reader(parse_sent(raw, member)))]
        assert any(title.startswith(REF) for title in titles), titles
    page.reload()
    versions = page.locator("main").inner_text()
    assert re.search(r"Version 1, made .*: \d+ pages, 1 case", versions), versions
    assert "chair@example.org" in versions


def _pack(raw: bytes) -> bool:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    names = [part.get_filename() or "" for part in message.walk()]
    return "pack" in str(message["Subject"]).lower() and any(n.endswith(".pdf") for n in names)
