"""R10 each revision of a timeslot's calendar entry goes out at a higher SEQUENCE (RFC 5546).

A calendar program keeps the revision of an event (by UID) with the highest SEQUENCE and
ignores one that is not newer. So a slot taken back (CANCEL) and given again at the same
meeting must arrive as a newer revision, or the referrer's calendar keeps it cancelled.
End to end: the referral and the answers come in through intake, the jobs run through tick
and `masp screen`, and the calendar parts are read with icalendar from what was sent (the SMTP
server's capture, or the maildir back-end's sent folder).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from pipeline.panel.slots import slot_jobs
from pipeline.panel.unheard import unheard_jobs
from pipeline.store.models import Slot
from tests.calendar_replies import Answer, apple, gmail, outlook
from tests.helpers import drop, open_service, parse_sent
from tests.panel.test_cutoff import JANUARY
from tests.panel.test_screening import (
    MANAGER,
    NOW,
    OTHER,
    SCHOOL,
    answer,
    audits,
    case_row,
    more_documents,
    referral,
    reply,
    request_mail,
    tick_only,
    to,
)
from tests.panel.test_slots import MEETING, NOTICE, approved_case, at_time
from tests.panel.test_stranded import CANCEL_DECEMBER, JAN_NOTICE
from tests.servers import ImapAccount, SmtpCapture

ADMIN = "admin@example.org"
DECLINED_AT = NOTICE + timedelta(minutes=2)
APPROVED_AT = NOTICE + timedelta(minutes=4)


@dataclass(frozen=True)
class Revision:
    """One calendar part of one email, as a calendar program reads it."""

    method: str
    uid: str
    sequence: int
    stamp: datetime
    starts_at: datetime
    summary: str


def revisions(raws: Iterable[bytes]) -> list[Revision]:
    """Every text/calendar part of these emails, in the order they were sent."""
    found = []
    for raw in raws:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            calendar = icalendar.Calendar.from_ical(data)
            [event] = calendar.walk("VEVENT")
            found.append(
                Revision(
                    str(calendar["METHOD"]),
                    str(event["UID"]),
                    int(str(event["SEQUENCE"])),
                    event.decoded("DTSTAMP"),
                    event.decoded("DTSTART"),
                    str(event["SUMMARY"]),
                )
            )
    return found


def sent_revisions(app: App, address: str) -> list[Revision]:
    return revisions(s.raw for s in to(app, address))


def outline(found: list[Revision]) -> list[tuple[str, str, int]]:
    return [(r.method, r.uid, r.sequence) for r in found]


def screen(folder: Path, when: datetime, reference: str, *decision: str) -> None:
    """The administrator's `masp screen` at `when`."""
    base = ["--config", str(folder / "config.yaml"), "--now", when.isoformat()]
    result = CliRunner().invoke(cli, [*base, "screen", reference, *decision])
    assert result.exit_code == 0, result.output


def given_again(folder: Path, app: App, **overrides: Any) -> App:
    """At the slot notice the first case gets its slot; the administrator then declines it and
    approves it again, and the slot jobs run (twice: the second is a replay). The service is
    returned at that time."""
    app.close()
    app = open_service(folder, NOTICE, **overrides)
    tick_only(app, slot_jobs)
    reference = case_row(app).reference
    app.close()
    screen(folder, DECLINED_AT, reference, "decline", "--reason", "Already has a plan.")
    screen(folder, APPROVED_AT, reference, "approve")
    app = open_service(folder, APPROVED_AT, **overrides)
    tick_only(app, slot_jobs)
    tick_only(app, slot_jobs)
    return app


def answering(invitation: Revision, **changes: Any) -> Answer:
    """The referrer's calendar program accepting this revision of the invitation."""
    found = Answer(
        uid=invitation.uid,
        summary=invitation.summary,
        starts_at=invitation.starts_at,
        ends_at=invitation.starts_at + timedelta(minutes=30),
        sender=SCHOOL.referrer_email,
        sender_name=SCHOOL.referrer_name,
        sequence=invitation.sequence,
    )
    return replace(found, **changes)


def slot_answers(app: App) -> dict[str, str | None]:
    """Each slot's recorded attendance, by its start time (HH:MM UTC)."""
    with app.store.session() as session:
        return {f"{s.starts_at:%H:%M}": s.attendance for s in session.scalars(select(Slot))}


def refusals(app: App) -> list[str]:
    return [str(a["why"]) for a in audits(app, "attendance-refused")]


# --- Through a real IMAP server and a real SMTP server -----------------------------------------


def on_servers(account: ImapAccount, smtp: SmtpCapture) -> dict[str, Any]:
    return {
        "mailbox__backend": "imap",
        "mailbox__imap": account.config.model_dump(),
        "mailbox__smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"},
        "limits__allowed_recipient_domains": ["example.org", "school.example.org"],
    }


def received(smtp: SmtpCapture, address: str) -> list[bytes]:
    return [raw for _, rcpts, raw in smtp.messages if address in rcpts]


