"""R7 when the meeting time or the cancelled dates change: a meeting that took place keeps the
cases it heard, and a meeting moved more than once moves its cases every time.

Driven through `tick` on the maildir back-end, as tests/panel/test_stranded.py drives the rest
of R7.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.store.models import Case, Slot
from tests.helpers import config_tree, drop, open_service
from tests.panel.test_reminders import RECEIVED, tick_at
from tests.panel.test_screening import SCHOOL, referral
from tests.panel.test_slots import ics_of
from tests.panel.test_stranded import (
    ADMIN,
    CANCEL_DECEMBER,
    DEC_NOTICE,
    DECEMBER,
    admin_notices,
    approve,
    carried,
    moved_mail,
    to,
)


def timed(time: str) -> dict[str, Any]:
    """Config overrides: the panel as usual, meeting at `time`."""
    panel = config_tree()["panels"][0]
    panel["meetings"]["time"] = time
    return {"panels": [panel]}


def slotted(folder: Path) -> None:
    """One referral for 8 December, approved and given its timeslot (10:00 to 10:30)."""
    app = open_service(folder, RECEIVED)
    drop(app, referral(), RECEIVED)
    poll(app)
    app.close()
    tick_at(folder, RECEIVED + timedelta(hours=1)).close()
    approve(folder, RECEIVED + timedelta(hours=2))
    tick_at(folder, DEC_NOTICE).close()


def meeting_of(app: App) -> datetime:
    with app.store.session() as session:
        meeting = session.scalars(select(Case)).one().meeting
    assert meeting is not None
    return meeting


AFTERWARDS = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("changed", [timed("09:30"), CANCEL_DECEMBER], ids=["time", "cancel"])
def test_a_changed_configuration_leaves_a_heard_case_on_its_meeting(
    tmp_path: Path, changed: dict[str, Any]
) -> None:
    slotted(tmp_path)
    tick_at(tmp_path, DECEMBER + timedelta(hours=3)).close()
    app = tick_at(tmp_path, AFTERWARDS, times=2, **changed)
    assert meeting_of(app) == DECEMBER
    assert moved_mail(app, SCHOOL.referrer_email) == []
    assert admin_notices(app) == [] and carried(app) == []
    # The timeslot stands, and no calendar file takes back an event that took place.
    assert not any("METHOD:CANCEL" in ics_of(s) for s in to(app, SCHOOL.referrer_email) if _ics(s))
    with app.store.session() as session:
        assert [s.meeting for s in session.scalars(select(Slot))] == [DECEMBER]
    app.close()


def _ics(mail: Any) -> bool:
    return any(p.get_content_type() == "text/calendar" for p in mail.message.walk())


def test_a_meeting_retimed_and_back_and_again_moves_its_case_each_time(tmp_path: Path) -> None:
    slotted(tmp_path)
    steps = [
        ("14:00", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        ("10:00", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),
        ("14:00", datetime(2026, 12, 4, 15, 0, tzinfo=UTC)),
    ]
    for time, now in steps:
        app = tick_at(tmp_path, now, times=2, **timed(time))
        hour, minute = map(int, time.split(":"))
        assert meeting_of(app) == DECEMBER.replace(hour=hour, minute=minute), time
        app.close()


def test_a_meeting_retimed_on_its_day_keeps_its_cases_and_says_so(tmp_path: Path) -> None:
    # The meeting of 8 December moves from 10:00 to 14:00, four days ahead: the case was not
    # "not heard", it follows its meeting, and its referrer is told the new time in one email.
    slotted(tmp_path)
    app = tick_at(tmp_path, datetime(2026, 12, 4, 9, 0, tzinfo=UTC), times=2, **timed("14:00"))
    assert meeting_of(app) == DECEMBER.replace(hour=14)
    mail = [s for s in to(app, SCHOOL.referrer_email) if "14:00" in s.subject]
    [told] = [s for s in mail if "now starts at" in s.subject]
    assert "not heard" not in told.text() and "moved to the" not in told.subject
    text = " ".join(told.text().split())
    assert "now starts at 14:00 instead of 10:00" in text and "10:00 to 10:30" in text
    assert "METHOD:CANCEL" in ics_of(told)
    assert moved_mail(app, SCHOOL.referrer_email) == []
    [admin] = [s for s in to(app, ADMIN) if "now starts at" in s.subject]
    assert admin_notices(app) == [] and "not heard" not in admin.text()
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert not any(flag.startswith("moved from") for flag in case.flags)
        # Its new time at the meeting is offered at once, the slot notice having gone.
        assert [s.starts_at for s in session.scalars(select(Slot))] == [DECEMBER.replace(hour=14)]
    [*_, offer] = [s for s in to(app, SCHOOL.referrer_email) if "your timeslot" in s.subject]
    assert "DTSTART:20261208T140000Z" in ics_of(offer)
    app.close()
