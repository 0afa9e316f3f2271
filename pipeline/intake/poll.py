"""One intake pass: ledger new mail, file it, move it aside, then send the outbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import select, update

from pipeline.app import App
from pipeline.errors import MailboxError, describe_failure
from pipeline.intake.filing import FilingReport, file_pending
from pipeline.intake.ledger import IngestReport, Ledger
from pipeline.mailbox.base import Location, MailSender, MailSource
from pipeline.outbox.sender import DeliveryReport, deliver
from pipeline.states import MessageState
from pipeline.store import heartbeat
from pipeline.store.locks import PollLock, mailbox_poll_lock, worker_name
from pipeline.store.models import Message

log = logging.getLogger(__name__)

# Moves are issued in batches: one UID MOVE for many messages is far cheaper than one each.
MOVE_BATCH = 200
# While the mailbox is being read, how often the filing looks for newly ledgered mail (at the
# latest: each batch ledgered wakes it).
FOLLOW_SECONDS = 0.05
# While the mail is filed, how often the sending looks for newly queued answers: each round
# takes the database's write turn a few times (its claims, the heartbeat), so rounds are few
# and each sends what the filing queued meanwhile.
SEND_FOLLOW_SECONDS = 0.5
T = TypeVar("T")


@dataclass
class PollReport:
    ingest: IngestReport = field(default_factory=IngestReport)
    filing: FilingReport = field(default_factory=FilingReport)
    moved: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    errors: list[str] = field(default_factory=list)


def move_done(app: App, source: MailSource) -> int:
    """Move aside every message whose filing is committed (never before: R16, nothing lost)."""
    with app.store.session() as session:
        rows = session.execute(
            select(Message.id, Message.backend, Message.folder, Message.uidvalidity, Message.uid)
            .where(
                Message.moved.is_(False),
                Message.status != MessageState.NEW,
                Message.backend == source.name,
            )
            .order_by(Message.id)
        ).all()
    moved = 0
    for start in range(0, len(rows), MOVE_BATCH):
        batch = rows[start : start + MOVE_BATCH]
        by_location = {Location(r.backend, r.folder, r.uidvalidity, r.uid): r.id for r in batch}
        done = source.mark_processed(list(by_location))
        if not done:
            continue
        with app.store.session() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_([by_location[location] for location in done]))
                .values(moved=True)
                .execution_options(synchronize_session=False)
            )
        moved += len(done)
    return moved


class Background(Generic[T]):
    """One stage of a poll run in a thread of its own (ledgering, sending), so that the stages
    overlap: fetching and storing wait mostly on the mail server and the disk, sending on the
    SMTP server, while filing keeps the readers and the database busy.

    `progress`, if given, is what the work sets when it has made something for the stage that
    follows it (a batch ledgered); it is set once more when the work has ended, and `wait`
    returns as soon as it is set."""

    def __init__(
        self, name: str, work: Callable[[], T], progress: threading.Event | None = None
    ) -> None:
        self._work = work
        self._result: T | None = None
        self._error: BaseException | None = None
        self._progress = progress or threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as exc:
            self._error = exc
        finally:
            self._ended = True
            self._progress.set()

    def ended(self) -> bool:
        return self._ended

    def wait(self, seconds: float) -> None:
        """Until the work has made something new or ended, or for `seconds` at most."""
        self._progress.wait(seconds)
        # Cleared after: whatever set it is already in the store for the round that follows.
        self._progress.clear()

    def outcome(self) -> T:
        """The stage's report, once it has ended; what made it fail is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def rounds(
    app: App,
    ended: Callable[[], bool],
    wait: Callable[[float], object],
    seconds: float,
    one_round: Callable[[bool], None],
) -> None:
    """Run `one_round` every `seconds` while another stage goes on, and once more after it
    has `ended` (told so: `one_round(True)`); a service asked to stop ends them sooner."""
    while True:
        # Looked at first: once the other stage has ended, everything it made is in the
        # store, and this last round takes it all.
        last = ended()
        one_round(last)
        if last or app.stop.is_set():
            return
        wait(seconds)


def file_while(app: App, ingesting: Background[IngestReport]) -> FilingReport:
    """File what is ledgered, for as long as the ledgering goes on and once it has ended."""
    report = FilingReport()
    rounds(
        app,
        ingesting.ended,
        ingesting.wait,
        FOLLOW_SECONDS,
        lambda _: report.add(file_pending(app)),
    )
    return report


