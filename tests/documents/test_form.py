"""Our referral form: the blank form we send, filling it, and reading facts from any form."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from pipeline.documents.form import (
    FORM_MARKER,
    FORM_TITLE,
    REQUEST_TYPES,
    SECTIONS,
    Text,
    Tick,
    YesNo,
    blank_form_bytes,
    fill_form,
    parse_date,
    read_form_facts,
    write_blank_form,
)
from pipeline.documents.results import FormFacts, Sniffed
from pipeline.documents.sniff import sniff
from tests.helpers import DATA, corpus_maker

CORPUS = DATA / "documents"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
NS = {"w": W, "w14": W14}


MAKER = corpus_maker()


def _facts(data: bytes, name: str = "form.docx") -> FormFacts:
    return read_form_facts(data, sniff(data, name))


def _part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def _expected_tags() -> list[str]:
    tags: list[str] = []
    for section in SECTIONS:
        for row in section.rows:
            if isinstance(row, Text | Tick):
                tags.append(row.tag)
            elif isinstance(row, YesNo):
                tags += [f"{row.prefix}_yes", f"{row.prefix}_no"]
    return tags


def test_the_blank_form_is_small_reproducible_and_written_where_asked(tmp_path: Path) -> None:
    data = blank_form_bytes()
    assert len(data) < 60_000
    # Built again from scratch (not from the cache), the form is byte-for-byte the same.
    assert blank_form_bytes.__wrapped__() == data
    write_blank_form(tmp_path / "form.docx")
    assert (tmp_path / "form.docx").read_bytes() == data


def test_every_field_is_a_content_control_with_a_stable_tag() -> None:
    document = etree.fromstring(_part(blank_form_bytes(), "word/document.xml"))
    tags = document.xpath("//w:sdt/w:sdtPr/w:tag/@w:val", namespaces=NS)
    expected = _expected_tags()
    assert set(expected) <= set(tags)
    assert len(tags) == len(set(tags)), "tags are unique"
    boxes = document.xpath("//w:sdt[w:sdtPr/w14:checkbox]/w:sdtPr/w:tag/@w:val", namespaces=NS)
    assert {f"request_{key}" for key in REQUEST_TYPES} <= set(boxes)
    assert {"consent_yes", "consent_no", "genogram_yes", "genogram_no"} <= set(boxes)
    assert FORM_TITLE in "".join(document.itertext())


def test_the_form_carries_its_version_in_properties_and_footer() -> None:
    data = blank_form_bytes()
    assert FORM_MARKER.encode() in _part(data, "docProps/custom.xml")
    assert FORM_MARKER.encode() in _part(data, "docProps/core.xml")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        footers = [archive.read(n) for n in archive.namelist() if n.startswith("word/footer")]
    assert any(FORM_MARKER.encode() in footer for footer in footers)


def test_the_form_opens_in_python_docx_with_every_section() -> None:
    from docx import Document

    document = Document(io.BytesIO(blank_form_bytes()))
    headings = [
        p.text for p in document.paragraphs if p.style and p.style.name.startswith("Heading")
    ]
    assert {section.title for section in SECTIONS} | {"5. Household"} <= set(headings)


def test_a_blank_form_answers_nothing() -> None:
    assert _facts(blank_form_bytes()) == FormFacts(
        None, None, None, None, None, (), None, None, False, "content-controls"
    )


def test_fill_form_refuses_unknown_tags_and_wrong_kinds_of_value() -> None:
    with pytest.raises(ValueError, match="no field tagged"):
        fill_form({"child_nmae": "Ada"})
    with pytest.raises(ValueError, match="True/False"):
        fill_form({"consent_yes": "yes"})
    with pytest.raises(ValueError, match="text"):
        fill_form({"child_name": True})


NAMES = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll"), max_codepoint=0x24F),
    min_size=2,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(
    first=NAMES,
    last=NAMES,
    born=st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 12, 31)),
    requests=st.sets(st.sampled_from(sorted(REQUEST_TYPES))),
    consent=st.sampled_from([True, False, None]),
    genogram=st.sampled_from([True, False, None]),
    panel=st.sampled_from(["MASP", "MASG North", "MASG East Locality"]),
)
def test_what_is_filled_in_is_what_is_read_back(
    first: str,
    last: str,
    born: date,
    requests: set[str],
    consent: bool | None,
    genogram: bool | None,
    panel: str,
) -> None:
    values: dict[str, Any] = {
        "panel": panel,
        "child_name": f"{first} {last}",
        "child_dob": born.strftime("%d/%m/%Y"),
        "referrer_name": "Sam Worker",
        "referrer_email": "Sam.Worker@council.example",
        "request_types": sorted(requests),
    }
    if consent is not None:
        values["consent"] = consent
    if genogram is not None:
        values["genogram_required"] = genogram
    facts = _facts(fill_form(values))
    assert facts == FormFacts(
        panel=panel,
        child_name=f"{first} {last}",
        child_dob=born,
        referrer_name="Sam Worker",
        referrer_email="sam.worker@council.example",
        request_types=tuple(key for key in REQUEST_TYPES if key in requests),
        consent=consent,
        genogram_required=genogram,
        section20="section20" in requests,
        source="content-controls",
    )


def test_labels_give_the_same_facts_when_the_controls_are_gone() -> None:
    filled = fill_form(MAKER.ADA)
    by_tag = _facts(filled)
    by_label = _facts(MAKER.strip_controls(filled))
    assert by_tag.source == "content-controls"
    assert by_label.source == "labels"
    assert {**by_label.__dict__, "source": "?"} == {**by_tag.__dict__, "source": "?"}


def test_ticking_both_yes_and_no_answers_nothing() -> None:
    facts = _facts(fill_form({"consent_yes": True, "consent_no": True}))
    assert facts.consent is None


def _one_row_form(label: str, value: str) -> bytes:
    def build(document: Any) -> None:
        document.add_heading("Referral form", level=0)
        MAKER.table(document, [[label, value]])

    return bytes(MAKER.docx_bytes(build))


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("☒ Yes ☐ No", True),
        ("Yes ☐ No ☒", False),
        ("☐ Yes ☐ No", None),
        ("Yes / No", None),
        ("Yes", True),
        ("No - not needed", False),
        ("Yes X   No", True),
        ("[X] Yes [ ] No", True),
        ("☑ Yes", True),
        ("", None),
    ],
)
def test_yes_no_answers_as_people_tick_them(value: str, answer: bool | None) -> None:
    assert _facts(_one_row_form("Is a genogram required?", value)).genogram_required is answer


@pytest.mark.parametrize(
    ("label", "value", "field", "expected"),
    [
        ("Name of child/young person", "Ada Example", "child_name", "Ada Example"),
        ("Child's name:", "Ada Example", "child_name", "Ada Example"),
        ("D.O.B.", "3/4/19", "child_dob", date(2019, 4, 3)),
        ("Date of birth / EDD", "EDD 01/02/2027", "child_dob", date(2027, 2, 1)),
        (
            "Referrer's email",
            "Email: Sam.Worker@council.example",
            "referrer_email",
            "sam.worker@council.example",
        ),
        ("Referred by", "Sam Worker", "referrer_name", "Sam Worker"),
        ("Panel / locality", "MASG North", "panel", "MASG North"),
        ("Parental consent obtained?", "Yes", "consent", True),
        ("Type of request", "Section 20; advice", "request_types", ("advice", "section20")),
    ],
)
def test_other_councils_labels(label: str, value: str, field: str, expected: object) -> None:
    facts = _facts(_one_row_form(label, value))
    assert getattr(facts, field) == expected
    assert facts.source == "labels"


def _legacy_symbol_form(checked_char: str) -> bytes:
    """A row whose answer is a Wingdings box typed as a symbol, as older forms do."""
    from docx.oxml import parse_xml

    def build(document: Any) -> None:
        grid = MAKER.table(document, [["Section 20 emergency admission", ""]])
        run = f'<w:r xmlns:w="{W}"><w:sym w:font="Wingdings" w:char="{checked_char}"/></w:r>'
        grid.rows[0].cells[1].paragraphs[0]._p.append(parse_xml(run))

    return bytes(MAKER.docx_bytes(build))


def test_wingdings_boxes_count_as_ticks() -> None:
    assert _facts(_legacy_symbol_form("F0FE")).section20 is True
    assert _facts(_legacy_symbol_form("F0A8")).section20 is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2019", date(2019, 4, 3)),
        ("3/4/19", date(2019, 4, 3)),
        ("born 5/6/95", date(1995, 6, 5)),
        ("12 March 2019", date(2019, 3, 12)),
        ("12th Mar 2019", date(2019, 3, 12)),
        ("March 12, 2019", date(2019, 3, 12)),
        ("2019-03-12", date(2019, 3, 12)),
        ("12.03.2019", date(2019, 3, 12)),
        ("Due 1 Sept 2026 (unborn)", date(2026, 9, 1)),
        # Dates in words, as other councils' forms have them.
        ("the fourteenth of June 2018", date(2018, 6, 14)),
        ("21st of September 2016", date(2016, 9, 21)),
        ("twenty-first of March 2016", date(2016, 3, 21)),
        ("thirty first of May 2020", date(2020, 5, 31)),
        ("Tuesday 5 May 2015", date(2015, 5, 5)),
        ("Wednesday, 25 December 2019", date(2019, 12, 25)),
        ("June the 3rd, 2019", date(2019, 6, 3)),
        ("first aid in 2019", None),
        ("31/02/2019", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_dates_are_read_the_british_way(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


def test_reading_never_raises_and_says_when_nothing_was_read() -> None:
    nothing = FormFacts(None, None, None, None, None, (), None, None, False, "none")
    assert read_form_facts(b"garbage", Sniffed("docx")) == nothing
    assert read_form_facts(b"%PDF-1.4 garbage", Sniffed("pdf")) == nothing
    assert read_form_facts(fill_form(MAKER.ADA), Sniffed("docx", "refused")) == nothing
    assert read_form_facts(b"\x89PNG", Sniffed("png")) == nothing


ADA_FORM = fill_form(MAKER.ADA)


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=1, max_value=40_000))
def test_damaged_forms_never_raise(cut: int) -> None:
    data = ADA_FORM[:cut]
    assert read_form_facts(data, Sniffed("docx")).source in ("none", "labels", "content-controls")
