"""R13: the decision sheet as Word and PDF, read back as a referrer would open it."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import pytest
from docx import Document as WordDocument
from pypdf import PdfReader

from pipeline.config import Config, parse_config
from pipeline.outputs.decision_sheet import (
    TEMPLATE,
    SheetFacts,
    sheet_docx,
    sheet_facts,
    sheets_to_pdf,
    template_bytes,
)
from pipeline.states import Outcome
from pipeline.store.models import Action, Case, Decision
from tests.helpers import ROOT, config_tree

MEETING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
MADE = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
HOSTILE = 'Tom & Jerry <b>"O\'Neil"</b> ]]> </w:t></w:r><w:r><w:t>INJECTED'


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_decision_sheet", ROOT / "scripts/make_decision_sheet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def config(tmp_path: Path) -> Config:
    larp = {"name": "L Resource Panel", "email": "larp@example.org"}
    return parse_config(config_tree(people__larp=larp), tmp_path, env={})


def decided(
    child: str = "Robin Testcase", note: str = "Family agreed the plan.", larp: bool = False
) -> tuple[Case, Decision]:
    case = Case(
        reference="MASP-2026-0007",
        referrer_email="jo.bloggs@school.example.org",
        referrer_name="Jo Bloggs",
        fields={
            "child_name": child,
            "child_dob": "2016-03-14",
            "request_types": ["multi_agency_package", "admission_to_care"],
        },
        documents=[],
    )
    decision = Decision(
        panel_id="masp",
        meeting=MEETING,
        outcome=Outcome.ACCEPTED.value,
        lead_name="Kim Lead",
        lead_agency="Early Help",
        lead_email="kim.lead@example.org",
        review_date=date(2027, 3, 1),
        no_further_review=False,
        larp=larp,
        larp_note="residential short breaks" if larp else None,
        final=False,
        notes=note,
        actions=[
            Action(
                position=1,
                text="Arrange a TAF meeting",
                owner="Kim Lead",
                agency="Early Help",
                due=date(2026, 12, 22),
            ),
            Action(
                position=2,
                text="School attendance plan",
                owner="Ms Head",
                agency="Education",
                due=date(2027, 1, 15),
            ),
        ],
    )
    return case, decision


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def render(config: Config, facts: SheetFacts) -> tuple[str, str]:
    """The sheet's text as python-docx reads it (body, tables, header, footer) and the PDF's."""
    data = sheet_docx(facts, 1, MADE, template_bytes())
    document = WordDocument(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    section = document.sections[0]
    parts += [p.text for p in (*section.header.paragraphs, *section.footer.paragraphs)]
    [pdf] = sheets_to_pdf(config, [data])
    assert pdf is not None
    return "\n".join(parts), pdf_text(pdf)


def test_the_sheet_says_the_referral_and_the_decision(config: Config) -> None:
    case, decision = decided(larp=True)
    words, pdf = render(config, sheet_facts(config, case, decision))
    for text in (words, " ".join(pdf.split())):
        assert "Multi Agency Support Panel: decision sheet" in text
        assert "OFFICIAL-SENSITIVE" in text
        assert "MASP-2026-0007" in text and "Robin Testcase" in text and "14 March 2016" in text
        assert "Jo Bloggs" in text and "Multi-agency support package" in text
        assert "Tuesday 8 December 2026, 10:00" in text
        assert Outcome.ACCEPTED.value in text
        assert "Arrange a TAF meeting" in text and "22 December 2026" in text
        assert "Kim Lead" in text and "kim.lead@example.org" in text
        assert "on or after 1 March 2027" in text
        assert "Recommended to the resource panel (LARP): residential short breaks" in text
        assert "the papers have been sent to it" in text
        assert "Family agreed the plan." in text
        assert "{{" not in text and "{%" not in text


def test_no_further_review_says_the_lead_will_be_asked_in_twelve_weeks(config: Config) -> None:
    case, decision = decided()
    decision.no_further_review, decision.review_date = True, None
    words, pdf = render(config, sheet_facts(config, case, decision))
    expected = "the Lead Professional will be asked for outcomes in 12 weeks"
    assert expected in words and expected in " ".join(pdf.split())
    assert "resource panel" not in words


@pytest.mark.parametrize(
    ("name", "fonts_here"),
    [
        (HOSTILE, True),
        ("Ελένη Παπαδοπούλου", True),
        ("Łukasz Żółć", True),
        ("A & B < C > D", True),
        # No installed font here draws Chinese: the Word sheet carries the name, and the PDF
        # still comes out whole (a server that sees such names wants fonts-noto-cjk).
        ("王小明", False),
    ],
)
def test_any_name_or_note_is_shown_as_written_and_never_becomes_word_xml(
    config: Config, name: str, fonts_here: bool
) -> None:
    case, decision = decided(child=name, note=f"Notes: {name}")
    words, pdf = render(config, sheet_facts(config, case, decision))
    assert name in words and f"Notes: {name}" in words
    assert "INJECTED" not in words.replace(name, "")
    flat = " ".join(pdf.split())
    assert "Arrange a TAF meeting" in flat and "Please place this sheet" in flat
    if fonts_here:
        assert " ".join(name.split()) in flat
        assert f"Notes: {' '.join(name.split())}" in flat


def test_the_shipped_template_is_what_the_script_makes() -> None:
    made = zipfile.ZipFile(io.BytesIO(script().build()))
    shipped = zipfile.ZipFile(io.BytesIO((ROOT / "pipeline" / TEMPLATE).read_bytes()))
    assert sorted(made.namelist()) == sorted(shipped.namelist())
    for name in made.namelist():
        assert made.read(name) == shipped.read(name), name
    assert template_bytes() == (ROOT / "pipeline" / TEMPLATE).read_bytes()
