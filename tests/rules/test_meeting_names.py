"""How a meeting is named in job keys and emails, and whether it is still held as configured."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given

from pipeline.config import PanelConfig
from pipeline.rules.meetings import clock_time, held_meeting, meeting_at, meeting_stamp
from tests.rules.panels import INSTANTS, LONDON, ZONES, panel, panels, some_meeting

# Tuesday 8 December 2026 at 10:00 GMT, and Tuesday 13 July 2027 at 10:00 BST.
DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
JULY = datetime(2027, 7, 13, 9, 0, tzinfo=UTC)


def test_a_meeting_is_stamped_in_panel_wall_time() -> None:
    assert meeting_stamp(LONDON, DECEMBER) == "2026-12-08T10:00"
    assert meeting_stamp(LONDON, JULY) == "2027-07-13T10:00"
    assert clock_time(LONDON, JULY) == "10:00"
    assert clock_time(ZoneInfo("America/New_York"), DECEMBER) == "05:00"


def test_a_meeting_still_held_has_its_deadline() -> None:
    held = held_meeting(panel(), LONDON, DECEMBER)
    assert held == meeting_at(panel(), date(2026, 12, 8), LONDON)
    assert held is not None and held.deadline == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_meeting_cancelled_or_given_another_time_is_not_held() -> None:
    assert held_meeting(panel(cancel=["2026-12-08"]), LONDON, DECEMBER) is None
    assert held_meeting(panel(time="09:30"), LONDON, DECEMBER) is None
    assert held_meeting(panel(), LONDON, DECEMBER + timedelta(days=1)) is None


@given(panels(), ZONES, INSTANTS)
def test_every_configured_meeting_is_held_and_stamped_apart_from_the_next(
    config: PanelConfig, tz: ZoneInfo, after: datetime
) -> None:
    meeting = some_meeting(config, tz, after)
    assert held_meeting(config, tz, meeting.starts_at) == meeting
    following = some_meeting(config, tz, meeting.starts_at + timedelta(days=1))
    assert meeting_stamp(tz, meeting.starts_at) < meeting_stamp(tz, following.starts_at)
    assert meeting_stamp(tz, meeting.starts_at).endswith(clock_time(tz, meeting.starts_at))
