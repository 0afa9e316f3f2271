"""Reading Word (.docx) documents as plain text, with the guarded zip and XML readers.

python-docx's `cell.text` silently skips text inside content controls and legacy form fields,
and on a long table it is several times slower than walking the XML, so the XML is walked here
with lxml: paragraphs and table rows become `Block`s, content controls are read by tag and by
their label (alias), checkboxes of every era become the glyphs ☒ and ☐, and a legacy drop-down
becomes the entry chosen in it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.documents.sniff import open_zip, parse_xml, read_member

W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
EMPTY_BOX, TICKED_BOX = "☐", "☒"
_W14_NS, _W_NS, _EMPTY, _TICKED = W14_NS, W_NS, EMPTY_BOX, TICKED_BOX


def w(name: str) -> str:
    """A name in Word's main namespace, as lxml spells it."""
    return f"{{{_W_NS}}}{name}"


_T, _TAB, _BR, _CR, _P, _R = w("t"), w("tab"), w("br"), w("cr"), w("p"), w("r")
_TBL, _TR, _TC, _SYM = w("tbl"), w("tr"), w("tc"), w("sym")
_SDT, _SDTPR, _SDTCONTENT = w("sdt"), w("sdtPr"), w("sdtContent")
_TAG, _ALIAS, _VAL, _PLACEHOLDER = w("tag"), w("alias"), w("val"), w("showingPlcHdr")
_LEGACY_BOX, _LEGACY_LIST, _PSTYLE, _PPR = w("checkBox"), w("ddList"), w("pStyle"), w("pPr")
_W14_CHECKBOX, _W14_CHECKED, _W14_VAL = (
    f"{{{_W14_NS}}}checkbox",
    f"{{{_W14_NS}}}checked",
    f"{{{_W14_NS}}}val",
)
_WRAPPERS = frozenset({_SDT, _SDTCONTENT, w("customXml"), w("smartTag")})
_STRICT_W = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
_EXTENT = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent"
_OLD_PICTURES = (w("pict"), w("object"))
# A drawing smaller than 20 cm² (in square EMU, 360,000 to the centimetre) is a logo or an
# icon, not a picture that could be the document's content.
_PICTURE_AREA = 20 * 360_000**2
# Wingdings boxes that older forms type as symbols instead of using a form field.
_WINGDINGS_BOXES = {
    0xA8: _EMPTY,
    0x6F: _EMPTY,
    0x71: _EMPTY,
    0x78: _TICKED,
    0xFD: _TICKED,
    0xFE: _TICKED,
}
_MARKER = re.compile(rb"MASP-REFERRAL-FORM v([0-9.]+)")
MAX_BLOCKS = 5000


@dataclass(frozen=True)
class Block:
    """A paragraph (one cell) or a table row (one entry per cell), in document order."""

    cells: tuple[str, ...]
    table: int = -1
    heading: bool = False


@dataclass(frozen=True)
class WordDoc:
    """What a .docx says, as plain text: blocks, content controls, pictures, properties."""

    blocks: tuple[Block, ...]
    controls: Mapping[str, str | bool]
    labelled: tuple[tuple[str, str | bool], ...]
    pictures: int  # big enough to be content, not a logo
    marker: str | None
    title: str
    # More paragraphs and rows than `max_blocks`: the rest were not read.
    truncated: bool = False


def read_word(data: bytes, max_blocks: int = MAX_BLOCKS) -> WordDoc | None:
    """Read a .docx with the guarded zip and XML readers; None if it cannot be read."""
    archive = open_zip(data)
    if archive is None:
        return None
    with archive:
        raw = read_member(archive, "word/document.xml") or b""
        # Word's "Strict Open XML" files differ only in namespace names; read them the same way.
        root = parse_xml(raw.replace(_STRICT_W, _W_NS.encode()))
        if root is None:
            return None
        marker, title = _word_properties(archive)
    body = root.find(w("body"))
    if body is None:
        return None
    # Most documents have neither placeholders nor drawings' fallbacks: a search of the bytes
    # says so at a fraction of the cost of searching the tree for them.
    if b"showingPlcHdr" in raw or b"Fallback" in raw:
        _drop_hidden_text(root)
    tags = _text_tags(root)
    controls, labelled = _controls(root, tags)
    pictures = _big_pictures(root)
    blocks = _blocks(body, max_blocks + 1, tags)
    truncated = len(blocks) > max_blocks
    return WordDoc(blocks[:max_blocks], controls, labelled, pictures, marker, title, truncated)


