"""Our referral form (SPEC §4): its layout, the blank Word form we send, and intake's few facts.

Our form's value cells are Word content controls with stable tags, so it parses exactly (see
`referral_form`, which also reads other councils' forms by label). The layout below is the one
place the form's fields, tags and labels are defined; the writer and the parser both follow it.
"""

from __future__ import annotations

import functools
import io
import itertools
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pipeline.documents.dates import parse_date
from pipeline.documents.results import FormFacts, Sniffed
from pipeline.documents.word import EMPTY_BOX, TICKED_BOX, W14_NS, W_NS, tag_of, w

FORM_VERSION = "1.0"
FORM_MARKER = f"MASP-REFERRAL-FORM v{FORM_VERSION}"
FORM_TITLE = "Multi Agency Support Panel — Referral Form"
# A fixed date keeps the blank form byte-for-byte reproducible.
FORM_DATE = datetime(2026, 1, 1, tzinfo=UTC)
PLACEHOLDER = "Click or tap here to enter text."

REQUEST_TYPES: dict[str, str] = {
    "advice": "Advice and guidance",
    "lead_professional": "Identify a Lead Professional / Team Around the Family (TAF)",
    "multi_agency_package": "Multi-agency support package",
    "specific_service": "Access to a specific service",
    "step_down": "Step-down or transition (for example from CIN to Early Help)",
    "threshold_resolution": "Threshold resolution",
    "return_home": "Return home / kinship support",
    "admission_to_care": "Admission to care or high-cost package (LARP)",
    "section20": "Section 20 emergency admission",
}
REASONS: dict[str, str] = {
    "no_improvement": "Reason: no improvement despite support",
    "high_cost": "Reason: the cost of the support needed is high",
    "escalation": "Reason: risk of escalation (CIN, CP or care)",
}


# --- The form's layout: one table per section, label on the left, a control on the right. ---


@dataclass(frozen=True)
class Text:
    tag: str
    label: str
    multiline: bool = False


@dataclass(frozen=True)
class Tick:
    tag: str
    label: str


@dataclass(frozen=True)
class YesNo:
    """Two ticks tagged `{prefix}_yes` and `{prefix}_no` on one row."""

    prefix: str
    label: str


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Text | Tick | YesNo, ...]
    note: str = ""


HOUSEHOLD_COLUMNS = (
    ("name", "Name"),
    ("relationship", "Relationship to the child"),
    ("parental_responsibility", "Parental responsibility (yes/no)"),
    ("do_not_disclose", "Address must not be disclosed (yes/no)"),
)
HOUSEHOLD_ROWS = 4
HOUSEHOLD_TITLE = "5. Household"

SECTIONS: tuple[Section, ...] = (
    Section("1. Submission", (Text("panel", "Panel / locality"), Text("referral_date", "Date"))),
    Section(
        "2. Referrer",
        (
            Text("referrer_name", "Referrer's name"),
            Text("referrer_role", "Role"),
            Text("referrer_agency", "Agency"),
            Text("referrer_team", "Team"),
            Text("referrer_email", "Email"),
            Text("referrer_phone", "Phone"),
            Text("manager_consulted", "Manager consulted (name)"),
        ),
    ),
    Section(
        "3. Request",
        (
            *(Tick(f"request_{key}", label) for key, label in REQUEST_TYPES.items()),
            *(Tick(f"reason_{key}", label) for key, label in REASONS.items()),
            Text("panel_question", "The question for the panel", multiline=True),
        ),
        "Tick every type of request that applies, and the reasons for it.",
    ),
    Section(
        "4. The child",
        (
            Text("child_name", "Child's name"),
            Text("child_dob", "Date of birth / due date"),
            Text("child_gender", "Gender"),
            Text("child_ethnicity", "Ethnicity"),
            Text("child_language", "First language"),
            Text("child_send", "SEND / EHCP"),
            Text("child_school", "School or setting"),
            Text("child_gp", "GP"),
            Text("child_nhs_number", "NHS number"),
            Text("child_council_id", "Council ID"),
            Text("child_current_plan", "Current plan (none / EH / CIN / CP / CLA)"),
            Text("other_children", "Other children (names and dates of birth)", multiline=True),
        ),
    ),
    Section(
        "6. Agencies involved",
        (
            Text("agencies", "Agencies involved (name, agency, contact)", multiline=True),
            Text("lead_professional", "Lead Professional (name and agency)"),
        ),
    ),
    Section(
        "7. Needs, strengths and risks",
        (
            Text("needs", "Needs", multiline=True),
            Text("strengths", "Strengths", multiline=True),
            Text("risks", "Risks", multiline=True),
            Text("tried", "What has been tried, and what happened", multiline=True),
        ),
    ),
    Section(
        "8. Views",
        (
            Text("child_views", "The child's views", multiline=True),
            Text("parent_views", "The parents' or carers' views", multiline=True),
            Text("outcomes_sought", "Outcomes sought", multiline=True),
        ),
    ),
    Section(
        "9. Consent",
        (
            YesNo("family_informed", "Has the family been told about this referral?"),
            YesNo("consent", "Does the family agree to the panel discussing them?"),
            Text("consent_who", "Who agreed"),
            Text("consent_reason_not", "If not, why not", multiline=True),
        ),
    ),
    Section(
        "10. Genogram",
        (
            YesNo("genogram", "Is a genogram required?"),
            Text("genogram_why", "Why (or why not)", multiline=True),
        ),
    ),
    Section(
        "11. Manager sign-off",
        (
            Text("manager_name", "Manager's name"),
            Text("manager_role", "Manager's role"),
            Text("manager_date", "Date signed off"),
        ),
    ),
)
# Convenience keys for fill_form: a list of ticks, or one bool for a yes/no pair.
_TICK_LISTS = {"request_types": "request_", "reasons": "reason_"}
_YES_NO_KEYS = {
    "consent": "consent",
    "genogram_required": "genogram",
    "family_informed": "family_informed",
}


