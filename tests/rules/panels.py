"""Panels for the rule tests: one built from plain values, and a hypothesis strategy of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.meetings import Meeting, meeting_at, meeting_days

LONDON = ZoneInfo("Europe/London")
# Zones with a clock change each way, one without, and one whose change is half an hour.
ZONES = st.sampled_from(
    [LONDON, ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
)
RRULES = st.sampled_from(
    [
        "FREQ=MONTHLY;BYDAY=+2TU",
        "FREQ=WEEKLY;BYDAY=WE",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        "FREQ=MONTHLY;BYMONTHDAY=2",
    ]
)
# Instants over a decade, so that both clock changes of many years come up.
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2034, 1, 1), timezones=st.just(UTC)
)
QUARTER_HOURS = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


def panel(**meetings: object) -> PanelConfig:
    """The second-Tuesday panel at 10:00, with `meetings` overriding its meeting settings."""
    spec = {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00", **meetings}
    return PanelConfig.model_validate({"id": "masp", "name": "Panel", "meetings": spec})


@st.composite
def panels(draw: st.DrawFn) -> PanelConfig:
    """A valid panel: any of the rules above, its times, a deadline days before, some cancels."""
    cancel = draw(st.lists(st.dates(date(2024, 1, 1), date(2034, 1, 1)), max_size=20))
    spec = {
        "id": "masp",
        "name": "Panel",
        "meetings": {"rrule": draw(RRULES), "time": draw(QUARTER_HOURS), "cancel": cancel},
        # A notice one day before the meeting always comes after a deadline two or more before.
        "deadline": {"days_before": draw(st.integers(2, 20)), "time": draw(QUARTER_HOURS)},
        "slot_notice_days": 1,
    }
    return PanelConfig.model_validate(spec)


def some_meeting(panel: PanelConfig, tz: ZoneInfo, after: datetime) -> Meeting:
    """The panel's first meeting on or after the day of `after`."""
    day = next(iter(meeting_days(panel, after.astimezone(tz).date())))
    return meeting_at(panel, day, tz)


# Up to two months: longer than any gap between two meetings of the rules above.
SPANS = st.timedeltas(timedelta(0), timedelta(days=60))
