"""R11 the agenda as a document: A4, its own title and author, the protective marking on every
page, cases in a real table — in Word and in the PDF LibreOffice makes from it."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
import yaml
from docx import Document as WordDocument
from docx.oxml.ns import qn

from pipeline.app import App
from pipeline.config import parse_config
from pipeline.errors import ConfigError
from pipeline.intake.poll import deliver_configured
from pipeline.jobs import run_due
from pipeline.outputs.agenda import build_agenda, write_agenda
from pipeline.outputs.convert import conversion_jobs
from pipeline.panel.distribute import pack_jobs
from pipeline.store.models import Case, Document, Message, Slot
from tests.helpers import ROOT, open_service, sent_mail
from tests.outputs.test_agenda import MEETING, NAMES, NOW, seeded
from tests.outputs.test_pack import AFTER_NOTICE, referrals
from tests.outputs.test_pack import NOW as PACK_NOW

MARKING = "OFFICIAL-SENSITIVE PERSONAL"
TITLE = "Multi Agency Support Panel agenda — Tuesday 8 December 2026"
HEADER = ["Time", "Reference", "Initials", "Age", "Request", "Referred by", "Notes"]
# A4 in points, as a PDF measures it.
A4_POINTS = (595.3, 841.9)


def written(app: App) -> tuple[Any, Path]:
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", MEETING)
    docx_path, pdf_path = write_agenda(app, agenda)
    return WordDocument(io.BytesIO(app.files.read(docx_path))), app.files.absolute(pdf_path)


def docx_bytes(app: App) -> bytes:
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", MEETING)
    docx_path, _ = write_agenda(app, agenda)
    return app.files.read(docx_path)


def with_agency(app: App, case_id: int, agency: str) -> None:
    """The referral form the case was filed with names the referrer's agency."""
    with app.store.session() as session:
        message = Message(
            backend="maildir",
            folder="INBOX",
            uid=f"u{case_id}",
            body_sha256="0" * 64,
            sha256="0" * 64,
            size=1,
            received_at=NOW,
            stored_at=NOW,
            raw_path="x",
        )
        session.add(message)
        session.flush()
        session.add(
            Document(
                case_id=case_id,
                message_row_id=message.id,
                kind="referral_form",
                filename="form.docx",
                content_type="application/octet-stream",
                sha256="1" * 64,
                size=1,
                stored_path="y",
                status="ok",
                fields={"referrer_agency": {"value": agency}},
                created_at=NOW,
            )
        )


def test_the_agenda_is_a4_with_its_own_title_author_and_dates(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    word, pdf_path = written(app)
    for section in word.sections:
        assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
        for margin in (section.left_margin, section.right_margin):
            assert 15 <= round(margin.mm) <= 25
        for margin in (section.top_margin, section.bottom_margin):
            assert 15 <= round(margin.mm) <= 30
    properties = word.core_properties
    assert properties.title == TITLE
    assert properties.author == "Multi Agency Support Panel"
    assert properties.last_modified_by == "Multi Agency Support Panel"
    # From the service's one clock (here frozen), not python-docx's template.
    assert properties.created == NOW
    assert properties.modified == properties.created
    assert properties.language == "en-GB"
    with pdfplumber.open(pdf_path) as pdf:
        for page in pdf.pages:
            assert (round(page.width, 1), round(page.height, 1)) == A4_POINTS
        assert pdf.metadata.get("Title") == TITLE
    app.close()


def test_no_python_docx_template_values_are_left(tmp_path: Path) -> None:
    app = seeded(tmp_path)
    data = docx_bytes(app)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        names = package.namelist()
        text = b"".join(package.read(name) for name in names if name.endswith(".xml"))
    assert not any("thumbnail" in name for name in names)
    for leftover in (b"python-docx", b"2013-12-23", b"Macintosh"):
        assert leftover not in text
    app.close()


def band_text(page: Any, top: bool) -> str:
    """The text in the top or bottom tenth of a PDF page: where the header or footer sits."""
    height = page.height / 10
    box = (0, 0, page.width, height) if top else (0, page.height - height, page.width, page.height)
    return str(page.crop(box).extract_text() or "")


def many_cases(tmp_path: Path, count: int) -> App:
    """`count` approved cases with slots: enough to run the table over several pages."""
    app = open_service(tmp_path, NOW, pack={"protective_marking": MARKING})
    with app.store.session() as session:
        for n in range(1, count + 1):
            case = Case(
                reference=f"MASP-2026-{n:04d}",
                panel_id="masp",
                meeting=MEETING,
                state="approved",
                referrer_email=f"ref{n}@school.example.org",
                received_at=NOW + timedelta(minutes=n),
                section20=n == 2,
                flags=[],
                fields={
                    "child_name": f"Ember Quillfeather{n}" if n > 1 else NAMES[0],
                    "child_dob": "2016-12-09" if n == 1 else "2020-01-15",
                    "request_types": ["section20"] if n == 2 else ["advice"],
                },
            )
            session.add(case)
            session.flush()
            start = MEETING + timedelta(minutes=20 * (n - 1))
            session.add(
                Slot(
                    case_id=case.id,
                    panel_id="masp",
                    meeting=MEETING,
                    position=n - 1,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=20),
                )
            )
    with_agency(app, 1, "Oakfield Primary School")
    return app