def send_while(app: App, sender: MailSender, filed: threading.Event) -> DeliveryReport:
    """Send the outbox while the filing goes on, so each referrer's answer leaves minutes, not
    a whole backlog, after their email is filed; then once more when the filing has ended.

    The server away stops the rounds until then: it is not knocked on for every email filed.
    """
    report = DeliveryReport()

    def send(last: bool) -> None:
        if last or not report.away:
            report.add(deliver(app, sender))

    rounds(app, filed.is_set, filed.wait, SEND_FOLLOW_SECONDS, send)
    return report


def poll_once(app: App, source: MailSource, sender: MailSender) -> PollReport:
    """Everything one poll does. Each stage resumes from the ledger after any crash, and a
    stage that fails (the mailbox away, a bug) is reported without stopping the next: mail
    already ledgered is still filed and answered, and the outbox still sent. Each email is
    ledgered (its bytes fsynced, its row committed) before it is filed, as ever; the mail
    ledgered first is filed while the rest is still being fetched, and the answers queued
    by the filing are sent meanwhile."""
    report = PollReport()
    ledgered = threading.Event()
    ingesting = Background(
        "masp-ingest", lambda: Ledger(app, ledgered.set).ingest(source), ledgered
    )
    filed = threading.Event()
    sending = Background("masp-send", lambda: send_while(app, sender, filed))
    try:
        filing = _stage(app, report, "filing", lambda: file_while(app, ingesting))
    finally:
        filed.set()
    ingest = _stage(app, report, "reading new mail", ingesting.outcome)
    if ingest is not None:
        # The mailbox was read to the end: what `masp health` calls a successful poll.
        heartbeat.polled(app.store, app.clock.now(), worker_name())
    report.ingest = ingest or IngestReport()
    report.filing = filing or FilingReport()
    moving = _stage(app, report, "moving processed mail", lambda: move_done(app, source))
    report.moved = moving or 0
    delivery = _stage(app, report, "sending", sending.outcome)
    report.delivery = delivery or DeliveryReport()
    return report


def _stage(app: App, report: PollReport, doing: str, step: Callable[[], T]) -> T | None:
    try:
        return step()
    except MailboxError as exc:
        heartbeat.mailbox_failed(app.store, app.clock.now(), exc)
        report.errors.append(str(exc))
    except Exception as exc:
        error = f"{doing} failed ({describe_failure(exc)}); it is tried again at the next poll"
        log.error("%s", error)
        report.errors.append(error)
    return None


def mailbox_lock(app: App) -> PollLock:
    """The lock that lets one worker at a time poll the configured mailbox."""
    return mailbox_poll_lock(app.store, app.config)


def someone_else_polls(app: App) -> str:
    """Why this pass did not read the mailbox: another worker holds it."""
    poller = heartbeat.read(app.store).poller or "another worker"
    return (
        f"the mailbox was not read: {poller} is polling it (one worker at a time does); "
        "the outbox was still sent"
    )


def poll(app: App) -> PollReport:
    """Open the configured mailbox, run one pass, close it.

    If the mailbox cannot be reached, mail already ledgered is still filed and the outbox
    is still sent, and the report says what failed. If another worker (`masp run`) is polling
    it, this pass only sends the outbox, and says so.
    """
    from pipeline.mailbox.registry import open_sender, open_source

    sender = open_sender(app.config)
    lock = mailbox_lock(app)
    try:
        if not lock.acquire():
            return PollReport(errors=[someone_else_polls(app)], delivery=deliver(app, sender))
        try:
            with open_source(app.config) as source:
                return poll_once(app, source, sender)
        except MailboxError as exc:
            heartbeat.mailbox_failed(app.store, app.clock.now(), exc)
            report = PollReport(errors=[str(exc)])
            report.filing = file_pending(app)
            report.delivery = deliver(app, sender)
            return report
    finally:
        lock.release()
        sender.close()


def deliver_configured(app: App) -> DeliveryReport:
    """Send the outbox through the configured back-end (used after a replay or a release)."""
    from pipeline.mailbox.registry import sending

    with sending(app.config) as sender:
        return deliver(app, sender)
