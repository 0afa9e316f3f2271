"""`move`: the one step that sets a case's state, refusing what the lifecycle table forbids."""

from __future__ import annotations

import pytest

from pipeline.errors import IllegalTransition
from pipeline.states import CaseState
from pipeline.store.lifecycle import move
from pipeline.store.models import Case


def test_a_legal_move_sets_the_state() -> None:
    case = Case(reference="MASP-2026-0001", state="complete")
    move(case, CaseState.SCREENING)
    assert case.state == "screening"


def test_an_illegal_move_changes_nothing_and_names_the_case() -> None:
    case = Case(reference="MASP-2026-0001", state="closed")
    with pytest.raises(IllegalTransition, match=r"^MASP-2026-0001: .*closed.*approved"):
        move(case, CaseState.APPROVED)
    assert case.state == "closed"


def test_a_new_case_is_born_incomplete_or_held_only() -> None:
    move(Case(reference="MASP-2026-0001"), CaseState.INCOMPLETE)
    move(Case(reference="MASP-2026-0002"), CaseState.HELD)
    with pytest.raises(IllegalTransition, match="a new case cannot become approved"):
        move(Case(reference="MASP-2026-0003"), CaseState.APPROVED)