# --- Writing the form. ---


def write_blank_form(path: Path) -> None:
    """Write our blank referral form (.docx) to `path`."""
    path.write_bytes(blank_form_bytes())


@functools.cache
def blank_form_bytes() -> bytes:
    """Our blank referral form as .docx bytes (the same bytes every time)."""
    return _save(_build_form())


def fill_form(values: Mapping[str, str | bool | Sequence[str]]) -> bytes:
    """Our form filled in (for tests and the demo): values by tag, plus the convenience keys."""
    from docx import Document

    # Opening the cached blank form is several times faster than building it again.
    document = Document(io.BytesIO(blank_form_bytes()))
    controls = {tag_of(sdt): sdt for sdt in document.element.body.iter(_SDT)}
    for tag, value in _expand(values).items():
        sdt = controls.get(tag)
        if sdt is None:
            raise ValueError(f"the form has no field tagged {tag!r}")
        _set_control(sdt, value)
    return _save(document)


def _expand(values: Mapping[str, str | bool | Sequence[str]]) -> dict[str, str | bool]:
    expanded: dict[str, str | bool] = {}
    for key, value in values.items():
        if key in _TICK_LISTS and not isinstance(value, str | bool):
            expanded.update({f"{_TICK_LISTS[key]}{item}": True for item in value})
        elif key in _YES_NO_KEYS and isinstance(value, bool):
            prefix = _YES_NO_KEYS[key]
            expanded.update({f"{prefix}_yes": value, f"{prefix}_no": not value})
        elif isinstance(value, str | bool):
            expanded[key] = value
        else:
            raise ValueError(f"{key!r}: a list is only accepted for {sorted(_TICK_LISTS)}")
    return expanded


def _build_form() -> Any:
    from docx import Document
    from docx.shared import Cm, Mm

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    _set_properties(document)
    document.add_heading(FORM_TITLE, level=0)
    document.add_paragraph(
        "Please complete every section, then email this form with the chronology, the "
        "assessment (Early Help Assessment / CAF) and, where required, a genogram to the panel."
    )
    ids = itertools.count(1)
    for part in SECTIONS:
        _add_section(document, part, ids)
        if part.title.startswith("4."):
            _add_household(document, ids)
    section.footer.paragraphs[0].text = f"{FORM_MARKER} · {FORM_TITLE} · OFFICIAL-SENSITIVE"
    return document


def _set_properties(document: Any) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    core = document.core_properties
    core.title, core.subject, core.keywords = FORM_TITLE, FORM_MARKER, FORM_MARKER
    core.author, core.comments, core.last_modified_by = "MASP pipeline", FORM_MARKER, ""
    core.created = core.modified = FORM_DATE
    core.revision = 1
    # A custom property survives editing in Word and tells us the version exactly.
    blob = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns='
        '"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt='
        '"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property '
        'fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="MaspForm">'
        f"<vt:lpwstr>{FORM_MARKER}</vt:lpwstr></property></Properties>"
    ).encode()
    package = document.part.package
    content_type = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
    part = Part(PackURI("/docProps/custom.xml"), content_type, blob, package)
    package.relate_to(part, RELATIONSHIP_TYPE.CUSTOM_PROPERTIES)


def _add_section(document: Any, part: Section, ids: Iterator[int]) -> None:
    document.add_heading(part.title, level=1)
    if part.note:
        document.add_paragraph(part.note)
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for row in part.rows:
        value = _label_row(table, row.label)
        if isinstance(row, Text):
            value.append(_text_control(row.tag, row.label, row.multiline, next(ids)))
        elif isinstance(row, Tick):
            value.append(_checkbox(row.tag, row.label, next(ids)))
        else:
            for answer in ("Yes", "No"):
                value.append(_checkbox(f"{row.prefix}_{answer.lower()}", answer, next(ids)))
                value.append(_parse(f"<w:r {_NS}>{_t(f' {answer}   ')}</w:r>"))


