"""`masp status REFERENCE`: each document with the fields read, those missing, and its notes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.outputs.status import one_case, print_detail
from tests.helpers import drop, open_service

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_each_document_shows_what_was_read_and_what_was_not(tmp_path: Path) -> None:
    service = open_service(tmp_path, NOW)
    try:
        child = samples.Child()
        files = samples.full_referral(child)
        sender = f"{child.referrer_name} <{child.referrer_email}>"
        drop(service, samples.Mail(sender, "Referral", files=files), NOW - timedelta(hours=1))
        poll(service)
        with service.store.session() as session:
            case = one_case(service.config, session, "MASP-2026-0001")
    finally:
        service.close()
    documents = {d["kind"]: d for d in case["documents"]}
    form = documents["referral_form"]
    assert form["fields"]["child_name"] == {
        "value": child.name,
        "confidence": 1.0,
        "source": "content-control",
    }
    assert form["missing"] == [] and form["notes"] == []
    chronology = documents["chronology"]
    assert chronology["summary"]["entries"] == 12
    assert chronology["summary"]["sources"] == ["School", "Health visitor", "Police", "Housing"]
    assert chronology["notes"] == []
    # The rows themselves stay stored with the document; the view shows the summary.
    assert "entries" not in chronology["fields"]
    out = io.StringIO()
    print_detail(Console(file=out, width=100), case)
    text = out.getvalue()
    assert f"child_name: {child.name}" in text
    assert "summary: entries 12, first_date 2025-01-01" in text


def test_notes_and_missing_fields_are_printed_for_people() -> None:
    document = {
        "filename": "form.docx",
        "kind": "referral_form",
        "status": "ok",
        "version": 1,
        "superseded": False,
        "fields": {"child_name": {"value": "Ada Example", "confidence": 0.85, "source": "text"}},
        "missing": ["consent"],
        "notes": ["the form does not give consent"],
    }
    case = {
        "reference": "MASP-2026-0001",
        "state": "incomplete",
        "fields": {},
        "panel": "masp",
        "meeting": "2026-12-08",
        "deadline": "2026-12-01T12:00:00+00:00",
        "referrer": "jo@example.org",
        "missing": ["chronology"],
        "flags": [],
        "slot": {"starts_at": "2026-12-08T10:30:00+00:00", "attendance": "yes"},
    }
    out = io.StringIO()
    print_detail(Console(file=out, width=100), case | {"documents": [document]})
    text = out.getvalue()
    assert "missing: consent" in text and "note: the form does not give consent" in text
    assert "documents due by 01/12 12:00" in text and "still needed: chronology" in text
    assert "timeslot 08/12 10:30, attendance: yes" in text
