"""The scenario's script: from the first referrals in December 2025 to the follow-up and the
quarterly picture in April 2026, every moment `masp` runs and every email that arrives."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import load_workbook

from pipeline import samples
from pipeline.states import Outcome
from tests.scenarios.harness import (
    ADMIN,
    ASSESSMENT,
    CHRONOLOGY,
    DECLINED,
    MANAGER_FROM,
    A,
    B,
    C,
    D,
    E,
    F,
    Month,
    Out,
    at,
)

ADMIN_FROM = "A Admin <admin@example.org>"
LEAD_A_EMAIL, LEAD_B_EMAIL = "lia.lead@school.example.org", "bo.lead@health.example.org"
# A's first review, at March's meeting (the first on or after it).
A_REVIEW = date(2026, 3, 2)


def workbook_of(m: Month, step: str) -> Out:
    """The decisions workbook email the pack step sent the administrator."""
    found = m.first(step, ADMIN, "decisions workbook")
    assert found is not None, f"no decisions workbook in step {step!r}"
    return found


def rows_of(data: bytes) -> dict[str, int]:
    """Each case reference's row on the workbook's Decisions sheet."""
    sheet = load_workbook(io.BytesIO(data))["Decisions"]
    return {str(row[0].value): row[0].row for row in sheet.iter_rows(min_row=2) if row[0].value}


def xlsx(data: bytes) -> list[samples.File]:
    return [samples.File("decisions.xlsx", samples.XLSX, data)]


def january_filled(m: Month, *, broken: bool) -> bytes:
    """January's workbook as the administrator fills it in; `broken` with three mistakes: a
    Lead Professional's email that is not an address, a review date already past, and an
    action with no owner."""
    a, b, e = (m.ref(who) for who in (A, B, E))
    decisions: dict[str, dict[str, Any]] = {
        a: {
            "Outcome": Outcome.ACCEPTED.value,
            "Lead Professional name": "Lia Lead",
            "Lead Professional agency": "Education",
            "Lead Professional email": "lia.lead at school" if broken else LEAD_A_EMAIL,
            "Review date": A_REVIEW,
        },
        b: {
            "Outcome": Outcome.ACCEPTED.value,
            "Lead Professional name": "Bo Lead",
            "Lead Professional agency": "Health",
            "Lead Professional email": LEAD_B_EMAIL,
            "Review date": date(2026, 1, 2) if broken else date(2026, 4, 20),
            "LARP recommendation": "Yes",
            "LARP note": "A short-breaks package, to be costed & agreed.",
        },
        e: {
            "Outcome": Outcome.ADVICE.value,
            "Lead Professional name": "Eli Lead",
            "Lead Professional agency": "Children's Social Care",
            "Lead Professional email": E.address,
            "No further panel review (MASG)": "Yes",
        },
    }
    actions = [
        (a, "Hold a Team Around the Family meeting", "Lia Lead", "Education", date(2026, 2, 20)),
        (
            a,
            "Offer a parenting programme place",
            None if broken else "Early Help worker",
            "Early Help",
            date(2026, 3, 20),
        ),
        (b, "Ask the resource panel about short breaks", "Bo Lead", "Health", date(2026, 2, 27)),
    ]
    return samples.fill_workbook(workbook_of(m, "pack").file(".xlsx"), decisions, actions)


def january_decisions(m: Month) -> None:
    """The morning after January's meeting: a workbook with three mistakes, a forgery, then the
    corrected workbook; the decision sheets and the LARP papers go at the next tick."""
    sent = workbook_of(m, "pack")
    m.answer(
        sent,
        ADMIN_FROM,
        "Decisions attached.",
        at("2026-01-14T09:00"),
        xlsx(january_filled(m, broken=True)),
    )
    m.poll("decisions refused", at("2026-01-14T09:05"))
    m.answer(
        sent,
        "Mallory <mallory@example.org>",
        "Decisions.",
        at("2026-01-14T09:10"),
        xlsx(january_filled(m, broken=False)),
    )
    m.poll("decisions forged", at("2026-01-14T09:15"))
    m.answer(
        sent,
        ADMIN_FROM,
        "Corrected.",
        at("2026-01-14T10:00"),
        xlsx(january_filled(m, broken=False)),
    )
    m.poll("decisions recorded", at("2026-01-14T10:05"))
    m.tick("decision sheets", at("2026-01-14T10:10"))
    m.tick("decision sheets again", at("2026-01-14T10:15"))


def february_decisions(m: Month) -> None:
    """February's decisions are late: the administrator is chased on day 3 and day 6, imports
    the workbook with `masp decisions import` on day 8, and is chased no more."""
    m.tick("chase day 3", at("2026-02-13T09:00:30"))
    m.tick("chase day 4", at("2026-02-14T09:00:30"))
    m.tick("chase day 6", at("2026-02-16T09:00:30"))
    c, d = m.ref(C), m.ref(D)
    decisions = {
        ref: {"Outcome": Outcome.SIGNPOSTED.value, "Lead Professional agency": "Health"}
        for ref in (c, d)
    }
    filled = samples.fill_workbook(workbook_of(m, "February pack").file(".xlsx"), decisions)
    path = m.config.parent / "february-decisions.xlsx"
    path.write_bytes(filled)
    m.run("February import", ["decisions", "import", str(path)], at("2026-02-18T10:00"))
    m.tick("February sheets", at("2026-02-18T10:05"))
    m.tick("after the February sheets", at("2026-02-20T09:00:30"))


def march_filled(m: Month) -> bytes:
    """March's workbook: A's review, its open actions marked done, and a final review."""
    a = m.ref(A)
    decisions = {
        a: {
            "Outcome": Outcome.CLOSED.value,
            "Final review (closes the case)": "Yes",
            "Notes": "Support in place; the family agreed to close.",
        }
    }
    return samples.fill_workbook(workbook_of(m, "March pack").file(".xlsx"), decisions)


def spring(m: Month) -> None:
    """March: A's review is on the agenda and closes it. April: E's Lead Professional is asked
    for outcomes 12 weeks after January's meeting and answers; April's meeting is the first of
    the quarter, with the first quarter's picture; the report goes to the chair."""
    m.tick("March slots", at("2026-03-05T10:00:30"))
    m.tick("March pack", at("2026-03-05T10:11"))
    sent = workbook_of(m, "March pack")
    m.answer(sent, ADMIN_FROM, "March decisions.", at("2026-03-10T15:00"), xlsx(march_filled(m)))
    m.poll("March decisions", at("2026-03-10T15:05"))
    m.tick("March sheets", at("2026-03-10T15:10"))
    # 12 weeks after Tuesday 13 January is Tuesday 7 April, 09:00 London (08:00 UTC: BST).
    m.tick("follow-up", at("2026-04-07T08:00:30"))
    m.tick("follow-up again", at("2026-04-07T09:00"))
    request = m.first("follow-up", E.address, "outcomes of the agreed actions")
    m.answer(
        request, E.sender, "The family is settled; no further concerns.", at("2026-04-08T09:00")
    )
    m.poll("follow-up answered", at("2026-04-08T09:05"))
    m.tick("April slots", at("2026-04-09T09:00:30"))
    m.tick("April pack", at("2026-04-09T09:11"))
    m.run(
        "quarterly report", ["report", "quarterly", "--quarter", "2026Q1"], at("2026-04-09T10:00")
    )


