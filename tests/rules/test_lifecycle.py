"""The lifecycle table: every state reachable, every written move accepted, every other refused."""

from __future__ import annotations

import itertools

import pytest

from pipeline.errors import IllegalTransition, PipelineError
from pipeline.rules.lifecycle import INITIAL, TERMINAL, TRANSITIONS, check
from pipeline.rules.slots import is_listed
from pipeline.states import (
    ADMINISTRATOR_MAY_SCREEN,
    ATTACHABLE,
    BY_DOCUMENTS,
    CLOSABLE,
    HEARD_UNDECIDED,
    WAITING,
    WITHDRAWABLE,
    CaseState,
)

LEGAL = [(old, new) for old, out in TRANSITIONS.items() for new in out]
SCREENING_OUTCOMES = (CaseState.APPROVED, CaseState.DECLINED, CaseState.MORE_INFO)
ILLEGAL = [
    (old, new)
    for old, new in itertools.product([None, *CaseState], CaseState)
    if old != new and new not in TRANSITIONS[old]
]


def test_the_table_names_every_state_once() -> None:
    assert set(TRANSITIONS) == {None, *CaseState}


def test_every_state_is_reachable_from_a_new_case() -> None:
    reached: set[CaseState] = set()
    frontier = set(INITIAL)
    while frontier:
        reached |= frontier
        frontier = {new for old in frontier for new in TRANSITIONS[old]} - reached
    assert reached == set(CaseState)


def test_a_case_is_born_incomplete_or_held() -> None:
    assert {CaseState.INCOMPLETE, CaseState.HELD} == INITIAL


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_every_written_move_is_accepted_with_its_reason(
    old: CaseState | None, new: CaseState
) -> None:
    why = check(old, new)
    assert why == TRANSITIONS[old][new] and why.strip()


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_every_other_move_is_refused_naming_both_states(
    old: CaseState | None, new: CaseState
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        check(old, new, reference="MASP-2026-0001")
    assert isinstance(refused.value, PipelineError)
    message = str(refused.value)
    assert message.startswith("MASP-2026-0001: ") and str(new) in message
    assert str(old) in message if old is not None else "a new case" in message


@pytest.mark.parametrize("state", list(CaseState))
def test_staying_put_is_no_move(state: CaseState) -> None:
    assert check(state, state) == "no change"


@pytest.mark.parametrize("end", [CaseState.CLOSED, CaseState.WITHDRAWN])
def test_a_closed_or_withdrawn_case_stays_so(end: CaseState) -> None:
    assert {CaseState.CLOSED, CaseState.WITHDRAWN} == TERMINAL
    for new in set(CaseState) - {end}:
        with pytest.raises(IllegalTransition):
            check(end, new)


def test_stored_strings_are_checked_as_their_states() -> None:
    assert check("more_info", "screening") == TRANSITIONS[CaseState.MORE_INFO][CaseState.SCREENING]
    with pytest.raises(IllegalTransition):
        check("complete", "no such state")
    with pytest.raises(IllegalTransition):
        check("no such state", "no such state")


@pytest.mark.parametrize(
    ("group", "new"),
    [(WAITING, CaseState.CLOSED), (ATTACHABLE, CaseState.CLOSED), (BY_DOCUMENTS, None)]
    + [(WITHDRAWABLE, CaseState.WITHDRAWN), (CLOSABLE, CaseState.CLOSED)]
    + [(ADMINISTRATOR_MAY_SCREEN, outcome) for outcome in SCREENING_OUTCOMES],
)
def test_the_steps_guards_allow_only_written_moves(
    group: tuple[CaseState, ...], new: CaseState | None
) -> None:
    """Each step's guard (purge, attach, refresh, `masp screen`) admits only legal moves."""
    for old in group:
        for target in [new] if new is not None else list(BY_DOCUMENTS):
            check(old, target)


def test_every_listed_state_is_heard_undecided_and_may_be_decided() -> None:
    """Whatever state the listing rule hears a case in, its decision can be recorded: a
    Section 20 emergency heard while its documents are still missing included."""
    listed = {
        state
        for state in CaseState
        for section20 in (False, True)
        for unscreened in ("hold", "list")
        if is_listed(state, section20, unscreened)
    }
    assert listed == set(HEARD_UNDECIDED)
    assert CaseState.INCOMPLETE in listed
    for state in HEARD_UNDECIDED:
        assert check(state, CaseState.DECIDED)
    for state in (
        *(CaseState.DECLINED, CaseState.HELD, CaseState.CLOSED, CaseState.DECIDED),
        CaseState.WITHDRAWN,
    ):
        assert not is_listed(state, True, "list")
