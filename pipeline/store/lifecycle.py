"""The one step that changes a case's state, checked against the lifecycle table."""

from __future__ import annotations

from pipeline.rules.lifecycle import check
from pipeline.states import CaseState
from pipeline.store.models import Case


def move(case: Case, new: CaseState) -> None:
    """Put the case in state `new`; IllegalTransition, changing nothing, if no rule allows it."""
    # A case not yet given a state (being opened) reads None here, whatever the annotation says.
    old: CaseState | None = case.state
    check(old, new, reference=case.reference)
    case.state = new
