"""Bytes to text in the charset a sender declared, guessing when the label is missing or wrong."""

from __future__ import annotations

import binascii
import codecs
import itertools
import re

from pipeline.text import clean_text

# Labels that say nothing about the bytes (or are routinely wrong): guess instead of trusting them.
_UNKNOWN_CHARSETS = frozenset(
    {"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", "8bit", "binary"}
)
# Mail programs label Windows-1252 text as Latin-1 or ASCII; browsers read those labels so too.
_CODEC_ALIASES = {"iso8859-1": "cp1252", "ascii": "", "gb2312": "gb18030"}
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_PLAIN_CODECS = frozenset({"utf-8", "cp1252"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes to text in the declared charset, guessing when the label is missing or wrong."""
    codec = _codec_name(charset)
    text = _try_decode(data, codec, "strict") if codec else None
    # Windows-1252 sent as UTF-8 is the commonest mislabelling, so UTF-8 failures are guessed.
    if text is None and codec and codec != "utf-8":
        text = _try_decode(data, codec, "replace")
    if text is None:
        return _guess_decode(data)
    # Exotic labels (utf-7, unicode_escape) can yield lone surrogates, which cannot be stored.
    return text if codec in _PLAIN_CODECS else _SURROGATE.sub("\ufffd", text)


def decode_words(text: str) -> str:
    """Decodes RFC 2047 encoded words anywhere in text, even inside quotes as Outlook writes.

    Every header's text passes through here, so the result is cleaned of control characters
    and bidi overrides, whether they came raw or inside an encoded word.
    """
    if "=?" not in text:
        return clean_text(text)
    pieces: list[str] = []
    run: list[tuple[str, bytes]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        position = match.end()
        # Whitespace between two encoded words is folding, not content (RFC 2047 section 6.2).
        if gap and not (run and gap.isspace()):
            pieces += [_decode_run(run), gap]
            run = []
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            pieces += [_decode_run(run), match.group(0)]
            run = []
        else:
            run.append((match.group(1), data))
    pieces += [_decode_run(run), text[position:]]
    return clean_text("".join(pieces))


def _codec_name(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when the label should not be trusted."""
    if not charset:
        return None
    # RFC 2231 allows a language after the charset ("utf-8*en").
    label = charset.strip().strip("\"'").split("*", 1)[0].lower()
    if not label or label in _UNKNOWN_CHARSETS:
        return None
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return _CODEC_ALIASES.get(name, name) or None


def _try_decode(data: bytes, codec: str, errors: str) -> str | None:
    try:
        return data.decode(codec, errors)
    except (UnicodeError, LookupError, ValueError):
        return None


def _guess_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly-UTF-8 text with a stray bad byte stays UTF-8; anything else is nearly always cp1252.
    if _UTF8_SEQUENCE.search(data):
        return data.decode("utf-8", "replace")
    return data.decode("cp1252", "replace")


def unsurrogate(value: str) -> str:
    """compat32 keeps undeclared 8-bit header bytes as surrogates; decode them as meant."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _guess_decode(value.encode("utf-8", "surrogateescape"))
    return value


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "Qq":
            return binascii.a2b_qp(payload.encode("ascii"), header=True)
        return binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
    except (ValueError, UnicodeError):
        return None


def _decode_run(run: list[tuple[str, bytes]]) -> str:
    """Joins adjacent words of one charset first: senders split characters across words."""
    groups = itertools.groupby(run, key=lambda word: word[0].lower())
    return "".join(
        decode_bytes(b"".join(data for _, data in words), charset) for charset, words in groups
    )
