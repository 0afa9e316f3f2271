"""R5: a form for a different child (name and date of birth) never supersedes the case's form:
it opens its own case, linked, and the administrator is told — for replies too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from tests.helpers import drop, open_service, sent_to, status_of, status_rows

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SCHOOL = samples.Child()
REFERRER = f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>"
SIBLING = samples.Child(name="Sam Othername", dob=date(2018, 9, 30))
FIRST, SECOND = "MASP-2026-0001", "MASP-2026-0002"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    drop(app, samples.Mail(REFERRER, "Referral", files=samples.full_referral(SCHOOL)), NOW)
    poll(app)
    yield app
    app.close()


def form_of(child: samples.Child, name: str = "Referral form v2.docx") -> samples.File:
    return samples.File(name, samples.DOCX, samples.referral_form(child))


def reply(service: App, files: list[samples.File]) -> samples.Mail:
    [ack] = sent_to(service, SCHOOL.referrer_email)
    return samples.Mail(REFERRER, f"Re: {ack.subject}", in_reply_to=ack.message_id, files=files)


def assert_first_case_untouched(service: App) -> None:
    first = status_of(service, FIRST)
    assert first["fields"]["child_name"] == SCHOOL.name
    assert not any(d["superseded"] for d in first["documents"])
    assert len(first["documents"]) == 4


def test_a_reply_with_another_childs_form_opens_a_linked_case(service: App) -> None:
    chronology = samples.File("Sam chronology.docx", samples.DOCX, samples.chronology())
    drop(service, reply(service, [form_of(SIBLING), chronology]), NOW + timedelta(minutes=5))
    poll(service)
    assert_first_case_untouched(service)
    second = status_of(service, SECOND)
    assert second["fields"]["child_name"] == SIBLING.name
    assert sorted(d["filename"] for d in second["documents"]) == [
        "Referral form v2.docx",
        "Sam chronology.docx",
    ]
    assert second["referrer"] == SCHOOL.referrer_email
    assert any(FIRST in flag and "different child" in flag for flag in second["flags"])
    assert any(SECOND in flag for flag in status_of(service, FIRST)["flags"])
    ack = sent_to(service, SCHOOL.referrer_email)[-1]
    assert SECOND in ack.subject and "referral received" in ack.subject
    [alert] = [s for s in sent_to(service, "admin@example.org") if "different child" in s.subject]
    assert FIRST in alert.text() and SECOND in alert.text()


def test_a_reference_in_the_subject_with_another_childs_form_opens_a_linked_case(
    service: App,
) -> None:
    mail = samples.Mail(REFERRER, f"{FIRST} second referral", files=[form_of(SIBLING)])
    drop(service, mail, NOW + timedelta(minutes=5))
    poll(service)
    assert_first_case_untouched(service)
    assert [c["reference"] for c in status_rows(service)] == [FIRST, SECOND]


def test_a_form_without_a_date_of_birth_is_compared_by_name(service: App) -> None:
    nameless = samples.File("form.docx", samples.DOCX, _form_without_dob(SIBLING.name))
    drop(service, reply(service, [nameless]), NOW + timedelta(minutes=5))
    poll(service)
    assert_first_case_untouched(service)
    assert len(status_rows(service)) == 2


def test_the_same_childs_corrected_form_still_supersedes(service: App) -> None:
    drop(service, reply(service, [form_of(SCHOOL)]), NOW + timedelta(minutes=5))
    poll(service)
    [case] = status_rows(service)
    forms = [d for d in case["documents"] if d["kind"] == "referral_form"]
    assert [(d["version"], d["superseded"]) for d in forms] == [(1, True), (2, False)]


def _form_without_dob(name: str) -> bytes:
    from pipeline.documents.form import fill_form

    return fill_form(
        {
            "panel": "MASP",
            "child_name": name,
            "referrer_name": SCHOOL.referrer_name,
            "referrer_email": SCHOOL.referrer_email,
            "request_types": ["multi_agency_package"],
            "consent": True,
        }
    )
