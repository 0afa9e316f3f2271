"""The names and types a sender gave attachments, made safe to store and show."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from email.message import Message

import filetype

from pipeline.mime.charsets import decode_bytes, decode_words
from pipeline.mime.headers import Fields

MAX_FILENAME_LENGTH = 150
_ABSOLUTE_PATH = re.compile(r"^(?:[A-Za-z]:)?[\\/]")
_PATH_SEPARATOR = re.compile(r"[\\/]")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,127}")


def sanitise_filename(name: str) -> str:
    """A sender's filename made safe to store and show: one name, printable, at most 150 characters.

    Returns "" when nothing usable is left, so the caller can invent a name.
    """
    if _ABSOLUTE_PATH.match(name):
        name = _PATH_SEPARATOR.split(name)[-1]
    # A relative path is more likely a date ("01/02/2025") than a directory, so keep its words.
    name = _PATH_SEPARATOR.sub("_", name)
    if not (name.isascii() and name.isprintable()):
        name = "".join(_visible(character) for character in name)
    name = " ".join(name.split()).strip(" .")
    return _shorten(name)


def raw_filename(part: Message, fields: Fields) -> str | None:
    """The filename as sent (Content-Disposition filename, else Content-Type name), decoded."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        raw = fields.raw(header)
        # A cheap test first: most parts (body text above all) carry no name at all.
        if param not in raw.lower():
            continue
        source = part if raw.isascii() else _holder(header, raw)
        value = source.get_param(param, None, header)
        if isinstance(value, tuple):
            # RFC 2231: (charset, language, percent-decoded text held as one character per byte).
            text = decode_bytes(_latin1_bytes(value[2]), value[0]).strip()
        else:
            text = decode_words(value).strip() if value else ""
        if text:
            return text
    return None


def _holder(header: str, value: str) -> Message:
    """A one-header message: compat32 reads 8-bit parameters as U+FFFD, so decode them first."""
    holder = Message()
    holder[header] = value
    return holder


def _latin1_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def type_from_name(name: str) -> str:
    """The media type a filename's extension suggests, or application/octet-stream."""
    return media_type(mimetypes.guess_type(name, strict=False)[0] or "")


def media_type(value: str) -> str:
    """A declared type as a clean "type/subtype", or application/octet-stream when it is not one."""
    value = value.strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


def extension_for(declared: str, data: bytes) -> str:
    """An extension for an unnamed attachment, from its declared type or else its bytes."""
    if declared != "application/octet-stream":
        known = mimetypes.guess_extension(declared, strict=False)
        if known:
            return known
    sniffed = filetype.guess(data[:8192]) if data else None
    return f".{sniffed.extension}" if sniffed is not None else ".bin"


def _visible(character: str) -> str:
    if character.isspace():
        return " "
    if character.isascii():
        return character if character.isprintable() else ""
    category = unicodedata.category(character)
    if category.startswith("C"):
        # Control, format (e.g. right-to-left overrides that disguise extensions) and unassigned.
        return ""
    return " " if category.startswith("Z") else character


def _shorten(name: str) -> str:
    if len(name) <= MAX_FILENAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 10:
        return stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
    return name[:MAX_FILENAME_LENGTH].rstrip()
