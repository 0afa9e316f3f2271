"""Text as it enters the service: control characters and other poison removed, in one place.

Everything a sender controls (email headers and bodies, filenames, what the document reader
found in a form or a chronology) passes through `clean_text` before it is stored. Characters
that XML forbids would otherwise stop every Word document built from the text (lxml refuses
them), and bidirectional overrides can make a name or a filename read differently from what it
is. It sits below both `intake` and `documents`, which both need it.
"""

from __future__ import annotations

import operator
import re
from typing import Any

# The last two code points of each of the 17 planes, and U+FDD0 to U+FDEF, are noncharacters.
_NONCHARACTERS_BMP = "\ufdd0-\ufdef\ufffe\uffff"
_NONCHARACTERS = _NONCHARACTERS_BMP + "".join(
    chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17)
)
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_BIDI = "\u202a-\u202e\u2066-\u2069"
# What is removed: C0 controls but tab and newline (vertical tab, form feed and carriage
# return are line breaks, turned into newlines first), DEL and the C1 controls, the
# bidirectional embeddings, overrides and isolates (Trojan-Source style disguises; the plain
# left-to-right and right-to-left marks that real right-to-left names need are kept), and the
# noncharacters, which XML either forbids (U+FFFE, U+FFFF) or discourages.
_UNSAFE = re.compile(f"[{_CONTROLS}{_BIDI}{_NONCHARACTERS}]")
_LINE_BREAK = re.compile("\r\n?|[\x0b\x0c\x85]")
# A lone surrogate (left by a decoder told to pass bad bytes through) cannot be stored or
# written as UTF-8; it stands for a character that was lost, so it becomes U+FFFD.
_SURROGATE = re.compile("[\ud800-\udfff]")
# The one scan run on every string first: nearly all text holds none of these. A class with
# characters beyond U+FFFF is checked a range at a time (about 37 ns a character), so text with
# none of them is scanned for the rest only, and ASCII text (most of it) for its controls only:
# the same verdict, several times faster on every string a reader sends back.
_SUSPECT = re.compile(f"[{_CONTROLS}{_BIDI}{_NONCHARACTERS}\ud800-\udfff]")
_SUSPECT_BMP = re.compile(f"[{_CONTROLS}{_BIDI}{_NONCHARACTERS_BMP}\ud800-\udfff]")
_SUSPECT_ASCII = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """`text` without control characters, lone surrogates, bidi overrides or noncharacters.

    Line breaks of every kind become "\\n"; tabs and newlines stay. Text with none of these
    comes back unchanged (the same object), so cleaning clean text costs one scan.
    """
    if _suspect(text).search(text) is None:
        return text
    text = _LINE_BREAK.sub("\n", text)
    text = _SURROGATE.sub("\ufffd", text)
    return _UNSAFE.sub("", text)


def _suspect(text: str) -> re.Pattern[str]:
    """The smallest pattern that finds every suspect character `text` can hold."""
    if text.isascii():
        return _SUSPECT_ASCII
    return _SUSPECT_BMP if max(text) <= "\uffff" else _SUSPECT


def clean_line(text: str) -> str:
    """`text` cleaned and on one line: every run of whitespace (line breaks too) one space."""
    return " ".join(clean_text(text).split())


def clean_values(value: Any) -> Any:
    """Every string inside `value` (nested lists, tuples and dicts, keys too) cleaned.

    Other values (numbers, dates, None) pass through untouched; containers are rebuilt only
    when something inside them changed.
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        # One loop, no generators: this runs on every value of every reader's answer.
        changed = False
        pairs = []
        for key, item in value.items():
            new_key, new_item = clean_values(key), clean_values(item)
            changed = changed or new_key is not key or new_item is not item
            pairs.append((new_key, new_item))
        return dict(pairs) if changed else value
    if isinstance(value, list | tuple):
        items = [clean_values(item) for item in value]
        if all(map(operator.is_, items, value)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value
