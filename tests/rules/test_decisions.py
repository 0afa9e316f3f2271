"""rules.decisions: a filled workbook's grid checked whole, every problem by sheet and cell."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from pipeline.rules.decisions import (
    ACTIONS,
    DECISIONS,
    MEETING,
    CaseDecision,
    Marker,
    Meeting,
    Problem,
    Value,
    read_marker,
    validate,
)
from pipeline.states import Outcome

TODAY = date(2026, 12, 8)
AGENCIES = ("Education", "Health")
FACTS = Meeting(
    {"MASP-2026-0001": "presented", "MASP-2026-0002": "review"},
    {"MASP-2026-0009": "MASP-2026-0009 was not heard at this meeting: it moved"},
)
COLUMNS = "ABCDEFGHIJKLMNOP"


def grid(decisions: list[dict[str, Value]], actions: list[dict[str, Value]] = ()) -> Any:  # type: ignore[assignment]
    sheets: dict[str, dict[tuple[int, int], Value]] = {DECISIONS: {}, ACTIONS: {}}
    for sheet, rows in ((DECISIONS, decisions), (ACTIONS, actions)):
        for n, row in enumerate(rows, start=2):
            for letter, value in row.items():
                sheets[sheet][(n, COLUMNS.index(letter) + 1)] = value
    return sheets


def ok(reference: str = "MASP-2026-0001", **cells: Value) -> dict[str, Value]:
    return {"A": reference, "G": Outcome.ADVICE.value} | cells


LEAD = {"G": Outcome.ACCEPTED.value, "H": "Jo Lead", "J": "jo@example.org"}


@pytest.mark.parametrize(
    ("rows", "actions", "cell", "words"),
    [
        ([ok("MASP-2026-0077")], [], "Decisions!A2", "not a case this meeting may decide"),
        ([ok(), ok()], [], "Decisions!A3", "listed twice"),
        ([ok(G=None)], [], "Decisions!G2", "has no outcome"),
        ([ok(G="Maybe")], [], "Decisions!G2", "is not an outcome"),
        ([ok(G=Outcome.ACCEPTED.value)], [], "Decisions!H2", "needs a Lead Professional"),
        ([ok(**LEAD | {"J": "jo at school"})], [], "Decisions!J2", "not an email address"),
        ([ok(K=date(2026, 12, 1))], [], "Decisions!K2", "before the meeting"),
        ([ok(K="next month")], [], "Decisions!K2", "not a date"),
        ([ok(L="Perhaps")], [], "Decisions!L2", "not Yes or No"),
        ([ok(O="Yes", K=date(2027, 1, 5))], [], "Decisions!K2", "closes"),
        ([ok("MASP-2026-0009")], [], "Decisions!A2", "moved"),
        (
            [ok()],
            [{"A": "MASP-2026-0001", "B": "Call", "E": date(2027, 1, 5)}],
            "Actions!C2",
            "no owner",
        ),
        ([ok()], [{"A": "MASP-2026-0001", "B": "Call", "C": "Jo"}], "Actions!E2", "no date"),
        (
            [ok()],
            [{"A": "MASP-2026-0002", "B": "Call", "C": "Jo", "E": date(2027, 1, 5)}],
            "Actions!A2",
            "not a case decided",
        ),
        (
            [ok()],
            [{"A": "MASP-2026-0001", "B": "Call", "C": "Jo", "E": "soon"}],
            "Actions!E2",
            "not a date",
        ),
    ],
)
def test_each_problem_names_its_cell(
    rows: list[dict[str, Value]], actions: list[dict[str, Value]], cell: str, words: str
) -> None:
    found = validate(grid(rows, actions), FACTS, TODAY, AGENCIES)
    assert all(isinstance(p, Problem) for p in found)
    assert any(p.cell == cell and words in p.problem for p in found if isinstance(p, Problem)), (
        found
    )


def test_a_good_workbook_gives_the_decisions_with_their_actions() -> None:
    rows = [
        ok(**LEAD | {"I": "education", "K": "02/02/2027", "M": "Yes"}),
        ok("MASP-2026-0002", O="Yes"),
    ]
    actions: list[dict[str, Value]] = [
        {
            "A": "masp-2026-0001",
            "B": "Share the plan",
            "C": "Jo",
            "D": "health",
            "E": date(2027, 1, 5),
            "F": "No",
        }
    ]
    found = validate(grid(rows, actions), FACTS, TODAY, AGENCIES)
    first, second = found
    assert isinstance(first, CaseDecision) and isinstance(second, CaseDecision)
    assert first.lead_agency == "Education" and first.review_date == date(2027, 2, 2) and first.larp
    assert [(a.text, a.agency, a.done) for a in first.actions] == [
        ("Share the plan", "Health", False)
    ]
    assert second.closes and second.heard_as == "review" and not second.actions


def test_problems_are_all_reported_at_once() -> None:
    rows = [ok(G=None, L="maybe"), ok("MASP-2026-0002", J="nobody")]
    assert len(validate(grid(rows), FACTS, TODAY, AGENCIES)) == 3


def test_the_meeting_marker() -> None:
    instant = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    marker = {
        MEETING: {
            (1, 1): "Panel",
            (1, 2): "masp",
            (2, 1): "Meeting",
            (2, 2): instant.isoformat(),
            (3, 1): "Workbook",
            (3, 2): "4",
        }
    }
    assert read_marker(marker) == Marker("masp", instant, 4)
    assert isinstance(read_marker({}), Problem)
    damaged = {MEETING: {**marker[MEETING], (2, 2): "tomorrow"}}
    assert read_marker(damaged) == Problem(
        "Meeting!B1", "the meeting marker is damaged: use the workbook we sent"
    )


def test_a_case_not_heard_left_blank_is_skipped_and_filled_in_is_refused() -> None:
    """Its reference is locked, so its row cannot be deleted: blank, it is simply skipped."""
    blank: dict[str, Value] = {"A": "MASP-2026-0009", "F": "presented", "L": "No"}
    found = validate(grid([ok(), blank]), FACTS, TODAY, AGENCIES)
    assert [d.reference for d in found if isinstance(d, CaseDecision)] == ["MASP-2026-0001"]
    filled = validate(grid([ok(), blank | {"P": "moved"}]), FACTS, TODAY, AGENCIES)
    [problem] = filled
    assert isinstance(problem, Problem) and problem.cell == "Decisions!A3"
    assert "moved" in problem.problem and "clear the cells filled in on its row" in problem.problem
    action: dict[str, Value] = {
        "A": "MASP-2026-0009",
        "B": "Call",
        "C": "Jo",
        "E": date(2027, 1, 5),
    }
    named = validate(grid([ok(), blank], [action]), FACTS, TODAY, AGENCIES)
    assert {p.cell for p in named if isinstance(p, Problem)} == {"Decisions!A3", "Actions!A2"}


def test_dates_are_checked_against_the_meeting_day_and_prefilled_actions_kept_open() -> None:
    """An overdue review action kept open with its pre-filled date is no mistake; a new open
    action dated before the meeting is."""
    facts = replace(FACTS, prefilled=frozenset({("MASP-2026-0002", date(2026, 11, 30))}))
    kept: dict[str, Value] = {
        "A": "MASP-2026-0002",
        "B": "Book",
        "C": "Jo",
        "E": date(2026, 11, 30),
        "F": "No",
    }
    rows = [ok(), ok("MASP-2026-0002", O="Yes")]
    found = validate(grid(rows, [kept]), facts, TODAY, AGENCIES)
    assert all(isinstance(d, CaseDecision) for d in found), found
    new = kept | {"E": date(2026, 12, 1)}
    [problem] = validate(grid(rows, [new]), facts, TODAY, AGENCIES)
    assert isinstance(problem, Problem) and problem.cell == "Actions!E2"
    assert "before the meeting" in problem.problem


def checked(row: dict[str, Value]) -> tuple[CaseDecision, ...] | tuple[Problem, ...]:
    cells: dict[str, Value] = {"A": "MASP-2026-0001", **row}
    return validate(grid([cells]), FACTS, TODAY, AGENCIES)


@pytest.mark.parametrize(
    ("row", "cell", "says"),
    [
        # Accepted, or deferred, with nothing to come back for.
        (LEAD, "K", "give a review date"),
        ({"G": Outcome.MORE_INFO.value}, "K", "hear it again"),
        # No further panel review, and nobody to ask for the outcomes.
        ({"G": Outcome.ADVICE.value, "L": "Yes"}, "J", "Lead Professional's email"),
        ({"G": Outcome.ADVICE.value, "L": "Yes", "J": "jo@example.org", "K": date(2027, 3, 2)},
         "L", "keep one"),
    ],
)  # fmt: skip
def test_every_decision_says_what_happens_next(row: dict[str, Value], cell: str, says: str) -> None:
    problems = checked(row)
    assert any(
        isinstance(p, Problem) and p.cell == f"Decisions!{cell}2" and says in p.problem
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("row", "closes"),
    [
        ({"G": Outcome.NOT_ACCEPTED.value}, True),
        ({"G": Outcome.SIGNPOSTED.value}, True),
        ({"G": Outcome.ADVICE.value}, True),
        ({"G": Outcome.ADVICE.value, "K": date(2027, 3, 2)}, False),
        ({"G": Outcome.ADVICE.value, "L": "Yes", "J": "jo@example.org"}, False),
        (LEAD | {"K": date(2027, 3, 2)}, False),
        (LEAD | {"O": "Yes"}, True),
    ],
)  # fmt: skip
def test_an_outcome_that_ends_the_panels_part_closes_the_case(
    row: dict[str, Value], closes: bool
) -> None:
    [decision] = checked(row)
    assert isinstance(decision, CaseDecision) and decision.closes is closes
