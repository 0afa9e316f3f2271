"""Emails the outbox held for the administrator, listed on the mail page and released from it
as `masp outbox release` does."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from pipeline.cli import app as cli
from pipeline.outbox.queue import Draft, enqueue
from pipeline.states import OutboxState
from pipeline.store.models import AuditEvent, OutboxItem
from pipeline.web.users import Role
from tests.helpers import open_service, sent_mail
from tests.web.conftest import NOW, Console, csrf_of, signed_in
from tests.web.test_pages import text_of

OUTSIDER = "someone@elsewhere.example.net"


def held_email(console: Console, purpose: str) -> int:
    """An email queued to an address outside the allowed domains: the outbox holds it."""
    draft = Draft(
        purpose=purpose,
        template="could_not_process",
        to=(OUTSIDER,),
        context={"panel_address": "panel@example.org"},
    )
    with console.app.store.session() as session:
        item = enqueue(console.app, session, draft)
        assert item.status == OutboxState.HELD
        return item.id


def test_a_held_email_is_listed_with_why_and_released_it_is_sent(console: Console) -> None:
    outbox_id = held_email(console, "test:held:1")
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get("/mail")
    words = text_of(page.text)
    # Its id, when it was queued, to whom and about what, and why it is held.
    row = (
        rf"{outbox_id} [^<]*? {re.escape(OUTSIDER)} Your email to the panel has been passed to "
        r"the administrator recipient is not the referrer, a configured person or an allowed "
        r"domain Release email"
    )
    assert re.search(row, words), words
    assert (
        "it is sent at once (if the mail server cannot be reached, at the service's next" in words
    )
    assert not [s for s in sent_mail(console.app) if OUTSIDER in s.to]
    answer = client.post(
        f"/mail/outbox/{outbox_id}/release", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/mail"
    after = text_of(client.get("/mail").text)
    assert f"Email {outbox_id} released and sent." in after
    assert "No email is held by the outbox." in after
    [sent] = [s for s in sent_mail(console.app) if OUTSIDER in s.to]
    assert sent.subject == "Your email to the panel has been passed to the administrator"
    with console.app.store.reading() as session:
        released = session.scalars(select(AuditEvent).where(AuditEvent.action == "released"))
        assert [e.detail for e in released if e.detail.get("outbox") == outbox_id] == [
            {"outbox": outbox_id, "by": "web:admin@example.org"}
        ]


def test_releasing_needs_the_administrator_and_the_csrf_token(console: Console) -> None:
    outbox_id = held_email(console, "test:held:2")
    path = f"/mail/outbox/{outbox_id}/release"
    admin = signed_in(console, Role.ADMINISTRATOR)
    assert admin.post(path, data={}).status_code == 403
    assert admin.post(path, data={"csrf_token": "forged"}).status_code == 403
    member = signed_in(console, Role.MEMBER)
    # With the member's own session token (from the page a member lands on): refused by role.
    token = csrf_of(member.get("/", follow_redirects=True).text)
    refused = member.post(path, data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Your role does not let you open this page." in refused.text
    assert member.get("/mail").status_code == 403
    with console.app.store.reading() as session:
        item = session.get(OutboxItem, outbox_id)
        assert item is not None and item.status == OutboxState.HELD
    # Released once; asked again, refused with the reason.
    token = csrf_of(admin.get("/mail").text)
    assert admin.post(path, data={"csrf_token": token}).status_code == 303
    again = admin.post(path, data={"csrf_token": token})
    assert again.status_code == 404 and f"no held email with id {outbox_id}" in again.text


def test_the_command_releases_as_the_page_does_and_names_who(tmp_path: Path) -> None:
    service = open_service(tmp_path, NOW)
    try:
        draft = Draft(
            purpose="test:held:cli",
            template="could_not_process",
            to=(OUTSIDER,),
            context={"panel_address": "panel@example.org"},
        )
        with service.store.session() as session:
            outbox_id = enqueue(service, session, draft).id
        config = str(tmp_path / "config.yaml")
        args = ["--config", config, "--now", NOW.isoformat(), "outbox", "release"]
        done = CliRunner().invoke(cli, [*args, str(outbox_id)])
        assert done.exit_code == 0, done.output
        assert f"Released email {outbox_id}." in done.output
        assert [s.to for s in sent_mail(service) if OUTSIDER in s.to] == [OUTSIDER]
        with service.store.reading() as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "released"))
            assert [r.detail for r in rows] == [
                {"outbox": outbox_id, "by": f"cli:{getpass.getuser()}"}
            ]
        again = CliRunner().invoke(cli, [*args, str(outbox_id)])
        assert again.exit_code == 1 and "no held email" in str(again.exception)
    finally:
        service.close()
