"""A panel whose timeslot notice would fall before its document deadline (or at the meeting
itself) is refused at load, naming the key; a fortnightly group with a 7-day deadline is fine."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import parse_config
from pipeline.errors import ConfigError
from pipeline.rules.meetings import upcoming
from tests.helpers import config_tree

ROOT = Path(__file__).resolve().parents[1]


def masg(**changes: Any) -> dict[str, Any]:
    """A fortnightly locality group: Wednesdays at 13:30, documents by noon a week before."""
    panel: dict[str, Any] = {
        "id": "masg-north",
        "name": "MASG North",
        "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "time": "13:30"},
        "deadline": {"days_before": 7, "time": "12:00"},
        "slot_notice_days": 5,
    }
    for key, value in changes.items():
        if value is None:
            del panel[key]
        elif isinstance(value, dict):
            panel[key] = {**panel[key], **value}
        else:
            panel[key] = value
    return panel


def two_panels(**changes: Any) -> dict[str, Any]:
    return config_tree(panels=[config_tree()["panels"][0], masg(**changes)])


def test_a_fortnightly_group_with_a_week_to_send_documents_is_accepted() -> None:
    config = parse_config(two_panels(), ROOT, env={})
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    meetings = upcoming(config.panels[1], config.tz, now, 6)
    assert [(b.starts_at - a.starts_at).days for a, b in itertools.pairwise(meetings)] == [14] * 5
    for meeting in meetings:
        # Each meeting's notice follows its own deadline; the next meeting's deadline may
        # come before this one meets (the windows overlap), which nothing depends on.
        assert meeting.deadline < meeting.slot_notice < meeting.starts_at


@pytest.mark.parametrize(
    "changes",
    [
        # The notice a week and a half before, the deadline a week before.
        {"slot_notice_days": 10},
        # Documents only 3 days before, but timeslots 5 days before.
        {"deadline": {"days_before": 3}},
        # The same, with the notice left at its default of 5 days.
        {"deadline": {"days_before": 3}, "slot_notice_days": None},
        # The same day: the notice at the meeting's time (10:00) comes before noon.
        {"deadline": {"days_before": 5}, "meetings": {"time": "10:00"}},
        # No notice at all: the timeslots would go as the meeting begins.
        {"slot_notice_days": 0},
    ],
)
def test_a_notice_before_the_deadline_is_refused_naming_the_key(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(two_panels(**changes), ROOT, env={})
    assert caught.value.key == "panels[1].slot_notice_days"
    assert "panels[1].slot_notice_days" in str(caught.value)


def test_the_message_says_what_to_change() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(two_panels(deadline={"days_before": 3}), ROOT, env={})
    message = str(caught.value)
    assert "timeslot notice" in message and "deadline" in message
    assert "5 days before" in message and "3 days before" in message


def test_a_notice_on_deadline_day_after_the_deadline_time_is_accepted() -> None:
    # Deadline noon five days before; the notice at the meeting's time, 13:30, that same day.
    parse_config(two_panels(deadline={"days_before": 5}), ROOT, env={})


def test_check_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(two_panels(deadline={"days_before": 3}, slot_notice_days=None)))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "panels[1].slot_notice_days" in result.stdout + result.stderr
