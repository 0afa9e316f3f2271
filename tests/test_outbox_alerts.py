"""Alerts about strangers' email cannot use up the administrator's rate fuse: a flood of
unsolicited email never stops the Section 20 alert reaching the administrator and chair (R7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.store.models import OutboxItem
from tests.helpers import drop, open_service, sent_to

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADMIN, CHAIR = "admin@example.org", "chair@example.org"


def test_a_flood_of_strangers_mail_does_not_stop_the_section20_alert(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    flood = app.config.limits.max_sends_per_recipient_per_hour
    for i in range(flood):
        mail = samples.Mail(
            f"x{i}@evil.example.net",
            f"hello {i}",
            headers={"Reply-To": "noreply@evil.example.net"},
        )
        drop(app, mail, NOW - timedelta(minutes=30))
    child = samples.Child(section20=True)
    referral = samples.Mail(
        f"Jo <{child.referrer_email}>", "Referral", files=samples.full_referral(child)
    )
    drop(app, referral, NOW - timedelta(minutes=10))
    poll(app)
    for address in (ADMIN, CHAIR):
        alerts = [s for s in sent_to(app, address) if "section 20" in s.subject.lower()]
        assert len(alerts) == 1, address
    # The strangers' alerts themselves are bounded: the rest wait, unsent, with the reason.
    bound = app.config.limits.max_unsolicited_alerts_per_hour
    with app.store.session() as session:
        alerts = session.scalars(
            select(OutboxItem).where(OutboxItem.template == "unanswered_alert")
        ).all()
    assert len(alerts) == flood
    assert sum(a.status == "sent" for a in alerts) == bound
    held = [a for a in alerts if a.status == "held"]
    assert len(held) == flood - bound
    assert all("masp quarantine list" in (a.hold_reason or "") for a in held)
    ids = {a.message_id.strip("<>") for a in alerts}
    unanswered = [s for s in sent_to(app, ADMIN) if str(s.message["Message-ID"]).strip("<>") in ids]
    assert len(unanswered) == bound
    app.close()
