"""Every email template renders in strict mode, and a missing variable is an error."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from pipeline.templates import Templates

TEMPLATES = Templates()
DOCUMENT = {
    "label": "Chronology",
    "filename": "c.docx",
    "status": "refused",
    "reason": "the file is empty",
    "version": 1,
    "superseded": False,
}
LINE = {"reference": "MASP-2026-0001", "initials": "R.T.", "age": "age 10", "note": "approved"}
CONTEXT = {
    "recipient_name": "Pat Member",
    "pack_version": 2,
    "pack_part": 1,
    "pack_parts": 2,
    "pack_whole": False,
    "pack_references": ["MASP-2026-0001"],
    "pack_reissued": True,
    "reference": "MASP-2026-0001",
    "panel_name": "Multi Agency Support Panel",
    "meeting": "Tuesday 8 December 2026, 10:00",
    "deadline": "Tuesday 1 December 2026, 12:00",
    "late": True,
    "missed_meeting": "Tuesday 10 November 2026, 10:00",
    "documents": [DOCUMENT],
    "refused": [DOCUMENT],
    "missing": ["Chronology"],
    "complete": False,
    "section20": True,
    "flags": [],
    "administrator": "A Admin",
    "panel_address": "panel@example.org",
    "form_attached": True,
    "now_complete": False,
    "problems": ["a note"],
    "ledger_id": 3,
    "error": "ValueError",
    "too_large": True,
    "limit": "35.0 MB",
    "size": "40.0 MB",
    "subject": "Re: referral",
    "missing_fields": ["the child's name"],
    "no_consent": True,
    "more_info": True,
    "requested": "the school's attendance record",
    "old_meeting": "Tuesday 10 November 2026, 10:00",
    "old_panel_name": "MASG North",
    "on_agenda": [LINE],
    "deferred_cases": [LINE],
    "awaiting_screening": [LINE],
    "awaiting_attendance": [LINE],
    "not_attending": [],
    "maybe_attending": [],
    "confirmed": 1,
    "slotted": 2,
    "manager_name": "S Manager",
    "token": "[screen:0123456789abcdef.0123456789abcdef0123]",
    "hours": 48,
    "why": "forged sender",
    "sender": "someone@example.org",
    "reason": "The family already has a Child in Need plan.",
    "slot_start": "10:00",
    "slot_end": "10:30",
    "place": "Committee Room 2, Civic Centre",
    "withdrawn_slot": "10:00 to 10:30",
    "refused_addresses": ["someone@school.example.org"],
    "partial": False,
    "gave_up": False,
    "tries_left": 7,
    "outbox_id": 12,
    "moved_because": "unscreened",
    "retimed_to": "",
    "because": "it had not been screened by the time the meeting began",
    "next_step": "screening",
    "moved": [LINE | {"to": "Tuesday 12 January 2027, 10:00"}],
    "section20_question": True,
    "after_deadline": True,
    "deadline_passed": False,
    "received": "Saturday 5 December 2026, 10:00",
    "quoted": "MASP-2026-0001",
    "earlier": "MASP-2026-0001",
    "initials": "R.T.",
    "lead_name": "Lee Lead",
    "decided": "8 December 2026",
    "weeks": 12,
    "actions": [{"text": "School to meet the family", "agency": "Education", "due": "5 Jan 2027"}],
    "again": False,
    # The decisions workbook (R13).
    "workbook_references": ["MASP-2026-0001", "MASP-2026-0002"],
    "review_count": 1,
    "workbook_reissued": True,
    "sheet_days": 7,
    "sheets_due": "Tuesday 15 December 2026",
    "import_id": 4,
    "source": "email",
    "recorded": [
        {
            "reference": "MASP-2026-0001",
            "heard_as": "presented",
            "outcome": "Accepted: multi-agency support agreed",
            "review_date": "12/01/2027",
            "actions": 2,
            "closes": False,
            "larp": True,
            "replaced": True,
        }
    ],
    # The quarterly report (R15).
    "title": "Multi Agency Support Panel: quarterly picture, 2027Q1",
    "quarter": "2027Q1",
    "headline": ["Referrals received in 2027Q1: 12 (most from: School 5)."],
    "charts": [{"cid": "agency.2027Q1.masp@masp", "title": "Referrals by agency, 2027Q1"}],
    "workbook_name": "quarterly-masp-2027Q1.xlsx",
    "chair": "C Chair",
    "outcome": "Accepted: multi-agency support agreed",
    "review": "The panel will review this case at its first meeting on or after 1 March 2027.",
    "larp": True,
    "version": 2,
    "has_pdf": True,
    "problem": "LibreOffice could not convert it",
    "age": "age 10",
    "larp_note": "residential short breaks",
    "larp_configured": True,
    "missing_cases": [LINE],
    "days_left": 3,
    # The administrator's overrides (R17).
    "moved_back": True,
    "panel_id": "masp",
    "meeting_day": "2026-12-08",
    "message": "Referral MASP-2026-0001 has been withdrawn.\n\nA second paragraph.",
}


@pytest.mark.parametrize("name", TEMPLATES.names())
def test_template_renders(name: str) -> None:
    rendered = TEMPLATES.render(name, CONTEXT)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "<html" in rendered.html


def test_missing_variable_is_an_error() -> None:
    with pytest.raises(UndefinedError):
        TEMPLATES.render("acknowledgement", {"reference": "MASP-2026-0001"})


def test_html_escapes_what_people_wrote() -> None:
    context = CONTEXT | {"documents": [DOCUMENT | {"filename": "<script>x</script>.docx"}]}
    assert "<script>" not in TEMPLATES.render("acknowledgement", context).html
