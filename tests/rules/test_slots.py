"""R10 on plain values: who is listed, in what order, and the times the cases get."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.meetings import meeting_at
from pipeline.rules.slots import (
    Break,
    Candidate,
    allocate,
    is_listed,
    local_times,
    next_slots,
    running_order,
    timetable,
)
from pipeline.states import CaseState
from tests.rules.panels import INSTANTS, LONDON, QUARTER_HOURS, ZONES, panels, some_meeting

# Tuesday 13 July 2027, in British Summer Time.
JULY = date(2027, 7, 13)
# Instants around one meeting morning, so that slots and breaks meet.
NINE = datetime(2027, 7, 13, 9, tzinfo=UTC)
NEAR = st.integers(-120, 600).map(lambda minutes: NINE + timedelta(minutes=minutes))
BREAKS = st.lists(st.builds(Break, NEAR, st.integers(1, 240)), max_size=4)
CANDIDATES = st.lists(
    st.builds(
        Candidate,
        st.integers(1, 10_000),
        INSTANTS,
        st.booleans(),
        st.booleans(),
    ),
    max_size=12,
    unique_by=lambda c: c.case_id,
)


def timed_panel(start: str | None = "09:30", length: int = 30) -> PanelConfig:
    spec = {
        "id": "masp",
        "name": "Panel",
        "meetings": {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00"},
        "slots": {"start": start, "length_minutes": length, "breaks": [{"at": "11:00"}]},
    }
    return PanelConfig.model_validate(spec)


def test_who_is_listed() -> None:
    assert is_listed(CaseState.APPROVED, False, "hold")
    assert is_listed(CaseState.SCREENING, True, "hold")
    assert not is_listed(CaseState.DECLINED, True, "list")
    assert not is_listed(CaseState.COMPLETE, False, "hold")
    assert is_listed(CaseState.COMPLETE, False, "list")
    assert is_listed(CaseState.SCREENING, False, "list")
    assert not is_listed(CaseState.INCOMPLETE, False, "list")


def test_the_timetable_is_the_configured_start_and_breaks_in_panel_wall_time() -> None:
    meeting = meeting_at(timed_panel(), JULY, LONDON)
    start, breaks = timetable(timed_panel(), meeting, LONDON)
    assert start == datetime(2027, 7, 13, 8, 30, tzinfo=UTC)
    assert breaks == [Break(datetime(2027, 7, 13, 10, 0, tzinfo=UTC), 15)]
    start, _ = timetable(timed_panel(start=None), meeting, LONDON)
    assert start == meeting.starts_at


def test_a_later_case_gets_the_next_free_slot_after_the_break() -> None:
    meeting = meeting_at(timed_panel(), JULY, LONDON)
    local = [local_times(LONDON, *t) for t in next_slots(timed_panel(), meeting, LONDON, 2, 2)]
    assert local == [
        {"slot_start": "10:30", "slot_end": "11:00"},
        {"slot_start": "11:15", "slot_end": "11:45"},
    ]


@given(NEAR, st.integers(5, 240), BREAKS, st.integers(0, 20))
def test_slots_never_overlap_each_other_or_a_break(
    start: datetime, length: int, breaks: list[Break], count: int
) -> None:
    slots = allocate(start, length, breaks, count)
    assert len(slots) == count
    assert all(end - begin == timedelta(minutes=length) for begin, end in slots)
    assert all(begin >= start for begin, _ in slots)
    assert all(a_end <= b_begin for (_, a_end), (b_begin, _) in pairwise(slots))
    for begin, end in slots:
        assert not any(begin < b.ends_at and end > b.starts_at for b in breaks)


@given(NEAR, st.integers(5, 240), BREAKS, st.integers(0, 12), st.integers(0, 12))
def test_a_later_slot_never_moves_an_earlier_one(
    start: datetime, length: int, breaks: list[Break], given_before: int, more: int
) -> None:
    before = allocate(start, length, breaks, given_before)
    assert allocate(start, length, breaks, given_before + more)[:given_before] == before


@given(panels(), ZONES, INSTANTS, st.integers(0, 10), st.integers(0, 10))
def test_slots_given_in_two_mailings_are_the_times_of_one(
    config: PanelConfig, tz: ZoneInfo, after: datetime, first: int, later: int
) -> None:
    meeting = some_meeting(config, tz, after)
    together = next_slots(config, meeting, tz, 0, first + later)
    apart = next_slots(config, meeting, tz, 0, first) + next_slots(
        config, meeting, tz, first, later
    )
    assert apart == together
    assert all(begin >= meeting.starts_at for begin, _ in together)


@given(CANDIDATES)
def test_the_running_order_is_follow_ups_then_emergencies_then_arrival(
    cases: list[Candidate],
) -> None:
    ordered = running_order(cases)
    assert sorted(c.case_id for c in ordered) == sorted(c.case_id for c in cases)
    ranks = [(not c.follow_up, not c.section20) for c in ordered]
    assert ranks == sorted(ranks)
    for a, b in pairwise(ordered):
        if (a.follow_up, a.section20) == (b.follow_up, b.section20):
            assert a.received_at <= b.received_at


@given(QUARTER_HOURS, QUARTER_HOURS)
def test_local_times_read_the_panel_clock(begin: time, end: time) -> None:
    day = datetime(2027, 1, 12)
    starts = datetime.combine(day, begin, LONDON)
    ends = datetime.combine(day, end, LONDON)
    assert local_times(LONDON, starts.astimezone(UTC), ends.astimezone(UTC)) == {
        "slot_start": f"{begin:%H:%M}",
        "slot_end": f"{end:%H:%M}",
    }
