"""The month before the meetings, through the real `masp` command against a real Dovecot and a
real SMTP server, moving the clock with `--now` from intake in December to the February pack
(the script is `story.play`, the cast and harness `harness`). Meetings: 13 January 2026
(deadline Tuesday 6 January 12:00, timeslots Thursday 8 January 10:00, pack 10:10) and
10 February 2026. In winter London time is UTC.

Each test checks one stage of the cycle from the steps the play kept, so a fault in one stage
fails that stage's test and leaves the others to speak.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import outline
from tests.scenarios.harness import (
    ADMIN,
    CHAIR,
    CORE,
    DECLINED,
    FEBRUARY,
    FEBRUARY_DEADLINE,
    HOUSING,
    JANUARY,
    JANUARY_DEADLINE,
    MANAGER,
    PANEL,
    S20,
    TOKEN,
    A,
    B,
    C,
    D,
    E,
    F,
    Month,
    Out,
    Referrer,
    at,
    check_pack,
    expect,
    ics_times,
    pdf_of,
    stored_instant,
)

pytestmark = [pytest.mark.servers, pytest.mark.timeout(900)]


def request_to_screen(month: Month, who: Referrer) -> Out:
    """The Service Manager's request to screen `who`'s referral, which the tests compare with."""
    request = month.request(who)
    assert request is not None, f"no request to screen referral {who.key} was sent"
    return request


# -- each step, checked on its own ------------------------------------------------------------


def test_referrals_are_acknowledged_and_the_section_20_emergency_raised(month: Month) -> None:
    step = month.steps["referrals"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    acks = expect(
        step.got,
        (A.address, rf"^{a}: referral received — complete$"),
        (B.address, rf"^{b}: referral received — documents still needed$"),
        (C.address, rf"^{c}: referral received — documents still needed$"),
        (E.address, rf"^{e}: referral received — complete$"),
        (F.address, rf"^{f}: referral received — complete$"),
        (f"{ADMIN},{CHAIR}", rf"^{e}: Section 20 emergency admission, to be presented on {S20}$"),
    )
    ack = dict(zip("ABCEF", acks, strict=False))
    for sent in acks[:5]:
        assert JANUARY in sent.text and JANUARY_DEADLINE in sent.text, sent.text
        assert sent.names() == []
    assert "Chronology" in ack["B"].text and "Chronology" in ack["C"].text
    assert re.search(r"Still needed[^:]*: - Chronology To send", ack["B"].text), ack["B"].text
    assert re.search(r"Still needed[^:]*: - Chronology - Assessment \(", ack["C"].text)
    assert JANUARY in acks[5].text and "Eve" not in acks[5].text
    # The receive time is the server's INTERNALDATE, not the --now of the poll.
    db = step.db
    assert stored_instant(db.case(A)["received_at"]) == at("2025-12-15T09:00")
    assert stored_instant(db.case(F)["received_at"]) == at("2025-12-15T09:20")
    assert all(db.meeting(w) == at("2026-01-13T10:00") for w in (A, B, C, E, F))
    assert [db.state(w) for w in (A, B, C, E, F)] == [
        "complete",
        "incomplete",
        "incomplete",
        "complete",
        "complete",
    ]
    assert db.case(E)["section20"] == 1


def test_complete_cases_go_to_the_service_manager_with_a_summary(month: Month) -> None:
    """An hour later: documents converted, each complete case sent to the Service Manager."""
    step = month.steps["requests"]
    a, e, f = (month.ref(who) for who in (A, E, F))
    requests = expect(
        step.got,
        (MANAGER, rf"^{a}: referral to screen for the {PANEL} \[screen:"),
        (MANAGER, rf"^{e}: referral to screen for the {PANEL} \[screen:"),
        (MANAGER, rf"^{f}: referral to screen for the {PANEL} \[screen:"),
    )
    request = dict(zip("AEF", requests, strict=True))
    tokens = set()
    for (ref, child), sent in zip(((a, A), (e, E), (f, F)), requests, strict=True):
        assert sent.names() == [
            f"{ref}-summary.pdf",
            "Referral form.docx",
            "Chronology.docx",
            "genogram.png",
            "EHA.docx",
        ]
        summary = pdf_of(sent.file("-summary.pdf"))
        assert len(summary.pages) == 1
        text = summary.pages[0].extract_text()
        assert ref in text and child.child not in text
        found = TOKEN.findall(sent.subject)
        assert found and found[0] in sent.text
        tokens.add(found[0])
    assert len(tokens) == 3
    assert "Section 20" in request["E"].text
    assert {step.db.state(w) for w in (A, E, F)} == {"screening"}
    assert step.db.rows("SELECT count(*) FROM conversions WHERE status != 'done'") == [(0,)]


def test_the_managers_answers_are_applied_and_a_forgery_and_an_out_of_office_are_not(
    month: Month,
) -> None:
    step = month.steps["answers"]
    e, f = month.ref(E), month.ref(F)
    declined, alert = expect(
        step.got,
        (F.address, rf"^{f}: referral not accepted for the {PANEL}$"),
        (ADMIN, rf"^{e}: a screening reply was not applied$"),
    )
    assert DECLINED in declined.text
    assert "mallory@example.org" in alert.text
    db = step.db
    assert [db.state(w) for w in (A, E, F)] == ["approved", "screening", "declined"]
    assert json.loads(db.case(A)["flags"]) == ["co-opt:Housing"]
    refused = db.rows("SELECT detail FROM audit WHERE action = 'screening-refused'")
    assert len(refused) == 1 and '"forged sender"' in refused[0][0]
    assert db.rows(
        "SELECT decision, used_at FROM screening_requests WHERE case_id = ?", db.case(E)["id"]
    ) == [(None, None)]
    assert db.rows(
        "SELECT status, category FROM messages WHERE case_id = ? ORDER BY received_at",
        db.case(E)["id"],
    )[-2:] == [("ignored", "auto_reply"), ("filed", "screening_refused")]


def test_reminders_go_72_hours_before_the_deadline_once_however_often_the_tick_runs(
    month: Month,
) -> None:
    b, c, e = (month.ref(who) for who in (B, C, E))
    reminders = expect(
        month.steps["reminders"].got,
        (B.address, rf"^{b}: reminder — documents needed before {JANUARY_DEADLINE}$"),
        (C.address, rf"^{c}: reminder — documents needed before {JANUARY_DEADLINE}$"),
        (MANAGER, rf"^Reminder: {e}: referral to screen \[screen:"),
    )
    assert "Chronology" in reminders[0].text and "Assessment" in reminders[1].text
    assert reminders[2].message["In-Reply-To"] == request_to_screen(month, E).message_id
    runs = month.steps["reminders"].db.job_runs()
    for again in ("reminders again", "reminders a third time"):
        step = month.steps[again]
        assert step.got == [] and "0 job(s) done, 0 skipped" in step.out, step.out
        assert step.db.job_runs() == runs


def test_a_referral_completed_before_the_deadline_is_screened_and_approved(
    month: Month,
) -> None:
    b = month.ref(B)
    [update] = expect(
        month.steps["B completes"].got,
        (B.address, rf"^{b}: documents received — referral now complete$"),
    )
    assert JANUARY in update.text
    expect(
        month.steps["B to screening"].got,
        (MANAGER, rf"^{b}: referral to screen for the {PANEL} \["),
    )
    step = month.steps["B approved"]
    assert step.got == []
    assert step.db.state(B) == "approved"


def test_an_incomplete_case_is_moved_on_at_the_deadline_and_the_administrator_told(
    month: Month,
) -> None:
    step = month.steps["cut-off"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    deferred, digest = expect(
        step.got,
        (
            C.address,
            rf"^{c}: moved to the meeting on {FEBRUARY} — new deadline {FEBRUARY_DEADLINE}$",
        ),
        (ADMIN, rf"^{PANEL}, {JANUARY}: after the deadline$"),
    )
    assert "1 skipped" not in step.out and "2 skipped as stale" in step.out, step.out
    runs = step.db.job_runs()
    case_c = step.db.case(C)["id"]
    assert runs[f"reminder:24h:case:{case_c}:2026-01-13T10:00"] == "skipped"
    assert runs[f"reminder:deadline-day:case:{case_c}:2026-01-13T10:00"] == "skipped"
    assert runs[f"cutoff:case:{case_c}:2026-01-13T10:00"] == "done"
    assert "Chronology" in deferred.text and "Assessment" in deferred.text
    assert step.db.meeting(C) == at("2026-02-10T10:00") and step.db.state(C) == "incomplete"
    flags = json.loads(step.db.case(C)["flags"])
    assert flags == ["deferred from 2026-01-13: missing chronology, assessment"], flags
    listed = digest.text.split("Deferred to the next meeting")[0]
    assert all(ref in listed for ref in (a, b, e)) and f not in digest.text
    assert "Section 20 emergency; awaiting screening" in listed
    deferred_part = digest.text.split("Deferred to the next meeting")[1].split("Awaiting screening")
    assert c in deferred_part[0] and "missing chronology, assessment" in deferred_part[0]
    assert e in deferred_part[1].split("Awaiting attendance")[0]


def test_a_late_referral_goes_to_the_next_meeting_and_is_screened(month: Month) -> None:
    step = month.steps["late referral"]
    d = month.ref(D)
    [late_ack] = expect(step.got, (D.address, rf"^{d}: referral received — complete$"))
    assert FEBRUARY in late_ack.text and JANUARY in late_ack.text
    assert step.db.meeting(D) == at("2026-02-10T10:00")
    expect(
        month.steps["late to screening"].got,
        (MANAGER, rf"^{d}: referral to screen for the {PANEL} \["),
    )
    approved = month.steps["late approved"]
    assert approved.got == []
    assert approved.db.state(D) == "approved"


def january_slots(month: Month) -> dict[str, str]:
    """The January timeslots by case reference."""
    a, b, e = (month.ref(who) for who in (A, B, E))
    return {e: "10:00–10:30", a: "10:30–11:00", b: "11:00–11:30"}


def test_timeslots_go_out_section_20_first_then_by_arrival(month: Month) -> None:
    """Thursday 8 January 10:00, slot notice: E (Section 20) first, then A and B by arrival."""
    step = month.steps["slots"]
    a, b, e = (month.ref(who) for who in (A, B, E))
    slot_mail = expect(
        step.got,
        (E.address, rf"^{e}: your timeslot at the {PANEL} — please confirm$"),
        (A.address, rf"^{a}: your timeslot at the {PANEL} — please confirm$"),
        (B.address, rf"^{b}: your timeslot at the {PANEL} — please confirm$"),
    )
    january = january_slots(month)
    for sent, ref, (start, end) in zip(
        slot_mail,
        (e, a, b),
        (("100000", "103000"), ("103000", "110000"), ("110000", "113000")),
        strict=True,
    ):
        assert sent.names() == [f"{ref}-timeslot.ics"]
        assert ics_times(sent.file(".ics")) == (f"20260113T{start}Z", f"20260113T{end}Z")
        assert f"{january[ref].replace('–', ' to ')}" in sent.text
    slots = step.db.rows(
        "SELECT c.reference, s.position FROM slots s JOIN cases c ON c.id = s.case_id "
        "ORDER BY s.position"
    )
    assert slots == [(e, 0), (a, 1), (b, 2)]


def test_the_pack_goes_whole_to_the_core_and_only_their_case_to_a_co_opted_member(
    month: Month,
) -> None:
    """10:11: the pack, to the administrator, chair and core member whole; Housing only A.
    E is still unscreened as the agenda is built: its manager is reminded (R9)."""
    step = month.steps["pack"]
    a, b, c, e, f = (month.ref(who) for who in (A, B, C, E, F))
    *packs, nudge, _workbook = expect(
        step.got,
        (ADMIN, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (CHAIR, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (CORE, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (HOUSING, rf"^{PANEL}: meeting pack for {JANUARY}, version 1$"),
        (MANAGER, rf"^Reminder: {e}: referral to screen \[screen:"),
        # The decisions workbook, made with the pack, to the administrator alone (R13).
        (ADMIN, rf"^{PANEL}: decisions workbook for {JANUARY} \[decisions:"),
    )
    assert nudge.message["In-Reply-To"] == request_to_screen(month, E).message_id
    order = [(e, "E.E."), (a, "A.O."), (b, "B.P.")]
    january = january_slots(month)
    # January's is the first meeting of a quarter: its pack ends with the last quarter's picture.
    q = {"quarterly": True}
    pdf, texts = check_pack(packs[0], "A Admin", order, january, JANUARY, "2026-01-13", **q)
    [(pages,)] = step.db.rows("SELECT pages FROM packs WHERE version = 1")
    assert len(pdf.pages) == pages
    agenda = " ".join(texts[1 : outline(pdf)[2][1]])
    assert re.search(rf"{e} — E\.E\., age 9 — [^—]*Section 20", agenda), agenda
    assert "unscreened" not in agenda and f not in agenda and c not in agenda
    assert not any(child.child in agenda for child in (A, B, E))
    check_pack(packs[1], "C Chair", order, january, JANUARY, "2026-01-13", **q)
    check_pack(packs[2], "K Core", order, january, JANUARY, "2026-01-13", **q)
    housing_case = [(a, "A.O.")]
    _, housing = check_pack(
        packs[3], "H Housing", housing_case, january, JANUARY, "2026-01-13", **q
    )
    assert e not in " ".join(housing) and b not in " ".join(housing)
    assert a in packs[3].text and e not in packs[3].text
    sends = step.db.rows('SELECT recipient, "references" FROM pack_sends ORDER BY recipient')
    assert [r for r, _ in sends] == sorted([ADMIN, CHAIR, CORE, HOUSING])
    assert dict(sends)[HOUSING] == f'["{a}"]'


def test_a_confirmed_attendance_is_recorded_and_sends_nothing_not_even_a_new_pack(
    month: Month,
) -> None:
    step = month.steps["attendance"]
    assert step.got == []
    assert step.db.rows(
        "SELECT attendance FROM slots WHERE case_id = ?", step.db.case(A)["id"]
    ) == [("yes",)]
    assert month.steps["after attendance"].got == []


def test_the_deferred_case_completed_later_is_screened_for_the_next_meeting(
    month: Month,
) -> None:
    c = month.ref(C)
    [update] = expect(
        month.steps["C completes"].got,
        (C.address, rf"^{c}: documents received — referral now complete$"),
    )
    assert FEBRUARY in update.text
    [request] = expect(
        month.steps["C to screening"].got,
        (MANAGER, rf"^{c}: referral to screen for the {PANEL} \["),
    )
    assert FEBRUARY in request.text
    approved = month.steps["C approved"]
    assert approved.got == []
    assert approved.db.state(C) == "approved"


def test_the_next_meetings_digest_lists_the_deferred_and_the_late_case(month: Month) -> None:
    """February: no reminders for complete cases, only the digest."""
    c, d, e = (month.ref(who) for who in (C, D, E))
    [digest] = expect(
        month.steps["February cut-off"].got,
        (ADMIN, rf"^{PANEL}, {FEBRUARY}: after the deadline$"),
    )
    listed = digest.text.split("Deferred to the next meeting")[0]
    assert c in listed and d in listed and e not in listed


def test_the_next_meetings_timeslots_and_pack(month: Month) -> None:
    c, d = month.ref(C), month.ref(D)
    c_slot, d_slot = expect(
        month.steps["February slots"].got,
        (C.address, rf"^{c}: your timeslot at the {PANEL}"),
        (D.address, rf"^{d}: your timeslot at the {PANEL}"),
    )
    assert ics_times(c_slot.file(".ics")) == ("20260210T100000Z", "20260210T103000Z")
    assert ics_times(d_slot.file(".ics")) == ("20260210T103000Z", "20260210T110000Z")
    packs = expect(
        month.steps["February pack"].got,
        (ADMIN, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
        (CHAIR, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
        (CORE, rf"^{PANEL}: meeting pack for {FEBRUARY}, version 1$"),
        (ADMIN, rf"^{PANEL}: decisions workbook for {FEBRUARY} \[decisions:"),
    )[:3]
    february = {c: "10:00–10:30", d: "10:30–11:00"}
    check_pack(packs[0], "A Admin", [(c, "C.D."), (d, "D.L.")], february, FEBRUARY, "2026-02-10")


def test_nothing_was_held_failed_or_left_behind_and_nobody_unconfigured_written_to(
    month: Month,
) -> None:
    assert month.live.rows("SELECT status, count(*) FROM outbox GROUP BY status") == [
        ("sent", len(month.smtp.messages))
    ]
