"""The list of job sources `masp tick` consults: one place to see every time-based job."""

from __future__ import annotations

from pipeline.jobs import JobSource
from pipeline.outputs.convert import conversion_jobs
from pipeline.panel.cutoff import cutoff_jobs
from pipeline.panel.decisions.chase import chase_jobs
from pipeline.panel.decisions.followup import follow_up_jobs
from pipeline.panel.decisions.sheets import sheet_jobs
from pipeline.panel.decisions.workbook import workbook_jobs
from pipeline.panel.digest import attendance_jobs, digest_jobs
from pipeline.panel.distribute import pack_jobs
from pipeline.panel.release import waiting_jobs
from pipeline.panel.reminders import reminder_jobs
from pipeline.panel.retention import retention_jobs
from pipeline.panel.screening.jobs import screening_jobs
from pipeline.panel.slots import slot_jobs
from pipeline.panel.unheard import unheard_jobs

# Every time-based job of the panel cycle. The order here does not matter: jobs run in
# order of their due time, then of their key (so a cut-off precedes that meeting's digest).
SOURCES: list[JobSource] = [
    attendance_jobs,
    conversion_jobs,
    reminder_jobs,
    cutoff_jobs,
    digest_jobs,
    follow_up_jobs,
    screening_jobs,
    slot_jobs,
    pack_jobs,
    waiting_jobs,
    workbook_jobs,
    retention_jobs,
    unheard_jobs,
    sheet_jobs,
    chase_jobs,
]
