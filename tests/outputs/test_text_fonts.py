"""Names outside Latin-1 read as written in every PDF we make: the stamp on each page of a pack,
its front sheet and text pages, and the screening summary. The font (DejaVu Sans) is embedded,
and where it cannot be found the PDFs are still made, with the standard fonts."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

from pipeline import samples
from pipeline.fonts import faces, faces_from, find_fonts, load_faces
from pipeline.intake.poll import poll
from pipeline.outputs.pack import stamp
from pipeline.outputs.pdftext import Line, saved, text_pdf
from pipeline.outputs.summary import SummaryFacts, render_summary
from pipeline.service import run_due_jobs
from tests.helpers import drop, open_service, sent_mail

NAME = "Łukasz Ŵyn Ōtake Δέλτα"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def page_texts(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    return [page.get_textpage().get_text_range() for page in document]


def assert_embedded(data: bytes) -> None:
    """Every font a page uses is DejaVu Sans with its font program inside the PDF."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        fonts = [
            font.DescendantFonts[0] if "/DescendantFonts" in font else font
            for page in pdf.pages
            for font in page.obj.Resources.Font.values()
        ]
        assert fonts
        for font in fonts:
            assert "DejaVuSans" in str(font.BaseFont)
            assert "/FontFile2" in font.FontDescriptor, f"{font.BaseFont} is not embedded"


def blank_pages(count: int) -> bytes:
    pdf = pikepdf.new()
    for _ in range(count):
        pdf.add_blank_page(page_size=(595, 842))
    return saved(pdf)


def test_the_font_is_found_on_this_machine() -> None:
    # scripts/test.sh installs fonts-dejavu-core: without it this test must fail, not skip.
    assert faces().files is not None


def test_every_page_is_stamped_with_the_recipients_name_as_written() -> None:
    stamped = stamp(blank_pages(3), NAME)
    for number, text in enumerate(page_texts(stamped), start=1):
        assert f"Copy for {NAME}." in text
        assert f"Page {number} of 3" in text
    assert_embedded(stamped)


def test_text_pages_show_every_script_and_embed_the_font() -> None:
    lines = [Line(f"Distribution: {NAME}", bold=True), Line(f"{NAME}: core member " * 12)]
    with text_pdf(lines) as pdf:
        data = saved(pdf)
    (text,) = page_texts(data)
    assert f"Distribution: {NAME}" in text
    # Long lines still wrap by the embedded font's own widths, inside the page.
    assert " ".join(text.split()).count(NAME) == 13
    assert_embedded(data)


def test_the_screening_summary_shows_initials_and_question_as_written() -> None:
    facts = SummaryFacts(
        reference="MASP-2026-0042",
        panel_name="Multi Agency Support Panel",
        meeting="Tuesday 8 December 2026, 10:00",
        received="Monday 23 November 2026, 09:00",
        initials="Ł.Ŵ.Ō.",
        age="9 years",
        request_types=("Multi-agency support package",),
        question=f"What support can {NAME}’s family have – and when?",
        section20=False,
        consent="yes",
        documents=("Referral form (version 1)",),
        flags=(),
    )
    data = render_summary(facts, NOW)
    (text,) = page_texts(data)
    assert "Ł.Ŵ.Ō., aged 9 years" in text
    assert f"What support can {NAME}’s family have – and when?" in " ".join(text.split())
    assert_embedded(data)


def test_the_summary_a_manager_receives_keeps_the_childs_initials(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    child = samples.Child(name="Łukasz Ŵyn", referrer_email="jo@school.example.org")
    drop(
        app, samples.Mail(child.referrer_email, "Referral", files=samples.full_referral(child)), NOW
    )
    poll(app)
    run_due_jobs(app)
    (request,) = [s for s in sent_mail(app) if s.to == "sm@example.org"]
    app.close()
    (pdf,) = [
        part.get_payload(decode=True)
        for part in request.message.walk()
        if (part.get_filename() or "").endswith("-summary.pdf")
    ]
    assert isinstance(pdf, bytes)
    (text,) = page_texts(pdf)
    assert "Ł.Ŵ., aged" in text


def test_without_the_font_pdfs_are_still_made_and_the_log_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert find_fonts([tmp_path], fontconfig=False) is None
    with caplog.at_level(logging.WARNING, logger="pipeline.fonts"):
        fallback = load_faces([tmp_path], fontconfig=False)
    assert fallback.files is None
    assert [r.getMessage() for r in caplog.records if "fonts-dejavu-core" in r.getMessage()]
    with text_pdf([Line(NAME)], fallback) as pdf:
        data = saved(pdf)
    (text,) = page_texts(data)
    assert "?ukasz" in text
    # The process looks the font up once: asking again neither searches nor logs again.
    assert faces() is faces()


def test_the_embedded_faces_are_the_ones_found(tmp_path: Path) -> None:
    files = find_fonts()
    assert files is not None
    assert faces_from(files).files == files
