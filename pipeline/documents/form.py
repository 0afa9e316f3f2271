"""Our referral form (SPEC §4): the blank Word form we send, and a reader of intake's few facts.

Our form's value cells are Word content controls with stable tags, so it parses exactly; other
councils' Word forms, AcroForm PDFs and text PDFs are read by matching labels with synonyms.
The guarded Word and PDF readers below are shared with `classify`.
"""

from __future__ import annotations

import calendar
import functools
import io
import itertools
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pipeline.documents.sniff import Sniffed, open_zip, parse_xml, read_member

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class FormFacts:
    """The facts intake needs from a referral form; None where the form does not say."""

    panel: str | None
    child_name: str | None
    child_dob: date | None
    referrer_name: str | None
    referrer_email: str | None
    request_types: tuple[str, ...]
    consent: bool | None
    genogram_required: bool | None
    section20: bool
    source: str


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
    controls = {_tag_of(sdt): sdt for sdt in document.element.body.iter(_SDT)}
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


_W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = f'xmlns:w="{_W_NS}" xmlns:w14="{_W14_NS}"'
_BOX_FONT = (
    '<w:rPr><w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" w:hAnsi="MS Gothic" '
    'w:hint="eastAsia"/></w:rPr>'
)
_EMPTY, _TICKED = "☐", "☒"


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
            f"field {_tag_of(sdt)!r} takes {'True/False' if box is not None else 'text'}"
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


# --- Reading Word documents (shared with classify). ---


def _w(name: str) -> str:
    return f"{{{_W_NS}}}{name}"


_T, _TAB, _BR, _CR, _P, _R = _w("t"), _w("tab"), _w("br"), _w("cr"), _w("p"), _w("r")
_TBL, _TR, _TC, _SYM = _w("tbl"), _w("tr"), _w("tc"), _w("sym")
_SDT, _SDTPR, _SDTCONTENT = _w("sdt"), _w("sdtPr"), _w("sdtContent")
_TAG, _ALIAS, _VAL, _PLACEHOLDER = _w("tag"), _w("alias"), _w("val"), _w("showingPlcHdr")
_LEGACY_BOX, _PSTYLE, _PPR = _w("checkBox"), _w("pStyle"), _w("pPr")
_W14_CHECKBOX, _W14_CHECKED, _W14_VAL = (
    f"{{{_W14_NS}}}checkbox",
    f"{{{_W14_NS}}}checked",
    f"{{{_W14_NS}}}val",
)
_WRAPPERS = frozenset({_SDT, _SDTCONTENT, _w("customXml"), _w("smartTag")})
_STRICT_W = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
_EXTENT = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent"
_OLD_PICTURES = (_w("pict"), _w("object"))
# A drawing smaller than 20 cm² (in square EMU, 360,000 to the centimetre) is a logo or an
# icon, not a picture that could be the document's content.
_PICTURE_AREA = 20 * 360_000**2
# Wingdings boxes that older forms type as symbols instead of using a form field.
_WINGDINGS_BOXES = {
    0xA8: _EMPTY,
    0x6F: _EMPTY,
    0x71: _EMPTY,
    0x78: _TICKED,
    0xFD: _TICKED,
    0xFE: _TICKED,
}
_MARKER = re.compile(rb"MASP-REFERRAL-FORM v([0-9.]+)")
MAX_BLOCKS = 5000


@dataclass(frozen=True)
class Block:
    """A paragraph (one cell) or a table row (one entry per cell), in document order."""

    cells: tuple[str, ...]
    table: int = -1
    heading: bool = False


@dataclass(frozen=True)
class WordDoc:
    """What a .docx says, as plain text: blocks, content controls, pictures, properties."""

    blocks: tuple[Block, ...]
    controls: Mapping[str, str | bool]
    labelled: tuple[tuple[str, str | bool], ...]
    pictures: int  # big enough to be content, not a logo
    marker: str | None
    title: str


