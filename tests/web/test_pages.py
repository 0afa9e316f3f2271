"""The console's pages over a store filled by the real intake: the board, a case, the
screening queue, quarantine and held mail, and what their buttons do."""

from __future__ import annotations

import re

from sqlalchemy import select

from pipeline.states import CaseState
from pipeline.store.models import AuditEvent, Case
from pipeline.web.users import Role
from tests.web.conftest import FIRST, SCRIPT_NAME, Console, csrf_of, signed_in


def text_of(html: str) -> str:
    """A page's words, tags removed, spaces collapsed: what a person reads."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_board_lists_each_meeting_with_its_cases(console: Console) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get("/board")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Multi Agency Support Panel: Tuesday 8 December 2026" in words
    # Sunday 29 November 09:00 to Tuesday 1 December 12:00.
    assert "Documents due by Tue 1 Dec 2026, 12:00: 2 days 3 hours left" in words
    assert f"{FIRST} C.W. screening Nothing Asked 1 Service Manager(s) No answer" in words
    incomplete = console.references["incomplete"]
    row = re.search(rf"{incomplete} F.C. incomplete ([a-z, ]+) Not yet: documents missing", words)
    assert row is not None and "chronology" in row.group(1) and "assessment" in row.group(1)
    # The next meeting shows even with no case listed yet.
    assert "Tuesday 12 January 2027" in words
    # Initials only: no child's name on the board.
    assert "Child W1" not in words and "Formonly" not in words


def test_a_case_shows_its_emails_documents_fields_and_audit_trail(console: Console) -> None:
    page = signed_in(console, Role.CHAIR).get(f"/cases/{FIRST}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Child Child W1" in words
    assert "from Referrer 1 &lt;ref1@school.example.org&gt;" in words
    assert "Subject: Referral 1" in words
    for name in ("Referral form.docx", "Chronology.docx", "genogram.png", "EHA.docx"):
        assert name in words
    # Each field read, with its confidence and where it was read from.
    assert "child dob 2016-04-12 100% content control" in words
    assert "assessment type Early Help Assessment 90% text" in words
    # The audit trail names what happened; the screening request went to the manager.
    assert "Audit trail" in words and "sm@example.org" in page.text


def test_a_service_manager_sees_their_queue_and_only_those_cases(console: Console) -> None:
    client = signed_in(console, Role.SERVICE_MANAGER)
    queue = client.get("/screening")
    assert queue.status_code == 200
    words = text_of(queue.text)
    assert f"{FIRST} C.W. screening" in words
    assert console.references["incomplete"] not in words
    assert client.get(f"/cases/{FIRST}").status_code == 200
    # Never asked to screen the incomplete case: refused, on the server.
    refused = client.get(f"/cases/{console.references['incomplete']}")
    assert refused.status_code == 403
    assert "only the cases you were asked to screen" in refused.text
    assert client.get("/board").status_code == 403
    assert client.get("/").headers["location"] == "/screening"


def test_quarantine_lists_the_email_and_a_replay_that_fails_again_says_so(
    console: Console,
) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get("/mail")
    words = text_of(page.text)
    found = re.search(r"(\d+) [^<]*? big@school.example.org Big referral too large", words)
    assert found is not None, words
    ledger_id = found.group(1)
    answer = client.post(
        f"/mail/quarantine/{ledger_id}/replay", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/mail"
    after = text_of(client.get("/mail").text)
    assert f"Email {ledger_id} failed again and stays in quarantine." in after
    with console.app.store.session() as session:
        asked = session.scalars(select(AuditEvent).where(AuditEvent.action == "replay-asked"))
        assert [e.detail for e in asked] == [
            {"by": "web:admin@example.org", "message": int(ledger_id)}
        ]


def test_releasing_and_dismissing_held_cases(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get("/mail")
    held, held2 = console.references["held"], console.references["held2"]
    assert held in page.text and held2 in page.text
    token = csrf_of(page.text)
    released = client.post(f"/mail/held/{held}/release", data={"csrf_token": token})
    assert released.status_code == 303
    dismissed = client.post(f"/mail/held/{held2}/dismiss", data={"csrf_token": token})
    assert dismissed.status_code == 303
    words = text_of(client.get("/mail").text)
    assert f"{held} released as a referral of its own." in words
    assert f"{held2} dismissed: nothing was sent." in words
    assert "No case is held." in words
    with console.app.store.session() as session:
        one = session.scalar(select(Case).where(Case.reference == held))
        two = session.scalar(select(Case).where(Case.reference == held2))
        assert one is not None and two is not None
        assert one.state == CaseState.INCOMPLETE and one.meeting is not None
        assert two.state == CaseState.CLOSED
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.case_id.in_([one.id, two.id]),
                AuditEvent.action.in_(["released", "dismissed", "console"]),
            )
        ).all()
    # One row each, naming the person signed in (no second "console" row).
    assert sorted(action for action, _ in rows) == ["dismissed", "released"]
    assert {detail["by"] for _, detail in rows} == {"web:admin@example.org"}
    # Done twice is refused with the reason, not an error page from the server.
    again = client.post(f"/mail/held/{held2}/dismiss", data={"csrf_token": token})
    assert again.status_code == 400 and "the case is not held" in again.text


def test_a_childs_name_holding_markup_is_shown_as_text(console: Console) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get(f"/cases/{console.references['script']}")
    assert page.status_code == 200
    assert SCRIPT_NAME not in page.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt; Scriptkid" in page.text
