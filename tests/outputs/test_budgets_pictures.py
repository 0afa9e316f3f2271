"""Issue 9 item 4: converting pictures for the pack runs in the isolated worker under the reader's
time and memory limits, never in the service; pictures too large to decode safely are refused
from their headers, at intake (the referrer is told) and again at conversion; a picture that
fails lands in the pack as a page saying why, and the pack is built all the same."""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.documents.results import ReadLimits
from pipeline.documents.topdf import (
    MAX_IMAGE_PIXELS,
    MAX_PICTURE_PIXELS,
    TooLarge,
    image_to_pdf,
    millions,
    pdf_pages,
)
from pipeline.documents.worker import DocumentWorker
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.outputs.convert import Source, conversion_jobs, office_to_pdf
from pipeline.panel.distribute import pack_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case, Conversion, Document, Pack
from tests import hostile
from tests.helpers import drop, open_service, sent_mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# Slot notices go five days before the meeting (8 December); the pack follows.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
CHILD = samples.Child(referrer_email="jo.example@school.example.org")
SMALLER = "please send a smaller copy, or split it"
BOMB = (
    "the picture is too large to read safely (13,370 × 13,370 pixels; the most the panel inbox "
    f"takes is {millions(MAX_IMAGE_PIXELS)} pixels a page): {SMALLER}"
)
ALL_PAGES = (
    "the picture's pages are too large to read safely (over "
    f"{millions(MAX_PICTURE_PIXELS)} pixels in all): {SMALLER}"
)
PAGES = (
    "the picture has more than 500 pages, the most the panel inbox reads: "
    "please send the relevant pages"
)
# (file name, maker, reason): each a few kilobytes; decoded, each takes gigabytes or minutes.
TOO_LARGE: list[tuple[str, Callable[[], bytes], str]] = [
    # Just under Pillow's own refusal (twice MAX_IMAGE_PIXELS), where Pillow only warns.
    ("Genogram.png", lambda: hostile.one_colour_png(13_370, 13_370), BOMB),
    ("Scan.tiff", lambda: hostile.many_page_tiff(9_400, 9_400, 20), ALL_PAGES),
    ("Pages.tiff", lambda: hostile.many_page_tiff(100, 100, 600), PAGES),
]
IDS = [name for name, _, _ in TOO_LARGE]


@pytest.fixture(scope="module")
def worker() -> Iterator[DocumentWorker]:
    with DocumentWorker(ReadLimits(seconds=20)) as reader:
        yield reader


@pytest.mark.parametrize(("name", "make", "reason"), TOO_LARGE, ids=IDS)
def test_a_picture_too_large_is_refused_at_intake_and_its_sender_told(
    tmp_path: Path, name: str, make: Callable[[], bytes], reason: str
) -> None:
    app = open_service(tmp_path, NOW)
    picture = samples.File(name, "image/png", make())
    files = [*samples.full_referral(CHILD, genogram=False), picture]
    drop(app, samples.Mail(CHILD.referrer_email, "Referral", files=files), NOW)
    poll(app)
    with app.store.session() as session:
        document = session.scalars(select(Document).where(Document.filename == name)).one()
        assert (document.status, document.reason) == ("refused", reason)
        assert app.files.read(document.stored_path) == picture.data
    [ack] = sent_mail(app)
    assert f"{name} — NOT USABLE: {reason}" in " ".join(ack.text().split())
    app.close()


@pytest.mark.parametrize(("name", "make", "reason"), TOO_LARGE, ids=IDS)
def test_a_picture_too_large_is_refused_by_the_conversion_itself(
    worker: DocumentWorker, name: str, make: Callable[[], bytes], reason: str
) -> None:
    # A document stored before intake checked pictures reaches the conversion unchecked.
    data = make()
    assert worker.convert("image", data) == reason
    with pytest.raises(TooLarge, match=r"too large|more than"):
        image_to_pdf(data)


def test_pictures_and_pdfs_convert_in_the_worker(worker: DocumentWorker) -> None:
    scan = hostile.many_page_tiff(1_000, 1_400, 3)
    converted = worker.convert("image", scan)
    assert not isinstance(converted, str)
    assert converted.pages == pdf_pages(converted.pdf) == 3
    text = hostile.text_pdf()
    assert worker.convert("pdf", text) == type(converted)(text, 1)
    damaged = b"%PDF-1.7\nnot really"
    assert worker.convert("pdf", damaged) == "the PDF is damaged and cannot be opened"


