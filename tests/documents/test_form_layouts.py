"""Other councils' Word layouts read end to end: Word's check boxes of every era, questions
asked in a two-column table or answered under Yes/No columns, and tables of children."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import samples
from pipeline.documents.form import REQUEST_TYPES, read_form_facts
from pipeline.documents.read import read_document
from pipeline.documents.results import FormFacts, ReadLimits
from pipeline.documents.sniff import sniff
from pipeline.documents.word import read_word
from pipeline.intake.poll import poll
from pipeline.outputs.status import one_case
from tests.helpers import corpus_maker, drop, open_service, sent_mail

MAKER = corpus_maker()
W = MAKER.W

# A check box drawn into a paragraph, ticked or not.
Box = Callable[[Any, bool], None]


def _legacy(paragraph: Any, checked: bool) -> None:
    MAKER.legacy_checkbox(paragraph, checked)


def _legacy_by_default(paragraph: Any, checked: bool) -> None:
    """A Word 97 check box that was never clicked: its default state is its state."""
    from docx.oxml import parse_xml

    paragraph._p.append(
        parse_xml(
            f'<w:r xmlns:w="{W}"><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox>'
            f'<w:sizeAuto/><w:default w:val="{int(checked)}"/></w:checkBox></w:ffData>'
            "</w:fldChar></w:r>"
        )
    )


def _modern(paragraph: Any, checked: bool) -> None:
    MAKER.checkbox_control(paragraph, checked)


def _modern_wingdings(paragraph: Any, checked: bool) -> None:
    MAKER.checkbox_control(paragraph, checked, wingdings=True)


def _typed_glyph(paragraph: Any, checked: bool) -> None:
    paragraph.add_run(MAKER.CHECKED if checked else MAKER.UNCHECKED)


BOXES: dict[str, Box] = {
    "legacy": _legacy,
    "legacy by default": _legacy_by_default,
    "modern": _modern,
    "modern in Wingdings": _modern_wingdings,
    "typed glyph": _typed_glyph,
}


def _facts(data: bytes) -> FormFacts:
    return read_form_facts(data, sniff(data, "referral.docx"))


def _form(build: Callable[[Any], None]) -> bytes:
    def whole(document: Any) -> None:
        document.add_heading("Referral form", level=0)
        build(document)

    return bytes(MAKER.docx_bytes(whole))


def _tick_table(box: Box, items: Sequence[tuple[str, bool]], box_first: bool) -> bytes:
    def build(document: Any) -> None:
        grid = document.add_table(rows=0, cols=2)
        for label, ticked in items:
            cells = grid.add_row().cells
            box_cell, label_cell = (cells[0], cells[1]) if box_first else (cells[1], cells[0])
            box(box_cell.paragraphs[0], ticked)
            label_cell.text = label

    return _form(build)


@pytest.mark.parametrize("style", sorted(BOXES))
@pytest.mark.parametrize("ticked", [True, False])
def test_every_kind_of_check_box_says_whether_it_is_ticked(style: str, ticked: bool) -> None:
    data = _tick_table(BOXES[style], [("Section 20 emergency admission", ticked)], True)
    assert _facts(data).section20 is ticked


def test_a_modern_check_box_is_read_by_its_state_not_by_how_it_was_last_drawn() -> None:
    # Saved by a program that set the state without redrawing the box: the state is the answer.
    def build(document: Any) -> None:
        paragraph = document.add_paragraph()
        MAKER.checkbox_control(paragraph, True)
        paragraph.add_run(" Section 20 emergency admission")
        paragraph = document.add_paragraph()
        MAKER.checkbox_control(paragraph, False)
        paragraph.add_run(" Advice and guidance")

    def redraw(name: str, body: bytes) -> bytes:
        return body.replace("☒".encode(), "☐".encode()) if name == "word/document.xml" else body

    data = bytes(MAKER.rewrite_zip(_form(build), redraw))
    word = read_word(data)
    assert word is not None
    assert [block.cells[0] for block in word.blocks[1:]] == [
        "☒ Section 20 emergency admission",
        "☐ Advice and guidance",
    ]
    assert _facts(data).request_types == ("section20",)


@settings(max_examples=30, deadline=None)
@given(
    ticks=st.dictionaries(st.sampled_from(sorted(REQUEST_TYPES)), st.booleans(), min_size=1),
    style=st.sampled_from(sorted(BOXES)),
    box_first=st.booleans(),
)
def test_a_request_tick_list_in_any_kind_of_box_reads_only_what_is_ticked(
    ticks: dict[str, bool], style: str, box_first: bool
) -> None:
    items = [(REQUEST_TYPES[key], on) for key, on in ticks.items()]
    facts = _facts(_tick_table(BOXES[style], items, box_first))
    assert set(facts.request_types) == {key for key, on in ticks.items() if on}
    assert facts.section20 is ticks.get("section20", False)


@pytest.mark.parametrize(("chosen", "consent"), [(0, True), (1, False), (2, None)])
def test_a_word_97_drop_down_gives_the_entry_chosen(chosen: int, consent: bool | None) -> None:
    def build(document: Any) -> None:
        grid = MAKER.table(document, [["Does the family agree to the referral?", ""]])
        paragraph = grid.rows[0].cells[1].paragraphs[0]
        MAKER.legacy_dropdown(paragraph, ["Yes", "No", "Don't know"], chosen)

    assert _facts(_form(build)).consent is consent


def _question_table(rows: Sequence[Sequence[str]]) -> bytes:
    return _form(lambda document: MAKER.table(document, rows))


@pytest.mark.parametrize(
    ("question", "answer", "field", "expected"),
    [
        ("Has the family consented to this referral?", "Yes", "consent", True),
        ("Has the family consented?", "No — reason: not yet asked", "consent", False),
        ("Does the parent/carer agree to the referral being discussed?", "N", "consent", False),
        ("Is a genogram required?", "No", "genogram_required", False),
        ("Will the panel need a genogram?", "Yes", "genogram_required", True),
        ("Is this an emergency admission under Section 20?", "Yes", "section20", True),
        ("Is this an emergency admission under Section 20?", "No", "section20", False),
        ("Has the child ever been accommodated under Section 20?", "Yes", "section20", False),
    ],
)
def test_yes_no_questions_in_a_two_column_table(
    question: str, answer: str, field: str, expected: bool
) -> None:
    assert getattr(_facts(_question_table([[question, answer]])), field) is expected


def test_questions_answered_by_a_mark_under_yes_or_no() -> None:
    data = _question_table(
        [
            ["Question", "Yes", "No"],
            ["Does the family consent to the referral?", "", "X"],
            ["Is a genogram needed?", "✓", ""],
            ["Is this an emergency Section 20 admission?", "", "☒"],
        ]
    )
    facts = _facts(data)
    assert (facts.consent, facts.genogram_required, facts.section20) == (False, True, False)


def test_a_lone_mark_answering_a_free_text_label_is_kept_and_a_tick_box_still_ticks() -> None:
    # "Risks | X" is most likely a mark meaning "yes, see attached": kept as written, as our own
    # form's tagged fields keep it, since the text is never worse to have than to lose.
    data = _question_table(
        [
            ["Risks", "X"],
            ["Needs", "✓"],
            ["Strengths", "☐"],
            ["Section 20 emergency admission", "☒"],
            ["Consent given", "X"],
            ["Date of birth", "X"],
            ["Email", "☒"],
        ]
    )
    result = read_document("referral.docx", data, ReadLimits(), date(2026, 3, 1))
    found = {key: item["value"] for key, item in result.fields.items() if isinstance(item, dict)}
    assert found == {"risks": "X", "needs": "✓", "request_types": ["section20"], "consent": True}
    # A mark beside a date or an address is a tick, not an answer that could not be read.
    assert not [note for note in result.notes if "could not be read" in note or "not an" in note]


def test_a_table_of_children_gives_the_child_marked_as_referred_and_the_others() -> None:
    data = _question_table(
        [
            ["Name", "DOB", "Gender", "Referred child"],
            ["Ari Sample", "02/02/2014", "Male", "☐"],
            ["Bel Sample", "03/03/2016", "Female", "☒"],
        ]
    )
    result = read_document("referral.docx", data, ReadLimits(), date(2026, 3, 1))
    assert result.facts is not None
    assert (result.facts.child_name, result.facts.child_dob) == ("Bel Sample", date(2016, 3, 3))
    assert result.fields["other_children"]["value"] == "Ari Sample, 02/02/2014"
    # The header row is not read as labels and answers ("Gender" | "Referred child").
    assert "child_gender" not in result.fields


def test_without_a_mark_the_child_named_elsewhere_on_the_form_is_the_one() -> None:
    def build(document: Any) -> None:
        MAKER.table(document, [["Child's name", "Bel Sample"]])
        MAKER.table(
            document,
            [["Name", "Date of birth"], ["Ari Sample", "02/02/2014"], ["Bel Sample", "03/03/2016"]],
        )

    facts = _facts(_form(build))
    assert (facts.child_name, facts.child_dob) == ("Bel Sample", date(2016, 3, 3))


def test_a_label_and_value_table_of_four_columns_is_not_taken_for_a_table_of_children() -> None:
    data = _question_table([["Name", "Cy Sample", "Date of birth", "04/04/2017"]])
    facts = _facts(data)
    assert facts.child_dob == date(2017, 4, 4)


# --- Through intake: a Section 20 emergency on another council's form is alerted (R7). ---

CORPUS = MAKER.HERE
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.mark.opens_store
@pytest.mark.parametrize(
    "form",
    [
        "Riverside MASP referral.docx",  # "Is this an emergency admission ... Section 20?" | "Yes"
        "Fenwick referral (legacy boxes).docx",  # a ticked Word 97 check box
        "Kingsmoor referral form.pdf",  # a ticked AcroForm check box, "(s.20)"
    ],
)
def test_a_section20_on_another_councils_form_alerts_the_administrator_and_chair(
    form: str, tmp_path: Path
) -> None:
    data = (CORPUS / form).read_bytes()
    referrer = json.loads((CORPUS / f"{form}.json").read_text())["form"]["referrer_email"]
    kind = samples.PDF if form.endswith(".pdf") else samples.DOCX
    files = [samples.File(form, kind, data), *samples.full_referral(samples.Child())[1:]]
    service = open_service(tmp_path, NOW)
    try:
        drop(service, samples.Mail(f"<{referrer}>", "Referral", files=files), NOW)
        poll(service)
        [alert] = [s for s in sent_mail(service) if "Section 20" in s.subject]
        assert "admin@example.org" in alert.to and "chair@example.org" in alert.to
        with service.store.session() as session:
            case = one_case(service.config, session, "MASP-2026-0001")
        assert case["fields"]["section20"] is True
    finally:
        service.close()


def test_a_drawings_fallback_copy_is_not_read_as_more_text() -> None:
    # Word saves a text box twice: the drawing (mc:Choice) and an old-style copy (mc:Fallback).
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"

    def build(document: Any) -> None:
        from docx.oxml import parse_xml

        box = "<w:p><w:r><w:t>Child accommodated under Section 20</w:t></w:r></w:p>"
        document.add_paragraph()._p.append(
            parse_xml(
                f'<w:r xmlns:w="{W}" xmlns:mc="{mc}"><mc:AlternateContent>'
                f'<mc:Choice Requires="wps"><w:pict><w:txbxContent>{box}</w:txbxContent>'
                f"</w:pict></mc:Choice><mc:Fallback><w:pict><w:txbxContent>{box}"
                "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
            )
        )

    word = read_word(_form(build))
    assert word is not None
    text = "\n".join(cell for block in word.blocks for cell in block.cells)
    assert text.count("Child accommodated under Section 20") == 1
