"""The months after the meetings (R13, R14, R15), played by `story.play` through the real `masp`
command against a real Dovecot, a real SMTP server and real LibreOffice, moving the clock with
`--now` from January's meeting (Tuesday 13 January 2026) to April's (Tuesday 14 April).

January: the decisions workbook comes with the pack; the administrator's first reply has three
mistakes and changes nothing; a forgery is refused; the corrected workbook records A, B and E;
the decision sheets reach the referrers the next morning, B's papers go to the resource panel.
February: decisions are late, the administrator is chased on day 3 and day 6, imports them with
`masp decisions import` on day 8, and is chased no more. March: A's review is on the agenda with
its outstanding actions, and a final review closes it. April: E's Lead Professional is asked for
outcomes 12 weeks after January's meeting and answers; April's meeting is the first of a
quarter, and the first quarter's picture is in its pack and goes to the chair.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook

from tests.helpers import outline
from tests.scenarios.harness import (
    ADMIN,
    CHAIR,
    FEBRUARY,
    JANUARY,
    PANEL,
    A,
    B,
    C,
    D,
    E,
    Month,
    Out,
    Referrer,
    expect,
    page_texts,
    pdf_of,
    stored_instant,
)
from tests.scenarios.story import LEAD_A_EMAIL, LEAD_B_EMAIL, rows_of, workbook_of

pytestmark = [pytest.mark.servers, pytest.mark.timeout(900)]

LARP = "larp@example.org"
MARCH = "Tuesday 10 March 2026, 10:00"
# The workbook's token, which the emails about a meeting's decisions carry in their subject.
TOKEN = r"\[decisions:[^\]]+\]"
Q1_START, Q2_START = date(2026, 1, 1), date(2026, 4, 1)
CHILDREN = ("Amy Ontime", "Ben Partial", "Cal Deferred", "Dee Late", "Eve Emergency")


def decisions(month: Month, step: str) -> dict[str, str]:
    """Each decided case's outcome at the end of `step`, by reference."""
    rows = month.steps[step].db.rows(
        "SELECT c.reference, d.outcome FROM decisions d JOIN cases c ON c.id = d.case_id"
    )
    return {str(reference): str(outcome) for reference, outcome in rows}


def sheet_text(sent: Out) -> str:
    """The decision sheet's Word text: paragraphs and table cells."""
    document = WordDocument(io.BytesIO(sent.file(".docx")))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return " ".join(" ".join([*(p.text for p in document.paragraphs), *cells]).split())


def sheet_to(got: list[Out], who: Referrer) -> Out:
    found = [o for o in got if who.address in o.rcpts and "decision sheet" in o.subject]
    assert len(found) == 1, [o.subject for o in got]
    return found[0]


def test_the_workbook_goes_with_the_pack_to_the_administrator_alone(month: Month) -> None:
    sent = workbook_of(month, "pack")
    assert sent.rcpts == (ADMIN,)
    data = sent.file(".xlsx")
    book = load_workbook(io.BytesIO(data))
    sheet = book["Decisions"]
    e, a, b = (month.ref(who) for who in (E, A, B))
    # The agenda's order: the Section 20 emergency first, then by arrival; minimal identifiers.
    assert [row[:3] for row in sheet.iter_rows(min_row=2, max_row=4, values_only=True)] == [
        (e, "E.E.", "9"),
        (a, "A.O.", "9"),
        (b, "B.P.", "9"),
    ]
    assert sheet.data_validations.dataValidation, "no drop-down lists"
    assert sheet.protection.sheet and book.security is not None
    assert sheet.page_setup.orientation == "landscape"
    words = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    assert not any(child in words for child in CHILDREN)


def test_a_workbook_with_three_mistakes_comes_back_by_cell_and_changes_nothing(
    month: Month,
) -> None:
    step = month.steps["decisions refused"]
    [refused] = expect(
        step.got,
        (
            ADMIN,
            rf"^{PANEL}: the decisions workbook for {JANUARY} was not recorded {TOKEN}$",
        ),
    )
    rows = rows_of(workbook_of(month, "pack").file(".xlsx"))
    a, b = month.ref(A), month.ref(B)
    cells = set(re.findall(r"\b(?:Decisions|Actions)![A-Z]+\d+", refused.text))
    # A's Lead Professional email (J), B's past review date (K), the second action's owner (C3).
    assert cells == {f"Decisions!J{rows[a]}", f"Decisions!K{rows[b]}", "Actions!C3"}, refused.text
    assert decisions(month, "decisions refused") == {}
    assert [step.db.state(who) for who in (A, B)] == ["approved", "approved"]
    [(status, problems)] = step.db.rows("SELECT status, problems FROM decision_imports")
    assert status == "refused" and problems.count('"cell"') == 3


