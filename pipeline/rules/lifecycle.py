"""A case's lifecycle: which moves between its states are legal, and why, written once."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.errors import IllegalTransition
from pipeline.states import CaseState

# Short, so that the table reads as one line per move.
S = CaseState
SCREENED = "the administrator screened it (`masp screen`)"
RESCREENED = "the administrator screened it again (`masp screen`)"
ANSWERED = "a Service Manager's answer, or the administrator's, decided it (R9)"
DECIDED = "heard at its meeting: the panel's decision was recorded (R13)"
HEARD_UNSCREENED = (
    "heard before its screening ended (a Section 20 emergency, or listed unscreened): the "
    "panel's decision was recorded (R7, R13)"
)
PURGED = "nothing happened to it for the retention period: the purge closed it"
WITHDRAWN = "the administrator withdrew it before it was heard, its referrer told (R17)"
CLOSED_BY_ADMINISTRATOR = "the administrator closed it, its referrer told (R17)"

# From each state (None: the case does not exist yet), the states it may move to, each with
# why. Staying in the same state is not a move, and is always allowed.
TRANSITIONS: Mapping[CaseState | None, Mapping[CaseState, str]] = {
    None: {
        S.INCOMPLETE: "an email brought a referral: its case waits for the documents (R4)",
        S.HELD: "an email quoted another case's reference without standing to (R5)",
    },
    S.INCOMPLETE: {
        S.COMPLETE: "the documents it lacked came in (R4)",
        S.CLOSED: (
            f"attached to the case it belongs to (R17), {CLOSED_BY_ADMINISTRATOR}, or {PURGED}"
        ),
        S.DECIDED: (
            "a Section 20 emergency heard before its documents were all in: the panel's "
            "decision was recorded (R7, R13)"
        ),
        S.WITHDRAWN: WITHDRAWN,
    },
    S.COMPLETE: {
        S.INCOMPLETE: "a newer document or form means something is missing again (R4)",
        S.SCREENING: "its screening requests went to the Service Managers (R9)",
        S.APPROVED: SCREENED,
        S.DECLINED: SCREENED,
        S.MORE_INFO: SCREENED,
        S.CLOSED: (
            f"attached to the case it belongs to (R17), {CLOSED_BY_ADMINISTRATOR}, or {PURGED}"
        ),
        S.DECIDED: HEARD_UNSCREENED,
        S.WITHDRAWN: WITHDRAWN,
    },
    S.SCREENING: {
        S.APPROVED: ANSWERED,
        S.DECLINED: ANSWERED,
        S.MORE_INFO: ANSWERED,
        S.CLOSED: f"{CLOSED_BY_ADMINISTRATOR}, or {PURGED}",
        S.DECIDED: HEARD_UNSCREENED,
        S.WITHDRAWN: WITHDRAWN,
    },
    S.MORE_INFO: {
        S.SCREENING: "what the manager asked for came in: it is screened again (R9)",
        S.APPROVED: SCREENED,
        S.DECLINED: SCREENED,
        S.CLOSED: f"{CLOSED_BY_ADMINISTRATOR}, or {PURGED}",
        S.DECIDED: HEARD_UNSCREENED,
        S.WITHDRAWN: WITHDRAWN,
    },
    S.APPROVED: {
        S.DECLINED: RESCREENED,
        S.MORE_INFO: RESCREENED,
        S.DECIDED: DECIDED,
        S.WITHDRAWN: WITHDRAWN,
        S.CLOSED: CLOSED_BY_ADMINISTRATOR,
    },
    S.DECLINED: {
        S.APPROVED: RESCREENED,
        S.MORE_INFO: RESCREENED,
        S.WITHDRAWN: WITHDRAWN,
        S.CLOSED: CLOSED_BY_ADMINISTRATOR,
    },
    S.HELD: {
        S.INCOMPLETE: "the administrator released it as a referral of its own (R17)",
        S.CLOSED: f"the administrator attached or dismissed it (R17), or {PURGED}",
    },
    S.DECIDED: {
        S.CLOSED: (
            "a final review closed it, or with no further panel review the Lead Professional's "
            "outcomes came in (R14), or the administrator closed it (R17)"
        ),
    },
    S.CLOSED: {},
    S.WITHDRAWN: {},
}
# The states a case is created in.
INITIAL = frozenset(TRANSITIONS[None])
# The states with no way out.
TERMINAL = frozenset(state for state, out in TRANSITIONS.items() if state is not None and not out)


def check(old: str | None, new: str, *, reference: str | None = None) -> str:
    """Why a case may move from `old` (None: a new case) to `new`; IllegalTransition if not."""
    try:
        before, after = None if old is None else CaseState(old), CaseState(new)
    except ValueError:
        # A string no member carries is no state the table knows: nothing may move to or from it.
        raise IllegalTransition(old, new, reference=reference) from None
    if before is not None and before == after:
        return "no change"
    why = TRANSITIONS[before].get(after)
    if why is None:
        raise IllegalTransition(old, new, reference=reference)
    return why
