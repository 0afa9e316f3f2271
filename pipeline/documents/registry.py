"""The parser registry: which parser reads a document of a given kind and file type.

Each parser declares its kind and the (sniffed) file types it handles; the first that handles a
document and does not decline it reads it. A parser that fails on a hostile file never stops
intake: the failure becomes a note and a person reads the document.
"""

from __future__ import annotations

import logging

from pipeline.documents.assessment import AssessmentParser
from pipeline.documents.chronology import ChronologyParser
from pipeline.documents.genogram import GenogramParser
from pipeline.documents.kinds import Kind
from pipeline.documents.parsing import Parser, ParserContext, ParseResult, Source
from pipeline.documents.referral_form import ReferralFormParser

log = logging.getLogger(__name__)

PARSERS: tuple[Parser, ...] = (
    ReferralFormParser(),
    ChronologyParser(),
    AssessmentParser(),
    GenogramParser(),
)
FAILED = "the document's contents could not be read automatically: a person will read it"


def parsers_for(kind: Kind, file_type: str) -> list[Parser]:
    """The parsers that handle this kind of document in this type of file, in order."""
    return [p for p in PARSERS if p.kind == kind and file_type in p.types]


def parse(kind: Kind, source: Source, context: ParserContext) -> ParseResult | None:
    """The first result of a parser that handles the document; None if none does."""
    for parser in parsers_for(kind, source.sniffed.type):
        try:
            result = parser.parse(source, context)
        # Parsers read hostile bytes through several libraries, each with its own errors.
        except Exception as exc:
            log.warning("the %s parser failed: %s", kind.value, type(exc).__name__)
            return ParseResult(notes=(FAILED,))
        if result is not None:
            return result
    return None
