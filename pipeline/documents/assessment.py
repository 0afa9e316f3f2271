"""The assessment parser: which assessment it is, the child it is about, and its domains.

Early Help Assessments, EHATs, CAFs and Child and Family Assessments share a title vocabulary and
the assessment-framework domains; the classifier recognises them by the same words kept here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.documents.kinds import Kind
from pipeline.documents.labels import contains_phrase, normalise_label, phrase_pattern
from pipeline.documents.parsing import FieldValue, ParserContext, ParseResult, Source
from pipeline.documents.referral_form import from_blocks
from pipeline.documents.word import Block

# Title phrases and the assessment each names; the more specific phrase first.
TYPES: tuple[tuple[str, str], ...] = (
    ("family caf", "Family CAF"),
    ("ehat", "Early Help Assessment (EHAT)"),
    ("early help assessment", "Early Help Assessment"),
    ("eha", "Early Help Assessment"),
    ("common assessment framework", "CAF"),
    ("caf", "CAF"),
    ("child and family assessment", "Child and Family Assessment"),
    ("single assessment", "Single Assessment"),
    ("family assessment", "Family Assessment"),
)
TITLES = tuple(phrase for phrase, _ in TYPES)
DOMAINS = (
    *("development of the child", "development of the unborn baby", "childs developmental needs"),
    *("parents and carers", "parenting capacity", "family and environment"),
    *("family and environmental factors", "family history and functioning"),
)
_CHILD_FIELDS = ("child_name", "child_dob")
_HEADING_LINES = 80


# Any title phrase, and any domain: most lines have neither, and one search says so.
_ANY_TITLE = phrase_pattern(TITLES)
_ANY_DOMAIN = phrase_pattern(DOMAINS)
_SPACED_DOMAINS = tuple((domain, f" {domain} ") for domain in DOMAINS)


def assessment_type(
    blocks: Sequence[Block], title: str = "", normalise: Callable[[str], str] = normalise_label
) -> str | None:
    """The assessment a document's title (or an early heading) names.

    `normalise` is `normalise_label`, or the document's own memo of it (`Source.label`).
    """
    candidates = [title, *(b.cells[0] for b in blocks[:_HEADING_LINES] if len(b.cells) == 1)]
    for line in candidates:
        label = normalise(line)
        if not _ANY_TITLE.search(label) or len(label.split()) > 15:
            continue
        for phrase, name in TYPES:
            if contains_phrase(label, phrase):
                return name
    return None


def domains(
    blocks: Sequence[Block], normalise: Callable[[str], str] = normalise_label
) -> list[str]:
    """The assessment-framework domains a document has as headings or lines of their own."""
    lines = {normalise(cell) for b in blocks for cell in b.cells[:1] if len(cell) < 80}
    lines = {line for line in lines if _ANY_DOMAIN.search(line)}
    if not lines:
        return []
    # `contains_phrase` of each domain in any line: a domain has no line break, so it can only
    # be found within one line of them all, spaced and joined.
    joined = " " + " \n ".join(lines) + " "
    return [domain for domain, spaced in _SPACED_DOMAINS if spaced in joined]


def blocks_of(
    source: Source,
) -> tuple[tuple[Block, ...], str, tuple[tuple[str, str | bool], ...]]:
    """The document's blocks, its title and its labelled controls (Word only).

    A PDF is never handed to the Word reader: that would open its bytes as a zip for nothing.
    """
    if source.sniffed.type == "docx" and source.word is not None:
        return source.word.blocks, source.word.title, source.word.labelled
    return (source.pdf_blocks if source.sniffed.type == "pdf" else ()), "", ()


class AssessmentParser:
    """Assessments in Word and PDF: the type, the child, and the domains covered."""

    kind = Kind.ASSESSMENT
    types = frozenset({"docx", "pdf"})

    def parse(self, source: Source, context: ParserContext) -> ParseResult | None:
        blocks, title, labelled_controls = blocks_of(source)
        found: dict[str, FieldValue] = {}
        label = source.label
        if (name := assessment_type(blocks, title, label)) is not None:
            found["assessment_type"] = FieldValue(name, 0.9, "text")
        if covered := domains(blocks, label):
            found["domains"] = FieldValue(covered, 0.9, "text")
        labelled = from_blocks(blocks, labelled_controls, False, normalise=label)
        found.update({k: labelled.found[k] for k in _CHILD_FIELDS if k in labelled.found})
        notes = []
        if "child_name" not in found:
            notes.append("the assessment does not name the child in a labelled field")
        if not covered:
            notes.append("no assessment domains (such as 'Development of the child') were found")
        return ParseResult(found, tuple(notes))
