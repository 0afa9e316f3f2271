"""R4: is a referral complete? Form, chronology and assessment, plus a genogram when required;
and which of the form's own questions it leaves unanswered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pipeline.documents.kinds import Kind, Status

ALWAYS_REQUIRED = (Kind.REFERRAL_FORM, Kind.CHRONOLOGY, Kind.ASSESSMENT)
# Request types for which R4 requires a genogram whatever the form says.
GENOGRAM_REQUESTS = frozenset({"admission_to_care", "section20"})


@dataclass(frozen=True)
class DocumentView:
    """What the rule needs to know of a document: its kind, status, and whether superseded."""

    kind: str
    status: str
    superseded: bool = False


class Filed(Protocol):
    """A document as `usable` reads it: a stored row or a `DocumentView`."""

    @property
    def status(self) -> str: ...

    @property
    def superseded(self) -> bool: ...


def usable(document: Filed) -> bool:
    """A current document a person can use: no newer one of its kind, and not refused."""
    return not document.superseded and document.status != Status.REFUSED


def genogram_needed(genogram_required: bool | None, request_types: Iterable[str]) -> bool:
    """The form says so, or the request is an admission to care / high-cost package / LARP."""
    return bool(genogram_required) or bool(GENOGRAM_REQUESTS.intersection(request_types))


def required_kinds(genogram_required: bool | None, request_types: Iterable[str]) -> list[Kind]:
    kinds = list(ALWAYS_REQUIRED)
    if genogram_needed(genogram_required, request_types):
        kinds.insert(2, Kind.GENOGRAM)
    return kinds


def usable_kinds(documents: Iterable[DocumentView]) -> set[str]:
    """Kinds held by a current document a person can use: a refused file does not count."""
    return {d.kind for d in documents if usable(d)}


def missing_kinds(
    documents: Iterable[DocumentView],
    genogram_required: bool | None,
    request_types: Iterable[str] = (),
) -> list[Kind]:
    """The kinds still needed, in the order a referrer would read them."""
    have = usable_kinds(documents)
    return [k for k in required_kinds(genogram_required, request_types) if k not in have]


# Fields a referral form must answer (issue: Documents), with how the referrer reads them.
REQUIRED_FIELDS = {
    "child_name": "the child's name",
    "child_dob": "the child's date of birth (or due date)",
    "referrer_name": "your name",
    "referrer_email": "your email address",
    "request_types": "what you are asking the panel for (request type)",
    "consent": "whether the family agreed to the panel discussion (consent)",
}


def missing_fields(fields: Mapping[str, object]) -> list[str]:
    """What the current referral form (its `fields` as stored) leaves unanswered, as the
    referrer reads it; empty when there is no form yet."""
    if not fields:
        return []
    return [label for key, label in REQUIRED_FIELDS.items() if fields.get(key) in (None, "", [])]
