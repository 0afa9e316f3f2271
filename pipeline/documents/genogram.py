"""The genogram parser: a genogram is read by people, so only what it is and its words are kept.

A genogram is a drawing (an image, a PDF or a Word drawing); the panel looks at it as drawn. What
can be told from the file is its form and, for drawings with a text layer, the names on it.
"""

from __future__ import annotations

from pipeline.documents.kinds import Kind
from pipeline.documents.parsing import FieldValue, ParserContext, ParseResult, Source

IMAGES = frozenset({"png", "jpeg", "gif", "tiff", "bmp", "heic"})
MAX_WORDS = 200


def words_of(source: Source) -> list[str]:
    """The text on a drawn genogram (names, ages, dates), in reading order."""
    if source.sniffed.type == "pdf":
        lines = source.pdf.lines if source.pdf else ()
    else:
        blocks = source.word.blocks if source.word else ()
        lines = tuple(cell for block in blocks for cell in block.cells)
    return [line for line in lines if line.strip()][:MAX_WORDS]


class GenogramParser:
    """Genograms as pictures, PDFs and Word drawings."""

    kind = Kind.GENOGRAM
    types = IMAGES | {"pdf", "docx"}

    def parse(self, source: Source, context: ParserContext) -> ParseResult | None:
        kind = source.sniffed.type
        form = "picture" if kind in IMAGES else f"drawing in a {kind.upper()} file"
        found = {"form": FieldValue(f"{form} ({kind})", 1.0, "text")}
        if kind in IMAGES:
            # A picture has no text layer: there is nothing more to read, and nothing missing.
            return ParseResult(found)
        if text := words_of(source):
            found["text"] = FieldValue(text, 0.7, "text")
        return ParseResult(found)
