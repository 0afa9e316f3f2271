"""Documents become PDF when they arrive: Word and Excel through real LibreOffice in one batch,
images on A4 pages, PDFs checked and passed through, failures kept with a plain reason."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pdfplumber
import pikepdf
import pypdfium2 as pdfium
import pytest
from openpyxl import Workbook
from PIL import Image
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.documents.topdf import image_to_pdf, pdf_pages
from pipeline.errors import ConversionError
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.outputs.convert import (
    NotStarted,
    Source,
    conversion_jobs,
    office_to_pdf,
    route_of,
)
from pipeline.panel.distribute import pack_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case, Conversion, Document, JobRun
from tests.helpers import drop, open_service, pack_reader, sent_mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# After the slot notices for Tuesday 8 December's meeting: the pack job is due.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
ADMIN = "admin@example.org"
CHILD = samples.Child()
# LibreOffice takes minutes over a 5,000-row Word table; a short document takes seconds.
LIMIT = 10


@pytest.fixture(scope="module")
def long_chronology() -> bytes:
    data: bytes = samples.chronology(rows=5000)
    return data


def all_text(data: bytes) -> str:
    """Every page's text, quickly (pdfplumber takes about 0.1 s a page), spaces collapsed."""
    pdf = pdfium.PdfDocument(data)
    return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in pdf)


def workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Date", "Event"])
    sheet.append(["01/02/2025", "Invented spreadsheet event"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def text_of(data: bytes) -> str:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def test_word_and_excel_convert_in_one_libreoffice_call(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    results = office_to_pdf(
        app.config,
        [
            Source("a" * 64, "office", "docx", samples.chronology(rows=3)),
            Source("b" * 64, "office", "xlsx", workbook()),
        ],
    )
    word, excel = results["a" * 64], results["b" * 64]
    assert isinstance(word, bytes) and isinstance(excel, bytes)
    assert "Chronology of significant events" in text_of(word)
    assert "Invented spreadsheet event" in text_of(excel)
    # The working copies are gone: only the private LibreOffice profile stays.
    assert list((app.config.data_path / "work").iterdir()) == []
    app.close()


def test_images_are_placed_on_a4_pages() -> None:
    with pikepdf.open(io.BytesIO(image_to_pdf(samples.genogram_png()))) as pdf:
        page = pdf.pages[0]
        assert len(pdf.pages) == 1 and len(page.get_images()) == 1
        # A wide picture goes on a landscape A4 page.
        assert [round(float(v)) for v in page.mediabox] == [0, 0, 842, 595]
    transparent = io.BytesIO()
    Image.new("RGBA", (50, 80), (255, 0, 0, 0)).save(transparent, "PNG")
    assert pdf_pages(image_to_pdf(transparent.getvalue())) == 1


def test_damaged_files_fail_with_a_plain_reason() -> None:
    with pytest.raises(ConversionError, match="picture is damaged"):
        image_to_pdf(samples.genogram_png()[:60])
    with pytest.raises(ConversionError, match="PDF is damaged"):
        pdf_pages(b"%PDF-1.7\nnot really")


def test_a_slow_or_missing_libreoffice_fails_the_batch_and_is_killed(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, pack={"convert_seconds": 0.05})
    source = Source("c" * 64, "office", "docx", samples.assessment())
    assert "did not finish within 0.05 seconds" in str(
        office_to_pdf(app.config, [source])["c" * 64]
    )
    profile = str(app.config.data_path / "soffice-profile")
    running = subprocess.run(["pgrep", "-f", profile], capture_output=True, check=False)
    assert running.stdout == b""
    app.close()
    missing = open_service(tmp_path, NOW, pack={"soffice": "/nonexistent/soffice"})
    with pytest.raises(NotStarted, match="could not be started"):
        office_to_pdf(missing.config, [source])
    missing.close()


def test_one_slow_document_does_not_cost_the_rest_of_its_batch(
    tmp_path: Path, long_chronology: bytes
) -> None:
    app = open_service(tmp_path, NOW, pack={"convert_seconds": LIMIT})
    short, slow, sheet = "a" * 64, "b" * 64, "c" * 64
    results = office_to_pdf(
        app.config,
        [
            Source(short, "office", "docx", samples.chronology(rows=3)),
            Source(slow, "office", "docx", long_chronology),
            Source(sheet, "office", "xlsx", workbook()),
        ],
    )
    converted, spreadsheet = results[short], results[sheet]
    assert isinstance(converted, bytes) and isinstance(spreadsheet, bytes)
    assert "Invented spreadsheet event" in text_of(spreadsheet)
    assert results[slow] == f"LibreOffice did not finish within {LIMIT} seconds"
    app.close()


def test_a_chronology_too_long_for_libreoffice_is_laid_out_from_its_rows(
    tmp_path: Path, long_chronology: bytes
) -> None:
    app = open_service(tmp_path, NOW, pack={"convert_seconds": LIMIT})
    long = samples.File("Chronology.docx", samples.DOCX, long_chronology)
    files = [long if f.filename == "Chronology.docx" else f for f in samples.full_referral(CHILD)]
    drop(app, samples.Mail("jo.example@school.example.org", "Referral", files=files), NOW)
    poll(app)
    assert not run_due(app, [conversion_jobs]).failed
    with app.store.session() as session:
        chronology = session.scalars(select(Document).where(Document.kind == "chronology")).one()
        row = session.scalars(
            select(Conversion).where(Conversion.source_sha256 == chronology.sha256)
        ).one()
        assert row.status == "done" and row.pdf_path is not None
        text = all_text(app.files.read(row.pdf_path))
    assert "Shown as the panel inbox read it (5,000 entries)" in text
    assert f"LibreOffice did not finish within {LIMIT} seconds" in text
    assert "Invented event number 1 for the synthetic family." in text
    assert "Invented event number 5000 for the synthetic family." in text
    app.close()


def with_one_referral(folder: Path) -> App:
    """A service in `folder` that has filed one whole referral (its documents to convert)."""
    app = open_service(folder, NOW)
    mail = samples.Mail(
        "jo.example@school.example.org", "Referral", files=samples.full_referral(samples.Child())
    )
    drop(app, mail, NOW)
    poll(app)
    return app


def test_documents_are_converted_by_tick_once_in_one_batch(tmp_path: Path) -> None:
    app = with_one_referral(tmp_path)
    first = run_due(app, [conversion_jobs])
    assert len(first.done) == 4 and not first.failed
    assert run_due(app, [conversion_jobs]).done == []
    with app.store.session() as session:
        rows = list(session.scalars(select(Conversion)))
        assert [r.status for r in rows] == ["done"] * 4
        assert all(r.pages and r.pdf_path for r in rows)
        assert len(list(session.scalars(select(JobRun)))) == 4
    app.close()


BROKEN = {"soffice": "/nonexistent/soffice"}


def approved_referral(folder: Path, **overrides: Any) -> App:
    """A service holding one approved referral whose documents are not yet converted."""
    app = open_service(folder, NOW, **overrides)
    child = samples.Child(name="Bea Later", referrer_email="later@school.example.org")
    mail = samples.Mail(child.referrer_email, "Referral", files=samples.full_referral(child))
    drop(app, mail, NOW)
    poll(app)
    with app.store.session() as session:
        session.scalars(select(Case)).one().state = CaseState.APPROVED
    return app


def admin_pack_text(folder: Path, **overrides: Any) -> str:
    """Every page of the pack the administrator received, built after the slot notices."""
    app = open_service(folder, AFTER_NOTICE, **overrides)
    assert run_due(app, [pack_jobs]).failed == []
    deliver_configured(app)
    [pack] = [s for s in sent_mail(app) if "meeting pack" in s.subject and s.to == ADMIN]
    app.close()
    return " ".join(" ".join(page.extract_text().split()) for page in pack_reader(pack).pages)


def test_libreoffice_that_could_not_start_is_tried_again_and_the_pack_has_the_pages(
    tmp_path: Path,
) -> None:
    # LibreOffice is missing at first (not yet installed, a wrong path in pack.soffice).
    broken = approved_referral(tmp_path, pack=BROKEN)
    first = run_due(broken, [conversion_jobs])
    assert first.failed, "a tick whose LibreOffice could not start must fail, to run again"
    with broken.store.session() as session:
        # Nothing is recorded against the office documents: they are not to blame. The
        # others (pictures, PDFs) are converted all the same.
        rows = {r.source_sha256: r.status for r in session.scalars(select(Conversion))}
        for document in session.scalars(select(Document)):
            route = route_of(document)
            office = route is not None and route[0] == "office"
            assert rows.get(document.sha256) == (None if office else "done"), document.kind
    broken.close()
    # Once it is installed, the next tick converts them.
    fixed = open_service(tmp_path, NOW)
    second = run_due(fixed, [conversion_jobs])
    assert not second.failed and second.done
    with fixed.store.session() as session:
        statuses = session.scalars(select(Conversion.status)).all()
        documents = session.scalars(select(Document)).all()
        assert len(statuses) == len(documents) and set(statuses) == {"done"}
    fixed.close()
    texts = admin_pack_text(tmp_path)
    assert "Chronology of significant events" in texts
    assert "could not be started" not in texts and "could not be converted" not in texts


def test_a_pack_built_while_libreoffice_cannot_start_still_goes_and_blames_no_document(
    tmp_path: Path,
) -> None:
    approved_referral(tmp_path, pack=BROKEN).close()
    texts = admin_pack_text(tmp_path, pack=BROKEN)
    assert "has not been converted yet" in texts
    app = open_service(tmp_path, AFTER_NOTICE)
    with app.store.session() as session:
        assert session.scalars(select(Conversion).where(Conversion.status == "failed")).all() == []
    app.close()
