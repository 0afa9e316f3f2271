"""Plain text pages (front sheet, agenda, placeholders) and stamps drawn straight into PDF.

These pages are written with pikepdf, not through LibreOffice, so a pack assembles in well
under a second once its documents are converted. Their font is DejaVu Sans, embedded (see
`fonts`), so names in any Latin, Greek or Cyrillic script read as written.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pikepdf

from pipeline.fonts import Faces, faces, wrapped

# A4 in points, and the margin every page keeps clear for the stamp.
A4 = (595.28, 841.89)
MARGIN = 56.0
LEADING = 1.35
# The resource names of the regular and the bold face on every text page.
REGULAR, BOLD = pikepdf.Name("/F1"), pikepdf.Name("/F2")


@dataclass(frozen=True)
class Line:
    """One paragraph of text; it wraps to the page width and starts a new page when full."""

    text: str
    size: float = 11.0
    bold: bool = False
    # Extra space above the paragraph, in points (headings breathe).
    space: float = 0.0
    indent: float = 0.0


def wrap(text: str, size: float, bold: bool, room: float, chosen: Faces | None = None) -> list[str]:
    """Greedy word wrap; a single word wider than the line is left whole."""
    return wrapped((chosen or faces()).of(bold), text, size, room)


def _operations(rows: Iterable[tuple[float, float, Line, str]], chosen: Faces) -> bytes:
    ops: list[tuple[list[object], pikepdf.Operator]] = []
    for x, y, line, text in rows:
        font = BOLD if line.bold else REGULAR
        ops += [
            ([], pikepdf.Operator("BT")),
            ([font, line.size], pikepdf.Operator("Tf")),
            ([x, y], pikepdf.Operator("Td")),
            ([pikepdf.String(chosen.of(line.bold).encode(text))], pikepdf.Operator("Tj")),
            ([], pikepdf.Operator("ET")),
        ]
    return pikepdf.unparse_content_stream(ops)  # type: ignore[arg-type]


def _layout(lines: Sequence[Line], chosen: Faces) -> list[list[tuple[float, float, Line, str]]]:
    """Place every wrapped line; a list of pages, each a list of (x, y, line, text)."""
    pages: list[list[tuple[float, float, Line, str]]] = [[]]
    top = A4[1] - MARGIN
    y = top
    for line in lines:
        room = A4[0] - 2 * MARGIN - line.indent
        for i, text in enumerate(wrap(line.text, line.size, line.bold, room, chosen)):
            step = line.size * LEADING + (line.space if i == 0 else 0)
            if y - step < MARGIN and pages[-1]:
                pages.append([])
                y = top
            y -= step
            pages[-1].append((MARGIN + line.indent, y, line, text))
    return pages


def count_pages(lines: Sequence[Line], chosen: Faces | None = None) -> int:
    return len(_layout(lines, chosen or faces()))


def add_text_pages(pdf: pikepdf.Pdf, lines: Sequence[Line], chosen: Faces | None = None) -> int:
    """Append A4 pages carrying `lines` to `pdf`; return how many pages were added."""
    chosen = chosen or faces()
    # Each face carries the glyphs of the text written in it, and no more.
    fonts = pikepdf.Dictionary(
        {
            str(name): chosen.of(bold).font(pdf, "".join(x.text for x in lines if x.bold == bold))
            for name, bold in ((REGULAR, False), (BOLD, True))
        }
    )
    resources = pdf.make_indirect(pikepdf.Dictionary(Font=fonts))
    laid_out = _layout(lines, chosen)
    for rows in laid_out:
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=pikepdf.Array([0, 0, *A4]),
            Resources=resources,
            Contents=pdf.make_stream(_operations(rows, chosen)),
        )
        pdf.pages.append(pikepdf.Page(page))
    return len(laid_out)


def saved(pdf: pikepdf.Pdf) -> bytes:
    """The PDF's bytes, with objects packed into streams (smaller packs)."""
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def text_pdf(lines: Sequence[Line], chosen: Faces | None = None) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    add_text_pages(pdf, lines, chosen)
    return pdf
