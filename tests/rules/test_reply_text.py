"""Reading a reply's own words: a manager's decision, a referrer's attendance, the quote cut off."""

from __future__ import annotations

import pytest

from pipeline.rules.reply_text import Decision, own_lines, parse_attendance, parse_decision
from pipeline.states import Verdict


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("APPROVE", Decision(Verdict.APPROVE)),
        (
            "Approved.\nco-opt: Housing, Police and Health",
            Decision(Verdict.APPROVE, "", ("Housing", "Police", "Health")),
        ),
        ("decline: already open to CSC", Decision(Verdict.DECLINE, "already open to CSC")),
        (
            "DECLINE\nAlready open to CSC.\n\n> APPROVE",
            Decision(Verdict.DECLINE, "Already open to CSC."),
        ),
        (
            "More information - school report\nand the EHA review",
            Decision(Verdict.MORE_INFO, "school report\nand the EHA review"),
        ),
        ("more info needed: genogram", Decision(Verdict.MORE_INFO, "genogram")),
        ("Thanks, will look tomorrow", None),
        ("> APPROVE\nquoted only", None),
        ("", None),
    ],
)
def test_parse_decision(body: str, expected: Decision | None) -> None:
    assert parse_decision(body) == expected


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Re: slot", "Yes, see you then", "yes"),
        ("Re: slot", "I will attend.", "yes"),
        ("Re: slot", "No problem, I'll be there", "yes"),
        ("Re: slot", "No, I can't make it", "no"),
        ("Re: slot", "I can't attend that day", "no"),
        ("Re: slot", "Can't attend, sorry", "no"),
        ("Re: slot", "What time is it again?", None),
        ("Re: slot", "Nothing\n> Reply YES", None),
        ("Accepted: MASP-2026-0001", "", "yes"),
        ("Declined: MASP-2026-0001", "", "no"),
    ],
)
def test_parse_attendance(subject: str, body: str, expected: str | None) -> None:
    assert parse_attendance(subject, body) == expected


def test_own_lines_stop_at_the_quote() -> None:
    body = "APPROVE\n\n-----Original Message-----\nFrom: panel\nDECLINE"
    assert own_lines(body) == ["APPROVE"]
