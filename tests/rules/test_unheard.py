"""R7 on plain values: where a case not heard goes, what it is flagged, what its referrer reads.

`not_heard` case by case is in tests/panel/test_stranded.py; here are its properties and the smaller
decisions the step acts on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.meetings import meeting_at
from pipeline.rules.unheard import (
    Standing,
    Unheard,
    Why,
    followed_to,
    moved_flag,
    next_step,
    not_heard,
)
from pipeline.states import IN_PLAY, CaseState
from tests.rules.panels import INSTANTS, LONDON, SPANS, ZONES, panel, panels, some_meeting

DECEMBER = meeting_at(panel(), date(2026, 12, 8), LONDON)
STATES = st.sampled_from([*IN_PLAY, CaseState.DECLINED, CaseState.CLOSED, CaseState.HELD])


def standing(state: CaseState, section20: bool = False) -> Standing:
    return Standing(state=state, section20=section20, meeting=DECEMBER.starts_at, slotted=False)


def unheard(why: Why, to: date = date(2027, 1, 12)) -> Unheard:
    return Unheard(why, DECEMBER.starts_at, meeting_at(panel(), to, LONDON))


def test_a_moved_case_is_flagged_with_the_day_it_left_and_why() -> None:
    flag = moved_flag(standing(CaseState.APPROVED), unheard(Why.CANCELLED), LONDON)
    assert flag == "moved from 2026-12-08: meeting cancelled"


def test_a_case_that_follows_its_meeting_to_another_time_that_day_is_not_flagged() -> None:
    assert (
        moved_flag(standing(CaseState.APPROVED), unheard(Why.RETIMED, date(2026, 12, 8)), LONDON)
        is None
    )


def test_the_administrator_reads_the_new_time_only_when_every_case_followed_it() -> None:
    same_day = unheard(Why.RETIMED, date(2026, 12, 8))
    assert followed_to([same_day, same_day]) == same_day.to
    assert followed_to([same_day, unheard(Why.UNSCREENED)]) is None
    assert followed_to([]) is None


def test_what_the_referrer_is_told_happens_next() -> None:
    assert next_step(standing(CaseState.INCOMPLETE)) == "documents"
    assert next_step(standing(CaseState.MORE_INFO)) == "documents"
    assert next_step(standing(CaseState.SCREENING)) == CaseState.SCREENING
    assert next_step(standing(CaseState.COMPLETE)) == CaseState.SCREENING
    assert next_step(standing(CaseState.APPROVED)) == "timeslot"
    assert next_step(standing(CaseState.INCOMPLETE, section20=True)) == "timeslot"


@given(panels(), ZONES, INSTANTS, SPANS, STATES, st.booleans(), st.booleans())
def test_a_case_is_never_moved_to_a_meeting_it_cannot_reach(
    config: PanelConfig,
    tz: ZoneInfo,
    after: datetime,
    since: timedelta,
    state: CaseState,
    section20: bool,
    slotted: bool,
) -> None:
    meeting = some_meeting(config, tz, after)
    facts = Standing(state, section20, meeting.starts_at, slotted)
    now = meeting.starts_at - timedelta(days=7) + since
    found = not_heard(facts, config, tz, now)
    if state not in IN_PLAY or (slotted and now >= meeting.starts_at):
        assert found is None
    # The meeting is held as configured: nobody moves before it begins.
    if now < meeting.starts_at:
        assert found is None
    if found is not None and found.to is not None:
        assert found.to.starts_at > now
        assert found.to.starts_at != meeting.starts_at
        if facts.waiting:
            assert found.to.deadline > now
        assert found.due <= now


@given(panels(), ZONES, INSTANTS, STATES, st.booleans())
def test_a_cancelled_meeting_moves_every_case_in_play_at_once(
    config: PanelConfig, tz: ZoneInfo, after: datetime, state: CaseState, section20: bool
) -> None:
    meeting = some_meeting(config, tz, after)
    cancelled = config.model_copy(
        update={"meetings": config.meetings.model_copy(update={"cancel": (meeting.day,)})}
    )
    now = meeting.starts_at - timedelta(days=1)
    found = not_heard(Standing(state, section20, meeting.starts_at, True), cancelled, tz, now)
    assert (found is not None) == (state in IN_PLAY)
    if found is not None:
        assert found.why == Why.CANCELLED
        assert found.due == now
