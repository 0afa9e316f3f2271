"""Reads one raw email into headers, body text and attachments, however the sender wrapped them."""

from __future__ import annotations

import binascii
import codecs
import email
import io
import itertools
import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, NamedTuple

import filetype

from pipeline.errors import IntakeError
from pipeline.mime.addresses import Mailbox, Unreadable, read_addresses, read_mailbox
from pipeline.text import clean_text

MAX_FILENAME_LENGTH = 150
# Signature logos are a few kilobytes; a pasted picture bigger than this may be a genogram.
SIGNATURE_IMAGE_MAX_BYTES = 20 * 1024
# Forwards of forwards (and Outlook messages inside them) deeper than this are kept unopened.
MAX_NESTING = 5
# Real mail nests multiparts a handful of levels deep; far deeper is hostile.
MAX_MIME_DEPTH = 40
# The headers of an email for a list of emails are read from this much of its start.
HEADLINE_BYTES = 256_000

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
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
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_GENOGRAM = re.compile(r"geno|family[ _-]?tree", re.IGNORECASE)
_ABSOLUTE_PATH = re.compile(r"^(?:[A-Za-z]:)?[\\/]")
_PATH_SEPARATOR = re.compile(r"[\\/]")
# RFC 2046 boundary characters, so a guessed boundary can be written back into a header safely.
_BOUNDARY_LINE = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?$", re.MULTILINE)
_TOKEN = re.compile(r"[a-z0-9.+-]{1,40}")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,127}")
_PLAIN_CODECS = frozenset({"utf-8", "cp1252"})
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Attachment:
    """One file the sender attached, wherever in the email it was found."""

    filename: str
    declared_type: str
    data: bytes
    origin: str


@dataclass(frozen=True)
class ParsedEmail:
    """What intake needs from one email; `headers` keeps the parsed message for loop detection."""

    message_id: str | None
    from_address: str
    from_name: str
    reply_to: str | None
    to: tuple[str, ...]
    subject: str
    date_header: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    body_text: str
    attachments: tuple[Attachment, ...]
    headers: Message
    problems: tuple[str, ...]
    # Why From or Reply-To does not name exactly one valid address (then nobody is answered).
    address_problem: str | None = None


def parse_email(raw: bytes, *, max_parts: int = 200) -> ParsedEmail:
    """Reads raw email bytes as well as they can be read.

    Raises IntakeError only when there is nothing to read (empty or blank bytes); every other
    oddity becomes a best-effort result, with what could not be read listed in `problems`.
    """
    if not raw or raw.isspace():
        raise IntakeError("the email is empty, so there is nothing to read")
    reader = _Reader(max_parts)
    msg, body = reader.read_top(raw)
    fields = _Fields(msg)
    sender = read_mailbox(fields.raw("from"))
    reply_raw = fields.raw("reply-to")
    reply_to = read_mailbox(reply_raw, "Reply-To") if reply_raw.strip() else None
    recipients = read_addresses(fields.raw("to"))
    return ParsedEmail(
        message_id=_first_message_id(fields.raw("message-id")),
        from_address=sender.address if isinstance(sender, Mailbox) else "",
        from_name=sender.name if isinstance(sender, Mailbox) else "",
        reply_to=reply_to.address if isinstance(reply_to, Mailbox) else None,
        to=tuple(m.address for m in recipients) if isinstance(recipients, list) else (),
        subject=fields.text("subject"),
        date_header=_date(fields.raw("date")),
        in_reply_to=_message_ids(fields.raw("in-reply-to")),
        references=_message_ids(fields.raw("references")),
        body_text=body,
        attachments=tuple(reader.attachments),
        headers=msg,
        problems=tuple(reader.problems),
        address_problem=next(
            (found.reason for found in (sender, reply_to) if isinstance(found, Unreadable)), None
        ),
    )


def header_values(msg: Message, name: str) -> list[str]:
    """Every `name` header of msg as text: undeclared 8-bit bytes and RFC 2047 words decoded."""
    wanted = name.lower()
    found = (value for key, value in msg.raw_items() if key.lower() == wanted)
    return [" ".join(decode_words(_unsurrogate(str(value))).split()) for value in found]


