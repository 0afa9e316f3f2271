"""R8 reminders through `tick` with a frozen clock moved forward: each once, none stale."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.mailbox.registry import open_sender
from pipeline.panel.reminders import reminder_jobs
from pipeline.rules.reminders import reminder_moments
from pipeline.service import tick
from pipeline.store.models import Case, JobRun, OutboxItem
from tests.helpers import Sent, drop, open_service, sent_mail

CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
# The December 2026 meeting is Tuesday 8 December, 10:00; its deadline Tuesday 1 December, noon.
DEADLINE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
AT_72H = DEADLINE - timedelta(hours=72)
AT_24H = DEADLINE - timedelta(hours=24)
AT_0900 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def refer_without_chronology(folder: Path) -> None:
    files = [f for f in samples.full_referral(CHILD) if f.filename != "Chronology.docx"]
    app = open_service(folder, RECEIVED)
    drop(app, samples.Mail(REFERRER, "Referral for panel", files=files), RECEIVED)
    poll(app)
    app.close()


def tick_at(folder: Path, when: datetime, times: int = 1, **overrides: Any) -> App:
    """Run `tick` `times` times with the clock at `when` (and config `overrides`); the caller
    closes the App."""
    app = open_service(folder, when, **overrides)
    sender = open_sender(app.config)
    try:
        for _ in range(times):
            tick(app, sender)
    finally:
        sender.close()
    return app


def reminders(app: App) -> list[Sent]:
    return [s for s in sent_mail(app) if CHILD.referrer_email in s.to and "reminder" in s.subject]


def outcomes(app: App) -> dict[str, str]:
    with app.store.session() as session:
        rows = session.scalars(select(JobRun).where(JobRun.key.startswith("reminder:")))
        return {row.key.split(":")[1]: row.outcome for row in rows}


def test_each_reminder_once_at_72h_24h_and_0900(tmp_path: Path) -> None:
    refer_without_chronology(tmp_path)
    tick_at(tmp_path, AT_72H - timedelta(minutes=1)).close()
    counts = []
    for moment in (AT_72H, AT_24H, AT_0900):
        app = tick_at(tmp_path, moment, times=3)
        counts.append(len(reminders(app)))
        app.close()
    assert counts == [1, 2, 3]
    app = open_service(tmp_path, AT_0900)
    [ack] = [s for s in sent_mail(app) if "referral received" in s.subject]
    for sent in reminders(app):
        assert "MASP-2026-0001" in sent.subject
        assert sent.message["In-Reply-To"] == ack.message["Message-ID"]
        body = sent.text()
        assert "Chronology" in body and "Tuesday 1 December 2026, 12:00" in body
        assert "reply to this email" in body.lower()
    assert outcomes(app) == {"72h": "done", "24h": "done", "deadline-day": "done"}
    app.close()


def test_no_reminder_once_complete(tmp_path: Path) -> None:
    refer_without_chronology(tmp_path)
    tick_at(tmp_path, AT_72H).close()
    app = open_service(tmp_path, AT_72H + timedelta(hours=20))
    send_chronology(app, AT_72H + timedelta(hours=20))
    app.close()
    for moment in (AT_24H, AT_0900, DEADLINE):
        tick_at(tmp_path, moment).close()
    app = open_service(tmp_path, DEADLINE)
    assert len(reminders(app)) == 1
    assert not [s for s in sent_mail(app) if "moved to" in s.subject]
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.state != "incomplete" and case.meeting == datetime(
            2026, 12, 8, 10, 0, tzinfo=UTC
        )
    app.close()


def send_chronology(app: App, received: datetime) -> None:
    [ack] = [s for s in sent_mail(app) if "referral received" in s.subject]
    chronology = samples.File("chron.docx", samples.DOCX, samples.chronology())
    reply = samples.Mail(
        REFERRER, f"Re: {ack.subject}", in_reply_to=ack.message_id, files=[chronology]
    )
    drop(app, reply, received)
    poll(app)


def test_completed_after_the_job_was_listed_is_not_reminded(tmp_path: Path) -> None:
    refer_without_chronology(tmp_path)
    app = open_service(tmp_path, AT_72H)
    with app.store.session() as session:
        [job, *_] = list(reminder_jobs(app, session, AT_72H))
    send_chronology(app, AT_72H)
    with app.store.session() as session:
        job.action(app, session)
    assert reminders(app) == []
    with app.store.session() as session:
        assert session.scalars(select(Case)).one().state != "incomplete"
        assert (
            session.scalars(select(OutboxItem).where(OutboxItem.template == "reminder")).all() == []
        )
    app.close()


def test_after_an_outage_only_the_latest_reminder_is_sent(tmp_path: Path) -> None:
    refer_without_chronology(tmp_path)
    app = tick_at(tmp_path, AT_0900 + timedelta(minutes=30), times=2)
    [sent] = reminders(app)
    assert "Tuesday 1 December 2026, 12:00" in sent.subject
    assert outcomes(app) == {"72h": "skipped", "24h": "skipped", "deadline-day": "done"}
    app.close()


def test_outage_over_the_deadline_sends_no_reminder_and_defers_once(tmp_path: Path) -> None:
    refer_without_chronology(tmp_path)
    tick_at(tmp_path, AT_72H - timedelta(hours=1)).close()
    app = tick_at(tmp_path, DEADLINE + timedelta(hours=3), times=3)
    assert reminders(app) == []
    assert outcomes(app) == {"72h": "skipped", "24h": "skipped", "deadline-day": "skipped"}
    assert len([s for s in sent_mail(app) if "moved to" in s.subject]) == 1
    app.close()
    # Reminders then continue for the new deadline: Tuesday 5 January 2027, noon.
    app = tick_at(tmp_path, datetime(2027, 1, 2, 12, 0, tzinfo=UTC))
    [sent] = reminders(app)
    assert "Tuesday 5 January 2027, 12:00" in sent.subject
    app.close()


def test_moments_follow_config_and_local_time(tmp_path: Path) -> None:
    app = open_service(tmp_path, RECEIVED, reminders__hours_before=[48, 3])
    # A summer deadline: 09:00 on the day is 08:00 UTC; 3 h before noon is also 09:00 BST.
    summer = datetime(2026, 7, 7, 11, 0, tzinfo=UTC)
    moments = reminder_moments(app.config.reminders, app.config.tz, summer)
    assert [m.at for m in moments] == [summer - timedelta(hours=48), summer - timedelta(hours=3)]
    app.close()
    app = open_service(tmp_path, RECEIVED, reminders__deadline_day_time=None)
    names = [m.name for m in reminder_moments(app.config.reminders, app.config.tz, DEADLINE)]
    assert names == ["72h", "24h"]
    app.close()
    app = open_service(tmp_path, RECEIVED, reminders__deadline_day_time="13:00")
    assert time(13) not in [
        m.at.time() for m in reminder_moments(app.config.reminders, app.config.tz, DEADLINE)
    ]
    app.close()


def test_a_referral_on_the_deadline_morning_is_owed_no_reminder(tmp_path: Path) -> None:
    # After the 09:00 reminder and before noon: the case is on this meeting with no moment left.
    morning = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    files = [f for f in samples.full_referral(CHILD) if f.filename != "Chronology.docx"]
    app = open_service(tmp_path, morning)
    drop(app, samples.Mail(REFERRER, "Referral for panel", files=files), morning)
    poll(app)
    sender = open_sender(app.config)
    try:
        report = tick(app, sender)
    finally:
        sender.close()
    assert "source:reminder_jobs" not in report.failed
    assert reminders(app) == []
    app.close()
