"""No single item stops the others (issue 9, item 1): a job of a tick, an email of a poll at
each stage (fetch, ledger, file, move), an email of the outbox."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import samples
from pipeline.app import App
from pipeline.intake.ledger import Ledger, header_message_id
from pipeline.intake.poll import poll, poll_once
from pipeline.jobs import Action, Job, run_due
from pipeline.mailbox.imap import fetched
from pipeline.mailbox.maildir import MaildirSender, MaildirSource
from pipeline.outbox.sender import deliver
from pipeline.store.models import AuditEvent, Message, OutboxItem
from tests.helpers import drop, numbered_referral, open_service, sent_mail

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADMIN = "admin@example.org"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    yield app
    app.close()


def referral(n: int) -> samples.Mail:
    return numbered_referral("Robust", n)


def acknowledged(app: App) -> list[str]:
    return sorted(s.to for s in sent_mail(app) if "referral received" in s.subject)


def source_of(app: App) -> MaildirSource:
    folders = app.config.mailbox.maildir
    return MaildirSource(app.config.path(folders.inbox), app.config.path(folders.processed))


# --- a tick ---------------------------------------------------------------------------------


def note(text: str) -> Action:
    def action(app: App, session: Session) -> None:
        session.add(AuditEvent(at=app.clock.now(), action=text, detail={}))

    return action


def test_a_job_failing_with_any_exception_stops_no_other_and_runs_again(service: App) -> None:
    broken = {"still": True}

    def agenda(app: App, session: Session) -> None:
        if broken["still"]:
            # What lxml raised for a control character in a form field.
            raise ValueError("All strings must be XML compatible")
        note("agenda")(app, session)

    def jobs(_app: App, _session: Session, _now: datetime) -> list[Job]:
        return [Job("a-agenda", NOW, agenda), Job("b-reminder", NOW, note("reminder"))]

    def failing_source(_app: App, _session: Session, _now: datetime) -> list[Job]:
        raise KeyError("a case the source could not read")

    def other_source(_app: App, _session: Session, _now: datetime) -> list[Job]:
        return [Job("c-slots", NOW, note("slots"))]

    first = run_due(service, [jobs, failing_source, other_source])
    assert first.failed == ["source:failing_source", "a-agenda"]
    assert first.done == ["b-reminder", "c-slots"]
    broken["still"] = False
    assert run_due(service, [jobs]).done == ["a-agenda"]
    with service.store.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["reminder", "slots", "agenda"]


# --- a poll, stage by stage -----------------------------------------------------------------


def test_a_stray_folder_in_the_inbox_does_not_stop_the_fetch(service: App) -> None:
    drop(service, referral(1), NOW)
    inbox = service.config.path(service.config.mailbox.maildir.inbox)
    (inbox / "new" / "1700000000.stray.folder").mkdir()
    drop(service, referral(2), NOW)
    report = poll(service)
    assert report.errors == []
    assert acknowledged(service) == ["ref1@school.example.org", "ref2@school.example.org"]


def test_a_message_whose_dates_cannot_be_read_is_still_ledgered(service: App) -> None:
    meta = b'1 (UID 7 INTERNALDATE "31-Feb-2026 25:61:00 +0000")'
    inbound = fetched("INBOX", 1, {7}, meta, referral(1).as_bytes())
    assert inbound is not None and inbound.received_at is None
    with service.store.session() as session:
        row = Ledger(service).record(session, inbound)
        assert row.received_at == NOW and row.status == "new"


def test_a_junk_message_id_is_not_ledgered_as_one(service: App) -> None:
    raw = referral(1).as_bytes()
    junk = raw.replace(b"Message-ID: <", b"Message-ID: <" + b"\xff" * 900, 1)
    assert header_message_id(raw) is not None
    assert header_message_id(junk) is None


def test_an_email_whose_stored_bytes_vanished_is_quarantined_and_the_next_is_filed(
    service: App,
) -> None:
    drop(service, referral(1), NOW)
    with source_of(service) as source:
        Ledger(service).ingest(source)
    with service.store.session() as session:
        [row] = session.scalars(select(Message))
        service.files.absolute(row.raw_path).unlink()
    drop(service, referral(2), NOW + timedelta(seconds=1))
    report = poll(service)
    assert report.filing.quarantined == 1 and report.filing.filed == 1
    assert acknowledged(service) == ["ref2@school.example.org"]
    poll(service)
    assert any("needs you" in s.subject for s in sent_mail(service) if s.to == ADMIN)


def test_an_email_that_cannot_be_moved_does_not_stop_the_others(service: App) -> None:
    keys = [drop(service, referral(n), NOW + timedelta(seconds=n)) for n in (1, 2)]
    processed = service.config.path(service.config.mailbox.maildir.processed)
    # Something in the way of the first message's move (a folder of the same name).
    (processed / "cur" / f"{keys[0]}:2,S").mkdir(parents=True)
    report = poll(service)
    assert report.errors == [] and report.moved == 1
    assert acknowledged(service) == ["ref1@school.example.org", "ref2@school.example.org"]
    with service.store.session() as session:
        moved = {uid: flag for uid, flag in session.execute(select(Message.uid, Message.moved))}
        assert moved == {keys[0]: False, keys[1]: True}


# --- the outbox -----------------------------------------------------------------------------


class BrokenForOne(MaildirSender):
    """A back-end with a bug that shows for one recipient only (as the SMTPUTF8 one did)."""

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if "ref1@school.example.org" in recipients:
            raise RuntimeError("a bug in the back-end")
        super().send(raw, sender, recipients)


def test_an_email_that_breaks_the_sender_fails_alone(service: App) -> None:
    for n in (1, 2, 3):
        drop(service, referral(n), NOW + timedelta(seconds=n))
    sender = BrokenForOne(service.config.path(service.config.mailbox.maildir.sent))
    with source_of(service) as source:
        report = poll_once(service, source, sender)
    assert report.errors == [] and report.delivery.sent == 2 and report.delivery.waiting == 1
    assert acknowledged(service) == ["ref2@school.example.org", "ref3@school.example.org"]
    with service.store.session() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
        [item] = [i for i in items if i.addresses == ["ref1@school.example.org"]]
        assert item.attempts == 1 and "RuntimeError" in (item.last_error or "")
        # Retried later, like any failed attempt.
        assert item.next_attempt_at > NOW
    assert deliver(service, sender).sent == 0
