"""R9 rules: which cases are ready to screen, which replies may decide, what a decision does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.screening import (
    ClaimedRequest,
    administrator_refusal,
    coopt_flags,
    coopted_agencies,
    outcome,
    ready_to_screen,
    reply_refusal,
)
from pipeline.states import ADMINISTRATOR_MAY_SCREEN, AWAITING_SCREENING, CaseState

ASKED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MANAGER = "sm@example.org"
MANAGERS = frozenset({MANAGER, "deputy@example.org"})
STATES = st.sampled_from(
    [
        CaseState.INCOMPLETE,
        CaseState.COMPLETE,
        CaseState.SCREENING,
        CaseState.MORE_INFO,
        CaseState.APPROVED,
        CaseState.DECLINED,
        CaseState.CLOSED,
    ]
)
TIMES = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)


def open_request(case_id: int = 1, manager: str = MANAGER) -> ClaimedRequest:
    return ClaimedRequest(case_id, manager, decided=False, closed=False)


@pytest.mark.parametrize(
    ("verb", "state", "template"),
    [
        ("approve", "approved", None),
        ("decline", "declined", "declined"),
        ("more_info", "more_info", "more_information"),
    ],
)
def test_each_decision_moves_the_case_and_tells_the_referrer_unless_approved(
    verb: str, state: str, template: str | None
) -> None:
    found = outcome(verb)
    assert (found.state, found.referrer_template) == (state, template)


def test_an_unknown_decision_is_no_outcome() -> None:
    with pytest.raises(KeyError):
        outcome("maybe")


@given(TIMES, st.lists(TIMES, max_size=4))
def test_a_complete_case_is_always_ready(asked: datetime, received: list[datetime]) -> None:
    assert ready_to_screen(CaseState.COMPLETE, [], asked, received)


@given(
    STATES.filter(lambda s: s not in (CaseState.COMPLETE, CaseState.MORE_INFO)),
    st.lists(TIMES, max_size=4),
)
def test_only_complete_or_more_info_cases_can_be_ready(
    state: CaseState, received: list[datetime]
) -> None:
    assert not ready_to_screen(state, [], None, received)


@given(TIMES, st.lists(TIMES, max_size=4))
def test_more_info_still_missing_documents_is_not_ready(
    asked: datetime, received: list[datetime]
) -> None:
    assert not ready_to_screen(CaseState.MORE_INFO, ["care_plan"], asked, received)


@pytest.mark.parametrize(
    ("received", "ready"),
    [
        ([ASKED - timedelta(days=3)], False),
        ([ASKED - timedelta(days=3), ASKED], False),
        ([ASKED - timedelta(days=3), ASKED + timedelta(minutes=1)], True),
    ],
)
def test_more_info_is_ready_once_a_document_came_after_the_question(
    received: list[datetime], ready: bool
) -> None:
    assert ready_to_screen(CaseState.MORE_INFO, [], ASKED, received) is ready


def test_more_info_never_asked_by_a_manager_is_ready_when_complete() -> None:
    assert ready_to_screen(CaseState.MORE_INFO, [], None, [])


@pytest.mark.parametrize("state", ADMINISTRATOR_MAY_SCREEN)
def test_the_administrator_may_screen_any_complete_referral(state: CaseState) -> None:
    assert administrator_refusal(state) is None


@pytest.mark.parametrize("state", ["incomplete", "closed", "withdrawn"])
def test_the_administrator_may_not_screen_an_incomplete_or_closed_case(state: str) -> None:
    # Plain strings on purpose: "withdrawn" is no CaseState, and is refused all the same.
    assert administrator_refusal(state) == (  # type: ignore[arg-type]
        f"the case is {state}; only a complete referral can be screened"
    )


def test_co_opted_agencies_become_flags_once() -> None:
    flags = coopt_flags(["section20", "co-opt:Housing"], ("Housing", "Police"))
    assert flags == ["section20", "co-opt:Housing", "co-opt:Police"]


@given(st.lists(st.text(max_size=8), max_size=4), st.lists(st.text(max_size=8), max_size=4))
def test_co_opting_keeps_every_flag_and_adds_every_agency(
    flags: list[str], agencies: list[str]
) -> None:
    found = coopt_flags(flags, agencies)
    assert found[: len(flags)] == flags
    assert {f"co-opt:{a}" for a in agencies} <= set(found)


def test_co_opted_agencies_are_read_back_from_flags_however_written() -> None:
    flags = ["section20", "co-opt:Housing", " Co-opt: police; Health ,, housing", "co-opted"]
    assert coopted_agencies(flags) == ("housing", "police", "health")
    assert coopted_agencies([]) == ()


# An agency's name as a person writes it: anything but the separators a flag's list uses.
AGENCIES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=",;"), min_size=1, max_size=12
).filter(lambda a: a.strip() != "")


@given(st.lists(AGENCIES, max_size=4))
def test_the_flags_co_opting_writes_are_read_back_as_its_agencies(agencies: list[str]) -> None:
    found = coopted_agencies(coopt_flags(["section20"], agencies))
    assert found == tuple(dict.fromkeys(a.strip().lower() for a in agencies))


def test_the_manager_s_own_open_request_decides() -> None:
    assert reply_refusal(MANAGER, 1, [open_request()], MANAGERS) is None
    assert reply_refusal(MANAGER, None, [open_request()], MANAGERS) is None


@pytest.mark.parametrize(
    ("sender", "thread_case", "requests", "why"),
    [
        (MANAGER, 1, None, "bad token"),
        (MANAGER, 1, [], "bad token"),
        (MANAGER, 2, [open_request(1)], "other case"),
        (MANAGER, 1, [open_request(1), open_request(2)], "other case"),
        (MANAGER, 1, [open_request(1), open_request(1, "deputy@example.org")], "bad token"),
        ("deputy@example.org", 1, [open_request()], "forged sender"),
        ("gone@example.org", 1, [open_request(1, "gone@example.org")], "forged sender"),
        (MANAGER, 1, [ClaimedRequest(1, MANAGER, decided=True, closed=True)], "replayed"),
        (MANAGER, 1, [ClaimedRequest(1, MANAGER, decided=False, closed=True)], "already decided"),
    ],
)
def test_replies_that_may_not_decide(
    sender: str, thread_case: int | None, requests: list[ClaimedRequest] | None, why: str
) -> None:
    assert reply_refusal(sender, thread_case, requests, MANAGERS) == why


@pytest.mark.parametrize("state", [s for s in CaseState if s not in AWAITING_SCREENING])
def test_an_open_request_decides_nothing_once_its_case_no_longer_awaits_screening(
    state: CaseState,
) -> None:
    # Older databases can hold a request left open on a case closed since.
    request = ClaimedRequest(1, MANAGER, decided=False, closed=False, case_state=state)
    why = reply_refusal(MANAGER, 1, [request], MANAGERS)
    assert why == f"the case is {state}: no longer awaiting screening"


@given(st.emails().map(str.lower))
def test_nobody_but_the_request_s_manager_decides_it(sender: str) -> None:
    why = reply_refusal(sender, 1, [open_request()], MANAGERS | {sender})
    assert (why is None) == (sender == MANAGER)
