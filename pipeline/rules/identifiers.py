"""Minimal identifiers (R11): a child as initials and an age, never a name or a date of birth."""

from __future__ import annotations

import re
from datetime import date


def initials(name: str | None) -> str:
    """'Robin Testcase' -> 'R.T.'; a name the form did not give reads as a dash."""
    letters = [word[0].upper() for word in (name or "").split() if word[:1].isalpha()]
    return "".join(f"{letter}." for letter in letters) or "—"


def age_on(dob_iso: str | None, day: date) -> str:
    """The child's age on the meeting day, as the agenda would print it."""
    if not dob_iso:
        return "age unknown"
    dob = date.fromisoformat(dob_iso)
    if dob > day:
        return "unborn"
    months = (day.year - dob.year) * 12 + day.month - dob.month - (day.day < dob.day)
    return f"age {months // 12}" if months >= 12 else f"age {months} months"


def without_name(text: str, name: str | None) -> str:
    """Free text (an agreed action, typed in the meeting) with each part of the child's name
    replaced by its initial: 'Call Robin's mum' -> 'Call R.'s mum'. Parts under two letters
    are left alone, as they are too common to be the name."""
    for part in sorted(set((name or "").split()), key=len, reverse=True):
        word = part.strip(".,'\"()")
        if len(word) < 2:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
        text = pattern.sub(f"{word[0].upper()}.", text)
    return text
