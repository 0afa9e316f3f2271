"""Builds the exact bytes of an outgoing email, with the headers that stop mail loops."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from pipeline.templates import Rendered

# Every email we send names our address here, so that intake knows its own mail when it comes back.
LOOP_HEADER = "X-MASP-Loop"

CRLF = compat32.clone(linesep="\r\n")
# For an email to an address beyond ASCII: its header goes out as raw UTF-8 (RFC 6532),
# which only a server offering SMTPUTF8 may carry; the sender checks that.
CRLF_UTF8 = CRLF.clone(cte_type="8bit")
# A Message-ID we copy into In-Reply-To or References. Real ones are well under 100
# characters; RFC 5322 allows any length, but a line may not pass 998, and a server refuses
# the whole email when one does. Longer or malformed ids are left out: threading by them
# is lost, the answer is not.
MAX_COPIED_ID = 250
# RFC 5322's recommended line length, which an address header is folded to keep.
MAX_LINE = 74
_MESSAGE_ID = re.compile(r"[!-;=?-~]+")  # printable ASCII without '<', '>' or spaces
# Quoted-printable keeps the text readable in the raw message (and in spam filters' eyes).
READABLE_UTF8 = Charset("utf-8")
READABLE_UTF8.body_encoding = QP


@dataclass(frozen=True)
class FileAttachment:
    """A file sent with an email. With `inline_id` it is a picture the HTML body shows where it
    says `<img src="cid:ID">` (RFC 2392): mail programs block remote pictures, not these."""

    filename: str
    content_type: str
    data: bytes
    inline_id: str | None = None


@dataclass(frozen=True)
class Envelope:
    """Who an email is from and to, and which message it answers."""

    sender: str
    sender_name: str
    to: tuple[str, ...]
    message_id: str
    cc: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # RFC 3834: 'auto-replied' answers an email; 'auto-generated' is sent of our own accord.
    auto_submitted: str = "auto-generated"
    attachments: tuple[FileAttachment, ...] = field(default_factory=tuple)


def _bracket(message_id: str) -> str:
    return f"<{message_id.strip('<>')}>"


def _copyable(message_id: str) -> bool:
    bare = message_id.strip().strip("<>")
    return 0 < len(bare) <= MAX_COPIED_ID and bool(_MESSAGE_ID.fullmatch(bare))


def _thread_headers(message: Message, envelope: Envelope) -> None:
    parent = envelope.in_reply_to
    if parent and not _copyable(parent):
        parent = None
    if parent:
        message["In-Reply-To"] = _bracket(parent)
    chain = [m for m in envelope.references if _copyable(m)]
    if parent and parent not in chain:
        chain.append(parent)
    if chain:
        # Long chains are trimmed to the first and the last few, as RFC 5322 suggests; the
        # ids are joined by spaces, so the header folds between them.
        kept = chain if len(chain) <= 10 else [chain[0], *chain[-9:]]
        message["References"] = " ".join(_bracket(m) for m in kept)


def _addresses(addresses: tuple[str, ...]) -> str:
    """An address header on one line, or one address a line when that would be long; UTF-8
    addresses as they are (RFC 6532).

    Surrogate escapes make compat32 write the UTF-8 bytes unchanged instead of wrapping them
    in an encoded word, which is not allowed inside an address.
    """
    escaped = [a.encode().decode("ascii", "surrogateescape") for a in addresses]
    joined = ", ".join(escaped)
    return joined if len(joined) <= MAX_LINE else ",\n ".join(escaped)


def _header(value: str) -> str:
    """A header value as RFC 2047 encoded words when it is not plain ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def _subject(value: str) -> str | Header:
    """The subject, folded after "Subject: " rather than before its first word.

    A value encoded in advance is folded again without knowing the header's name, so its first
    encoded word lands on a line of its own, and mail programs then show a leading space.
    """
    return value if value.isascii() else Header(value, "utf-8", header_name="Subject")


