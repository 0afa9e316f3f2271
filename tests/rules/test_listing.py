"""R2, R3 and R7 on plain values: whether a deadline has passed, whether a referral came too
late for a meeting, and where a case released from hold is listed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.meetings import (
    deadline_passed,
    meeting_at,
    missed_meeting,
    release_meeting,
    target_meeting,
)
from tests.rules.panels import INSTANTS, LONDON, SPANS, ZONES, panel, panels

PANEL = panel()
# Tuesday 8 December 2026 (deadline noon on 1 December), then Tuesday 12 January 2027.
DECEMBER = meeting_at(PANEL, date(2026, 12, 8), LONDON)
JANUARY = meeting_at(PANEL, date(2027, 1, 12), LONDON)
BEFORE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AFTER_DEADLINE = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
STARTED = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


def test_the_deadline_has_passed_at_the_deadline_itself() -> None:
    assert not deadline_passed(DECEMBER, DECEMBER.deadline - timedelta(seconds=1))
    assert deadline_passed(DECEMBER, DECEMBER.deadline)


def test_a_referral_after_the_deadline_missed_that_meeting() -> None:
    assert missed_meeting(PANEL, LONDON, AFTER_DEADLINE, JANUARY, False) == DECEMBER
    assert missed_meeting(PANEL, LONDON, BEFORE, DECEMBER, False) is None
    # Listed for the very meeting whose deadline it missed (brought forward): not late.
    assert missed_meeting(PANEL, LONDON, AFTER_DEADLINE, DECEMBER, False) is None


def test_a_section20_referral_is_never_late() -> None:
    assert missed_meeting(PANEL, LONDON, AFTER_DEADLINE, JANUARY, True) is None


def test_a_released_case_keeps_the_meeting_it_arrived_for_while_that_can_take_it() -> None:
    assert release_meeting(PANEL, LONDON, BEFORE, BEFORE + timedelta(days=2), False, False) == (
        DECEMBER
    )
    # Past the deadline a case still waiting for documents goes on; a complete one stays.
    assert release_meeting(PANEL, LONDON, BEFORE, AFTER_DEADLINE, False, False) == JANUARY
    assert release_meeting(PANEL, LONDON, BEFORE, AFTER_DEADLINE, True, False) == DECEMBER
    assert release_meeting(PANEL, LONDON, BEFORE, AFTER_DEADLINE, False, True) == DECEMBER
    # Once the meeting has started, everyone goes to the next.
    assert release_meeting(PANEL, LONDON, BEFORE, STARTED, True, False) == JANUARY
    assert release_meeting(PANEL, LONDON, BEFORE, STARTED, False, True) == JANUARY


@given(panels(), ZONES, INSTANTS, SPANS, st.booleans(), st.booleans())
def test_a_released_case_is_listed_for_a_meeting_that_can_still_take_it(
    config: PanelConfig, tz: ZoneInfo, received: datetime, held: timedelta, ready: bool, s20: bool
) -> None:
    now = received + held
    listed = release_meeting(config, tz, received, now, ready, s20)
    assert now < (listed.starts_at if ready or s20 else listed.deadline)
    assert listed.starts_at >= target_meeting(config, tz, received, s20).starts_at


@given(panels(), ZONES, INSTANTS, st.booleans())
def test_a_referral_listed_where_r3_puts_it_missed_nothing_it_could_have_made(
    config: PanelConfig, tz: ZoneInfo, received: datetime, s20: bool
) -> None:
    listed = target_meeting(config, tz, received, s20)
    missed = missed_meeting(config, tz, received, listed, s20)
    if missed is not None:
        assert not s20
        assert received >= missed.deadline and missed.starts_at < listed.starts_at