def header_text(msg: Message, name: str) -> str:
    """The first `name` header of msg as text, or "" when it is absent."""
    values = header_values(msg, name)
    return values[0] if values else ""


def headline(raw: bytes) -> tuple[str, str]:
    """Who an email says it is from and its subject, as text, reading only its headers.

    For lists of emails (the quarantine) that must show even an email that cannot be parsed.
    """
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:HEADLINE_BYTES])
    return header_text(headers, "from"), header_text(headers, "subject")


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


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body, with block elements on their own lines."""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except AssertionError:
        # html.parser asserts on some malformed declarations; strip tags crudely instead.
        return _tidy(re.sub(r"<[^>]*>", " ", markup))
    lines = (" ".join(line.split()) for line in "".join(extractor.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _Where(NamedTuple):
    """Where in the email a part sits: the container it came out of and how deep it is."""

    origin: str
    nesting: int
    depth: int


class _Reader:
    """Walks one email's tree within a part budget, collecting attachments and problems."""

    def __init__(self, max_parts: int) -> None:
        self.attachments: list[Attachment] = []
        self.problems: list[str] = []
        self._max_parts = max_parts
        self._spent = 0

    def note(self, problem: str) -> None:
        # Problems quote filenames as the sender wrote them.
        problem = clean_text(problem)
        if problem not in self.problems:
            self.problems.append(problem)

    def spend(self) -> bool:
        """Counts one part; False once the budget is used up, which hostile mail reaches."""
        self._spent += 1
        if self._spent <= self._max_parts:
            return True
        self.note(f"the email has more than {self._max_parts} parts; the rest were not opened")
        return False

    def read_top(self, raw: bytes) -> tuple[Message, str]:
        """Parses the raw bytes and reads the whole message; returns it with its body text."""
        # The stdlib parser checks every line against every enclosing boundary, so hostile nesting
        # costs lines x depth; an email with more multiparts than we would walk is not parsed.
        if raw.lower().count(b"boundary") > self._max_parts:
            return self._headers_only(raw, f"the email has more than {self._max_parts} parts")
        try:
            msg = email.message_from_bytes(raw, policy=compat32)
        except RecursionError:
            # The parser recurses once per nesting level; hostile nesting exhausts the stack.
            return self._headers_only(raw, "the email's parts are nested too deeply")
        return msg, self.read_message(msg, _Where("", 0, 0))

    def _headers_only(self, raw: bytes, why: str) -> tuple[Message, str]:
        self.note(f"{why}; only its headers were read")
        return BytesHeaderParser(policy=compat32).parsebytes(raw), ""

    def read_message(self, msg: Message, where: _Where) -> str:
        body: list[str] = []
        self._walk(msg, where, body)
        return clean_text("\n\n".join(text for text in body if text))

    def _walk(self, part: Message, where: _Where, body: list[str] | None) -> None:
        if not self.spend():
            return
        if where.depth > MAX_MIME_DEPTH:
            self.note("part of the email is nested too deeply to open")
            return
        ctype = part.get_content_type()
        maintype = ctype.partition("/")[0]
        if ctype in _FORWARD_TYPES:
            self._forwarded(part, where, body)
        elif maintype == "message":
            # Delivery reports, read receipts and partial messages carry no documents.
            return
        elif part.is_multipart():
            self._walk_children(part, where._replace(depth=where.depth + 1), body)
        elif maintype == "multipart":
            self._recover_multipart(part, where._replace(depth=where.depth + 1), body)
        else:
            self._leaf(part, ctype, where, body)

    def _walk_children(self, part: Message, where: _Where, body: list[str] | None) -> None:
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        # Of alternative versions of the body only one is read, or its text would appear twice.
        alternative = part.get_content_subtype() == "alternative"
        chosen = _preferred_alternative(children) if alternative else -1
        for index, child in enumerate(children):
            self._walk(child, where, body if chosen in (-1, index) else None)

    def _recover_multipart(self, part: Message, where: _Where, body: list[str] | None) -> None:
        """A multipart whose boundary parameter is missing: find the boundary its parts use."""
        data = _payload_bytes(part)
        match = _BOUNDARY_LINE.search(data)
        if match is None or data.count(b"--" + match.group(1)) < 2:
            self.note("part of the email had no separators between its parts; it was read as text")
            if body is not None:
                body.append(_tidy(decode_bytes(data, None)))
            return
        subtype = part.get_content_subtype()
        subtype = subtype if _TOKEN.fullmatch(subtype) else "mixed"
        header = (
            f'Content-Type: multipart/{subtype}; boundary="'.encode()
            + match.group(1)
            + b'"\r\n\r\n'
        )
        try:
            rebuilt = email.message_from_bytes(header + data, policy=compat32)
        except RecursionError:
            self.note("part of the email is nested too deeply to open")
            return
        self._walk(rebuilt, where, body)

    def _leaf(self, part: Message, ctype: str, where: _Where, body: list[str] | None) -> None:
        fields = _Fields(part)
        disposition = fields.raw("content-disposition").split(";", 1)[0].strip().lower()
        filename = _raw_filename(part, fields)
        if ctype in _BODY_TYPES and filename is None and disposition != "attachment":
            if body is not None:
                body.append(_part_text(part, ctype))
            return
        data = _payload_bytes(part)
        if _is_signature_image(
            ctype, bool(fields.raw("content-id")), disposition, filename, len(data)
        ):
            return
        if any(isinstance(defect, errors.InvalidBase64LengthDefect) for defect in part.defects):
            self.note(f'the attachment "{filename or ctype}" arrived damaged and may not open')
        origin = where.origin or ("inline" if disposition == "inline" else "")
        declared = _media_type(ctype if fields.raw("content-type") else "")
        self._attach(filename, declared, data, where._replace(origin=origin), body)

    def _attach(
        self,
        filename: str | None,
        declared: str,
        data: bytes,
        where: _Where,
        body: list[str] | None,
    ) -> None:
        """Adds one attachment, first opening the containers Outlook and forwards wrap files in."""
        name = sanitise_filename(filename or "")
        openers = {"tnef": self._open_tnef, "msg": self._open_msg, "eml": self._open_eml}
        opener = openers.get(_container_kind(name.lower(), declared))
        if opener is not None and where.nesting >= MAX_NESTING:
            self.note(
                f'"{name or declared}" is inside too many forwarded emails to open; kept as sent'
            )
        elif opener is not None and opener(data, where, body):
            return
        index = len(self.attachments) + 1
        name = name or f"attachment-{index}{_extension_for(declared, data)}"
        self.attachments.append(Attachment(name, declared, data, where.origin))

    def _forwarded(self, part: Message, where: _Where, body: list[str] | None) -> None:
        inner = _inner_message(part)
        if inner is None:
            self._leaf(part, part.get_content_type(), where, body)
        elif where.nesting >= MAX_NESTING:
            # Kept whole as an .eml file; _attach notes that it was too deep to open.
            name = _raw_filename(part, _Fields(part)) or "forwarded.eml"
            self._attach(name, "message/rfc822", _as_bytes(inner), where, body)
        else:
            self._read_embedded(inner, where, body)

    def _read_embedded(self, inner: Message, where: _Where, body: list[str] | None) -> None:
        text = self.read_message(inner, _Where("forwarded", where.nesting + 1, where.depth + 1))
        if body is not None:
            fields = _Fields(inner)
            labels = (("From", "from"), ("Date", "date"), ("Subject", "subject"))
            body.append(
                _banner("Forwarded message", ((label, fields.text(key)) for label, key in labels))
                + text
            )

    def _open_eml(self, data: bytes, where: _Where, body: list[str] | None) -> bool:
        """An email attached as a file (.eml) is read like a forward, if it really is an email."""
        try:
            inner = email.message_from_bytes(data, policy=compat32)
        except RecursionError:
            return False
        if not any(inner.get(name) for name in ("from", "subject", "date", "message-id")):
            return False
        self._read_embedded(inner, where, body)
        return True

    def _open_tnef(self, data: bytes, where: _Where, body: list[str] | None) -> bool:
        """Unpacks Outlook's winmail.dat; if that fails it stays an attachment, noted."""
        try:
            import tnefparse

            tnef = tnefparse.TNEF(data, do_checksum=False)
            found = [(_tnef_name(item), bytes(item.data)) for item in tnef.attachments]
            text = _text_of(tnef.body)
            empty = not found and not tnef.has_body()
        # tnefparse fails with assorted error types (struct, index, unicode, name) on damaged files.
        except Exception:
            empty = True
        # A winmail.dat that yields nothing at all is damaged (or not TNEF); keep it unchanged.
        if empty:
            self.note("an Outlook winmail.dat attachment could not be opened; it is kept as sent")
            return False
        inside = _Where("winmail.dat", where.nesting + 1, where.depth + 1)
        for name, content in found:
            if self.spend():
                self._attach(name, _type_from_name(name), content, inside, body)
        # Outlook repeats the body in winmail.dat; it is only needed when the email had no text.
        if body is not None and text and not body:
            body.append(text)
        return True

    def _open_msg(self, data: bytes, where: _Where, body: list[str] | None) -> bool:
        """Opens an attached Outlook .msg; if that fails it stays an attachment, noted."""
        mark = len(self.attachments)
        try:
            outlook = _open_outlook(data)
            try:
                self._read_outlook(outlook, _Where("msg", where.nesting + 1, where.depth + 1), body)
            finally:
                outlook.close()
        # extract-msg raises many unrelated error types on damaged files; all mean "could not open".
        except Exception:
            del self.attachments[mark:]
            self.note("an attached Outlook message (.msg) could not be opened; it is kept as sent")
            return False
        return True

    def _read_outlook(self, outlook: Any, where: _Where, body: list[str] | None) -> None:
        text = _outlook_text(outlook)
        for item in list(outlook.attachments):
            if not self.spend():
                break
            self._outlook_attachment(item, where, body)
        if body is not None:
            pairs = (("From", str(outlook.sender or "")), ("Subject", str(outlook.subject or "")))
            body.append(_banner("Attached Outlook message", pairs) + text)

    def _outlook_attachment(self, item: Any, where: _Where, body: list[str] | None) -> None:
        content = item.data
        name = str(item.longFilename or item.shortFilename or item.displayName or "")
        if isinstance(content, bytes):
            declared = _media_type(str(item.mimetype or _type_from_name(name)))
            if _is_signature_image(declared, bool(item.cid), "inline", name or None, len(content)):
                return
            self._attach(name, declared, content, where, body)
        elif hasattr(content, "attachments") and where.nesting < MAX_NESTING:
            # An Outlook message attached inside the Outlook message.
            self._read_outlook(content, where._replace(nesting=where.nesting + 1), body)
        else:
            self.note(
                f'an attachment inside an Outlook message ("{name or "unnamed"}") could not be read'
            )


