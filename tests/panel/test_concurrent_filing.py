"""Two transactions at the same moment on one case (two workers, `masp run` beside a cron
`poll` or a `quarantine replay`): a screening token counts once, and a purge never takes a
case an email is being filed to. Each runs on the store under test (SQLite, or PostgreSQL in
the second pass, where only row locks keep the two apart)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.filing import FilingReport, file_one
from pipeline.intake.ledger import Ledger
from pipeline.intake.poll import poll
from pipeline.jobs import Job
from pipeline.mailbox.registry import open_source
from pipeline.panel.retention import retention_jobs
from pipeline.states import MessageState
from pipeline.store.models import PURGED, AuditEvent, Case, Document, Message, ScreeningRequest
from tests.concurrency import at_once
from tests.helpers import drop, open_service
from tests.panel.test_retention import FIRST, KEEP, T0, age_files
from tests.panel.test_retention import referral as retained_referral
from tests.panel.test_screening import NOW, audits, referral, reply, request_mail, tick_only


def ledgered(app: App, *mails: samples.Mail) -> list[int]:
    """Deliver `mails` and put them in the ledger, not yet filed; their ledger ids."""
    for mail in mails:
        drop(app, mail, app.clock.now() - timedelta(minutes=5))
    with open_source(app.config) as source:
        Ledger(app).ingest(source)
    with app.store.session() as session:
        query = select(Message.id).where(Message.status == MessageState.NEW)
        return list(session.scalars(query.order_by(Message.id)))


def filing(app: App, row_id: int) -> None:
    file_one(app, row_id, FilingReport())


def test_one_screening_token_answered_twice_at_once_counts_once(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    drop(app, referral(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    request = request_mail(app)
    first, second = ledgered(app, reply(request, "APPROVE"), reply(request, "DECLINE: not needed"))

    assert at_once(lambda: filing(app, first), lambda: filing(app, second)) == [None, None]

    [decision] = audits(app, "screening-decision")
    assert len(audits(app, "screening-refused")) == 1
    with app.store.session() as session:
        [used] = session.scalars(select(ScreeningRequest))
        case = session.get_one(Case, used.case_id)
        assert (used.decision, case.state) == (
            decision["decision"],
            {"approve": "approved", "decline": "declined"}[str(decision["decision"])],
        )
        statuses = {m.id: str(m.category) for m in session.scalars(select(Message))}
    assert sorted((statuses[first], statuses[second])) == ["screening", "screening_refused"]
    app.close()


def purge_job(app: App) -> Job:
    age_files(app)
    with app.store.session() as session:
        jobs = list(retention_jobs(app, session, app.clock.now()))
    [job] = [j for j in jobs if j.key.startswith("purge:case:")]
    return job


def purging(app: App, job: Job) -> None:
    with app.store.session() as session:
        job.action(app, session)


def test_an_email_filed_while_its_case_is_purged_is_never_lost_in_the_purge(
    tmp_path: Path,
) -> None:
    app = open_service(tmp_path, T0)
    drop(app, retained_referral(FIRST), T0)
    poll(app)
    app.close()
    late = T0 + timedelta(days=KEEP + 1)
    app = open_service(tmp_path, late)
    with app.store.session() as session:
        reference = session.scalars(select(Case.reference)).one()
    chronology = samples.File("Chronology update.docx", samples.DOCX, samples.chronology(3))
    more = samples.Mail(FIRST.referrer_email, f"RE: {reference} update", files=[chronology])
    [row_id] = ledgered(app, more)
    job = purge_job(app)

    assert at_once(lambda: filing(app, row_id), lambda: purging(app, job)) == [None, None]

    with app.store.session() as session:
        row = session.get_one(Message, row_id)
        assert row.status == MessageState.FILED and row.case_id is not None
        new = session.scalars(select(Document).where(Document.filename == chronology.filename))
        [document] = new
        assert document.stored_path and app.files.read(document.stored_path)
        purged = {e.case_id for e in session.scalars(select(AuditEvent)) if e.action == "purged"}
        filed_to = session.get_one(Case, row.case_id)
        # Either the purge went first and the email opened a case of its own, or the email
        # went first and the case, alive again, was not purged.
        assert filed_to.id not in purged and PURGED not in filed_to.flags
        assert (filed_to.reference == reference) == (purged == set())
    app.close()