@pytest.mark.servers
def test_a_slot_taken_back_and_given_again_reaches_the_calendar_as_a_newer_revision(
    tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    servers = on_servers(imap_account, smtp_server)
    app = open_service(tmp_path, NOW, **servers)
    imap_account.append(referral().as_bytes(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    [request] = received(smtp_server, MANAGER)
    imap_account.append(reply(parse_sent(request, MANAGER), "APPROVE").as_bytes(), NOW)
    poll(app)
    app = given_again(tmp_path, app, **servers)

    found = revisions(received(smtp_server, SCHOOL.referrer_email))
    uid = found[0].uid
    assert outline(found) == [("REQUEST", uid, 0), ("CANCEL", uid, 1), ("REQUEST", uid, 2)]
    # Each revision is stamped by the service's one clock, when it was written.
    assert [r.stamp for r in found] == [NOTICE, DECLINED_AT, APPROVED_AT]
    assert found[2].starts_at == MEETING

    # The referrer accepts the newest invitation: the answer is recorded.
    imap_account.append(outlook(answering(found[2])), APPROVED_AT)
    poll(app)
    assert slot_answers(app) == {"10:00": "yes"}
    [recorded] = audits(app, "attendance")
    assert recorded["via"] == "calendar" and refusals(app) == []
    app.close()


# --- On the maildir back-end -------------------------------------------------------------------


def test_a_late_slot_taken_back_for_more_information_is_given_again_once_approved(
    tmp_path: Path,
) -> None:
    app = open_service(tmp_path, NOW)
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    app = at_time(tmp_path, app, NOTICE)
    tick_only(app, slot_jobs)
    # Approved after the slot notice: the case gets its slot from a job of its own.
    answer(app, reply(request_mail(app), "APPROVE"))
    tick_only(app, slot_jobs)
    reference = case_row(app).reference
    app.close()
    screen(tmp_path, DECLINED_AT, reference, "more-info", "--reason", "The school report.")
    app = open_service(tmp_path, NOTICE + timedelta(hours=2))
    asked = to(app, SCHOOL.referrer_email)[-1]
    assert "more information" in asked.subject
    answer(app, more_documents(asked), minutes=1)
    tick_only(app)
    answer(app, reply(request_mail(app, 1), "APPROVE"), minutes=0)
    assert case_row(app).state == "approved"
    tick_only(app, slot_jobs)
    tick_only(app, slot_jobs)

    found = sent_revisions(app, SCHOOL.referrer_email)
    uid = found[0].uid
    assert outline(found) == [("REQUEST", uid, 0), ("CANCEL", uid, 1), ("REQUEST", uid, 2)]
    assert found[2].starts_at == MEETING
    # An answer to the first invitation, for the time the slot still has, still counts.
    drop(app, apple(answering(found[0], partstat="TENTATIVE")), app.clock.now())
    poll(app)
    assert slot_answers(app) == {"10:00": "maybe"}
    app.close()


def test_an_answer_to_an_earlier_time_is_not_recorded_and_the_administrator_is_told(
    tmp_path: Path,
) -> None:
    app = approved_case(tmp_path)
    drop(app, referral(OTHER), NOW - timedelta(minutes=30))
    poll(app)
    tick_only(app)
    answer(app, reply(request_mail(app, 1), "APPROVE"))
    app = given_again(tmp_path, app)
    reference = case_row(app).reference

    first, _, newest = sent_revisions(app, SCHOOL.referrer_email)
    assert (newest.method, newest.sequence) == ("REQUEST", 2)
    # 10:00 went free when it was taken back; 10:30 is the other case's: it is now 11:00.
    assert (first.starts_at, newest.starts_at) == (MEETING, MEETING + timedelta(hours=1))
    # The referrer's calendar answers the first invitation, for 10:00, after the newest went.
    drop(app, gmail(answering(first)), APPROVED_AT)
    poll(app)
    assert slot_answers(app) == {"10:30": None, "11:00": None}
    [why] = refusals(app)
    assert "earlier invitation" in why
    [alert] = to(app, ADMIN)
    assert reference in alert.subject and "earlier invitation" in alert.text()
    # Their answer to the newest invitation counts.
    drop(app, gmail(answering(newest, partstat="DECLINED")), APPROVED_AT)
    poll(app)
    assert slot_answers(app) == {"10:30": None, "11:00": "no"}
    app.close()


def test_a_case_moved_on_is_cancelled_at_its_newest_sequence_and_invited_afresh(
    tmp_path: Path,
) -> None:
    given_again(tmp_path, approved_case(tmp_path)).close()
    # The December meeting is then cancelled: the case moves to January, slot and all.
    app = open_service(tmp_path, datetime(2026, 12, 4, 9, 0, tzinfo=UTC), **CANCEL_DECEMBER)
    tick_only(app, unheard_jobs)
    assert case_row(app).meeting == JANUARY
    app.close()
    app = open_service(tmp_path, JAN_NOTICE, **CANCEL_DECEMBER)
    tick_only(app, slot_jobs)

    found = sent_revisions(app, SCHOOL.referrer_email)
    december, january = found[0].uid, found[-1].uid
    assert december != january
    assert outline(found) == [
        ("REQUEST", december, 0),
        ("CANCEL", december, 1),
        ("REQUEST", december, 2),
        # Cancelled after the third revision: as the fourth, or the calendar keeps the entry.
        ("CANCEL", december, 3),
        # Another meeting is another calendar entry: its first revision.
        ("REQUEST", january, 0),
    ]
    assert found[-1].starts_at == JANUARY
    # A late answer to the December invitation is for a slot that no longer exists.
    drop(app, outlook(answering(found[2])), JAN_NOTICE)
    poll(app)
    assert slot_answers(app) == {"10:00": None}
    assert refusals(app) == ["its timeslot was withdrawn"]
    app.close()