def test_a_forged_workbook_reply_is_refused_and_the_administrator_alerted(month: Month) -> None:
    step = month.steps["decisions forged"]
    expect(step.got, (ADMIN, r"^A decisions workbook reply was not applied$"))
    assert decisions(month, "decisions forged") == {}


def test_the_corrected_workbook_records_the_decisions(month: Month) -> None:
    step = month.steps["decisions recorded"]
    [recorded] = expect(step.got, (ADMIN, rf"^{PANEL}: decisions recorded for {JANUARY} {TOKEN}$"))
    a, b, e = (month.ref(who) for who in (A, B, E))
    assert a in recorded.text and b in recorded.text and e in recorded.text
    assert decisions(month, "decisions recorded") == {
        a: "Accepted: multi-agency support agreed",
        b: "Accepted: multi-agency support agreed",
        e: "Advice and guidance given",
    }
    # E, the Section 20 emergency heard before its screening ended, is decided too.
    assert [step.db.state(who) for who in (A, B, E)] == ["decided"] * 3
    actions = step.db.rows(
        "SELECT text, owner, due FROM actions WHERE case_id = ? ORDER BY position",
        step.db.case(A)["id"],
    )
    assert actions == [
        ("Hold a Team Around the Family meeting", "Lia Lead", "2026-02-20"),
        ("Offer a parenting programme place", "Early Help worker", "2026-03-20"),
    ]


def test_decision_sheets_reach_the_referrers_within_a_week_once(month: Month) -> None:
    step = month.steps["decision sheets"]
    a, b, e = (month.ref(who) for who in (A, B, E))
    for who, reference, lead in ((A, a, LEAD_A_EMAIL), (B, b, LEAD_B_EMAIL), (E, e, None)):
        sent = sheet_to(step.got, who)
        assert sent.subject == f"{reference}: the panel's decision sheet"
        assert sent.rcpts == tuple(sorted({who.address, lead or who.address}))
        assert sent.names() == [
            f"{reference}-decision-sheet.pdf",
            f"{reference}-decision-sheet.docx",
        ]
        word = sheet_text(sent)
        pdf = " ".join(page_texts(pdf_of(sent.file(".pdf"))))
        for text in (word, pdf):
            assert reference in text and "OFFICIAL-SENSITIVE" in text, text[:300]
            # The sheet goes on the child's file: it names the child, unlike anything else.
            assert who.child in text
    word_a = sheet_text(sheet_to(step.got, A))
    assert "Accepted: multi-agency support agreed" in word_a
    assert "Hold a Team Around the Family meeting" in word_a and "Lia Lead" in word_a
    assert "2 March 2026" in word_a
    assert "resource panel" in sheet_text(sheet_to(step.got, B)).lower()
    sent_at = step.db.rows("SELECT sent_at FROM decision_sheets")
    assert len(sent_at) == 3
    assert all(stored_instant(t).date() <= date(2026, 1, 20) for (t,) in sent_at)
    assert month.steps["decision sheets again"].got == []


def test_the_larp_contact_gets_the_case_papers_and_nothing_else(month: Month) -> None:
    step = month.steps["decision sheets"]
    a, b, e = (month.ref(who) for who in (A, B, E))
    found = [o for o in step.got if o.rcpts == (LARP,)]
    assert len(found) == 1, [(o.rcpts, o.subject) for o in step.got]
    [larp] = found
    assert larp.subject == f"{b}: recommended to the resource panel by the {PANEL}"
    papers = [pdf_of(data) for name, _, data in larp.files() if name.endswith(".pdf")]
    text = " ".join(" ".join(page_texts(pdf)) for pdf in papers)
    assert b in text and a not in text and e not in text
    # The case's pages of the pack (form, chronology …) and its decision sheet.
    assert "Chronology of significant events" in text
    assert any(name.endswith("decision-sheet.pdf") for name, _, _ in larp.files())


def test_late_decisions_chase_the_administrator_on_day_3_and_day_6_and_never_after(
    month: Month,
) -> None:
    c, d = month.ref(C), month.ref(D)
    subject = rf"^{PANEL}: decisions still to record from the meeting on {FEBRUARY} {TOKEN}$"
    for step in ("chase day 3", "chase day 6"):
        [chase] = expect(month.steps[step].got, (ADMIN, subject))
        assert c in chase.text and d in chase.text
    assert month.steps["chase day 4"].got == []
    imported = month.steps["February import"]
    assert c in imported.out and d in imported.out
    expect(imported.got, (ADMIN, rf"^{PANEL}: decisions recorded for {FEBRUARY} {TOKEN}$"))
    sheets = month.steps["February sheets"].got
    assert {o.rcpts for o in sheets} == {(C.address,), (D.address,)}
    assert month.steps["after the February sheets"].got == []


