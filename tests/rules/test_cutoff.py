"""R6 and R7 on plain values: whether the cut-off moves a case, and to which meeting."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.documents.kinds import Kind
from pipeline.rules.awaiting import Waiting
from pipeline.rules.cutoff import (
    MORE_INFO_MISSING,
    cutoff_applies,
    deferral,
    forward_meeting,
    missing_text,
)
from pipeline.rules.meetings import Meeting, meeting_at
from pipeline.states import CaseState
from tests.rules.panels import INSTANTS, LONDON, SPANS, ZONES, panel, panels, some_meeting

REFERRER = "jo@school.example.org"
DECEMBER = meeting_at(panel(), date(2026, 12, 8), LONDON)
JANUARY = meeting_at(panel(), date(2027, 1, 12), LONDON)
STATES = st.sampled_from(
    [
        CaseState.INCOMPLETE,
        CaseState.MORE_INFO,
        CaseState.COMPLETE,
        CaseState.SCREENING,
        CaseState.APPROVED,
    ]
)
KINDS = st.lists(st.sampled_from([Kind.REFERRAL_FORM, Kind.CHRONOLOGY, Kind.ASSESSMENT]))


def waiting(state: CaseState = CaseState.INCOMPLETE, section20: bool = False) -> Waiting:
    return Waiting(state, REFERRER, section20)


def test_the_cut_off_applies_to_a_case_still_missing_documents_or_information() -> None:
    assert cutoff_applies(waiting(), [Kind.CHRONOLOGY])
    assert cutoff_applies(waiting(CaseState.MORE_INFO), [])
    assert not cutoff_applies(waiting(), [])
    assert not cutoff_applies(waiting(CaseState.COMPLETE), [Kind.CHRONOLOGY])


def test_a_section20_emergency_is_never_cut_off() -> None:
    assert not cutoff_applies(waiting(section20=True), [Kind.CHRONOLOGY])
    assert not cutoff_applies(waiting(CaseState.MORE_INFO, section20=True), [])


def test_what_was_missing_reads_as_words() -> None:
    missing = [Kind.CHRONOLOGY, Kind.REFERRAL_FORM]
    assert missing_text(waiting(), missing) == "chronology, referral form"
    assert missing_text(waiting(CaseState.MORE_INFO), []) == MORE_INFO_MISSING
    both = missing_text(waiting(CaseState.MORE_INFO), [Kind.GENOGRAM])
    assert both == f"genogram, {MORE_INFO_MISSING}"


def test_a_deferred_case_goes_to_the_next_meeting_flagged_with_what_was_missing() -> None:
    found = deferral(waiting(), [Kind.CHRONOLOGY], panel(), LONDON, DECEMBER, DECEMBER.deadline)
    assert found is not None
    assert found.to == JANUARY
    assert found.missing == "chronology"
    assert found.flag == "deferred from 2026-12-08: missing chronology"
    assert deferral(waiting(), [], panel(), LONDON, DECEMBER, DECEMBER.deadline) is None


def test_after_an_outage_past_the_next_deadline_the_case_goes_to_the_first_still_open() -> None:
    down_until = JANUARY.deadline + timedelta(hours=1)
    assert forward_meeting(panel(), LONDON, DECEMBER, down_until).day == date(2027, 2, 9)
    skipping = panel(cancel=["2027-01-12"])
    assert forward_meeting(skipping, LONDON, DECEMBER, DECEMBER.deadline).day == date(2027, 2, 9)


@given(panels(), ZONES, INSTANTS, SPANS)
def test_the_cut_off_never_forwards_to_a_meeting_whose_deadline_has_passed(
    config: PanelConfig, tz: ZoneInfo, after: datetime, late: timedelta
) -> None:
    meeting = some_meeting(config, tz, after)
    now = meeting.deadline + late
    forward = forward_meeting(config, tz, meeting, now)
    assert forward.deadline > now
    assert forward.starts_at > meeting.starts_at
    assert forward.panel_id == meeting.panel_id


@given(STATES, st.booleans(), KINDS, SPANS)
def test_a_deferral_moves_only_a_waiting_case_and_always_forward(
    state: CaseState, section20: bool, missing: list[Kind], late: timedelta
) -> None:
    case = waiting(state, section20)
    now = DECEMBER.deadline + late
    found = deferral(case, missing, panel(), LONDON, DECEMBER, now)
    assert (found is not None) == cutoff_applies(case, missing)
    if found is not None:
        assert isinstance(found.to, Meeting)
        assert found.to.deadline > now
        assert found.missing and found.missing in found.flag