def _big_pictures(root: Any) -> int:
    """Pictures and drawings big enough to be content (VML ones carry no size: all count)."""
    sized = 0
    for extent in root.iter(_EXTENT):
        try:
            sized += int(extent.get("cx", "0")) * int(extent.get("cy", "0")) >= _PICTURE_AREA
        except ValueError:
            continue
    return sized + sum(1 for _ in root.iter(*_OLD_PICTURES))


def _word_properties(archive: zipfile.ZipFile) -> tuple[str | None, str]:
    core = read_member(archive, "docProps/core.xml", 1024 * 1024) or b""
    parts = [core, read_member(archive, "docProps/custom.xml", 1024 * 1024) or b""]
    parts += [read_member(archive, n) or b"" for n in archive.namelist() if "/footer" in n][:4]
    found = next((m for m in map(_MARKER.search, parts) if m), None)
    marker = found.group(0).decode() if found else None
    root = parse_xml(core)
    title = root.findtext("{http://purl.org/dc/elements/1.1/}title") if root is not None else ""
    return marker, (title or "").strip()


_HIDDEN_TEXT = "//w:sdt[w:sdtPr/w:showingPlcHdr]//w:t | //mc:Fallback//w:t"
_XPATH_NS = {"w": _W_NS, "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"}


def _drop_hidden_text(root: Any) -> None:
    """Blank text a reader never sees: placeholder prompts, and the fallback copy of drawings."""
    for node in root.xpath(_HIDDEN_TEXT, namespaces=_XPATH_NS):
        node.text = ""


# What `_text_of` looks at besides w:t and w:p.
_MORE_TEXT_TAGS = (_TAB, _BR, _CR, _LEGACY_BOX, _LEGACY_LIST, _SYM)


def _text_tags(root: Any) -> tuple[str, ...]:
    """The elements `_text_of` looks for that this document holds at all.

    lxml sets up a matcher for every tag it is given on each `iter` call: on a table of 10,000
    cells, eight tags cost more than the walk itself, and most documents hold only a few of
    them. Whether a document holds one is nearly free to ask: lxml answers at once for a name
    the document never uses, and otherwise stops at the first such element.
    """
    more = [tag for tag in _MORE_TEXT_TAGS if next(root.iter(tag), None) is not None]
    return (_T, _P, *more)


def _text_of(element: Any, tags: tuple[str, ...]) -> str:
    """The text a reader sees in a cell or paragraph: boxes as glyphs, breaks as newlines.

    `tags` are the elements looked at: `_text_tags` of the document's XML.
    """
    parts: list[str] = []
    for node in element.iter(*tags):
        tag = node.tag
        if tag == _T:
            parts.append(node.text or "")
        elif tag == _P:
            if parts:
                parts.append("\n")
        elif tag == _LEGACY_BOX:
            parts.append(_legacy_box(node))
        elif tag == _LEGACY_LIST:
            parts.append(_legacy_list(node))
        elif tag == _SYM:
            parts.append(_symbol(node))
        elif node.getparent() is not None and node.getparent().tag == _R:
            # Tab stops in paragraph properties share the name w:tab; only runs hold text.
            parts.append(" " if tag == _TAB else "\n")
    return "".join(parts).strip()


def _legacy_box(box: Any) -> str:
    """A legacy FORMCHECKBOX: w:checked wins over w:default; a bare element means 'on'."""
    state = box.find(w("checked"))
    if state is None:
        state = box.find(w("default"))
    on = state is not None and state.get(_VAL, "1").lower() in ("1", "true", "on")
    return _TICKED if on else _EMPTY


