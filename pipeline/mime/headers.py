"""What an email's headers say, as text: any header's values, message ids and the date sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from pipeline.mime.charsets import decode_words, unsurrogate

# The headers of an email for a list of emails are read from this much of its start.
HEADLINE_BYTES = 256_000
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def header_values(msg: Message, name: str) -> list[str]:
    """Every `name` header of msg as text: undeclared 8-bit bytes and RFC 2047 words decoded."""
    wanted = name.lower()
    found = (value for key, value in msg.raw_items() if key.lower() == wanted)
    return [" ".join(decode_words(unsurrogate(str(value))).split()) for value in found]


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


class Fields:
    """The first value of each header of one message, collected in one pass."""

    def __init__(self, msg: Message) -> None:
        self._values: dict[str, str] = {}
        for key, value in msg.raw_items():
            self._values.setdefault(key.lower(), str(value))

    def raw(self, name: str) -> str:
        return unsurrogate(self._values.get(name, ""))

    def text(self, name: str) -> str:
        return " ".join(decode_words(self.raw(name)).split())


def message_ids(raw: str) -> tuple[str, ...]:
    """The message ids in a Message-ID, In-Reply-To or References header, each once."""
    found = _MESSAGE_ID.findall(raw)
    if not found:
        # Some mail programs leave the angle brackets off.
        found = [token.strip("<>") for token in raw.split() if "@" in token]
    return tuple(dict.fromkeys(found))


def first_message_id(raw: str) -> str | None:
    """An email's own id from its Message-ID header, however it was written."""
    ids = message_ids(raw)
    if ids:
        return ids[0]
    tokens = raw.strip().strip("<>").split()
    return tokens[0] if tokens else None


def header_date(raw: str) -> datetime | None:
    """A Date header as an aware time, or None when it is missing or cannot be read."""
    if not raw.strip():
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" means "zone unknown"; UTC is the honest reading of it.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
