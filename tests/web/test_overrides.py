"""The administrator's overrides on the case page (R17), the meetings pages and the quarterly
picture, over a store filled by the real intake: what each form does, what a refusal shows, and
who may post them."""

from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from pipeline.states import CaseState
from pipeline.store.models import AuditEvent, Case, OutboxItem
from pipeline.web.users import Role
from tests.helpers import sent_to
from tests.web.conftest import FIRST, Console, csrf_of, signed_in
from tests.web.test_pages import text_of

ADMIN = "web:admin@example.org"
# Every override the case page posts, and the meeting page's release (on case FIRST).
POSTS = [
    f"/cases/{FIRST}/reclassify",
    f"/cases/{FIRST}/accept",
    f"/cases/{FIRST}/move",
    f"/cases/{FIRST}/withdraw",
    f"/cases/{FIRST}/close",
    f"/cases/{FIRST}/address",
    f"/cases/{FIRST}/emails/1/resend",
    "/meetings/masp/2026-12-08/release",
]


def reference_of(console: Console, referrer: str) -> str:
    with console.app.store.session() as session:
        found = session.scalar(select(Case.reference).where(Case.referrer_email == referrer))
    assert found is not None
    return found


def case_row(console: Console, reference: str) -> Case:
    with console.app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        session.expunge(case)
        return case


def document_id(page: str, filename: str) -> str:
    found = re.search(rf'<option value="(\d+)">{re.escape(filename)} \(document', page)
    assert found, f"{filename} is not offered"
    return found.group(1)


def audited(console: Console, reference: str, action: str) -> list[dict[str, object]]:
    case = case_row(console, reference)
    with console.app.store.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.detail).where(
                    AuditEvent.case_id == case.id, AuditEvent.action == action
                )
            )
        )


def test_only_the_administrator_sees_the_forms(console: Console) -> None:
    admin = signed_in(console, Role.ADMINISTRATOR).get(f"/cases/{FIRST}")
    assert "Put it right" in admin.text and 'name="reclassify-kind"' in admin.text
    # The withdrawal's words are there to edit, pre-filled.
    assert re.search(r'<textarea[^>]*id="withdraw-message"[^>]*>\s*\S', admin.text)
    chair = signed_in(console, Role.CHAIR).get(f"/cases/{FIRST}")
    assert chair.status_code == 200 and "Put it right" not in chair.text


@pytest.mark.parametrize("path", POSTS)
def test_a_post_without_its_csrf_token_is_refused(console: Console, path: str) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    answer = client.post(path, data={"reclassify-kind": "other", "move-day": "2027-01-12"})
    assert answer.status_code == 403
    assert "it was not sent from this console" in answer.text


@pytest.mark.parametrize("role", [Role.CHAIR, Role.MEMBER, Role.SERVICE_MANAGER])
@pytest.mark.parametrize("path", POSTS)
def test_only_the_administrator_may_post(console: Console, role: Role, path: str) -> None:
    client = signed_in(console, role)
    own_page = {Role.CHAIR: "/board", Role.MEMBER: "/packs", Role.SERVICE_MANAGER: "/screening"}
    token = csrf_of(client.get(own_page[role]).text)
    answer = client.post(path, data={"csrf_token": token, "withdraw-message": "Gone."})
    assert answer.status_code == 403
    assert "Your role does not let you open this page." in answer.text
    assert case_row(console, FIRST).state != CaseState.WITHDRAWN


def test_a_form_sent_incomplete_says_what_to_fix_and_keeps_what_was_typed(
    console: Console,
) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{FIRST}").text
    genogram = document_id(page, "genogram.png")
    answer = client.post(
        f"/cases/{FIRST}/reclassify",
        data={"csrf_token": csrf_of(page), "reclassify-document": genogram},
    )
    assert answer.status_code == 400
    words = text_of(answer.text)
    assert "There is a problem" in words and "Error: Choose what kind of document it is" in words
    assert '<a href="#reclassify-kind">Choose what kind of document it is</a>' in answer.text
    assert f'<option value="{genogram}" selected>' in answer.text
    assert 'aria-describedby="reclassify-kind-error"' in answer.text
    assert answer.text.count("<title>Error: ") == 1