def read_word(data: bytes) -> WordDoc | None:
    """Read a .docx with the guarded zip and XML readers; None if it cannot be read."""
    archive = open_zip(data)
    if archive is None:
        return None
    with archive:
        raw = read_member(archive, "word/document.xml") or b""
        # Word's "Strict Open XML" files differ only in namespace names; read them the same way.
        root = parse_xml(raw.replace(_STRICT_W, _W_NS.encode()))
        if root is None:
            return None
        marker, title = _word_properties(archive)
    body = root.find(_w("body"))
    if body is None:
        return None
    _drop_hidden_text(root)
    controls, labelled = _controls(root)
    pictures = _big_pictures(root)
    return WordDoc(_blocks(body), controls, labelled, pictures, marker, title)


def _big_pictures(root: Any) -> int:
    """Pictures and drawings big enough to be content (VML ones carry no size: all count)."""
    sized = 0
    for extent in root.iter(_EXTENT):
        try:
            sized += int(extent.get("cx", "0")) * int(extent.get("cy", "0")) >= _PICTURE_AREA
        except ValueError:
            continue
    return sized + sum(1 for _ in root.iter(*_OLD_PICTURES))


def _word_properties(archive: zipfile.ZipFile) -> tuple[str | None, str]:
    core = read_member(archive, "docProps/core.xml", 1024 * 1024) or b""
    parts = [core, read_member(archive, "docProps/custom.xml", 1024 * 1024) or b""]
    parts += [read_member(archive, n) or b"" for n in archive.namelist() if "/footer" in n][:4]
    found = next((m for m in map(_MARKER.search, parts) if m), None)
    marker = found.group(0).decode() if found else None
    root = parse_xml(core)
    title = root.findtext("{http://purl.org/dc/elements/1.1/}title") if root is not None else ""
    return marker, (title or "").strip()


_HIDDEN_TEXT = "//w:sdt[w:sdtPr/w:showingPlcHdr]//w:t | //mc:Fallback//w:t"
_XPATH_NS = {"w": _W_NS, "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"}


def _drop_hidden_text(root: Any) -> None:
    """Blank text a reader never sees: placeholder prompts, and the fallback copy of drawings."""
    for node in root.xpath(_HIDDEN_TEXT, namespaces=_XPATH_NS):
        node.text = ""


def _text_of(element: Any) -> str:
    parts: list[str] = []
    for node in element.iter(_T, _TAB, _BR, _CR, _P, _LEGACY_BOX, _SYM):
        tag = node.tag
        if tag == _T:
            parts.append(node.text or "")
        elif tag == _P:
            if parts:
                parts.append("\n")
        elif tag == _LEGACY_BOX:
            parts.append(_legacy_box(node))
        elif tag == _SYM:
            parts.append(_symbol(node))
        elif node.getparent() is not None and node.getparent().tag == _R:
            # Tab stops in paragraph properties share the name w:tab; only runs hold text.
            parts.append(" " if tag == _TAB else "\n")
    return "".join(parts).strip()


def _legacy_box(box: Any) -> str:
    """A legacy FORMCHECKBOX: w:checked wins over w:default; a bare element means 'on'."""
    state = box.find(_w("checked"))
    if state is None:
        state = box.find(_w("default"))
    on = state is not None and state.get(_VAL, "1").lower() in ("1", "true", "on")
    return _TICKED if on else _EMPTY


def _symbol(sym: Any) -> str:
    if "wingdings" not in sym.get(_w("font"), "").lower():
        return ""
    try:
        return _WINGDINGS_BOXES.get(int(sym.get(_w("char"), "0"), 16) & 0xFF, "")
    except ValueError:
        return ""


def _val(element: Any) -> str:
    return str(element.get(_VAL, "")) if element is not None else ""


def _tag_of(sdt: Any) -> str:
    properties = sdt.find(_SDTPR)
    return _val(properties.find(_TAG)) if properties is not None else ""


def _controls(root: Any) -> tuple[dict[str, str | bool], tuple[tuple[str, str | bool], ...]]:
    tagged: dict[str, str | bool] = {}
    labelled: list[tuple[str, str | bool]] = []
    for sdt in root.iter(_SDT):
        properties = sdt.find(_SDTPR)
        if properties is None:
            continue
        box = properties.find(_W14_CHECKBOX)
        value: str | bool
        if box is not None:
            value = _val_w14(box.find(_W14_CHECKED)) in ("1", "true")
        else:
            content = sdt.find(_SDTCONTENT)
            value = _text_of(content) if content is not None else ""
        tag, alias = _val(properties.find(_TAG)), _val(properties.find(_ALIAS))
        if tag:
            tagged.setdefault(tag, value)
        if alias or tag:
            labelled.append((alias or tag, value))
    return tagged, tuple(labelled)


