"""R11: who is on a meeting's agenda, in what order, and only by reference, initials and age."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pdfplumber
from docx import Document as WordDocument

from pipeline.app import App
from pipeline.outputs.agenda import agenda_lines, build_agenda, is_quarterly, write_agenda
from pipeline.store.models import Case, Slot
from tests.helpers import open_service

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# The second Tuesday of December 2026, 10:00 in London (GMT).
MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
NAMES = ("Robin Testcase", "Sky Example", "Ash Placeholder", "Rowan Invented", "Kit Sample")


def add_case(app: App, n: int, state: str, section20: bool = False, **extra: object) -> None:
    with app.store.session() as session:
        session.add(
            Case(
                reference=f"MASP-2026-{n:04d}",
                panel_id="masp",
                meeting=extra.get("meeting", MEETING),
                state=state,
                referrer_email=f"ref{n}@school.example.org",
                received_at=NOW + timedelta(hours=n),
                section20=section20,
                flags=[],
                fields={
                    "child_name": NAMES[n - 1],
                    "child_dob": "2016-12-09" if n == 1 else "2026-06-01",
                    "request_types": ["section20"] if section20 else ["advice"],
                },
            )
        )


def agenda_text(app: App) -> str:
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", MEETING)
    return "\n".join(line.text for line in agenda_lines(agenda))


def seeded(tmp_path: Path, **overrides: object) -> App:
    app = open_service(tmp_path, NOW, **overrides)
    add_case(app, 1, "approved")
    add_case(app, 2, "incomplete", section20=True)
    add_case(app, 3, "declined", section20=True)
    add_case(app, 4, "complete")
    add_case(app, 5, "approved", meeting=MEETING + timedelta(days=35))
    return app


def test_listing_order_and_minimal_identifiers(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", MEETING)
    # Section 20 first, then by arrival; declined, unscreened (held) and other meetings' out.
    assert agenda.references == ["MASP-2026-0002", "MASP-2026-0001"]
    text = agenda_text(app)
    assert "R.T., age 9" in text and "S.E., age 6 months" in text
    assert "Section 20 emergency" in text and "Advice and guidance" in text
    assert not any(name in text or name.split()[1] in text for name in NAMES)
    assert "1. Follow-up actions" in text and "2. Pre-discussion" in text
    assert "Quarterly" not in text
    app.close()


def test_unscreened_cases_listed_when_configured_and_slots_set_the_order(tmp_path: Path) -> None:
    app = seeded(tmp_path, screening={"unscreened": "list"})
    with app.store.session() as session:
        for position, case_id in enumerate((4, 1, 2)):
            start = MEETING + timedelta(minutes=30 * position)
            session.add(
                Slot(
                    case_id=case_id,
                    panel_id="masp",
                    meeting=MEETING,
                    position=position,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=30),
                )
            )
    text = agenda_text(app)
    assert "10:00–10:30  MASP-2026-0004" in text and "unscreened" in text
    assert (
        text.index("MASP-2026-0004") < text.index("MASP-2026-0001") < text.index("MASP-2026-0002")
    )
    app.close()


def test_quarterly_meeting_has_a_summary_placeholder(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    panel = app.config.panel("masp")
    assert is_quarterly(panel, datetime(2027, 1, 12).date())
    assert not is_quarterly(panel, MEETING.date())
    app.close()


def test_agenda_as_word_and_pdf_never_names_the_child(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", MEETING)
    docx_path, pdf_path = write_agenda(app, agenda)
    word = WordDocument(io.BytesIO(app.files.read(docx_path)))
    cells = (cell.text for table in word.tables for row in table.rows for cell in row.cells)
    word_text = "\n".join([*(p.text for p in word.paragraphs), *cells])
    with pdfplumber.open(app.files.absolute(pdf_path)) as pdf:
        pdf_text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    for text in (word_text, pdf_text):
        assert "MASP-2026-0001" in text and "R.T." in text and "Chair: C Chair" in text
        assert "OFFICIAL-SENSITIVE" in text
        assert not any(name.split()[1] in text for name in NAMES)
    app.close()