def _label_row(table: Any, label: str) -> Any:
    from docx.shared import Cm

    cells = table.add_row().cells
    cells[0].width, cells[1].width = Cm(6.5), Cm(10.5)
    cells[0].paragraphs[0].add_run(label).bold = True
    return cells[1].paragraphs[0]._p


def _add_household(document: Any, ids: Iterator[int]) -> None:
    document.add_heading(HOUSEHOLD_TITLE, level=1)
    document.add_paragraph("Everyone in the child's household, and parents who live elsewhere.")
    table = document.add_table(rows=1, cols=len(HOUSEHOLD_COLUMNS))
    table.style = "Table Grid"
    for cell, (_, label) in zip(table.rows[0].cells, HOUSEHOLD_COLUMNS, strict=True):
        cell.paragraphs[0].add_run(label).bold = True
    for number in range(1, HOUSEHOLD_ROWS + 1):
        cells = table.add_row().cells
        for cell, (key, label) in zip(cells, HOUSEHOLD_COLUMNS, strict=True):
            tag = f"household_{number}_{key}"
            cell.paragraphs[0]._p.append(_text_control(tag, label, False, next(ids)))


_NS = f'xmlns:w="{W_NS}" xmlns:w14="{W14_NS}"'
_BOX_FONT = (
    '<w:rPr><w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" w:hAnsi="MS Gothic" '
    'w:hint="eastAsia"/></w:rPr>'
)
_EMPTY, _TICKED = EMPTY_BOX, TICKED_BOX
_T, _SDT, _SDTPR, _SDTCONTENT, _PLACEHOLDER = (
    w(name) for name in ("t", "sdt", "sdtPr", "sdtContent", "showingPlcHdr")
)
_W14_CHECKBOX, _W14_CHECKED, _W14_VAL = (
    f"{{{W14_NS}}}{name}" for name in ("checkbox", "checked", "val")
)


def _parse(xml: str) -> Any:
    from docx.oxml import parse_xml as docx_parse_xml

    return docx_parse_xml(xml)


def _t(text: str) -> str:
    return f'<w:t xml:space="preserve">{escape(text)}</w:t>'


def _text_control(tag: str, label: str, multiline: bool, ident: int) -> Any:
    mode = ' w:multiLine="1"' if multiline else ""
    return _parse(
        f"<w:sdt {_NS}><w:sdtPr><w:alias w:val={quoteattr(label)}/><w:tag w:val={quoteattr(tag)}/>"
        f'<w:id w:val="{ident}"/><w:showingPlcHdr/><w:text{mode}/></w:sdtPr><w:sdtContent>'
        f'<w:r><w:rPr><w:color w:val="808080"/></w:rPr>{_t(PLACEHOLDER)}</w:r>'
        "</w:sdtContent></w:sdt>"
    )


def _checkbox(tag: str, label: str, ident: int) -> Any:
    return _parse(
        f"<w:sdt {_NS}><w:sdtPr><w:alias w:val={quoteattr(label)}/><w:tag w:val={quoteattr(tag)}/>"
        f'<w:id w:val="{ident}"/><w14:checkbox><w14:checked w14:val="0"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        f"<w:sdtContent><w:r>{_BOX_FONT}{_t(_EMPTY)}</w:r></w:sdtContent></w:sdt>"
    )


def _set_control(sdt: Any, value: str | bool) -> None:
    properties = sdt.find(_SDTPR)
    box = properties.find(_W14_CHECKBOX)
    if (box is not None) != isinstance(value, bool):
        raise ValueError(
            f"field {tag_of(sdt)!r} takes {'True/False' if box is not None else 'text'}"
        )
    content = sdt.find(_SDTCONTENT)
    if isinstance(value, bool):
        box.find(_W14_CHECKED).set(_W14_VAL, "1" if value else "0")
        content.find(f".//{_T}").text = _TICKED if value else _EMPTY
        return
    for marker in properties.findall(_PLACEHOLDER):
        properties.remove(marker)
    runs = "<w:br/>".join(_t(line) for line in value.split("\n"))
    content.clear()
    content.append(_parse(f"<w:r {_NS}>{runs}</w:r>"))


def _save(document: Any) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    # python-docx stamps each zip entry with the current time; fix it so output is reproducible.
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            stamped = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            stamped.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(stamped, source.read(info))
    return out.getvalue()


def read_form_facts(data: bytes, sniffed: Sniffed) -> FormFacts:
    """What a referral form says (intake's few facts); see `referral_form`. Never raises."""
    # Imported here: the referral form parser builds on this module's layout.
    from pipeline.documents.referral_form import read_form_facts as read

    return read(data, sniffed)


__all__ = [
    "FORM_MARKER",
    "FORM_TITLE",
    "FORM_VERSION",
    "REASONS",
    "REQUEST_TYPES",
    "SECTIONS",
    "FormFacts",
    "Section",
    "Text",
    "Tick",
    "YesNo",
    "blank_form_bytes",
    "fill_form",
    "parse_date",
    "read_form_facts",
    "write_blank_form",
]