def test_a_refused_address_names_the_problem_by_its_field(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{FIRST}").text
    answer = client.post(
        f"/cases/{FIRST}/address",
        data={"csrf_token": csrf_of(page), "address-email": "not an address"},
    )
    assert answer.status_code == 400
    assert 'id="address-email-error"' in answer.text
    assert 'value="not an address"' in answer.text
    assert case_row(console, FIRST).referrer_email == "ref1@school.example.org"


def test_reclassifying_a_chronology_re_runs_the_rules_and_tells_the_referrer(
    console: Console,
) -> None:
    reference = reference_of(console, "ref2@school.example.org")
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{reference}").text
    chronology = document_id(page, "Chronology.docx")
    answer = client.post(
        f"/cases/{reference}/reclassify",
        data={
            "csrf_token": csrf_of(page),
            "reclassify-document": chronology,
            "reclassify-kind": "other",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/cases/{reference}"
    # What the banner will say names the file: it waits on the server, never in the cookie
    # (signed, not encrypted).
    cookie = answer.headers.get("set-cookie", "") + str(client.cookies.jar)
    assert "Chronology" not in cookie
    assert b"Chronology" not in base64.b64decode(
        client.cookies["masp_session"].split(".")[0] + "=="
    )
    after = client.get(f"/cases/{reference}")
    words = text_of(after.text)
    said = f"{reference}: Chronology.docx (document {chronology}) is now read as other."
    assert said in words and "Still needed chronology" in words
    assert audited(console, reference, "reclassified")[0]["by"] == ADMIN
    told = sent_to(console.app, "ref2@school.example.org")[-1]
    assert reference in told.subject and "chronology" in told.text().lower()


def test_a_document_made_out_of_and_back_into_the_referral_form(console: Console) -> None:
    reference = console.references["script"]
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{reference}").text
    assert '<option value="referral_form">Referral form</option>' in page
    form, chronology = document_id(page, "Referral form.docx"), document_id(page, "Chronology.docx")

    def post(document: str, kind: str) -> str:
        token = csrf_of(client.get(f"/cases/{reference}").text)
        data = {"csrf_token": token, "reclassify-document": document, "reclassify-kind": kind}
        answer = client.post(f"/cases/{reference}/reclassify", data=data)
        if answer.status_code == 303:
            return text_of(client.get(f"/cases/{reference}").text)
        assert answer.status_code == 400
        return text_of(answer.text)

    refused = post(chronology, "referral_form")
    assert f"document {chronology} was not made the referral form" in refused
    assert "could not be read as a referral form" in refused
    out = post(form, "other")
    assert "No other referral form is left" in out and "Still needed referral form" in out
    back = post(form, "referral_form")
    assert "answers (child, request, consent) are read from it" in back
    assert "Still needed Nothing" in back
    events = audited(console, reference, "reclassified")
    assert [(e["now"], e["by"]) for e in events] == [("other", ADMIN), ("referral_form", ADMIN)]


def test_moving_a_case_to_another_meeting(console: Console) -> None:
    reference = reference_of(console, "ref3@school.example.org")
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{reference}").text
    assert '<optgroup label="Multi Agency Support Panel (its panel now)">' in page
    assert '<option value="masp/2027-01-12">Tuesday 12 January 2027, 10:00</option>' in page
    answer = client.post(
        f"/cases/{reference}/move",
        data={"csrf_token": csrf_of(page), "move-day": "masp/2027-01-12"},
    )
    assert answer.status_code == 303
    words = text_of(client.get(f"/cases/{reference}").text)
    assert "Meeting Tue 12 Jan 2027, 10:00" in words
    assert audited(console, reference, "moved")[0]["by"] == ADMIN
    meeting = client.get("/meetings/masp/2027-01-12")
    assert f"{reference} C.W. screening Not yet" in text_of(meeting.text)
    assert reference not in text_of(client.get("/meetings/masp/2026-12-08").text)


def test_withdrawing_sends_the_words_the_administrator_wrote(console: Console) -> None:
    reference = console.references["incomplete"]
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{reference}").text
    empty = client.post(
        f"/cases/{reference}/withdraw", data={"csrf_token": csrf_of(page), "withdraw-message": " "}
    )
    assert empty.status_code == 400
    assert "Write what the referrer is told" in empty.text
    words = "The family has moved away; we have withdrawn the referral as you asked."
    answer = client.post(
        f"/cases/{reference}/withdraw",
        data={"csrf_token": csrf_of(page), "withdraw-message": words},
    )
    assert answer.status_code == 303
    assert case_row(console, reference).state == CaseState.WITHDRAWN
    told = sent_to(console.app, "ref8@school.example.org")[-1]
    assert words in " ".join(told.text().split())
    assert audited(console, reference, "withdrawn")[0]["by"] == ADMIN


def test_re_sending_an_email_of_the_case(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{FIRST}").text
    found = re.search(r'action="/cases/[^/]+/emails/(\d+)/resend"', page)
    assert found is not None
    sent_id = int(found.group(1))
    before = len(sent_to(console.app, "ref1@school.example.org"))
    answer = client.post(
        f"/cases/{FIRST}/emails/{sent_id}/resend", data={"csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 303
    words = text_of(client.get(f"/cases/{FIRST}").text)
    assert re.search(rf"Email {sent_id} queued again as email \d+\.", words)
    with console.app.store.session() as session:
        copy = session.scalar(select(OutboxItem).where(OutboxItem.purpose == f"resend:{sent_id}:1"))
        assert copy is not None and copy.status == "sent"
    assert len(sent_to(console.app, "ref1@school.example.org")) == before + 1
    # An email of another case cannot be re-sent from this one.
    other = console.references["script"]
    wrong = client.post(
        f"/cases/{other}/emails/{sent_id}/resend", data={"csrf_token": csrf_of(page)}
    )
    assert wrong.status_code == 400 and f"has no sent email {sent_id}" in wrong.text


def test_the_meetings_pages(console: Console) -> None:
    client = signed_in(console, Role.CHAIR)
    listing = text_of(client.get("/meetings").text)
    assert "Coming meetings" in listing and "Tue 8 Dec 2026, 10:00" in listing
    page = client.get("/meetings/masp/2026-12-08")
    assert page.status_code == 200
    words = text_of(page.text)
    # Waiting for its screening: at the meeting, not yet on its agenda.
    assert "3. Cases presented No cases are listed for this meeting." in words
    assert f"{FIRST} C.W. screening Not yet" in words
    assert "Goes by itself after the slot notices." in words
    assert "No pack has been made for this meeting yet." in words
    assert client.get("/meetings/masp/2026-12-09").status_code == 404
    assert client.get("/meetings/nopanel/2026-12-08").status_code == 404
    # Packs go by themselves here (pack.release: auto): the administrator is told so.
    admin = signed_in(console, Role.ADMINISTRATOR)
    token = csrf_of(admin.get("/meetings").text)
    refused = admin.post("/meetings/masp/2026-12-08/release", data={"csrf_token": token})
    assert refused.status_code == 400 and "pack.release is auto" in refused.text


def test_the_quarterly_picture(console: Console) -> None:
    client = signed_in(console, Role.CHAIR)
    page = client.get("/quarterly")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "quarterly picture, 2026Q3" in words
    pictures = re.findall(r'src="(/quarterly/2026Q3/charts/[a-z_]+\.png)"', page.text)
    assert pictures
    chart = client.get(pictures[0])
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    book = client.get("/quarterly/2026Q3/workbook.xlsx")
    assert book.status_code == 200 and book.content.startswith(b"PK")
    assert "quarterly-2026Q3.xlsx" in book.headers["content-disposition"]
    assert client.get("/quarterly/2026Q9").status_code == 404
    member = signed_in(console, Role.MEMBER)
    assert member.get("/quarterly").status_code == 403
    assert member.get(pictures[0]).status_code == 403


def test_a_choice_left_out_is_said_by_its_own_field(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get(f"/cases/{FIRST}").text
    answer = client.post(
        f"/cases/{FIRST}/reclassify",
        data={"csrf_token": csrf_of(page), "reclassify-kind": "chronology"},
    )
    assert answer.status_code == 400
    assert '<a href="#reclassify-document">Choose the document to reclassify</a>' in answer.text
    assert '<option value="chronology" selected>' in answer.text
