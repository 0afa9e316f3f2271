"""`masp run`: the long-running service. Polls on the configured interval with `schedule`,
wakes early when IMAP IDLE reports new mail, and stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import schedule

from pipeline.app import App
from pipeline.errors import ConfigError, MailboxError, PipelineError
from pipeline.intake.poll import PollReport, poll_once
from pipeline.jobs import TickReport, run_due
from pipeline.mailbox.base import MailSender, MailSource
from pipeline.outbox.sender import deliver
from pipeline.schedule import SOURCES
from pipeline.store import heartbeat

log = logging.getLogger(__name__)

# After the mailbox fails, wait this long before reconnecting (doubling, up to the cap).
RECONNECT_FIRST, RECONNECT_CAP = 5.0, 300.0


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


def _serve_connected(
    app: App, source: MailSource, sender: MailSender, stop: threading.Event
) -> None:
    scheduler = schedule.Scheduler()
    due = threading.Event()
    due.set()
    scheduler.every(app.config.mailbox.poll_interval_seconds).seconds.do(due.set)
    scheduler.every(1).minutes.do(lambda: tick(app, sender))
    while not stop.is_set():
        if due.is_set():
            due.clear()
            _log_poll(poll_once(app, source, sender))
        scheduler.run_pending()
        wait = max(1.0, min(scheduler.idle_seconds or 1.0, 60.0))
        if source.wait_for_mail(wait, stop):
            due.set()


def serve(app: App, stop: threading.Event) -> None:
    """Run until `stop` is set (by SIGTERM/SIGINT when run from the command line).

    A failure of the mailbox or the store is logged and retried with backoff: the service
    outlives a server restart. A bug (any other exception) stops it, loudly.
    """
    from pipeline.mailbox.registry import open_sender, open_source

    backoff = RECONNECT_FIRST
    log.info("service started (%s back-end)", app.config.mailbox.backend)
    sender = open_sender(app.config)
    try:
        while not stop.is_set():
            try:
                with open_source(app.config) as source:
                    backoff = RECONNECT_FIRST
                    _serve_connected(app, source, sender, stop)
            except ConfigError:
                raise
            except PipelineError as exc:
                if isinstance(exc, MailboxError):
                    heartbeat.mailbox_failed(app.store, app.clock.now(), exc)
                log.warning("%s; retrying in %.0f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_CAP)
    except BaseException:
        log.error("service stopped by an unexpected error")
        raise
    finally:
        sender.close()
    log.info("service stopped cleanly")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the service finishes its step and stops."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; finishing the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
