"""R5: how intake files an email that is not a screening or attendance reply — held for the
administrator, kept on a closed case, read for its documents, or answered for having none."""

from __future__ import annotations

from enum import Enum

from pipeline.states import OVER, CaseState


class Route(Enum):
    """What filing does with an email."""

    # It quoted a case's reference without standing, or came on a held case.
    HELD = "held"
    # It came on a case that is over (dismissed, or closed with no meeting), or one already
    # heard and decided (R13): a person reads it, nothing answers it.
    CLOSED = "closed"
    # It brings attachments: a new referral, or documents for its case.
    DOCUMENTS = "documents"
    # Nothing attached: a new sender is helped to refer, a reply goes to a person.
    NO_DOCUMENTS = "no_documents"


def route(quoted: bool, state: CaseState | None, has_meeting: bool, has_attachments: bool) -> Route:
    """Where an email goes: `quoted` when it named a case it has no standing on, `state` its
    case's (None when it belongs to none), `has_meeting` whether that case is listed for one."""
    if quoted or state == CaseState.HELD:
        return Route.HELD
    if state is not None and (not has_meeting or state in OVER):
        return Route.CLOSED
    if has_attachments:
        return Route.DOCUMENTS
    return Route.NO_DOCUMENTS
