"""Pages of a case's documents shown as pictures (SPEC §7): drawn as PNG by the isolated document
reader, never by the console's own process, from the PDF made for the pack when there is one,
else from the original if it is a PDF or a picture."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.documents.preview import PREVIEW_PAGES
from pipeline.documents.results import Preview
from pipeline.errors import NotFound
from pipeline.outputs.convert import route_of
from pipeline.states import ConversionState
from pipeline.store.models import Conversion, Document


@dataclass(frozen=True)
class Source:
    """What to draw a document's pages from: 'pdf' or 'image', and the stored file."""

    route: str
    path: str
    # Page count when known (a conversion counted them); else None.
    pages: int | None


def conversions(session: Session, documents: Iterable[Document]) -> dict[str, Conversion]:
    """The pack's conversions of these documents, by the original's sha256 (one query)."""
    shas = {d.sha256 for d in documents}
    if not shas:
        return {}
    rows = session.scalars(select(Conversion).where(Conversion.source_sha256.in_(shas)))
    return {row.source_sha256: row for row in rows}


def source_of(document: Document, conversion: Conversion | None) -> Source | str:
    """Where this document's pages can be drawn from, or why it shows no preview."""
    if document.status == "refused":
        return "No preview: the document was refused (see the reason above)."
    if conversion is not None and conversion.status == ConversionState.DONE and conversion.pdf_path:
        return Source("pdf", conversion.pdf_path, conversion.pages)
    route = route_of(document)
    if route is not None and route[0] in ("pdf", "image"):
        return Source(route[0], document.stored_path, None)
    failed = conversion is not None and conversion.status == ConversionState.FAILED
    if route is not None and failed and conversion is not None:
        why = conversion.error or "no reason was given"
        return f"No preview: it could not be converted to PDF ({why})."
    if route is not None:
        return (
            "No preview yet: a Word or Excel document is shown once it has been converted to "
            "PDF for the pack."
        )
    return "No preview: the file is neither a PDF, a picture nor an office document."


def shown_pages(source: Source | str) -> tuple[int, ...]:
    """The page numbers the case page shows: the first few when the count is known, else the
    first (drawing a page only to count them would double the reader's work)."""
    if isinstance(source, str):
        return ()
    return tuple(range(1, min(source.pages or 1, PREVIEW_PAGES) + 1))


def draw(app: App, session: Session, document: Document, page: int) -> Preview:
    """Page `page` of `document` drawn by the isolated reader; NotFound says why there is none."""
    source = source_of(document, conversions(session, [document]).get(document.sha256))
    if isinstance(source, str):
        raise NotFound(source)
    if not 1 <= page <= PREVIEW_PAGES:
        raise NotFound(f"Only the first {PREVIEW_PAGES} pages of a document are shown here.")
    drawn = app.documents.preview(source.route, app.files.read(source.path), page)
    if isinstance(drawn, str):
        raise NotFound(f"No preview of page {page}: {drawn}.")
    return drawn