def _val_w14(element: Any) -> str:
    return str(element.get(_W14_VAL, "")).lower() if element is not None else ""


def _children(parent: Any, tag: str) -> Iterator[Any]:
    """Direct children with `tag`, looking through content-control and custom-XML wrappers."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tag)


def _blocks(body: Any) -> tuple[Block, ...]:
    blocks: list[Block] = []
    tables = 0
    for element in _body_items(body):
        if element.tag == _P:
            text = _text_of(element)
            if text:
                blocks.append(Block((text,), -1, _is_heading(element)))
            continue
        for row in _children(element, _TR):
            cells = tuple(_text_of(cell) for cell in _children(row, _TC))
            if any(cells):
                blocks.append(Block(cells, tables))
        tables += 1
        if len(blocks) > MAX_BLOCKS:
            break
    return tuple(blocks[:MAX_BLOCKS])


def _body_items(parent: Any) -> Iterator[Any]:
    for child in parent:
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _body_items(child)


def _is_heading(paragraph: Any) -> bool:
    properties = paragraph.find(_PPR)
    style = _val(properties.find(_PSTYLE)) if properties is not None else ""
    return style.lower().startswith(("heading", "title"))


# --- Reading PDFs (shared with classify). ---


@dataclass(frozen=True)
class PdfContent:
    """The text lines and drawing counts of a PDF's first pages."""

    pages: int
    lines: tuple[str, ...]
    paths: int
    images: int


MAX_PDF_PAGES = 5
MAX_OBJECTS_PER_PAGE = 2000


