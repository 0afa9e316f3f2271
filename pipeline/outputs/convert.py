"""Documents turned into PDF when they arrive, so a meeting's pack assembles in seconds.

Word, Excel, OpenDocument and RTF go through LibreOffice headless; every document pending in
a tick goes into ONE `soffice --convert-to pdf` call, because starting LibreOffice costs far
more than converting (measured: ~1.2 s a cold call, ten documents in one call ~6 s). PDFs pass
through once pikepdf has opened them; images are placed on A4 pages. A conversion is keyed by
the document's content, so the same bytes are converted once whatever case they arrive on.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pikepdf
from PIL import Image, ImageSequence
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.kinds import Kind
from pipeline.errors import PipelineError
from pipeline.outputs.pdftext import A4
from pipeline.outputs.readback import chronology_pdf
from pipeline.panel.jobs import Job
from pipeline.store.files import ensure_private_dir
from pipeline.store.models import Conversion, Document

log = logging.getLogger(__name__)

OFFICE = frozenset({"docx", "doc", "xlsx", "xls", "odt", "ods", "rtf", "pptx", "odp", "txt", "csv"})
IMAGES = frozenset({"png", "jpg", "jpeg", "gif", "tif", "tiff", "bmp"})
# Images are drawn at no more than 300 dpi on A4: more pixels only make the pack heavier.
MAX_IMAGE_SIDE = 3508
IMAGE_MARGIN = 36.0


class ConversionError(PipelineError):
    """A document could not be turned into PDF; the reason is plain English."""


class NotStarted(ConversionError):
    """LibreOffice itself could not be run: no document in the batch is to blame."""


@dataclass(frozen=True)
class Source:
    """One document's bytes waiting to be converted, and how."""

    sha256: str
    route: str
    # The file type, which LibreOffice uses (with the content) to pick its import filter.
    suffix: str
    data: bytes


def route_of(document: Document) -> tuple[str, str] | None:
    """('pdf' | 'image' | 'office', file type) from what the file was sniffed as, else its name."""
    sniffed = str((document.fields or {}).get("sniffed", "")).lower()
    suffix = Path(document.filename).suffix.lower().lstrip(".")
    for kind in (sniffed, suffix):
        if kind == "pdf":
            return "pdf", kind
        if kind in IMAGES:
            return "image", kind
        if kind in OFFICE:
            return "office", kind
    return None


def pdf_pages(data: bytes) -> int:
    """The page count of a PDF we can open, or ConversionError saying why not."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return len(pdf.pages)
    except pikepdf.PasswordError as exc:
        raise ConversionError("the PDF is protected by a password") from exc
    except pikepdf.PdfError as exc:
        raise ConversionError("the PDF is damaged and cannot be opened") from exc


def _flat_rgb(frame: Image.Image) -> Image.Image:
    # Transparent areas become white, as they look on screen, instead of black.
    rgba = frame.convert("RGBA")
    page = Image.new("RGB", rgba.size, "white")
    page.paste(rgba, mask=rgba.getchannel("A"))
    page.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    return page


def _image_page(pdf: pikepdf.Pdf, picture: Image.Image) -> None:
    w, h = picture.size
    page_w, page_h = (A4[1], A4[0]) if w > h else A4
    scale = min((page_w - 2 * IMAGE_MARGIN) / w, (page_h - 2 * IMAGE_MARGIN) / h)
    draw_w, draw_h = w * scale, h * scale
    x, y = (page_w - draw_w) / 2, (page_h - draw_h) / 2
    image = pikepdf.Stream(pdf, zlib.compress(picture.tobytes(), 6))
    image.stream_dict = pikepdf.Dictionary(
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=w,
        Height=h,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.FlateDecode,
    )
    content = f"q {draw_w:.2f} 0 0 {draw_h:.2f} {x:.2f} {y:.2f} cm /Im0 Do Q".encode()
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, page_w, page_h]),
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pdf.make_stream(content),
    )
    pdf.pages.append(pikepdf.Page(page))


def image_to_pdf(data: bytes) -> bytes:
    """Each frame of an image (a multi-page TIFF has several) on its own A4 page."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            pdf = pikepdf.new()
            for frame in ImageSequence.Iterator(picture):
                _image_page(pdf, _flat_rgb(frame))
    except Image.DecompressionBombError as exc:
        raise ConversionError("the picture is too large to place on a page") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ConversionError("the picture is damaged or of a kind we cannot read") from exc
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _soffice_command(app: App, outdir: Path, files: Sequence[Path]) -> list[str]:
    # A private profile: LibreOffice's default one is per user and would clash with a person
    # (or another service) using LibreOffice on the same machine.
    profile = app.config.data_path / "soffice-profile"
    ensure_private_dir(profile)
    return [
        app.config.pack.soffice,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        *(str(f) for f in files),
    ]


def run_soffice(app: App, outdir: Path, files: Sequence[Path]) -> None:
    """One LibreOffice call converting `files` into `outdir`, killed if it overruns."""
    seconds = app.config.pack.convert_seconds
    command = _soffice_command(app, outdir, files)
    try:
        # Its own process group, so a timeout kills LibreOffice's helper processes too.
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise NotStarted(f"LibreOffice could not be started ({exc.strerror})") from exc
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise ConversionError(f"LibreOffice did not finish within {seconds:g} seconds") from exc


