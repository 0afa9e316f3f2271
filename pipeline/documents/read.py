"""Reading one attachment: its real type, its kind, and what it says — the unit of work that
runs inside the isolated worker process. Everything here is picklable and pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from pipeline.documents import registry
from pipeline.documents.classify import classify
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.parsing import NOTES, ParserContext, Source
from pipeline.documents.pdf import too_many_pages
from pipeline.documents.referral_form import Draft, facts_of
from pipeline.documents.results import (
    Classification,
    DocumentResult,
    FormFacts,
    ReadLimits,
    Sniffed,
    megabytes,
)
from pipeline.documents.sniff import extension, sniff
from pipeline.documents.topdf import check_picture

# Sniffed types whose size in pixels is read from their headers before anything else.
PICTURES = frozenset({"png", "jpeg", "gif", "tiff", "bmp"})

__all__ = ["DocumentResult", "ReadLimits", "megabytes", "read_document", "too_large"]


def too_large(size: int, limit: int) -> DocumentResult:
    problem = (
        f"the file is too large ({megabytes(size)}; the limit is {megabytes(limit)}): "
        "please send a smaller copy, or split it"
    )
    return DocumentResult(
        Sniffed(type="unknown", problem=problem),
        Classification(Kind.OTHER, Status.REFUSED, problem, "not opened: too large", 0.0, ""),
    )


def read_document(
    filename: str,
    data: bytes,
    limits: ReadLimits,
    today: date | None = None,
    as_kind: Kind | None = None,
) -> DocumentResult:
    """Sniff, classify, and read the document with its kind's parser.

    `today` (from the service's clock) lets a chronology report dates in the future; without it
    that check is skipped, never guessed from the machine's clock. `as_kind` reads it as that
    kind whatever it looks like (the administrator said what it is, R17); the same checks that
    refuse a file still refuse it.
    """
    if len(data) > limits.max_bytes:
        return too_large(len(data), limits.max_bytes)
    sniffed = sniff(data, filename)
    source = Source(data, sniffed, limits)
    sniffed = _page_limit(sniffed, source)
    sniffed = _picture_limit(sniffed, data, limits)
    classification = classify(filename, data, sniffed, source)
    if classification.status == Status.REFUSED:
        return DocumentResult(sniffed, classification)
    if as_kind is not None and as_kind != classification.kind:
        note = f"read as {as_kind.value} on request (it looked like {classification.kind.value})"
        classification = replace(classification, kind=as_kind, note=note)
    context = ParserContext(filename, sniffed, limits, today)
    parsed = registry.parse(classification.kind, source, context)
    if parsed is None:
        notes = _unparsed(classification.kind, filename)
        return DocumentResult(
            sniffed, classification, _no_facts(classification.kind), {NOTES: list(notes)}, notes
        )
    facts = parsed.facts or _no_facts(classification.kind)
    return DocumentResult(sniffed, classification, facts, parsed.to_json(), parsed.notes)


def _page_limit(sniffed: Sniffed, source: Source) -> Sniffed:
    """A PDF over the page limit is refused before any page of it is read, and one with a page
    too heavy to read once that page is met."""
    if sniffed.type != "pdf" or sniffed.problem is not None or source.pdf is None:
        return sniffed
    if source.pdf.problem is not None:
        return replace(sniffed, problem=source.pdf.problem)
    if source.pdf.pages <= source.limits.max_pdf_pages:
        return sniffed
    return replace(sniffed, problem=too_many_pages(source.pdf.pages, source.limits.max_pdf_pages))


def _picture_limit(sniffed: Sniffed, data: bytes, limits: ReadLimits) -> Sniffed:
    """A picture too large to show safely is refused now, when its sender can still be told."""
    if sniffed.type not in PICTURES or sniffed.problem is not None:
        return sniffed
    problem = check_picture(data, limits.max_pdf_pages)
    return sniffed if problem is None else replace(sniffed, problem=problem)


def _no_facts(kind: Kind) -> FormFacts | None:
    # Intake files a case by a referral form's facts even when nothing could be read from it.
    return facts_of(Draft(), "none") if kind == Kind.REFERRAL_FORM else None


def _unparsed(kind: Kind, filename: str) -> tuple[str, ...]:
    if kind == Kind.OTHER:
        return ()
    suffix = extension(filename) or "this type of"
    return (f"the contents of .{suffix} files are not read automatically: a person will read it",)
