"""A Service Manager's screening queue: the cases they were asked to screen (R9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pipeline.rules.identifiers import initials
from pipeline.store.models import Case, ScreeningRequest
from pipeline.web.guard import Pages, Visit
from pipeline.web.users import Role, User

pages = Pages()


@dataclass(frozen=True)
class Asked:
    reference: str
    initials: str
    state: str
    manager: str
    sent_at: datetime
    # The answer given (approve, decline, more information), or None while waiting.
    decision: str | None


def queue(session: Session, user: User) -> list[Asked]:
    """The requests to screen: a Service Manager's own; every one for an administrator."""
    query = (
        select(ScreeningRequest, Case)
        .join(Case, Case.id == ScreeningRequest.case_id)
        .order_by(ScreeningRequest.used_at.is_not(None), ScreeningRequest.sent_at)
    )
    if user.role == Role.SERVICE_MANAGER:
        query = query.where(ScreeningRequest.manager_email == user.email)
    found = []
    for request, case in session.execute(query):
        name = (case.fields or {}).get("child_name")
        found.append(
            Asked(
                case.reference,
                initials(name if isinstance(name, str) else None),
                case.state.value,
                request.manager_email,
                request.sent_at,
                request.decision,
            )
        )
    return found


@pages.get("/screening", {Role.ADMINISTRATOR, Role.SERVICE_MANAGER}, nav="Screening")
def screening_page(visit: Visit) -> Response:
    with visit.app.store.reading() as session:
        asked = queue(session, visit.user)
    return visit.render("screening.html", asked=asked)
