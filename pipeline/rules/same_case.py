"""R5: what a later email's documents do to a case — a newer document of a kind supersedes the
older one (both kept); a form for a different child never does, and opens its own case."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.documents.kinds import Kind, Status


def supersedes(kind: str, status: str) -> bool:
    """Whether a new document marks the older ones of its kind superseded: a usable one of a
    named kind does; another document, or a refused file, only adds to them."""
    return kind != Kind.OTHER and status != Status.REFUSED


@dataclass(frozen=True)
class Child:
    """How a form identifies its child: the keyed hash of name and date of birth (None unless
    the form gives both), the name as written, the date of birth in ISO form."""

    key: str | None
    name: str | None
    dob: str | None


def _normal_name(name: str | None) -> str:
    return " ".join(name.lower().split()) if name else ""


def different_child(before: Child, now: Child) -> bool:
    """Whether the form `now` is about a different child from the case's form `before`.

    By the keyed hash of name and date of birth when both forms give both; else by name alone;
    else, when the new form gives only a date of birth, by that. A case without a form, or a
    form naming neither, cannot tell, and counts as the same (its form keeps the child's
    identity).
    """
    if before.key and now.key:
        return now.key != before.key
    earlier, later = _normal_name(before.name), _normal_name(now.name)
    if earlier and later:
        return earlier != later
    if not later and before.dob and now.dob is not None:
        return before.dob != now.dob
    return False