def test_the_review_is_in_section_1_of_the_first_meeting_on_or_after_its_date(
    month: Month,
) -> None:
    a = month.ref(A)
    february = next(
        o for o in month.steps["February pack"].got if o.rcpts == (ADMIN,) and "pack" in o.subject
    )
    assert f"Review: {a}" not in " ".join(page_texts(pdf_of(february.file("-agenda.pdf"))))
    march = next(
        o
        for o in month.steps["March pack"].got
        if o.rcpts == (CHAIR,) and "meeting pack" in o.subject
    )
    agenda = " ".join(page_texts(pdf_of(march.file("-agenda.pdf"))))
    section_1 = agenda.split("2. Pre-discussion")[0]
    assert f"Review: {a} — A.O." in section_1, section_1
    # Its outstanding actions, the one whose date has passed marked overdue; no child's name.
    assert "Hold a Team Around the Family meeting — Education — by 20 February 2026 — overdue" in (
        section_1
    )
    assert "Offer a parenting programme place" in section_1
    assert "Amy" not in agenda and "Ontime" not in agenda


def test_a_final_review_closes_the_case_and_its_referrer_gets_the_sheet(month: Month) -> None:
    a = month.ref(A)
    step = month.steps["March decisions"]
    expect(step.got, (ADMIN, rf"^{PANEL}: decisions recorded for {MARCH} {TOKEN}$"))
    assert step.db.state(A) == "closed"
    [sheet] = month.steps["March sheets"].got
    assert sheet.subject == f"{a}: the panel's decision sheet"
    assert "Closed: no further panel involvement" in sheet_text(sheet)


def test_the_12_week_follow_up_goes_once_and_its_answer_closes_the_case(month: Month) -> None:
    e = month.ref(E)
    [request] = expect(
        month.steps["follow-up"].got,
        (E.address, rf"^{e} \(E\.E\.\): outcomes of the agreed actions, please \[follow-up:"),
    )
    assert "Eve" not in request.text
    assert month.steps["follow-up again"].got == []
    step = month.steps["follow-up answered"]
    expect(step.got, (ADMIN, rf"^{e}: follow-up outcomes received; the case is closed$"))
    assert step.db.state(E) == "closed"
    [(answered,)] = step.db.rows("SELECT answered_at FROM follow_ups")
    assert stored_instant(answered).date() == date(2026, 4, 8)


def quarter_by_hand(month: Month) -> dict[str, int]:
    """The first quarter of 2026 counted straight from the database, without the service."""
    db = month.steps["quarterly report"].db
    received = [
        stored_instant(r).date()
        for (r,) in db.rows("SELECT received_at FROM cases WHERE state != 'held'")
    ]
    made = db.rows(
        "SELECT d.meeting, min(s.sent_at) FROM decisions d"
        " LEFT JOIN decision_sheets s ON s.decision_id = d.id GROUP BY d.id"
    )
    in_q1 = [
        (stored_instant(m), s)
        for m, s in made
        if date(2026, 1, 1) <= stored_instant(m).date() < date(2026, 4, 1)
    ]
    return {
        "Referrals received": sum(Q1_START <= r < Q2_START for r in received),
        "Decisions recorded": len(in_q1),
        "Decision sheets sent within 7 days": sum(
            s is not None and stored_instant(s).date() - m.date() <= timedelta(days=7)
            for m, s in in_q1
        ),
    }


def test_the_quarterly_picture_is_in_aprils_pack_and_goes_to_the_chair(month: Month) -> None:
    pack = next(
        o for o in month.steps["April pack"].got if o.rcpts == (CHAIR,) and "pack" in o.subject
    )
    pdf = pdf_of(pack.file("-v1.pdf"))
    assert [title for title, _, _ in outline(pdf)][-1] == "Quarterly picture"
    agenda = " ".join(page_texts(pdf_of(pack.file("-agenda.pdf"))))
    assert "4. Quarterly summary" in agenda and "Referrals received in 2026Q1" in agenda
    [report] = expect(month.steps["quarterly report"].got, (CHAIR, r"quarterly picture, 2026Q1"))
    html = report.message.get_body(preferencelist=("html",))
    assert html is not None and "cid:" in str(html.get_content())
    images = [p for p in report.message.walk() if p.get_content_type() == "image/png"]
    assert images and all(p["Content-ID"] for p in images)
    book = load_workbook(io.BytesIO(report.file(".xlsx")))
    summary = {
        str(row[0]): row[1]
        for row in book["Summary"].iter_rows(values_only=True)
        if row and row[0] is not None and len(row) > 1
    }
    expected = quarter_by_hand(month)
    assert {key: summary[key] for key in expected} == expected
    # January's three and March's review were on time; February's two went on day 8.
    assert expected["Decisions recorded"] == 6
    assert expected["Decision sheets sent within 7 days"] == 4
    words = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    assert not any(child in words for child in CHILDREN)
    assert not any(month.ref(who) in words for who in (A, B, C, D, E))
