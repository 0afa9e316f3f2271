"""What the panel decided on a case, and what is still to do (R13, R14), read from the store.

A case's current decision is its latest; its outstanding actions are that decision's actions
not yet marked done. A review date lists the case at the first meeting on or after it, and at
each later meeting until a decision is recorded for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from pipeline.config import PanelConfig
from pipeline.rules.meetings import review_meeting
from pipeline.states import CaseState
from pipeline.store.models import Action, Case, Decision


@dataclass(frozen=True)
class Review:
    """A decided case due for review at a meeting, with the decision that set the date."""

    case: Case
    decision: Decision

    @property
    def outstanding(self) -> list[Action]:
        return [action for action in self.decision.actions if action.done_at is None]


def latest_decision(session: Session, case_id: int) -> Decision | None:
    """The case's current decision: the one from its most recent meeting."""
    query = select(Decision).where(Decision.case_id == case_id)
    return session.scalars(query.order_by(Decision.meeting.desc(), Decision.id.desc())).first()


def current_decisions(
    session: Session,
    panel_id: str | None = None,
    *,
    states: Sequence[CaseState] = (CaseState.DECIDED,),
    up_to: datetime | None = None,
    by_meeting: bool = False,
) -> Iterator[Decision]:
    """Each case's current decision (its latest, from a meeting no later than `up_to`), for
    cases in `states`: oldest case first, or by panel and meeting with `by_meeting`."""
    latest = select(Decision.case_id, func.max(Decision.meeting).label("meeting"))
    if up_to is not None:
        latest = latest.where(Decision.meeting <= up_to)
    newest = latest.group_by(Decision.case_id).subquery()
    query = (
        select(Decision)
        .join(
            newest,
            (Decision.case_id == newest.c.case_id) & (Decision.meeting == newest.c.meeting),
        )
        .join(Case, Case.id == Decision.case_id)
        .where(Case.state.in_(states))
    )
    if panel_id is not None:
        query = query.where(Decision.panel_id == panel_id)
    order = (Decision.panel_id, Decision.meeting) if by_meeting else ()
    yield from session.scalars(query.order_by(*order, Decision.case_id))


def reviews_at(
    session: Session, panel: PanelConfig, tz: ZoneInfo, starts_at: datetime
) -> list[Review]:
    """The decided cases due for review at this meeting (R14, agenda section 1): those whose
    review date falls to it or to an earlier meeting, with no decision recorded since. A review
    not decided at its meeting (not reached, the workbook lost) carries to the next one until
    it is. A decision made at this very meeting (a corrected workbook) does not list its case
    again.
    """
    found: list[Review] = []
    for decision in current_decisions(session, panel.id):
        if decision.review_date is None or decision.no_further_review or decision.final:
            continue
        if decision.meeting >= starts_at:
            continue
        meeting = review_meeting(panel, tz, decision.review_date)
        if meeting is not None and meeting.starts_at <= starts_at:
            found.append(Review(decision.case, decision))
    return found


def overdue_actions(session: Session, panel_id: str, on: date) -> list[Action]:
    """Outstanding actions of current decisions whose date has passed (listed for the chair),
    most overdue first. Only DECIDED cases' (a closed case's actions are over). One query, its
    decision and case loaded with it: the list can be long after years of reviews."""
    latest = (
        select(Decision.case_id, func.max(Decision.meeting).label("meeting"))
        .group_by(Decision.case_id)
        .subquery()
    )
    query = (
        select(Action)
        .join(Decision, Decision.id == Action.decision_id)
        .join(
            latest,
            (Decision.case_id == latest.c.case_id) & (Decision.meeting == latest.c.meeting),
        )
        .join(Case, Case.id == Decision.case_id)
        .where(
            Case.state == CaseState.DECIDED,
            Decision.panel_id == panel_id,
            Action.done_at.is_(None),
            Action.due < on,
        )
        .options(contains_eager(Action.decision).contains_eager(Decision.case))
        .order_by(Action.due, Case.reference, Action.position)
    )
    return list(session.scalars(query))
