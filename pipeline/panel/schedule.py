"""The list of job sources `masp tick` consults: one place to see every time-based job."""

from __future__ import annotations

from pipeline.panel.jobs import JobSource

# Each source module adds itself here as it is built (reminders, cut-off, screening,
# timeslots, packs); the order does not matter, because jobs run in order of their time.
SOURCES: list[JobSource] = []