def play(m: Month) -> None:
    """The months as the service lives them: email arrives at the server's time and `masp` runs
    at each moment below. Nothing is checked here; each step is kept for its test to check."""
    # Monday 15 December 2025: five referrals; an hour later, the tick.
    for n, (who, without) in enumerate(
        ((A, ()), (B, ("Chronology.docx",)), (C, ("Chronology.docx", "EHA.docx")), (E, ()), (F, ()))
    ):
        m.append(who.referral(*without), at(f"2025-12-15T09:{n * 5:02d}"))
    m.poll("referrals", at("2025-12-15T09:30"))
    m.tick("requests", at("2025-12-15T10:30"))

    # Tuesday 16 December: the manager's answers, an out-of-office, and a forgery.
    requests = {who.key: m.request(who) for who in (A, E, F)}
    if (to_e := requests["E"]) is not None:
        out_of_office = samples.out_of_office(to_e.message_id, MANAGER_FROM, to_e.subject)
        m.append(out_of_office, at("2025-12-16T08:55"))
    # A valid token, the right thread, but not from the manager.
    m.answer(requests["E"], "Mallory <mallory@example.org>", "APPROVE", at("2025-12-16T09:00"))
    m.answer(requests["A"], MANAGER_FROM, "APPROVE\nco-opt: Housing", at("2025-12-16T09:05"))
    m.answer(requests["F"], MANAGER_FROM, f"DECLINE - {DECLINED}", at("2025-12-16T09:10"))
    m.poll("answers", at("2025-12-16T09:30"))

    # Saturday 3 January 2026, 72 hours before the deadline: reminders, three ticks at once.
    for step in ("reminders", "reminders again", "reminders a third time"):
        m.tick(step, at("2026-01-03T12:05"))

    # Sunday 4 January: B sends the chronology; it is screened and approved.
    ack_b = m.first("referrals", B.address, "referral received")
    m.answer(ack_b, B.sender, "Here is the chronology.", at("2026-01-04T10:00"), [CHRONOLOGY])
    m.poll("B completes", at("2026-01-04T10:05"))
    m.tick("B to screening", at("2026-01-04T10:10"))
    m.answer(m.request(B), MANAGER_FROM, "Approved.", at("2026-01-04T14:00"))
    m.poll("B approved", at("2026-01-04T14:05"))

    # Three days down. The late referral D arrives after the deadline, while nothing runs.
    m.append(D.referral(), at("2026-01-06T14:00"))
    m.tick("cut-off", at("2026-01-07T14:05"))
    m.poll("late referral", at("2026-01-07T14:10"))
    m.tick("late to screening", at("2026-01-07T14:15"))
    m.answer(m.request(D), MANAGER_FROM, "approve", at("2026-01-07T15:00"))
    m.poll("late approved", at("2026-01-07T15:05"))

    # Thursday 8 January: the slot notice at 10:00, the pack at 10:10.
    m.tick("slots", at("2026-01-08T10:00:30"))
    m.tick("pack", at("2026-01-08T10:11"))

    # Friday 9 January: A confirms attendance.
    slot_a = m.first("slots", A.address, "your timeslot")
    m.answer(slot_a, A.sender, "Yes, I will attend.", at("2026-01-09T09:00"))
    m.poll("attendance", at("2026-01-09T09:05"))
    m.tick("after attendance", at("2026-01-09T09:10"))

    # Tuesday 13 January: the meeting. Wednesday 14 January: its decisions come back.
    january_decisions(m)

    # Wednesday 21 January: C completes for February; screened and approved.
    moved = m.first("cut-off", C.address, "moved to the meeting")
    body = "Chronology and assessment attached."
    m.answer(moved, C.sender, body, at("2026-01-21T10:00"), [CHRONOLOGY, ASSESSMENT])
    m.poll("C completes", at("2026-01-21T10:05"))
    m.tick("C to screening", at("2026-01-21T10:10"))
    m.answer(m.request(C), MANAGER_FROM, "APPROVE", at("2026-01-21T15:00"))
    m.poll("C approved", at("2026-01-21T15:05"))

    # February: the digest, the slots, the pack.
    m.tick("February cut-off", at("2026-02-03T12:05"))
    m.tick("February slots", at("2026-02-05T10:00:30"))
    m.tick("February pack", at("2026-02-05T10:11"))

    # After February's meeting, its decisions come late; then March, April.
    february_decisions(m)
    spring(m)
