"""R14's pure rules: when the follow-up is due, whose reply counts, and names kept out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pipeline.rules.followup import ClaimedFollowUp, follow_up_due, reply_refusal
from pipeline.rules.identifiers import without_name

LONDON = ZoneInfo("Europe/London")


def test_due_at_nine_local_time_weeks_after_the_meeting() -> None:
    # 12 weeks after 10 March 2026 is 2 June, in British Summer Time: 08:00 UTC.
    due = follow_up_due(date(2026, 3, 10), 12, LONDON)
    assert due.astimezone(UTC) == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


def test_only_the_lead_professional_about_that_case_counts() -> None:
    claim = [ClaimedFollowUp(7, "lead@example.org")]
    assert reply_refusal("lead@example.org", None, claim) is None
    assert reply_refusal("lead@example.org", 7, claim) is None
    assert reply_refusal("other@example.org", 7, claim) == (
        "not from the Lead Professional the request went to"
    )
    assert reply_refusal("lead@example.org", 8, claim) == "other case"
    assert reply_refusal("lead@example.org", None, None) == "bad token"
    two = [*claim, ClaimedFollowUp(9, "lead@example.org")]
    assert reply_refusal("lead@example.org", None, two) == "other case"


def test_the_childs_name_is_taken_out_of_free_text() -> None:
    text = "Call Robin's mum; ROBIN TESTCASE at school; Robinson Road"
    assert without_name(text, "Robin Testcase") == "Call R.'s mum; R. T. at school; Robinson Road"
    assert without_name("No name here", None) == "No name here"
