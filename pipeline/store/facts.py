"""A case's facts as plain values for the rules: its documents as views, what it still needs."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.documents.kinds import Kind
from pipeline.rules.completeness import DocumentView, missing_kinds
from pipeline.states import BY_DOCUMENTS, CaseState
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, Document

# The start of the flag on a case whose email mentions Section 20 when its form does not.
SECTION20_QUESTION = "Section 20 to confirm"


def section20_questioned(case: Case) -> bool:
    """Whether the case is flagged with the Section 20 question, for the administrator to settle."""
    return any(flag.startswith(SECTION20_QUESTION) for flag in case.flags)


def views(documents: Sequence[Document]) -> list[DocumentView]:
    return [DocumentView(d.kind, d.status, d.superseded) for d in documents]


def missing_for(case: Case) -> list[Kind]:
    """The kinds the case still needs (R4), read without changing anything."""
    requests = case.fields.get("request_types", []) if case.fields else []
    return missing_kinds(views(case.documents), case.genogram_required, requests)


def refresh_state(case: Case) -> list[Kind]:
    """Recompute what is missing and set the case's state; return the missing kinds."""
    missing = missing_for(case)
    if case.state in BY_DOCUMENTS:
        move(case, CaseState.COMPLETE if not missing else CaseState.INCOMPLETE)
    return missing