def test_a_picture_too_slow_to_convert_is_stopped_and_the_next_converts() -> None:
    with DocumentWorker(ReadLimits(seconds=0.05)) as slow:
        slow.start()
        first = slow.pid
        assert slow.convert("image", hostile.many_page_tiff(8_000, 8_000, 5)) == (
            "the file took too long to convert safely (over 0.05 s)"
        )
        assert slow.pid != first
        converted = slow.convert("image", samples.genogram_png())
        assert not isinstance(converted, str) and converted.pages == 1


# --- End to end: a picture that needs more memory than the worker may have. ---

MEMORY_MB = 300


@pytest.fixture(scope="module")
def heavy() -> bytes:
    """81 million RGBA pixels: under the pixel limit and 340 kB on disk, 324 MB decoded."""
    return hostile.one_colour_png(9_000, 9_000, b"\x10\x80\x20\xff")


def test_a_picture_over_the_memory_limit_fails_in_the_worker_and_the_pack_says_why(
    tmp_path: Path, heavy: bytes
) -> None:
    app = open_service(tmp_path, NOW, limits__parse_memory_mb=MEMORY_MB)
    files = [
        *samples.full_referral(CHILD, genogram=False),
        samples.File("Genogram.png", "image/png", heavy),
    ]
    drop(app, samples.Mail(CHILD.referrer_email, "Referral", files=files), NOW)
    poll(app)
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        # Its header is within the limits: it is read, and meant for the pack.
        assert {d.filename: d.status for d in case.documents}["Genogram.png"] == "ok"
        case.state = CaseState.APPROVED
    assert not run_due(app, [conversion_jobs]).failed
    # In the service's own process, with no limit, it converted (at about 1 GB); here it may not.
    reason = f"the file needed too much memory to convert safely (over {MEMORY_MB} MB)"
    with app.store.session() as session:
        rows = list(session.scalars(select(Conversion).order_by(Conversion.status)))
        assert [(r.status, r.error) for r in rows] == [("done", None)] * 3 + [("failed", reason)]
    app.close()

    app = open_service(tmp_path, AFTER_NOTICE, limits__parse_memory_mb=MEMORY_MB)
    assert len(run_due(app, [pack_jobs]).done) == 1
    deliver_configured(app)
    with app.store.session() as session:
        pack = session.scalars(select(Pack)).one()
        pages = pypdf.PdfReader(io.BytesIO(app.files.read(pack.stored_path))).pages
        text = " ".join(" ".join(page.extract_text().split()) for page in pages)
    assert "could not be converted: see the original in the zip" in text
    assert f"Reason: {reason}" in text
    assert any("meeting pack" in sent.subject for sent in sent_mail(app))
    app.close()


def address_space_limits(profile: Path) -> set[int]:
    """The address-space limit of each running process that uses this LibreOffice profile."""
    found = subprocess.run(["pgrep", "-f", str(profile)], capture_output=True, text=True)
    limits = set()
    for pid in found.stdout.split():
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/limits").read_text()
            [line] = [each for each in text.splitlines() if each.startswith("Max address space")]
            value = line.split()[3]
            limits.add(-1 if value == "unlimited" else int(value))
    return limits


def test_libreoffice_converts_under_its_memory_cap(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, pack={"convert_memory_mb": 1500})
    profile = app.config.data_path / "soffice-profile"
    # A chronology long enough for LibreOffice to take a few seconds, to look at it while it works.
    source = Source("d" * 64, "office", "docx", samples.chronology(rows=300))
    with ThreadPoolExecutor(1) as pool:
        converting = pool.submit(office_to_pdf, app.config, [source])
        seen: set[int] = set()
        while not converting.done():
            seen |= address_space_limits(profile)
            time.sleep(0.05)
        made = converting.result()["d" * 64]
    assert seen == {1500 * 1024 * 1024}
    assert isinstance(made, bytes) and pdf_pages(made) > 1
    app.close()