def office_to_pdf(app: App, sources: Sequence[Source]) -> dict[str, bytes | str]:
    """Convert the office documents in as few LibreOffice calls as possible: PDF bytes or a
    reason each.

    One call converts them all. If that call is stopped (a document that takes LibreOffice
    longer than `pack.convert_seconds`, such as a table of thousands of rows), the documents it
    had finished are kept; LibreOffice works through its files in order, so the first one
    without a PDF is the one it was on. The others go again together, and that one alone, so
    one slow document never costs the rest of a batch their place in the pack.
    """
    work = app.config.data_path / "work"
    ensure_private_dir(work)
    folder = Path(tempfile.mkdtemp(prefix="convert-", dir=work))
    try:
        paths = {}
        for source in sources:
            paths[source.sha256] = folder / f"{source.sha256}.{source.suffix}"
            paths[source.sha256].write_bytes(source.data)
        results: dict[str, bytes | str] = {}
        batches = [list(sources)]
        for call in itertools.count():
            if not batches:
                break
            batch = batches.pop(0)
            out = folder / f"out-{call}"
            problem = _run_batch(app, out, [paths[s.sha256] for s in batch])
            missing = []
            for source in batch:
                pdf = out / f"{source.sha256}.pdf"
                if pdf.exists():
                    results[source.sha256] = pdf.read_bytes()
                else:
                    missing.append(source)
            if problem is None or isinstance(problem, NotStarted) or len(batch) == 1:
                reason = str(problem or "LibreOffice could not convert this document")
                results.update((source.sha256, reason) for source in missing)
            elif missing:
                log.warning("LibreOffice stopped on a batch of %d; retrying the rest", len(batch))
                batches += [part for part in (missing[1:], missing[:1]) if part]
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_batch(app: App, out: Path, files: Sequence[Path]) -> ConversionError | None:
    try:
        run_soffice(app, out, files)
    except ConversionError as exc:
        return exc
    return None


def _outcome(route: str, data: bytes) -> bytes:
    """The PDF for a pdf or image source (office ones go in a batch)."""
    if route == "image":
        return image_to_pdf(data)
    pdf_pages(data)
    return data


def _record(app: App, session: Session, sha: str, result: bytes | str) -> Conversion:
    now = app.clock.now()
    row = Conversion(source_sha256=sha, status="failed", created_at=now)
    if isinstance(result, bytes):
        try:
            row.pages = pdf_pages(result)
            row.pdf_path = app.files.put("pdf", result, ".pdf")[1]
            row.status = "done"
        except ConversionError as exc:
            result = str(exc)
    if isinstance(result, str):
        row.error = result
        log.warning("conversion of document %s failed: %s", sha[:12], result)
    session.add(row)
    return row


def _results(app: App, sources: Sequence[Source]) -> dict[str, bytes | str]:
    results: dict[str, bytes | str] = {}
    for source in sources:
        if source.route == "office":
            continue
        try:
            results[source.sha256] = _outcome(source.route, source.data)
        except ConversionError as exc:
            results[source.sha256] = str(exc)
    office = [s for s in sources if s.route == "office"]
    if office:
        results.update(office_to_pdf(app, office))
    return results


def convert_documents(app: App, session: Session, documents: Iterable[Document]) -> None:
    """Make sure each document has a Conversion (done or failed), in as few calls as possible."""
    have = set(session.scalars(select(Conversion.source_sha256)))
    sources: dict[str, Source] = {}
    chronologies: dict[str, Document] = {}
    for document in documents:
        if document.kind == Kind.CHRONOLOGY:
            chronologies.setdefault(document.sha256, document)
        if document.sha256 in have or document.sha256 in sources:
            continue
        route = route_of(document)
        if route is None:
            _record(app, session, document.sha256, "this kind of file cannot be shown in the pack")
            have.add(document.sha256)
            continue
        data = app.files.read(document.stored_path)
        sources[document.sha256] = Source(document.sha256, route[0], route[1], data)
    for sha, result in _results(app, list(sources.values())).items():
        if isinstance(result, str) and sha in chronologies:
            result = _read_back(chronologies[sha], result)
        _record(app, session, sha, result)
    session.flush()


def _read_back(document: Document, problem: str) -> bytes | str:
    """A chronology LibreOffice could not lay out, written from the rows read at intake."""
    laid_out = chronology_pdf(document.filename, document.fields, problem)
    if laid_out is None:
        return problem
    log.warning("chronology %s laid out from its rows read: %s", document.sha256[:12], problem)
    return laid_out


def pending(session: Session) -> list[Document]:
    """Documents that can appear in a pack (current, not refused, not purged) and are not yet
    converted."""
    converted = select(Conversion.source_sha256)
    query = select(Document).where(
        Document.superseded.is_(False),
        Document.status != "refused",
        Document.stored_path != "",
        Document.sha256.not_in(converted),
    )
    return list(session.scalars(query.order_by(Document.id)))


def _convert_all_pending(app: App, session: Session) -> None:
    # The first job of a tick converts everything pending in one batch; the others then find
    # their document already converted and have nothing left to do.
    convert_documents(app, session, pending(session))


def conversion_jobs(app: App, session: Session, now: datetime) -> list[Job]:
    """A job source: one `convert:{sha256}` job per document not yet converted."""
    jobs: dict[str, Job] = {}
    for document in pending(session):
        jobs.setdefault(
            document.sha256,
            Job(f"convert:{document.sha256}", document.created_at, _convert_all_pending),
        )
    return list(jobs.values())


__all__ = [
    "ConversionError",
    "conversion_jobs",
    "convert_documents",
    "image_to_pdf",
    "pdf_pages",
    "route_of",
    "run_soffice",
]
