"""Recognises automatic mail (bounces, auto-replies, lists) so it is never answered nor looped."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from pipeline.mime.addresses import DAEMON_SENDER, NOREPLY_SENDER, is_machine_address
from pipeline.mime.headers import header_text, header_values
from pipeline.outbox.compose import LOOP_HEADER
from pipeline.states import MessageCategory


@dataclass(frozen=True)
class Automatic:
    """Why an email is not answered: `category` is BOUNCE or AUTO_REPLY (a machine sent it), or
    BAD_ADDRESS, OWN_ADDRESS or MACHINE_REPLY_TO (see `detect_unanswerable`)."""

    category: MessageCategory
    reason: str


# Vendor headers that only auto-responders set; older than RFC 3834 and still common.
_AUTORESPONDER_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
    "X-FC-MachineGenerated",
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
# Gateways often tag external mail ("[EXTERNAL] Automatic reply: ...") before the subject.
_TAGS = r"^\s*(?:[\[(*][^\])*]{0,40}[\])*]\s*)*"
# Subjects that out-of-office programs write (Outlook, Exchange, webmail) in common languages.
_AUTO_SUBJECT = re.compile(
    _TAGS + r"(?:automatic reply|auto[- ]?reply|auto[- ]?response|out of (?:the )?office"
    r"(?: auto ?reply)?|abwesend|abwesenheitsnotiz|réponse automatique|respuesta automática"
    r"|risposta automatica|automatisch antwoord)\s*(?::|$)",
    re.IGNORECASE,
)
_AUTO_PHRASE = re.compile(
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|annual leave"
    r"|away from (?:the|my) office",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(_TAGS + r"(?:re|fw|fwd|aw|wg|tr|sv|vs|antw)\s*:", re.IGNORECASE)
_SUPPRESS_AUTO = frozenset({"all", "oof", "autoreply"})
# Bounded so a message with thousands of parts cannot make detection slow.
_MAX_PARTS_EXAMINED = 50


def detect_automatic(msg: Message, from_address: str) -> Automatic | None:
    """The first sign that msg was sent by a machine rather than a person, strongest first."""
    sender = from_address.strip().lower()
    for check in _CHECKS:
        found = check(msg, sender)
        if found is not None:
            return found
    return None


def is_our_own(msg: Message, our_address: str) -> bool:
    """True for mail we sent: it carries our loop header naming our address.

    With an empty `our_address` any loop header counts, for callers that do not know the address.
    """
    wanted = our_address.strip().lower()
    for value in header_values(msg, LOOP_HEADER):
        found = [address.lower() for _, address in getaddresses([value]) if address]
        if found and (not wanted or wanted in found):
            return True
    return False


def detect_unanswerable(
    from_address: str, reply_to: str | None, address_problem: str | None, our_address: str
) -> Automatic | None:
    """Mail a person may have sent but that must not be answered, nor open a case: the
    address an answer would go to is unreadable, our own, or a machine's (a Reply-To of
    MAILER-DAEMON or no-reply). Answering it would write to ourselves, feed a mail loop, or
    send a child's details to an address nobody reads."""
    if address_problem is not None:
        return Automatic(MessageCategory.BAD_ADDRESS, address_problem)
    ours = our_address.strip().lower()
    if ours and ours in (from_address, reply_to):
        header = "From" if from_address == ours else "Reply-To"
        return Automatic(
            MessageCategory.OWN_ADDRESS, f"the {header} address is the panel inbox's own"
        )
    if reply_to is not None and is_machine_address(reply_to):
        return Automatic(
            MessageCategory.MACHINE_REPLY_TO, f"answers would go to a machine ({reply_to})"
        )
    return None


def _report(msg: Message, sender: str) -> Automatic | None:
    """RFC 3462/6522 reports: delivery-status ones are bounces, others (read receipts) automatic."""
    if msg.get_content_type() == "multipart/report":
        kind = str(msg.get_param("report-type") or "").lower()
        category = (
            MessageCategory.BOUNCE if kind == "delivery-status" else MessageCategory.AUTO_REPLY
        )
        return Automatic(category, f"a multipart/report ({kind or 'no report-type'})")
    if _has_part(msg, "message/delivery-status"):
        return Automatic(MessageCategory.BOUNCE, "contains a message/delivery-status part")
    return None


