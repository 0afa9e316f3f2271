"""R11 section 1, R14: a review lists its case at the first meeting on or after the review
date, with its outstanding actions; other decided cases' overdue actions are listed for the
chair. Read back from the Word agenda and from the pack's agenda pages."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
from docx import Document as WordDocument

from pipeline.app import App
from pipeline.outputs.agenda import agenda_docx, build_agenda
from pipeline.outputs.pack import build_pack, gather
from pipeline.states import CaseState
from tests.helpers import open_service
from tests.panel.decisions.fixtures import NAMES, Agreed, add_case, decide

NOW = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
# Second Tuesdays at 10:00 London time (GMT in winter).
DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
JANUARY = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
FEBRUARY = datetime(2027, 2, 9, 10, 0, tzinfo=UTC)
MARCH = datetime(2027, 3, 9, 10, 0, tzinfo=UTC)
PANEL = {
    "id": "masp",
    "name": "Multi Agency Support Panel",
    "meetings": {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00", "cancel": ["2027-02-09"]},
    "deadline": {"days_before": 7, "time": "12:00"},
}


def world(tmp_path: Path) -> App:
    """Four cases decided in December, and one presented in January.

    1: review on a meeting day (12 January) — listed at January, with its open actions;
    2: review between meetings (20 January) — listed at the next meeting, 9 February, which is
       cancelled, so at March;
    3: review on 1 February — after January, February cancelled: March too;
    4: no further panel review, one action overdue by January: listed for the chair.
    """
    app = open_service(tmp_path, NOW, panels=[PANEL])
    ids = [add_case(app, n, DECEMBER) for n in (1, 2, 3, 4)]
    decide(
        app,
        ids[0],
        DECEMBER,
        (
            Agreed("Call Robin's mum about school", "Education", date(2027, 1, 5)),
            Agreed("Health visit", "Health", date(2027, 1, 6), done=True),
            Agreed("Family support plan", "Early Help", date(2027, 2, 1)),
        ),
        review_date=date(2027, 1, 12),
    )
    decide(app, ids[1], DECEMBER, review_date=date(2027, 1, 20), lead_agency="Police")
    decide(app, ids[2], DECEMBER, review_date=date(2027, 2, 1))
    decide(
        app,
        ids[3],
        DECEMBER,
        (Agreed("Housing assessment", "Housing", date(2027, 1, 4)),),
        no_further_review=True,
    )
    add_case(app, 5, JANUARY)
    return app


def section_one(app: App, starts_at: datetime) -> list[tuple[str, str | None]]:
    with app.store.session() as session:
        return list(build_agenda(app, session, "masp", starts_at).follow_ups)


def word_text(app: App, starts_at: datetime) -> str:
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", starts_at)
    word = WordDocument(io.BytesIO(agenda_docx(agenda, NOW)))
    return "\n".join(p.text for p in word.paragraphs)


def pack_agenda_text(app: App, starts_at: datetime) -> str:
    with app.store.session() as session:
        built = build_pack(app, session, "masp", starts_at)
        data, sections = built.rendered.data, built.rendered.sections
    agenda = next(s for s in sections if s.title == "Agenda")
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = reader.pages[agenda.first : agenda.last + 1]
    return "\n".join(page.extract_text() or "" for page in pages)


def test_a_review_on_a_meeting_day_is_listed_at_that_meeting(tmp_path: Path) -> None:
    app = world(tmp_path)
    try:
        entries = section_one(app, JANUARY)
        texts = [text for text, _ in entries]
        assert texts[0] == (
            "Review: MASP-2026-0001 — R.T., age 10 — review set at the meeting of "
            "8 December 2026; Lead Professional: Health"
        )
        # Open actions only, the one whose date passed marked; the child's name taken out.
        assert texts[1] == (
            "MASP-2026-0001 action: Call R.'s mum about school — Education — by 5 January 2027"
            " — overdue"
        )
        assert texts[2] == (
            "MASP-2026-0001 action: Family support plan — Early Help — by 1 February 2027"
        )
        assert not any("Health visit" in t for t in texts)
        # Case 4 is not reviewed: its overdue action is listed for the chair.
        assert texts[3:] == [
            "Overdue actions, for the chair:",
            "MASP-2026-0004: Housing assessment — Housing — due 4 January 2027 — overdue",
        ]
        assert not any("MASP-2026-0002" in t or "MASP-2026-0003" in t for t in texts)
    finally:
        app.close()


def test_reviews_between_meetings_and_after_a_cancelled_one_go_to_the_next_held(
    tmp_path: Path,
) -> None:
    app = world(tmp_path)
    try:
        march = [text for text, _ in section_one(app, MARCH) if text.startswith("Review:")]
        # 0001's January review has no decision recorded yet: it carries to March too.
        assert [t.split(" — ")[0] for t in march] == [
            "Review: MASP-2026-0001",
            "Review: MASP-2026-0002",
            "Review: MASP-2026-0003",
        ]
        assert "Lead Professional: Police" in march[1]
        # The cancelled meeting would have listed none of those due after January (0001,
        # carried from January, only).
        february = [t for t, _ in section_one(app, FEBRUARY) if t.startswith("Review:")]
        assert [t.split(" — ")[0] for t in february] == ["Review: MASP-2026-0001"]
        with app.store.session() as session:
            # December's own agenda has no reviews: the decisions were made there.
            assert build_agenda(app, session, "masp", DECEMBER).follow_ups == ()
    finally:
        app.close()


def test_section_one_reads_the_same_in_word_and_in_the_pack(tmp_path: Path) -> None:
    app = world(tmp_path)
    try:
        word = word_text(app, JANUARY)
        pack = pack_agenda_text(app, JANUARY)
        for text in (word, pack):
            assert "Review: MASP-2026-0001 — R.T., age 10" in text
            assert "Family support plan" in text and "Overdue actions, for the chair:" in text
            assert "MASP-2026-0004: Housing assessment" in text
            assert not any(part in text for name in NAMES for part in name.split())
        flat = " ".join(pack.split())
        # The case presented has its pages; a review case, which has none, prints no range.
        assert "Pack pages 0–0" not in flat and flat.count("Pack pages") == 1
        assert word.index("1. Follow-up actions") < word.index("MASP-2026-0001")
        assert word.index("MASP-2026-0004") < word.index("2. Pre-discussion")
    finally:
        app.close()


def test_a_review_added_before_the_pack_goes_changes_its_digest(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, panels=[PANEL])
    try:
        add_case(app, 5, JANUARY)
        case_id = add_case(app, 1, DECEMBER)
        with app.store.session() as session:
            before = gather(app, session, "masp", JANUARY).digest()
        decide(app, case_id, DECEMBER, review_date=date(2027, 1, 10))
        with app.store.session() as session:
            inputs = gather(app, session, "masp", JANUARY)
        assert inputs.digest() != before
        # A co-opted member's copy (case 5 only) shows no other child's review.
        assert inputs.only(["MASP-2026-0005"]).agenda.follow_ups == ()
        assert inputs.agenda.follow_ups[0][1] == "MASP-2026-0001"
    finally:
        app.close()


def test_a_closed_or_final_case_is_not_reviewed(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, panels=[PANEL])
    try:
        first = add_case(app, 1, DECEMBER)
        decide(app, first, DECEMBER, review_date=date(2027, 1, 12), final=True)
        second = add_case(app, 2, DECEMBER, state=CaseState.APPROVED)
        decide(app, second, DECEMBER, review_date=date(2027, 1, 12))
        with app.store.session() as session:
            from pipeline.store.lifecycle import move
            from pipeline.store.models import Case

            move(session.get_one(Case, second), CaseState.CLOSED)
        assert section_one(app, JANUARY) == []
    finally:
        app.close()
