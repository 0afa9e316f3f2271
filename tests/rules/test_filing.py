"""R5: how intake files an email — held, kept on a closed case, read, or answered for having
nothing attached."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.filing import Route, route
from pipeline.states import OVER, CaseState

STATES = st.one_of(st.none(), st.sampled_from(list(CaseState)))


@pytest.mark.parametrize(
    ("quoted", "state", "has_meeting", "has_attachments", "expected"),
    [
        (True, None, False, True, Route.HELD),
        (False, CaseState.HELD, True, False, Route.HELD),
        (False, CaseState.CLOSED, False, True, Route.CLOSED),
        # Heard and decided, or closed after its meeting: a person reads what comes (R13).
        (False, CaseState.DECIDED, True, True, Route.CLOSED),
        (False, CaseState.CLOSED, True, True, Route.CLOSED),
        (False, CaseState.INCOMPLETE, True, True, Route.DOCUMENTS),
        (False, None, False, True, Route.DOCUMENTS),
        (False, CaseState.APPROVED, True, False, Route.NO_DOCUMENTS),
        (False, None, False, False, Route.NO_DOCUMENTS),
    ],
)
def test_where_an_email_is_filed(
    quoted: bool, state: CaseState | None, has_meeting: bool, has_attachments: bool, expected: Route
) -> None:
    assert route(quoted, state, has_meeting, has_attachments) is expected


@given(STATES, st.booleans(), st.booleans())
def test_an_email_quoting_a_case_without_standing_is_always_held(
    state: CaseState | None, has_meeting: bool, has_attachments: bool
) -> None:
    assert route(True, state, has_meeting, has_attachments) is Route.HELD


@given(st.booleans(), st.booleans())
def test_an_email_on_no_case_is_a_referral_or_asked_for_one(
    has_meeting: bool, has_attachments: bool
) -> None:
    expected = Route.DOCUMENTS if has_attachments else Route.NO_DOCUMENTS
    assert route(False, None, has_meeting, has_attachments) is expected


@given(STATES, st.booleans(), st.booleans(), st.booleans())
def test_only_an_email_on_a_case_can_be_kept_on_a_closed_one(
    quoted: bool, state: CaseState | None, has_meeting: bool, has_attachments: bool
) -> None:
    if route(quoted, state, has_meeting, has_attachments) is Route.CLOSED:
        assert state is not None and (not has_meeting or state in OVER)
