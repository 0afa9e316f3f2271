"""R9: which cases go to the Service Managers, which replies may decide one, what a decision does.

Pure functions of plain values: they decide, the steps in `panel/screening` act on the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.states import ADMINISTRATOR_MAY_SCREEN, AWAITING_SCREENING, CaseState, Verdict


@dataclass(frozen=True)
class Outcome:
    """What a decision does to a case: its new state and, when it is no longer to be heard
    (for now), the email that tells the referrer so (a slot it was given is taken back)."""

    state: CaseState
    referrer_template: str | None = None


# Keyed by Verdict; a StrEnum, so the string a request stores finds its outcome too.
OUTCOMES: Mapping[str, Outcome] = {
    Verdict.APPROVE: Outcome(CaseState.APPROVED),
    Verdict.DECLINE: Outcome(CaseState.DECLINED, "declined"),
    Verdict.MORE_INFO: Outcome(CaseState.MORE_INFO, "more_information"),
}


def outcome(verb: str) -> Outcome:
    """What the decision `verb` (approve, decline, more_info) does; KeyError for any other."""
    return OUTCOMES[verb]


def ready_to_screen(
    state: CaseState,
    missing: Collection[str],
    asked_at: datetime | None,
    received: Iterable[datetime],
) -> bool:
    """Complete, or asked for more information and since sent documents that complete it.

    `missing` is what the documents still lack, `asked_at` when a manager last decided (asked
    for more), `received` when each of the case's documents arrived.
    """
    if state == CaseState.COMPLETE:
        return True
    if state != CaseState.MORE_INFO or missing:
        return False
    return asked_at is None or any(at > asked_at for at in received)


def administrator_refusal(state: CaseState) -> str | None:
    """Why `masp screen` cannot decide a case in this state, or None when it can."""
    if state in ADMINISTRATOR_MAY_SCREEN:
        return None
    return f"the case is {state}; only a complete referral can be screened"


# A co-opted agency is kept on its case as a flag: this, then the agency ("co-opt:Housing").
COOPT_PREFIX = "co-opt:"


def coopt_flags(flags: Sequence[str], coopt: Iterable[str]) -> list[str]:
    """The case's flags, then a `co-opt:<agency>` flag for each co-opted agency it lacks."""
    added = [f"{COOPT_PREFIX}{agency}" for agency in coopt]
    return [*flags, *(flag for flag in added if flag not in flags)]


def coopted_agencies(flags: Iterable[object]) -> tuple[str, ...]:
    """The agencies co-opted for a case, lower case and each once, from its flags: as
    `coopt_flags` writes them, or as a person wrote one ("co-opt: Housing, Police"); any
    other flag is ignored."""
    found: list[str] = []
    for flag in flags:
        if isinstance(flag, str) and flag.strip().lower().startswith(COOPT_PREFIX):
            rest = flag.strip()[len(COOPT_PREFIX) :]
            found += [a.strip().lower() for a in rest.replace(";", ",").split(",") if a.strip()]
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class ClaimedRequest:
    """A screening request as a reply's check sees it: its case, the manager it went to
    (lower case), whether a decision was recorded on it, whether it is closed, and the state
    its case is in now."""

    case_id: int
    manager_email: str
    decided: bool
    closed: bool
    # An open request's case is being screened; older databases can hold an open request on a
    # case closed since (the purge did not always close its requests).
    case_state: CaseState = CaseState.SCREENING


def reply_refusal(
    sender: str,
    thread_case: int | None,
    requests: Sequence[ClaimedRequest] | None,
    managers: Collection[str],
) -> str | None:
    """Why a reply claiming to answer `requests` must not count, or None when it decides.

    `sender` is the reply's From address (lower case), `thread_case` the case its thread is
    about (if any), `requests` the requests its tokens and thread name (None when a token is
    forged or unknown), `managers` the configured managers' addresses (lower case).
    """
    if not requests:
        return "bad token"
    cases = {r.case_id for r in requests}
    if len(cases) > 1 or (thread_case is not None and thread_case != requests[0].case_id):
        return "other case"
    if len(requests) > 1:
        return "bad token"
    request = requests[0]
    # A manager since removed from the configuration decides nothing.
    if sender != request.manager_email or sender not in managers:
        return "forged sender"
    if request.decided:
        return "replayed"
    if request.closed:
        return "already decided"
    # A decision moves only a case still awaiting one: a closed case stays closed.
    if request.case_state not in AWAITING_SCREENING:
        return f"the case is {request.case_state}: no longer awaiting screening"
    return None
