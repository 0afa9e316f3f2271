"""Which cases wait on their referrer (R6, R8), and what the deadline rules know of one."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.states import AWAITING, CaseState


@dataclass(frozen=True)
class Waiting:
    """What the reminder and cut-off rules need to know of a case: its state, where its
    referrer writes from, and whether it is a Section 20 emergency."""

    state: CaseState
    referrer_email: str
    section20: bool = False

    @property
    def awaiting(self) -> bool:
        """Still waiting for something from the referrer."""
        return self.state in AWAITING