def _daemon_sender(msg: Message, sender: str) -> Automatic | None:
    if DAEMON_SENDER.match(sender.partition("@")[0]):
        return Automatic(MessageCategory.BOUNCE, f"sent by the mail system ({sender})")
    return None


def _auto_submitted(msg: Message, sender: str) -> Automatic | None:
    value = header_text(msg, "Auto-Submitted")
    if value and value.split(";")[0].strip().lower() != "no":
        return Automatic(MessageCategory.AUTO_REPLY, f"Auto-Submitted: {value}")
    return None


def _autoresponder_header(msg: Message, sender: str) -> Automatic | None:
    for name in _AUTORESPONDER_HEADERS:
        value = header_text(msg, name)
        if value and value.lower() not in ("no", "false", "0"):
            return Automatic(MessageCategory.AUTO_REPLY, f"{name}: {value[:40]}")
    return None


def _precedence(msg: Message, sender: str) -> Automatic | None:
    value = header_text(msg, "Precedence").lower()
    if value in _BULK_PRECEDENCE:
        return Automatic(MessageCategory.AUTO_REPLY, f"Precedence: {value}")
    return None


def _mailing_list(msg: Message, sender: str) -> Automatic | None:
    for name in ("List-Id", "List-Unsubscribe"):
        if header_text(msg, name):
            return Automatic(MessageCategory.AUTO_REPLY, f"sent through a mailing list ({name})")
    return None


def _noreply_sender(msg: Message, sender: str) -> Automatic | None:
    if NOREPLY_SENDER.match(sender.partition("@")[0]):
        return Automatic(MessageCategory.AUTO_REPLY, f"sent from a no-reply address ({sender})")
    return None


def _null_return_path(msg: Message, sender: str) -> Automatic | None:
    # Mail servers send bounces with an empty envelope sender, recorded as "Return-Path: <>".
    values = header_values(msg, "Return-Path")
    if values and values[0].strip() in ("", "<>"):
        return Automatic(MessageCategory.BOUNCE, "Return-Path is empty (<>)")
    return None


def _auto_reply_subject(msg: Message, sender: str) -> Automatic | None:
    """The last resort, for out-of-office programs that set none of the headers above.

    X-Auto-Response-Suppress alone is not enough: Outlook and Exchange also put it on ordinary
    mail (messages to distribution lists, mail passed through transport rules), and filters that
    trusted it have dropped real replies. It only counts with a subject that reads like an
    out-of-office but lacks the exact prefix; a person's reply ("RE: ...") never counts.
    """
    subject = header_text(msg, "Subject")
    if _AUTO_SUBJECT.match(subject):
        # The subject itself is left out of the reason: it may name a child, and reasons are kept.
        return Automatic(MessageCategory.AUTO_REPLY, "an out-of-office subject line")
    suppress = {
        value.strip().lower() for value in header_text(msg, "X-Auto-Response-Suppress").split(",")
    }
    if (
        suppress & _SUPPRESS_AUTO
        and _AUTO_PHRASE.search(subject)
        and not _REPLY_PREFIX.match(subject)
    ):
        return Automatic(
            MessageCategory.AUTO_REPLY, "X-Auto-Response-Suppress with an out-of-office subject"
        )
    return None


def _has_part(msg: Message, ctype: str) -> bool:
    for count, part in enumerate(msg.walk()):
        if count >= _MAX_PARTS_EXAMINED:
            return False
        if part.get_content_type() == ctype:
            return True
    return False


# Deciding happens in this order: bounces first, then explicit headers, then weaker evidence.
_CHECKS: tuple[Callable[[Message, str], Automatic | None], ...] = (
    _report,
    _daemon_sender,
    _auto_submitted,
    _autoresponder_header,
    _precedence,
    _mailing_list,
    _noreply_sender,
    _null_return_path,
    _auto_reply_subject,
)
