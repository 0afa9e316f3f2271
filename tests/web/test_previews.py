"""Document pages shown as pictures on the case page, drawn by the isolated reader (SPEC §7)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from pipeline import samples
from pipeline.documents.worker import DocumentWorker
from pipeline.intake.poll import poll
from pipeline.store.models import Case, Document
from pipeline.web.users import Role
from tests.helpers import drop
from tests.web.conftest import FIRST, NOW, Console, signed_in

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def two_page_pdf() -> bytes:
    """A portrait page with a black band at its top, then a landscape page, all white."""
    pdf = pikepdf.new()
    for width, height, content in (
        (595, 842, b"0 0 0 rg 0 742 595 100 re f"),
        (842, 595, b""),
    ):
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=pikepdf.Array([0, 0, width, height]),
            Contents=pdf.make_stream(content),
        )
        pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def scan(console: Console) -> int:
    """The id of a two-page PDF the first case's referrer sent in, through the real intake."""
    data = two_page_pdf()
    # With a file that is not what it claims to be: refused, it shows no picture.
    fake = samples.File("fake.pdf", samples.PDF, b"MZ\x90\x00 not a PDF at all")
    files = [samples.File("scan.pdf", samples.PDF, data), fake]
    mail = samples.Mail("Referrer 1 <ref1@school.example.org>", f"Re: {FIRST} a scan", files=files)
    drop(console.app, mail, NOW - timedelta(minutes=1))
    poll(console.app)
    with console.app.store.reading() as session:
        case = session.scalar(select(Case).where(Case.reference == FIRST))
        assert case is not None
        found = session.scalar(
            select(Document).where(Document.case_id == case.id, Document.filename == "scan.pdf")
        )
        assert found is not None, "the scan was not filed on the first case"
        return found.id


def document_id(console: Console, reference: str, filename: str) -> int:
    with console.app.store.reading() as session:
        found = session.scalar(
            select(Document.id)
            .join(Case, Document.case_id == Case.id)
            .where(Case.reference == reference, Document.filename == filename)
        )
    assert found is not None
    return found


def picture(body: bytes) -> Image.Image:
    assert body.startswith(PNG_SIGNATURE)
    shown = Image.open(io.BytesIO(body))
    assert shown.format == "PNG"
    return shown


def test_each_page_of_a_pdf_is_drawn_as_its_own_png(console: Console, scan: int) -> None:
    client = signed_in(console, Role.CHAIR)
    first = client.get(f"/cases/{FIRST}/documents/{scan}/pages/1.png")
    second = client.get(f"/cases/{FIRST}/documents/{scan}/pages/2.png")
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
    one, two = picture(first.content), picture(second.content)
    # 800 pixels wide; the first page portrait (A4), the second landscape.
    assert one.size == (800, round(842 * 800 / 595))
    assert two.size == (800, round(595 * 800 / 842))
    # The first page's black band is at its top; the second page is white.
    assert one.convert("RGB").getpixel((400, 10)) == (0, 0, 0)
    assert one.convert("RGB").getpixel((400, one.height - 10)) == (255, 255, 255)
    assert two.convert("RGB").getextrema() == ((255, 255), (255, 255), (255, 255))
    missing = client.get(f"/cases/{FIRST}/documents/{scan}/pages/3.png")
    assert missing.status_code == 404 and "has no page 3" in missing.text


def test_a_picture_is_redrawn_smaller_never_sent_as_it_came(console: Console) -> None:
    genogram = document_id(console, FIRST, "genogram.png")
    answer = signed_in(console, Role.ADMINISTRATOR).get(
        f"/cases/{FIRST}/documents/{genogram}/pages/1.png"
    )
    assert answer.status_code == 200
    assert answer.content != samples.genogram_png()
    assert picture(answer.content).size == (240, 160)


def test_the_case_page_shows_the_first_pages_with_words_for_them(
    console: Console, scan: int
) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get(f"/cases/{FIRST}")
    assert page.status_code == 200
    genogram = document_id(console, FIRST, "genogram.png")
    assert f'src="/cases/{FIRST}/documents/{genogram}/pages/1.png"' in page.text
    assert f'src="/cases/{FIRST}/documents/{scan}/pages/1.png"' in page.text
    # Word documents are shown once converted for the pack, and the page says so.
    assert "No preview yet: a Word or Excel document is shown once it has been" in page.text
    # The alt text names the kind and page, never the file.
    assert 'alt="Page 1 of the ' in page.text
    fake = document_id(console, FIRST, "fake.pdf")
    card = page.text.split(f'id="document-{fake}"')[1].split('class="govuk-summary-card"')[0]
    assert "No preview: the document was refused (see the reason above)." in card
    assert "<img" not in card
    asked = signed_in(console, Role.CHAIR).get(f"/cases/{FIRST}/documents/{fake}/pages/1.png")
    assert asked.status_code == 404 and "the document was refused" in asked.text
    alts = re.findall(r'alt="([^"]*)"', page.text)
    assert alts and not [alt for alt in alts if re.search(r"\.(png|pdf|docx)", alt)]


def test_roles_and_cases_a_picture_is_refused_for(console: Console, scan: int) -> None:
    path = f"/cases/{FIRST}/documents/{scan}/pages/1.png"
    assert signed_in(console, Role.MEMBER).get(path).status_code == 403
    # The document is not on another case, whatever its id.
    other = console.references["incomplete"]
    wrong = signed_in(console, Role.ADMINISTRATOR).get(
        f"/cases/{other}/documents/{scan}/pages/1.png"
    )
    assert wrong.status_code == 404 and f"has no document {scan}" in wrong.text
    # A Service Manager never asked about that case is refused it as the case page is.
    assert (
        signed_in(console, Role.SERVICE_MANAGER)
        .get(f"/cases/{other}/documents/{scan}/pages/1.png")
        .status_code
        == 403
    )


def test_pages_are_drawn_in_the_reader_child_never_in_the_console(
    console: Console, scan: int
) -> None:
    client = signed_in(console, Role.CHAIR)
    assert client.get(f"/cases/{FIRST}/documents/{scan}/pages/1.png").status_code == 200
    reader = console.app.documents
    assert isinstance(reader, DocumentWorker)
    assert reader.pid is not None and reader.pid != os.getpid()
    # The console process, as `masp web` starts, never loads pdfium: only the child does.
    script = (
        "import sys, pipeline.web.app, pipeline.web.casepage, pipeline.web.previews;"
        "print('pypdfium2' in sys.modules, 'pypdfium2.raw' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.split() == ["False", "False"]
