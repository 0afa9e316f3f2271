"""Time-based jobs: what is due, decided from the database and the clock, done exactly once.

A *job source* is a function of (app, session, now) that lists the jobs the panel's state
calls for — reminders, cut-offs, screening requests, timeslot notices, packs. Sources decide;
a job's `action` acts. `run_due` commits each action together with a `JobRun` row keyed by
the job's unique key, so `masp tick` run twice, or late after an outage, does each thing once,
and a job whose moment has passed (`stale_after`) is recorded as skipped, never done late.

Several workers may tick at once (`masp run` on two machines): each job's transaction first
takes the job's lock (`store.locks.try_transaction_lock`), so a job another worker is doing
right now is left to it, and the unique key refuses a second run of a job already done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Concatenate, ParamSpec

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.errors import Stopped, describe_failure
from pipeline.store.locks import try_transaction_lock
from pipeline.store.models import JobRun

log = logging.getLogger(__name__)

Action = Callable[[App, Session], None]
P = ParamSpec("P")


def bind(
    step: Callable[Concatenate[App, Session, P], object], *args: P.args, **kw: P.kwargs
) -> Action:
    """A job's action: `step(app, session, *args)`, with only ids and times captured, so the
    step reads the case afresh in its own transaction when the job runs."""

    def action(app: App, session: Session) -> None:
        step(app, session, *args, **kw)

    return action


@dataclass(frozen=True)
class Job:
    """One thing to do at `due_at`, identified by `key` (unique for all time)."""

    key: str
    due_at: datetime
    action: Action
    case_id: int | None = None
    # After this moment the job no longer makes sense (a reminder after its deadline).
    stale_after: datetime | None = None
    # What two workers must not do at once; the key by default. Jobs whose actions overlap
    # (each conversion job converts every document pending) share one.
    claim: str | None = None


JobSource = Callable[[App, Session, datetime], Iterable[Job]]


@dataclass
class TickReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Jobs another worker was doing at that moment: left to it.
    busy: list[str] = field(default_factory=list)
    # Jobs the service's stop ended part-way (rolled back) or left unbegun: due at the next tick.
    stopped: list[str] = field(default_factory=list)
    sent: int = 0


def _due(app: App, sources: Iterable[JobSource], now: datetime, report: TickReport) -> list[Job]:
    jobs: list[Job] = []
    for source in sources:
        # Each source decides in its own transaction: one that fails (a bug, a case it
        # cannot read) loses only its own jobs for this tick, never the others'.
        try:
            with app.store.session() as session:
                jobs.extend(source(app, session, now))
        except Exception as exc:
            name = getattr(source, "__name__", repr(source))
            _failed(f"source:{name}", exc, report)
    with app.store.session() as session:
        done = set(session.scalars(select(JobRun.key).where(JobRun.key.in_([j.key for j in jobs]))))
    due = {job.key: job for job in jobs if job.due_at <= now and job.key not in done}
    return sorted(due.values(), key=lambda job: (job.due_at, job.key))


def _failed(key: str, exc: Exception, report: TickReport) -> None:
    """Log and report a job that failed; it stays due and is tried again at the next tick."""
    log.error("job %s failed (%s); it is tried again at the next tick", key, describe_failure(exc))
    report.failed.append(key)


def _record(session: Session, job: Job, now: datetime, outcome: str, **detail: str) -> None:
    session.add(
        JobRun(key=job.key, case_id=job.case_id, ran_at=now, outcome=outcome, detail=detail)
    )


def _run_one(app: App, job: Job, now: datetime, report: TickReport) -> None:
    try:
        with app.store.session() as session:
            # First, before anything is read: what is read after the lock is taken sees the
            # run of a worker that held it and has just committed.
            if not try_transaction_lock(session, f"job:{job.claim or job.key}"):
                report.busy.append(job.key)
                return
            if session.scalar(select(JobRun.id).where(JobRun.key == job.key)) is not None:
                return
            if job.stale_after is not None and now >= job.stale_after:
                _record(session, job, now, "skipped", reason="its moment passed")
                report.skipped.append(job.key)
                return
            job.action(app, session)
            _record(session, job, now, "done")
    except Stopped:
        # Not a failure: the job rolled back whatever it had begun, and is due again.
        log.info("job %s stopped part-way as the service stops; it runs at the next tick", job.key)
        report.stopped.append(job.key)
        return
    except Exception as exc:
        # Whatever went wrong, the action rolled back; the job stays due and is tried again
        # at the next tick, and the jobs after it run now.
        _failed(job.key, exc, report)
        return
    report.done.append(job.key)


def run_due(app: App, sources: Iterable[JobSource]) -> TickReport:
    """Run every job that is due now, oldest first, each in its own transaction; when the
    service is asked to stop (`app.stop`), the jobs not yet begun are left for the next tick."""
    now = app.clock.now()
    report = TickReport()
    for job in _due(app, list(sources), now, report):
        if app.stop.is_set():
            report.stopped.append(job.key)
            continue
        _run_one(app, job, now, report)
    if report.stopped:
        log.info("the service is stopping: %d job(s) left for the next tick", len(report.stopped))
    return report
