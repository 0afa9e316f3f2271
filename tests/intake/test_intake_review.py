"""Intake faults a review found: replies to a case attached elsewhere or dismissed, forms that
name no child, forms naming an address we cannot write to, late Section 20 filings, and a
referrer who first wrote with a Reply-To. Each is driven through real intake (maildir)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake import overrides
from pipeline.intake.poll import deliver_configured, poll
from pipeline.store.models import Message, Slot
from tests.helpers import (
    config_tree,
    drop,
    open_service,
    sent_mail,
    sent_to,
    status_of,
    status_rows,
)
from tests.panel.test_slots import NOTICE, ics_field, ics_of, unscreened_case_at_notice

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
ADMIN = "admin@example.org"
FIRST, SECOND, THIRD = "MASP-2026-0001", "MASP-2026-0002", "MASP-2026-0003"
STRANGER = "mal@elsewhere.example.net"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    yield app
    app.close()


def form_of(child: samples.Child) -> samples.File:
    return samples.File("Referral form.docx", samples.DOCX, samples.referral_form(child))


def statuses(app: App) -> list[tuple[int, str, str | None]]:
    with app.store.session() as session:
        rows = session.scalars(select(Message).order_by(Message.id))
        return [(m.id, m.status, m.category) for m in rows]


def assert_nothing_quarantined(app: App) -> None:
    assert all(status != "quarantined" for _, status, _ in statuses(app)), statuses(app)


# 1. Replies to a case with no meeting: attached into another case, or dismissed.


def test_a_reply_to_a_case_attached_into_another_reaches_that_case(service: App) -> None:
    drop(service, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)[:1]), NOW)
    poll(service)
    corrected = samples.Child(dob=date(2016, 5, 12))
    fixed = samples.Mail(REFERRER, f"{FIRST} corrected form", files=[form_of(corrected)])
    drop(service, fixed, NOW + timedelta(minutes=5))
    poll(service)
    assert [r["reference"] for r in status_rows(service)] == [FIRST, SECOND]
    [ack] = [s for s in sent_to(service, CHILD.referrer_email) if SECOND in s.subject]
    with service.store.session() as session:
        overrides.attach(service, session, SECOND, FIRST, "cli:test", same_child=True)
    assessment = samples.File("EHA.docx", samples.DOCX, samples.assessment())
    answer = samples.Mail(
        REFERRER, f"Re: {ack.subject}", files=[assessment], in_reply_to=ack.message_id
    )
    drop(service, answer, NOW + timedelta(minutes=10))
    poll(service)
    assert_nothing_quarantined(service)
    first = status_of(service, FIRST)
    assert "EHA.docx" in [d["filename"] for d in first["documents"]]
    assert status_of(service, SECOND)["documents"] == []
    assert FIRST in sent_to(service, CHILD.referrer_email)[-1].subject


def held_from_stranger(app: App) -> samples.Mail:
    """A stranger quotes the first case's reference: their email is held as case 0002."""
    drop(app, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)), NOW)
    poll(app)
    chronology = samples.File("c.docx", samples.DOCX, samples.chronology(5))
    drop(app, samples.Mail(STRANGER, f"{FIRST} more", files=[chronology]), NOW)
    poll(app)
    assert status_of(app, SECOND)["state"] == "held"
    notice = sent_to(app, STRANGER)[-1]
    more = [samples.File("c2.docx", samples.DOCX, samples.chronology(6))]
    return samples.Mail(STRANGER, "Re: your email", files=more, in_reply_to=notice.message_id)


def test_a_reply_on_a_dismissed_case_goes_to_the_administrator(service: App) -> None:
    answer = held_from_stranger(service)
    with service.store.session() as session:
        overrides.dismiss(service, session, SECOND, "cli:test")
    before = len(sent_to(service, STRANGER))
    drop(service, answer, NOW + timedelta(minutes=5))
    poll(service)
    assert_nothing_quarantined(service)
    assert [r["reference"] for r in status_rows(service)] == [FIRST, SECOND]
    assert "c2.docx" in [d["filename"] for d in status_of(service, SECOND)["documents"]]
    # The administrator hears of it; the stranger is not answered about a dismissed case.
    assert any(SECOND in s.subject for s in sent_to(service, ADMIN)[-1:])
    assert len(sent_to(service, STRANGER)) == before


def test_a_strangers_reply_after_attaching_is_held_again(service: App) -> None:
    answer = held_from_stranger(service)
    with service.store.session() as session:
        overrides.attach(service, session, SECOND, None, "cli:test")
    drop(service, answer, NOW + timedelta(minutes=5))
    poll(service)
    assert_nothing_quarantined(service)
    # Followed to the case it was attached into, but the stranger has no standing there.
    assert status_of(service, THIRD)["state"] == "held"
    assert "c2.docx" not in [d["filename"] for d in status_of(service, FIRST)["documents"]]


# 2. A form that names no child never wipes the child's identity.


def test_a_form_naming_no_child_keeps_the_identity(service: App) -> None:
    drop(service, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)), NOW)
    poll(service)
    blank = samples.Child(name="", dob=CHILD.dob)
    drop(service, samples.Mail(REFERRER, f"{FIRST} form", files=[form_of(blank)]), NOW)
    poll(service)
    first = status_of(service, FIRST)
    assert first["fields"]["child_name"] == CHILD.name
    assert any("named no child" in flag for flag in first["flags"])
    other = samples.Child(name="Kit Otherchild", dob=date(2015, 2, 3))
    drop(service, samples.Mail(REFERRER, f"{FIRST} form", files=[form_of(other)]), NOW)
    poll(service)
    assert [r["reference"] for r in status_rows(service)] == [FIRST, SECOND]
    assert status_of(service, FIRST)["fields"]["child_name"] == CHILD.name
    assert status_of(service, SECOND)["fields"]["child_name"] == other.name


