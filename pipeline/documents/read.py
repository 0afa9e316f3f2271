"""Reading one attachment: its real type, its kind, and what it says — the unit of work that
runs (later) inside the isolated worker process. Everything here is picklable and pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.documents.classify import Classification, classify
from pipeline.documents.form import FormFacts, read_form_facts
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.sniff import Sniffed, sniff


@dataclass(frozen=True)
class ReadLimits:
    """Limits every reader honours; the worker also enforces time and memory from outside."""

    max_bytes: int = 20_000_000
    max_pdf_pages: int = 500
    max_rows: int = 20_000
    seconds: float = 30.0
    memory_mb: int = 1024


@dataclass(frozen=True)
class DocumentResult:
    """What one attachment turned out to be and what was read from it."""

    sniffed: Sniffed
    classification: Classification
    facts: FormFacts | None = None
    # Per field: {"value": ..., "confidence": 0..1, "source": "content-control" | ...}.
    fields: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def too_large(size: int, limit: int) -> DocumentResult:
    problem = (
        f"the file is too large ({megabytes(size)}; the limit is {megabytes(limit)}): "
        "please send a smaller copy, or split it"
    )
    return DocumentResult(
        Sniffed(type="unknown", problem=problem),
        Classification(Kind.OTHER, Status.REFUSED, problem, "not opened: too large", 0.0, ""),
    )


def read_document(filename: str, data: bytes, limits: ReadLimits) -> DocumentResult:
    """Sniff, classify and (for a referral form) read the facts intake needs."""
    if len(data) > limits.max_bytes:
        return too_large(len(data), limits.max_bytes)
    sniffed = sniff(data, filename)
    classification = classify(filename, data, sniffed)
    facts = None
    if classification.kind == Kind.REFERRAL_FORM and classification.status != Status.REFUSED:
        facts = read_form_facts(data, sniffed)
    return DocumentResult(sniffed, classification, facts)
