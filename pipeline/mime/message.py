"""Reads one raw email into headers, body text and attachments, however the sender wrapped them."""

from __future__ import annotations

import binascii
import email
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email import errors
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, NamedTuple

from pipeline.errors import IntakeError
from pipeline.mime.addresses import Mailbox, Unreadable, read_addresses, read_mailbox
from pipeline.mime.bodytext import html_to_text, tidy
from pipeline.mime.charsets import decode_bytes
from pipeline.mime.containers import (
    FORWARD_TYPES,
    OutlookUnsupported,
    container_kind,
    open_outlook,
    outlook_text,
    unpack_tnef,
)
from pipeline.mime.filenames import (
    extension_for,
    media_type,
    raw_filename,
    sanitise_filename,
    type_from_name,
)
from pipeline.mime.headers import (
    Fields,
    first_message_id,
    header_date,
    header_values,
    message_ids,
)
from pipeline.text import clean_text

# Signature logos are a few kilobytes; a pasted picture bigger than this may be a genogram.
SIGNATURE_IMAGE_MAX_BYTES = 20 * 1024
# Forwards of forwards (and Outlook messages inside them) deeper than this are kept unopened.
MAX_NESTING = 5
# Real mail nests multiparts a handful of levels deep; far deeper is hostile.
MAX_MIME_DEPTH = 40

_BODY_TYPES = frozenset({"text/plain", "text/html"})
_GENOGRAM = re.compile(r"geno|family[ _-]?tree", re.IGNORECASE)
# RFC 2046 boundary characters, so a guessed boundary can be written back into a header safely.
_BOUNDARY_LINE = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?$", re.MULTILINE)
_TOKEN = re.compile(r"[a-z0-9.+-]{1,40}")


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
    # Every address the email was delivered or written to, as `addressed_to` orders them.
    addressed: tuple[str, ...] = ()


def parse_email(raw: bytes, *, max_parts: int = 200) -> ParsedEmail:
    """Reads raw email bytes as well as they can be read.

    Raises IntakeError only when there is nothing to read (empty or blank bytes); every other
    oddity becomes a best-effort result, with what could not be read listed in `problems`.
    """
    if not raw or raw.isspace():
        raise IntakeError("the email is empty, so there is nothing to read")
    reader = _Reader(max_parts)
    msg, body = reader.read_top(raw)
    fields = Fields(msg)
    sender = read_mailbox(fields.raw("from"))
    reply_raw = fields.raw("reply-to")
    reply_to = read_mailbox(reply_raw, "Reply-To") if reply_raw.strip() else None
    recipients = read_addresses(fields.raw("to"))
    return ParsedEmail(
        message_id=first_message_id(fields.raw("message-id")),
        from_address=sender.address if isinstance(sender, Mailbox) else "",
        from_name=sender.name if isinstance(sender, Mailbox) else "",
        reply_to=reply_to.address if isinstance(reply_to, Mailbox) else None,
        to=tuple(m.address for m in recipients) if isinstance(recipients, list) else (),
        subject=fields.text("subject"),
        date_header=header_date(fields.raw("date")),
        in_reply_to=message_ids(fields.raw("in-reply-to")),
        references=message_ids(fields.raw("references")),
        body_text=body,
        attachments=tuple(reader.attachments),
        headers=msg,
        problems=tuple(reader.problems),
        address_problem=next(
            (found.reason for found in (sender, reply_to) if isinstance(found, Unreadable)), None
        ),
        addressed=addressed_to(msg),
    )


# Where an email was addressed, most telling first: the envelope recipient as the receiving
# server recorded it (an alias before expansion, then the mailbox it was delivered to), then
# what the sender wrote. A Bcc to an alias shows only in the first kind.
ADDRESSED_HEADERS = ("x-original-to", "delivered-to", "x-envelope-to", "envelope-to", "to", "cc")


def addressed_to(msg: Message) -> tuple[str, ...]:
    """Every address in the email's envelope and address headers, lower case, each once, in
    the order of ADDRESSED_HEADERS (and of the headers' own order within each)."""
    found: dict[str, None] = {}
    for name in ADDRESSED_HEADERS:
        for value in header_values(msg, name):
            mailboxes = read_addresses(value)
            if isinstance(mailboxes, list):
                found.update(dict.fromkeys(m.address.lower() for m in mailboxes))
    return tuple(found)


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
        if ctype in FORWARD_TYPES:
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
                body.append(tidy(decode_bytes(data, None)))
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
        fields = Fields(part)
        disposition = fields.raw("content-disposition").split(";", 1)[0].strip().lower()
        filename = raw_filename(part, fields)
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
        declared = media_type(ctype if fields.raw("content-type") else "")
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
        opener = openers.get(container_kind(name.lower(), declared))
        if opener is not None and where.nesting >= MAX_NESTING:
            self.note(
                f'"{name or declared}" is inside too many forwarded emails to open; kept as sent'
            )
        elif opener is not None and opener(data, where, body):
            return
        index = len(self.attachments) + 1
        name = name or f"attachment-{index}{extension_for(declared, data)}"
        self.attachments.append(Attachment(name, declared, data, where.origin))

    def _forwarded(self, part: Message, where: _Where, body: list[str] | None) -> None:
        inner = _inner_message(part)
        if inner is None:
            self._leaf(part, part.get_content_type(), where, body)
        elif where.nesting >= MAX_NESTING:
            # Kept whole as an .eml file; _attach notes that it was too deep to open.
            name = raw_filename(part, Fields(part)) or "forwarded.eml"
            self._attach(name, "message/rfc822", _as_bytes(inner), where, body)
        else:
            self._read_embedded(inner, where, body)

    def _read_embedded(self, inner: Message, where: _Where, body: list[str] | None) -> None:
        text = self.read_message(inner, _Where("forwarded", where.nesting + 1, where.depth + 1))
        if body is not None:
            fields = Fields(inner)
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
        unpacked = unpack_tnef(data)
        if unpacked is None:
            self.note("an Outlook winmail.dat attachment could not be opened; it is kept as sent")
            return False
        found, text = unpacked
        inside = _Where("winmail.dat", where.nesting + 1, where.depth + 1)
        for name, content in found:
            if self.spend():
                self._attach(name, type_from_name(name), content, inside, body)
        # Outlook repeats the body in winmail.dat; it is only needed when the email had no text.
        if body is not None and text and not body:
            body.append(text)
        return True

    def _open_msg(self, data: bytes, where: _Where, body: list[str] | None) -> bool:
        """Opens an attached Outlook .msg; if that fails it stays an attachment, noted."""
        mark = len(self.attachments)
        try:
            outlook = open_outlook(data)
            try:
                self._read_outlook(outlook, _Where("msg", where.nesting + 1, where.depth + 1), body)
            finally:
                outlook.close()
        except OutlookUnsupported:
            # Kept as sent: reading its documents refuses it, saying why, to its sender.
            return False
        # extract-msg raises many unrelated error types on damaged files; all mean "could not open".
        except Exception:
            del self.attachments[mark:]
            self.note("an attached Outlook message (.msg) could not be opened; it is kept as sent")
            return False
        return True

    def _read_outlook(self, outlook: Any, where: _Where, body: list[str] | None) -> None:
        text = outlook_text(outlook)
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
            declared = media_type(str(item.mimetype or type_from_name(name)))
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


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message, ctype: str) -> str:
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    return html_to_text(text) if ctype == "text/html" else tidy(text)


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