class _Fields:
    """The first value of each header of one message, collected in one pass."""

    def __init__(self, msg: Message) -> None:
        self._values: dict[str, str] = {}
        for key, value in msg.raw_items():
            self._values.setdefault(key.lower(), str(value))

    def raw(self, name: str) -> str:
        return _unsurrogate(self._values.get(name, ""))

    def text(self, name: str) -> str:
        return " ".join(decode_words(self.raw(name)).split())


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


def _unsurrogate(value: str) -> str:
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


def _message_ids(raw: str) -> tuple[str, ...]:
    found = _MESSAGE_ID.findall(raw)
    if not found:
        # Some mail programs leave the angle brackets off.
        found = [token.strip("<>") for token in raw.split() if "@" in token]
    return tuple(dict.fromkeys(found))


def _first_message_id(raw: str) -> str | None:
    ids = _message_ids(raw)
    if ids:
        return ids[0]
    tokens = raw.strip().strip("<>").split()
    return tokens[0] if tokens else None


def _date(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" means "zone unknown"; UTC is the honest reading of it.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _raw_filename(part: Message, fields: _Fields) -> str | None:
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


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message, ctype: str) -> str:
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    return html_to_text(text) if ctype == "text/html" else _tidy(text)


def _tidy(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _text_of(value: object) -> str:
    if isinstance(value, bytes):
        return _tidy(decode_bytes(value.rstrip(b"\0"), "cp1252"))
    return _tidy(value.rstrip("\0")) if isinstance(value, str) else ""


def _preferred_alternative(children: list[Message]) -> int:
    """The plain-text version if it has text, else the last (richest) version, per RFC 2046."""
    for index, child in enumerate(children):
        if child.get_content_type() == "text/plain":
            payload = child.get_payload()
            if isinstance(payload, str) and payload.strip():
                return index
    return len(children) - 1


def _is_signature_image(
    ctype: str, has_content_id: bool, disposition: str, filename: str | None, size: int
) -> bool:
    """Logos in HTML signatures are small inline Content-ID images, not referral documents.

    A big inline picture, or one named like a genogram, is kept: referrers paste genograms inline.
    """
    if not ctype.startswith("image/") or not has_content_id or disposition == "attachment":
        return False
    named_like_genogram = filename is not None and _GENOGRAM.search(filename) is not None
    return size <= SIGNATURE_IMAGE_MAX_BYTES and not named_like_genogram


def _container_kind(name: str, declared: str) -> str:
    if declared in _TNEF_TYPES or name == "winmail.dat":
        return "tnef"
    if declared == "application/vnd.ms-outlook" or name.endswith(".msg"):
        return "msg"
    if declared in _FORWARD_TYPES or name.endswith(".eml"):
        return "eml"
    return ""


def _inner_message(part: Message) -> Message | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    # RFC 2046 forbids encoding a forwarded message; some programs do, hiding its headers.
    if encoding in ("base64", "quoted-printable") and not inner.keys():
        raw = _payload_bytes(inner)
        try:
            decoded = binascii.a2b_base64(raw) if encoding == "base64" else binascii.a2b_qp(raw)
            return email.message_from_bytes(decoded, policy=compat32)
        except (ValueError, RecursionError):
            return inner
    return inner


def _as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except (ValueError, LookupError, TypeError):
        return b""


def _banner(title: str, pairs: Iterable[tuple[str, str]]) -> str:
    lines = [f"---------- {title} ----------"]
    lines += [f"{label}: {value}" for label, value in pairs if value]
    return "\n".join(lines) + "\n\n"


def _open_outlook(data: bytes) -> Any:
    # Imported here: extract-msg takes a noticeable time to import and most mail never needs it.
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    # Never hand extract-msg (olefile) raw bytes: bytes that do not look like an OLE file are
    # taken as a path, so an attachment could name a file on this server and have it read.
    if not data.startswith(_OLE_MAGIC):
        raise ValueError("not an OLE compound file")
    return extract_msg.openMsg(io.BytesIO(data), errorBehavior=ErrorBehavior.ATTACH_SUPPRESS_ALL)


def _outlook_text(outlook: Any) -> str:
    try:
        text = outlook.body
        markup = None if text else outlook.htmlBody
    # Bodies held only as RTF go through extract-msg's RTF decoders, which fail in many ways; the
    # attachments matter more than the text, so a body that cannot be read is left out.
    except Exception:
        return ""
    if isinstance(markup, bytes):
        return html_to_text(decode_bytes(markup, "utf-8"))
    return _text_of(text)


def _tnef_name(item: Any) -> str:
    try:
        name = item.long_filename()
    except UnicodeDecodeError:
        # tnefparse decodes short names as UTF-8, but Outlook writes them in the Windows code page.
        name = getattr(item, "_name", b"")
    return decode_bytes(name.rstrip(b"\0"), "cp1252") if isinstance(name, bytes) else str(name)


def _type_from_name(name: str) -> str:
    return _media_type(mimetypes.guess_type(name, strict=False)[0] or "")


def _media_type(value: str) -> str:
    """A declared type as a clean "type/subtype", or application/octet-stream when it is not one."""
    value = value.strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


def _extension_for(declared: str, data: bytes) -> str:
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