def test_the_protective_marking_heads_and_foots_every_page(tmp_path: Path) -> None:
    app = many_cases(tmp_path, 45)
    word, pdf_path = written(app)
    for section in word.sections:
        for part in (section.header, section.footer):
            assert not part.is_linked_to_previous
            assert MARKING in "\n".join(p.text for p in part.paragraphs)
    with pdfplumber.open(pdf_path) as pdf:
        assert len(pdf.pages) >= 2
        for number, page in enumerate(pdf.pages, start=1):
            assert MARKING in band_text(page, top=True), number
            bottom = band_text(page, top=False)
            assert MARKING in bottom and f"Page {number} of {len(pdf.pages)}" in bottom
    app.close()


def test_cases_are_a_table_whose_header_repeats_on_every_page(tmp_path: Path) -> None:
    app = many_cases(tmp_path, 45)
    word, pdf_path = written(app)
    [table] = word.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == HEADER and len(rows) == 46
    assert rows[1] == [
        "10:00–10:20",
        "MASP-2026-0001",
        "R.T.",
        "9",
        "Advice and guidance",
        "Oakfield Primary School",
        "",
    ]
    assert rows[2][1] == "MASP-2026-0002" and rows[2][6] == "Section 20 emergency"
    assert rows[3][2:4] == ["E.Q.", "6"]
    header = table.rows[0]._tr
    assert header.trPr is not None and header.trPr.find(qn("w:tblHeader")) is not None
    cells = "\n".join("\t".join(row) for row in rows)
    assert "Quillfeather" not in cells and "Testcase" not in cells
    with pdfplumber.open(pdf_path) as pdf:
        pages = [page.extract_text() or "" for page in pdf.pages]
    listing = [text for text in pages if "MASP-2026-00" in text]
    assert len(listing) >= 2
    for text in listing:
        assert "Reference" in text and "Initials" in text and "Referred by" in text
    whole = "\n".join(pages)
    assert "Quillfeather" not in whole and "Testcase" not in whole
    assert "MASP-2026-0045" in whole
    app.close()


def test_an_agenda_with_no_cases_says_so(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    word, _ = written(app)
    assert word.tables == []
    assert "No cases are listed for this meeting." in "\n".join(p.text for p in word.paragraphs)
    app.close()


def shipped() -> dict[str, Any]:
    tree = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert isinstance(tree, dict)
    return tree


def test_the_shipped_marking_is_official_sensitive() -> None:
    config = parse_config(shipped(), ROOT, env={})
    assert config.pack.protective_marking == "OFFICIAL-SENSITIVE"


@pytest.mark.parametrize(
    "marking", ["", "   ", "OFFICIAL\nSENSITIVE", "OFFICIAL\x00", "X" * 81], ids=repr
)
def test_a_bad_protective_marking_is_refused_naming_the_key(marking: str) -> None:
    tree = shipped()
    tree["pack"]["protective_marking"] = marking
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == "pack.protective_marking"


def test_the_pack_carries_the_configured_marking_on_every_page(tmp_path: Path) -> None:
    app = open_service(tmp_path, PACK_NOW, pack={"protective_marking": MARKING})
    referrals(app)
    assert not run_due(app, [conversion_jobs]).failed
    app.close()
    app = open_service(tmp_path, AFTER_NOTICE, pack={"protective_marking": MARKING})
    assert len(run_due(app, [pack_jobs]).done) == 1
    deliver_configured(app)
    [sent] = [s for s in sent_mail(app) if s.to == "admin@example.org"]
    files = {p.get_filename(): p.get_payload(decode=True) for p in sent.message.walk()}
    [pack] = [data for name, data in files.items() if name and name.endswith("-v1.pdf")]
    [docx] = [data for name, data in files.items() if name and name.endswith(".docx")]
    assert isinstance(pack, bytes) and isinstance(docx, bytes)
    with pdfplumber.open(io.BytesIO(pack)) as pdf:
        texts = [page.extract_text() or "" for page in pdf.pages]
    assert f"{MARKING}: contains personal data about children" in texts[0]
    for text in texts:
        assert f"Copy for A Admin. {MARKING}" in text
    word = WordDocument(io.BytesIO(docx))
    assert MARKING in word.sections[0].header.paragraphs[0].text
    assert word.core_properties.created == AFTER_NOTICE
    app.close()