def read_pdf(data: bytes, max_pages: int = MAX_PDF_PAGES) -> PdfContent | None:
    """Text and drawings of the first pages, read with pdfium; None if it cannot be opened."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return None
    lines: list[str] = []
    paths = images = 0
    try:
        pages = len(pdf)
        for index in range(min(max_pages, pages)):
            text, page_paths, page_images = _pdf_page(pdf[index])
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
            paths, images = paths + page_paths, images + page_images
    finally:
        pdf.close()
    return PdfContent(pages, tuple(lines), paths, images)


def _pdf_page(page: Any) -> tuple[str, int, int]:
    import pypdfium2.raw as pdfium_c

    try:
        textpage = page.get_textpage()
        text = str(textpage.get_text_range())
        textpage.close()
        counts = {pdfium_c.FPDF_PAGEOBJ_PATH: 0, pdfium_c.FPDF_PAGEOBJ_IMAGE: 0}
        for obj in itertools.islice(page.get_objects(), MAX_OBJECTS_PER_PAGE):
            if obj.type in counts:
                counts[obj.type] += 1
        return text, counts[pdfium_c.FPDF_PAGEOBJ_PATH], counts[pdfium_c.FPDF_PAGEOBJ_IMAGE]
    finally:
        page.close()


def pdf_fields(data: bytes) -> tuple[tuple[str, str | bool], ...]:
    """AcroForm fields as (label, value): ticks as bools, radio choices and text as text."""
    from pypdf import PdfReader

    found: list[tuple[str, str | bool]] = []
    for name, spec in (PdfReader(io.BytesIO(data), strict=False).get_fields() or {}).items():
        text = "" if spec.get("/V") is None else str(spec.get("/V"))
        radio = int(spec.get("/Ff", 0) or 0) & (1 << 15)
        value: str | bool = text
        if spec.get("/FT") == "/Btn":
            value = text.lstrip("/") if radio else text not in ("", "/Off", "Off")
        for label in dict.fromkeys((str(spec.get("/TU") or ""), name.rsplit(".", 1)[-1])):
            if label:
                found.append((label, value))
    return tuple(found)


# --- Facts, by tag or by label. ---


def read_form_facts(data: bytes, sniffed: Sniffed) -> FormFacts:
    """What a referral form says: content controls by tag first, then labels; never raises."""
    try:
        if sniffed.problem is None and sniffed.type == "docx":
            return _word_facts(data)
        if sniffed.problem is None and sniffed.type == "pdf":
            return _pdf_facts(data)
    except Exception as exc:
        # A hostile or odd file must never stop intake; the document is still filed.
        log.warning("reading a referral form failed: %s", type(exc).__name__)
    return _Draft().freeze("none")


# Tags only our form has: any one of them means the controls can be trusted.
_OUR_TAGS = frozenset({"child_name", "referrer_email", "consent_yes", "request_section20"})


def _word_facts(data: bytes) -> FormFacts:
    word = read_word(data)
    if word is None:
        return _Draft().freeze("none")
    labels = _facts_from_blocks(word.blocks, word.labelled, split_bare=False)
    if _OUR_TAGS.isdisjoint(word.controls):
        return labels.freeze("labels" if labels.found() else "none")
    draft = _facts_from_controls(word.controls)
    draft.fill(labels)
    return draft.freeze("content-controls")


def _pdf_facts(data: bytes) -> FormFacts:
    # Filled-in AcroForm fields are answers; the page text around them may only be prompts.
    draft = _facts_from_blocks((), pdf_fields(data), split_bare=True)
    content = read_pdf(data)
    blocks = tuple(Block((line,)) for line in content.lines) if content else ()
    draft.fill(_facts_from_blocks(blocks, (), split_bare=True))
    return draft.freeze("labels" if draft.found() else "none")


@dataclass
class _Draft:
    """Facts as they are found; the first value found for a field is kept."""

    panel: str | None = None
    child_name: str | None = None
    child_dob: date | None = None
    referrer_name: str | None = None
    referrer_email: str | None = None
    request_types: set[str] = field(default_factory=set)
    consent: bool | None = None
    genogram_required: bool | None = None

    def offer(self, name: str, value: object) -> None:
        if value is not None and getattr(self, name) is None:
            setattr(self, name, value)

    def fill(self, other: _Draft) -> None:
        for item in fields(self):
            if item.name != "request_types":
                self.offer(item.name, getattr(other, item.name))
        if not self.request_types:
            self.request_types = set(other.request_types)

    def found(self) -> bool:
        # A "no" (False) is an answer found; only None and no ticks are nothing.
        return any(getattr(self, item.name) not in (None, set()) for item in fields(self))

    def freeze(self, source: str) -> FormFacts:
        requests = tuple(key for key in REQUEST_TYPES if key in self.request_types)
        return FormFacts(
            panel=self.panel,
            child_name=self.child_name,
            child_dob=self.child_dob,
            referrer_name=self.referrer_name,
            referrer_email=self.referrer_email,
            request_types=requests,
            consent=self.consent,
            genogram_required=self.genogram_required,
            section20="section20" in requests,
            source=source,
        )


def _facts_from_controls(controls: Mapping[str, str | bool]) -> _Draft:
    def text(tag: str) -> str:
        value = controls.get(tag)
        return value if isinstance(value, str) else ""

    def pair(prefix: str) -> bool | None:
        yes, no = controls.get(f"{prefix}_yes") is True, controls.get(f"{prefix}_no") is True
        return yes if yes != no else None

    return _Draft(
        panel=_clean(text("panel")),
        child_name=_clean(text("child_name")),
        child_dob=parse_date(text("child_dob")),
        referrer_name=_clean(text("referrer_name")),
        referrer_email=_email(text("referrer_email")),
        request_types={key for key in REQUEST_TYPES if controls.get(f"request_{key}") is True},
        consent=pair("consent"),
        genogram_required=pair("genogram"),
    )


def normalise_label(label: str) -> str:
    """A label reduced for matching: lower case, no apostrophes, dots or stray punctuation."""
    text = label.lower().replace("'", "").replace("’", "").replace(".", "")
    text = re.sub(r"[_\-:;,*?()\[\]]", " ", text).replace("/", " / ")
    return " ".join(text.split())


def starts_with_phrase(label: str, prefix: str) -> bool:
    """Whether a normalised label begins with `prefix` as whole words ("dob / edd", "dob")."""
    return label.startswith(prefix) and (
        len(label) == len(prefix) or not label[len(prefix)].isalnum()
    )


def contains_phrase(label: str, word: str) -> bool:
    """Whether `word` (a phrase) stands as whole words in a normalised label."""
    return f" {word} " in f" {label} "


_CHILD, _REFERRER, _HOUSEHOLD = "child", "referrer", "household"
_NOT_REFERRER = frozenset({_CHILD, ""})
_NAME_FIELDS = frozenset({"child_name", "referrer_name", "forename", "surname"})
_NOT_A_NAME = (
    *("role", "agency", "team", "phone", "telephone", "tel", "mobile", "email", "e mail"),
    *("address", "manager", "job", "title", "organisation", "organization", "signature"),
    *("date", "position", "service", "school", "gp", "relationship", "setting"),
)
_NOT_A_PANEL = ("date", "time", "question", "decision", "outcome")
# (field, label prefixes, sections where the label means that field; None for any section)
_LABELS: tuple[tuple[str, tuple[str, ...], frozenset[str] | None], ...] = (
    (
        "child_dob",
        (
            *("date of birth", "dob", "d o b", "edd", "due date", "expected due date", "child dob"),
            *("expected date of delivery", "childs date of birth", "childs dob"),
        ),
        _NOT_REFERRER,
    ),
    (
        "child_name",
        (
            *("childs name", "child name", "childs full name", "name of child", "cyp name"),
            *("name of the child", "child / young persons name", "young persons name"),
        ),
        None,
    ),
    ("forename", ("forename", "forenames", "first name", "given name"), _NOT_REFERRER),
    ("surname", ("surname", "last name", "family name"), _NOT_REFERRER),
    (
        "referrer_email",
        ("referrers email", "referrer email", "email of referrer", "referrers e mail"),
        None,
    ),
    (
        "referrer_name",
        (
            *("referrers name", "referrer name", "name of referrer", "referred by", "referrer"),
            *("name of person making", "name of professional", "professionals name", "your name"),
        ),
        None,
    ),
    ("referrer_email", ("email", "e mail", "email address", "your email"), frozenset({_REFERRER})),
    ("referrer_name", ("name", "full name"), frozenset({_REFERRER})),
    ("child_name", ("name", "full name"), frozenset({_CHILD})),
    (
        "panel",
        (
            *("panel / locality", "panel or locality", "panel", "locality", "which panel"),
            *("submission panel", "submitted to"),
        ),
        None,
    ),
    ("request", ("type of request", "request type", "types of request", "support requested"), None),
)
_LABELS = tuple(
    (key, tuple(map(normalise_label, prefixes)), where) for key, prefixes, where in _LABELS
)
_ALL_PREFIXES = sorted({p for _, prefixes, _ in _LABELS for p in prefixes}, key=len, reverse=True)
_REQUEST_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("section20", ("section 20", "section20", "s20", "emergency admission")),
    ("admission_to_care", ("admission to care", "high cost package", "larp", "accommodation")),
    ("return_home", ("return home", "returning home", "kinship")),
    ("threshold_resolution", ("threshold",)),
    ("step_down", ("step down", "transition")),
    ("specific_service", ("specific service", "access to a service", "particular service")),
    ("multi_agency_package", ("multi agency package", "package of support", "support package")),
    ("lead_professional", ("lead professional", "team around the family", "taf")),
    ("advice", ("advice", "guidance", "consultation")),
)
_SECTION_WORDS = (
    (_REFERRER, ("referrer", "referring", "person making", "professional", "your details")),
    (_HOUSEHOLD, ("household", "parent", "carer", "family member", "adult", "sibling")),
    (_CHILD, ("child", "young person", "unborn", "subject")),
)


def label_field(label: str) -> str | None:
    """Which form fact a label names, wherever it stands ("D.O.B." -> "child_dob"), if any."""
    return _field_for(normalise_label(label), "")


@functools.lru_cache(maxsize=4096)
def _field_for(label: str, section: str) -> str | None:
    """Which fact a (normalised) label names, in this section of the form (cached: forms repeat)."""
    if not label or len(label) > 80 or label.startswith(("if ", "why", "who ", "reason")):
        return None
    if "genogram" in label and (label == "genogram" or "requir" in label or "need" in label):
        return "genogram_required"
    if "consent" in label or "agree" in label:
        return "consent"
    for key, prefixes, where in _LABELS:
        if where is not None and section not in where:
            continue
        if not any(starts_with_phrase(label, prefix) for prefix in prefixes):
            continue
        banned = _NOT_A_NAME if key in _NAME_FIELDS else _NOT_A_PANEL if key == "panel" else ()
        if not any(contains_phrase(label, word) for word in banned):
            return key
    return None


def _section_of(text: str, current: str) -> str:
    label = normalise_label(text)
    for name, words in _SECTION_WORDS:
        if any(word in label for word in words):
            return name
    # A numbered heading about something else starts a section no label rule cares about.
    return "" if _NUMBERED.match(label) else current


def _facts_from_blocks(
    blocks: Iterable[Block], labelled: Iterable[tuple[str, str | bool]], split_bare: bool
) -> _Draft:
    """Facts from label/value rows, "Label: value" lines, ticked boxes and labelled controls."""
    draft, names, section = _Draft(), dict[str, str](), ""
    for block in blocks:
        if _looks_like_heading(block):
            section = _section_of(block.cells[0], section)
        for label, value in _pairs(block.cells, split_bare):
            _take(draft, names, label, value, section)
        for label, on in _block_ticks(block.cells):
            _take_tick(draft, names, label, on, section)
    for label, answer in labelled:
        if isinstance(answer, bool):
            _take_tick(draft, names, label, answer, "")
        else:
            _take(draft, names, label, answer, "")
    if "forename" in names and "surname" in names:
        draft.offer("child_name", f"{names['forename']} {names['surname']}")
    return draft


_NUMBERED = re.compile(r"\s*(section|part|\d+[.)]?\s)", re.IGNORECASE)


def _looks_like_heading(block: Block) -> bool:
    filled = [cell for cell in block.cells if cell]
    if len(filled) != 1 or _GLYPH.search(filled[0]):
        return False
    text = filled[0]
    if block.heading or _NUMBERED.match(text):
        return True
    _, colon, value = text.partition(":")
    short = len(text.split()) <= 8 and not text.rstrip().endswith((".", "?"))
    return short and not (colon and value.strip())


def _pairs(cells: Sequence[str], split_bare: bool) -> Iterator[tuple[str, str]]:
    for cell in cells:
        for line in cell.splitlines():
            label, colon, value = line.partition(":")
            if colon and 0 < len(label.split()) <= 8:
                yield label, value
            elif split_bare and (found := _split_bare(line)):
                yield found
    for index in range(0, len(cells) - 1, 2):
        yield cells[index], cells[index + 1]


def _split_bare(line: str) -> tuple[str, str] | None:
    """Split "Child's name Ada Example" (a PDF line with no colon) after a known label."""
    words = line.split()
    for count in range(1, min(len(words), 8)):
        # The answer must start like an answer, not like the rest of a label ("/ locality").
        if normalise_label(" ".join(words[:count])) in _ALL_PREFIXES and words[count][0].isalnum():
            return " ".join(words[:count]), " ".join(words[count:])
    return None


def _take(draft: _Draft, names: dict[str, str], label: str, value: str, section: str) -> None:
    key = _field_for(normalise_label(label), section)
    if key is None or not value.strip():
        return
    if key in ("forename", "surname"):
        if (clean := _clean(value)) is not None:
            names.setdefault(key, clean)
    elif key == "request":
        draft.request_types.update(_request_keys(value))
    else:
        draft.offer(key, _READERS[key](value))


def _take_tick(draft: _Draft, names: dict[str, str], label: str, on: bool, section: str) -> None:
    words = normalise_label(label).split()
    if not on or not words:
        return
    # "Consent: Yes" can arrive as a tick labelled "consent yes" (AcroForm, our tags).
    if words[-1] in ("yes", "no") and len(words) > 1:
        _take(draft, names, " ".join(words[:-1]), words[-1], section)
        return
    draft.request_types.update(_request_keys(label))


def _request_keys(text: str) -> set[str]:
    keys = set()
    for line in re.split(r"[\n;,]", text):
        label = normalise_label(line)
        key = next(
            (k for k, words in _REQUEST_WORDS if any(contains_phrase(label, w) for w in words)),
            None,
        )
        if key is not None:
            keys.add(key)
    return keys


_CHECKED = frozenset("☒☑✓✔✗✘■⊠xX")
_GLYPH = re.compile(r"(\[\s*[xX✓✔]?\s*\]|[☒☑✓✔✗✘■⊠☐□◻]|(?<![\w'’])[xX](?![\w'’]))")


def _is_ticked(glyph: str) -> bool:
    return any(ch in _CHECKED for ch in glyph)


def _ticks(text: str) -> list[tuple[str, bool]]:
    """(label, ticked) for each box in "☒ Yes ☐ No" or "Yes ☒ No ☐" (box first or last)."""
    pieces = _GLYPH.split(text)
    if len(pieces) < 3:
        return []
    # "Request: [X] Advice" puts its boxes first once past the label and its colon.
    box_first = not pieces[0].strip() or pieces[0].rstrip().endswith(":")
    found = []
    for index in range(1, len(pieces), 2):
        label = pieces[index + 1] if box_first else pieces[index - 1]
        found.append((label.strip(" :-\t\n"), _is_ticked(pieces[index])))
    return found


def _is_lone_box(cell: str) -> bool:
    return bool(cell) and _GLYPH.fullmatch(cell.strip()) is not None


def _block_ticks(cells: Sequence[str]) -> Iterator[tuple[str, bool]]:
    for cell in cells:
        for label, on in _ticks(cell):
            if label and len(label) < 120:
                yield label, on
    for first, second in itertools.pairwise(cells):
        if _is_lone_box(second) and not _is_lone_box(first):
            yield first, _is_ticked(second)
        elif _is_lone_box(first) and not _is_lone_box(second):
            yield second, _is_ticked(first)


def _yes_no(value: str) -> bool | None:
    """Yes, no, or not answered: from ticked boxes if there are boxes, else from the words."""
    ticks = _ticks(value)
    if ticks:
        chosen = {_answer(label) for label, on in ticks if on} - {None}
    else:
        # "Yes / No" printed as a prompt answers nothing; "No - family declined" answers no.
        chosen = {_answer(word) for word in normalise_label(value).split()[:4]} - {None}
    return chosen.pop() if len(chosen) == 1 else None


def _answer(label: str) -> bool | None:
    words = normalise_label(label).split()
    first = words[0] if words else ""
    if first in ("yes", "y", "true", "agreed", "given"):
        return True
    if first in ("no", "n", "false", "not", "refused", "declined"):
        return False
    return None


_PROMPTS = ("click or tap", "click here", "choose an item", "enter text", "enter a date")


def _clean(value: str) -> str | None:
    text = " ".join(value.split()).strip(" :-")
    if not text or _GLYPH.fullmatch(text) or text.lower().startswith(_PROMPTS):
        return None
    return text


_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def _email(value: str) -> str | None:
    found = _EMAIL.search(value)
    return found.group(0).lower() if found else None


_READERS: dict[str, Callable[[str], object]] = {
    "panel": _clean,
    "child_name": _clean,
    "referrer_name": _clean,
    "child_dob": lambda value: parse_date(value),  # defined below
    "referrer_email": _email,
    "consent": _yes_no,
    "genogram_required": _yes_no,
}


# --- Dates as people type them on forms. ---

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_DATE_FORMS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), (0, 1, 2)),
    (re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b"), (2, 1, 0)),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b"), (2, 1, 0)),
    (re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b"), (2, 0, 1)),
)


def parse_date(text: str) -> date | None:
    """The first date in `text`, read the British way: dd/mm/yyyy, d/m/yy, 12 March 2019, ISO."""
    found: list[tuple[int, date]] = []
    for pattern, order in _DATE_FORMS:
        for match in pattern.finditer(text):
            parsed = _to_date([match.group(1 + i) for i in order])
            if parsed is not None:
                found.append((match.start(), parsed))
                break
    return min(found)[1] if found else None


def _to_date(parts: list[str]) -> date | None:
    year_text, month_text, day_text = parts
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text.lower())
    year = int(year_text)
    # Two-digit years: children and their parents are born after 1970.
    if len(year_text) == 2:
        year += 2000 if year < 70 else 1900
    try:
        return date(year, month, int(day_text)) if month else None
    except ValueError:
        return None
