"""Builds the exact bytes of an outgoing email, with the headers that stop mail loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from pipeline.intake.loops import LOOP_HEADER
from pipeline.outbox.templates import Rendered


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Envelope:
    """Who an email is from and to, and which message it answers."""

    sender: str
    sender_name: str
    to: tuple[str, ...]
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # RFC 3834: 'auto-replied' answers an email; 'auto-generated' is sent of our own accord.
    auto_submitted: str = "auto-generated"
    attachments: tuple[FileAttachment, ...] = field(default_factory=tuple)


def _bracket(message_id: str) -> str:
    return f"<{message_id.strip('<>')}>"


def _thread_headers(message: EmailMessage, envelope: Envelope) -> None:
    if envelope.in_reply_to:
        message["In-Reply-To"] = _bracket(envelope.in_reply_to)
    chain = [*envelope.references]
    if envelope.in_reply_to and envelope.in_reply_to not in chain:
        chain.append(envelope.in_reply_to)
    if chain:
        # Long chains are trimmed to the first and the last few, as RFC 5322 suggests.
        kept = chain if len(chain) <= 10 else [chain[0], *chain[-9:]]
        message["References"] = " ".join(_bracket(m) for m in kept)


def compose(envelope: Envelope, rendered: Rendered, sent_at: datetime) -> bytes:
    """The email as bytes; identical input gives identical output, so a resend is the same email."""
    message = EmailMessage()
    message["From"] = formataddr((envelope.sender_name, envelope.sender))
    message["To"] = ", ".join(envelope.to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = _bracket(envelope.message_id)
    _thread_headers(message, envelope)
    message["Auto-Submitted"] = envelope.auto_submitted
    # Asks Exchange and Outlook not to send out-of-office or read receipts back to us.
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = envelope.sender
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for item in envelope.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data, maintype=maintype, subtype=subtype or "octet-stream", filename=item.filename
        )
    # SMTP needs CRLF line endings; smtplib sends bytes as they are.
    return message.as_bytes(policy=SMTP)


def recipients_text(addresses: Sequence[str]) -> str:
    return ", ".join(addresses)
