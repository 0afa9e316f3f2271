"""The one seam for time: every 'now' in the service comes from a Clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Clock:
    """Returns the current time, or a fixed time when `--now` / `MASP_NOW` is given.

    A fixed clock still advances with wall time from the moment it was set, so a long
    `masp run --now ...` behaves like a real service started at that moment.
    """

    fixed: datetime | None = None
    started: datetime | None = None

    @classmethod
    def system(cls) -> Clock:
        return cls()

    @classmethod
    def frozen_at(cls, when: datetime) -> Clock:
        if when.tzinfo is None:
            raise ValueError("a clock time must carry a time zone offset")
        return cls(fixed=when.astimezone(UTC), started=None)

    @classmethod
    def starting_at(cls, when: datetime) -> Clock:
        if when.tzinfo is None:
            raise ValueError("a clock time must carry a time zone offset")
        return cls(fixed=when.astimezone(UTC), started=datetime.now(UTC))

    def now(self) -> datetime:
        """The current instant, always timezone-aware UTC."""
        if self.fixed is None:
            return datetime.now(UTC)
        if self.started is None:
            return self.fixed
        return self.fixed + (datetime.now(UTC) - self.started)