def _legacy_list(choices: Any) -> str:
    """A legacy FORMDROPDOWN's chosen entry: Word keeps only its number (w:result, else
    w:default, else the first), not the text shown."""
    entries = [_val(entry) for entry in choices.findall(w("listEntry"))]
    chosen = choices.find(w("result"))
    if chosen is None:
        chosen = choices.find(w("default"))
    try:
        number = int(_val(chosen) or 0)
    except ValueError:
        return ""
    return entries[number] if 0 <= number < len(entries) else ""


def _symbol(sym: Any) -> str:
    if "wingdings" not in sym.get(w("font"), "").lower():
        return ""
    try:
        return _WINGDINGS_BOXES.get(int(sym.get(w("char"), "0"), 16) & 0xFF, "")
    except ValueError:
        return ""


def _val(element: Any) -> str:
    return str(element.get(_VAL, "")) if element is not None else ""


def tag_of(sdt: Any) -> str:
    properties = sdt.find(_SDTPR)
    return _val(properties.find(_TAG)) if properties is not None else ""


def _controls(
    root: Any, tags: tuple[str, ...]
) -> tuple[dict[str, str | bool], tuple[tuple[str, str | bool], ...]]:
    tagged: dict[str, str | bool] = {}
    labelled: list[tuple[str, str | bool]] = []
    for sdt in list(root.iter(_SDT)):
        properties = sdt.find(_SDTPR)
        if properties is None:
            continue
        box = properties.find(_W14_CHECKBOX)
        value: str | bool
        if box is not None:
            value = _val_w14(box.find(_W14_CHECKED)) in ("1", "true")
            _show_state(sdt.find(_SDTCONTENT), value)
        else:
            content = sdt.find(_SDTCONTENT)
            value = _text_of(content, tags) if content is not None else ""
        tag, alias = _val(properties.find(_TAG)), _val(properties.find(_ALIAS))
        if tag:
            tagged.setdefault(tag, value)
        if alias or tag:
            labelled.append((alias or tag, value))
    return tagged, tuple(labelled)


def _show_state(content: Any, checked: bool) -> None:
    """Make a check box control's text the glyph of its state, as the text is read later.

    The control's state is the answer; its text is only how Word last drew it, in whatever
    font the form chose (Wingdings' boxes are private-use characters that mean nothing alone).
    """
    if content is None:
        return
    drawn = list(content.iter(_T, _SYM))
    if not drawn:
        return
    # The first piece of text (or symbol) becomes the glyph; the rest of the drawing goes.
    first = drawn[0]
    first.tag = _T
    first.attrib.clear()
    first.text = _TICKED if checked else _EMPTY
    for node in drawn[1:]:
        node.getparent().remove(node)


def _val_w14(element: Any) -> str:
    return str(element.get(_W14_VAL, "")).lower() if element is not None else ""


def _children(parent: Any, tag: str) -> Iterator[Any]:
    """Direct children with `tag`, looking through content-control and custom-XML wrappers."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tag)


def _blocks(body: Any, limit: int, tags: tuple[str, ...]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    tables = 0
    for element in _body_items(body):
        if element.tag == _P:
            text = _text_of(element, tags)
            if text:
                blocks.append(Block((text,), -1, _is_heading(element)))
            continue
        for row in _children(element, _TR):
            cells = tuple(_text_of(cell, tags) for cell in _children(row, _TC))
            if any(cells):
                blocks.append(Block(cells, tables))
        tables += 1
        if len(blocks) >= limit:
            break
    return tuple(blocks[:limit])


def _body_items(parent: Any) -> Iterator[Any]:
    for child in parent:
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _body_items(child)


def _is_heading(paragraph: Any) -> bool:
    properties = paragraph.find(_PPR)
    style = _val(properties.find(_PSTYLE)) if properties is not None else ""
    return style.lower().startswith(("heading", "title"))
