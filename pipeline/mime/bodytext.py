"""The readable text of a body: HTML made plain, line endings tidied."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from pipeline.mime.charsets import decode_bytes


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body, with block elements on their own lines."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except AssertionError:
        # html.parser asserts on some malformed declarations; strip tags crudely instead.
        return tidy(re.sub(r"<[^>]*>", " ", markup))
    lines = (" ".join(line.split()) for line in "".join(extractor.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML document, skipping scripts and styles."""

    _SKIPPED = frozenset({"script", "style", "title"})
    _BLOCKS = frozenset(
        {"address", "blockquote", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li"}
        | {"ol", "p", "pre", "table", "tr", "ul"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.pieces.append("\n")
        elif tag in ("td", "th"):
            self.pieces.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS and tag != "br":
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def tidy(text: str) -> str:
    """Text with every line ending made a newline, and no space at either end."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def text_of(value: object) -> str:
    """A body as a container library hands it over (bytes, text or nothing), as text."""
    if isinstance(value, bytes):
        return tidy(decode_bytes(value.rstrip(b"\0"), "cp1252"))
    return tidy(value.rstrip("\0")) if isinstance(value, str) else ""
