"""`masp run`: the long-running service. Polls on the configured interval with `schedule`,
wakes early when IMAP IDLE reports new mail, and stops cleanly on SIGTERM or SIGINT.

Any number of workers (`masp run` processes, on one machine or several) may share one store
and one mailbox: one polls it at a time, and every one of them files the mail, runs the due jobs
and sends the outbox (docs/scaling.md)."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from types import FrameType

import schedule
from sqlalchemy.exc import InterfaceError, OperationalError

from pipeline.app import App
from pipeline.errors import ConfigError, MailboxError, PipelineError, describe_failure
from pipeline.intake import claims
from pipeline.intake.filing import file_pending
from pipeline.intake.poll import PollReport, poll_once
from pipeline.jobs import TickReport, run_due
from pipeline.mailbox.base import MailSender, MailSource
from pipeline.outbox.sender import deliver
from pipeline.schedule import SOURCES
from pipeline.store import heartbeat
from pipeline.store.locks import PollLock, worker_name

log = logging.getLogger(__name__)

# After the mailbox fails, wait this long before reconnecting (doubling, up to the cap).
RECONNECT_FIRST, RECONNECT_CAP = 5.0, 300.0
# How often a worker that is not polling looks for ledgered mail to file.
FOLLOW_SECONDS = 1.0


def tick(app: App, sender: MailSender) -> TickReport:
    """Every time-based job that is due now, then the outbox (retries that are due too)."""
    report = run_due(app, SOURCES)
    heartbeat.ticked(app.store, app.clock.now())
    report.sent = deliver(app, sender).sent
    return report


def run_due_jobs(app: App) -> TickReport:
    """`masp tick`: one pass of every due job through the configured back-end."""
    from pipeline.mailbox.registry import sending

    with sending(app.config) as sender:
        return tick(app, sender)


def _log_poll(report: PollReport) -> None:
    if report.ingest.stored or report.delivery.sent or report.filing.quarantined:
        log.info(
            "poll: %d new, %d filed, %d quarantined, %d sent",
            report.ingest.stored,
            report.filing.filed,
            report.filing.quarantined,
            report.delivery.sent,
        )


def _timetable(app: App, sender: MailSender) -> tuple[schedule.Scheduler, threading.Event]:
    """The ticks (every minute) and the poll's moments (`due`, set every poll interval)."""
    scheduler = schedule.Scheduler()
    due = threading.Event()
    due.set()
    scheduler.every(app.config.mailbox.poll_interval_seconds).seconds.do(due.set)
    scheduler.every(1).minutes.do(lambda: tick(app, sender))
    return scheduler, due


def _next_wait(scheduler: schedule.Scheduler) -> float:
    return max(1.0, min(scheduler.idle_seconds or 1.0, 60.0))


def _serve_connected(
    app: App, source: MailSource, sender: MailSender, stop: threading.Event, lock: PollLock
) -> None:
    """Poll, tick and send while this worker holds the mailbox; return when it no longer does."""
    scheduler, due = _timetable(app, sender)
    while not stop.is_set():
        if due.is_set():
            due.clear()
            # Checked before every poll: a worker whose lock went with its database connection
            # (a restart) may find that another worker polls now.
            if not lock.acquire():
                log.warning("another worker now polls the mailbox; this one files, ticks and sends")
                return
            _log_poll(poll_once(app, source, sender))
        scheduler.run_pending()
        if source.wait_for_mail(_next_wait(scheduler), stop):
            due.set()


def _serve_others(app: App, sender: MailSender, stop: threading.Event, lock: PollLock) -> None:
    """While another worker polls: file what it ledgered, tick and send the outbox (all three
    claimed, so never twice), and try for the mailbox at every poll interval; return once this
    worker holds it."""
    scheduler, due = _timetable(app, sender)
    while not stop.is_set():
        # Mail the poller ledgers is filed by whichever worker is free: this one looks for
        # some every second (a read that takes no lock), not only at the poll interval.
        if due.is_set() or claims.waiting(app):
            due.clear()
            if lock.acquire():
                return
            filing = file_pending(app)
            if filing.filed or filing.quarantined:
                log.info("filed %d, %d quarantined", filing.filed, filing.quarantined)
            deliver(app, sender)
        scheduler.run_pending()
        stop.wait(min(FOLLOW_SECONDS, _next_wait(scheduler)))


def _serve_once(
    app: App, sender: MailSender, stop: threading.Event, lock: PollLock, polling: bool
) -> bool:
    """Serve as the mailbox's poller or as one of the others, until that changes or `stop`;
    returns whether this worker now polls."""
    from pipeline.mailbox.registry import open_source

    if not lock.acquire():
        if polling:
            log.info("another worker polls the mailbox; this one files, ticks and sends")
        _serve_others(app, sender, stop, lock)
        return False
    if not polling:
        log.info("this worker (%s) now polls the mailbox", worker_name())
    with open_source(app.config) as source:
        _serve_connected(app, source, sender, stop, lock)
    return True


def serve(app: App, stop: threading.Event) -> None:
    """Run until `stop` is set (by SIGTERM/SIGINT when run from the command line).

    Several workers may serve one store and one mailbox: one of them holds the mailbox's lock
    and polls it; all of them run the due jobs and send the outbox. When the poller dies, its
    lock goes with it and another worker takes the mailbox at its next try.

    A failure of the mailbox or the store is logged and retried with backoff: the service
    outlives a server restart. A bug (any other exception) stops it, loudly.

    `stop` reaches every step through the App: a LibreOffice batch is killed and rolled back,
    the emails and jobs not yet begun are left for whichever worker runs next, so the worker
    stops within seconds (the email being filed, or sent, is finished first).
    """
    from pipeline.intake.poll import mailbox_lock
    from pipeline.mailbox.registry import open_sender

    app = dataclasses.replace(app, stop=stop)
    backoff = RECONNECT_FIRST
    backend = app.config.mailbox.backend
    log.info("service started (%s back-end) as worker %s", backend, worker_name())
    sender = open_sender(app.config)
    lock = mailbox_lock(app)
    polling = True
    try:
        while not stop.is_set():
            began = time.monotonic()
            try:
                polling = _serve_once(app, sender, stop, lock, polling)
                backoff = RECONNECT_FIRST
            except ConfigError:
                raise
            except (PipelineError, OperationalError, InterfaceError) as exc:
                # Served for longer than the wait: this is a new failure, not the same one again.
                if time.monotonic() - began > backoff:
                    backoff = RECONNECT_FIRST
                if isinstance(exc, MailboxError):
                    heartbeat.mailbox_failed(app.store, app.clock.now(), exc)
                # A database that restarted is a server away, like the mailbox: waited for.
                log.warning("%s; retrying in %.0f s", describe_failure(exc), backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_CAP)
    except BaseException:
        log.error("service stopped by an unexpected error")
        raise
    finally:
        lock.release()
        sender.close()
    log.info("service stopped cleanly")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the service ends its step (or finishes the email it
    is filing or sending) and stops."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
