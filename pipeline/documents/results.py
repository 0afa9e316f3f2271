"""What a reader answers: the plain records that cross from the reader processes to the service.

Kept apart from the readers themselves (`read`, `classify`, `topdf` …), which need the parsing
libraries: the service only receives these records, and a poll starts without loading those
libraries (they are loaded once, by the readers' fork server, on another processor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from pipeline.documents.kinds import LABELS, Kind, Status


@dataclass(frozen=True)
class Sniffed:
    """What a file really is, and why it must be refused (addressed to the referrer), if it must."""

    type: str
    problem: str | None = None


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


@dataclass(frozen=True)
class ReadLimits:
    """Limits every reader honours; the worker also enforces time and memory from outside."""

    max_bytes: int = 20_000_000
    max_pdf_pages: int = 500
    max_rows: int = 20_000
    seconds: float = 30.0
    memory_mb: int = 1024


@dataclass(frozen=True)
class Classification:
    """The kind of one file, whether it can be used, and why we think so."""

    kind: Kind
    status: Status
    reason: str | None
    note: str
    score: float
    text: str


def resolve_competition(items: Sequence[Classification]) -> list[Classification]:
    """Where files of one email claim the same kind, the best keeps it and the rest become other."""
    result = list(items)
    claims: dict[Kind, list[int]] = {}
    for index, item in enumerate(items):
        if item.kind != Kind.OTHER and item.status != Status.REFUSED:
            claims.setdefault(item.kind, []).append(index)
    for kind, indexes in claims.items():
        # A readable file beats one a person must check; then the higher score; then the first.
        winner = max(indexes, key=lambda i: (items[i].status == Status.OK, items[i].score, -i))
        for index in indexes:
            if index != winner:
                result[index] = _demote(items[index], items[winner], kind)
    return result


def _demote(loser: Classification, winner: Classification, kind: Kind) -> Classification:
    if winner.score > loser.score:
        why = f"scored higher ({winner.score:.2f} against {loser.score:.2f})"
    else:
        why = "was preferred (it could be read, or it came first)"
    note = (
        f"{loser.note}; also looked like {with_article(kind)}, but another file in this email {why}"
    )
    return replace(loser, kind=Kind.OTHER, note=note)


def with_article(kind: Kind) -> str:
    """The kind's label with its article, for notes: "a chronology", "an assessment"."""
    label = LABELS[kind].split(" (")[0].lower()
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


@dataclass(frozen=True)
class DocumentResult:
    """What one attachment turned out to be and what was read from it."""

    sniffed: Sniffed
    classification: Classification
    facts: FormFacts | None = None
    # Per field: {"value": ..., "confidence": 0..1, "source": "content-control" | ...}, plus
    # "notes" (a list), "summary" (chronologies) and "missing" (referral forms): JSON-ready.
    fields: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@dataclass(frozen=True)
class Converted:
    """A document as PDF, ready for the pack, and its page count."""

    pdf: bytes
    pages: int


@dataclass(frozen=True)
class Preview:
    png: bytes
    # How many pages the document has (the case page shows the first few).
    pages: int