def test_a_form_naming_no_child_with_another_birth_date_opens_its_own_case(
    service: App,
) -> None:
    drop(service, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)), NOW)
    poll(service)
    blank = samples.Child(name="", dob=date(2019, 1, 2))
    drop(service, samples.Mail(REFERRER, f"{FIRST} form", files=[form_of(blank)]), NOW)
    poll(service)
    assert [r["reference"] for r in status_rows(service)] == [FIRST, SECOND]
    assert status_of(service, FIRST)["fields"]["child_dob"] == CHILD.dob.isoformat()


# 3. A forwarded form naming an address we cannot write to.


@pytest.mark.parametrize(
    "named",
    [
        "jo.@school.example.org",
        "jo..x@school.example.org",
        "noreply@school.example.org",
        "panel@example.org",
    ],
)
def test_a_form_naming_an_unusable_address_keeps_answering_the_sender(
    service: App, named: str
) -> None:
    child = samples.Child(referrer_email=named)
    duty = "duty@school.example.org"
    drop(
        service, samples.Mail(f"Duty <{duty}>", "Referral", files=samples.full_referral(child)), NOW
    )
    poll(service)
    case = status_of(service, FIRST)
    assert case["referrer"] == duty
    assert any("cannot write to" in flag for flag in case["flags"])
    [ack] = sent_to(service, duty)
    assert FIRST in ack.subject and named not in ack.to
    assert all(named not in s.to for s in sent_mail(service))


# 4. A Section 20 referral filed late goes to a meeting still to come.


def test_a_section20_referral_filed_late_goes_to_the_next_meeting_to_come(service: App) -> None:
    child = samples.Child(section20=True)
    sent = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)  # The day before the November meeting.
    mail = samples.Mail(REFERRER, "Referral", files=samples.full_referral(child))
    drop(service, mail, sent)
    poll(service)  # Filed on 29 November, after a backlog.
    case = status_of(service, FIRST)
    assert case["section20"]
    assert case["meeting"] == "2026-12-08"
    [alert] = [s for s in sent_mail(service) if "chair" in s.to.lower()]
    assert "8 December" in alert.text() and "10 November" not in alert.text()


def test_a_case_brought_forward_gives_up_its_timeslot(tmp_path: Path) -> None:
    # A complete case listed unscreened for 8 December is offered its timeslot on 3 December.
    app = unscreened_case_at_notice(tmp_path)
    [offer] = [s for s in sent_to(app, CHILD.referrer_email) if "timeslot" in s.subject]
    app.close()
    # An extra meeting is called for 4 December; then a form ticking Section 20 arrives.
    panel = config_tree()["panels"][0]
    extra = {**panel, "meetings": {**panel["meetings"], "add": ["2026-12-04"]}}
    later = NOTICE + timedelta(hours=1)
    app = open_service(tmp_path, later, screening={"unscreened": "list"}, panels=[extra])
    s20 = samples.Child(section20=True)
    drop(app, samples.Mail(REFERRER, f"{FIRST} form", files=[form_of(s20)]), later)
    poll(app)
    deliver_configured(app)
    assert status_of(app, FIRST)["meeting"] == "2026-12-04"
    [moved] = [s for s in sent_to(app, CHILD.referrer_email) if "Section 20 emergency" in s.subject]
    assert "withdrawn" in moved.text() and "10:00 to 10:30" in moved.text()
    cancel = ics_of(moved)
    assert "METHOD:CANCEL" in cancel and ics_field(cancel, "UID") == ics_field(ics_of(offer), "UID")
    with app.store.session() as session:
        assert list(session.scalars(select(Slot))) == []
    app.close()


# 5. A referrer who first wrote with a Reply-To keeps standing from their From address.


def test_the_from_address_of_a_referral_sent_with_a_reply_to_may_add_to_it(
    service: App,
) -> None:
    desk = "Safeguarding <safeguarding@school.example.org>"
    reply_to = {"Reply-To": CHILD.referrer_email}
    first = samples.Mail(desk, "Referral", files=samples.full_referral(CHILD)[:2], headers=reply_to)
    drop(service, first, NOW)
    poll(service)
    assessment = samples.File("EHA.docx", samples.DOCX, samples.assessment())
    drop(service, samples.Mail(desk, f"{FIRST} assessment", files=[assessment]), NOW)
    poll(service)
    assert [(r["reference"], r["state"]) for r in status_rows(service)] == [
        (FIRST, status_of(service, FIRST)["state"])
    ]
    assert "EHA.docx" in [d["filename"] for d in status_of(service, FIRST)["documents"]]
    assert status_of(service, FIRST)["referrer"] == CHILD.referrer_email


def test_a_stranger_with_a_reply_to_gains_no_standing_for_another_address(
    service: App,
) -> None:
    drop(service, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)), NOW)
    poll(service)
    chronology = samples.File("c.docx", samples.DOCX, samples.chronology(5))
    quoting = samples.Mail(
        STRANGER, f"{FIRST} more", files=[chronology], headers={"Reply-To": CHILD.referrer_email}
    )
    drop(service, quoting, NOW)
    poll(service)
    assert status_of(service, SECOND)["state"] == "held"
