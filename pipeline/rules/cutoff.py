"""R6 and R7: whether the cut-off moves a case at its deadline, and to which meeting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.config import PanelConfig
from pipeline.documents.kinds import Kind
from pipeline.rules.awaiting import Waiting
from pipeline.rules.meetings import Meeting, next_meeting, target_meeting
from pipeline.states import CaseState

MORE_INFO_MISSING = "the further information asked for at screening"


@dataclass(frozen=True)
class Deferral:
    """The cut-off's decision for one case: the meeting it goes to, and what was missing in
    the words of its flag, the audit trail and the administrator's digest."""

    to: Meeting
    missing: str
    flag: str


def cutoff_applies(case: Waiting, missing: Sequence[Kind]) -> bool:
    """R6 and R7: still waiting at the deadline, and not a Section 20 emergency."""
    if case.section20 or not case.awaiting:
        return False
    return case.state == CaseState.MORE_INFO or bool(missing)


def forward_meeting(panel: PanelConfig, tz: ZoneInfo, meeting: Meeting, now: datetime) -> Meeting:
    """The next meeting; if the service was down past its deadline too, the first still open."""
    following = next_meeting(panel, tz, meeting)
    if following.deadline > now:
        return following
    return target_meeting(panel, tz, now)


def missing_text(case: Waiting, missing: Sequence[Kind]) -> str:
    """What was missing, in the words of the flag and the administrator's digest."""
    parts = [kind.value.replace("_", " ") for kind in missing]
    if case.state == CaseState.MORE_INFO:
        parts.append(MORE_INFO_MISSING)
    return ", ".join(parts)


def deferral(
    case: Waiting,
    missing: Sequence[Kind],
    panel: PanelConfig,
    tz: ZoneInfo,
    meeting: Meeting,
    now: datetime,
) -> Deferral | None:
    """Where the cut-off puts a case at `meeting`'s deadline, or None if it stays."""
    if not cutoff_applies(case, missing):
        return None
    what = missing_text(case, missing)
    flag = f"deferred from {meeting.day.isoformat()}: missing {what}"
    return Deferral(forward_meeting(panel, tz, meeting, now), what, flag)