def _attachment(item: FileAttachment) -> MIMEBase:
    # A type may carry parameters: an invitation is "text/calendar; method=REQUEST" (RFC 6047).
    media, *parameters = (piece.strip() for piece in item.content_type.split(";"))
    maintype, _, subtype = media.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    for key, _, value in (piece.partition("=") for piece in parameters if "=" in piece):
        part.set_param(key.strip(), value.strip().strip('"'))
    part.set_payload(item.data)
    encoders.encode_base64(part)
    # RFC 2231 names keep accents readable in every mail program.
    name: str | tuple[str, str, str] = (
        item.filename if item.filename.isascii() else ("utf-8", "", item.filename)
    )
    if item.inline_id is None:
        part.add_header("Content-Disposition", "attachment", filename=name)
    else:
        part.add_header("Content-Disposition", "inline", filename=name)
        part["Content-ID"] = _bracket(item.inline_id)
    return part


def _body(rendered: Rendered, attachments: tuple[FileAttachment, ...]) -> Message:
    """multipart/alternative (text, HTML); inside multipart/related with the pictures the HTML
    shows (RFC 2387), if any; inside multipart/mixed with the attached files, if any."""
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(rendered.text, "plain", READABLE_UTF8))  # type: ignore[arg-type]
    alternative.attach(MIMEText(rendered.html, "html", READABLE_UTF8))  # type: ignore[arg-type]
    body: Message = alternative
    inline = [item for item in attachments if item.inline_id is not None]
    if inline:
        body = MIMEMultipart("related", type="multipart/alternative")
        body.attach(alternative)
        for item in inline:
            body.attach(_attachment(item))
    files = [item for item in attachments if item.inline_id is None]
    if not files:
        return body
    mixed = MIMEMultipart("mixed")
    mixed.attach(body)
    for item in files:
        mixed.attach(_attachment(item))
    return mixed


def compose(envelope: Envelope, rendered: Rendered, sent_at: datetime) -> bytes:
    """The email as bytes, made once and stored, so a resend is byte for byte the same email.

    Built with the compat32 classes, which are several times faster than EmailMessage and
    give the same bytes on the wire.
    """
    message = _body(rendered, envelope.attachments)
    message["From"] = formataddr((_header(envelope.sender_name), envelope.sender))
    message["To"] = _addresses(envelope.to)
    if envelope.cc:
        message["Cc"] = _addresses(envelope.cc)
    # compat32 takes a Header as a value (its documented API); the type stubs know only str.
    message["Subject"] = _subject(rendered.subject)  # type: ignore[assignment]
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = _bracket(envelope.message_id)
    _thread_headers(message, envelope)
    message["Auto-Submitted"] = envelope.auto_submitted
    # Asks Exchange and Outlook not to send out-of-office or read receipts back to us.
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = envelope.sender
    # SMTP needs CRLF line endings; smtplib sends bytes as they are.
    plain = all(address.isascii() for address in envelope.to)
    return message.as_bytes(policy=CRLF if plain else CRLF_UTF8)


def with_headers(raw: bytes, values: dict[str, str | None]) -> bytes:
    """`raw` with each named header's value replaced (added if absent; removed if None), every
    other byte the same: a re-sent or re-addressed email is the email that was rendered.

    Works on the bytes, never re-generating the message, so the body and attachments cannot
    change. Values are one header each; a list of addresses is folded as `compose` folds it.
    """
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines: list[bytes] = []
    for line in head.split(b"\r\n"):
        if lines and line[:1] in (b" ", b"\t"):
            lines[-1] += b"\r\n" + line
        else:
            lines.append(line)
    wanted = {name.lower(): name for name in values}
    kept = [
        line for line in lines if line.split(b":", 1)[0].decode("latin-1").lower() not in wanted
    ]
    for name in wanted.values():
        value = values[name]
        if value is not None:
            kept.append(f"{name}: {value}".replace("\n", "\r\n").encode())
    return b"\r\n".join(kept) + sep + body


def address_header(addresses: tuple[str, ...]) -> str:
    """A To or Cc header's value, as `compose` writes it."""
    return _addresses(addresses).encode("ascii", "surrogateescape").decode("utf-8")
