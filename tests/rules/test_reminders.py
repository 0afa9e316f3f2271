"""R8 on plain values: when a referrer is reminded, and when one must not be."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import RemindersConfig
from pipeline.documents.kinds import Kind
from pipeline.rules.awaiting import Waiting
from pipeline.rules.reminders import Moment, reminder_blocked, reminder_moments, reminders_due
from pipeline.states import CaseState
from tests.rules.panels import INSTANTS, LONDON, QUARTER_HOURS, SPANS, ZONES

# Tuesday 1 December 2026, noon GMT: the December meeting's deadline.
DEADLINE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULT = RemindersConfig()
REFERRER = "jo@school.example.org"
MISSING = [Kind.CHRONOLOGY]

SETTINGS = st.builds(
    RemindersConfig,
    hours_before=st.lists(st.integers(-12, 400), max_size=5).map(tuple),
    deadline_day_time=st.none() | QUARTER_HOURS,
)


def test_the_default_moments_are_72h_24h_and_the_morning_of_the_deadline() -> None:
    assert reminder_moments(DEFAULT, LONDON, DEADLINE) == [
        Moment("72h", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        Moment("24h", datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
        Moment("deadline-day", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
    ]


def test_the_morning_of_the_deadline_is_panel_wall_time() -> None:
    summer = datetime(2027, 7, 6, 11, 0, tzinfo=UTC)
    [*_, morning] = reminder_moments(DEFAULT, LONDON, summer)
    assert morning == Moment("deadline-day", datetime(2027, 7, 6, 8, 0, tzinfo=UTC))
    # Noon in New York is 17:00 UTC, and 09:00 there 14:00 UTC.
    new_york = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    [*_, morning] = reminder_moments(DEFAULT, ZoneInfo("America/New_York"), new_york)
    assert morning.at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_a_moment_at_or_after_the_deadline_is_dropped_and_a_repeated_one_kept_once() -> None:
    late = RemindersConfig(hours_before=(0, 24, 3), deadline_day_time=time(13, 0))
    assert [m.name for m in reminder_moments(late, LONDON, DEADLINE)] == ["24h", "3h"]
    same = RemindersConfig(hours_before=(3,), deadline_day_time=time(9, 0))
    [moment] = reminder_moments(same, LONDON, DEADLINE)
    assert moment.at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_reminders_due_skip_moments_before_the_referral_and_go_stale_at_the_next() -> None:
    received = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    due = reminders_due(DEFAULT, LONDON, DEADLINE, received)
    assert [d.moment.name for d in due] == ["24h", "deadline-day"]
    assert [d.stale_after for d in due] == [due[1].moment.at, DEADLINE]
    # Received on the deadline's morning, after its last moment: no reminder, and no error.
    morning = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert reminders_due(DEFAULT, LONDON, DEADLINE, morning) == []


def test_a_waiting_referrer_may_be_reminded() -> None:
    assert reminder_blocked(Waiting(CaseState.INCOMPLETE, REFERRER), MISSING, ["referral"]) is None
    assert reminder_blocked(Waiting(CaseState.MORE_INFO, REFERRER), [], ["referral"]) is None


def test_why_a_referrer_is_not_reminded() -> None:
    case = Waiting(CaseState.INCOMPLETE, REFERRER)
    assert (
        reminder_blocked(Waiting(CaseState.APPROVED, REFERRER), MISSING, [])
        == "the case is approved"
    )
    assert reminder_blocked(case, [], ["referral"]) == "nothing is missing"
    robot = Waiting(CaseState.INCOMPLETE, "no-reply@school.example.org")
    assert "no-reply" in (reminder_blocked(robot, MISSING, ["referral"]) or "")
    only_machines = reminder_blocked(case, MISSING, ["auto_reply", "bounce", "auto_reply"])
    assert only_machines == "only automatic mail has come from this referrer"
    assert reminder_blocked(case, MISSING, ["bounce", "referral"]) is None


def test_auto_responders_and_no_reply_addresses_are_not_reminded() -> None:
    case = Waiting(state=CaseState.INCOMPLETE, referrer_email="jo@school.example.org")
    assert reminder_blocked(case, [Kind.CHRONOLOGY], ["referral"]) is None
    assert reminder_blocked(case, [], ["referral"]) == "nothing is missing"
    assert reminder_blocked(case, [Kind.CHRONOLOGY], ["auto_reply", "bounce"]) is not None
    assert reminder_blocked(case, [Kind.CHRONOLOGY], ["referral", "auto_reply"]) is None
    for address in ("noreply@school.example.org", "MAILER-DAEMON@school.example.org"):
        robot = Waiting(state=CaseState.INCOMPLETE, referrer_email=address)
        assert "no-reply" in (reminder_blocked(robot, [Kind.CHRONOLOGY], ["referral"]) or "")
    approved = Waiting(state=CaseState.APPROVED, referrer_email="jo@x.org")
    assert reminder_blocked(approved, [], []) is not None


@given(SETTINGS, ZONES, INSTANTS)
def test_moments_are_strictly_before_the_deadline_in_order_and_unique(
    settings: RemindersConfig, tz: ZoneInfo, deadline: datetime
) -> None:
    moments = reminder_moments(settings, tz, deadline)
    instants = [m.at for m in moments]
    assert all(at < deadline for at in instants)
    assert instants == sorted(set(instants))
    names = {f"{h}h" for h in settings.hours_before} | {"deadline-day"}
    assert {m.name for m in moments} <= names


@given(SETTINGS, ZONES, INSTANTS, SPANS)
def test_each_due_reminder_is_after_the_referral_and_stale_when_the_next_is_due(
    settings: RemindersConfig, tz: ZoneInfo, deadline: datetime, before: timedelta
) -> None:
    received = deadline - before
    due = reminders_due(settings, tz, deadline, received)
    assert all(received < d.moment.at < d.stale_after for d in due)
    if due:
        assert [d.stale_after for d in due] == [d.moment.at for d in due[1:]] + [deadline]
