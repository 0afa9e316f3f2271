"""Email addresses read strictly: a header gives exactly the mailboxes it names, or a reason.

Every address the service answers, counts or sends to passes through here. The header is
unfolded and parsed with the email package's modern parser (RFC 5322, with RFC 6532 UTF-8),
which keeps an encoded display name whole, so a comma, colon or angle bracket inside a name
can never become an address. What the parser accepts is then held to a stricter rule of our
own: a plain dot-atom local part and a host name with a dot. Everything else is legal on
paper but read differently by different software, and that difference is how a quoted
local part such as `"jo,evil@evil.example.com"@school.example.org` turned into a second
recipient, and how a bare `jo` was completed by a mail server with its own domain.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import AddressHeader
from typing import Any

from pipeline.text import clean_text

# RFC 5322 atext: what a local part may hold without quotes.
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
# RFC 5321 section 4.5.3.1: 64 octets for a local part, 254 for a whole path address.
MAX_LOCAL, MAX_ADDRESS = 64, 254


@dataclass(frozen=True)
class Mailbox:
    """One person's address as read from a header: `address` is lower case and NFC."""

    name: str
    address: str


@dataclass(frozen=True)
class Unreadable:
    """A header that does not name exactly the one valid address it should; `reason` says why."""

    reason: str


def read_mailbox(raw: str, header: str = "From") -> Mailbox | Unreadable:
    """The one mailbox a From or Reply-To header names, or why it does not name exactly one."""
    found = read_addresses(raw)
    if isinstance(found, Unreadable):
        return Unreadable(f"the {header} address {found.reason}")
    if len(found) != 1:
        what = "no address" if not found else f"{len(found)} addresses"
        return Unreadable(f"the {header} header holds {what}, where one is expected")
    return found[0]


def read_addresses(raw: str) -> list[Mailbox] | Unreadable:
    """Every mailbox an address header names (groups flattened), or why it cannot be trusted."""
    unfolded = _FOLD.sub("", raw).strip()
    if not unfolded:
        return []
    if "\r" in unfolded or "\n" in unfolded:
        return Unreadable("holds a line break that is not a fold")
    try:
        parsed = AddressHeader.value_parser(unfolded)
    except Exception:
        # The parser raises IndexError and friends on some malformed input, not only
        # HeaderParseError: any failure means the header cannot be read.
        return Unreadable("cannot be read as an email address")
    if parsed.defects:
        # Text left over after an address, or an empty entry: part of the header was not
        # understood, so what was understood cannot be trusted either.
        return Unreadable("has text that is not part of any address")
    mailboxes = []
    for token in parsed.all_mailboxes:
        mailbox = _mailbox(token)
        if isinstance(mailbox, Unreadable):
            return mailbox
        mailboxes.append(mailbox)
    return mailboxes


def normalise(address: str) -> str | None:
    """`address` as we store and compare it (NFC, lower case), or None if it is not valid."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return None
    return _checked(local, domain)


def _mailbox(token: Any) -> Mailbox | Unreadable:
    address_part = next(_address_tokens(token), None)
    # A defect in the display name (Outlook puts encoded words inside quotes) only spoils
    # the name; a defect in the address itself (a missing '>', a route) spoils everything.
    serious = [
        d
        for d in (address_part.all_defects if address_part is not None else [None])
        if not isinstance(d, NonASCIILocalPartDefect)
    ]
    address = _checked(token.local_part or "", token.domain or "")
    if serious or address is None:
        return Unreadable("is not one plain email address (name@organisation.domain)")
    return Mailbox(_name(token.display_name or ""), address)


def _address_tokens(token: Any) -> Iterator[Any]:
    """The angle-addr or addr-spec inside a mailbox token, never looking into the name."""
    for child in token:
        kind = getattr(child, "token_type", "")
        if kind in ("angle-addr", "addr-spec"):
            yield child
        elif kind != "display-name" and isinstance(child, list):
            yield from _address_tokens(child)


def _checked(local: str, domain: str) -> str | None:
    local = unicodedata.normalize("NFC", local).lower()
    domain = unicodedata.normalize("NFC", domain).lower().rstrip(".")
    address = f"{local}@{domain}"
    if len(local.encode()) > MAX_LOCAL or len(address.encode()) > MAX_ADDRESS:
        return None
    if not _dot_atom(local) or not _host_name(domain):
        return None
    return address


def _dot_atom(local: str) -> bool:
    return all(atom and all(_allowed(c) for c in atom) for atom in local.split("."))


def _host_name(domain: str) -> bool:
    # A name of one label ('jo@school') is refused: mail servers complete it with their own
    # domain. So is an address literal ('[192.0.2.1]'): no referrer writes from one.
    labels = domain.split(".")
    return len(labels) >= 2 and all(_label(label) for label in labels)


def _label(label: str) -> bool:
    if label.isascii():
        return bool(_LABEL.fullmatch(label))
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c == "-" or _allowed(c) for c in label)
    )


def _allowed(character: str) -> bool:
    """atext, or (RFC 6531) a letter, mark or digit beyond ASCII.

    Spaces, controls and invisible format characters (a right-to-left mark) are refused:
    they make two different addresses look the same to the person reading them.
    """
    if character.isascii():
        return character in _ATEXT
    return unicodedata.category(character)[0] in "LMN"


def _name(display_name: str) -> str:
    # Bytes in an unknown charset come back as surrogates, which cannot be stored.
    text = display_name.encode("utf-8", "replace").decode("utf-8")
    return " ".join(clean_text(text).split())


DAEMON_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|bounces?)(?:[-+.=].*)?$")
NOREPLY_SENDER = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[-+.=_].*)?$")


def is_machine_address(address: str) -> bool:
    """True for a mail-system or no-reply address: nobody reads what is sent there (R8)."""
    local = address.strip().lower().partition("@")[0]
    return bool(DAEMON_SENDER.match(local) or NOREPLY_SENDER.match(local))
