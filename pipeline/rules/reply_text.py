"""Reading what a person typed at the top of a reply: a screening decision or an attendance answer.

Pure functions of the text: they decide, the handlers in `screening` and `attendance` act.
Only the writer's own lines count; the quoted email below them (which repeats our own
instructions, "reply APPROVE …") must never be mistaken for an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.states import Verdict

# Where a mail program starts quoting the email being answered.
_QUOTE_START = re.compile(
    r"^(>|-{2,}\s*original message|_{5,}|on .+wrote:\s*$|from:\s|sent from my|-- ?$)",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"^\W*(?P<verb>approved?|declined?|more[\s-]+info(?:rmation)?(?:\s+needed)?)\b"
    r"[\s:;,.\-–—]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_COOPT = re.compile(r"^\W*co-?opt(?:ed|s)?\b\s*[:\-–—]?\s*(?P<list>.*)$", re.IGNORECASE)
_LIST_SEPARATOR = re.compile(r"\s*(?:,|;|/|\band\b|&)\s*", re.IGNORECASE)

# Attendance answers, checked in this order: "no problem, I will attend" is a yes.
_YES = re.compile(
    r"^\W*(yes|yep|yeah|no problem|confirmed?|accept(?:ed)?|attending|"
    r"i(?:'ll| will| can| shall) (?:attend|be there|come)|will attend|happy to attend)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^\W*(no|nope|declined?|not attending|unable to attend|"
    r"i (?:can(?:'|no)t|cannot|won't|will not|shan't|am unable to|am not able to)|"
    r"can(?:'|no)t (?:attend|make it|come)|cannot (?:attend|make it|come))\b",
    re.IGNORECASE,
)
# English calendar programs prefix their answer's subject so; in the thread of the timeslot
# email it reads as a typed answer. (The answer itself is read from the iTIP REPLY: `itip`.)
_CALENDAR_SUBJECT = re.compile(r"^\s*(accepted|declined|tentative)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    """A Service Manager's answer (approve, decline, more_info), its reason, co-opted agencies."""

    verb: Verdict
    reason: str = ""
    coopt: tuple[str, ...] = ()


def own_lines(body: str) -> list[str]:
    """The lines the writer typed, above whatever they quoted; blank lines dropped."""
    lines: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()):
            break
        if line.strip():
            lines.append(line.strip())
    return lines


def split_agencies(text: str) -> tuple[str, ...]:
    """'Housing, Police and Health' -> ('Housing', 'Police', 'Health')."""
    names = (part.strip(" .") for part in _LIST_SEPARATOR.split(text))
    return tuple(dict.fromkeys(name for name in names if name))


def _verb(word: str) -> Verdict:
    lowered = word.lower()
    if lowered.startswith("appr"):
        return Verdict.APPROVE
    return Verdict.DECLINE if lowered.startswith("decl") else Verdict.MORE_INFO


def parse_decision(body: str) -> Decision | None:
    """The decision on the first line the manager typed, or None when it is not one."""
    lines = own_lines(body)
    if not lines:
        return None
    match = _DECISION.match(lines[0])
    if match is None:
        return None
    verb = _verb(match.group("verb"))
    coopt: tuple[str, ...] = ()
    reason_lines = [match.group("rest").strip()]
    for line in lines[1:]:
        found = _COOPT.match(line)
        if found:
            coopt = coopt + split_agencies(found.group("list"))
        else:
            reason_lines.append(line)
    reason = "\n".join(part for part in reason_lines if part)
    return Decision(verb, reason, coopt)


def parse_attendance(subject: str, body: str) -> str | None:
    """'yes' or 'no' when the reply clearly answers the timeslot email, else None."""
    calendar = _CALENDAR_SUBJECT.match(subject)
    if calendar:
        word = calendar.group(1).lower()
        return {"accepted": "yes", "declined": "no"}.get(word)
    lines = own_lines(body)
    if not lines:
        return None
    if _YES.match(lines[0]):
        return "yes"
    if _NO.match(lines[0]):
        return "no"
    return None
